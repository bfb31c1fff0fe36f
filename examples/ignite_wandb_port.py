"""The W&B + PyTorch Ignite MNIST guide, ported to kerasish.

The guide builds an Ignite trainer and evaluator by hand, attaches a W&B logger for the
per-iteration training loss, the per-epoch validation nll and accuracy, the optimizer's learning
rate and the gradients, and trains the classic MNIST ``Net`` with SGD. Here the same Net, optimizer
and logging take a compile, a fit and one callback:

    python examples/ignite_wandb_port.py                 # bundled digits, offline W&B run
    python examples/ignite_wandb_port.py --data mnist    # real MNIST (downloads once)
    python examples/ignite_wandb_port.py --small         # a few seconds, for smoke tests

W&B runs offline unless you are logged in (``wandb login``); sync later with ``wandb sync``.
The guide's flag names (``--batch_size``, ``--val_batch_size``, ``--log_interval``) and the
dashed ones (``--batch-size``, ...) are both accepted.

Where the guide's pieces went:

    Ignite                                           kerasish
    create_supervised_trainer(model, optimizer,      ks.Model(net).compile(optimizer, loss="nll",
        F.nll_loss)                                      metrics=["accuracy"])
    create_supervised_evaluator(metrics={            validation_data=... in fit: val_loss (the nll)
        "accuracy": Accuracy(), "nll": Loss(...)})       and val_accuracy each epoch
    WandBLogger.attach_output_handler(trainer,       WandbCallback(log_freq=log_interval,
        Events.ITERATION_COMPLETED(every=...))           log_batch="step"): each logged iteration's
                                                         own loss, batch/loss against batch/step
    attach_opt_params_handler(trainer, "lr")         log_optimizer_params=True: batch/lr/group_0
                                                         (and momentum/group_0), per param group
    wandb_logger.watch(model)                        watch="gradients" (at batch end, every N)
    trainer.run(train_loader, max_epochs=epochs)     model.fit(..., epochs=epochs)
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch import nn

import kerasish as ks

from common import load_dataset, wandb_mode


class Net(nn.Module):
    """The guide's network, unchanged: two convolutions, dropout, log-softmax outputs."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = x.view(-1, 320)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, training=self.training)
        x = self.fc2(x)
        return F.log_softmax(x, dim=-1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # the guide's names first (they name the config keys), then the dashed spelling
    parser.add_argument("--batch_size", "--batch-size", type=int, default=64)
    parser.add_argument("--val_batch_size", "--val-batch-size", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--momentum", type=float, default=0.5)
    parser.add_argument("--log_interval", "--log-interval", type=int, default=10)
    parser.add_argument("--data", choices=["digits", "mnist"], default="digits")
    parser.add_argument("--small", action="store_true", help="2 epochs on a few hundred images")
    args = parser.parse_args()
    if args.small:
        args.epochs = 2

    torch.manual_seed(0)
    (x_train, y_train), (x_val, y_val), args.data = load_dataset(args.data, small=args.small)
    # MNIST's usual normalisation, as the guide's transforms.Normalize((0.1307,), (0.3081,))
    x_train, x_val = (x_train - 0.1307) / 0.3081, (x_val - 0.1307) / 0.3081

    net = Net()
    optimizer = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=args.momentum)
    model = ks.Model(net).compile(optimizer, loss="nll", metrics=["accuracy"])

    wandb_callback = ks.callbacks.WandbCallback(
        project="pytorch-ignite-integration",
        config=vars(args),
        log_freq=args.log_interval,      # training loss every log_interval iterations,
        log_batch="step",                # each one's own loss, as the guide's output handler
        log_optimizer_params=True,       # lr/group_0 and momentum/group_0, as its opt params handler
        watch="gradients",               # gradient histograms ...
        watch_freq=args.log_interval,    # ... taken at the same iterations
        mode=wandb_mode(),
    )
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_data=(x_val, y_val), validation_batch_size=args.val_batch_size,
                        callbacks=[wandb_callback], verbose=2)

    print(f"validation nll: {history.history['val_loss'][-1]:.4f}  "
          f"validation accuracy: {history.history['val_accuracy'][-1]:.4f}")


if __name__ == "__main__":
    main()
