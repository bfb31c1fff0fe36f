"""Recognising Keras 3 objects and turning them into kerasish's: private to the library.

Losses, metrics and optimizers accept Keras objects; these helpers say whether an object comes
from Keras, refuse Keras objects that cannot compute on torch tensors, and name the kerasish
equivalent in error messages. They never import keras themselves.
"""

from __future__ import annotations

import inspect
import sys
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
