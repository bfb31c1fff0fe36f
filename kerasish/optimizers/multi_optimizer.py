"""Keras's ``MultiOptimizer`` and ``OptimizerMap``: each parameter updated by the optimizer its
path selects, behind one torch-optimizer-like object for ``fit``.

A Keras variable has a path (``"dense_1/kernel"``); a torch parameter has a qualified name in its
module (``"dense_1.weight"``). kerasish's path of a parameter is its qualified name with ``"."``
replaced by ``"/"`` (``"dense_1/weight"``, ``"encoder/0/bias"``), so Keras's patterns
(``"^dense_1/.*"``, ``"encoder/.*"``) select the same submodules unchanged (an unescaped ``"."``
in a torch-style pattern such as ``"dense_1.weight"`` still matches, ``"."`` matching any
character). Names come from ``(name, parameter)`` pairs, what ``compile`` gives (torch qualified
names, a Keras model's variable paths) and ``module.named_parameters()`` gives to ``build``; bare
parameters are named by the optional ``module=`` given to ``MultiOptimizer``.

``MultiOptimizer.build`` builds one torch optimizer per ``ks.optimizers`` object that got
parameters, and returns a ``TorchMultiOptimizer`` over them: ``step`` steps each (each with its own
rule, clipping, weight decay and schedule, as Keras's sub-optimizers), ``param_groups`` is the
concatenation of theirs (the same dicts), ``state_dict``/``load_state_dict`` round-trip all of
them in torch's form (state files and ``BackupAndRestore`` resume exactly).

As Keras's: the MultiOptimizer's ``loss_scale_factor`` overrides its sub-optimizers' (set at
construction and whenever it is set, so a ``LossScaleOptimizer`` around it clears theirs too);
``apply`` hands each sub-optimizer its gradients (each unscales by its own factor and updates its
own ``use_ema`` moving average); ``finalize_variable_values`` finalises each sub-optimizer's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any, NamedTuple

import torch

from kerasish.checks import check_number
from kerasish.optimizers.base import Optimizer, auto_name
from kerasish.optimizers.keras_api import variables_to_apply
from kerasish.optimizers.loss_scale import LossScaleOptimizer
from kerasish.optimizers.moving_average import moving_averages


class ParameterPath(NamedTuple):
    """What an ``OptimizerMap`` or a selector function is called with: Keras's ``variable.path``
    and the parameter.

    Args:
        path: the qualified name with ``"/"`` for ``"."`` (``"dense_1/weight"``).
        parameter: the tensor.
    """

    path: str
    parameter: torch.Tensor


def keras_path(name: str) -> str:
    """A torch qualified name as a Keras path: ``"dense_1.weight"`` -> ``"dense_1/weight"``."""
    return name.replace(".", "/")


def _check_inner(optimizer: Any, message_loss_scale: str, message_multi: str) -> None:
    if isinstance(optimizer, LossScaleOptimizer):
        raise ValueError(message_loss_scale)
    if isinstance(optimizer, MultiOptimizer):
        raise ValueError(message_multi)
    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"optimizer must be a ks.optimizers Optimizer instance. Received: {optimizer!r}")


class OptimizerMap(MutableMapping[str, Optimizer]):
    """Regex patterns on parameter paths -> optimizers, with a default for the rest (Keras's).

    A key matches a path exactly, or else as a ``re.fullmatch`` pattern; a path two patterns
    match is a ``ValueError`` (Keras's conflict detection).

    Args:
        default_optimizer: the ``ks.optimizers`` object for every path no key matches.
        optimizer_map: ``{pattern: optimizer}`` to start with.

    Example:
        opt_map = ks.optimizers.OptimizerMap(ks.optimizers.SGD(0.1), {"^encoder/.*": ks.optimizers.Adam()})
    """

    def __init__(self, default_optimizer: Optimizer, optimizer_map: dict[str, Optimizer] | None = None):
        if not isinstance(default_optimizer, Optimizer):
            raise TypeError(f"default_optimizer must be a ks.optimizers Optimizer instance. "
                            f"Received: {default_optimizer!r}")
        if optimizer_map is not None and not isinstance(optimizer_map, dict):
            raise TypeError(f"optimizer_map must be a dictionary. Received: {optimizer_map!r}")
        self._default_optimizer = default_optimizer
        self._optimizer_map: dict[str, Optimizer] = dict(optimizer_map or {})

    @property
    def default_optimizer(self) -> Optimizer:
        """The optimizer of the paths no key matches."""
        return self._default_optimizer

    def __getitem__(self, key: str) -> Optimizer:
        if key in self._optimizer_map:
            return self._optimizer_map[key]
        matching = [p for p in self._optimizer_map if re.fullmatch(p, key)]
        if len(matching) > 1:
            raise ValueError(f"Multiple optimizers assigned to variable {key} (patterns {matching}).")
        return self._optimizer_map[matching[0]] if matching else self._default_optimizer

    def __setitem__(self, key: str, optimizer: Optimizer) -> None:
        if key in self._optimizer_map:
            raise ValueError(f"'{key}' already exists in the OptimizerMap with value "
                             f"{self._optimizer_map[key]}. Please make sure to not use duplicated keys.")
        if not isinstance(key, str):
            raise ValueError(f"key must be a string. Received: {key!r}")
        _check_inner(optimizer, "optimizer cannot be LossScaleOptimizer.",
                     "optimizer cannot be MultiOptimizer.")
        self._optimizer_map[key] = optimizer

    def __delitem__(self, key: str) -> None:
        del self._optimizer_map[key]

    def __len__(self) -> int:
        return len(self._optimizer_map)

    def __iter__(self) -> Iterator[str]:
        return iter(self._optimizer_map)

    def __call__(self, variable: ParameterPath) -> Optimizer:
        return self[variable.path]

    def get_config(self) -> dict[str, Any]:
        """The default optimizer and the map, each optimizer as ``{"class_name", "config"}``."""
        return {"default_optimizer": _serialize(self._default_optimizer),
                "optimizer_map": {k: _serialize(v) for k, v in self._optimizer_map.items()}}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> OptimizerMap:
        """The map ``get_config()`` described.

        Args:
            config: what ``get_config()`` returned.
        """
        return cls(_deserialize(config["default_optimizer"]),
                   {k: _deserialize(v) for k, v in config["optimizer_map"].items()})


def _serialize(optimizer: Optimizer) -> dict[str, Any]:
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def _deserialize(config: Mapping[str, Any]) -> Optimizer:
    from kerasish.optimizers.resolve import KERAS_OPTIMIZERS

    return KERAS_OPTIMIZERS[config["class_name"]].from_config(config["config"])


class TorchMultiOptimizer(torch.optim.Optimizer):
    """Several torch optimizers behind one: what ``MultiOptimizer.build`` returns.

    Args:
        parts: the torch optimizers, one per ``ks.optimizers`` object with parameters.
        names: their optimizers' names (Keras's ``opt.name``).
    """

    def __init__(self, parts: Sequence[torch.optim.Optimizer], names: Sequence[str]):
        self.parts: list[torch.optim.Optimizer] = []
        super().__init__([{"params": []}], {})
        self.parts, self.names = list(parts), list(names)
        self.iterations = 0  # Keras's MultiOptimizer.iterations: steps of the whole
        self.param_groups = [group for part in self.parts for group in part.param_groups]

    @property
    def optimizers(self) -> list[torch.optim.Optimizer]:
        """The torch optimizers, in the order of ``names``."""
        return self.parts

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """A new parameter (unfrozen after compile) joins the first part, with its settings."""
        if not self.parts:  # torch's __init__ adding its placeholder group
            super().add_param_group(param_group)
            return
        self.parts[0].add_param_group(param_group)
        self.param_groups = [group for part in self.parts for group in part.param_groups]

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> None:  # type: ignore[override]
        """Step every part (each runs its own hooks: clipping, decay, schedule)."""
        if closure is not None:
            raise ValueError("TorchMultiOptimizer.step takes no closure.")
        for part in self.parts:
            part.step()
        self.iterations += 1

    @property
    def moving_average(self) -> Any:
        """A part's ``use_ema`` moving average (``None`` when no part keeps one), as a torch
        optimizer ``ks.optimizers`` built has; each part keeps its own."""
        return next((m for m in (getattr(p, "moving_average", None) for p in self.parts) if m is not None),
                    None)

    @property
    def learning_rate(self) -> float:
        """Refused, as Keras's MultiOptimizer: the sub-optimizers have rates of their own."""
        raise AttributeError("Learning rate cannot be accessed on a MultiOptimizer. Access the learning "
                             "rate on the individual sub-optimizers instead (model.optimizer.optimizers).")

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        raise AttributeError("Learning rate cannot be set on a MultiOptimizer. Set the learning rate on "
                             "the individual sub-optimizers instead (model.optimizer.optimizers).")

    def state_dict(self) -> dict[str, Any]:
        """The parts' states in one torch-form state dict (parameters numbered across the parts,
        groups in order), with the whole's ``iterations``."""
        state: dict[int, Any] = {}
        groups: list[dict[str, Any]] = []
        offset = 0
        for part in self.parts:
            saved = part.state_dict()
            state.update({index + offset: value for index, value in saved["state"].items()})
            groups += [{**g, "params": [i + offset for i in g["params"]]} for g in saved["param_groups"]]
            offset += sum(len(g["params"]) for g in saved["param_groups"])
        return {"state": state, "param_groups": groups, "iterations": self.iterations}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Take back ``state_dict()``: each part its own groups and states."""
        groups = list(state_dict["param_groups"])
        if len(groups) != len(self.param_groups):
            raise ValueError(f"the state holds {len(groups)} parameter groups, this MultiOptimizer "
                             f"{len(self.param_groups)}.")
        offset = 0
        for part in self.parts:
            own, groups = groups[:len(part.param_groups)], groups[len(part.param_groups):]
            count = sum(len(g["params"]) for g in own)
            state = {i - offset: v for i, v in state_dict["state"].items() if offset <= i < offset + count}
            renumbered = [{**g, "params": [i - offset for i in g["params"]]} for g in own]
            part.load_state_dict({"state": state, "param_groups": renumbered})
            offset += count
        self.param_groups = [group for part in self.parts for group in part.param_groups]
        self.iterations = int(state_dict.get("iterations", 0))


class MultiOptimizer(Optimizer):
    """Keras's ``MultiOptimizer``: each parameter updated by the optimizer its path selects.

    Args:
        optimizer_map: an ``OptimizerMap``, or a function ``ParameterPath -> ks.optimizers object``
            (it reads ``variable.path``, as a Keras selector does).
        loss_scale_factor: overrides every sub-optimizer's (``None`` clears theirs, as Keras):
            ``scale_loss`` multiplies a loss by it and ``apply`` divides the gradients by it;
            ``compile`` refuses it (``compile(precision="mixed_float16")`` scales the loss in ``fit``).
        name: a name, as Keras.
        module: kerasish's own, optional: the module whose ``named_parameters()`` name bare
            parameters given to ``build``/``apply``. Not needed for ``compile``, which gives the
            parameters with their names (torch qualified names, a Keras model's variable paths),
            nor for ``build(module.named_parameters())``.

    Example:
        opt = ks.optimizers.MultiOptimizer(ks.optimizers.OptimizerMap(
            ks.optimizers.SGD(0.1), {"^encoder/.*": ks.optimizers.Adam(1e-3)}))
        ks.Model(net).compile(optimizer=opt, loss="mse")
    """

    def __init__(self, optimizer_map: OptimizerMap | Callable[[ParameterPath], Optimizer],
                 loss_scale_factor: float | None = None, name: str | None = None, *,
                 module: torch.nn.Module | None = None):
        check_number(loss_scale_factor, "loss_scale_factor", low=0.0, open_low=True, allow_none=True)
        self._optimizer_map = optimizer_map
        self.module = module
        self.name = name or auto_name("multi_optimizer")
        self.weight_decay = self.clipnorm = self.clipvalue = self.global_clipnorm = None
        self.gradient_accumulation_steps = None
        self.use_ema = False  # Keras's MultiOptimizer has none of its own: its sub-optimizers may
        self._inner: list[Optimizer] = []
        for opt in list(getattr(optimizer_map, "values", list)()) + \
                [getattr(optimizer_map, "default_optimizer", None)]:
            if opt is not None and all(opt is not known for known in self._inner):
                self._inner.append(opt)
        self.loss_scale_factor = loss_scale_factor  # the sub-optimizers' too
        self._built: TorchMultiOptimizer | None = None
        self._built_on: list[torch.Tensor] = []
        self._route: dict[int, int] = {}  # id(parameter) -> index in optimizers

    @property
    def loss_scale_factor(self) -> float | None:
        """The factor ``scale_loss`` and ``apply`` use; setting it sets every sub-optimizer's (Keras's)."""
        return self._loss_scale_factor

    @loss_scale_factor.setter
    def loss_scale_factor(self, value: float | None) -> None:
        self._loss_scale_factor = value
        for opt in self._inner:
            opt.loss_scale_factor = value

    @property
    def learning_rate(self) -> float:
        """Refused, as Keras: the sub-optimizers have rates of their own (``optimizers``)."""
        raise AttributeError("Learning rate cannot be accessed on a MultiOptimizer. "
                             "Access the learning rate on the individual sub-optimizers instead.")

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        raise AttributeError("Learning rate cannot be set on a MultiOptimizer. "
                             "Set the learning rate on the individual sub-optimizers instead.")

    @property
    def optimizers(self) -> list[Optimizer]:
        """The sub-optimizers: the map's, then the default, then any a selector returned."""
        return self._inner

    def optimizer_index(self, parameter: torch.Tensor) -> int:
        """Which of ``optimizers`` updates this parameter (after ``build``).

        Args:
            parameter: one of the parameters ``build`` was given.
        """
        return self._route[id(parameter)]

    def _named(self, parameters: Iterable[Any]) -> list[tuple[str, torch.Tensor]]:
        names = {id(p): n for n, p in self.module.named_parameters()} if self.module is not None else {}
        named = []
        for item in parameters:
            if isinstance(item, dict):
                raise TypeError("MultiOptimizer.build takes parameters or (name, parameter) pairs, "
                                "not param groups: the map makes the groups.")
            name, parameter = item if isinstance(item, tuple) else (names.get(id(item)), item)
            if name is None:
                raise TypeError("MultiOptimizer routes parameters by name: give build (name, parameter) "
                                "pairs (module.named_parameters()) or MultiOptimizer(..., module=net).")
            named.append((name, parameter))
        return named

    def build(self, parameters: Iterable[Any]) -> TorchMultiOptimizer:
        """One torch optimizer per sub-optimizer that gets parameters, behind a ``TorchMultiOptimizer``
        (what ``compile`` calls; ``loss_scale_factor`` is refused here, as every optimizer's is).

        Args:
            parameters: ``(name, parameter)`` pairs, or parameters of ``module``.
        """
        scaled = [o.name for o in self._inner if o.loss_scale_factor is not None]
        if self.loss_scale_factor is not None or scaled:
            raise ValueError(f"loss_scale_factor is set ({[self.name, *scaled]}) and is for apply; in fit, "
                             "compile(..., precision='mixed_float16') scales the loss (and unscales the "
                             "gradients) for you. Leave loss_scale_factor out of the optimizer given to "
                             "compile.")
        return self.ensure_built(parameters, rebuild=True)

    __call__ = build

    def ensure_built(self, variables: Iterable[Any], rebuild: bool = False) -> TorchMultiOptimizer:
        """Keras's ``build``: route the variables and build the sub-optimizers on theirs, unless
        built already (what ``apply`` and ``LossScaleOptimizer.build`` call).

        Args:
            variables: ``(name, parameter)`` pairs, or parameters of ``module``.
            rebuild: build anew even if built.
        """
        if self._built is not None and not rebuild:
            return self._built
        named = self._named(variables)
        groups: dict[int, list[tuple[str, torch.Tensor]]] = {}
        self._route = {}
        for name, parameter in named:
            opt = self._optimizer_map(ParameterPath(keras_path(name), parameter))
            _check_inner(opt, "LossScaleOptimizer cannot be used inside an MultiOptimizer.",
                         "MultiOptimizer cannot be used inside an MultiOptimizer.")
            if opt.gradient_accumulation_steps:
                raise ValueError(f"{opt.name} has gradient_accumulation_steps inside a MultiOptimizer; "
                                 "use compile(..., gradient_accumulation_steps=n) instead.")
            if all(opt is not known for known in self._inner):
                opt.loss_scale_factor = self.loss_scale_factor  # as Keras, for one a selector made
                self._inner.append(opt)
            index = next(i for i, known in enumerate(self._inner) if known is opt)
            self._route[id(parameter)] = index
            groups.setdefault(index, []).append((name, parameter))
        used = sorted(groups)
        parts = [self._inner[i].ensure_built(groups[i], rebuild=True) for i in used]
        self._built = TorchMultiOptimizer(parts, [self._inner[i].name for i in used])
        self._built_on = [p for _, p in named]
        return self._built

    @property
    def torch_optimizer(self) -> TorchMultiOptimizer | None:
        """The ``TorchMultiOptimizer`` the last ``build`` (or first ``apply``) made."""
        return self._built

    @property
    def iterations(self) -> int:
        """Steps of the whole (Keras's ``MultiOptimizer.iterations``)."""
        return 0 if self._built is None else self._built.iterations

    def sub_iterations(self) -> list[int]:
        """Each sub-optimizer's steps, in the order of ``optimizers`` (0 for one without parameters)."""
        counts = {name: int(part.param_groups[0].get("iterations", 0))
                  for part, name in zip(self._built.parts, self._built.names)} if self._built else {}
        return [counts.get(opt.name, 0) for opt in self._inner]

    @property
    def variables(self) -> list[torch.Tensor]:
        """``iterations`` and Keras's unused learning rate of the whole (0.0), then each
        sub-optimizer's ``variables`` (Keras's order)."""
        own = [torch.tensor(self.iterations), torch.tensor(0.0)]
        return own + [v for opt in self._inner for v in opt.variables]

    def apply(self, grads: Sequence[Any],
              trainable_variables: Sequence[torch.Tensor | tuple[str, torch.Tensor]] | None = None) -> None:
        """One update: each sub-optimizer ``apply``s its variables' gradients (unscaled by its
        ``loss_scale_factor``, its moving average updated), then ``iterations`` counts one (Keras's).

        Args:
            grads: one gradient per variable.
            trainable_variables: the variables (left out: those ``build`` was given).
        """
        if len(grads) == 0:
            return
        trainable_variables = variables_to_apply(trainable_variables, self._built is not None, self._built_on)
        built = self.ensure_built(trainable_variables)
        if len(grads) != len(self._route):
            raise ValueError("Gradients must match trainable variables one-to-one. "
                             f"Received {len(grads)} gradients and {len(self._route)} variables.")
        per: list[list[tuple[Any, Any]]] = [[] for _ in self._inner]
        for grad, variable in zip(grads, trainable_variables):
            tensor = variable[1] if isinstance(variable, tuple) else variable
            if id(tensor) not in self._route:
                raise ValueError("apply got a variable this MultiOptimizer was not built on; give the "
                                 "variables build was given.")
            per[self._route[id(tensor)]].append((grad, variable))
        for opt, pairs in zip(self._inner, per):
            if pairs:
                opt.apply([g for g, _ in pairs], [v for _, v in pairs])
        built.iterations += 1

    @property
    def moving_averages(self) -> list[torch.Tensor | None]:
        """Each built-on weight's moving average, kept by its sub-optimizer (``None`` where that one
        has no ``use_ema``, or before the weight's first step)."""
        return [moving_averages(self._inner[self._route[id(p)]].torch_optimizer, [p])[0]
                for p in self._built_on]

    def finalize_variable_values(self, var_list: Iterable[torch.Tensor] | None = None) -> None:
        """Each sub-optimizer's ``finalize_variable_values``: the weights of those with ``use_ema``
        become their moving averages (Keras's).

        Args:
            var_list: accepted for Keras's signature; the weights are those ``build`` was given.
        """
        for opt in self._inner:
            if opt.torch_optimizer is not None:
                opt.finalize_variable_values()

    def exclude_from_weight_decay(self, var_list: Sequence[torch.Tensor] | None = None,
                                  var_names: Sequence[str] | None = None) -> None:
        """Refused here: call it on the sub-optimizer whose parameters it concerns."""
        raise ValueError("Call exclude_from_weight_decay on the sub-optimizers of a MultiOptimizer.")

    def get_config(self) -> dict[str, Any]:
        """Keras's config: the map (an ``OptimizerMap``'s config), ``loss_scale_factor`` and ``name``."""
        if not isinstance(self._optimizer_map, OptimizerMap):
            raise TypeError("A MultiOptimizer with a selector function has no config (Keras cannot "
                            "serialise a function either); use an OptimizerMap.")
        return {"optimizer_map": self._optimizer_map.get_config(),
                "loss_scale_factor": self.loss_scale_factor, "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MultiOptimizer:
        """The MultiOptimizer ``get_config()`` described."""
        return cls(OptimizerMap.from_config(config["optimizer_map"]),
                   loss_scale_factor=config.get("loss_scale_factor"), name=config.get("name"))

    def __repr__(self) -> str:
        return f"ks.optimizers.MultiOptimizer({[o.name for o in self._inner]})"
