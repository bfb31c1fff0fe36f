"""One training-state format, written by ``Model.save`` and ``BackupAndRestore`` alike.

A state file holds everything a run needs to continue: module weights, optimizer and gradient
scaler state, the state of every other optimizer and LR scheduler the model holds as an attribute
(a custom ``train_step``'s own, under ``"owned"``, by attribute name), where training stands
(epoch, batches done in it, optimizer steps), the seed of the shuffle order, the random-number
states, and the state of each callback of the running fit that keeps some
(``Callback.state_dict()``). So a backup loads with ``load_weights``, and a file from
``Model.save`` can seed a resume (copy it into a ``BackupAndRestore`` folder as ``backup.pt``).

Loading checks everything first (``check_state``), then changes anything: a file that does not
match the module or the optimizers, or one with a malformed part (a non-tensor weight, a
non-numeric epoch, garbage optimizer state), is refused with a ``ValueError`` naming the file and
the part, and leaves the model as it was.

This module is the file format only: it writes and reads what an owner of a training state (a
``ks.Model``, through the ``TrainingStateOwner`` protocol) gives and takes, and never looks inside
the owner.

Files of the earlier formats (``kerasish.full.v1`` from ``Model.save``, ``kerasish.backup.v1`` from
``BackupAndRestore``) still load; they are converted when read. A file written before the
``"owned"`` key existed loads too (the other optimizers keep their state).
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from kerasish.io import atomic_torch_save, verify_zip
from kerasish.metrics.base import Metric
from kerasish.optimizers.saved_state import upgrade_saved_state

if TYPE_CHECKING:
    from kerasish.callbacks.base import Callback

__all__ = ["FORMAT", "TrainingStateOwner", "capture", "load_into", "read", "resume", "save"]

FORMAT = "kerasish.state.v2"
_LEGACY_FULL = "kerasish.full.v1"
_LEGACY_BACKUP = "kerasish.backup.v1"

# Param-group settings that select an optimizer's algorithm (not a hyperparameter that a loaded
# state may bring): torch's Adam and AdamW share every key and differ in decoupled_weight_decay.
_ALGORITHM_SETTINGS = ("decoupled_weight_decay", "amsgrad", "nesterov", "centered", "maximize")


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
    return {f"{i}:{metric.name}": metric.running_state() if isinstance(metric, Metric) else {}
            for i, metric in enumerate(metrics)}  # another library's metric (a subclass lists it): nothing


def load_metric_states(metrics: Iterable[Any], states: Mapping[str, Mapping[str, Any]],
                       device: torch.device) -> None:
    """Put back what ``metric_states`` saved, on ``device`` (unknown keys are skipped)."""
    for i, metric in enumerate(metrics):
        if isinstance(metric, Metric):
            metric.load_running_state(dict(states.get(f"{i}:{metric.name}", {})), device)


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
        return {"format": FORMAT, "module": _required(state, "module", filepath),
                "optimizer": state.get("optimizer"), "scaler": state.get("scaler"),
                "epoch": state.get("epoch", 0), "step_in_epoch": 0, "compile": state.get("compile", {})}
    if kind == _LEGACY_BACKUP:
        return _from_legacy_backup(state, filepath)
    if isinstance(kind, str) and kind.startswith("kerasish."):
        raise ValueError(
            f"{os.fspath(filepath)!r} was written by a newer kerasish (format {kind!r}); upgrade "
            "kerasish to load it."
        )
    return {"format": None, "module": state}


def _from_legacy_backup(state: Mapping[str, Any], filepath: str | os.PathLike) -> dict[str, Any]:
    """A ``kerasish.backup.v1`` file in the current format (its values are checked on loading)."""
    # v1 keyed callback states "<position among stateful callbacks>:<ClassName>".
    seen: Counter[str] = Counter()
    callbacks = {}
    saved_callbacks = state.get("callbacks") or {}
    if not isinstance(saved_callbacks, Mapping):
        raise malformed(filepath, "'callbacks'", f"must be a dict, found {describe(saved_callbacks)}")
    for key, value in saved_callbacks.items():
        name = str(key).split(":", 1)[-1]
        callbacks[f"{name}#{seen[name]}"] = value
        seen[name] += 1
    return {"format": FORMAT, "module": _required(state, "module", filepath),
            "optimizer": state.get("optimizer"), "scaler": state.get("scaler"),
            "epoch": _required(state, "epoch", filepath),
            "step_in_epoch": _required(state, "steps_done", filepath),
            "data_seed": _required(state, "data_seed", filepath),
            "rng": _required(state, "rng", filepath), "callbacks": callbacks}


def _required(state: Mapping[str, Any], key: str, filepath: str | os.PathLike) -> Any:
    if key not in state:
        raise malformed(filepath, repr(key), "is missing")
    return state[key]


def load_into(model: TrainingStateOwner, state: Mapping[str, Any], filepath: str | os.PathLike) -> None:
    """Load weights, and for a full state the optimizers, scaler and epoch, into ``model``.

    Everything is checked first; a mismatch or a malformed part raises ``ValueError`` and changes
    nothing.

    Args:
        model: the ``ks.Model`` to load into (any ``TrainingStateOwner``).
        state: what ``read`` returned.
        filepath: the file it came from, named in error messages.

    Raises:
        ValueError: the module or an optimizer does not match the file, or a part is malformed.
    """
    model.load_training_state(state, filepath)


def resume(model: TrainingStateOwner, state: Mapping[str, Any], filepath: str | os.PathLike) -> None:
    """Make the next (or the starting) ``fit`` continue exactly where ``state`` was captured.

    Loads the weights, optimizers and scaler, restores the random states and the shuffle seed, and
    sets the point ``fit`` starts from (epoch and batch); callback states are handed back by
    ``fit`` after every ``on_train_begin`` has run. Called by ``BackupAndRestore`` from
    ``on_train_begin``; any callback may do the same.

    Args:
        model: the ``ks.Model`` about to train (any ``TrainingStateOwner``).
        state: what ``read`` returned (a full state, not bare weights).
        filepath: the file it came from, named in error messages.

    Raises:
        ValueError: bare weights, a state that does not match the model, or a malformed part.

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


