"""Sums across ranks under torchrun: the running results at epoch end, and gradients.

The engine's running loss trackers and metrics are summed so that every rank logs the value of
the whole data set; an accumulation window cut short by an epoch's end averages its gradients.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from kerasish.distributed import Group
    from kerasish.metrics import Metric
    from kerasish.trainer.compile_utils import LossTracker
    from kerasish.trainer.engine import NamedMetric


def sum_running_results(trackers: Sequence[LossTracker], tracked: Sequence[NamedMetric],
                        device: torch.device, group: Group) -> None:
    """Sum the running totals over all ranks (epoch end only), so logs agree everywhere.

    The loss trackers and every metric that declares its state with ``summed_state()`` (``Mean``,
    the confusion metrics, ``F1Score``, Keras metric objects, a user's metric) are summed in one
    collective and handed back with ``load_summed_state``; torchmetrics objects synchronise
    themselves in ``compute()``, and a metric that declares nothing keeps its rank's value.
    A metric's state must have the same shape on every rank: a shape known only after a batch
    (``F1Score``) on a rank that saw none is reported as a clear error, not a hang.
    """
    zero = torch.zeros((), device=device)
    states = []
    for tracker in trackers:
        count = torch.tensor(tracker.count, dtype=torch.int64, device=device)  # exact past 2**24
        states += [zero if tracker.total is None else tracker.total, count]
    reduced: list[tuple[str, Metric, list[torch.Tensor]]] = []
    for name, metric in tracked[len(trackers):]:
        state = metric.summed_state()
        if state is not None:
            reduced.append((name, metric, [torch.as_tensor(t).to(device) for t in state]))
    if reduced:  # summing tensors of different sizes would fail obscurely or hang: compare first
        shapes = [[tuple(t.shape) for t in state] for _, _, state in reduced]
        everywhere = group.gather(shapes)  # one small collective, epoch end only
        for i, (name, _, _) in enumerate(reduced):
            seen = sorted({repr(rank_shapes[i]) for rank_shapes in everywhere})
            if len(seen) > 1:
                raise ValueError(
                    f"metric {name!r} holds state of different shapes on different ranks "
                    f"({', '.join(seen)}), so it cannot be summed across ranks. A metric whose "
                    "state shape is known only after its first batch (e.g. F1Score) saw no batch "
                    "on some rank: give every rank at least one batch (more samples than processes)."
                )
    for _, _, state in reduced:
        states += state
    summed = group.all_reduce_sum(states)
    for i, tracker in enumerate(trackers):
        tracker.total, tracker.count = summed[2 * i].reshape(()), int(summed[2 * i + 1].item())
    offset = 2 * len(trackers)
    for _, metric, state in reduced:
        metric.load_summed_state([summed[offset + i].reshape(t.shape) for i, t in enumerate(state)])
        offset += len(state)


def average_gradients(params: Sequence[torch.Tensor]) -> None:
    """Average the gradients over all ranks in one collective (an epoch's unfinished window)."""
    import torch.distributed as dist

    grads = [p.grad for p in params if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()
