"""A W&B hyper-parameter sweep over a kerasish CNN: ``train`` reads ``wandb.config`` into compile/fit.

A sweep agent calls a function with no arguments that calls ``wandb.init()``; the run's config
then holds the values the sweep chose. ``train`` starts from ``DEFAULTS`` (a sweep's values win
over them), builds the model and the fit from ``run.config`` alone, so what the run reports is
what training used (``WandbCallback`` warns if it ever is not), and logs every epoch's loss and
accuracy with the sweep's metric, ``val_accuracy``.

Online (logged in with ``wandb login``)::

    python examples/wandb_sweep.py --create-sweep --project kerasish-sweep
    # prints the sweep id; then, on as many machines as you like:
    wandb agent <entity>/kerasish-sweep/<sweep_id>      # runs ``python examples/wandb_sweep.py``
    # or in Python: wandb.agent(sweep_id, function=train, count=20)

Offline (no account, no network), one run with the defaults or with your values::

    python examples/wandb_sweep.py --small
    python examples/wandb_sweep.py --config '{"learning_rate": 0.01, "optimizer": "sgd"}'
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import torch
import wandb
from torch import nn

import kerasish as ks

from common import load_dataset, wandb_mode

SWEEP = {
    "program": "examples/wandb_sweep.py",
    # no command-line arguments: the program reads the sweep's values from wandb.config
    "command": ["${env}", "${interpreter}", "${program}"],
    "method": "random",
    "metric": {"name": "val_accuracy", "goal": "maximize"},
    "parameters": {
        "learning_rate": {"distribution": "log_uniform_values", "min": 1e-4, "max": 3e-2},
        "optimizer": {"values": ["adam", "sgd", "rmsprop"]},
        "batch_size": {"values": [32, 64, 128]},
        "dropout": {"values": [0.0, 0.25, 0.5]},
        "hidden": {"values": [32, 64, 128]},
    },
}

DEFAULTS = {"learning_rate": 1e-3, "optimizer": "adam", "batch_size": 64, "dropout": 0.25,
            "hidden": 64, "epochs": 5, "data": "digits"}


def build(config: Any) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(config.dropout),
        nn.Linear(16 * 4 * 4, config.hidden), nn.ReLU(),
        nn.Linear(config.hidden, 10),
    )


def train(config: dict[str, Any] | None = None, small: bool = False, **init_kwargs: Any) -> dict:
    """One run of the sweep: the sweep agent's values (or ``config``) over ``DEFAULTS``.

    Args:
        config: values to use instead of the defaults (a sweep agent passes none: its values are
            in the run's config already).
        small: a few hundred images and 2 epochs, for smoke tests.
        **init_kwargs: more ``wandb.init`` arguments (``dir=``, ``mode=``).

    Returns:
        The run id and the last epoch's logs.
    """
    init_kwargs.setdefault("mode", wandb_mode())
    values = {**DEFAULTS, **(config or {})}
    if small:
        values["epochs"] = min(values["epochs"], 2)
    with wandb.init(project="kerasish-sweep", config=values, **init_kwargs) as run:
        config = run.config  # the sweep's values where it set them
        (x_train, y_train), (x_val, y_val), used = load_dataset(config.data, small=small)
        if used != config.data:  # MNIST could not be had: record what was trained on
            config.update({"data": used}, allow_val_change=True)
        torch.manual_seed(0)
        model = ks.Model(build(config)).compile(config.optimizer, "cross_entropy", metrics=["accuracy"])
        model.learning_rate = config.learning_rate  # the named optimizer with the sweep's rate
        history = model.fit(x_train, y_train, batch_size=config.batch_size, epochs=config.epochs,
                            validation_data=(x_val, y_val), verbose=2,
                            callbacks=[ks.callbacks.WandbCallback(monitor="val_accuracy")])
        return {"run_id": run.id, **{k: v[-1] for k, v in history.history.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--create-sweep", action="store_true",
                        help="register the sweep with W&B (online) and print its id")
    parser.add_argument("--project", default="kerasish-sweep")
    parser.add_argument("--config", type=json.loads, default=None,
                        help="JSON values for one run, e.g. '{\"learning_rate\": 0.01}'")
    parser.add_argument("--small", action="store_true", help="2 epochs on a few hundred images")
    args = parser.parse_args()
    if args.create_sweep:
        print(wandb.sweep(SWEEP, project=args.project))
        return
    print(train(args.config, small=args.small))


if __name__ == "__main__":
    main()
