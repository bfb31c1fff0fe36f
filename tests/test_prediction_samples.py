"""PredictionSamples: predictions beside labels in the W&B run (table, images) and TensorBoard."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import wandb
from tensorboard.backend.event_processing import event_accumulator

import kerasish as ks

from wandb_reader import read_run

NAMES = ["zero", "one", "two"]


@pytest.fixture
def wandb_dir(tmp_path):
    yield tmp_path
    if wandb.run is not None:
        wandb.run.finish()


def images(n=48):
    rng = np.random.default_rng(0)
    y = np.arange(n) % 3
    x = rng.normal(size=(n, 1, 6, 6)).astype("float32") + y[:, None, None, None]
    return x, y.astype("int64")


def cnn():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(36, 3))


def test_tables_images_and_tensorboard_show_each_epochs_predictions(wandb_dir, tmp_path):
    x, y = images()
    model = ks.Model(cnn(), device="cpu").compile("adam", "cross_entropy")
    samples = ks.callbacks.PredictionSamples(x[:4], y[:4], max_samples=4, class_names=NAMES,
                                             log_dir=tmp_path / "tb")
    model.fit(x, y, batch_size=16, epochs=2, validation_split=0.25, verbose=0,
              callbacks=[ks.callbacks.WandbCallback(dir=wandb_dir / "wandb"), samples])
    final = model.predict(x[:4], verbose=0)
    predicted = [NAMES[i] for i in final.argmax(axis=1)]
    confidence = torch.softmax(torch.as_tensor(final), -1).max(-1).values.tolist()

    run = read_run(wandb_dir / "wandb")
    tables = run.rows_with("predictions/table")
    assert len(tables) == 2
    (table_file,) = (wandb_dir / "wandb").glob("**/files/" + tables[-1]["predictions/table"]["path"])
    table = json.loads(table_file.read_text())
    assert table["columns"] == ["epoch", "index", "image", "prediction", "label", "confidence"]
    assert [row[0] for row in table["data"]] == [1] * 4
    assert [row[3] for row in table["data"]] == predicted
    assert [row[4] for row in table["data"]] == [NAMES[i] for i in y[:4]]
    assert [row[5] for row in table["data"]] == pytest.approx(confidence, abs=1e-6)
    shown = tables[-1]["predictions/images"]
    assert shown["count"] == 4 and shown["captions"][0] == (
        f"pred {predicted[0]} ({confidence[0]:.0%}) / label {NAMES[y[0]]}")

    reader = event_accumulator.EventAccumulator(str(tmp_path / "tb"), size_guidance={
        kind: 0 for kind in event_accumulator.DEFAULT_SIZE_GUIDANCE})
    reader.Reload()
    assert [e.step for e in reader.Images("predictions")] == [0, 1]
    text = reader.Tensors("predictions/text/text_summary")[-1].tensor_proto.string_val[0].decode()
    assert f"| 0 | {predicted[0]} | {NAMES[y[0]]} | {confidence[0]:.3f} |" in text


def test_every_n_epochs_and_no_run_means_tensorboard_only(tmp_path):
    x, y = images()
    model = ks.Model(cnn(), device="cpu").compile("adam", "cross_entropy")
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[
        ks.callbacks.PredictionSamples(x, y, every=2, max_samples=2, log_dir=tmp_path)])
    reader = event_accumulator.EventAccumulator(str(tmp_path))
    reader.Reload()
    assert [e.step for e in reader.Images("predictions")] == [1]
    assert model.module.training  # predicting at epoch end left the module's mode as it was
    assert wandb.run is None and not list(Path(tmp_path).glob("**/*.wandb"))
