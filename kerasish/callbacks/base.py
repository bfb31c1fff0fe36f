"""``Callback`` (Keras's hooks) and ``CallbackList``, the dispatcher the loop talks to.

The loop knows nothing about which callbacks exist: it calls ``CallbackList``, which forwards each
hook only to the callbacks that override it. The per-hook lists are built once per fit, so a hook
nobody overrides costs one empty-list check, and batch logs are not even built for it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

from kerasish.user_warnings import warn_user

HOOKS = (
    "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
    "on_train_batch_begin", "on_train_batch_end",
    "on_test_begin", "on_test_end", "on_test_batch_begin", "on_test_batch_end",
    "on_predict_begin", "on_predict_end", "on_predict_batch_begin", "on_predict_batch_end",
)

# Keras's on_batch_begin/end are aliases of the train-batch hooks: overriding either one counts.
_ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


_SAVE_POINTS = ("on_train_batch_end", "on_epoch_end")
_RESTORE_POINTS = ("on_train_begin",)


class Callback:
    """Base class of all callbacks, with Keras's hooks as no-ops.

    Override the hooks you need; ``self.model`` is the ``ks.Model`` being trained and
    ``self.params`` is ``{"verbose": ..., "epochs": ..., "steps": ...}``. Talk back to training
    through the model's public state only (``model.stop_training``, ``model.learning_rate``,
    ``model.epoch``, ``model.step_in_epoch``, ``model.optimizer_steps``, weights).

    Two additions to Keras's hooks:

    - ``state_dict()`` / ``load_state_dict(state)``: a callback that must survive a resume returns
      its state (tensors, numbers, strings, lists and dicts of them) and takes it back;
      ``BackupAndRestore`` saves it with the backup and hands it back before the resumed epoch
      starts. Both default to nothing.
    - ``on_exception(exception)``: called when ``fit``, ``evaluate`` or ``predict`` raises (any
      exception, KeyboardInterrupt included), before the exception propagates unchanged, so a
      callback can release what it holds (close a writer, finish a tracker run as failed).
      ``on_train_end`` is not called after an error.

    Attributes:
        rank_zero_only: ``True`` for callbacks that write files or print: under torchrun they run
            on rank 0 only.
        saves_training_state: ``True`` for callbacks that save and restore the training state
            (``BackupAndRestore``): their ``on_train_begin`` runs before every other callback's,
            so whatever the list order, the others start from the restored model (its weights,
            learning rate and ``optimizer_steps``); and they run after every other callback's
            ``on_train_batch_end`` and ``on_epoch_end``, so the callback states they save include
            that batch or epoch. Every other hook runs in list order, as in Keras.

    Example:
        class PrintLoss(ks.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                print(epoch, logs["loss"])
    """

    rank_zero_only: bool = False
    # A rank_zero_only callback that saves the model runs on every rank when the model is sharded
    # (FSDP): each rank writes its own shards.
    saves_sharded: bool = False
    saves_training_state: bool = False

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict[str, Any] = {}

    def set_model(self, model: Any) -> None:
        """Called by the loop before the first hook.

        Args:
            model: the ``ks.Model`` being trained, evaluated or run.
        """
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        """Called by the loop before the first hook.

        Args:
            params: ``{"verbose", "epochs", "steps", ...}`` of the running loop.
        """
        self.params = params

    def state_dict(self) -> dict[str, Any]:
        """The state to save with a backup; the default saves nothing.

        Returns:
            Tensors, numbers, strings, lists and dicts of them (saved with ``torch.save``).
        """
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back what ``state_dict`` returned; called before the resumed epoch begins.

        Args:
            state: what ``state_dict`` returned when the backup was written.
        """

    def on_exception(self, exception: BaseException) -> None:
        """``fit``/``evaluate``/``predict`` raised: release what this callback holds.

        Args:
            exception: the exception, which propagates unchanged afterwards.
        """

    def on_train_begin(self, logs=None):
        """Called once when ``fit`` starts, before the first epoch.

        Args:
            logs: an empty dict (Keras passes one too).
        """

    def on_train_end(self, logs=None):
        """Called once when ``fit`` ends normally (not after an error: see ``on_exception``).

        Args:
            logs: the last epoch's logs.
        """

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of each epoch.

        Args:
            epoch: the epoch index, 0-based.
            logs: an empty dict.
        """

    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of each epoch, after validation.

        Args:
            epoch: the epoch index, 0-based.
            logs: the epoch's logs (``loss``, metrics, ``val_*``), Python floats; callbacks may add
                keys.
        """

    def on_batch_begin(self, batch, logs=None):
        """Keras's alias of ``on_train_batch_begin``.

        Args:
            batch: the batch index within the epoch.
            logs: an empty dict.
        """

    def on_batch_end(self, batch, logs=None):
        """Keras's alias of ``on_train_batch_end``.

        Args:
            batch: the batch index within the epoch.
            logs: the running logs (read lazily from the device).
        """

    def on_train_batch_begin(self, batch, logs=None):
        """Called before each training batch.

        Args:
            batch: the batch index within the epoch.
            logs: an empty dict.
        """
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        """Called after each training batch.

        Args:
            batch: the batch index within the epoch.
            logs: the running means of the epoch so far (or a custom step's returned values),
                read from the device only when a value is looked at.
        """
        self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs=None):
        """Called when ``evaluate`` or a validation pass starts.

        Args:
            logs: an empty dict.
        """

    def on_test_end(self, logs=None):
        """Called when ``evaluate`` or a validation pass ends.

        Args:
            logs: its results (without the ``val_`` prefix).
        """

    def on_test_batch_begin(self, batch, logs=None):
        """Called before each evaluation batch.

        Args:
            batch: the batch index.
            logs: an empty dict.
        """

    def on_test_batch_end(self, batch, logs=None):
        """Called after each evaluation batch.

        Args:
            batch: the batch index.
            logs: the running results so far, read lazily.
        """

    def on_predict_begin(self, logs=None):
        """Called when ``predict`` starts.

        Args:
            logs: an empty dict.
        """

    def on_predict_end(self, logs=None):
        """Called when ``predict`` ends.

        Args:
            logs: an empty dict.
        """

    def on_predict_batch_begin(self, batch, logs=None):
        """Called before each prediction batch.

        Args:
            batch: the batch index.
            logs: an empty dict.
        """

    def on_predict_batch_end(self, batch, logs=None):
        """Called after each prediction batch.

        Args:
            batch: the batch index.
            logs: ``{"outputs": the batch's outputs}``.
        """


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

    The per-hook listener lists are built once, so a hook nobody overrides costs one empty loop;
    ``wants(hook)`` lets the loop skip building logs for hooks nobody listens to. Listeners run in
    list order, except that callbacks with ``saves_training_state`` run first at ``on_train_begin``
    (a resume is restored before any other callback reads the model) and last at batch and epoch
    ends. ``fit``, ``evaluate`` and ``predict`` build one per call; a loop of your own may too.
    Its hook methods (``on_train_begin`` ... ``on_predict_batch_end``) take the arguments of the
    ``Callback`` hooks of the same names and pass them on.

    Args:
        callbacks: the ``Callback`` objects, in the order their hooks run.
        model: given to each callback's ``set_model``, when not ``None``.
        params: given to each callback's ``set_params``, when not ``None``
            (``{"verbose", "epochs", "steps", ...}``).

    Example:
        history = ks.callbacks.History()
        cbs = ks.callbacks.CallbackList([history], model=model,
                                        params={"verbose": 0, "epochs": 1, "steps": None})
        cbs.on_train_begin({})
        cbs.on_epoch_end(0, {"loss": 0.5})   # history.history == {"loss": [0.5]}
        cbs.wants("on_train_batch_end")      # False: History does not listen to batches
    """

    def __init__(self, callbacks: list[Callback], model: Any = None, params: dict | None = None):
        self.callbacks = list(callbacks)
        if model is not None:
            for cb in self.callbacks:
                cb.set_model(model)
        if params is not None:
            for cb in self.callbacks:
                cb.set_params(params)
        self._listeners: dict[str, list[Callable[..., Any]]] = {}
        for hook in HOOKS:
            listeners = [cb for cb in self.callbacks if overrides(cb, hook)]
            if hook in _SAVE_POINTS:  # state savers last: what they save includes this hook
                listeners.sort(key=lambda cb: cb.saves_training_state)
            elif hook in _RESTORE_POINTS:  # ...and first here: the others see the restored model
                listeners.sort(key=lambda cb: not cb.saves_training_state)
            self._listeners[hook] = [getattr(cb, hook) for cb in listeners]

    def wants(self, hook: str) -> bool:
        """Whether any callback overrides ``hook``: the loop builds logs only for such hooks.

        Args:
            hook: a hook name from ``HOOKS``, e.g. ``"on_train_batch_end"`` (overriding Keras's
                alias ``on_batch_end`` counts).

        Returns:
            ``True`` when at least one callback listens.
        """
        return bool(self._listeners[hook])

    def call(self, hook: str, *args: Any) -> None:
        """Call ``hook`` with ``args`` on every callback that overrides it.

        Args:
            hook: a hook name from ``HOOKS``.
            *args: the hook's arguments, e.g. ``(epoch, logs)``.
        """
        for listener in self._listeners[hook]:
            listener(*args)

    def on_exception(self, exception: BaseException) -> None:
        """Tell every callback that the loop failed; a callback that fails here only warns.

        The loop re-raises ``exception`` unchanged afterwards, so nothing a callback does while
        cleaning up may replace it.

        Args:
            exception: what ``fit``, ``evaluate`` or ``predict`` raised; every callback's
                ``on_exception`` gets it, whether it overrides the hook or not.
        """
        for cb in self.callbacks:
            try:
                cb.on_exception(exception)
            except Exception as cleanup_error:  # noqa: BLE001 - the original error must win
                warn_user(
                    f"{type(cb).__name__}.on_exception raised {type(cleanup_error).__name__}: "
                    f"{cleanup_error}; the original {type(exception).__name__} propagates.",
                    RuntimeWarning,
                )

    def on_train_begin(self, logs: Any = None) -> None:
        self.call("on_train_begin", logs)

    def on_train_end(self, logs: Any = None) -> None:
        self.call("on_train_end", logs)

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        self.call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        self.call("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.call("on_train_batch_end", batch, logs)

    def on_test_begin(self, logs: Any = None) -> None:
        self.call("on_test_begin", logs)

    def on_test_end(self, logs: Any = None) -> None:
        self.call("on_test_end", logs)

    def on_test_batch_begin(self, batch: int, logs: Any = None) -> None:
        self.call("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch: int, logs: Any = None) -> None:
        self.call("on_test_batch_end", batch, logs)

    def on_predict_begin(self, logs: Any = None) -> None:
        self.call("on_predict_begin", logs)

    def on_predict_end(self, logs: Any = None) -> None:
        self.call("on_predict_end", logs)

    def on_predict_batch_begin(self, batch: int, logs: Any = None) -> None:
        self.call("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch: int, logs: Any = None) -> None:
        self.call("on_predict_batch_end", batch, logs)

    def __iter__(self) -> Iterator[Callback]:
        return iter(self.callbacks)


def _dispatch_doc(hook: str) -> str:
    """The docstring of ``CallbackList.<hook>``: what it does, then the Args of ``Callback.<hook>``."""
    hook_doc = inspect.getdoc(getattr(Callback, hook)) or ""
    return (f"Call ``{hook}`` on every callback that overrides it (see ``Callback.{hook}``).\n\n"
            + hook_doc[hook_doc.index("Args:"):])


# Each hook is documented once, on Callback; the dispatcher's methods take the same arguments.
for _hook in HOOKS:
    getattr(CallbackList, _hook).__doc__ = _dispatch_doc(_hook)
