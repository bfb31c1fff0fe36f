"""Monitoring a kerasish fit in TensorBoard: scalars, the graph, histograms, and predictions.

What PyTorch's TensorBoard tutorials write by hand with ``SummaryWriter`` (running loss every N
batches, the model graph, weight histograms, predictions beside the true labels), here comes from
``ks.callbacks.TensorBoard`` and ``ks.callbacks.PredictionSamples``:

    python examples/tensorboard_monitoring.py               # bundled digits
    python examples/tensorboard_monitoring.py --data mnist  # real MNIST (downloads once)
    python examples/tensorboard_monitoring.py --small       # a few seconds, for smoke tests
    tensorboard --logdir runs

The log directory holds ``train/`` and ``validation/`` (Keras's layout: ``epoch_loss`` of both
share a chart; the test set's ``evaluation_*_vs_iterations`` too), the HParams tab's values at its
top, and ``predictions/`` with the images and a table of predictions and labels.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

import kerasish as ks

from common import load_dataset


def small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),    # 8 x 12 x 12
        nn.Conv2d(8, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),   # 16 x 4 x 4
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 64), nn.ReLU(),
        nn.Linear(64, 10),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--log-dir", default="runs/digits_cnn")
    parser.add_argument("--data", choices=["digits", "mnist"], default="digits")
    parser.add_argument("--small", action="store_true", help="2 epochs on a few hundred images")
    args = parser.parse_args()
    if args.small:
        args.epochs = 2

    torch.manual_seed(0)
    (x_train, y_train), (x_test, y_test), used = load_dataset(args.data, small=args.small)
    net = small_cnn()
    model = ks.Model(net).compile(torch.optim.Adam(net.parameters(), lr=args.lr), "cross_entropy",
                                  metrics=["accuracy"])

    tensorboard = ks.callbacks.TensorBoard(
        args.log_dir,
        histogram_freq=1,        # weights and gradients, every epoch
        write_graph=True,        # traced from the first batch
        write_images=True,       # the weights as images too
        update_freq=10,          # running loss and accuracy every 10 batches
        hparams={"lr": args.lr, "batch_size": args.batch_size, "epochs": args.epochs,
                 "data": used},  # what was really loaded (MNIST may fall back to the digits)
    )
    # each epoch: 8 test images with prediction and label, in log_dir/predictions
    predictions = ks.callbacks.PredictionSamples(x_test[:8], y_test[:8],
                                                 log_dir=f"{args.log_dir}/predictions")
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
              validation_data=(x_test, y_test), callbacks=[tensorboard, predictions], verbose=2)
    model.evaluate(x_test, y_test, callbacks=[tensorboard], verbose=0)  # evaluation_*_vs_iterations
    print(f"logs written to {args.log_dir}; view them with: tensorboard --logdir {args.log_dir}")


if __name__ == "__main__":
    main()
