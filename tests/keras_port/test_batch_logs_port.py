"""Batch logs are dicts, as Keras's are: a callback ported from Keras sees the same type and numbers.

Keras 3 hands ``on_train_batch_end`` / ``on_test_batch_end`` a plain ``dict`` of running means;
ported callbacks test ``isinstance(logs, dict)``, copy it with ``dict(logs)`` or ``{**logs}``, and
serialise it. kerasish's batch logs read the device only when looked at, and must still be a dict.
"""

from __future__ import annotations

import json

import numpy as np
import torch

import kerasish as ks
from tests.keras_port.twins import dense_model, keras


def record(seen: list, logs) -> None:
    """What a ported callback does with batch logs: check the type, copy, spread, serialise."""
    seen.append((isinstance(logs, dict), dict(logs), {**logs}, json.dumps(logs.copy())))


def recorder(base: type) -> type:
    """The same callback body under Keras's base class or kerasish's."""

    class RecordBatches(base):
        def __init__(self):
            super().__init__()
            self.seen: list = []

        def on_train_batch_end(self, batch, logs=None):
            record(self.seen, logs)

        def on_test_batch_end(self, batch, logs=None):
            record(self.seen, logs)

    return RecordBatches


RecordBatches = recorder(keras.callbacks.Callback)
KsRecordBatches = recorder(ks.callbacks.Callback)


def test_batch_logs_are_dicts_with_kerass_numbers():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype("float32")
    y = rng.normal(size=(40, 1)).astype("float32")
    kmodel, twin = dense_model(hidden=4)
    kmodel.compile(keras.optimizers.SGD(0.05), "mse", metrics=["mae"])
    theirs = RecordBatches()
    kmodel.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[theirs],
               validation_data=(x, y))

    model = ks.Model(twin, device="cpu").compile(torch.optim.SGD(twin.parameters(), lr=0.05), "mse",
                                                 metrics=["mae"])
    ours = KsRecordBatches()
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[ours],
              validation_data=(x, y))

    assert len(ours.seen) == len(theirs.seen) == 10
    for (our_type, our_dict, our_spread, our_json), (their_type, their_dict, _, _) in zip(
            ours.seen, theirs.seen):
        assert our_type and their_type
        assert our_dict == our_spread == json.loads(our_json)
        assert set(our_dict) == set(their_dict)
        for key in their_dict:
            assert abs(our_dict[key] - float(their_dict[key])) <= 1e-5 * max(1.0, abs(our_dict[key]))


def test_lazy_logs_read_the_device_once_and_keep_keys_a_callback_set():
    from kerasish.trainer.logs import LazyLogs

    reads = []

    def value():
        reads.append(1)
        return torch.tensor(2.0)

    logs = LazyLogs({"loss": value, "mae": lambda: torch.tensor(1.0)})
    logs["lr"] = 0.1  # set before any read: no read needed
    assert isinstance(logs, dict) and "loss" in logs and len(logs) == 3 and logs["lr"] == 0.1
    assert reads == []
    assert dict(logs) == {"loss": 2.0, "mae": 1.0, "lr": 0.1} and logs == {"loss": 2.0, "mae": 1.0, "lr": 0.1}
    assert logs.pop("mae") == 1.0 and list(logs) == ["loss", "lr"]
    assert reads == [1]  # all values in one read
