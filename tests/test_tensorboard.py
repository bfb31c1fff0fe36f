"""TensorBoardCallback, checked from the event files it writes (read with TensorBoard's reader)."""

from __future__ import annotations

import os
import sys
import threading
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import plugin_data_pb2

import kerasish as ks

from helpers import Crash, classification_data, mlp, same_weights, weights_of

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


def test_each_param_group_gets_its_own_learning_rate(tmp_path):
    """Two param groups: one ``epoch_learning_rate/group_N`` each (as W&B's), not group 0's only."""
    x, y = classification_data()
    net = mlp()
    first, *rest = list(net.parameters())
    optimizer = torch.optim.SGD([{"params": [first], "lr": 0.1}, {"params": rest, "lr": 0.01}])
    ks.Model(net).compile(optimizer, "cross_entropy").fit(
        x, y, batch_size=32, epochs=2, verbose=0, callbacks=[ks.callbacks.TensorBoard(tmp_path)])
    train = read(tmp_path / "train")
    assert scalars(train, "epoch_learning_rate/group_0") == pytest.approx({0: 0.1, 1: 0.1})
    assert scalars(train, "epoch_learning_rate/group_1") == pytest.approx({0: 0.01, 1: 0.01})


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


# ---------------------------------------------------------------------------- steps across fits



def test_evaluate_writes_evaluation_values_at_the_training_step_and_closes_its_writers(tmp_path):
    x, y = classification_data(n=64)
    model = compiled()
    tb = ks.callbacks.TensorBoard(tmp_path / "fit")
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[tb])  # no validation data
    threads = threading.active_count()
    first = model.evaluate(x, y, verbose=0, callbacks=[tb], return_dict=True)
    assert threading.active_count() == threads  # the writers it opened are closed again
    # a new callback object, evaluate only: lazily opened writers, the model's step
    model.evaluate(x[:32], y[:32], verbose=0, callbacks=[ks.callbacks.TensorBoard(tmp_path / "eval")])
    second = model.evaluate(x[:32], y[:32], verbose=0, return_dict=True)
    assert threading.active_count() == threads
    validation = read(tmp_path / "fit" / "validation")
    assert scalars(validation, "evaluation_loss_vs_iterations") == pytest.approx({8: first["loss"]})
    assert scalars(validation, "evaluation_accuracy_vs_iterations") == pytest.approx(
        {8: first["accuracy"]})
    assert scalars(read(tmp_path / "eval" / "validation"), "evaluation_loss_vs_iterations") == \
        pytest.approx({8: second["loss"]})
    assert not (tmp_path / "eval" / "train").exists()


def test_staged_fits_with_one_callback_continue_epoch_and_batch_steps(tmp_path):
    x, y = classification_data(n=64)
    model = compiled()
    tb = ks.callbacks.TensorBoard(tmp_path, update_freq=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to shift: initial_epoch continues the epochs
        model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[tb])
        model.fit(x, y, batch_size=16, epochs=4, initial_epoch=2, verbose=0, callbacks=[tb])
    train = read(tmp_path / "train")
    assert sorted(scalars(train, "epoch_loss")) == [0, 1, 2, 3]
    assert sorted(scalars(train, "batch_loss")) == list(range(1, 17))


def test_a_fresh_run_on_a_used_log_dir_gets_its_own_run_folder(tmp_path):
    x, y = classification_data(n=64)
    histories = []
    for _ in range(3):  # the same script run three times with the default-like folder
        histories.append(compiled().fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[
            ks.callbacks.TensorBoard(tmp_path, update_freq=2)]).history["loss"])
    for folder, history in zip([tmp_path, tmp_path / "run-2", tmp_path / "run-3"], histories):
        train = read(folder / "train")
        assert scalars(train, "epoch_loss") == pytest.approx(dict(enumerate(history)))
        assert sorted(scalars(train, "batch_loss")) == [2, 4, 6, 8]
    assert not (tmp_path / "run-2" / "run-3").exists()


def test_a_new_callback_continuing_a_run_never_writes_steps_backwards(tmp_path):
    x, y = classification_data(n=64)
    model = compiled()
    first = model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[
        ks.callbacks.TensorBoard(tmp_path, update_freq=2)]).history["loss"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        second = model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[
            ks.callbacks.TensorBoard(tmp_path, update_freq=2)]).history["loss"]
    assert [str(w.message) for w in caught if "already holds epoch steps up to 1" in str(w.message)]
    train = read(tmp_path / "train")
    assert scalars(train, "epoch_loss") == pytest.approx(dict(enumerate(first + second)))
    assert sorted(scalars(train, "batch_loss")) == [2, 4, 6, 8, 10, 12, 14, 16]
    assert not (tmp_path / "run-2").exists()


def test_a_resumed_fit_continues_its_steps_and_hides_what_followed_the_backup(tmp_path):
    x, y = classification_data(n=48)  # 3 batches of 16 per epoch
    backup, log_dir = tmp_path / "backup", tmp_path / "logs"

    def attempt(crash_at=None):
        torch.manual_seed(0)
        recorder, tb, model = BatchRecorder(), ks.callbacks.TensorBoard(log_dir, update_freq=1), compiled()
        callbacks = [ks.callbacks.BackupAndRestore(backup, save_freq=2), tb, recorder]
        callbacks += [Crash(crash_at)] if crash_at else []
        model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0, callbacks=callbacks)
        return recorder, tb, model

    with pytest.raises(RuntimeError, match="job killed"):
        attempt(crash_at=5)  # batch 5 is written, the backup holds batch 4
    resumed, tb, model = attempt()
    # the same callback goes on with a later stage: the resume's hiding is not repeated
    model.fit(x, y, batch_size=16, epochs=4, initial_epoch=3, verbose=0, callbacks=[tb])
    events = read(log_dir / "train").Scalars("batch_loss")
    assert [e.step for e in events] == list(range(1, 13))  # step 5 once: the interrupted one hidden
    losses = {e.step: e.value for e in events}
    assert [losses[5 + i] for i in range(5)] == pytest.approx(
        [resumed.logs[i + 1]["loss"] for i in range(5)])
    assert sorted(scalars(read(log_dir / "train"), "epoch_loss")) == [0, 1, 2, 3]


