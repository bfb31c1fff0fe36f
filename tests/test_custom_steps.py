"""Custom train_step / test_step / predict_step with Keras 3 semantics, checked against hand loops."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kerasish as ks

from helpers import classification_data, mlp, same_weights, weights_of


def hand_loop(module: torch.nn.Module, x, y, batch_size: int, epochs: int, lr: float,
              sample_weight=None):
    """The reference: plain torch SGD over the batches in order, the loss averaged Keras's way."""
    optimizer = torch.optim.SGD(module.parameters(), lr=lr)
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    sw = None if sample_weight is None else torch.as_tensor(sample_weight)
    epoch_losses = []
    for _ in range(epochs):
        total, count = 0.0, 0
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            optimizer.zero_grad()
            per_sample = torch.nn.functional.cross_entropy(module(xb), yb, reduction="none")
            if sw is None:
                loss = per_sample.mean()
            else:  # Keras's sum_over_batch_size: weighted sum over the batch size
                loss = (per_sample * sw[start:start + batch_size]).sum() / len(xb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
            count += len(xb)
        epoch_losses.append(total / count)
    return epoch_losses


class DefaultWrittenOut(ks.Model):
    """The default train_step written with compute_loss and compute_metrics, as a user would."""

    def __init__(self, module, device="cpu"):
        super().__init__(module, device=device)
        self.calls = 0

    def train_step(self, data):
        self.calls += 1
        x, y, sample_weight = ks.utils.unpack_x_y_sample_weight(data)
        self.optimizer.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(x, y, y_pred, sample_weight)
        loss.backward()
        self.optimizer.step()
        return self.compute_metrics(x, y, y_pred, sample_weight)


def sgd(lr):
    return lambda params: torch.optim.SGD(params, lr=lr)


@pytest.mark.parametrize("weighted", [False, True])
def test_an_override_written_with_compute_loss_matches_a_hand_written_loop(weighted):
    x, y = classification_data(n=52)  # 52 = 6 full batches of 8 and a partial one of 4
    sw = np.linspace(0.5, 2.0, len(x)).astype("float32") if weighted else None
    torch.manual_seed(1)
    reference = mlp()
    torch.manual_seed(1)
    model = DefaultWrittenOut(mlp()).compile(sgd(0.1), "cross_entropy")
    expected_losses = hand_loop(reference, x, y, batch_size=8, epochs=2, lr=0.1, sample_weight=sw)
    history = model.fit(x, y, sample_weight=sw, batch_size=8, epochs=2, shuffle=False, verbose=0)
    assert model.calls == 14
    assert same_weights(weights_of(model.module), weights_of(reference), atol=1e-6)
    np.testing.assert_allclose(history.history["loss"], expected_losses, rtol=1e-5)


def test_the_override_and_the_default_step_train_alike():
    x, y = classification_data(n=52)
    results = []
    for cls in (ks.Model, DefaultWrittenOut):
        torch.manual_seed(3)
        model = cls(mlp(), device="cpu").compile(sgd(0.05), "cross_entropy", metrics=["accuracy"])
        torch.manual_seed(4)
        history = model.fit(x, y, batch_size=8, epochs=3, verbose=0, validation_data=(x, y))
        results.append((weights_of(model.module), history.history))
    (w1, h1), (w2, h2) = results
    assert same_weights(w1, w2, atol=1e-6)
    assert h1.keys() == h2.keys() == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for key in h1:
        np.testing.assert_allclose(h1[key], h2[key], rtol=1e-5)


class Recorder(ks.Model):
    def __init__(self, module):
        super().__init__(module, device="cpu")
        self.seen = []

    def train_step(self, data):
        self.seen.append(data)
        return {"step": torch.tensor(float(len(self.seen)))}


def test_data_reaches_the_step_as_keras_packs_it():
    x, y = classification_data(n=16)
    model = Recorder(mlp()).compile()
    model.fit(x, y, batch_size=8, verbose=0, shuffle=False)
    assert all(isinstance(d, tuple) and len(d) == 2 for d in model.seen)
    assert torch.equal(model.seen[0][0], torch.as_tensor(x[:8]))
    model.seen.clear()
    model.fit(x, y, sample_weight=np.full(16, 2.0, "float32"), batch_size=8, verbose=0)
    assert all(len(d) == 3 and torch.all(d[2] == 2.0) for d in model.seen)
    model.seen.clear()
    model.fit(x, batch_size=8, verbose=0)  # no targets: x alone, as Keras passes it
    assert all(isinstance(d, torch.Tensor) and d.shape == (8, 8) for d in model.seen)


def test_class_weight_reaches_a_custom_step_as_sample_weights():
    x, y = classification_data(n=16)
    model = Recorder(mlp()).compile()
    model.fit(x, y, class_weight={0: 1.0, 1: 3.0, 2: 5.0}, batch_size=16, verbose=0, shuffle=False)
    (xb, yb, sw), = model.seen
    expected = torch.tensor([1.0, 3.0, 5.0])[torch.as_tensor(y)]
    assert torch.equal(sw, expected)


def test_epoch_logs_are_the_last_steps_values_and_batch_logs_each_steps():
    x, y = classification_data(n=40)
    seen = []
    read = ks.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(logs["step"]))
    model = Recorder(mlp()).compile()
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[read])
    assert seen == [float(i) for i in range(1, 11)]
    assert history.history["step"] == [5.0, 10.0]


