"""Public training state, the callback state protocol, and the one training-state file format."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

import kerasish as ks

from helpers import InterruptAfter, Interrupted, classification_data, mlp, same_weights, weights_of

CALLBACKS = Path(ks.__file__).parent / "callbacks"



class Position(ks.callbacks.Callback):
    """Records the public state a callback sees at each batch end."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_batch_end(self, batch, logs=None):
        model = self.model
        self.seen.append((model.epoch, model.step_in_epoch, model.optimizer_steps, batch))


def test_callbacks_see_epoch_step_and_optimizer_steps():
    x, y = classification_data(n=24)
    model = ks.Model(mlp(), device="cpu").compile("sgd", "cross_entropy",
                                                  gradient_accumulation_steps=2)
    position = Position()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[position])
    # 3 batches per epoch; the optimizer steps after batches 2 and 3 (the epoch's last window).
    assert position.seen == [(0, 1, 0, 0), (0, 2, 1, 1), (0, 3, 1, 2),
                             (1, 1, 2, 0), (1, 2, 3, 1), (1, 3, 3, 2)]
    assert model.epoch == 2 and model.step_in_epoch == 0 and model.optimizer_steps == 4
    assert model.is_main_process


def test_no_callback_reads_a_private_model_attribute():
    offenders = []
    for path in sorted(CALLBACKS.glob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\bmodel\._\w", line):
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert offenders == []


class CountingCallback(ks.callbacks.Callback):
    """A user's callback with state that must survive a resume: batches seen, a running sum."""

    def __init__(self):
        super().__init__()
        self.batches, self.loss_sum = 0, 0.0

    def on_train_begin(self, logs=None):
        self.batches, self.loss_sum = 0, 0.0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        self.loss_sum += logs["loss"]

    def state_dict(self):
        return {"batches": self.batches, "loss_sum": self.loss_sum}

    def load_state_dict(self, state):
        self.batches, self.loss_sum = state["batches"], state["loss_sum"]



def new_model():
    torch.manual_seed(0)
    return ks.Model(mlp(8, 16, 3, dropout=0.2), device="cpu").compile("adam", "cross_entropy")


def test_a_user_callback_resumes_through_state_dict(tmp_path):
    x, y = classification_data(n=40)
    reference = CountingCallback()
    expected_model = new_model()
    expected_model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[reference])

    counter = CountingCallback()
    model = new_model()
    backup = ks.callbacks.BackupAndRestore(tmp_path / "b", save_freq=1)
    with pytest.raises(Interrupted):
        model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[counter, backup, InterruptAfter(7)])
    resumed_counter = CountingCallback()
    resumed = new_model()
    resumed.fit(x, y, batch_size=8, epochs=3, verbose=0,
                callbacks=[resumed_counter, ks.callbacks.BackupAndRestore(tmp_path / "b", save_freq=1)])
    assert resumed_counter.batches == reference.batches == 15
    assert resumed_counter.loss_sum == pytest.approx(reference.loss_sum, rel=1e-6)
    assert same_weights(weights_of(resumed.module), weights_of(expected_model.module))


def test_a_backup_loads_with_load_weights_and_a_full_save_seeds_a_resume(tmp_path):
    x, y = classification_data(n=40)
    model = new_model()
    backup = ks.callbacks.BackupAndRestore(tmp_path / "b", save_freq=1)
    with pytest.raises(Interrupted):
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[backup, InterruptAfter(3)])
    other = new_model()
    other.load_weights(tmp_path / "b" / "backup.pt")
    assert same_weights(weights_of(other.module), weights_of(model.module))
    assert other.epoch == 0 and other.optimizer_steps == 3

    # model.save mid-training, dropped into a backup folder, continues that run exactly.
    class SaveAt(ks.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model.epoch == 1 and batch == 1:
                self.model.save(tmp_path / "seed" / "backup.pt")

    expected = new_model()
    expected.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[SaveAt()])
    resumed = new_model()
    history = resumed.fit(x, y, batch_size=8, epochs=3, verbose=0,
                          callbacks=[ks.callbacks.BackupAndRestore(tmp_path / "seed")])
    assert history.epoch == [1, 2]
    assert same_weights(weights_of(resumed.module), weights_of(expected.module))


def test_files_of_the_earlier_formats_still_load(tmp_path):
    model = new_model()
    weights = {k: v + 1 for k, v in weights_of(model.module).items()}
    torch.save({"format": "kerasish.full.v1", "module": weights,
                "optimizer": model.optimizer.state_dict(), "scaler": None, "epoch": 4,
                "compile": {}}, tmp_path / "full.pt")
    model.load_weights(tmp_path / "full.pt")
    assert same_weights(weights_of(model.module), weights) and model.epoch == 4
    torch.save({"format": "kerasish.backup.v1", "module": weights,
                "optimizer": model.optimizer.state_dict(), "scaler": None, "epoch": 1,
                "steps_done": 2, "data_seed": 7, "rng": ks.state.rng_states(),
                "callbacks": {"0:EarlyStopping": {"wait": 1, "stopped_epoch": 0, "best": 0.5,
                                                  "best_epoch": 0, "best_weights": None}}},
               tmp_path / "backup.pt")
    state = ks.state.read(tmp_path / "backup.pt")
    assert (state["epoch"], state["step_in_epoch"], state["data_seed"]) == (1, 2, 7)
    assert state["callbacks"]["EarlyStopping#0"]["best"] == 0.5


