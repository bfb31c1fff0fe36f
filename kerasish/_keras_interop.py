"""Recognising Keras 3 objects and turning them into kerasish's: private to the library.

Losses, metrics and optimizers accept Keras objects; these helpers say whether an object comes
from Keras, refuse Keras objects that cannot compute on torch tensors, and name the kerasish
equivalent in error messages. They never import keras themselves.
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any


def is_keras_module(module: str | None) -> bool:
    # "kerasish" starts with "keras" too: compare whole package names.
    return module is not None and (module == "keras" or module.startswith("keras."))


def keras_for(obj: Any) -> Any:
    """The imported ``keras`` module when ``obj`` (object, class or function) comes from Keras 3.

    Never imports keras: an object of a Keras class can only exist once keras is imported, so
    ``sys.modules`` has it. Returns ``None`` for everything else (kerasish, torch, user code).
    """
    modules: list[str | None]
    if inspect.isclass(obj):
        modules = [cls.__module__ for cls in obj.__mro__]
    elif inspect.isfunction(obj) or inspect.ismethod(obj) or inspect.isbuiltin(obj):
        modules = [getattr(obj, "__module__", None)]
    else:
        modules = [cls.__module__ for cls in type(obj).__mro__]
    if not any(is_keras_module(m) for m in modules):
        return None
    return sys.modules.get("keras")


def ks_equivalent(spec: Any, namespace: dict[str, Any], base: type, registry: Any,
                   kind: str) -> tuple[str, str]:
    """The Keras object's name and what to use instead in kerasish: ``ks.<kind>s.<Name>`` when
    kerasish has that class, else its registered name, else a general pointer (``kind`` is
    ``"loss"`` or ``"metric"``)."""
    name = spec.__name__ if isinstance(spec, type) or inspect.isfunction(spec) else type(spec).__name__
    module = "losses" if kind == "loss" else "metrics"
    if isinstance(namespace.get(name), type) and issubclass(namespace[name], base):
        return name, f"ks.{module}.{name}"
    if name.lower() in registry:
        return name, f"the {kind} name {name.lower()!r}"
    return name, f"the matching ks.{module} class or {kind} name"


def keras_instance(spec: Any, keras: Any, keras_base: type, what: str, instead: str) -> Any:
    """A Keras loss or metric ready to wrap: refused off the torch backend; a Keras class becomes
    its default instance, as Keras's ``get`` makes it (``keras_base`` is the class it must extend).
    """
    require_torch_backend(keras, what, instead)
    if not isinstance(spec, type):
        return spec
    if not issubclass(spec, keras_base):
        raise TypeError(f"{what} is a Keras class but not a Keras {keras_base.__name__}; use {instead}.")
    return spec()


def keras_backend(keras: Any) -> str | None:
    try:
        return keras.backend.backend()
    except Exception:  # a half-imported or foreign keras: treat as not usable
        return None


def require_torch_backend(keras: Any, what: str, instead: str) -> None:
    """Refuse a Keras object that cannot compute on torch tensors (any backend but torch)."""
    backend = keras_backend(keras)
    if backend != "torch":
        raise TypeError(
            f"{what} is a Keras object on the {backend!r} backend, which cannot compute on "
            f"kerasish's torch tensors. Use {instead} instead, or set KERAS_BACKEND=torch before "
            "importing keras."
        )


_LAYER_KEY = re.compile(r"^(?P<prefix>[^/]*\.)(?P<layer>[^./]+)(?P<rest>/.+)$")
_AUTO_NAME = re.compile(r"^(?P<base>.+?)(?:_(?P<n>\d+))?$")


def match_layer_names(saved: Iterable[str], current: Iterable[str]) -> dict[str, str] | None:
    """Saved weight keys of a Keras model -> this model's keys, when only layer names differ.

    A Keras model's ``state_dict`` keys carry its layers' names (``_torch_params.dense_3/kernel``),
    and Keras numbers auto-generated names per process (``dense``, ``dense_1``, ...), so an
    identical model built later is called ``dense_7``. Keras's ``.weights.h5`` files load by the
    layers' order; here the layers of each kind (the name without its ``_<n>``) pair in the order
    Keras numbered them. Returns ``None`` when that does not make every key match (the caller
    reports the mismatch) and ``{}`` when the keys already match.
    """
    saved, current = list(saved), list(current)
    if set(saved) == set(current):
        return {}
    renames: dict[str, str] = {}
    saved_layers, current_layers = _layers_by_kind(saved), _layers_by_kind(current)
    if saved_layers is None or current_layers is None or saved_layers.keys() != current_layers.keys():
        return None
    for kind, names in saved_layers.items():
        if len(names) != len(current_layers[kind]):
            return None
        renames.update(zip(names, current_layers[kind]))
    mapping = {}
    for key in saved:
        found = _LAYER_KEY.match(key)
        assert found is not None  # _layers_by_kind parsed every key
        mapping[key] = found["prefix"] + renames[found["layer"]] + found["rest"]
    return mapping if sorted(mapping.values()) == sorted(current) else None


def _layers_by_kind(keys: list[str]) -> dict[str, list[str]] | None:
    """Layer names by kind, each list in Keras's numbering order (``dense``, ``dense_1``, ...)."""
    kinds: dict[str, list[tuple[int, str]]] = {}
    for key in keys:
        found = _LAYER_KEY.match(key)
        if found is None:
            return None
        name = found["layer"]
        auto = _AUTO_NAME.match(name)
        assert auto is not None  # the pattern matches any name
        entry = (-1 if auto["n"] is None else int(auto["n"]), name)
        if entry not in kinds.setdefault(auto["base"], []):
            kinds[auto["base"]].append(entry)
    return {kind: [name for _, name in sorted(names)] for kind, names in kinds.items()}


def keras_layer_names(weights: Mapping[str, Any], module: Any) -> Mapping[str, Any]:
    """``weights`` keyed by a Keras ``module``'s layer names when only Keras's numbering differs
    (``match_layer_names``); as they are otherwise."""
    renames = match_layer_names(weights, module.state_dict())
    if not renames:
        return weights
    return {renames[key]: value for key, value in weights.items()}


def check_overwrite(filepath: Any, overwrite: bool) -> None:
    """Keras's ``overwrite=False`` (where Keras asks on the console): refuse an existing file."""
    import os

    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{os.fspath(filepath)!r} exists and overwrite=False; pass "
                              "overwrite=True or another filepath.")
