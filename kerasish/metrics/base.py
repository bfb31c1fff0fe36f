"""The ``Metric`` protocol every kerasish metric follows, and the input handling they share.

The helpers here are the ones more than one metric family needs (so each lives once): array-likes
becoming tensors, Keras's rank alignment of targets and outputs, and the ``dtype=`` check.
"""

from __future__ import annotations

from typing import Any

import torch

from kerasish._naming import snake_case

EPSILON = 1e-7  # Keras's backend.epsilon()


class Metric:
    """Base class: subclasses implement ``update_state``, ``result`` and ``reset_state``.

    A metric whose state is a set of sums over samples (counts, weighted totals) also implements
    ``summed_state()`` and ``load_summed_state()``; under ``torchrun`` those tensors are summed
    across ranks at each epoch end, so every rank logs the value of the whole data set.

    Args:
        name: the log key; defaults to the class name in snake_case.

    Example:
        class Total(ks.metrics.Metric):
            def __init__(self, name="total"):
                super().__init__(name)
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

    def __init__(self, name: str | None = None):
        self.name = name or snake_case(type(self).__name__)

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

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def check_dtype(dtype: Any) -> None:
    """Refuse a ``dtype=`` other than float32: Keras metrics take one, ours accumulate in float32.

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
