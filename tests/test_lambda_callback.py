"""LambdaCallback: every hook given as a function is called with Keras's arguments."""

import numpy as np
import pytest

import kerasish as ks
from kerasish.callbacks.base import CallbackList

from helpers import mlp


def test_the_six_named_hooks_are_called_in_order():
    calls = []
    callback = ks.callbacks.LambdaCallback(
        on_train_begin=lambda logs: calls.append(("train_begin",)),
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
        on_train_batch_begin=lambda batch, logs: calls.append(("batch_begin", batch)),
        on_train_batch_end=lambda batch, logs: calls.append(("batch_end", batch, logs["loss"] >= 0)),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, sorted(logs))),
        on_train_end=lambda logs: calls.append(("train_end", sorted(logs))),
    )
    model = ks.Model(mlp(4, 8, 2), device="cpu").compile("sgd", "cross_entropy")
    model.fit(np.zeros((8, 4), "float32"), np.zeros(8, "int64"), batch_size=4, epochs=2,
              verbose=0, callbacks=[callback])
    epoch = lambda e: [("epoch_begin", e), ("batch_begin", 0), ("batch_end", 0, True),  # noqa: E731
                       ("batch_begin", 1), ("batch_end", 1, True), ("epoch_end", e, ["loss"])]
    assert calls == [("train_begin",), *epoch(0), *epoch(1), ("train_end", ["loss"])]


def test_other_hooks_and_attributes_as_keywords():
    calls = []
    callback = ks.callbacks.LambdaCallback(
        on_batch_end=lambda batch, logs: calls.append(("batch_end", batch)),
        on_test_end=lambda logs: calls.append(("test_end", sorted(logs))),
        note="hello",
    )
    assert callback.note == "hello"
    model = ks.Model(mlp(4, 8, 2), device="cpu").compile("sgd", "cross_entropy")
    x, y = np.zeros((8, 4), "float32"), np.zeros(8, "int64")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, validation_data=(x, y),
              callbacks=[callback])
    assert calls == [("batch_end", 0), ("test_end", ["loss"])]


def test_only_the_given_hooks_are_dispatched():
    callback = ks.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: None)
    hooks = CallbackList([callback])
    assert hooks.wants("on_epoch_end")
    assert not hooks.wants("on_train_batch_end") and not hooks.wants("on_train_begin")


@pytest.mark.parametrize("hook", ["on_epoch_end", "on_train_batch_begin", "on_test_end"])
def test_a_hook_must_be_callable(hook):
    with pytest.raises(TypeError, match=f"{hook} must be a function; got str"):
        ks.callbacks.LambdaCallback(**{hook: "print"})
