"""TensorBoardCallback, checked from the event files it writes (read with TensorBoard's reader)."""

from __future__ import annotations

import sys
import warnings

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import plugin_data_pb2

import kerasish as ks

from helpers import classification_data, mlp, same_weights, weights_of

ALL = {kind: 0 for kind in event_accumulator.DEFAULT_SIZE_GUIDANCE}  # keep every event


def read(path) -> event_accumulator.EventAccumulator:
    reader = event_accumulator.EventAccumulator(str(path), size_guidance=ALL)
    reader.Reload()
    return reader


def scalars(reader, tag) -> dict[int, float]:
    return {event.step: event.value for event in reader.Scalars(tag)}


def compiled(net=None, lr=0.01):
    net = net if net is not None else mlp()
    return ks.Model(net, device="cpu").compile(torch.optim.SGD(net.parameters(), lr=lr),
                                               "cross_entropy", metrics=["accuracy"])


class BatchRecorder(ks.callbacks.Callback):
    """Keeps the running batch logs of every batch, keyed by the global batch number (1-based)."""

    def __init__(self):
        super().__init__()
        self.seen = 0
        self.logs: dict[int, dict[str, float]] = {}

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        self.logs[self.seen] = dict(logs)


def test_epoch_scalars_equal_history_in_keras_layout(tmp_path):
    x, y = classification_data()
    model = compiled()
    history = model.fit(x, y, batch_size=16, epochs=3, validation_split=0.25, verbose=0,
                        callbacks=[ks.callbacks.TensorBoard(tmp_path / "logs")])
    train, validation = read(tmp_path / "logs" / "train"), read(tmp_path / "logs" / "validation")
    for key in ("loss", "accuracy"):
        assert scalars(train, f"epoch_{key}") == pytest.approx(dict(enumerate(history.history[key])))
        assert scalars(validation, f"epoch_{key}") == pytest.approx(
            dict(enumerate(history.history[f"val_{key}"])))
    assert scalars(train, "epoch_learning_rate") == pytest.approx({0: 0.01, 1: 0.01, 2: 0.01})
    every_tag = train.Tags()["scalars"] + validation.Tags()["scalars"]
    assert not [tag for tag in every_tag if "val_" in tag]  # the prefix is the run, not the tag
    assert not [tag for tag in every_tag if tag.startswith("batch_")]  # update_freq="epoch"
    assert "epoch_steps_per_second" not in every_tag


def test_update_freq_writes_running_batch_values_every_n_batches_and_continues_across_fits(tmp_path):
    x, y = classification_data(n=96)  # 6 batches of 16 per epoch
    model = compiled()
    tb = ks.callbacks.TensorBoard(tmp_path, update_freq=4, write_steps_per_second=True)
    recorder = BatchRecorder()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[tb, recorder])
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[tb, recorder])  # 18 batches in all
    train = read(tmp_path / "train")
    expected = {step: recorder.logs[step]["loss"] for step in (4, 8, 12, 16)}
    assert scalars(train, "batch_loss") == pytest.approx(expected)
    assert scalars(train, "batch_accuracy") == pytest.approx(
        {step: recorder.logs[step]["accuracy"] for step in expected})
    assert sorted(scalars(train, "batch_steps_per_second")) == [4, 8, 12, 16]
    assert all(v > 0 for v in scalars(train, "epoch_steps_per_second").values())


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(every=st.integers(1, 7), batches=st.integers(1, 9), epochs=st.integers(1, 2))
def test_batch_steps_are_exactly_the_multiples_of_update_freq(tmp_path_factory, every, batches, epochs):
    log_dir = tmp_path_factory.mktemp("tb")
    x, y = classification_data(n=8 * batches)
    update_freq = "batch" if every == 1 else every
    compiled().fit(x, y, batch_size=8, epochs=epochs, verbose=0,
                   callbacks=[ks.callbacks.TensorBoard(log_dir, update_freq=update_freq)])
    train = read(log_dir / "train")
    written = sorted(scalars(train, "batch_loss")) if "batch_loss" in train.Tags()["scalars"] else []
    assert written == [s for s in range(1, batches * epochs + 1) if s % every == 0]


