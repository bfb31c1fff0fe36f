"""``ModelParts``: what ``Model``'s mixins (``model_steps``, ``model_saving``) may use of it.

Empty at run time; for the type checker it declares the attributes ``Model.__init__`` sets and the
members ``Model`` defines, once, so each mixin is checked against the same list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from kerasish.distributed import Group
    from kerasish.fsdp import DistributePlan
    from kerasish.metrics import Metric
    from kerasish.trainer.engine import Engine
    from kerasish.trainer.run_state import RunState


class ModelParts:
    """The part of ``ks.Model`` its mixins build on (see ``kerasish.model.Model``)."""

    if TYPE_CHECKING:  # provided by Model
        module: torch.nn.Module
        device: torch.device
        optimizer: torch.optim.Optimizer | None
        compile_config: dict[str, Any]
        _engine: Engine | None
        _run: RunState
        _group: Group | None
        _ddp: torch.nn.Module | None
        _plan: DistributePlan

        @property
        def metrics(self) -> list[Metric]: ...

        @property
        def is_main_process(self) -> bool: ...

        def reset_metrics(self) -> None: ...
