"""The training state of a sharded (FSDP) model as a folder: each rank writes its own shards.

``model.save``, ``ModelCheckpoint`` and ``BackupAndRestore`` write this under
``Model(distribute="fsdp")`` instead of one file, so no rank ever holds the whole model or
optimizer. The folder holds:

- a ``torch.distributed.checkpoint`` (DCP) of the sharded tensors: the module's ``state_dict``
  (``"model"``), the optimizer's per-parameter tensors (``"optimizer"``, by parameter name) and a
  half-filled accumulation window's gradients (``"accumulation"``), each rank writing its shards;
- ``kerasish.pt``, written by rank 0: everything else of the training state in the one-file format
  of ``kerasish.state`` (position, every rank's random states and data position, metric states,
  callback states, compile settings, the optimizer's param groups and scalar state).

It is written to a hidden sibling folder and renamed into place by rank 0 after every rank has
finished, so the folder at ``filepath`` is always whole. DCP reshards on load: a checkpoint
written by 2 ranks loads into 1 rank (a plain one-process model, no process group) or into 2 or
more, and everything is read into copies and checked before any weight changes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from kerasish import fsdp as fsdp_lib
from kerasish import state as state_lib
from kerasish.io import atomic_torch_save

STATE_FILE = "kerasish.pt"


def is_checkpoint(filepath: str | os.PathLike) -> bool:
    """Whether ``filepath`` is a folder this module wrote."""
    return os.path.isdir(filepath) and os.path.isfile(os.path.join(filepath, STATE_FILE))


def save(model: Any, filepath: str | os.PathLike) -> None:
    """Write ``model``'s training state as a sharded folder; every rank calls it together.

    Args:
        model: a ``ks.Model`` whose module is sharded (``model.is_sharded``).
        filepath: the folder to write (replaced whole if it exists).
    """
    import torch.distributed as dist
    import torch.distributed.checkpoint as dcp

    state = model.training_state_dict(all_ranks=True)
    tensors, layout = _split(model, state)
    rest = {key: value for key, value in state.items() if key not in ("module", "optimizer")}
    rest["accumulation"] = None  # its gradients are sharded: in the DCP part, read back from there
    rest.update(format=state_lib.FORMAT, sharded={**layout, "world_size": dist.get_world_size()})
    target = Path(filepath)
    partial = target.parent / f".{target.name}.partial"
    main = model.is_main_process
    if main:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
    dist.barrier()
    dcp.save(tensors, checkpoint_id=str(partial))
    if main:
        atomic_torch_save(rest, partial / STATE_FILE)
    dist.barrier()  # every rank's shards are on disk
    if main:
        _swap_into_place(partial, target)
    dist.barrier()  # no rank goes on (and may read it) before it is in place


def _split(model: Any, state: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The sharded tensors for DCP, and what ``kerasish.pt`` records of them (the optimizer's param
    groups, its scalar and replicated state, which tensors are sharded and their dtypes)."""
    from torch.distributed.checkpoint.state_dict import get_model_state_dict, get_state_dict
    from torch.distributed.tensor import DTensor

    module, optimizer = model.module, model.optimizer
    tensors: dict[str, Any] = {}
    layout: dict[str, Any] = {"optimizer_groups": None, "optimizer_plain": {}, "optimizer_sharded": {},
                              "accumulation": None}
    if optimizer is not None and optimizer.state:  # an empty state would make torch take a step
        tensors["model"], saved = get_state_dict(module, optimizer)
        osd: dict[str, Any] = dict(saved)
        tensors["optimizer"] = {}
        for name, entry in osd["state"].items():
            sharded = {k: v for k, v in entry.items() if isinstance(v, DTensor)}
            tensors["optimizer"][name] = sharded
            layout["optimizer_sharded"][name] = {k: str(v.dtype) for k, v in sharded.items()}
            layout["optimizer_plain"][name] = {k: v for k, v in entry.items() if k not in sharded}
        layout["optimizer_groups"] = osd["param_groups"]
    else:
        tensors["model"] = get_model_state_dict(module)
        if optimizer is not None:
            layout["optimizer_groups"] = _named_groups(module, optimizer)
    window = state.get("accumulation")
    if window:
        grads = {str(i): g for i, g in enumerate(window["grads"]) if g is not None}
        tensors["accumulation"] = grads
        layout["accumulation"] = {"window": window["window"], "count": len(window["grads"]),
                                  "saved": sorted(int(i) for i in grads)}
    return tensors, layout


def _named_groups(module: torch.nn.Module, optimizer: torch.optim.Optimizer) -> list[dict[str, Any]]:
    """The optimizer's param groups with parameter names in place of ids (as torch's
    ``get_state_dict`` gives them)."""
    names = iter(fsdp_lib.fqn_names(module, optimizer))
    return [{**{k: v for k, v in group.items() if k != "params"},
             "params": [next(names) for _ in group["params"]]} for group in optimizer.param_groups]