# ---------------------------------------------------------------------------- checking

def check_state(state: Mapping[str, Any], module: torch.nn.Module, optimizer: torch.optim.Optimizer | None,
                filepath: str | os.PathLike, resume: bool = False) -> None:
    """Refuse, before anything changes, a state that would not load whole into its owner.

    This checks the weights, the optimizer, the scaler, the step count, the form of the compile
    settings and of the other optimizers' entries, and for a resume the random states; the owner
    checks alongside what only it knows the form of (its run position, an accumulation window, the
    optimizers it holds as attributes).

    Args:
        state: what ``read`` returned (for a resume, with this rank's part merged: ``for_rank``).
        module: the module the weights go into.
        optimizer: the compiled optimizer (``None`` before ``compile``).
        filepath: the file it came from, named in error messages.
        resume: also check the random states.

    Raises:
        ValueError: naming the file and the part that does not fit or is malformed.
    """
    check_module_matches(module, _required(state, "module", filepath), filepath)
    if state.get("format") is None:
        return  # bare weights
    check_count(state, "optimizer_steps", filepath)
    for key in ("scaler", "compile", "owned"):
        check_dict(state.get(key), repr(key), filepath, values_too=key == "owned")
    _check_scaler(state.get("scaler"), filepath)
    saved_type = (state.get("compile") or {}).get("optimizer")
    if saved_type is not None and not isinstance(saved_type, str):
        raise malformed(filepath, "'compile'['optimizer']",
                        f"must be a class name, found {describe(saved_type)}")
    if optimizer is not None and state.get("optimizer") is not None:
        check_optimizer_matches(optimizer, state["optimizer"], filepath, saved_type=saved_type)
    if resume and state.get("rng") is not None:
        check_rng_states(state["rng"], filepath)


def for_rank(state: Mapping[str, Any], rank: int, world_size: int,
             filepath: str | os.PathLike) -> Mapping[str, Any]:
    """``state`` with rank ``rank``'s random states, data position and metric states merged in.

    Args:
        state: what ``read`` returned; an all-ranks save holds each rank's part under ``"ranks"``.
        rank: this process's rank.
        world_size: the number of ranks.
        filepath: the file it came from, named in error messages.

    Returns:
        The merged state (``state`` itself without ``"ranks"`` or for another world size).
    """
    ranks = state.get("ranks")
    if ranks is None:
        return state
    if not isinstance(ranks, (list, tuple)) or not all(isinstance(r, Mapping) for r in ranks):
        raise malformed(filepath, "'ranks'",
                        f"must be a list of dicts, one per rank, found {describe(ranks)}")
    if len(ranks) != world_size:
        return state
    return {**state, **ranks[rank]}