def test_histograms_of_weights_and_gradients_every_histogram_freq_epochs(tmp_path):
    x, y = classification_data()
    model = compiled()
    grads = {}

    class LastGradients(ks.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            grads[epoch] = {n: p.grad.clone() for n, p in model.module.named_parameters()}

    tb = ks.callbacks.TensorBoard(tmp_path, histogram_freq=2, write_images=True)
    model.fit(x, y, batch_size=32, epochs=5, verbose=0, callbacks=[tb, LastGradients()])
    train = read(tmp_path / "train")
    for name, param in model.module.named_parameters():
        weights = {e.step: e.histogram_value for e in train.Histograms(f"{name}/histogram")}
        gradients = {e.step: e.histogram_value for e in train.Histograms(f"{name}/gradient")}
        assert sorted(weights) == sorted(gradients) == [0, 2, 4]
        final = param.detach()  # the epoch-4 histogram is of the final weights
        assert weights[4].num == final.numel()
        assert weights[4].min == pytest.approx(final.min().item())
        assert weights[4].max == pytest.approx(final.max().item())
        assert gradients[2].sum == pytest.approx(grads[2][name].sum().item(), abs=1e-5)
        assert gradients[4].max == pytest.approx(grads[4][name].max().item())
        assert [e.step for e in train.Images(f"{name}/image")] == [0, 2, 4]


def test_graph_is_written_from_the_first_batch_without_changing_training(tmp_path):
    def net():
        torch.manual_seed(1)
        return torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
            torch.nn.Dropout(0.3), torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 3))

    x, y = classification_data(n=64, features=16)
    x = x.reshape(-1, 1, 4, 4)
    torch.manual_seed(2)
    plain = compiled(net())
    plain.fit(x, y, batch_size=16, epochs=2, verbose=0)
    torch.manual_seed(2)
    traced = compiled(net())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        traced.fit(x, y, batch_size=16, epochs=2, verbose=0,
                   callbacks=[ks.callbacks.TensorBoard(tmp_path)])
    assert not [w for w in caught if "TensorBoardCallback" in str(w.message)]
    graph = read(tmp_path / "train").Graph()
    ops = " ".join(node.op for node in graph.node)
    assert "conv" in ops.lower() and "batch_norm" in ops.lower()
    # Tracing ran in eval mode on one sample: batch-norm statistics (buffers are compared too),
    # dropout draws and the module's mode are exactly as without the callback.
    assert same_weights(weights_of(plain.module), weights_of(traced.module))
    assert traced.module.training


def test_a_module_that_cannot_be_traced_gives_one_warning_and_trains(tmp_path):
    class DictOutput(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(8, 3)

        def forward(self, x):
            return {"out": self.linear(x)}  # a dict output: strict tracing refuses it

    x, y = classification_data()
    model = ks.Model(DictOutput(), device="cpu").compile("sgd", {"out": "cross_entropy"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, {"out": y}, batch_size=32, epochs=2, verbose=0,
                            callbacks=[ks.callbacks.TensorBoard(tmp_path)])
    ours = [w for w in caught if "TensorBoardCallback" in str(w.message)]
    assert len(ours) == 1 and "could not trace" in str(ours[0].message)
    assert len(history.history["loss"]) == 2
    assert not read(tmp_path / "train").Tags()["graph"]


def test_hparams_and_final_metrics_are_written_to_log_dir_itself(tmp_path):
    x, y = classification_data()
    hparams = {"optimizer": "sgd", "learning_rate": 0.01, "hidden": 16, "augment": True, "unused": None}
    history = compiled().fit(x, y, batch_size=32, epochs=2, validation_split=0.25, verbose=0,
                             callbacks=[ks.callbacks.TensorBoard(tmp_path, hparams=hparams)])
    root = read(tmp_path)
    content = root.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    values = start.session_start_info.hparams
    assert values["optimizer"].string_value == "sgd"
    assert values["learning_rate"].number_value == pytest.approx(0.01)
    assert values["hidden"].number_value == 16
    assert values["augment"].number_value == 1
    assert "unused" not in values
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    assert {m.name.tag for m in experiment.metric_infos} == {
        "hparams/loss", "hparams/val_loss", "hparams/accuracy", "hparams/val_accuracy"}
    for key in ("loss", "val_loss", "val_accuracy"):
        assert list(scalars(root, f"hparams/{key}").values()) == pytest.approx([history.history[key][-1]])


def test_each_epoch_is_on_disk_when_the_epoch_ends(tmp_path):
    seen = []

    class ReadsBack(ks.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(sorted(scalars(read(tmp_path / "train"), "epoch_loss")))

    x, y = classification_data()
    compiled().fit(x, y, batch_size=32, epochs=2, verbose=0,
                   callbacks=[ks.callbacks.TensorBoard(tmp_path), ReadsBack()])
    assert seen == [[0], [0, 1]]


def test_learning_rate_from_the_logs_wins_over_the_optimizer(tmp_path):
    class Halve(ks.callbacks.Callback):  # what a scheduler does: change the rate, report it
        def on_epoch_end(self, epoch, logs=None):
            self.model.learning_rate = self.model.learning_rate / 2
            logs["learning_rate"] = 123.0

    x, y = classification_data()
    compiled().fit(x, y, batch_size=32, epochs=2, verbose=0,
                   callbacks=[Halve(), ks.callbacks.TensorBoard(tmp_path)])
    assert scalars(read(tmp_path / "train"), "epoch_learning_rate") == {0: 123.0, 1: 123.0}


@pytest.mark.parametrize("bad", [{"update_freq": "often"}, {"update_freq": 0},
                                 {"histogram_freq": -1}, {"hparams": [("lr", 1)]}])
def test_bad_arguments_are_refused_with_the_allowed_values(tmp_path, bad):
    with pytest.raises((ValueError, TypeError)):
        ks.callbacks.TensorBoard(tmp_path, **bad)


def test_without_tensorboard_installed_the_error_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import now fails
    with pytest.raises(ImportError, match=r"kerasish\[tensorboard\]"):
        ks.callbacks.TensorBoardCallback(tmp_path)


def test_alias_and_nothing_written_before_training(tmp_path):
    assert ks.callbacks.TensorBoard is ks.callbacks.TensorBoardCallback
    ks.callbacks.TensorBoard(tmp_path / "logs")
    assert not (tmp_path / "logs").exists()
