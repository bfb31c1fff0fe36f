"""Keras's guide "Customizing what happens in fit()" (torch backend), ported to kerasish.

Each section of the guide is a function here, trained on scikit-learn's bundled handwritten digits
(8x8 images, offline). The Keras lines that change are in comments beside their replacement:
``self.optimizer.apply(gradients, trainable_weights)`` becomes ``self.optimizer.step()``, and
``keras.layers`` become ``torch.nn`` modules. Everything else (``train_step``, ``compute_loss``,
``self.metrics``, ``unpack_x_y_sample_weight``, two optimizers in a GAN) reads as in Keras.

    python examples/custom_train_step.py            # every section, ~20 s on a laptop CPU
    python examples/custom_train_step.py --small    # a quick smoke run
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from sklearn.datasets import load_digits

import kerasish as ks


def digits(small: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Flattened digits in [0, 1] (N, 64) and their labels."""
    data = load_digits()
    x = (data.data / 16.0).astype("float32")
    y = data.target.astype("int64")
    return (x[:512], y[:512]) if small else (x, y)


def classifier() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))


# ---------------------------------------------------------------------------- 1. a first example

class CustomModel(ks.Model):
    """The guide's first model: ``train_step`` with the compiled loss and metrics."""

    def train_step(self, data):
        x, y = data                                  # x, y = data
        self.optimizer.zero_grad()                   # self.zero_grad()
        y_pred = self(x, training=True)              # y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        loss.backward()
        self.optimizer.step()                        # self.optimizer.apply(gradients, trainable_weights)
        for metric in self.metrics:                  # the loss tracker is updated by compute_loss
            if metric.name != "loss":
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def first_example(epochs: int, small: bool) -> tuple[ks.Model, dict[str, float]]:
    x, y = digits(small)
    model = CustomModel(classifier(), device="cpu")
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return model, {k: v[-1] for k, v in history.history.items()}


# ---------------------------------------------------------------------------- 2. lower level

class LowerLevelModel(ks.Model):
    """No compiled loss: the model keeps its own loss function, tracker and metric."""

    def __init__(self, module):
        super().__init__(module, device="cpu")
        self.loss_tracker = ks.metrics.Mean(name="loss")
        self.accuracy = ks.metrics.SparseCategoricalAccuracy(name="accuracy")
        self.loss_fn = ks.losses.SparseCategoricalCrossentropy(from_logits=True)

    def train_step(self, data):
        x, y = data
        self.optimizer.zero_grad()
        y_pred = self(x, training=True)
        loss = self.loss_fn(y, y_pred)               # ks.losses keep Keras's (y_true, y_pred)
        loss.backward()
        self.optimizer.step()
        self.loss_tracker.update_state(loss)
        self.accuracy.update_state(y, y_pred)
        return {"loss": self.loss_tracker.result(), "accuracy": self.accuracy.result()}

    @property
    def metrics(self):
        # Listed here so that fit resets them at each epoch start.
        return [self.loss_tracker, self.accuracy]


def lower_level(epochs: int, small: bool) -> tuple[ks.Model, dict[str, float]]:
    x, y = digits(small)
    model = LowerLevelModel(classifier())
    model.compile(optimizer="adam")                  # no loss: train_step computes its own
    history = model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return model, {k: v[-1] for k, v in history.history.items()}


# ---------------------------------------------------------------------------- 3. sample weights

class WeightedModel(ks.Model):
    """``sample_weight`` and ``class_weight`` reach the step as the third element of ``data``."""

    def train_step(self, data):
        x, y, sample_weight = ks.utils.unpack_x_y_sample_weight(data)
        self.optimizer.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)
        loss.backward()
        self.optimizer.step()
        return self.compute_metrics(x, y, y_pred, sample_weight)


def sample_weights(epochs: int, small: bool) -> tuple[ks.Model, dict[str, float]]:
    x, y = digits(small)
    weights = np.where(y == 3, 2.0, 1.0).astype("float32")   # digit 3 counts twice
    model = WeightedModel(classifier(), device="cpu")
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    history = model.fit(x, y, sample_weight=weights, epochs=epochs, batch_size=32, verbose=0)
    return model, {k: v[-1] for k, v in history.history.items()}


