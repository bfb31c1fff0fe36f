"""``KerasCallback``: a ``keras.callbacks.Callback`` object driven by kerasish's loop.

Keras's callbacks talk to the model through what ``ks.Model`` also has (``stop_training``,
``get_weights``/``set_weights``, ``optimizer``, ``params``) and receive dict logs, so a Keras
callback object (``keras.callbacks.EarlyStopping``, ``CSVLogger``, ``TerminateOnNaN``,
``LambdaCallback``, one of your own) ported with a model runs as it is: ``fit`` wraps it in this
adapter. Only the hooks the Keras callback overrides are listened to, so it costs what it would
cost in Keras and nothing for the others.
"""

from __future__ import annotations

from typing import Any

from kerasish._keras_interop import keras_for
from kerasish.callbacks.base import HOOKS, Callback

# Keras's on_batch_begin/end are aliases its train-batch hooks call.
_KERAS_ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


def is_keras_callback(obj: Any) -> bool:
    """Whether ``obj`` is a ``keras.callbacks.Callback`` (Keras 3, already imported by the user)."""
    keras = keras_for(obj)
    return keras is not None and isinstance(obj, keras.callbacks.Callback)


class KerasCallback(Callback):
    """A Keras 3 callback object, forwarded every hook it overrides (``fit`` wraps one for you).

    Keras's own ``ModelCheckpoint`` and ``BackupAndRestore`` write ``.keras`` files through Keras's
    saving: use ``ks.callbacks.ModelCheckpoint`` and ``ks.callbacks.BackupAndRestore`` instead.

    Args:
        callback: the ``keras.callbacks.Callback`` object.

    Example:
        model.fit(x, y, epochs=20, callbacks=[keras.callbacks.EarlyStopping(monitor="loss")])
    """

    def __init__(self, callback: Any):
        super().__init__()
        keras = keras_for(callback)
        if keras is None or not isinstance(callback, keras.callbacks.Callback):
            raise TypeError(f"KerasCallback takes a keras.callbacks.Callback; got "
                            f"{type(callback).__name__}.")
        self.callback = callback
        base = keras.callbacks.Callback

        def overridden(name: str) -> bool:  # by its class, or set on it (keras.callbacks.LambdaCallback)
            return name in vars(callback) or getattr(type(callback), name) is not getattr(base, name)

        for hook in HOOKS:
            alias = _KERAS_ALIASES.get(hook)
            if overridden(hook) or (alias is not None and overridden(alias)):
                setattr(self, hook, getattr(callback, hook))  # the bound method: no extra frame

    def set_model(self, model: Any) -> None:
        """Give the model to this adapter and to the Keras callback (as ``callback.model``).

        Args:
            model: the ``ks.Model`` being trained.
        """
        super().set_model(model)
        self.callback.set_model(model)

    def set_params(self, params: dict[str, Any]) -> None:
        """Give the run's parameters to this adapter and to the Keras callback.

        Args:
            params: ``{"verbose", "epochs", "steps", ...}``.
        """
        super().set_params(params)
        self.callback.set_params(params)
