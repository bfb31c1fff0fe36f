"""Monitoring a kerasish fit in TensorBoard: scalars, the graph, histograms, and predictions.

What PyTorch's TensorBoard tutorials write by hand with ``SummaryWriter`` (running loss every N
batches, the model graph, weight histograms, a figure of predictions beside the true labels), here
comes from ``ks.callbacks.TensorBoard`` plus one small callback of our own for the predictions:

    python examples/tensorboard_monitoring.py               # bundled digits
    python examples/tensorboard_monitoring.py --data mnist  # real MNIST (downloads once)
    python examples/tensorboard_monitoring.py --small       # a few seconds, for smoke tests
    tensorboard --logdir runs

The log directory holds ``train/`` and ``validation/`` (Keras's layout: ``epoch_loss`` of both
share a chart), the HParams tab's values at its top, and ``predictions/`` with the images.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn
from torch.utils.tensorboard import SummaryWriter

import kerasish as ks

from common import load_images


def small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),    # 8 x 12 x 12
        nn.Conv2d(8, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),   # 16 x 4 x 4
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 64), nn.ReLU(),
        nn.Linear(64, 10),
    )


class PredictionImages(ks.callbacks.Callback):
    """Each epoch, a figure of a few validation images titled with prediction and truth
    (green when right, red when wrong), in ``log_dir/predictions``."""

    def __init__(self, log_dir: str, images: np.ndarray, labels: np.ndarray):
        super().__init__()
        self.log_dir, self.images, self.labels = log_dir, images, labels

    def on_train_begin(self, logs=None):
        self.writer = SummaryWriter(f"{self.log_dir}/predictions")
        self.writer.add_images("inputs", self.images, 0)  # the images themselves, once

    def on_epoch_end(self, epoch, logs=None):
        # predict() switches the module to eval mode; fit sets train mode again next epoch
        probabilities = torch.softmax(torch.as_tensor(self.model.predict(self.images, verbose=0)), -1)
        confidence, predicted = probabilities.max(dim=-1)
        figure = Figure(figsize=(1.6 * len(self.images), 2.0))
        for i, axis in enumerate(figure.subplots(1, len(self.images), squeeze=False)[0]):
            axis.imshow(self.images[i, 0], cmap="Greys")
            axis.set_axis_off()
            right = int(predicted[i]) == int(self.labels[i])
            axis.set_title(f"{int(predicted[i])}, {confidence[i]:.0%}\n(label: {int(self.labels[i])})",
                           color="green" if right else "red", fontsize=8)
        self.writer.add_figure("predictions vs. actuals", figure, epoch)
        self.writer.flush()

    def on_train_end(self, logs=None):
        self.writer.close()


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
    (x_train, y_train), (x_test, y_test) = load_images(args.data, small=args.small)
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
                 "data": args.data},
    )
    predictions = PredictionImages(args.log_dir, x_test[:8], y_test[:8])
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
              validation_data=(x_test, y_test), callbacks=[tensorboard, predictions], verbose=2)
    print(f"logs written to {args.log_dir}; view them with: tensorboard --logdir {args.log_dir}")


if __name__ == "__main__":
    main()