def check_module_matches(module: torch.nn.Module, weights: Any, filepath: str | os.PathLike) -> None:
    """Raise a ``ValueError`` listing missing, unexpected, non-tensor and mis-shaped keys, if any."""
    if not isinstance(weights, Mapping):
        raise malformed(filepath, "'module'", f"must be a state_dict, found {describe(weights)}")
    expected = module.state_dict()
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    # A module's ``_extra_state`` entries may be any object; its tensors must be tensors.
    tensors = [k for k, v in expected.items() if k in weights and isinstance(v, torch.Tensor)]
    not_tensors = [f"{k} ({type(weights[k]).__name__})" for k in tensors
                   if not isinstance(weights[k], torch.Tensor)]
    shapes = [
        f"{k}: file {tuple(weights[k].shape)} vs module {tuple(expected[k].shape)}"
        for k in tensors
        if isinstance(weights[k], torch.Tensor) and tuple(weights[k].shape) != tuple(expected[k].shape)
    ]
    if missing or unexpected or not_tensors or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys {missing[:10]}")
        if unexpected:
            parts.append(f"unexpected keys {unexpected[:10]}")
        if not_tensors:
            parts.append(f"entries that are not tensors {not_tensors[:10]}")
        if shapes:
            parts.append(f"shape mismatches {shapes[:10]}")
        raise ValueError(
            f"{os.fspath(filepath)!r} does not match this module: "
            + "; ".join(parts)
            + ". Load it into the same architecture it was saved from."
        )


def check_optimizer_matches(optimizer: torch.optim.Optimizer, saved: Any, filepath: str | os.PathLike,
                            saved_type: str | None = None, key: str = "'optimizer'",
                            role: str = "this model's optimizer") -> None:
    """Refuse an optimizer state of another form, kind or shape before torch half-loads it.

    Args:
        optimizer: the optimizer the state would go into.
        saved: the saved ``optimizer.state_dict()``.
        filepath: the file it came from, named in error messages.
        saved_type: the class name of the optimizer that saved it, when the file records it.
        key: where ``saved`` sits in the file, named when it is malformed.
        role: what ``optimizer`` is, for the message.
    """
    _check_optimizer_form(saved, key, filepath)
    try:  # a state saved in torch's form by an earlier kerasish, for a rule now Keras's own
        saved, saved_type = upgrade_saved_state(optimizer, saved, saved_type)
    except ValueError as error:
        raise ValueError(f"the optimizer state in {os.fspath(filepath)!r} does not fit {role} "
                         f"({type(optimizer).__name__}): {error}") from None
    name = type(optimizer).__name__
    problem = _optimizer_fit_problem(optimizer.param_groups, saved["param_groups"], name, saved_type)
    if problem:
        saved_as = f" ({saved_type})" if saved_type else ""
        raise ValueError(
            f"the optimizer state in {os.fspath(filepath)!r} does not fit {role} ({name}): {problem}. "
            f"Use the optimizer type the file was saved with{saved_as}, or load the weights before "
            "creating the optimizer (before compile()) to start it fresh."
        )


def _check_optimizer_form(saved: Any, key: str, filepath: str | os.PathLike) -> None:
    """Refuse a ``saved`` (at ``key`` in the file) that is not an ``optimizer.state_dict()``."""
    if not isinstance(saved, Mapping):
        raise malformed(filepath, key, f"must be an optimizer state_dict, found {describe(saved)}")
    groups, per_param = saved.get("param_groups"), saved.get("state")
    if not isinstance(groups, (list, tuple)):
        raise malformed(filepath, f"{key}['param_groups']",
                        f"must be a list of dicts, found {describe(groups)}")
    ids: set[int] = set()
    for i, group in enumerate(groups):
        if not isinstance(group, Mapping):
            raise malformed(filepath, f"{key}['param_groups'][{i}]",
                            f"must be a dict, found {describe(group)}")
        params = group.get("params")
        if not isinstance(params, (list, tuple)) or not all(is_int(p) for p in params):
            raise malformed(filepath, f"{key}['param_groups'][{i}]['params']",
                            f"must be a list of ints, found {describe(params)}")
        ids.update(params)
    if not isinstance(per_param, Mapping):
        raise malformed(filepath, f"{key}['state']", f"must be a dict, found {describe(per_param)}")
    for index, value in per_param.items():
        if index not in ids or not isinstance(value, Mapping):
            raise malformed(filepath, f"{key}['state'][{index!r}]",
                            f"must be a dict for one of the groups' parameters, found {describe(value)}")


def _optimizer_fit_problem(groups: Sequence[Mapping[str, Any]], saved_groups: Sequence[Mapping[str, Any]],
                           name: str, saved_type: str | None) -> str | None:
    """How well-formed saved param groups do not fit ``groups``, or ``None``."""
    if len(groups) != len(saved_groups):
        return f"{len(saved_groups)} parameter groups in the file, {len(groups)} here"
    for i, (group, saved_group) in enumerate(zip(groups, saved_groups)):
        if len(group["params"]) != len(saved_group["params"]):
            return (f"group {i} holds {len(saved_group['params'])} parameters in the file, "
                    f"{len(group['params'])} here")
        missing = sorted(set(group) - set(saved_group) - {"params"})
        if missing:
            saved_by = f"it was saved by {saved_type}" if saved_type else "saved by another optimizer type?"
            return f"the file's optimizer has no setting {missing[:5]} that {name} needs ({saved_by})"
    if saved_type is not None and saved_type != name:
        return (f"the file was saved by {saved_type}; loading it would silently turn this {name} "
                f"into {saved_type}")
    for i, (group, saved_group) in enumerate(zip(groups, saved_groups)):
        for setting in _ALGORITHM_SETTINGS:
            if setting in group and setting in saved_group and saved_group[setting] != group[setting]:
                return (f"group {i} has {setting}={saved_group[setting]!r} in the file and "
                        f"{setting}={group[setting]!r} here (saved by another optimizer type or variant)")
    return None


