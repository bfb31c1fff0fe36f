"""Cases next to the issue "Keras 3 trainer fidelity", each checked against Keras 3 itself.

They cover what the fixes for the issue touched beyond its listed cases: per-output sample weights
as a tuple, a one-shot generator longer than Keras's two peeked batches, class weights with one-hot
targets, the order of ``evaluate``'s list, and the first batch's metrics counted once.
"""

import warnings

import numpy as np
import pytest
import torch

import kerasish as ks

from .twins import assert_logs_close, dense_model, keras

RNG = np.random.default_rng(7)
N = 16
X = RNG.normal(size=(N, 3)).astype("float32")
Y_REG = RNG.normal(size=(N, 1)).astype("float32")
Y_BIN = RNG.integers(0, 2, size=(N, 1)).astype("float32")
Y_CLS = RNG.integers(0, 3, size=N)
SW0 = RNG.uniform(0.2, 2.0, size=N).astype("float32")
SW1 = RNG.uniform(0.2, 2.0, size=N).astype("float32")
HEADS = (("output_0", 1, None), ("output_1", 1, "sigmoid"))


def test_per_output_sample_weights_as_a_tuple():
    settings = dict(loss=["mse", "bce"], weighted_metrics=[["mae"], ["mae"]])
    kmodel, twin = dense_model(heads=HEADS, kind="list")
    kmodel.compile(optimizer="sgd", **settings)
    fit = dict(batch_size=8, epochs=2, shuffle=False, verbose=0, sample_weight=(SW0, SW1))
    theirs = kmodel.fit(X, (Y_REG, Y_BIN), **fit).history
    model = ks.Model(twin, device="cpu").compile(optimizer="sgd", **settings)
    ours = model.fit(X, (Y_REG, Y_BIN), **fit).history
    assert_logs_close(ours, theirs)


class _ValidationBatches:
    def __init__(self, callback_base):
        class Counter(callback_base):
            def __init__(self):
                super().__init__()
                self.per_epoch, self.count = [], 0

            def on_test_batch_end(self, batch, logs=None):
                self.count += 1

            def on_epoch_end(self, epoch, logs=None):
                self.per_epoch.append(self.count)
                self.count = 0

        self.callback = Counter()


def _batches(x, y, count):
    for i in range(count):
        yield x[i * 4:(i + 1) * 4], y[i * 4:(i + 1) * 4]


def test_a_one_shot_generator_longer_than_two_batches_as_validation_data():
    # Keras reads the whole generator on the first validation, then only its two peeked batches;
    # kerasish keeps every batch and validates on all four each epoch (docs/differences.md).
    kmodel, twin = dense_model()
    kmodel.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    theirs = _ValidationBatches(keras.callbacks.Callback).callback
    fit = dict(batch_size=8, epochs=3, shuffle=False, verbose=0)
    k_history = kmodel.fit(X, Y_REG, validation_data=_batches(X, Y_REG, 4), callbacks=[theirs],
                           **fit).history
    model = ks.Model(twin, device="cpu").compile(optimizer="sgd", loss="mse", metrics=["mae"])
    ours = _ValidationBatches(ks.callbacks.Callback).callback
    history = model.fit(X, Y_REG, validation_data=_batches(X, Y_REG, 4), callbacks=[ours],
                        **fit).history
    assert theirs.per_epoch == [4, 2, 2]
    assert ours.per_epoch == [4, 4, 4]
    assert_logs_close({k: v for k, v in history.items() if not k.startswith("val_")},
                      {k: v for k, v in k_history.items() if not k.startswith("val_")})
    assert_logs_close({k: v[:1] for k, v in history.items()}, {k: v[:1] for k, v in k_history.items()})


def test_class_weight_missing_a_class_with_one_hot_targets():
    y = np.eye(3, dtype="float32")[Y_CLS]
    kmodel, twin = dense_model(heads=(("output_0", 3, "softmax"),))
    settings = dict(batch_size=8, epochs=2, class_weight={0: 3.0}, shuffle=False, verbose=0)
    kmodel.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    theirs = kmodel.fit(X, y, **settings).history
    model = ks.Model(twin, device="cpu").compile(optimizer="sgd", loss="categorical_crossentropy",
                                                 metrics=["accuracy"])
    ours = model.fit(X, y, **settings).history
    assert_logs_close(ours, theirs)


