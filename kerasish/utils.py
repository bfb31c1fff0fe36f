"""Small helpers Keras code calls by name: ``ks.utils.unpack_x_y_sample_weight`` and friends."""

from __future__ import annotations

import sys
from typing import Any

from kerasish._keras_interop import keras_backend
from kerasish.checks import check_int


def unpack_x_y_sample_weight(data: Any) -> tuple[Any, Any, Any]:
    """Split a batch as Keras 3 passes it to a step into ``(x, y, sample_weight)``.

    A custom ``train_step`` receives ``data`` exactly as Keras would give it: ``(x,)``, ``(x, y)``
    or ``(x, y, sample_weight)``; anything else is taken as ``x`` alone. Missing parts are ``None``.

    Args:
        data: the batch a step received.

    Returns:
        ``(x, y, sample_weight)``.

    Raises:
        ValueError: a tuple or list of more than three elements (Keras raises too).

    Example:
        def train_step(self, data):
            x, y, sample_weight = ks.utils.unpack_x_y_sample_weight(data)
    """
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data[0], data[1], data[2]
    raise ValueError(
        "unpack_x_y_sample_weight: data must be (x,), (x, y) or (x, y, sample_weight); got a "
        f"{type(data).__name__} of length {len(data)}."
    )


def pack_x_y_sample_weight(x: Any, y: Any = None, sample_weight: Any = None) -> Any:
    """Pack a batch as Keras 3 does before a step: the inverse of ``unpack_x_y_sample_weight``.

    Args:
        x: the inputs.
        y: the targets, or ``None``.
        sample_weight: the sample weights, or ``None``.

    Returns:
        ``x`` alone when there are no targets (wrapped as ``(x,)`` when ``x`` is itself a tuple or
        list, so it is not mistaken for ``(x, y)``), ``(x, y)``, or ``(x, y, sample_weight)``.

    Example:
        data = ks.utils.pack_x_y_sample_weight(x, y)   # (x, y)
    """
    if y is None and sample_weight is None:
        return (x,) if isinstance(x, (tuple, list)) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def to_categorical(x: Any, num_classes: int | None = None) -> Any:
    """One-hot encode integer class labels, as ``keras.utils.to_categorical`` does.

    Ported Keras code calls this to turn labels into targets for ``categorical_crossentropy``. As in
    Keras 3 (torch backend), array-likes give a float64 NumPy array and a torch tensor gives an
    int64 tensor on its own device; a trailing axis of size 1 is dropped before the class axis is
    appended. Unlike Keras, labels outside ``[0, num_classes)`` are refused (NumPy would wrap ``-1``
    round to the last class silently).

    Args:
        x: integer class labels (array-like or torch tensor), any shape.
        num_classes: the number of classes; ``None`` takes ``max(x) + 1``.

    Returns:
        The one-hot encoding, with the class axis last: shape ``x.shape + (num_classes,)``.

    Raises:
        ValueError: ``num_classes`` is not a positive integer, or a label lies outside
            ``[0, num_classes)``.

    Example:
        y = ks.utils.to_categorical([0, 2, 1], num_classes=3)   # array of shape (3, 3)
    """
    import numpy as np
    import torch

    num_classes = check_int(num_classes, "num_classes", least=1, allow_none=True, owner="to_categorical")
    labels = x.long() if isinstance(x, torch.Tensor) else np.asarray(x, dtype="int64")
    shape = tuple(labels.shape)
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = labels.reshape(-1)
    if flat.shape[0]:
        low, high = int(flat.min()), int(flat.max())  # one host read: a utility, not a step
        if num_classes is None:
            num_classes = high + 1
        if low < 0 or high >= num_classes:
            raise ValueError(
                f"to_categorical: x holds labels in [{low}, {high}] but num_classes={num_classes}; "
                f"labels must lie in [0, {num_classes}). Pass a larger num_classes or remap the labels."
            )
    elif num_classes is None:
        raise ValueError("to_categorical: x is empty, so num_classes cannot be inferred; pass it.")
    if isinstance(flat, torch.Tensor):  # x was a tensor
        return torch.nn.functional.one_hot(flat, num_classes).reshape(*shape, num_classes)
    categorical = np.zeros((flat.shape[0], num_classes))
    categorical[np.arange(flat.shape[0]), flat] = 1
    return categorical.reshape(shape + (num_classes,))


def set_random_seed(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (every CUDA device too), as Keras's helper does.

    Keras code calls ``keras.utils.set_random_seed(seed)`` to make a run repeatable; this does the
    same for a torch program. When Keras itself is already imported (a ported Keras model), its
    own ``set_random_seed`` runs too, so Keras's global seed generator restarts from ``seed``.

    Args:
        seed: an integer in ``[0, 2**32)``.

    Raises:
        ValueError: ``seed`` is not such an integer.

    Example:
        ks.utils.set_random_seed(1337)
    """
    import random

    import numpy as np
    import torch

    seed = check_int(seed, "seed", least=0, below=2**32, owner="set_random_seed")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds the CPU and every CUDA (and MPS) device
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    keras = sys.modules.get("keras")
    if keras is not None and keras_backend(keras) == "torch":
        keras.utils.set_random_seed(seed)