def _swap_into_place(partial: Path, target: Path) -> None:
    """Rename the finished folder to ``target``; the one it replaces is moved aside, then removed."""
    old = target.parent / f".{target.name}.old"
    if old.is_dir():
        shutil.rmtree(old)
    elif old.exists():
        old.unlink()
    if target.exists():
        os.replace(target, old)
    os.replace(partial, target)
    if old.is_dir():
        shutil.rmtree(old)
    elif old.exists():
        old.unlink()
    fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove(path: str | os.PathLike) -> None:
    """Delete a checkpoint folder (or file), if it is there."""
    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.exists(path):
        os.unlink(path)


# ---------------------------------------------------------------------------- reading

def read(filepath: str | os.PathLike, model: Any) -> dict[str, Any]:
    """The training state in the folder, in ``kerasish.state``'s one-file form, with the module's
    and optimizer's tensors read into copies laid out as ``model``'s (shards of a sharded model,
    whole tensors for a one-process one).

    Every rank of a sharded model calls it together. Nothing in ``model`` changes.

    Raises:
        ValueError: the folder is damaged, or its tensors do not fit ``model``'s module or
            optimizer (naming the folder).
    """
    import torch.distributed.checkpoint as dcp

    rest = state_lib.read(os.path.join(filepath, STATE_FILE))
    layout = rest.pop("sharded", None)
    if not isinstance(layout, Mapping):
        raise state_lib.malformed(filepath, "'sharded'", "is missing")
    module, optimizer = model.module, model.optimizer
    templates: dict[str, Any] = {"model": {k: torch.empty_like(v) if isinstance(v, torch.Tensor) else v
                                           for k, v in module.state_dict().items()}}
    named = dict(module.named_parameters())
    groups = layout.get("optimizer_groups") if optimizer is not None else None
    if groups is not None:
        templates["optimizer"] = _optimizer_templates(layout, named, filepath)
    window = layout.get("accumulation")
    params = [p for p in module.parameters() if p.requires_grad]  # as the engine takes them
    if window and len(params) == window["count"]:
        templates["accumulation"] = {str(i): torch.empty_like(params[i]) for i in window["saved"]}
    try:
        dcp.load(templates, checkpoint_id=os.fspath(filepath))
    except Exception as error:  # DCP raises several types for missing keys and other shapes
        raise ValueError(
            f"{os.fspath(filepath)!r} does not fit this model ({type(error).__name__}: "
            f"{str(error)[:300]}). Load it into the same architecture and optimizer it was saved "
            "from."
        ) from error
    state = {**rest, "module": templates["model"]}
    if groups is not None:
        _check_order(groups, fsdp_lib.fqn_names(module, optimizer), filepath)
        state["optimizer"] = _indexed_optimizer_state(layout, templates["optimizer"], filepath)
    if window:
        grads = templates.get("accumulation", {})
        state["accumulation"] = {"window": window["window"],
                                 "grads": [grads.get(str(i)) for i in range(window["count"])]}
    return state


def _optimizer_templates(layout: Mapping[str, Any], named: Mapping[str, torch.Tensor],
                         filepath: str | os.PathLike) -> dict[str, dict[str, torch.Tensor]]:
    """Empty tensors, shaped and laid out like each named parameter, for the sharded optimizer
    state to be read into."""
    templates = {}
    for name, keys in layout["optimizer_sharded"].items():
        if name not in named:
            raise ValueError(
                f"{os.fspath(filepath)!r} holds optimizer state for parameter {name!r}, which this "
                "module does not have. Load it into the same architecture it was saved from."
            )
        param = named[name]
        templates[name] = {key: torch.empty_like(param, dtype=getattr(torch, dtype.split(".")[-1]))
                           for key, dtype in keys.items()}
    return templates


def _check_order(groups: Any, names: list[str], filepath: str | os.PathLike) -> None:
    """The saved optimizer's parameters, by name, are this optimizer's, in its order (torch loads
    optimizer state by position)."""
    saved = [name for group in groups for name in group["params"]]
    if len(saved) == len(names) and saved != names:
        raise ValueError(
            f"{os.fspath(filepath)!r} holds optimizer state for the parameters {saved[:6]}..., in "
            f"another order than this optimizer's {names[:6]}...: build the optimizer on the "
            "module's parameters in the order of the run that wrote it."
        )


def _indexed_optimizer_state(layout: Mapping[str, Any], loaded: Mapping[str, Mapping[str, Any]],
                             filepath: str | os.PathLike) -> dict[str, Any]:
    """The optimizer state in torch's own form (parameters by position), as
    ``optimizer.load_state_dict`` and ``kerasish.state``'s checks take it."""
    groups, state, index = [], {}, 0
    for group in layout["optimizer_groups"]:
        ids = []
        for name in group["params"]:
            entry = {**layout["optimizer_plain"].get(name, {}), **loaded.get(name, {})}
            if entry:
                state[index] = entry
            ids.append(index)
            index += 1
        groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
    return {"state": state, "param_groups": groups}
