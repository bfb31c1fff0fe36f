"""Keras's ``MultiOptimizer`` and ``OptimizerMap``: each parameter updated by the optimizer its
path selects, behind one torch-optimizer-like object for ``fit``.

A Keras variable has a path (``"dense_1/kernel"``); a torch parameter has a qualified name in its
module (``"dense_1.weight"``). kerasish's path of a parameter is its qualified name with ``"."``
replaced by ``"/"`` (``"dense_1/weight"``, ``"encoder/0/bias"``), so Keras's patterns
(``"^dense_1/.*"``, ``"encoder/.*"``) select the same submodules unchanged (an unescaped ``"."``
in a torch-style pattern such as ``"dense_1.weight"`` still matches, ``"."`` matching any
character). Names come from ``(name, parameter)`` pairs given to ``build`` (what
``module.named_parameters()`` gives) or, for bare parameters (what ``compile`` passes), from the
``module=`` given to ``MultiOptimizer``.

``MultiOptimizer.build`` builds one torch optimizer per ``ks.optimizers`` object that got
parameters, and returns a ``TorchMultiOptimizer`` over them: ``step`` steps each (each with its own
rule, clipping, weight decay and schedule, as Keras's sub-optimizers), ``param_groups`` is the
concatenation of theirs (the same dicts), ``state_dict``/``load_state_dict`` round-trip all of
them in torch's form (state files and ``BackupAndRestore`` resume exactly).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any, NamedTuple

import torch

from kerasish.optimizers.base import Optimizer, auto_name


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


def _check_inner(optimizer: Any, message_multi: str) -> None:
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
        _check_inner(optimizer, "optimizer cannot be MultiOptimizer.")
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
        loss_scale_factor: refused unless ``None`` (use ``compile(precision="mixed_float16")``).
        name: a name, as Keras.
        module: kerasish's own: the module whose ``named_parameters()`` name the bare parameters
            ``compile`` builds on (paths are its qualified names with ``"/"`` for ``"."``).

    Example:
        opt = ks.optimizers.MultiOptimizer(ks.optimizers.OptimizerMap(
            ks.optimizers.SGD(0.1), {"^encoder/.*": ks.optimizers.Adam(1e-3)}), module=net)
        ks.Model(net).compile(optimizer=opt, loss="mse")
    """

    def __init__(self, optimizer_map: OptimizerMap | Callable[[ParameterPath], Optimizer],
                 loss_scale_factor: float | None = None, name: str | None = None, *,
                 module: torch.nn.Module | None = None):
        if loss_scale_factor is not None:
            raise ValueError("loss_scale_factor is not supported; compile(precision='mixed_float16') "
                             "scales the loss (and unscales the gradients) for you.")
        self._optimizer_map = optimizer_map
        self.module = module
        self.name = name or auto_name("multi_optimizer")
        self.weight_decay = self.clipnorm = self.clipvalue = self.global_clipnorm = None
        self.gradient_accumulation_steps = None
        self._inner: list[Optimizer] = []
        for opt in list(getattr(optimizer_map, "values", list)()) + \
                [getattr(optimizer_map, "default_optimizer", None)]:
            if opt is not None and all(opt is not known for known in self._inner):
                self._inner.append(opt)
        self._built: TorchMultiOptimizer | None = None
        self._route: dict[int, int] = {}  # id(parameter) -> index in optimizers

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
        """One torch optimizer per sub-optimizer that gets parameters, behind a ``TorchMultiOptimizer``.

        Args:
            parameters: ``(name, parameter)`` pairs, or parameters of ``module``.
        """
        named = self._named(parameters)
        groups: dict[int, list[tuple[str, torch.Tensor]]] = {}
        self._route = {}
        for name, parameter in named:
            opt = self._optimizer_map(ParameterPath(keras_path(name), parameter))
            _check_inner(opt, "MultiOptimizer cannot be used inside an MultiOptimizer.")
            if opt.gradient_accumulation_steps:
                raise ValueError(f"{opt.name} has gradient_accumulation_steps inside a MultiOptimizer; "
                                 "use compile(..., gradient_accumulation_steps=n) instead.")
            if all(opt is not known for known in self._inner):
                self._inner.append(opt)
            index = next(i for i, known in enumerate(self._inner) if known is opt)
            self._route[id(parameter)] = index
            groups.setdefault(index, []).append((name, parameter))
        used = sorted(groups)
        self._built = TorchMultiOptimizer([self._inner[i].build(groups[i]) for i in used],
                                          [self._inner[i].name for i in used])
        return self._built

    __call__ = build

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

    def apply(self, grads: Sequence[Any],
              trainable_variables: Sequence[torch.Tensor | tuple[str, torch.Tensor]] | None = None) -> None:
        """One update: each gradient applied by its variable's sub-optimizer (Keras's ``apply``)."""
        if len(grads) == 0:
            return
        if trainable_variables is None:
            raise ValueError("MultiOptimizer.apply needs the variables: apply(grads, variables).")
        if self._built is None:
            self.build(trainable_variables)
        if len(grads) != len(self._route):
            raise ValueError("Gradients must match trainable variables one-to-one. "
                             f"Received {len(grads)} gradients and {len(self._route)} variables.")
        tensors = [v[1] if isinstance(v, tuple) else v for v in trainable_variables]
        assert self._built is not None
        self._built.zero_grad(set_to_none=True)
        for grad, variable in zip(grads, tensors):
            variable.grad = torch.as_tensor(grad, dtype=variable.dtype, device=variable.device).clone()
        self._built.step()
        for variable in tensors:
            variable.grad = None

    def exclude_from_weight_decay(self, var_list: Sequence[torch.Tensor] | None = None,
                                  var_names: Sequence[str] | None = None) -> None:
        """Refused here: call it on the sub-optimizer whose parameters it concerns."""
        raise ValueError("Call exclude_from_weight_decay on the sub-optimizers of a MultiOptimizer.")

    def get_config(self) -> dict[str, Any]:
        """Keras's config: the map (an ``OptimizerMap``'s config), ``loss_scale_factor`` and ``name``."""
        if not isinstance(self._optimizer_map, OptimizerMap):
            raise TypeError("A MultiOptimizer with a selector function has no config (Keras cannot "
                            "serialise a function either); use an OptimizerMap.")
        return {"optimizer_map": self._optimizer_map.get_config(), "loss_scale_factor": None,
                "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MultiOptimizer:
        """The MultiOptimizer ``get_config()`` described."""
        return cls(OptimizerMap.from_config(config["optimizer_map"]), name=config.get("name"))

    def __repr__(self) -> str:
        return f"ks.optimizers.MultiOptimizer({[o.name for o in self._inner]})"
