"""Data and W&B settings shared by the examples (each example imports it from its own folder).

``load_images("digits")`` gives scikit-learn's bundled handwritten digits, scaled up to MNIST's
28x28 so the MNIST architectures run unchanged, with no download; ``load_images("mnist")`` gives
torchvision's MNIST (downloaded on first use) and falls back to the digits when it cannot be had.
``load_dataset`` returns the same and the name of the data really used, for the run's config.
"""

from __future__ import annotations

import netrc
import os
import sys

import numpy as np
import torch


def load_images(data: str = "digits", small: bool = False, seed: int = 0):
    """``(x_train, y_train), (x_test, y_test)``: float32 images ``(N, 1, 28, 28)`` in [0, 1] and
    int64 labels. ``small`` keeps a few hundred images, for smoke tests. ``load_dataset`` also
    says which data it gave (MNIST may fall back to the digits)."""
    train, test, _ = load_dataset(data, small=small, seed=seed)
    return train, test


def load_dataset(data: str = "digits", small: bool = False, seed: int = 0):
    """``(train, test, used)``: as ``load_images``, plus the name of the data really loaded:
    ``"mnist"``, or ``"digits"`` when asked for it or when MNIST could not be had. Record ``used``
    (not the request) in your run's config."""
    used = data
    if data == "mnist":
        try:
            (x_train, y_train), (x_test, y_test) = _mnist()
        except Exception as error:  # noqa: BLE001 - offline, blocked, or no torchvision
            print(f"MNIST could not be loaded ({type(error).__name__}: {str(error)[:120]}); "
                  "using scikit-learn's bundled digits instead.", file=sys.stderr)
            (x_train, y_train), (x_test, y_test) = _digits(seed)
            used = "digits"
    elif data == "digits":
        (x_train, y_train), (x_test, y_test) = _digits(seed)
    else:
        raise ValueError(f"--data must be 'digits' or 'mnist'; got {data!r}.")
    if small:
        x_train, y_train, x_test, y_test = x_train[:384], y_train[:384], x_test[:128], y_test[:128]
    return (x_train, y_train), (x_test, y_test), used


def _mnist(root: str = "data"):
    from torchvision import datasets  # the kerasish[vision] extra

    def arrays(train: bool):
        dataset = datasets.MNIST(root, train=train, download=True)
        x = dataset.data.numpy().astype("float32")[:, None] / 255.0
        return x, dataset.targets.numpy().astype("int64")

    return arrays(True), arrays(False)


def _digits(seed: int):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = torch.from_numpy(digits.images.astype("float32") / 16.0)[:, None]  # (N, 1, 8, 8)
    images = torch.nn.functional.interpolate(images, size=(28, 28), mode="bilinear", align_corners=False)
    x, y = images.numpy(), digits.target.astype("int64")
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=seed, stratify=y)
    return (np.ascontiguousarray(x_train), y_train), (np.ascontiguousarray(x_test), y_test)


def wandb_mode() -> str | None:
    """``"offline"`` unless W&B is configured: ``WANDB_MODE`` set, an API key in the environment,
    or a login saved in ``~/.netrc`` (what ``wandb login`` writes)."""
    if os.environ.get("WANDB_MODE") or os.environ.get("WANDB_API_KEY"):
        return None  # W&B's own settings decide
    try:
        if netrc.netrc().authenticators("api.wandb.ai"):
            return None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        pass
    return "offline"
