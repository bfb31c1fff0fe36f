"""The W&B "Simple PyTorch Integration" pipeline, with kerasish doing the training loop.

The W&B guide organises a run as ``model_pipeline(config)``: ``wandb.init`` with a config dict,
``make`` the data, model, loss and optimizer from ``wandb.config``, ``train`` with
``wandb.watch(model, log="all", log_freq=10)``, ``test`` and log the test accuracy, and save the
model to the run as ONNX. The same pipeline here; ``train`` is one ``fit`` with a
``WandbCallback`` that finds the open run, and ``watch="all", watch_freq=10`` takes the
parameter and gradient histograms at batch ends instead of hooking every backward pass.

    python examples/wandb_pipeline.py                  # bundled digits, offline W&B run
    python examples/wandb_pipeline.py --data mnist     # real MNIST (downloads once)
    python examples/wandb_pipeline.py --small          # a few seconds, for smoke tests

W&B runs offline unless you are logged in. In a sweep, ``wandb.agent(sweep_id, function=...)``
calls a function that calls ``wandb.init()``; ``model_pipeline`` does exactly that, so the sweep's
values arrive through ``run.config`` and the callback logs into the sweep's run.
"""

from __future__ import annotations

import argparse
import os

import torch
import wandb
from torch import nn

import kerasish as ks
from kerasish.export import export, unavailable_reason

from common import load_dataset, wandb_mode

CONFIG = dict(
    epochs=5,
    classes=10,
    kernels=[16, 32],
    batch_size=128,
    learning_rate=0.005,
    dataset="digits",
    architecture="CNN",
)


class ConvNet(nn.Module):
    """The guide's two-layer CNN."""

    def __init__(self, kernels, classes=10):
        super().__init__()
        self.layer1 = nn.Sequential(
            nn.Conv2d(1, kernels[0], kernel_size=5, stride=1, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2))
        self.layer2 = nn.Sequential(
            nn.Conv2d(kernels[0], kernels[1], kernel_size=5, stride=1, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2, stride=2))
        self.fc = nn.Linear(7 * 7 * kernels[-1], classes)

    def forward(self, x):
        out = self.layer1(x)
        out = self.layer2(out)
        out = out.reshape(out.size(0), -1)
        return self.fc(out)


def model_pipeline(hyperparameters: dict, small: bool = False):
    # tell wandb to get started
    with wandb.init(project="pytorch-demo", config=hyperparameters, mode=wandb_mode()) as run:
        # access all hyperparameters through run.config, so logging matches execution (and a
        # sweep's values take effect)
        config = run.config
        model, train_data, test_data = make(config, small)
        train(model, train_data, config)
        test(model, test_data, run)
    return model


def make(config, small: bool):
    train_data, test_data, used = load_dataset(config.dataset, small=small)
    if used != config.dataset:  # MNIST could not be downloaded: the run says what was trained on
        config.update({"dataset": used, "dataset_requested": config.dataset}, allow_val_change=True)
    net = ConvNet(config.kernels, config.classes)
    model = ks.Model(net).compile(
        torch.optim.Adam(net.parameters(), lr=config.learning_rate),
        loss="cross_entropy", metrics=["accuracy"])
    return model, train_data, test_data


def train(model, train_data, config):
    x_train, y_train = train_data
    # wandb.watch(model, criterion, log="all", log_freq=10) in the guide
    callback = ks.callbacks.WandbCallback(log_freq=25, watch="all", watch_freq=10)
    model.fit(x_train, y_train, batch_size=config.batch_size, epochs=config.epochs,
              callbacks=[callback], verbose=2)


def test(model, test_data, run):
    x_test, y_test = test_data
    results = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    print(f"Accuracy of the model on the {len(x_test)} test images: {100 * results['accuracy']:.2f}%")
    run.log({"test_accuracy": results["accuracy"]})

    # Save the model in the exchangeable ONNX format, with the run. torch's exporter alone would
    # put the weights in a second file, model.onnx.data; export() keeps them in model.onnx.
    if (reason := unavailable_reason()) is not None:  # torch < 2.6, or onnx not installed
        print(f"skipping the ONNX export: {reason}")
        return
    files = export(model, os.path.join(run.dir, "model.onnx"),
                   input_signature=(None, *x_test.shape[1:]), verbose=False)
    for path in files:
        run.save(path, base_path=run.dir)
    print(f"saved {', '.join(files)} to the run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["digits", "mnist"], default="digits")
    parser.add_argument("--small", action="store_true", help="2 epochs on a few hundred images")
    args = parser.parse_args()
    config = dict(CONFIG, dataset=args.data)
    if args.small:
        config.update(epochs=2, batch_size=32)  # 24 batches: histograms at batches 10 and 20
    torch.manual_seed(0)
    model_pipeline(config, small=args.small)


if __name__ == "__main__":
    main()
