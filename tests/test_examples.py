"""Each example runs offline with its small settings and writes what it promises."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from kerasish.export import unavailable_reason

from wandb_reader import read_run

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name: str, tmp_path: Path, *args: str) -> str:
    # The kerasish of this checkout, whatever an editable install elsewhere points at.
    path = os.pathsep.join(p for p in (str(EXAMPLES.parent), os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, WANDB_MODE="offline", WANDB_DIR=str(tmp_path), WANDB_SILENT="true",
               PYTHONPATH=path)
    result = subprocess.run([sys.executable, str(EXAMPLES / name), "--small", *args], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "is not in the logs" not in result.stderr, result.stderr[-3000:]  # no monitor left unmet
    return result.stdout


def test_ignite_port_logs_iteration_loss_validation_metrics_lr_and_gradients(tmp_path):
    # the guide's own flag spellings
    output = run_example("ignite_wandb_port.py", tmp_path, "--log_interval", "2", "--batch_size", "64")
    assert "validation accuracy:" in output
    run = read_run(tmp_path)
    assert run.exit_code == 0
    assert run.config["lr"] == 0.01 and run.config["momentum"] == 0.5
    assert run.config["batch_size"] == 64 and run.config["log_interval"] == 2
    assert run.config["optimizer"] == "SGD" and run.config["loss"] == "nll"
    assert run.config["data"] == "digits"
    # each logged iteration's own loss, an epoch's last batch (6 per epoch) included
    assert [row["batch/step"] for row in run.rows_with("batch/loss")] == [2, 4, 6, 8, 10, 12]
    lr_rows = run.rows_with("batch/lr/group_0")
    assert [row["batch/step"] for row in lr_rows] == [2, 4, 6, 8, 10, 12]
    assert all(row["batch/momentum/group_0"] == 0.5 for row in lr_rows)
    epochs = run.rows_with("epoch")
    assert [row["epoch"] for row in epochs] == [0, 1]
    assert all({"val_loss", "val_accuracy", "learning_rate"} <= row.keys() for row in epochs)
    gradients = run.rows_with("gradients/conv1.weight")
    assert gradients and gradients[0]["gradients/conv1.weight"]["_type"] == "histogram"


def test_ignite_port_accepts_the_dashed_flags_too(tmp_path):
    result = subprocess.run([sys.executable, str(EXAMPLES / "ignite_wandb_port.py"), "--help"],
                            capture_output=True, text=True, timeout=60)
    assert "--batch_size BATCH_SIZE, --batch-size BATCH_SIZE" in result.stdout
    assert "--log_interval LOG_INTERVAL, --log-interval LOG_INTERVAL" in result.stdout


@pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))
def test_wandb_pipeline_logs_config_histograms_test_accuracy_and_a_whole_onnx_model(tmp_path):
    import onnx
    output = run_example("wandb_pipeline.py", tmp_path, "--data", "mnist")  # offline: falls back
    accuracy = float(re.search(r"test images: ([0-9.]+)%", output).group(1)) / 100
    run = read_run(tmp_path)
    assert run.exit_code == 0
    assert run.config["kernels"] == [16, 32] and run.config["architecture"] == "CNN"
    assert run.config["dataset"] == "digits" and run.config["dataset_requested"] == "mnist"
    assert [row["test_accuracy"] for row in run.rows_with("test_accuracy")] == [
        pytest.approx(accuracy, abs=1e-4)]
    watched = run.rows_with("parameters/fc.weight")
    assert [row["batch/step"] for row in watched] == [10, 20]
    assert all("gradients/layer1.0.weight" in row for row in watched)
    (files,) = (tmp_path / "wandb").glob("offline-run-*/files")
    assert sorted(p.name for p in files.glob("model.onnx*")) == ["model.onnx"]  # no .data file
    model = onnx.load(str(files / "model.onnx"))
    onnx.checker.check_model(model, full_check=True)
    weights = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    assert weights >= 16 * 25 + 16 + 32 * 16 * 25 + 32 + 7 * 7 * 32 * 10 + 10  # all in the file


def test_wandb_sweep_train_uses_the_configs_values_offline(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    sweep = importlib.import_module("wandb_sweep")
    values = {"learning_rate": 0.003, "optimizer": "sgd", "batch_size": 32, "dropout": 0.0,
              "hidden": 32, "epochs": 2}
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = sweep.train(values, small=True, dir=str(tmp_path), mode="offline")
    assert not [w for w in caught if "WandbCallback" in str(w.message)]  # config = what ran
    run = read_run(tmp_path)
    assert run.run_id == result["run_id"] and run.exit_code == 0
    assert {k: run.config[k] for k in values} == values
    assert run.config["optimizer"] == "sgd" and run.config["data"] == "digits"
    epochs = run.rows_with("epoch")
    assert [row["epoch"] for row in epochs] == [0, 1]
    assert [row["learning_rate"] for row in epochs] == pytest.approx([0.003, 0.003])
    assert epochs[-1]["val_accuracy"] == pytest.approx(result["val_accuracy"])
    assert sweep.SWEEP["metric"]["name"] in epochs[-1]


def test_tensorboard_monitoring_writes_scalars_graph_histograms_and_predictions(tmp_path):
    run_example("tensorboard_monitoring.py", tmp_path, "--log-dir", "runs/x")
    guidance = {kind: 0 for kind in event_accumulator.DEFAULT_SIZE_GUIDANCE}

    def read(sub):
        reader = event_accumulator.EventAccumulator(str(tmp_path / "runs" / "x" / sub), guidance)
        return reader.Reload()

    train, validation, predictions = read("train"), read("validation"), read("predictions")
    assert [e.step for e in train.Scalars("epoch_loss")] == [0, 1]
    assert [e.step for e in validation.Scalars("epoch_accuracy")] == [0, 1]
    assert [e.step for e in train.Scalars("batch_loss")] == [10, 20]
    # validation after each epoch, then the final evaluate, at the training step reached
    assert [e.step for e in validation.Scalars("evaluation_loss_vs_iterations")] == [12, 24, 24]
    assert train.Tags()["graph"]
    assert [e.step for e in train.Histograms("0.weight/gradient")] == [0, 1]
    assert [e.step for e in predictions.Images("predictions")] == [0, 1]
    content = read("").PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    assert start.session_start_info.hparams["data"].string_value == "digits"


def test_keras_port_trains_evaluates_and_saves_the_curves(tmp_path):
    output = run_example("keras_port.py", tmp_path)
    assert "Epoch 2/2" in output
    assert 0.0 <= float(re.search(r"Test accuracy: ([0-9.]+)", output).group(1)) <= 1.0
    assert (tmp_path / "history.png").read_bytes()[:4] == b"\x89PNG"
