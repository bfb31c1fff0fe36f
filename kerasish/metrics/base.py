"""The ``Metric`` protocol every kerasish metric follows, and the input handling they share.

The helpers here are the ones more than one metric family needs (so each lives once): array-likes
becoming tensors, Keras's rank alignment of targets and outputs, the ``dtype=`` argument
(``resolve_dtype``) and Keras's ``divide_no_nan``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from kerasish._naming import snake_case

EPSILON = 1e-7  # Keras's backend.epsilon()

# The dtypes a metric's state may have, by Keras's name: the real dtypes Keras's ``Metric`` takes
# on the torch backend. Keras also takes "bool" and "complex64"; a count or mean in those types
# means nothing, so kerasish refuses them (``resolve_dtype``).
DTYPES: dict[str, torch.dtype] = {
    "float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32,
    "float64": torch.float64, "uint8": torch.uint8, "int16": torch.int16, "int32": torch.int32,
    "int64": torch.int64,
}
# Keras's mixed-precision policies: a metric computes in the policy's compute dtype.
_POLICIES = {"mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}


class Metric:
    """Base class: subclasses implement ``update_state``, ``result`` and ``reset_state``.

    A metric whose state is a set of sums over samples (counts, weighted totals) also implements
    ``summed_state()`` and ``load_summed_state()``; under ``torchrun`` those tensors are summed
    across ranks at each epoch end, so every rank logs the value of the whole data set.

    As in Keras, calling the metric, ``metric(y_true, y_pred, sample_weight=None)``, updates the
    state and returns ``result()``; ``get_config()`` / ``from_config(config)`` rebuild it with the
    same arguments, and ``variables`` lists its state tensors.

    Args:
        name: the log key; defaults to the class name in snake_case.
        dtype: the dtype of the state and of the values it accumulates, as in Keras
            (``"float32"`` by default; ``"float64"``, ``"float16"``, ``"bfloat16"``, an integer
            dtype, a torch or NumPy dtype, or ``"mixed_float16"``/``"mixed_bfloat16"``).

    Raises:
        ValueError: a ``dtype`` that is not one of those.

    Example:
        class Total(ks.metrics.Metric):
            def __init__(self, name="total", dtype=None):
                super().__init__(name, dtype)
                self.reset_state()

            def update_state(self, y_true, y_pred, sample_weight=None):
                self.total = self.total.to(y_pred.device) + y_pred.detach().sum()

            def result(self):
                return self.total

            def reset_state(self):
                self.total = torch.zeros(())

            def summed_state(self):
                return [self.total]

            def load_summed_state(self, state):
                (self.total,) = state
    """

    # A subclass that skips ``super().__init__`` still has Keras's default dtype.
    _dtype = "float32"
    _torch_dtype = torch.float32

    def __init__(self, name: str | None = None, dtype: Any = None):
        self.name = name or snake_case(type(self).__name__)
        if dtype is not None:
            self._dtype = resolve_dtype(dtype)
            self._torch_dtype = DTYPES[self._dtype]

    @property
    def dtype(self) -> str:
        """The state's dtype by Keras's name (``"float32"``), as ``keras.metrics.Metric.dtype``."""
        return self._dtype

    @property
    def torch_dtype(self) -> torch.dtype:
        """``dtype`` as a ``torch.dtype``: what the accumulated values are cast to."""
        return self._torch_dtype

    def __call__(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        """Keras's ``metric(...)``: ``update_state(*args, **kwargs)``, then ``result()``.

        Returns:
            The result over everything seen since the last reset, this batch included.
        """
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this metric (Keras's ``get_config``).

        Subclasses with more arguments add them, so ``type(m).from_config(m.get_config())``
        is a fresh metric configured as ``m``.
        """
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        """A new metric built from ``get_config()``'s dictionary: ``cls(**config)``.

        Args:
            config: the dictionary ``get_config()`` returned.
        """
        return cls(**config)

    @property
    def variables(self) -> list[torch.Tensor]:
        """The state tensors, in Keras's order for Keras's metrics (``Mean``: total, count).

        By default the ``summed_state()`` tensors (a metric whose state is not a set of sums
        overrides this); an empty list for a metric that declares none.
        """
        return list(self.summed_state() or [])

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        """Add one batch to the running state, kept on the batch's device (no host read).

        Args:
            y_true: the batch's targets: tensors (the built-in metrics also take NumPy arrays
                and lists, as Keras's do).
            y_pred: the batch's outputs.
            sample_weight: ``None``, or one weight per sample.
        """
        raise NotImplementedError

    def result(self) -> torch.Tensor:
        """The metric's value over everything seen since the last reset.

        Returns:
            A tensor on the device, 0-d (a vector where Keras returns one: several thresholds,
            ``F1Score(average=None)``); ``float(metric.result())`` reads it.
        """
        raise NotImplementedError

    def reset_state(self) -> None:
        """Forget everything seen; the loop calls it at each epoch start and before ``evaluate``."""
        raise NotImplementedError

    def summed_state(self) -> list[torch.Tensor] | None:
        """The state tensors that add up across ranks, or ``None`` when the metric declares none.

        Every rank must return tensors of the same shapes, in the same order (a rank that saw no
        batch returns zeros). They are read at epoch end only, never per step.

        Returns:
            A list of tensors (any device; any shapes), or ``None``: not reduced across ranks.
        """
        return None

    def load_summed_state(self, state: list[torch.Tensor]) -> None:
        """Take back the tensors of ``summed_state()``, summed over all ranks (same order, shapes).

        Args:
            state: the summed tensors, on the training device.
        """
        raise NotImplementedError(
            f"{type(self).__name__} returns a summed_state() but does not implement "
            "load_summed_state(state); implement both or neither."
        )

    def running_state(self) -> dict[str, Any]:
        """What a mid-epoch training state saves of this metric: its tensor and number attributes
        (``None`` ones too), so a resumed epoch's running values are an uninterrupted run's.

        A metric that shows another's state (a view) returns that one's.
        """
        return {k: v for k, v in vars(self).items()
                if v is None or isinstance(v, (torch.Tensor, int, float)) and not isinstance(v, bool)}

    def load_running_state(self, state: dict[str, Any], device: torch.device) -> None:
        """Take back ``running_state()``: each attribute set again, tensors moved to ``device``.

        Args:
            state: what ``running_state`` returned (as saved).
            device: the training device.
        """
        for attribute, value in state.items():
            setattr(self, attribute, value.to(device) if isinstance(value, torch.Tensor) else value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def resolve_dtype(dtype: Any) -> str:
    """A metric's ``dtype=`` argument by Keras's name, or a ``ValueError`` naming it.

    Args:
        dtype: ``None`` (float32), a name (``"float64"``), a ``torch.dtype``, a NumPy dtype, or
            a Keras mixed-precision policy name (its compute dtype is used).

    Returns:
        The name, a key of ``DTYPES``.

    Raises:
        ValueError: anything else (``bool`` and complex dtypes included).

    Example:
        ks.metrics.base.resolve_dtype(torch.float64)   # "float64"
    """
    if dtype is None:
        return "float32"
    if isinstance(dtype, torch.dtype):
        name = str(dtype).removeprefix("torch.")
    elif isinstance(dtype, str):
        name = _POLICIES.get(dtype, dtype)
    else:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            name = repr(dtype)
    if name not in DTYPES:
        raise ValueError(
            f"dtype={dtype!r} is not supported for a metric: pass one of {', '.join(DTYPES)} (or a "
            "torch/NumPy dtype of those), or leave dtype unset for float32."
        )
    return name


def divide_no_nan(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """Keras's ``ops.divide_no_nan``: ``numerator / denominator``, and 0 where the divisor is 0.

    Args:
        numerator: the dividend.
        denominator: the divisor (any sign: a negative total weight divides as it is).
    """
    quotient = numerator / denominator
    return torch.where(denominator == 0, torch.zeros_like(quotient), quotient)


def check_dtype(dtype: Any) -> None:
    """Refuse a ``dtype=`` other than float32, for the metrics that accumulate in float32 only.

    The metrics built on ``Metric(name, dtype)`` take every dtype of ``resolve_dtype`` instead.

    Args:
        dtype: the metric's ``dtype`` argument; ``None``, ``"float32"`` or ``torch.float32`` pass.
    """
    if dtype not in (None, "float32", torch.float32):
        raise ValueError(
            f"dtype={dtype!r} is not supported: kerasish metrics accumulate in float32. Leave dtype "
            "unset (or pass 'float32')."
        )


def as_tensors(*values: Any) -> tuple[Any, ...]:
    """``update_state``'s inputs as tensors, since Keras accepts lists and NumPy arrays there.

    Tensors pass through untouched (the per-step case), and so does ``None``.

    Args:
        *values: ``y_true``, ``y_pred``, ``sample_weight``, ... in any order.
    """
    return tuple(v if v is None or isinstance(v, torch.Tensor) else torch.as_tensor(v) for v in values)


def squeeze_or_expand(x1: torch.Tensor, x2: torch.Tensor,
                      expand_rank_1: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Keras's ``squeeze_or_expand_to_same_rank``: fix a rank difference of one trailing 1-axis.

    Args:
        x1: one tensor.
        x2: the other.
        expand_rank_1: when the lower-rank tensor is 1-D, add its trailing axis rather than drop
            the other's.
    """
    r1, r2 = x1.dim(), x2.dim()
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2.unsqueeze(-1)
        else:
            x1 = x1.squeeze(-1)
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1.unsqueeze(-1)
        else:
            x2 = x2.squeeze(-1)
    return x1, x2


def align(y_true: torch.Tensor, y_pred: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets and outputs as the per-sample functions compare them: ``(N,)`` against ``(N, 1)`` (or
    the other way round) meet at ``(N, 1)`` instead of broadcasting to ``(N, N)``, as in Keras.

    Args:
        y_true: the targets.
        y_pred: the outputs.
    """
    return squeeze_or_expand(y_true, y_pred)
