"""Quickstart: a small CNN on scikit-learn's bundled handwritten digits, Keras-style.

    python examples/quickstart.py            # ~15 s on a laptop CPU
    python examples/quickstart.py --epochs 3 # quicker
    python examples/quickstart.py --small    # a smoke test: 2 epochs on a few hundred images

The digits (8x8 grey images, 10 classes) ship with scikit-learn, so this runs offline. Training
is tracked three ways: the best checkpoint in ``checkpoints/``, TensorBoard files in ``logs/``
(``tensorboard --logdir logs``) and a W&B run (offline unless you are logged in; upload it later
with ``wandb sync wandb/offline-run-*``). The learning curves are saved to ``history.png``.
"""

from __future__ import annotations

import argparse

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import kerasish as ks

from common import wandb_mode  # examples/common.py: W&B offline unless you are logged in


def load_data(seed: int = 0):
    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[:, None, :, :]  # (N, 1, 8, 8) in [0, 1]
    y = digits.target.astype("int64")
    return train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)


def small_cnn() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, kernel_size=3, padding=1), torch.nn.ReLU(),
        torch.nn.Conv2d(16, 32, kernel_size=3, padding=1), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),                      # 32 x 4 x 4
        torch.nn.Flatten(),
        torch.nn.Dropout(0.25),
        torch.nn.Linear(32 * 4 * 4, 64), torch.nn.ReLU(),
        torch.nn.Linear(64, 10),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--small", action="store_true", help="2 epochs on a few hundred images")
    args = parser.parse_args()

    torch.manual_seed(0)
    x_train, x_test, y_train, y_test = load_data()
    if args.small:
        x_train, y_train, x_test, y_test = x_train[:300], y_train[:300], x_test[:100], y_test[:100]
        args.epochs = min(args.epochs, 2)

    model = ks.Model(small_cnn()).compile("adam", "cross_entropy", metrics=["accuracy"])
    model.summary(input_shape=(1, 8, 8))
    callbacks = [
        ks.callbacks.ModelCheckpoint("checkpoints/digits-best.pt", monitor="val_accuracy",
                                     save_best_only=True, save_weights_only=True),
        ks.callbacks.TensorBoard("logs/quickstart", histogram_freq=1),
        ks.callbacks.WandbCallback(project="kerasish-quickstart", save_model=True,
                                   mode=wandb_mode()),
    ]
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_split=0.1, callbacks=callbacks)
    history.plot().savefig("history.png")

    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test loss: {test_loss:.4f}  test accuracy: {test_accuracy:.4f}")
    predictions = model.predict(x_test[:8], verbose=0).argmax(axis=1)
    print(f"first predictions: {predictions.tolist()}  labels: {y_test[:8].tolist()}")
    print("best weights: checkpoints/digits-best.pt | curves: history.png | "
          "tensorboard --logdir logs | wandb sync wandb/offline-run-*")


if __name__ == "__main__":
    main()
