"""BackupAndRestore: exact mid-epoch resume (also across a SIGKILL), fallbacks, cleanup, bad input."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import kerasish as ks

from helpers import InterruptAfter, Interrupted, mlp, same_weights, weights_of


class Batches(ks.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_batch_begin(self, batch, logs=None):
        self.seen.append((self.model.epoch, batch))


def data(n=32):
    x = np.random.default_rng(0).normal(size=(n, 4)).astype("float32")
    return x, (x[:, 0] + x[:, 1] > 0).astype("int64")


def new_model(seed=0):
    torch.manual_seed(seed)
    return ks.Model(mlp(4, 16, 2, dropout=0.3), device="cpu").compile("adam", "cross_entropy")


def fit(model, callbacks, epochs=3):
    # 32 samples, batch 8: 4 batches per epoch, shuffled, with dropout.
    return model.fit(*data(), batch_size=8, epochs=epochs, verbose=0, callbacks=callbacks)


def uninterrupted(epochs=3):
    model = new_model()
    fit(model, [], epochs=epochs)
    return weights_of(model.module)


def interrupt(backup, at, seed=0, extra=()):
    with pytest.raises(Interrupted):
        fit(new_model(seed), [*extra, backup, InterruptAfter(at)])


@pytest.mark.parametrize("save_freq,interrupt_at,resumes_at", [
    (3, 7, (1, 2)),          # last backup after global batch 6: epoch 1, 2 batches done
    (1, 5, (1, 1)),          # right after the first batch of epoch 1
    (4, 9, (2, 0)),          # a backup on an epoch's last batch resumes at the next epoch
    ("epoch", 10, (2, 0)),   # epoch backups redo the interrupted epoch from its start
])
def test_resumes_mid_epoch_with_identical_weights(tmp_path, save_freq, interrupt_at, resumes_at):
    expected = uninterrupted()
    interrupt(ks.callbacks.BackupAndRestore(tmp_path, save_freq=save_freq), interrupt_at)
    state = torch.load(tmp_path / "backup.pt", weights_only=True)
    assert (state["epoch"], state["step_in_epoch"]) == resumes_at
    resumed, batches = new_model(seed=123), Batches()   # other init and RNG: all must come back
    history = fit(resumed, [ks.callbacks.BackupAndRestore(tmp_path, save_freq=save_freq), batches])
    epoch, done = resumes_at
    assert batches.seen[0] == (epoch, done) and len(batches.seen) == 12 - 4 * epoch - done
    assert history.epoch == list(range(epoch, 3))
    assert same_weights(weights_of(resumed.module), expected)
    assert not tmp_path.exists()                         # deleted after the successful fit


def test_killed_process_resumes_bit_identical(tmp_path):
    """SIGKILL mid-epoch, resume in a new process: the same final weights as an uninterrupted run.

    The model uses dropout (torch RNG) and noise from NumPy and Python's random module, the data is
    shuffled, a torch LR scheduler steps per batch and a CSVLogger writes rows.
    """
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""
        import os, random, signal, sys
        import numpy as np, torch
        torch.set_num_threads(1)
        import kerasish as ks

        backup_dir, out, kill_at, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
        torch.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed)

        class Noisy(torch.nn.Module):
            def forward(self, x):
                if self.training:
                    x = x + 0.01 * (np.random.rand() + random.random())
                return x

        rng = np.random.default_rng(0)
        x = rng.normal(size=(120, 8)).astype("float32")
        y = x[:, :3].argmax(1).astype("int64")
        net = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                                  Noisy(), torch.nn.Linear(32, 3))
        model = ks.Model(net, device="cpu").compile("adam", "cross_entropy", metrics=["accuracy"])
        scheduler = torch.optim.lr_scheduler.StepLR(model.optimizer, step_size=5, gamma=0.7)

        class Killer(ks.callbacks.Callback):
            seen = 0
            def on_train_batch_end(self, batch, logs=None):
                self.seen += 1
                if self.seen == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)

        callbacks = [ks.callbacks.LearningRateScheduler(scheduler, interval="batch"),
                     ks.callbacks.CSVLogger(os.path.join(os.path.dirname(out), "log.csv")),
                     ks.callbacks.BackupAndRestore(backup_dir, save_freq=4), Killer()]
        model.fit(x, y, batch_size=16, epochs=4, shuffle=True, verbose=0, callbacks=callbacks,
                  validation_split=0.2)
        torch.save(model.module.state_dict(), out)
    """))

    def run(name, kill_at, seed):
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        return subprocess.run([sys.executable, str(script), str(tmp_path / f"backup_{name}"),
                               str(folder / "weights.pt"), str(kill_at), str(seed)],
                              capture_output=True, text=True, timeout=120)

    done = run("straight", kill_at=0, seed=0)
    assert done.returncode == 0, done.stderr
    killed = run("resumed", kill_at=11, seed=0)   # 6 batches per epoch: killed in epoch 1
    assert killed.returncode == -9, killed.stderr
    assert not (tmp_path / "resumed" / "weights.pt").exists()
    backup = torch.load(tmp_path / "backup_resumed" / "backup.pt", weights_only=True)
    assert (backup["epoch"], backup["step_in_epoch"]) == (1, 2)   # backed up after global batch 8
    resumed = run("resumed", kill_at=0, seed=123)
    assert resumed.returncode == 0, resumed.stderr

    straight = torch.load(tmp_path / "straight" / "weights.pt", weights_only=True)
    after_kill = torch.load(tmp_path / "resumed" / "weights.pt", weights_only=True)
    assert all(torch.equal(straight[k], after_kill[k]) for k in straight)
    assert not (tmp_path / "backup_resumed").exists()
    csv_rows = (tmp_path / "resumed" / "log.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in csv_rows] == ["epoch", "0", "1", "2", "3"]


def test_callback_state_is_resumed(tmp_path):
    class Scripted(ks.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = [1.0, 0.9, 0.95, 0.96, 0.97, 0.98][epoch]

    def callbacks():
        return [Scripted(), ks.callbacks.EarlyStopping(patience=2),
                ks.callbacks.BackupAndRestore(tmp_path)]

    with pytest.raises(Interrupted):
        fit(new_model(), [*callbacks(), InterruptAfter(14)], epochs=6)   # in epoch 3; wait is 1
    history = fit(new_model(), callbacks(), epochs=6)
    assert history.epoch == [3]   # wait 1 -> 2 at epoch 3: stops as the uninterrupted run does


def test_delete_checkpoint_false_keeps_the_final_backup(tmp_path):
    backup = ks.callbacks.BackupAndRestore(tmp_path, delete_checkpoint=False)
    model = new_model()
    fit(model, [backup], epochs=2)
    state = torch.load(tmp_path / "backup.pt", weights_only=True)
    assert (state["epoch"], state["step_in_epoch"]) == (2, 0)
    history = fit(model, [backup], epochs=2)   # already done: nothing left to train
    assert history.epoch == []


def test_double_checkpoint_falls_back_to_the_previous_backup(tmp_path):
    expected = uninterrupted()
    interrupt(ks.callbacks.BackupAndRestore(tmp_path, save_freq=2, double_checkpoint=True), 7)
    assert sorted(os.listdir(tmp_path)) == ["backup.prev.pt", "backup.pt"]
    previous = torch.load(tmp_path / "backup.prev.pt", weights_only=True)
    assert (previous["epoch"], previous["step_in_epoch"]) == (1, 0)   # global batch 4
    (tmp_path / "backup.pt").write_bytes(b"torn write")
    batches = Batches()
    resumed = new_model(seed=5)
    with pytest.warns(UserWarning, match=r"backup\.pt' is unreadable.*previous backup"):
        fit(resumed, [ks.callbacks.BackupAndRestore(tmp_path, save_freq=2,
                                                    double_checkpoint=True), batches])
    assert batches.seen[0] == (1, 0)
    assert same_weights(weights_of(resumed.module), expected)


def test_double_checkpoint_uses_the_previous_backup_when_the_latest_is_missing(tmp_path):
    interrupt(ks.callbacks.BackupAndRestore(tmp_path, save_freq=2, double_checkpoint=True), 7)
    os.unlink(tmp_path / "backup.pt")
    batches = Batches()
    with pytest.warns(UserWarning, match="is missing"):
        fit(new_model(), [ks.callbacks.BackupAndRestore(tmp_path, double_checkpoint=True), batches])
    assert batches.seen[0] == (1, 0)


def test_a_corrupt_backup_without_double_checkpoint_names_the_file(tmp_path):
    interrupt(ks.callbacks.BackupAndRestore(tmp_path, save_freq=2), 3)
    (tmp_path / "backup.pt").write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match=r"backup\.pt' is unreadable.*Delete it.*double_checkpoint=True"):
        fit(new_model(), [ks.callbacks.BackupAndRestore(tmp_path)])


def test_a_backup_of_another_model_is_an_error(tmp_path):
    interrupt(ks.callbacks.BackupAndRestore(tmp_path, save_freq=2), 3)
    other = ks.Model(mlp(4, 5, 2), device="cpu").compile("adam", "cross_entropy")
    with pytest.raises(ValueError, match="does not match this model"):
        fit(other, [ks.callbacks.BackupAndRestore(tmp_path)])


def test_a_backup_of_a_partly_matching_model_changes_no_weight(tmp_path):
    interrupt(ks.callbacks.BackupAndRestore(tmp_path, save_freq=2), 3)
    torch.manual_seed(5)  # the first layer has the backup's shapes, the last one does not
    other = ks.Model(mlp(4, 16, 3, dropout=0.3), device="cpu").compile("adam", "cross_entropy")
    before = weights_of(other.module)
    with pytest.raises(ValueError, match="shape mismatches"):
        other.fit(*data(), batch_size=8, verbose=0, callbacks=[ks.callbacks.BackupAndRestore(tmp_path)])
    assert same_weights(before, weights_of(other.module))


def test_without_a_backup_training_starts_from_scratch(tmp_path):
    batches = Batches()
    fit(new_model(), [ks.callbacks.BackupAndRestore(tmp_path / "new"), batches], epochs=1)
    assert batches.seen == [(0, 0), (0, 1), (0, 2), (0, 3)]


def test_a_failed_fit_keeps_the_backup_and_other_files_survive_cleanup(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    interrupt(ks.callbacks.BackupAndRestore(tmp_path, save_freq=1), 2)
    assert (tmp_path / "backup.pt").exists()
    fit(new_model(), [ks.callbacks.BackupAndRestore(tmp_path)])
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]


@pytest.mark.parametrize("backup_dir", ["", None])
def test_backup_dir_is_required(backup_dir):
    with pytest.raises(ValueError, match="backup_dir must be a folder path"):
        ks.callbacks.BackupAndRestore(backup_dir)


@pytest.mark.parametrize("save_freq", [0, -1, 1.5, "batch", True, None])
def test_invalid_save_freq(tmp_path, save_freq):
    with pytest.raises(ValueError, match="save_freq must be 'epoch' or a positive integer"):
        ks.callbacks.BackupAndRestore(tmp_path, save_freq=save_freq)