def check_count(state: Mapping[str, Any], key: str, filepath: str | os.PathLike,
                optional: bool = False) -> None:
    """``state[key]``, when present, is a non-negative int (or, ``optional``, any int or ``None``)."""
    value: Any = state.get(key)
    if key not in state or (optional and value is None):
        return
    if not is_int(value) or (not optional and value < 0):
        kind = "an integer" if optional else "a non-negative integer"
        raise malformed(filepath, repr(key), f"must be {kind}, found {describe(value)}")


def check_dict(value: Any, key: str, filepath: str | os.PathLike, values_too: bool = False) -> None:
    """``value`` is ``None`` or a dict (with ``values_too``, of dicts)."""
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise malformed(filepath, key, f"must be a dict, found {describe(value)}")
    for name, entry in value.items() if values_too else ():
        if not isinstance(entry, Mapping):
            raise malformed(filepath, f"{key}[{name!r}]", f"must be a dict, found {describe(entry)}")


def _check_scaler(scaler: Any, filepath: str | os.PathLike) -> None:
    """A gradient scaler's state has every key and number an enabled ``GradScaler`` writes."""
    if not scaler:
        return  # none, or a disabled scaler's empty state
    expected = torch.amp.GradScaler("cpu").state_dict()
    missing = sorted(set(expected) - set(scaler))
    if missing:
        raise malformed(filepath, "'scaler'", f"lacks {missing}")
    for key in expected:
        if not _is_number(scaler[key]):
            raise malformed(filepath, f"'scaler'[{key!r}]",
                            f"must be a number, found {describe(scaler[key])}")


def malformed(filepath: str | os.PathLike, key: str, problem: str) -> ValueError:
    """The error for a malformed part ``key`` of the state in ``filepath``."""
    return ValueError(
        f"{os.fspath(filepath)!r} is malformed: {key} {problem}. Nothing was loaded; the file is "
        "damaged or was not written by kerasish (write it again with model.save(), or delete it)."
    )


def describe(value: Any) -> str:
    """``value`` in a few words, for a message (a tensor by its shape)."""
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def is_int(value: Any) -> bool:
    """Whether ``value`` is an ``int`` (a ``bool`` is not)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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
    random.setstate(_python_state(states))
    np.random.set_state(_numpy_state(states))
    torch.set_rng_state(states["torch"].cpu())
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"][: torch.cuda.device_count()])


def check_rng_states(states: Any, filepath: str | os.PathLike) -> None:
    """Each saved random state loads: tried on throwaway generators, so nothing global changes.

    Args:
        states: what ``rng_states`` returned, as saved.
        filepath: the file it came from, named in error messages.
    """
    if not isinstance(states, Mapping):
        raise malformed(filepath, "'rng'", f"must be a dict, found {describe(states)}")
    trials = {
        "python": lambda: random.Random().setstate(_python_state(states)),
        "numpy": lambda: np.random.RandomState(0).set_state(_numpy_state(states)),
        "torch": lambda: torch.Generator().set_state(states["torch"].cpu()),
        "cuda": lambda: _check_cuda_states(states["cuda"]),
    }
    for part, trial in trials.items():
        try:
            trial()
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, RuntimeError) as error:
            raise malformed(filepath, f"'rng'[{part!r}]", f"is not a valid random state "
                             f"({type(error).__name__}: {str(error)[:100]})") from error


def _python_state(states: Mapping[str, Any]) -> Any:
    version, internal, gauss = states["python"]
    return (version, tuple(internal), gauss)


def _numpy_state(states: Mapping[str, Any]) -> dict[str, Any]:
    numpy_state = states["numpy"]
    return {
        "bit_generator": numpy_state["bit_generator"],
        "state": {"key": numpy_state["key"].numpy().astype(np.uint32), "pos": numpy_state["pos"]},
        "has_gauss": numpy_state["has_gauss"],
        "gauss": numpy_state["gauss"],
    }


def _check_cuda_states(states: Any) -> None:
    if not isinstance(states, (list, tuple)) or not all(
            isinstance(s, torch.Tensor) and s.dtype == torch.uint8 for s in states):
        raise ValueError(f"must be a list of uint8 tensors, found {describe(states)}")