def test_nested_result_dicts_are_flattened_as_keras_does():
    class Nested(ks.Model):
        def train_step(self, data):
            return {"loss": torch.tensor(1.0), "extra": {"a": 2.0, "b": torch.tensor(3.0)}}

    model = Nested(mlp(), device="cpu").compile()
    logs = model.fit(*classification_data(n=8), batch_size=8, verbose=0).history
    assert logs == {"loss": [1.0], "a": [2.0], "b": [3.0]}


def test_a_step_returning_something_else_than_a_dict_is_a_clear_error():
    class Bad(ks.Model):
        def train_step(self, data):
            return 1.0

    model = Bad(mlp(), device="cpu").compile()
    with pytest.raises(TypeError, match="train_step must return a dict"):
        model.fit(*classification_data(n=8), verbose=0)


class Tracked(ks.Model):
    def __init__(self, module):
        super().__init__(module, device="cpu")
        self.batch_mean = ks.metrics.Mean(name="batch_mean")

    def train_step(self, data):
        x, y = data
        self.batch_mean.update_state(x.mean() + 10 * self.epoch)  # each epoch its own values
        return {"batch_mean": self.batch_mean.result()}

    def test_step(self, data):
        x, y = data
        self.batch_mean.update_state(x.mean())
        return {"batch_mean": self.batch_mean.result()}


def test_model_metrics_lists_the_tracker_compiled_metrics_and_metric_attributes():
    model = Tracked(mlp()).compile("sgd", "cross_entropy", metrics=["accuracy"])
    names = [m.name for m in model.metrics]
    assert names == ["loss", "accuracy", "batch_mean"]


def test_metrics_reset_at_each_epoch_start_and_at_evaluate_start():
    x = np.stack([np.full(8, i, "float32") for i in range(8)])  # batch means 0.5, 2.5, 4.5, 6.5
    y = np.zeros(8, "int64")
    model = Tracked(mlp()).compile()
    history = model.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0)
    assert history.history["batch_mean"] == [3.5, 13.5]  # not 8.5: a mean over both epochs
    result = model.evaluate(x[:2], y[:2], batch_size=2, verbose=0, return_dict=True)
    assert result == {"batch_mean": 0.5}  # reset: the training values are gone


def test_an_overriding_metrics_property_replaces_the_list_and_is_reset():
    class Own(Tracked):
        @property
        def metrics(self):
            return [self.batch_mean]

    model = Own(mlp()).compile("sgd", "cross_entropy")
    assert [m.name for m in model.metrics] == ["batch_mean"]
    x = np.stack([np.full(8, i, "float32") for i in range(4)])
    history = model.fit(x, np.zeros(4, "int64"), batch_size=2, epochs=2, shuffle=False, verbose=0)
    assert history.history["batch_mean"] == [1.5, 11.5]


def test_compile_without_a_loss_needs_a_custom_step_and_says_so_before_any_step():
    x, y = classification_data(n=16)
    model = ks.Model(mlp(), device="cpu").compile("sgd")
    before = weights_of(model.module)
    with pytest.raises(ValueError, match="needs a loss.*compile"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="needs a loss"):
        model.evaluate(x, y, verbose=0)
    assert same_weights(before, weights_of(model.module))
    Tracked(mlp()).compile().fit(x, y, verbose=0)  # a custom step needs none


def test_an_overridden_compile_that_calls_super_works():
    class TwoOptimizers(ks.Model):
        def compile(self, first, second):
            super().compile(loss="cross_entropy")
            self.first, self.second = first, second
            return self

        def train_step(self, data):
            x, y = data
            self.first.zero_grad()
            self.second.zero_grad()
            loss = self.compute_loss(x, y, self(x))
            loss.backward()
            self.first.step()
            self.second.step()
            return {"loss": loss}

    module = mlp()
    model = TwoOptimizers(module, device="cpu")
    model.compile(torch.optim.SGD(module[0].parameters(), lr=0.1),
                  torch.optim.SGD(module[2].parameters(), lr=0.1))
    before = weights_of(module)
    history = model.fit(*classification_data(n=32), batch_size=8, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert all(not torch.equal(before[k], v) for k, v in weights_of(module).items())


def test_custom_test_step_runs_in_evaluate_validation_and_test_on_batch():
    class Eval(ks.Model):
        def test_step(self, data):
            x, y = data
            return {"n": torch.tensor(float(len(x))), "grad_enabled": float(torch.is_grad_enabled())}

    x, y = classification_data(n=20)
    model = Eval(mlp(), device="cpu").compile("sgd", "cross_entropy")
    assert model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True) == {
        "n": 4.0, "grad_enabled": 0.0}  # the last batch's values, computed without gradients
    history = model.fit(x, y, batch_size=8, verbose=0, validation_data=(x, y))
    assert history.history["val_n"] == [4.0] and "loss" in history.history
    assert model.test_on_batch(x[:5], y[:5], return_dict=True)["n"] == 5.0


