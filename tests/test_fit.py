"""fit(): Keras semantics of every argument, logs and History."""

import warnings

import numpy as np
import pytest
import torch

import kerasish as ks

from helpers import classification_data, mlp, regression_data, same_weights, weights_of


class Recorder(torch.nn.Module):
    """Linear model on a single feature that records the first feature of each training input."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(1, 1)
        self.seen: list[list[float]] = []

    def forward(self, x):
        if self.training:
            self.seen.append(x[:, 0].tolist())
        return self.linear(x)


def test_fit_returns_history_with_epoch_logs():
    x, y = classification_data()
    model = ks.Model(mlp()).compile("adam", "cross_entropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0)
    assert history is model.history
    assert history.epoch == [0, 1, 2]
    assert set(history.history) == {"loss", "accuracy"}
    assert all(isinstance(v, float) for v in history.history["loss"])
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_epoch_loss_is_the_sample_weighted_mean_of_batch_losses():
    x, y = regression_data(n=10)
    net = torch.nn.Linear(4, 1)
    model = ks.Model(net, device="cpu").compile(torch.optim.SGD(net.parameters(), lr=0.0), "mse")
    history = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    expected = float(((net(torch.tensor(x)) - torch.tensor(y)) ** 2).mean().detach())
    assert history.history["loss"][0] == pytest.approx(expected, rel=1e-5)


def test_validation_split_takes_the_last_fraction_before_shuffling():
    x = np.arange(10, dtype="float32").reshape(-1, 1)
    y = np.zeros((10, 1), dtype="float32")
    net = Recorder()
    model = ks.Model(net).compile("sgd", "mse")
    model.fit(x, y, batch_size=3, epochs=2, validation_split=0.3, verbose=0)
    for epoch in range(2):
        seen = sorted(v for batch in net.seen[epoch * 3:(epoch + 1) * 3] for v in batch)
        assert seen == [0, 1, 2, 3, 4, 5, 6]  # floor(10 * 0.7) = 7 training samples
    assert "val_loss" in model.history.history


def test_validation_data_and_freq_as_int_and_list():
    x, y = classification_data()
    model = ks.Model(mlp()).compile("adam", "cross_entropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=4, validation_data=(x[:20], y[:20]), validation_freq=2, verbose=0)
    assert len(history.history["loss"]) == 4
    assert len(history.history["val_loss"]) == 2
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    history = model.fit(x, y, epochs=4, validation_data=(x[:20], y[:20]), validation_freq=[1, 4], verbose=0)
    assert len(history.history["val_accuracy"]) == 2


def test_validation_logs_equal_evaluate():
    x, y = classification_data()
    model = ks.Model(mlp()).compile("adam", "cross_entropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=1, validation_data=(x[:50], y[:50]), verbose=0)
    loss, acc = model.evaluate(x[:50], y[:50], verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(loss, rel=1e-6)
    assert history.history["val_accuracy"][0] == pytest.approx(acc)


def test_initial_epoch_continues_the_epoch_count():
    x, y = classification_data()
    seen = []
    model = ks.Model(mlp()).compile("adam", "cross_entropy")
    cb = ks.callbacks.Callback()
    cb.on_epoch_begin = lambda epoch, logs=None: seen.append(epoch)
    history = model.fit(x, y, epochs=5, initial_epoch=3, callbacks=[cb], verbose=0)
    assert seen == [3, 4]
    assert history.epoch == [3, 4]


def test_steps_per_epoch_keeps_one_generator_across_epochs():
    x, y = classification_data(n=100)
    batches = [(x[i:i + 10], y[i:i + 10]) for i in range(0, 100, 10)]
    consumed = []

    def generator():
        for i, batch in enumerate(batches):
            consumed.append(i)
            yield batch

    model = ks.Model(mlp()).compile("sgd", "cross_entropy")
    history = model.fit(generator(), epochs=3, steps_per_epoch=3, verbose=0)
    assert consumed == list(range(9))  # epochs continue where the last one stopped
    assert len(history.history["loss"]) == 3


def test_generator_that_runs_out_warns_and_stops():
    x, y = classification_data(n=50)
    gen = ((x[i:i + 10], y[i:i + 10]) for i in range(0, 50, 10))
    model = ks.Model(mlp()).compile("sgd", "cross_entropy")
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(gen, epochs=3, steps_per_epoch=2, verbose=0)
    assert len(history.history["loss"]) == 3  # 2 + 2 + the last 1 batch
    gen = ((x[i:i + 10], y[i:i + 10]) for i in range(0, 50, 10))
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(gen, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 1


def test_steps_per_epoch_with_arrays_counts_batches_per_epoch():
    x, y = classification_data(n=100)
    calls = []
    counter = ks.callbacks.Callback()
    counter.on_train_batch_end = lambda batch, logs=None: calls.append(batch)
    model = ks.Model(mlp()).compile("sgd", "cross_entropy")
    model.fit(x, y, batch_size=10, epochs=2, steps_per_epoch=4, callbacks=[counter], verbose=0)
    assert calls == [0, 1, 2, 3, 0, 1, 2, 3]


@pytest.mark.parametrize("shuffle", [False, True, "batch"])
def test_shuffle_modes(shuffle):
    x = np.arange(12, dtype="float32").reshape(-1, 1)
    y = np.zeros((12, 1), dtype="float32")
    net = Recorder()
    ks.Model(net).compile("sgd", "mse").fit(x, y, batch_size=4, epochs=2, shuffle=shuffle, verbose=0)
    epochs = [net.seen[0:3], net.seen[3:6]]
    for batches in epochs:
        assert sorted(v for b in batches for v in b) == list(range(12))
    if shuffle is False:
        assert epochs[0] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]] == epochs[1]
    if shuffle == "batch":
        for batches in epochs:  # whole batches move, their contents stay together
            assert sorted(batches) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    if shuffle is True:
        assert epochs[0] != epochs[1]


def test_shuffling_follows_torch_manual_seed():
    x, y = classification_data()
    results = []
    for _ in range(2):
        torch.manual_seed(7)
        model = ks.Model(mlp(dropout=0.2)).compile("adam", "cross_entropy")
        model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        results.append(weights_of(model.module))
    assert same_weights(*results)


def test_class_weight_equals_the_same_sample_weight():
    x, y = classification_data()
    class_weight = {0: 1.0, 1: 3.0, 2: 0.5}
    torch.manual_seed(1)
    a = ks.Model(mlp()).compile("sgd", "cross_entropy", weighted_metrics=["accuracy"])
    torch.manual_seed(1)
    b = ks.Model(mlp()).compile("sgd", "cross_entropy", weighted_metrics=["accuracy"])
    ha = a.fit(x, y, epochs=2, class_weight=class_weight, shuffle=False, verbose=0)
    sw = np.array([class_weight[int(c)] for c in y], dtype="float32")
    hb = b.fit(x, y, epochs=2, sample_weight=sw, shuffle=False, verbose=0)
    assert ha.history["loss"] == pytest.approx(hb.history["loss"], rel=1e-6)
    assert same_weights(weights_of(a.module), weights_of(b.module), atol=1e-6)


def test_metrics_ignore_sample_weights_and_weighted_metrics_apply_them():
    x, y = classification_data(n=4, classes=2)
    net = torch.nn.Linear(8, 2)
    model = ks.Model(net, device="cpu").compile(torch.optim.SGD(net.parameters(), lr=0.0), "cross_entropy",
                                  metrics=["accuracy"], weighted_metrics=["accuracy"])
    correct = (net(torch.tensor(x)).argmax(1).numpy() == y).astype("float32")
    sw = np.array([1.0, 2.0, 3.0, 4.0], dtype="float32")
    logs = model.evaluate(x, y, sample_weight=sw, return_dict=True, verbose=0)
    assert logs["accuracy"] == pytest.approx(correct.mean())
    assert logs["weighted_accuracy"] == pytest.approx((correct * sw).sum() / sw.sum())


def test_sample_weight_scales_the_loss_keras_style():
    x, y = regression_data(n=8)
    net = torch.nn.Linear(4, 1)
    model = ks.Model(net, device="cpu").compile("sgd", "mse")
    sw = np.linspace(0.0, 2.0, 8).astype("float32")
    per_sample = ((net(torch.tensor(x)) - torch.tensor(y)) ** 2).detach().numpy()[:, 0]
    loss = model.evaluate(x, y, sample_weight=sw, batch_size=8, verbose=0)
    assert loss == pytest.approx(float((per_sample * sw).sum() / 8), rel=1e-5)


def test_stop_training_from_a_callback_stops_after_the_batch():
    x, y = classification_data()
    batches = []

    class StopAtThree(ks.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            batches.append(batch)
            if batch == 2:
                self.model.stop_training = True

    model = ks.Model(mlp()).compile("sgd", "cross_entropy")
    history = model.fit(x, y, batch_size=10, epochs=5, callbacks=[StopAtThree()], verbose=0)
    assert batches == [0, 1, 2]
    assert len(history.epoch) == 1


def test_callback_hooks_run_in_keras_order_with_params():
    x, y = classification_data(n=40)
    events = []

    class Spy(ks.callbacks.Callback):
        def on_train_begin(self, logs=None):
            events.append(("train_begin", self.params["epochs"], self.params["steps"]))

        def on_epoch_begin(self, epoch, logs=None):
            events.append(("epoch_begin", epoch))

        def on_batch_end(self, batch, logs=None):  # Keras alias of on_train_batch_end
            events.append(("batch_end", batch, round(logs["loss"], 6) > 0))

        def on_test_begin(self, logs=None):
            events.append(("test_begin",))

        def on_epoch_end(self, epoch, logs=None):
            events.append(("epoch_end", epoch, sorted(logs)))

        def on_train_end(self, logs=None):
            events.append(("train_end",))

    model = ks.Model(mlp()).compile("sgd", "cross_entropy")
    model.fit(x, y, batch_size=20, epochs=1, validation_data=(x, y), callbacks=[Spy()], verbose=0)
    assert events == [
        ("train_begin", 1, 2), ("epoch_begin", 0), ("batch_end", 0, True), ("batch_end", 1, True),
        ("test_begin",), ("epoch_end", 0, ["loss", "val_loss"]), ("train_end",),
    ]


def test_batch_logs_hold_running_means_of_the_epoch():
    x, y = regression_data(n=30)
    net = torch.nn.Linear(4, 1)
    model = ks.Model(net, device="cpu").compile(torch.optim.SGD(net.parameters(), lr=0.0), "mse",
                                                metrics=["mae"])
    seen = []
    cb = ks.callbacks.Callback()
    cb.on_train_batch_end = lambda batch, logs=None: seen.append(dict(logs))
    model.fit(x, y, batch_size=10, epochs=1, shuffle=False, callbacks=[cb], verbose=0)
    err = (net(torch.tensor(x)) - torch.tensor(y)).detach()
    for i, logs in enumerate(seen):
        upto = err[: (i + 1) * 10]
        assert logs["loss"] == pytest.approx(float((upto ** 2).mean()), rel=1e-5)
        assert logs["mae"] == pytest.approx(float(upto.abs().mean()), rel=1e-5)


def test_gradient_clipping_by_value_and_norm():
    x, y = regression_data(n=16)
    y = y * 1000  # huge gradients
    for kwargs in ({"clipvalue": 1e-3}, {"clipnorm": 1e-3}):
        net = torch.nn.Linear(4, 1)
        before = weights_of(net)
        model = ks.Model(net, device="cpu").compile(torch.optim.SGD(net.parameters(), lr=1.0), "mse",
                                                    **kwargs)
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
        for key, old in before.items():
            change = (net.state_dict()[key] - old).abs()
            if "clipvalue" in kwargs:
                assert change.max() <= 1e-3 + 1e-7
            else:  # each weight's gradient norm is clipped on its own, as in Keras
                assert change.norm() <= 1e-3 + 1e-7


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains_on_cpu(precision):
    x, y = classification_data(n=200)
    model = ks.Model(mlp()).compile("adam", "cross_entropy", metrics=["accuracy"], precision=precision)
    history = model.fit(x, y, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.predict(x[:4], verbose=0).dtype == np.float32


def test_predict_works_without_compile_and_in_eval_mode():
    net = mlp(dropout=0.5)
    x, _ = classification_data(n=10)
    out = ks.Model(net, device="cpu").predict(x, verbose=0)
    net.eval()
    np.testing.assert_allclose(out, net(torch.tensor(x)).detach().numpy(), rtol=1e-6)


def test_train_test_predict_on_batch():
    x, y = classification_data(n=16)
    net = mlp()
    model = ks.Model(net).compile("sgd", "cross_entropy", metrics=["accuracy"])
    before = weights_of(net)
    loss, acc = model.train_on_batch(x, y)
    assert not same_weights(before, weights_of(net))
    after = weights_of(net)
    logs = model.test_on_batch(x, y, return_dict=True)
    assert same_weights(after, weights_of(net))
    assert set(logs) == {"loss", "accuracy"} and loss > 0 and 0 <= acc <= 1
    assert model.predict_on_batch(x).shape == (16, 3)


def test_multi_input_tuple_and_dict_and_multi_output_losses():
    class TwoInTwoOut(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.cls = torch.nn.Linear(8, 3)
            self.reg = torch.nn.Linear(8, 1)

        def forward(self, a, b):
            return self.cls(a + b), self.reg(a)

    x, y = classification_data()
    target = x[:, :1].copy()
    model = ks.Model(TwoInTwoOut()).compile(
        "adam", ["cross_entropy", "mse"], metrics=[["accuracy"], ["mae"]], loss_weights=[1.0, 0.5]
    )
    history = model.fit((x, x), (y, target), epochs=1, verbose=0)
    assert set(history.history) == {"loss", "output_0_loss", "output_1_loss", "output_0_accuracy",
                                    "output_1_mae"}
    h = history.history
    assert h["loss"][0] == pytest.approx(h["output_0_loss"][0] + 0.5 * h["output_1_loss"][0], rel=1e-5)
    logs = model.evaluate({"a": x, "b": x}, (y, target), return_dict=True, verbose=0)
    assert set(logs) == set(h)
    cls_out, reg_out = model.predict({"a": x, "b": x}, verbose=0)
    assert cls_out.shape == (120, 3) and reg_out.shape == (120, 1)


def test_evaluate_returns_scalar_list_or_dict():
    x, y = classification_data()
    model = ks.Model(mlp()).compile("adam", "cross_entropy")
    assert isinstance(model.evaluate(x, y, verbose=0), float)
    model = ks.Model(mlp()).compile("adam", "cross_entropy", metrics=["accuracy"])
    loss, acc = model.evaluate(x, y, verbose=0)
    assert model.evaluate(x, y, return_dict=True, verbose=0) == {"loss": loss, "accuracy": acc}


def test_no_warnings_on_a_plain_fit():
    x, y = classification_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ks.Model(mlp()).compile("adam", "cross_entropy").fit(x, y, epochs=1, verbose=0)


def test_loss_weights_scale_a_single_loss():
    x, y = classification_data()
    torch.manual_seed(0)
    plain = ks.Model(mlp()).compile("sgd", "cross_entropy").evaluate(x, y, verbose=0)
    torch.manual_seed(0)
    weighted = ks.Model(mlp()).compile("sgd", "cross_entropy", loss_weights=0.5).evaluate(x, y, verbose=0)
    assert weighted == pytest.approx(0.5 * plain, rel=1e-6)


def test_one_loss_for_several_outputs_applies_to_each_as_in_keras():
    class TwoOutputs(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = torch.nn.Linear(8, 3), torch.nn.Linear(8, 3)

        def forward(self, x):
            return self.a(x), self.b(x)

    x, y = classification_data()
    model = ks.Model(TwoOutputs(), device="cpu").compile("sgd", "cross_entropy")
    logs = model.evaluate(x, (y, y), batch_size=len(x), verbose=0, return_dict=True)
    with torch.no_grad():
        a, b = model.module(torch.as_tensor(x))
        each = [torch.nn.functional.cross_entropy(out, torch.as_tensor(y)).item() for out in (a, b)]
    assert logs == pytest.approx({"loss": sum(each), "output_0_loss": each[0],
                                  "output_1_loss": each[1]}, rel=1e-5)
