"""What both trackers write at a logging interval: each step's own loss (log_batch="step") and
every param group's optimizer values, read back from TensorBoard's and W&B's files."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import wandb
from tensorboard.backend.event_processing import event_accumulator

import kerasish as ks

from helpers import classification_data, mlp
from wandb_reader import read_run


@pytest.fixture
def wandb_dir(tmp_path):
    yield tmp_path / "wandb"
    if wandb.run is not None:
        wandb.run.finish()


def scalars(log_dir, tag):
    reader = event_accumulator.EventAccumulator(str(log_dir), size_guidance={
        kind: 0 for kind in event_accumulator.DEFAULT_SIZE_GUIDANCE})
    reader.Reload()
    return {e.step: e.value for e in reader.Scalars(tag)}


@pytest.mark.parametrize("every,n", [(1, 80), (2, 80), (1, 76), (5, 76)],
                         ids=["every-1", "every-2", "smaller-last-batch", "only-last-batches"])
def test_step_mode_writes_each_written_steps_own_loss(tmp_path, wandb_dir, every, n):
    x, y = classification_data(n=n)  # 5 batches per epoch (the last of 12 samples when n=76)
    net = mlp()
    model = ks.Model(net, device="cpu").compile(torch.optim.SGD(net.parameters(), lr=0.0),
                                                "cross_entropy")  # fixed weights: known losses
    with torch.no_grad():
        own = [F.cross_entropy(net(torch.as_tensor(x[i:i + 16])), torch.as_tensor(y[i:i + 16])).item()
               for i in range(0, n, 16)]
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, callbacks=[
        ks.callbacks.TensorBoard(tmp_path / "tb", update_freq=every, log_batch="step"),
        ks.callbacks.WandbCallback(log_freq=every, log_batch="step", dir=wandb_dir)])
    # every written step, each epoch's last (smaller) batch included: the trackers count samples
    steps = [s for s in range(1, 11) if s % every == 0]
    expected = {s: own[(s - 1) % 5] for s in steps}
    assert scalars(tmp_path / "tb" / "train", "batch_loss") == pytest.approx(expected, abs=1e-5)
    rows = read_run(wandb_dir).rows_with("batch/loss")
    assert {row["batch/step"]: row["batch/loss"] for row in rows} == pytest.approx(expected, abs=1e-5)
    assert len(set(own)) == 5  # the batches' losses differ: running means would not match


def test_step_mode_reads_the_device_only_at_logging_intervals(host_reads):  # noqa: F811
    def reads(n, every, tmp):
        x, y = classification_data(n=n)
        model = ks.Model(mlp(), device="cpu").compile("sgd", "cross_entropy")
        host_reads["n"] = 0
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[
            ks.callbacks.TensorBoard(tmp, update_freq=every, log_batch="step", write_graph=False)])
        return host_reads["n"]

    import tempfile

    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        assert reads(64, 4, a) == reads(640, 40, b)  # 8 or 80 steps per epoch, 2 writes each


def test_optimizer_values_of_every_param_group(tmp_path, wandb_dir):
    x, y = classification_data(n=64)
    net = mlp()
    optimizer = torch.optim.SGD([{"params": net[0].parameters(), "lr": 0.1, "momentum": 0.9},
                                 {"params": net[2].parameters(), "lr": 0.01, "momentum": 0.5}])
    model = ks.Model(net, device="cpu").compile(optimizer, "cross_entropy")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[
        ks.callbacks.TensorBoard(tmp_path / "tb", update_freq=2, log_optimizer_params=True),
        ks.callbacks.WandbCallback(log_freq=2, log_optimizer_params=True, dir=wandb_dir)])
    expected = {"lr/group_0": 0.1, "lr/group_1": 0.01, "momentum/group_0": 0.9, "momentum/group_1": 0.5}
    for key, value in expected.items():
        assert scalars(tmp_path / "tb" / "train", f"epoch_{key}") == pytest.approx({0: value})
        assert scalars(tmp_path / "tb" / "train", f"batch_{key}") == pytest.approx({2: value, 4: value})
    run = read_run(wandb_dir)
    (epoch_row,) = run.rows_with("epoch")
    assert {k: epoch_row[k] for k in expected} == pytest.approx(expected)
    batch_rows = run.rows_with("batch/lr/group_1")
    assert [row["batch/step"] for row in batch_rows] == [2, 4]
    assert all(row["batch/momentum/group_0"] == pytest.approx(0.9) for row in batch_rows)


def test_adam_betas_are_written_per_group(tmp_path):
    x, y = classification_data(n=32)
    net = mlp()
    model = ks.Model(net, device="cpu").compile(
        torch.optim.Adam(net.parameters(), lr=0.002, betas=(0.8, 0.95)), "cross_entropy")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[
        ks.callbacks.TensorBoard(tmp_path, log_optimizer_params=True)])
    assert scalars(tmp_path / "train", "epoch_beta1/group_0") == pytest.approx({0: 0.8})
    assert scalars(tmp_path / "train", "epoch_beta2/group_0") == pytest.approx({0: 0.95})
    assert scalars(tmp_path / "train", "epoch_lr/group_0") == pytest.approx({0: 0.002})
