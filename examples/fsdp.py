"""A sharded model (FSDP2): each process holds only its slice of the weights and optimizer state.

    torchrun --nproc-per-node 2 examples/fsdp.py --small        # on this machine's CPU (gloo)
    torchrun --nproc-per-node 8 examples/fsdp.py                # 8 GPUs (nccl)
    torchrun --nnodes 2 --node-rank 0 --nproc-per-node 8 \\
        --rdzv-backend c10d --rdzv-endpoint HOST:29400 examples/fsdp.py   # on each of 2 machines

The only change from ``examples/ddp.py`` is ``distribute="fsdp"``: kerasish shards each
transformer block, then the root, with ``torch.distributed.fsdp.fully_shard``. Backups and
checkpoints are folders in which each rank writes its own shards; kill the job at any point and
rerun the same line, and it resumes from the last backup exactly, at this world size or another.
"""

from __future__ import annotations

import argparse
import os

import torch

import kerasish as ks


class Block(torch.nn.Module):
    """A pre-norm MLP block: the unit FSDP gathers, runs and frees as one."""

    def __init__(self, width: int):
        super().__init__()
        self.norm = torch.nn.LayerNorm(width)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(width, 4 * width), torch.nn.GELU(),
                                       torch.nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mlp(self.norm(x))


def make_net(features: int, width: int, depth: int, classes: int) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(features, width),
                               *(Block(width) for _ in range(depth)),
                               torch.nn.LayerNorm(width), torch.nn.Linear(width, classes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a tiny model and data, for a smoke test")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=64, help="per process")
    parser.add_argument("--out", default="fsdp_run", help="the backup and checkpoint folder")
    args = parser.parse_args()
    width, depth, samples = (32, 2, 512) if args.small else (1024, 12, 65536)
    epochs = args.epochs or (2 if args.small else 10)

    generator = torch.Generator().manual_seed(0)  # the same data on every rank
    x = torch.randn(samples, 64, generator=generator)
    y = (x[:, :8].sum(dim=1) > 0).long()
    torch.manual_seed(0)  # the same initial weights on every rank
    net = make_net(64, width, depth, 2)
    model = ks.Model(net, distribute="fsdp").compile(
        "adamw", "cross_entropy", metrics=["accuracy"], clipnorm=1.0,
        precision="float32" if args.small else "mixed_bfloat16")
    callbacks = [ks.callbacks.BackupAndRestore(os.path.join(args.out, "backup"), save_freq=20),
                 ks.callbacks.ModelCheckpoint(os.path.join(args.out, "model.pt"))]
    model.fit(x, y, batch_size=args.batch_size, epochs=epochs, validation_split=0.1,
              callbacks=callbacks, verbose=2)
    model.save(os.path.join(args.out, "model-full.pt"), full=True)  # one file, for serving
    loss, accuracy = model.evaluate(x[:256], y[:256], verbose=0)
    if model.is_main_process:
        world = os.environ.get("WORLD_SIZE", "1")
        print(f"accuracy: {accuracy:.4f} (world size {world}); sharded checkpoint: "
              f"{os.path.join(args.out, 'model.pt')}/, whole weights: model-full.pt")
    del model, net
    if torch.distributed.is_initialized():
        import gc

        gc.collect()  # free the sharded module before the group goes (gloo may abort otherwise)
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