# ---------------------------------------------------------------------------- 4. evaluation step

class EvaluatedModel(ks.Model):
    """A custom ``test_step``: what ``evaluate`` and validation run."""

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        self.compute_loss(y=y, y_pred=y_pred)        # updates the loss tracker
        for metric in self.metrics:
            if metric.name != "loss":
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def evaluation_step(epochs: int, small: bool) -> tuple[ks.Model, dict[str, float]]:
    x, y = digits(small)
    model = EvaluatedModel(classifier(), device="cpu")
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    return model, model.evaluate(x, y, batch_size=64, verbose=0, return_dict=True)


# ---------------------------------------------------------------------------- 5. a GAN

LATENT_DIM = 16


class GAN(ks.Model):
    """The guide's GAN: two networks, two optimizers, one ``train_step``."""

    def __init__(self, discriminator: torch.nn.Module, generator: torch.nn.Module, latent_dim: int):
        super().__init__(torch.nn.ModuleDict({"d": discriminator, "g": generator}), device="cpu")
        self.discriminator, self.generator = discriminator, generator
        self.latent_dim = latent_dim
        self.d_loss_tracker = ks.metrics.Mean(name="d_loss")
        self.g_loss_tracker = ks.metrics.Mean(name="g_loss")

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()                            # no loss: this model computes its own
        self.d_optimizer, self.g_optimizer, self.loss_fn = d_optimizer, g_optimizer, loss_fn
        return self

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def train_step(self, real_images):
        if isinstance(real_images, tuple):
            real_images = real_images[0]
        batch_size = real_images.shape[0]
        # Decode random points into fake images and train the discriminator on both kinds.
        latent = torch.randn(batch_size, self.latent_dim)   # keras.random.normal(..., seed=...)
        with torch.no_grad():
            fake_images = self.generator(latent)
        images = torch.cat([fake_images, real_images])
        labels = torch.cat([torch.ones(batch_size, 1), torch.zeros(batch_size, 1)])
        labels += 0.05 * torch.rand(labels.shape)            # the guide's label noise
        self.d_optimizer.zero_grad()
        d_loss = self.loss_fn(labels, self.discriminator(images))
        d_loss.backward()
        self.d_optimizer.step()
        # Train the generator to make the discriminator call its images real ("0").
        latent = torch.randn(batch_size, self.latent_dim)
        misleading_labels = torch.zeros(batch_size, 1)
        self.g_optimizer.zero_grad()
        g_loss = self.loss_fn(misleading_labels, self.discriminator(self.generator(latent)))
        g_loss.backward()
        self.g_optimizer.step()
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


def gan(epochs: int, small: bool) -> tuple[ks.Model, dict[str, float]]:
    x, _ = digits(small)
    discriminator = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.LeakyReLU(0.2),
                                        torch.nn.Linear(64, 1))
    generator = torch.nn.Sequential(torch.nn.Linear(LATENT_DIM, 64), torch.nn.LeakyReLU(0.2),
                                    torch.nn.Linear(64, 64), torch.nn.Sigmoid())
    model = GAN(discriminator, generator, LATENT_DIM)
    model.compile(
        d_optimizer=torch.optim.Adam(discriminator.parameters(), lr=3e-4),
        g_optimizer=torch.optim.Adam(generator.parameters(), lr=3e-4),
        loss_fn=ks.losses.BinaryCrossentropy(from_logits=True),
    )
    history = model.fit(x, epochs=epochs, batch_size=32, verbose=0)
    return model, {k: v[-1] for k, v in history.history.items()}


SECTIONS = {
    "first_example": first_example,
    "lower_level": lower_level,
    "sample_weights": sample_weights,
    "evaluation_step": evaluation_step,
    "gan": gan,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--small", action="store_true", help="a few hundred samples, 2 epochs")
    parser.add_argument("--section", choices=sorted(SECTIONS), action="append")
    args = parser.parse_args()
    torch.manual_seed(0)
    epochs = 2 if args.small else args.epochs
    for name in args.section or SECTIONS:
        _, logs = SECTIONS[name](epochs, args.small)
        print(f"{name}: " + ", ".join(f"{k}={v:.4f}" for k, v in logs.items()))


if __name__ == "__main__":
    main()
