"""``Model(module, distribute=...)``: which wrapping a run gets, and FSDP2 sharding.

``distribute="auto"`` keeps what kerasish always did: DDP when ``torchrun`` started several
processes, nothing otherwise. ``"ddp"`` and ``"fsdp"`` ask for one explicitly (under ``torchrun``,
at any world size), ``None`` trains each process on its own, as a plain script would. With
``"fsdp"`` (or ``ks.FSDP(...)`` for a wrap policy of one's own) the module is sharded with
FSDP2's ``fully_shard``: each top-level child that holds parameters, then the root, so that every
rank keeps only its slice of the parameters, gradients and optimizer state, and a model larger
than one device trains. A module the user already ``fully_shard``-ed is taken as it is.

The module is sharded when the precision is known (at ``compile``, or at the first ``fit``,
``evaluate`` or ``predict`` without one), because FSDP2 fixes its mixed-precision policy then:
``precision="mixed_bfloat16"`` gathers the parameters in bfloat16 and reduces the gradients in
float32. Everything a user reads stays whole: ``get_weights`` gathers full arrays on every rank,
``predict`` returns every sample on every rank, logs are reduced across ranks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from kerasish.data.sharding import Shard
from kerasish.distributed import Group

WrapPolicy = Callable[[torch.nn.Module], bool] | Sequence[type]


@dataclass(frozen=True)
class FSDP:
    """``distribute=ks.FSDP(...)``: FSDP2 sharding with a wrap policy of one's own.

    Args:
        wrap_policy: which submodules are sharded as units (each one's parameters are gathered
            together for its forward and backward, then freed): a callable ``module -> bool``, or
            a list of module classes (``[TransformerBlock]``). ``None``: each top-level child that
            holds parameters. The root is always sharded last.
        reshard_after_forward: free the gathered parameters after each unit's forward (FSDP2's
            default; ``False`` keeps them until backward: more memory, one gather fewer).

    Example:
        model = ks.Model(net, distribute=ks.FSDP(wrap_policy=[Block]))
    """

    wrap_policy: WrapPolicy | None = None
    reshard_after_forward: bool = True

    def __post_init__(self) -> None:
        policy = self.wrap_policy
        if policy is None or callable(policy) and not isinstance(policy, type):
            return
        if isinstance(policy, (list, tuple)) and policy and all(isinstance(t, type) for t in policy):
            return
        raise TypeError(
            f"FSDP(wrap_policy=...) takes a callable module -> bool or a list of module classes "
            f"(e.g. [torch.nn.TransformerEncoderLayer]); got {policy!r}."
        )

    def wraps(self, root: torch.nn.Module) -> list[torch.nn.Module]:
        """The submodules to shard as units, deepest first (FSDP2 shards children before parents).

        Args:
            root: the module being sharded; its submodules are chosen, never itself.
        """
        policy = self.wrap_policy
        if policy is None:
            return [child for child in root.children() if any(True for _ in child.parameters())]
        if isinstance(policy, (list, tuple)):
            types = tuple(policy)
            chosen = [m for m in root.modules() if m is not root and isinstance(m, types)]
        else:
            wants: Callable[[torch.nn.Module], bool] = policy  # type: ignore[assignment]
            chosen = [m for m in root.modules() if m is not root and wants(m)]
        return list(reversed(chosen))  # modules() is pre-order: reversed, children come first


# What ``Model(distribute=...)`` takes: "auto", "ddp", "fsdp", an ``FSDP`` or ``None``.
Distribute = str | FSDP | None


class DistributePlan(NamedTuple):
    """What ``distribute`` resolved to: ``kind`` is ``"ddp"``, ``"fsdp"`` or ``None``; ``fsdp`` the
    FSDP settings for a module still to be sharded (``None`` for one the user sharded)."""

    kind: str | None
    fsdp: FSDP | None = None

    def summing_group(self, group: Group | None) -> Group | None:
        """The group evaluation sums over: none where every rank reads all the data (FSDP)."""
        return None if self.kind == "fsdp" else group

    def data_shard(self, group: Group | None, pad: bool) -> Shard | None:
        """This rank's part of the data. Sharded modules gather at every forward, so under FSDP
        evaluate and predict (``pad=False``) run all the data on every rank."""
        sharded_data = group is not None and (pad or self.kind != "fsdp")
        return Shard(group, pad) if sharded_data and group is not None else None


def is_sharded(module: torch.nn.Module) -> bool:
    """Whether ``fully_shard`` was applied to ``module`` (its parameters are ``DTensor`` shards)."""
    from torch.distributed.fsdp import FSDPModule

    return isinstance(module, FSDPModule)


def in_torchrun() -> bool:
    """Whether this process belongs to a process group: ``torchrun`` set RANK and WORLD_SIZE (any
    world size), or the user initialised the group."""
    import torch.distributed as dist

    launched = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    return launched or (dist.is_available() and dist.is_initialized())


def plan(distribute: Any, module: torch.nn.Module) -> DistributePlan:
    """Resolve ``Model(distribute=...)``; a bad combination raises before anything changes.

    Raises:
        TypeError: ``distribute`` of another type than a string, ``ks.FSDP`` or ``None``.
        ValueError: an unknown name, ``"ddp"``/``"fsdp"`` outside ``torchrun``, or ``"ddp"`` for
            a module that is already ``fully_shard``-ed.
    """
    from kerasish.distributed import launched_by_torchrun

    sharded = is_sharded(module)
    if isinstance(distribute, FSDP):
        kind: str | None = "fsdp"
    elif distribute is None:
        kind = "fsdp" if sharded else None
    elif not isinstance(distribute, str):
        raise TypeError(
            f"Model(distribute=...) takes 'auto', 'ddp', 'fsdp', ks.FSDP(...) or None; got a "
            f"{type(distribute).__name__}. Pass a wrap policy as distribute=ks.FSDP(wrap_policy=...)."
        )
    elif distribute not in ("auto", "ddp", "fsdp"):
        raise ValueError(
            f"Model(distribute={distribute!r}) is not known. Use 'auto' (DDP under torchrun), 'ddp', "
            "'fsdp' (sharded: FSDP2), ks.FSDP(wrap_policy=...) or None (no wrapping)."
        )
    elif distribute == "auto":
        kind = "fsdp" if sharded else "ddp" if launched_by_torchrun() else None
    else:
        kind = distribute
    if kind is not None and not in_torchrun():
        raise ValueError(
            f"Model(distribute={distribute!r}) needs one process per device started by torchrun, "
            "but this process was not: launch the script with `torchrun --nproc-per-node N "
            "script.py`, or pass distribute='auto' (or None) to train in this one process."
        )
    if kind == "ddp" and sharded:
        raise ValueError(
            "Model(distribute='ddp') got a module that is already fully_shard-ed (FSDP2). Pass "
            "distribute='fsdp' (or 'auto') to train it sharded as it is."
        )
    settings = None if sharded else distribute if isinstance(distribute, FSDP) else FSDP()
    return DistributePlan(kind, settings if kind == "fsdp" else None)


def check_precision(precision: str) -> None:
    """FSDP2 trains in float32 or bfloat16; float16 would need a sharded gradient scaler."""
    from kerasish.trainer.engine import PRECISIONS

    if PRECISIONS.get(precision) is torch.float16:
        raise ValueError(
            f"compile(precision={precision!r}) is not supported with Model(distribute='fsdp'): "
            "float16 gradient scaling would have to agree across the shards. Use "
            "precision='mixed_bfloat16' (or 'float32')."
        )


def shard(module: torch.nn.Module, settings: FSDP, device: torch.device,
          precision: str | None) -> None:
    """``fully_shard`` the policy's units, then the root, over all ranks, in place.

    The shards go to ``device``; ``"mixed_bfloat16"`` maps to
    ``MixedPrecisionPolicy(param_dtype=bfloat16, reduce_dtype=float32)``.
    """
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    from kerasish.trainer.engine import PRECISIONS

    mesh = init_device_mesh(device.type, (dist.get_world_size(),))
    if PRECISIONS.get(precision or "float32") is torch.bfloat16:
        policy = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    else:
        policy = MixedPrecisionPolicy()
    for unit in settings.wraps(module):
        fully_shard(unit, mesh=mesh, mp_policy=policy,
                    reshard_after_forward=settings.reshard_after_forward)
    fully_shard(module, mesh=mesh, mp_policy=policy, reshard_after_forward=settings.reshard_after_forward)


# ---------------------------------------------------------------------------- whole tensors

def full_state_dict(module: torch.nn.Module) -> dict[str, Any]:
    """The module's ``state_dict`` with every tensor whole, on every rank (a collective when
    sharded: every rank calls it), as plain tensors."""
    if not is_sharded(module):
        return module.state_dict()
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    return get_model_state_dict(module, options=StateDictOptions(full_state_dict=True))


def full_tensor(value: Any) -> Any:
    """A ``DTensor`` gathered whole (a collective); anything else as it is."""
    from torch.distributed.tensor import DTensor

    return value.full_tensor() if isinstance(value, DTensor) else value


def shard_like(value: Any, param: torch.Tensor) -> Any:
    """A whole tensor of ``param``'s shape as this rank's shard of it, laid out like ``param``
    (a ``DTensor``); anything else, or for a plain parameter, as it is."""
    from torch.distributed.tensor import DTensor, distribute_tensor

    if not isinstance(param, DTensor) or isinstance(value, DTensor) or \
            not isinstance(value, torch.Tensor) or tuple(value.shape) != tuple(param.shape):
        return value
    whole = value.to(param.device, value.dtype)
    return distribute_tensor(whole, param.device_mesh, param.placements)


def load_module_state(module: torch.nn.Module, state: Mapping[str, Any]) -> None:
    """``module.load_state_dict(state)``; whole tensors into a sharded module are cut to its shards."""
    if is_sharded(module):
        params = module.state_dict()
        state = {key: shard_like(value, params[key]) if key in params else value
                 for key, value in state.items()}
    module.load_state_dict(state)


def optimizer_state_like(optimizer: torch.optim.Optimizer, saved: Mapping[str, Any]) -> dict[str, Any]:
    """A whole (one-process) ``optimizer.state_dict()`` cut to the shards of a sharded optimizer's
    parameters, so ``optimizer.load_state_dict`` takes it; otherwise ``saved`` as it is."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    ids = [i for group in saved["param_groups"] for i in group["params"]]
    by_id = dict(zip(ids, params))
    state = {index: {key: shard_like(value, by_id[index]) if index in by_id else value
                     for key, value in entry.items()}
             for index, entry in saved["state"].items()}
    return {**saved, "state": state}


def full_optimizer_state(module: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """``optimizer.state_dict()`` with every tensor whole (a collective): the form a one-process
    optimizer saves, so a one-process model loads it."""
    saved = optimizer.state_dict()
    state = {index: {key: full_tensor(value) for key, value in entry.items()}
             for index, entry in saved["state"].items()}
    return {**saved, "state": state}


def fqn_names(module: torch.nn.Module, optimizer: torch.optim.Optimizer) -> list[str]:
    """The parameter names (``state_dict`` keys) of ``optimizer``'s parameters, in its order."""
    names = {id(p): name for name, p in module.named_parameters()}
    return [names.get(id(p), f"<unnamed {i}>")
            for i, p in enumerate(p for group in optimizer.param_groups for p in group["params"])]
