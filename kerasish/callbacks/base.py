"""``Callback`` (Keras's hooks) and ``CallbackList``, the dispatcher the loop talks to.

The loop knows nothing about which callbacks exist: it calls ``CallbackList``, which forwards each
hook only to the callbacks that override it. The per-hook lists are built once per fit, so a hook
nobody overrides costs one empty-list check, and batch logs are not even built for it.
"""

from __future__ import annotations

import functools
from typing import Any

HOOKS = (
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
    "on_train_batch_begin", "on_train_batch_end",
    "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
    "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end",
)

# Keras's on_batch_begin/end are aliases of the train-batch hooks: overriding either one counts.
_ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


class Callback:
    """Base class of all callbacks, with Keras's hooks as no-ops.

    Override the hooks you need; ``self.model`` is the ``ks.Model`` being trained and
    ``self.params`` is ``{"verbose": ..., "epochs": ..., "steps": ...}``. Talk back to training
    through the model only (``model.stop_training``, ``model.learning_rate``, weights).

    Example:
        class PrintLoss(ks.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                print(epoch, logs["loss"])
    """

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict[str, Any] = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_batch_begin(self, batch, logs=None): ...
    def on_batch_end(self, batch, logs=None): ...

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...


def overrides(callback: Callback, hook: str) -> bool:
    """Whether ``callback`` does something on ``hook`` (a subclass method or an instance attribute)."""
    names = (hook, _ALIASES[hook]) if hook in _ALIASES else (hook,)
    for name in names:
        if name in vars(callback):
            return True
        if getattr(type(callback), name, None) is not getattr(Callback, name):
            return True
    return False


class CallbackList:
    """Dispatches hooks to the callbacks that override them, sharing one logs object per call.

    ``wants(hook)`` lets the loop skip building logs for hooks nobody listens to.
    """

    def __init__(self, callbacks: list[Callback], model: Any = None, params: dict | None = None):
        self.callbacks = list(callbacks)
        if model is not None:
            for cb in self.callbacks:
                cb.set_model(model)
        if params is not None:
            for cb in self.callbacks:
                cb.set_params(params)
        self._listeners = {
            hook: [getattr(cb, hook) for cb in self.callbacks if overrides(cb, hook)]
            for hook in HOOKS
        }
        # cbs.on_epoch_end(epoch, logs) reads like Keras; a partial (no closure made per call)
        # keeps the per-batch dispatch cheap.
        for hook in HOOKS:
            setattr(self, hook, functools.partial(self.call, hook))

    def wants(self, hook: str) -> bool:
        return bool(self._listeners[hook])

    def call(self, hook: str, *args: Any) -> None:
        for listener in self._listeners[hook]:
            listener(*args)

    def __iter__(self):
        return iter(self.callbacks)
