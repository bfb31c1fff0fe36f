"""``LambdaCallback``: a callback built from plain functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kerasish.callbacks.base import HOOKS, Callback

_HOOK_NAMES = set(HOOKS) | {"on_batch_begin", "on_batch_end"}


class LambdaCallback(Callback):
    """A callback whose hooks are the functions you pass.

    The hooks take Keras's arguments: ``on_epoch_begin(epoch, logs)``, ``on_epoch_end(epoch,
    logs)``, ``on_train_begin(logs)``, ``on_train_end(logs)``, ``on_train_batch_begin(batch,
    logs)``, ``on_train_batch_end(batch, logs)``. Any other hook (``on_test_end=...``) or
    attribute can be given as a keyword too.

    Args:
        on_epoch_begin, on_epoch_end, on_train_begin, on_train_end, on_train_batch_begin,
            on_train_batch_end: functions for those hooks.
        **kwargs: other hooks or attributes to set on the callback.

    Raises:
        TypeError: a hook given is not callable.

    Example:
        print_loss = ks.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))
        model.fit(x, y, epochs=3, callbacks=[print_loss])
    """

    def __init__(self, on_epoch_begin: Callable[..., object] | None = None,
                 on_epoch_end: Callable[..., object] | None = None,
                 on_train_begin: Callable[..., object] | None = None,
                 on_train_end: Callable[..., object] | None = None,
                 on_train_batch_begin: Callable[..., object] | None = None,
                 on_train_batch_end: Callable[..., object] | None = None, **kwargs: Any) -> None:
        super().__init__()
        hooks = {
            "on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin, "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin, "on_train_batch_end": on_train_batch_end,
        }
        hooks.update({k: v for k, v in kwargs.items() if k in _HOOK_NAMES})
        for name, fn in hooks.items():
            if fn is not None and not callable(fn):
                raise TypeError(
                    f"LambdaCallback: {name} must be a function; got {type(fn).__name__}. Pass "
                    f"e.g. {name}=lambda *args: print(args)."
                )
        # Instance attributes: the dispatcher sees them as overridden hooks.
        self.__dict__.update({k: v for k, v in kwargs.items() if k not in _HOOK_NAMES})
        self.__dict__.update({k: v for k, v in hooks.items() if v is not None})
