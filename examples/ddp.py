"""The same training script on one process or many: launch it with torchrun.

    python examples/ddp.py                                   # one process
    torchrun --nproc_per_node=2 examples/ddp.py              # two processes on this machine
    torchrun --nnodes=2 --node_rank=0 --nproc_per_node=4 \\
        --rdzv_backend=c10d --rdzv_endpoint=HOST:29400 examples/ddp.py   # on each of 2 machines

Nothing in the script changes: kerasish sees torchrun's WORLD_SIZE/RANK/LOCAL_RANK, joins the
process group (gloo on CPU, nccl on CUDA), wraps the module in DistributedDataParallel, gives each
process its shard of the data (batch_size is per process), and all-reduces the epoch logs, so every
rank prints and returns the same numbers. Only rank 0 prints the progress bar.
"""

from __future__ import annotations

import argparse
import gc
import os

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import kerasish as ks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32, help="per process")
    parser.add_argument("--device", help="cpu, cuda, ...; default: cuda:LOCAL_RANK if CUDA is there")
    args = parser.parse_args()

    torch.manual_seed(0)  # the same initial weights on every rank
    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target.astype("int64")
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0)

    net = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    model = ks.Model(net, device=args.device).compile("adam", "cross_entropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
              validation_data=(x_test, y_test))
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    if os.environ.get("RANK", "0") == "0":
        print(f"test accuracy: {accuracy:.4f} (world size {os.environ.get('WORLD_SIZE', '1')})")
    del model, net
    if torch.distributed.is_initialized():
        gc.collect()  # free the DDP-wrapped module before the group goes (gloo may abort otherwise)
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