def test_failing_fits_close_their_writers_and_keep_what_was_written(tmp_path):
    x, y = classification_data(n=32)
    model = compiled()
    fit_with(model, x, y, ks.callbacks.TensorBoard(tmp_path / "warmup", update_freq=1))
    threads = threading.active_count()
    for attempt in range(20):
        with pytest.raises(RuntimeError, match="job killed"):
            fit_with(model, x, y, ks.callbacks.TensorBoard(tmp_path / f"{attempt}", update_freq=1,
                                                           histogram_freq=1), Crash(2))
    assert threading.active_count() == threads  # no writer thread left behind
    assert sorted(scalars(read(tmp_path / "19" / "train"), "batch_loss")) == [
        model.optimizer_steps - 1, model.optimizer_steps]  # flushed before the error propagated


def fit_with(model, x, y, *callbacks):
    return model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=list(callbacks))


def test_an_unwritable_log_dir_warns_once_and_training_goes_on(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    x, y = classification_data(n=64)
    model = compiled()
    before = weights_of(model.module)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = fit_with(model, x, y, ks.callbacks.TensorBoard(blocker / "logs", update_freq=1,
                                                                 histogram_freq=1, hparams={"a": 1}))
    ours = [w for w in caught if "TensorBoardCallback" in str(w.message)]
    assert len(ours) == 1 and "stopped writing" in str(ours[0].message)
    assert len(history.history["loss"]) == 2 and not same_weights(before, weights_of(model.module))


FULL_DISK = """
import resource, signal, sys, warnings
sys.path.insert(0, {tests!r})
import torch, kerasish as ks
from helpers import classification_data, mlp
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)          # writes past the limit fail with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (30_000, resource.RLIM_INFINITY))
x, y = classification_data(n=64)
model = ks.Model(mlp(), device="cpu").compile("sgd", "cross_entropy")
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    history = model.fit(x, y, batch_size=16, epochs=20, verbose=0, callbacks=[
        ks.callbacks.TensorBoard({log_dir!r}, update_freq=1, histogram_freq=1)])
ours = [str(w.message) for w in caught if "TensorBoardCallback" in str(w.message)]
print(len(ours), len(history.history["loss"]), ours[0][:200] if ours else "")
"""


def test_a_full_disk_mid_training_warns_once_and_training_goes_on(tmp_path):
    import subprocess
    from pathlib import Path

    tests = str(Path(__file__).parent)
    script = FULL_DISK.format(tests=tests, log_dir=str(tmp_path / "logs"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(tests).parent), tests])}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    warned, epochs, message = result.stdout.strip().split(" ", 2)
    assert (warned, epochs) == ("1", "20")
    assert "stopped writing" in message and "File too large" in message


# ---------------------------------------------------------------------------- Keras's other arguments


def test_profile_batch_writes_a_torch_profiler_trace_of_those_batches(tmp_path):
    x, y = classification_data(n=64)
    fit_with(compiled(), x, y, ks.callbacks.TensorBoard(tmp_path, profile_batch=(2, 3)))
    (trace,) = (tmp_path / "train").glob("*.pt.trace.json")
    assert "aten::addmm" in trace.read_text()  # the training steps' operations were recorded


def test_embeddings_freq_writes_each_embedding_to_the_projector(tmp_path):
    class Bag(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.words = torch.nn.Embedding(5, 4)
            self.out = torch.nn.Linear(4, 3)

        def forward(self, tokens):
            return self.out(self.words(tokens).mean(dim=1))

    labels = tmp_path / "labels.tsv"
    labels.write_text("a\nb\nc\nd\ne\n")
    tokens = np.random.default_rng(0).integers(0, 5, size=(32, 6))
    model = ks.Model(Bag(), device="cpu").compile("sgd", "cross_entropy")
    model.fit(tokens, tokens[:, 0] % 3, batch_size=16, epochs=3, verbose=0, callbacks=[
        ks.callbacks.TensorBoard(tmp_path / "logs", embeddings_freq=2,
                                 embeddings_metadata={"words": str(labels)})])
    config = (tmp_path / "logs" / "train" / "projector_config.pbtxt").read_text()
    assert config.count("embeddings {") == 2  # epochs 0 and 2
    assert 'tensor_name: "words:00000"' in config and 'tensor_name: "words:00002"' in config
    (metadata,) = (tmp_path / "logs" / "train").glob("00002/words/metadata.tsv")
    assert metadata.read_text().split() == ["a", "b", "c", "d", "e"]
    (tensors,) = (tmp_path / "logs" / "train").glob("00002/words/tensors.tsv")  # the final weights
    rows = [list(map(float, line.split("\t"))) for line in tensors.read_text().splitlines()]
    assert np.allclose(rows, model.module.words.weight.detach().numpy(), atol=1e-6)


@pytest.mark.parametrize("bad", [{"profile_batch": -1}, {"profile_batch": (3, 2)},
                                 {"profile_batch": "x,y"}, {"embeddings_freq": -1},
                                 {"log_batch": "sometimes"}])
def test_bad_keras_arguments_are_refused(tmp_path, bad):
    with pytest.raises(ValueError):
        ks.callbacks.TensorBoard(tmp_path, **bad)