def test_a_file_from_a_newer_format_is_refused_clearly(tmp_path):
    torch.save({"format": "kerasish.state.v9", "module": {}}, tmp_path / "new.pt")
    with pytest.raises(ValueError, match="newer kerasish"):
        new_model().load_weights(tmp_path / "new.pt")


def test_load_weights_refuses_another_optimizers_state_and_changes_nothing(tmp_path):
    adam = new_model()
    adam.fit(*classification_data(n=16), verbose=0)
    adam.save(tmp_path / "adam.pt")
    torch.manual_seed(1)
    sgd = ks.Model(mlp(8, 16, 3, dropout=0.2), device="cpu").compile(
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), "cross_entropy")
    before, optimizer_before = weights_of(sgd.module), sgd.optimizer.state_dict()
    with pytest.raises(ValueError, match="load_weights: the optimizer state .*momentum"):
        sgd.load_weights(tmp_path / "adam.pt")
    assert same_weights(before, weights_of(sgd.module))
    assert sgd.optimizer.state_dict()["param_groups"] == optimizer_before["param_groups"]
    sgd.fit(*classification_data(n=16), verbose=0)  # still trains


class Failing(ks.callbacks.Callback):
    def __init__(self, at):
        super().__init__()
        self.at, self.errors, self.ended = at, [], False

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.at:
            raise KeyboardInterrupt

    def on_exception(self, exception):
        self.errors.append(exception)

    def on_train_end(self, logs=None):
        self.ended = True


def test_an_error_reaches_on_exception_then_propagates_unchanged_and_no_window_is_left():
    x, y = classification_data(n=40)
    model = ks.Model(mlp(), device="cpu").compile("sgd", "cross_entropy",
                                                  gradient_accumulation_steps=4)
    failing = Failing(at=1)  # after 2 of a window of 4 batches
    with pytest.raises(KeyboardInterrupt) as raised:
        model.fit(x, y, batch_size=8, verbose=0, callbacks=[failing])
    assert failing.errors == [raised.value] and not failing.ended
    assert model.optimizer_steps == 0
    assert all(p.grad is None for p in model.module.parameters())  # the half window is gone

    class BrokenCleanup(ks.callbacks.Callback):
        def on_exception(self, exception):
            raise RuntimeError("cleanup failed")

    with pytest.warns(RuntimeWarning, match="cleanup failed"), pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=8, verbose=0, callbacks=[BrokenCleanup(), Failing(at=0)])


def test_evaluate_and_predict_report_errors_to_callbacks_too():
    class Raising(ks.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.errors = []

        def on_test_batch_end(self, batch, logs=None):
            raise ValueError("in evaluate")

        def on_predict_batch_end(self, batch, logs=None):
            raise ValueError("in predict")

        def on_exception(self, exception):
            self.errors.append(str(exception))

    x, y = classification_data(n=16)
    model = ks.Model(mlp(), device="cpu").compile("sgd", "cross_entropy")
    raising = Raising()
    with pytest.raises(ValueError, match="in evaluate"):
        model.evaluate(x, y, verbose=0, callbacks=[raising])
    with pytest.raises(ValueError, match="in predict"):
        model.predict(x, verbose=0, callbacks=[raising])
    assert raising.errors == ["in evaluate", "in predict"]


def test_batch_logs_behave_as_a_mutable_dict():
    import json

    captured = {}

    class Keras2Style(ks.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            copy = logs.copy()
            logs.update({"extra": 1.0})
            popped = logs.pop("extra")
            captured.update(copy=copy, popped=popped, json=json.dumps(dict(logs)))

    model = ks.Model(mlp(), device="cpu").compile("sgd", "cross_entropy", metrics=["accuracy"])
    model.fit(*classification_data(n=8), batch_size=8, verbose=0, callbacks=[Keras2Style()])
    assert type(captured["copy"]) is dict and set(captured["copy"]) == {"loss", "accuracy"}
    assert captured["popped"] == 1.0
    assert set(json.loads(captured["json"])) == {"loss", "accuracy"}
    np.testing.assert_allclose(json.loads(captured["json"])["loss"], captured["copy"]["loss"])


def test_backups_are_taken_after_every_other_callbacks_batch_end():
    order = []

    class Saver(ks.callbacks.Callback):
        saves_training_state = True

        def on_train_batch_end(self, batch, logs=None):
            order.append("saver")

        def on_epoch_end(self, epoch, logs=None):
            order.append("saver-epoch")

    class Other(ks.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            order.append("other")

        def on_epoch_end(self, epoch, logs=None):
            order.append("other-epoch")

    model = ks.Model(mlp(), device="cpu").compile("sgd", "cross_entropy")
    model.fit(*classification_data(n=8), batch_size=8, verbose=0, callbacks=[Saver(), Other()])
    assert order == ["other", "saver", "other-epoch", "saver-epoch"]
