"""Each example runs offline with its small settings and writes what it promises."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tensorboard.backend.event_processing import event_accumulator

from wandb_reader import read_run

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name: str, tmp_path: Path, *args: str) -> str:
    env = dict(os.environ, WANDB_MODE="offline", WANDB_DIR=str(tmp_path), WANDB_SILENT="true")
    result = subprocess.run([sys.executable, str(EXAMPLES / name), "--small", *args], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_ignite_port_logs_iteration_loss_validation_metrics_lr_and_gradients(tmp_path):
    output = run_example("ignite_wandb_port.py", tmp_path, "--log-interval", "2")
    assert "validation accuracy:" in output
    run = read_run(tmp_path)
    assert run.exit_code == 0
    assert run.config["lr"] == 0.01 and run.config["momentum"] == 0.5
    assert run.config["optimizer"] == "SGD" and run.config["loss"] == "nll"
    assert [row["batch/step"] for row in run.rows_with("batch/loss")] == [2, 4, 6, 8, 10, 12]
    epochs = run.rows_with("epoch")
    assert [row["epoch"] for row in epochs] == [0, 1]
    assert all({"val_loss", "val_accuracy", "learning_rate"} <= row.keys() for row in epochs)
    gradients = run.rows_with("gradients/conv1.weight")
    assert gradients and gradients[0]["gradients/conv1.weight"]["_type"] == "histogram"


def test_wandb_pipeline_logs_config_histograms_and_test_accuracy(tmp_path):
    output = run_example("wandb_pipeline.py", tmp_path)
    accuracy = float(re.search(r"test images: ([0-9.]+)%", output).group(1)) / 100
    run = read_run(tmp_path)
    assert run.exit_code == 0
    assert run.config["kernels"] == [16, 32] and run.config["architecture"] == "CNN"
    assert [row["test_accuracy"] for row in run.rows_with("test_accuracy")] == [
        pytest.approx(accuracy, abs=1e-4)]
    watched = run.rows_with("parameters/fc.weight")
    assert [row["batch/step"] for row in watched] == [10, 20]
    assert all("gradients/layer1.0.weight" in row for row in watched)
    # onnx and onnxscript come with the dev extra: the export is saved into the run's files
    exported = list((tmp_path / "wandb").glob("offline-run-*/files/model.onnx"))
    assert len(exported) == 1 and exported[0].stat().st_size > 1000


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
    assert train.Tags()["graph"]
    assert [e.step for e in train.Histograms("0.weight/gradient")] == [0, 1]
    assert [e.step for e in predictions.Images("predictions vs. actuals")] == [0, 1]
    assert "_hparams_/session_start_info" in read("").PluginTagToContent("hparams")


def test_keras_port_trains_evaluates_and_saves_the_curves(tmp_path):
    output = run_example("keras_port.py", tmp_path)
    assert "Epoch 2/2" in output
    assert 0.0 <= float(re.search(r"Test accuracy: ([0-9.]+)", output).group(1)) <= 1.0
    assert (tmp_path / "history.png").read_bytes()[:4] == b"\x89PNG"