def test_custom_predict_step_runs_in_predict_and_predict_on_batch():
    class Doubled(ks.Model):
        def predict_step(self, data):
            return 2 * self(data)

    x, _ = classification_data(n=20)
    model = Doubled(mlp(), device="cpu")
    plain = ks.Model(model.module, device="cpu")
    np.testing.assert_allclose(model.predict(x, batch_size=8, verbose=0),
                               2 * plain.predict(x, batch_size=8, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(model.predict_on_batch(x[:3]), 2 * plain.predict_on_batch(x[:3]),
                               rtol=1e-6)


def test_train_on_batch_calls_the_custom_step_and_counts_its_optimizer_steps():
    model = DefaultWrittenOut(mlp()).compile(sgd(0.1), "cross_entropy", metrics=["accuracy"])
    x, y = classification_data(n=8)
    logs = model.train_on_batch(x, y, return_dict=True)
    assert model.calls == 1 and set(logs) == {"loss", "accuracy"}
    assert model.optimizer_steps == 1


class Stopper(ks.callbacks.Callback):
    """Keras's test_stop_loop: counts batches and sets the stop flag at the given count."""

    def __init__(self, flag: str, stop_count: int):
        super().__init__()
        self.flag, self.stop_count, self.counter = flag, stop_count, 0

    def _count(self):
        self.counter += 1
        if self.counter == self.stop_count:
            setattr(self.model, self.flag, True)

    def on_train_batch_end(self, batch, logs=None):
        if self.flag == "stop_training":
            self._count()

    def on_test_batch_end(self, batch, logs=None):
        if self.flag == "stop_evaluating":
            self._count()

    def on_predict_batch_end(self, batch, logs=None):
        if self.flag == "stop_predicting":
            self._count()


@pytest.mark.parametrize("flag", ["stop_training", "stop_evaluating", "stop_predicting"])
def test_a_stop_flag_ends_its_loop_after_the_current_batch(flag):
    x, y = classification_data(n=100)
    model = ks.Model(mlp(), device="cpu").compile("sgd", "cross_entropy")
    stopper = Stopper(flag, stop_count=5)
    run = {"stop_training": lambda: model.fit(x, y, batch_size=1, callbacks=[stopper], verbose=0),
           "stop_evaluating": lambda: model.evaluate(x, y, batch_size=1, callbacks=[stopper], verbose=0),
           "stop_predicting": lambda: model.predict(x, batch_size=1, callbacks=[stopper], verbose=0)}
    result = run[flag]()
    assert stopper.counter == 5
    if flag == "stop_predicting":
        assert len(result) == 5
    # The next call starts with the flag cleared.
    stopper.stop_count = -1
    run[flag]()
    assert stopper.counter == 105


def test_model_call_runs_the_module_in_its_current_mode_with_keras_training_argument():
    module = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.5))
    model = ks.Model(module, device="cpu")
    x = torch.ones(2, 4)
    module.eval()
    assert torch.equal(model(x, training=False), module(x))
    assert torch.equal(model(x), module(x))


def test_mixed_precision_reaches_model_call():
    model = ks.Model(mlp(), device="cpu").compile("sgd", "cross_entropy", precision="mixed_bfloat16")
    assert model(torch.ones(2, 8)).dtype == torch.bfloat16


def test_custom_step_logs_stay_on_the_device_until_a_callback_reads_them(monkeypatch):
    reads = {"n": 0}
    original = torch.Tensor.tolist

    def counted(self):
        reads["n"] += 1
        return original(self)

    class Lazy(ks.Model):
        def train_step(self, data):
            return {"value": data[0].sum()}

    def reads_for(n):
        model = Lazy(mlp(), device="cpu").compile()
        x, y = classification_data(n=n)
        reads["n"] = 0
        model.fit(x, y, batch_size=8, epochs=1, verbose=0,
                  callbacks=[ks.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: None)])
        return reads["n"]

    monkeypatch.setattr(torch.Tensor, "tolist", counted)
    assert reads_for(16) == reads_for(160) == 1  # the epoch's one read, however many steps


def test_optimizer_steps_count_default_and_custom_steps_alike():
    x, y = classification_data(n=40)
    plain = ks.Model(mlp(), device="cpu").compile("sgd", "cross_entropy")
    plain.fit(x, y, batch_size=8, epochs=2, verbose=0)
    custom = DefaultWrittenOut(mlp()).compile("sgd", "cross_entropy")
    custom.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert plain.optimizer_steps == custom.optimizer_steps == 10
    accumulated = ks.Model(mlp(), device="cpu").compile("sgd", "cross_entropy",
                                                        gradient_accumulation_steps=2)
    accumulated.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert accumulated.optimizer_steps == 6  # 5 batches per epoch: windows of 2, 2 and 1
