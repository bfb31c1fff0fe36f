"""Saved optimizer states of an older form, brought to the form the optimizer now loads.

Before Keras names built Keras's rules, ``compile("sgd")``, ``"rmsprop"``, ``"adagrad"`` and
``"adamax"`` built torch's SGD, RMSprop, Adagrad and Adamax (with Keras's defaults), and every
name built an optimizer whose param groups had no ``"iterations"`` (the step count the Keras
rules keep). A state file saved then must still load into a model compiled with the same name:
``upgrade_saved_state`` rewrites such a state (torch's settings and moments under the Keras
rule's names, the step count from torch's per-parameter ``"step"``), and the optimizers kerasish
builds call it from their ``load_state_dict``.

A Keras rule names the torch optimizer it replaced, and how that one's state maps onto its own,
in its class attribute ``torch_form`` (a ``TorchForm``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import torch

# Every torch optimizer's param groups carry this setting; the Keras rules' never do.
_TORCH_MARK = "foreach"


class TorchForm(NamedTuple):
    """How a torch optimizer's saved state maps onto a Keras rule's.

    Args:
        torch_name: the torch class's name (what a state file records as its optimizer).
        settings: torch's group setting -> the rule's (``{"alpha": "rho"}``); the rule's other
            settings keep their values.
        state: torch's per-parameter state -> the rule's (``{"square_avg": "velocity"}``).
        lr_scaled: torch's per-parameter state -> ``(the rule's name, factor)``, stored as
            ``factor * lr * torch's`` (torch's momentum buffers leave out the learning rate the
            Keras rules fold in).
        neutral: torch settings the rule has no counterpart for, with the value that makes
            torch's rule the Keras one; a state with another value is refused.
        step_setting: the rule's group setting that holds a step count (``KerasAdamax``'s
            ``"step"``), or ``None``.

    Example:
        TorchForm("Adagrad", {"lr": "lr", "eps": "eps"}, {"sum": "accumulator"})
    """

    torch_name: str
    settings: Mapping[str, str]
    state: Mapping[str, str]
    lr_scaled: Mapping[str, tuple[str, float]] = {}
    neutral: Mapping[str, Any] = {"weight_decay": 0, "maximize": False}
    step_setting: str | None = None


class UpgradedState(NamedTuple):
    """A saved optimizer state as the optimizer loads it, and the class it stands for now.

    Args:
        state: the state dict ``load_state_dict`` takes.
        saved_type: the class name the state now belongs to (the optimizer's own, for a torch
            state of the class its rule replaced), or the one it was saved with.
    """

    state: Mapping[str, Any]
    saved_type: str | None


def upgrade_saved_state(optimizer: torch.optim.Optimizer, saved: Mapping[str, Any],
                        saved_type: str | None = None) -> UpgradedState:
    """``saved`` in the form ``optimizer`` loads, if it is an older form kerasish wrote.

    A state saved by the torch optimizer a Keras rule replaced (``torch.optim.RMSprop`` for
    ``KerasRMSprop``, ...) gets the rule's settings and moments; a group without
    ``"iterations"`` gets the count torch's per-parameter ``"step"`` holds. Anything else comes
    back as it is; so does every state for an optimizer kerasish did not build.

    Args:
        optimizer: the optimizer the state is to go into.
        saved: a well-formed ``optimizer.state_dict()``, as read from a file.
        saved_type: the class name the file records the state's optimizer under, if any.

    Returns:
        The state to load and the class name it now stands for.

    Raises:
        ValueError: a torch state whose settings the Keras rule cannot follow (torch's coupled
            ``weight_decay``, ``maximize``, ...).

    Example:
        state, saved_type = upgrade_saved_state(model.optimizer, torch.load("old.pt")["optimizer"])
    """
    if not getattr(optimizer, "upgrades_saved_states", False):
        return UpgradedState(saved, saved_type)
    form: TorchForm | None = getattr(type(optimizer), "torch_form", None)
    groups = [dict(g) for g in saved["param_groups"]]
    state = {index: dict(value) for index, value in saved["state"].items()}
    # (Another number of groups is left for torch, or kerasish's state checks, to refuse.)
    if form is not None and groups and len(groups) == len(optimizer.param_groups) and \
            all(_TORCH_MARK in g and set(form.settings) <= set(g) for g in groups):
        _check_neutral(form, groups)
        groups, state = _from_torch(form, optimizer.param_groups, groups, state)
        if saved_type == form.torch_name:
            saved_type = type(optimizer).__name__
    for group in groups:
        if "iterations" not in group:
            group["iterations"] = _steps(group, state)
    return UpgradedState({**saved, "param_groups": groups, "state": state}, saved_type)


def _check_neutral(form: TorchForm, groups: list[dict[str, Any]]) -> None:
    for i, group in enumerate(groups):
        for setting, value in form.neutral.items():
            if setting in group and group[setting] != value:
                raise ValueError(
                    f"the saved torch {form.torch_name} has {setting}={group[setting]!r} in group {i}, "
                    f"which Keras's rule has no counterpart for (it needs {setting}={value!r}). Compile "
                    f"with torch.optim.{form.torch_name} itself to continue this state."
                )


def _from_torch(form: TorchForm, live: list[dict[str, Any]], groups: list[dict[str, Any]],
                state: dict[Any, dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[Any, dict[str, Any]]]:
    """Torch's groups and per-parameter state under the rule's names (the live groups' settings
    where torch's have no counterpart)."""
    upgraded_groups, upgraded_state = [], {}
    for group, current in zip(groups, live):
        upgraded = {k: v for k, v in current.items() if k not in ("params", "iterations")}
        upgraded.update({ours: group[theirs] for theirs, ours in form.settings.items()})
        upgraded["params"] = group["params"]
        if form.step_setting is not None:
            upgraded[form.step_setting] = _steps(group, state)
        lr = float(group["lr"])
        for index in group["params"]:
            if index not in state:
                continue
            saved = state[index]
            mine = {ours: saved[theirs] for theirs, ours in form.state.items() if theirs in saved}
            for theirs, (ours, factor) in form.lr_scaled.items():
                if isinstance(saved.get(theirs), torch.Tensor):
                    mine[ours] = saved[theirs] * (factor * lr)
            upgraded_state[index] = mine
        upgraded["iterations"] = _steps(group, state)
        upgraded_groups.append(upgraded)
    return upgraded_groups, upgraded_state


def _steps(group: Mapping[str, Any], state: Mapping[Any, Mapping[str, Any]]) -> int:
    """The most steps any of the group's parameters took, from torch's per-parameter ``"step"``
    (a one-off host read at load time), or 0."""
    counts = [state[i]["step"] for i in group["params"] if i in state and "step" in state[i]]
    return max((int(float(c)) for c in counts), default=0)
