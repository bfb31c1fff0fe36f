"""WandbMetricsLogger and WandbModelCheckpoint: W&B's Keras integration's keys and artifact names,
checked from the offline run file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import wandb

import kerasish as ks

from helpers import classification_data, mlp
from wandb_reader import read_run


@pytest.fixture
def run(tmp_path):
    run = wandb.init(project="kerasish-tests", dir=tmp_path)
    yield run
    if wandb.run is not None:
        wandb.run.finish()


def compiled():
    net = mlp()
    return ks.Model(net, device="cpu").compile(torch.optim.SGD(net.parameters(), lr=0.01),
                                               "cross_entropy", metrics=["accuracy"])


def test_metrics_logger_epoch_rows_use_wandbs_keras_keys(run, tmp_path):
    x, y = classification_data(n=64)
    history = compiled().fit(x, y, batch_size=16, epochs=2, validation_split=0.25, verbose=0,
                             callbacks=[ks.callbacks.WandbMetricsLogger()])
    run.finish()
    logged = read_run(tmp_path)
    rows = logged.rows_with("epoch/epoch")
    assert [row["epoch/epoch"] for row in rows] == [0, 1]
    for key, values in history.history.items():
        assert [row[f"epoch/{key}"] for row in rows] == pytest.approx(values)
    assert [row["epoch/learning_rate"] for row in rows] == pytest.approx([0.01, 0.01])
    assert logged.metrics["epoch/*"] == {"step_metric": "epoch/epoch", "glob": True}


def test_metrics_logger_batch_rows_follow_wandbs_batch_step(run, tmp_path):
    x, y = classification_data(n=80)  # 5 batches of 16 per epoch
    seen = []
    recorder = ks.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(dict(logs)))
    compiled().fit(x, y, batch_size=16, epochs=2, verbose=0,
                   callbacks=[ks.callbacks.WandbMetricsLogger(log_freq=2), recorder])
    run.finish()
    rows = read_run(tmp_path).rows_with("batch/batch_step")
    # as W&B's: rows where the batch index in its epoch is a multiple of 2; batch_step += 2
    assert [row["batch/batch_step"] for row in rows] == [0, 2, 4, 6, 8, 10]
    logged_batches = [0, 2, 4, 5, 7, 9]  # global batch numbers (0-based) of those rows
    assert [row["batch/loss"] for row in rows] == pytest.approx([seen[i]["loss"] for i in logged_batches])
    assert all(row["batch/learning_rate"] == pytest.approx(0.01) for row in rows)


def test_metrics_logger_needs_a_run_first():
    assert wandb.run is None
    with pytest.raises(wandb.Error, match="wandb.init"):
        ks.callbacks.WandbMetricsLogger()
    with pytest.raises(wandb.Error, match="wandb.init"):
        ks.callbacks.WandbModelCheckpoint("m.pt")


def test_model_checkpoint_logs_each_file_as_it_is_written_with_wandbs_names(run, tmp_path):
    x, y = classification_data(n=64)
    checkpoint = ks.callbacks.WandbModelCheckpoint(str(tmp_path / "ckpt" / "e{epoch:02d}.pt"),
                                                   save_weights_only=True)
    marker = ks.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: run.log({"mark": e}))
    compiled().fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[checkpoint, marker])
    run.finish()
    logged = read_run(tmp_path)
    assert [a.name for a in logged.artifacts] == [f"run_{run.id}_model"] * 2
    assert [sorted(a.aliases) for a in logged.artifacts] == [["epoch_0", "latest"], ["epoch_1", "latest"]]
    assert [a.manifest.contents[0].path for a in logged.artifacts] == ["e01.pt", "e02.pt"]
    # each artifact is logged right after its file, before the epoch's later rows
    order = [k for k in logged.kinds if k in ("artifact", "history")]
    assert order == ["artifact", "history", "artifact", "history"]
    assert [Path(f.path).name for f in checkpoint.saved] == ["e01.pt", "e02.pt"]
