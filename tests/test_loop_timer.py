"""LoopTimer: the epoch's time split adds up, and it adds no host reads."""

import time

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

import kerasish as ks
from kerasish.callbacks.loop_timer import LoopTimer

from helpers import classification_data, mlp


class SlowDataset(Dataset):
    """Each sample takes 2 ms to load: the split must put that under "data"."""

    def __init__(self):
        self.x, self.y = classification_data(n=40)

    def __len__(self):
        return 40

    def __getitem__(self, i):
        time.sleep(0.002)
        return self.x[i], self.y[i]


class SlowCallback(ks.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        time.sleep(0.01)


def test_time_split_attributes_data_and_callback_time(capsys):
    timer = LoopTimer(verbose=1)
    model = ks.Model(mlp()).compile("sgd", "cross_entropy")
    loader = DataLoader(SlowDataset(), batch_size=10)
    model.fit(loader, epochs=2, callbacks=[timer, SlowCallback()], verbose=0)
    assert len(timer.epochs) == 2
    for record in timer.epochs:
        assert record["data"] >= 40 * 0.002 * 0.9       # 40 samples x 2 ms
        assert record["callbacks"] >= 4 * 0.01 * 0.9    # 4 batches x 10 ms
        assert record["step"] > 0
        parts = record["data"] + record["step"] + record["callbacks"] + record["other"]
        assert parts == pytest.approx(record["total"], rel=1e-6)
        assert record["steps_per_second"] == pytest.approx(4 / record["total"], rel=1e-6)
    assert capsys.readouterr().out.count("LoopTimer epoch") == 2
    assert model.loop_clock is None  # detached after training


def test_loop_timer_adds_no_host_reads(monkeypatch):
    reads = []
    original = torch.Tensor.item
    monkeypatch.setattr(torch.Tensor, "item", lambda self: reads.append(1) or original(self))
    x, y = classification_data(n=64)
    model = ks.Model(mlp()).compile("sgd", "cross_entropy")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    without = len(reads)
    reads.clear()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[LoopTimer()])
    assert len(reads) == without