def test_evaluate_lists_a_repeated_metric_name_once():
    # Deliberate difference: Keras 3.15.1 lists a name given twice twice (checked here), so its
    # list has more values than its logs; kerasish gives each log value once, in Keras's order.
    kmodel, twin = dense_model()
    kmodel.compile(optimizer="sgd", loss="mse", metrics=["mse", "mse", "mae"])
    theirs = kmodel.evaluate(X, Y_REG, verbose=0, return_dict=True)
    k_list = kmodel.evaluate(X, Y_REG, verbose=0)
    assert k_list == [theirs[k] for k in ("loss", "mse", "mse", "mae", "mse_1")]
    model = ks.Model(twin, device="cpu").compile(optimizer="sgd", loss="mse", metrics=["mse", "mse", "mae"])
    ours = model.evaluate(X, Y_REG, verbose=0, return_dict=True)
    assert_logs_close(ours, theirs)
    assert model.evaluate(X, Y_REG, verbose=0) == [ours[k] for k in ("loss", "mse", "mae", "mse_1")]


def test_train_on_batch_list_order_multi_output():
    settings = dict(loss=["mse", "bce"], metrics=[["mse", "mae"], ["mse", "accuracy"]])
    kmodel, twin = dense_model(heads=HEADS, kind="list")
    kmodel.compile(optimizer="sgd", **settings)
    model = ks.Model(twin, device="cpu").compile(optimizer="sgd", **settings)
    np.testing.assert_allclose(model.train_on_batch(X, (Y_REG, Y_BIN)),
                               kmodel.train_on_batch(X, (Y_REG, Y_BIN)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.test_on_batch(X, (Y_REG, Y_BIN)),
                               kmodel.test_on_batch(X, (Y_REG, Y_BIN)), rtol=1e-5, atol=1e-6)


class SamplesSeen(ks.metrics.Metric):
    """Counts the samples it was updated with."""

    def __init__(self, name="samples_seen"):
        super().__init__(name)
        self.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.count = self.count + y_pred.shape[0]

    def result(self):
        return torch.tensor(float(self.count))

    def reset_state(self):
        self.count = 0


@pytest.mark.parametrize("call", ["fit", "evaluate", "train_on_batch", "test_on_batch"])
def test_the_first_batch_counts_once_in_the_metrics(call):
    # The first batch's metrics run before the optimizer step (Keras builds them first); the step
    # must then not count that batch a second time.
    _, twin = dense_model()
    model = ks.Model(twin, device="cpu").compile(optimizer="sgd", loss="mse", metrics=[SamplesSeen()])
    if call == "fit":
        logs = {k: v[-1] for k, v in model.fit(X, Y_REG, batch_size=4, epochs=2, verbose=0).history.items()}
    elif call == "evaluate":
        logs = model.evaluate(X, Y_REG, batch_size=4, verbose=0, return_dict=True)
    else:
        logs = getattr(model, call)(X, Y_REG, return_dict=True)
    assert logs["samples_seen"] == N


def test_a_single_tensor_output_takes_structured_targets_whole():
    # A custom loss may take any target structure: with one tensor output, y reaches it as it is.
    seen = []

    def pair_loss(y_pred, y_true):
        seen.append(type(y_true).__name__)
        first, second = y_true
        return ((y_pred - first) ** 2).mean() + ((y_pred - second) ** 2).mean()

    _, twin = dense_model()
    model = ks.Model(twin, device="cpu").compile(optimizer="sgd", loss=pair_loss)
    model.fit(X, (Y_REG, Y_REG * 2), batch_size=8, verbose=0)
    assert seen and set(seen) == {"tuple"}


def test_checking_validation_data_up_front_changes_nothing():
    # The up-front check runs the module in eval mode without gradients: a dropout model trains to
    # the same weights with or without validation data.
    def train(**kwargs):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 1))
        model = ks.Model(net, device="cpu").compile(optimizer="sgd", loss="mse")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model.fit(X, Y_REG, batch_size=4, epochs=2, verbose=0, **kwargs)
        return [p.detach().clone() for p in net.parameters()]

    plain, validated = train(), train(validation_data=(X, Y_REG))
    assert all(torch.equal(a, b) for a, b in zip(plain, validated))


def test_each_validation_starts_from_the_first_batch_whatever_validation_steps():
    # 5 validation batches, 2 read per validation: reading on would give other val_loss values.
    x_val = RNG.normal(size=(40, 3)).astype("float32") * np.arange(1, 41, dtype="float32")[:, None]
    y_val = RNG.normal(size=(40, 1)).astype("float32")
    fit = dict(batch_size=8, epochs=3, shuffle=False, verbose=0, validation_data=(x_val, y_val),
               validation_steps=2)
    kmodel, twin = dense_model()
    kmodel.compile(optimizer="sgd", loss="mse")
    theirs = kmodel.fit(X, Y_REG, **fit).history
    ours = ks.Model(twin, device="cpu").compile(optimizer="sgd", loss="mse").fit(X, Y_REG, **fit).history
    assert_logs_close(ours, theirs)
