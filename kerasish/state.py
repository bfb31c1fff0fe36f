"""One training-state format, written by ``Model.save`` and ``BackupAndRestore`` alike.

A state file holds everything a run needs to continue: module weights, optimizer and gradient
scaler state, where training stands (epoch, batches done in it, optimizer steps), the seed of the
shuffle order, the random-number states, and the state of each callback of the running fit that
keeps some (``Callback.state_dict()``). So a backup loads with ``load_weights``, and a file from
``Model.save`` can seed a resume (copy it into a ``BackupAndRestore`` folder as ``backup.pt``).

Loading checks everything it can before it changes anything: a file that does not match the module
or the optimizer is refused with a ``ValueError`` and leaves the model as it was.

This module is the file format only: it writes and reads what an owner of a training state (a
``ks.Model``, through the ``TrainingStateOwner`` protocol) gives and takes, and never looks inside
the owner.

Files of the earlier formats (``kerasish.full.v1`` from ``Model.save``, ``kerasish.backup.v1`` from
``BackupAndRestore``) still load; they are converted when read.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from kerasish.io import atomic_torch_save, verify_zip

if TYPE_CHECKING:
    from kerasish.callbacks.base import Callback

__all__ = ["FORMAT", "TrainingStateOwner", "capture", "load_into", "read", "resume", "save"]

FORMAT = "kerasish.state.v2"
_LEGACY_FULL = "kerasish.full.v1"
_LEGACY_BACKUP = "kerasish.backup.v1"




class TrainingStateOwner(Protocol):
    """What this module saves and loads: ``ks.Model`` is one.

    ``training_state_dict`` returns the state (without ``"format"``, which this module adds);
    ``load_training_state`` checks a state against the owner, then takes it (with ``resume``, also
    the random states and the position the next ``fit`` continues from).
    """

    @property
    def is_main_process(self) -> bool:
        """Whether this process writes the file (rank 0 under torchrun)."""
        ...

    def training_state_dict(self, all_ranks: bool = False) -> dict[str, Any]:
        """The state to save.

        Args:
            all_ranks: gather every rank's random states, data position and metric states.
        """
        ...

    def load_training_state(self, state: Mapping[str, Any], filepath: str | os.PathLike,
                            resume: bool = False) -> None:
        """Check ``state`` against the owner, then take it.

        Args:
            state: what ``read`` returned.
            filepath: the file it came from, named in error messages.
            resume: also take the random states and the position the next ``fit`` starts from.
        """
        ...


# ---------------------------------------------------------------------------- writing

def capture(model: TrainingStateOwner) -> dict[str, Any]:
    """The whole training state of ``model`` as a ``torch.save``-able dict (tensors, numbers, strings).

    Inside ``fit`` it records where training stands and the state of the fit's callbacks; outside,
    the same keys with the position training stopped at.

    Args:
        model: the ``ks.Model`` (any ``TrainingStateOwner``).

    Returns:
        The state dict, in the current ``FORMAT``.

    Example:
        state = kerasish.state.capture(model)
    """
    return {"format": FORMAT, **model.training_state_dict()}


def save(model: TrainingStateOwner, filepath: str | os.PathLike, all_ranks: bool = False) -> None:
    """Write ``capture(model)`` atomically: the file appears whole or not at all.

    Args:
        model: the ``ks.Model`` (any ``TrainingStateOwner``).
        filepath: where to write (any suffix; folders are created).
        all_ranks: under torchrun, every rank calls this together: each rank's random states and
            data position are gathered into the file (rank 0 writes it), so that each rank
            resumes with its own. Without it the caller's states are saved (what ``model.save``
            does on whichever rank calls it).

    Example:
        kerasish.state.save(model, "run/state.pt")   # what model.save does
    """
    state = {"format": FORMAT, **model.training_state_dict(all_ranks=all_ranks)}
    if "ranks" in state and not model.is_main_process:
        return
    atomic_torch_save(state, filepath)


def callback_states(callbacks: Iterable[Callback]) -> dict[str, Any]:
    """``{key: callback.state_dict()}`` for the callbacks that keep state, keyed by class and rank."""
    states = {}
    for key, callback in keyed(callbacks).items():
        state = callback.state_dict()
        if state:
            states[key] = state
    return states


def metric_states(metrics: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """The running state of each metric (its tensor and number attributes), keyed by position.

    Saved with a mid-epoch state so that a resumed epoch's running means, and so its logs, are
    those of an uninterrupted run.
    """
    states = {}
    for i, metric in enumerate(metrics):
        values = {k: v for k, v in vars(metric).items()
                  if v is None or isinstance(v, (torch.Tensor, int, float)) and not isinstance(v, bool)}
        states[f"{i}:{metric.name}"] = values
    return states


def load_metric_states(metrics: Iterable[Any], states: Mapping[str, Mapping[str, Any]],
                       device: torch.device) -> None:
    """Put back what ``metric_states`` saved, on ``device`` (unknown keys are skipped)."""
    for i, metric in enumerate(metrics):
        for attribute, value in states.get(f"{i}:{metric.name}", {}).items():
            if isinstance(value, torch.Tensor):
                value = value.to(device)
            setattr(metric, attribute, value)


def keyed(callbacks: Iterable[Callback]) -> dict[str, Callback]:
    """Callbacks keyed ``"<ClassName>#<n>"``: the n-th of its class, stable when others are added."""
    seen: Counter[str] = Counter()
    found = {}
    for callback in callbacks:
        name = type(callback).__name__
        found[f"{name}#{seen[name]}"] = callback
        seen[name] += 1
    return found


# ---------------------------------------------------------------------------- reading

def read(filepath: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Load a state file (any kerasish format, or a bare ``state_dict``) as a current-format dict.

    A bare ``state_dict`` (from ``save_weights`` or plain ``torch.save``) comes back with
    ``format=None`` and only ``module`` set.

    Args:
        filepath: the file.
        map_location: where tensors are loaded (``torch.load``'s argument).

    Returns:
        The state as a dict in the current format.

    Raises:
        FileNotFoundError: no file at ``filepath``.
        ValueError: the file is damaged or holds something else.
    """
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"no such file: {os.fspath(filepath)!r}")
    verify_zip(filepath)  # before torch.load, which trusts the bytes
    try:
        state = torch.load(filepath, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:  # torch raises several types for a damaged or foreign file
        raise ValueError(
            f"could not read {os.fspath(filepath)!r}: the file is corrupt or not a torch checkpoint "
            f"({type(error).__name__}: {str(error)[:200]})."
        ) from error
    if not isinstance(state, Mapping):
        raise ValueError(
            f"{os.fspath(filepath)!r} does not hold a state_dict (found {type(state).__name__})."
        )
    kind = state.get("format")
    if kind == FORMAT:
        return dict(state)
    if kind == _LEGACY_FULL:
        return {"format": FORMAT, "module": state["module"], "optimizer": state.get("optimizer"),
                "scaler": state.get("scaler"), "epoch": int(state.get("epoch", 0)),
                "step_in_epoch": 0, "compile": state.get("compile", {})}
    if kind == _LEGACY_BACKUP:
        # v1 keyed callback states "<position among stateful callbacks>:<ClassName>".
        seen: Counter[str] = Counter()
        callbacks = {}
        for key, value in (state.get("callbacks") or {}).items():
            name = key.split(":", 1)[-1]
            callbacks[f"{name}#{seen[name]}"] = value
            seen[name] += 1
        return {"format": FORMAT, "module": state["module"], "optimizer": state.get("optimizer"),
                "scaler": state.get("scaler"), "epoch": int(state["epoch"]),
                "step_in_epoch": int(state["steps_done"]), "data_seed": int(state["data_seed"]),
                "rng": state["rng"], "callbacks": callbacks}
    if isinstance(kind, str) and kind.startswith("kerasish."):
        raise ValueError(
            f"{os.fspath(filepath)!r} was written by a newer kerasish (format {kind!r}); upgrade "
            "kerasish to load it."
        )
    return {"format": None, "module": state}


def load_into(model: TrainingStateOwner, state: Mapping[str, Any], filepath: str | os.PathLike) -> None:
    """Load weights, and for a full state the optimizer, scaler and epoch, into ``model``.

    Everything is checked first; a mismatch raises ``ValueError`` and changes nothing.

    Args:
        model: the ``ks.Model`` to load into (any ``TrainingStateOwner``).
        state: what ``read`` returned.
        filepath: the file it came from, named in error messages.

    Raises:
        ValueError: the module or the optimizer does not match the file.
    """
    model.load_training_state(state, filepath)


def resume(model: TrainingStateOwner, state: Mapping[str, Any], filepath: str | os.PathLike) -> None:
    """Make the next (or the starting) ``fit`` continue exactly where ``state`` was captured.

    Loads the weights, optimizer and scaler, restores the random states and the shuffle seed, and
    sets the point ``fit`` starts from (epoch and batch); callback states are handed back by
    ``fit`` after every ``on_train_begin`` has run. Called by ``BackupAndRestore`` from
    ``on_train_begin``; any callback may do the same.

    Args:
        model: the ``ks.Model`` about to train (any ``TrainingStateOwner``).
        state: what ``read`` returned (a full state, not bare weights).
        filepath: the file it came from, named in error messages.

    Raises:
        ValueError: bare weights, or a state that does not match the model.

    Example:
        class ResumeFrom(ks.callbacks.Callback):
            def on_train_begin(self, logs=None):
                kerasish.state.resume(self.model, kerasish.state.read("run/state.pt"), "run/state.pt")
    """
    if state.get("format") is None:
        raise ValueError(
            f"{os.fspath(filepath)!r} holds weights only; resuming needs a file written by "
            "model.save() or BackupAndRestore."
        )
    model.load_training_state(state, filepath, resume=True)


def check_module_matches(module: torch.nn.Module, weights: Mapping, filepath: str | os.PathLike) -> None:
    """Raise a ``ValueError`` listing missing, unexpected and mis-shaped keys, if any."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    shapes = [
        f"{k}: file {tuple(weights[k].shape)} vs module {tuple(v.shape)}"
        for k, v in expected.items()
        if k in weights and hasattr(weights[k], "shape") and tuple(weights[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys {missing[:10]}")
        if unexpected:
            parts.append(f"unexpected keys {unexpected[:10]}")
        if shapes:
            parts.append(f"shape mismatches {shapes[:10]}")
        raise ValueError(
            f"{os.fspath(filepath)!r} does not match this module: "
            + "; ".join(parts)
            + ". Load it into the same architecture it was saved from."
        )


def check_optimizer_matches(optimizer: torch.optim.Optimizer, saved: Mapping[str, Any],
                            filepath: str | os.PathLike) -> None:
    """Refuse an optimizer state of another kind or shape before torch half-loads it."""
    groups, saved_groups = optimizer.param_groups, saved.get("param_groups", [])
    problem = None
    if len(groups) != len(saved_groups):
        problem = f"{len(saved_groups)} parameter groups in the file, {len(groups)} here"
    else:
        for i, (group, saved_group) in enumerate(zip(groups, saved_groups)):
            if len(group["params"]) != len(saved_group["params"]):
                problem = (f"group {i} holds {len(saved_group['params'])} parameters in the file, "
                           f"{len(group['params'])} here")
                break
            missing = sorted(set(group) - set(saved_group) - {"params"})
            if missing:
                problem = (f"the file's optimizer has no setting {missing[:5]} that "
                           f"{type(optimizer).__name__} needs (saved by another optimizer type?)")
                break
    if problem:
        raise ValueError(
            f"the optimizer state in {os.fspath(filepath)!r} does not fit "
            f"{type(optimizer).__name__}: {problem}. Compile with the optimizer the file was saved "
            "with, or load the weights before compile()."
        )


# ---------------------------------------------------------------------------- random states

def rng_states() -> dict[str, Any]:
    """Python, NumPy, torch CPU and CUDA random states, as tensors and numbers only."""
    numpy_state = np.random.get_state(legacy=False)
    return {
        "python": random.getstate(),
        "numpy": {
            "bit_generator": numpy_state["bit_generator"],
            "key": torch.from_numpy(numpy_state["state"]["key"].astype(np.int64)),
            "pos": int(numpy_state["state"]["pos"]),
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_states(states: Mapping[str, Any]) -> None:
    """Restore what ``rng_states`` returned."""
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    numpy_state = states["numpy"]
    np.random.set_state({
        "bit_generator": numpy_state["bit_generator"],
        "state": {"key": numpy_state["key"].numpy().astype(np.uint32), "pos": numpy_state["pos"]},
        "has_gauss": numpy_state["has_gauss"],
        "gauss": numpy_state["gauss"],
    })
    torch.set_rng_state(states["torch"].cpu())
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"][: torch.cuda.device_count()])
