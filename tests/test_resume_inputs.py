"""Mid-epoch resume is exact for every input that can be read again, not only arrays.

Each case trains once without interruption, then again with a backup after every batch and an
interruption mid-epoch, and resumes in a fresh model with other initial weights and another
global RNG state: every parameter and every optimizer state tensor must be ``torch.equal``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

import kerasish as ks

from helpers import GeneralDataset, GeneralLoader, InterruptAfter, Interrupted


class NoisyDataset(Dataset):
    """Draws from torch's global RNG in __getitem__ (random augmentation, in the main process or
    in workers): a resume is exact only if these draws come back too."""

    def __init__(self, x, y):
        self.x, self.y = torch.as_tensor(x), torch.as_tensor(y)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i] + 0.1 * torch.randn(self.x.shape[1]), self.y[i]


def arrays(n=40):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x[:, 0] + x[:, 1] > 0).astype("int64")


def model(seed: int, accumulation: int = 1):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                              torch.nn.Linear(16, 2))
    return ks.Model(net, device="cpu").compile("adam", "cross_entropy", metrics=["accuracy"],
                                               gradient_accumulation_steps=accumulation)


def inputs(kind: str):
    """``fit`` keyword arguments for each input kind (built anew for every run, as a user would)."""
    x, y = arrays()
    tensors = (torch.as_tensor(x), torch.as_tensor(y))
    if kind == "arrays_steps_per_epoch":
        return {"x": x, "y": y, "batch_size": 8, "steps_per_epoch": 3}
    if kind == "arrays_validation_split":
        return {"x": x, "y": y, "batch_size": 8, "validation_split": 0.2}
    if kind == "tensor_dataset_loader":  # the TensorDataset fast path
        return {"x": DataLoader(TensorDataset(*tensors), batch_size=8, shuffle=True)}
    if kind == "general_loader":
        return {"x": GeneralLoader(GeneralDataset(*tensors), batch_size=8, shuffle=True)}
    if kind == "loader_with_generator":
        return {"x": DataLoader(TensorDataset(*tensors), batch_size=8, shuffle=True,
                                generator=torch.Generator().manual_seed(7))}
    if kind == "loader_noisy_dataset":
        return {"x": DataLoader(NoisyDataset(x, y), batch_size=8, shuffle=True)}
    if kind == "loader_with_workers":
        return {"x": DataLoader(NoisyDataset(x, y), batch_size=8, shuffle=True, num_workers=2)}
    if kind == "unshuffled_loader":
        return {"x": DataLoader(TensorDataset(*tensors), batch_size=8, shuffle=False)}
    if kind == "loader_steps_per_epoch":
        return {"x": GeneralLoader(GeneralDataset(*tensors), batch_size=8, shuffle=True),
                "steps_per_epoch": 3}
    raise AssertionError(kind)


def states(m: ks.Model):
    weights = {k: v.clone() for k, v in m.module.state_dict().items()}
    optimizer = m.optimizer.state_dict()["state"]
    return weights, {(i, k): v.clone() for i, s in optimizer.items() for k, v in s.items()
                     if isinstance(v, torch.Tensor)}


def assert_identical(a, b):
    (wa, oa), (wb, ob) = a, b
    assert wa.keys() == wb.keys() and oa.keys() == ob.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    for k in oa:
        assert torch.equal(oa[k], ob[k]), k


def run(kind, tmp_path, epochs=3, interrupt_at=None, accumulation=1, seed=0):
    m = model(seed, accumulation)
    torch.manual_seed(100 + seed)  # the global RNG a fresh process would have: differs per run
    callbacks = [ks.callbacks.BackupAndRestore(tmp_path, save_freq=1)]
    if interrupt_at is not None:
        callbacks.append(InterruptAfter(interrupt_at))
    history = m.fit(**inputs(kind), epochs=epochs, verbose=0, callbacks=callbacks)
    return m, history


KINDS = ["arrays_steps_per_epoch", "arrays_validation_split", "tensor_dataset_loader",
         "general_loader", "loader_with_generator", "loader_noisy_dataset", "loader_with_workers",
         "unshuffled_loader", "loader_steps_per_epoch"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_resumed_run_ends_bit_identical_for_every_input_kind(kind, tmp_path):
    torch.manual_seed(0)
    expected, expected_history = run(kind, tmp_path / "a")
    torch.manual_seed(0)
    with pytest.raises(Interrupted):
        run(kind, tmp_path / "b", interrupt_at=6)  # mid-epoch: 5 or 4 batches per epoch
    resumed, history = run(kind, tmp_path / "b", seed=1)  # other init, other RNG: all restored
    assert_identical(states(resumed), states(expected))
    assert history.history["loss"][-1] == expected_history.history["loss"][-1]


def test_a_half_filled_accumulation_window_is_saved_and_finished(tmp_path):
    # 5 batches an epoch, windows of 2: the interruption after batch 3 leaves a window half full.
    expected, _ = run("arrays_validation_split", tmp_path / "a", accumulation=2)
    with pytest.raises(Interrupted):
        run("arrays_validation_split", tmp_path / "b", accumulation=2, interrupt_at=3)
    state = torch.load(tmp_path / "b" / "backup.pt", weights_only=True)
    assert state["accumulation"]["window"] == 1
    resumed, _ = run("arrays_validation_split", tmp_path / "b", accumulation=2, seed=1)
    assert_identical(states(resumed), states(expected))


def test_a_one_shot_iterator_warns_that_it_cannot_be_rewound(tmp_path):
    x, y = arrays()

    def batches():
        for i in range(0, 40, 8):
            yield torch.as_tensor(x[i:i + 8]), torch.as_tensor(y[i:i + 8])

    m = model(0)
    with pytest.raises(Interrupted):
        m.fit(batches(), epochs=1, verbose=0, callbacks=[
            ks.callbacks.BackupAndRestore(tmp_path, save_freq=1), InterruptAfter(2)])
    with pytest.warns(UserWarning, match="one-shot iterator"):
        model(1).fit(batches(), epochs=1, verbose=0,
                     callbacks=[ks.callbacks.BackupAndRestore(tmp_path, save_freq=1)])


def test_a_dataloader_run_killed_at_random_points_resumes_bit_identical(tmp_path):
    """SIGKILL during training with a shuffled DataLoader whose dataset draws random numbers."""
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""
        import os, signal, sys
        import numpy as np, torch
        torch.set_num_threads(1)
        from torch.utils.data import DataLoader, Dataset
        import kerasish as ks

        backup_dir, out, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
        torch.manual_seed(int(sys.argv[4]))

        class Noisy(Dataset):
            def __init__(self):
                rng = np.random.default_rng(0)
                self.x = torch.as_tensor(rng.normal(size=(60, 4)).astype("float32"))
                self.y = (self.x[:, 0] > 0).long()
            def __len__(self):
                return 60
            def __getitem__(self, i):
                return self.x[i] + 0.1 * torch.randn(4), self.y[i]

        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                                  torch.nn.Linear(16, 2))
        model = ks.Model(net, device="cpu").compile("adam", "cross_entropy")
        torch.manual_seed(int(sys.argv[4]))

        class Killer(ks.callbacks.Callback):
            seen = 0
            def on_train_batch_end(self, batch, logs=None):
                self.seen += 1
            def on_train_batch_begin(self, batch, logs=None):
                if self.seen == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)

        loader = DataLoader(Noisy(), batch_size=8, shuffle=True, num_workers=1)
        model.fit(loader, epochs=3, verbose=0,
                  callbacks=[ks.callbacks.BackupAndRestore(backup_dir, save_freq=1), Killer()])
        torch.save(model.module.state_dict(), out)
    """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]))

    def train(name, kill_at, seed):
        result = subprocess.run([sys.executable, str(script), str(tmp_path / name / "backups"),
                                 str(tmp_path / name / "out.pt"), str(kill_at), str(seed)],
                                capture_output=True, text=True, env=env, timeout=120)
        return result.returncode

    (tmp_path / "clean").mkdir()
    assert train("clean", -1, 0) == 0
    expected = torch.load(tmp_path / "clean" / "out.pt", weights_only=True)
    (tmp_path / "killed").mkdir()
    # Three kills, counted from each restart; the first run draws what the clean one drew, the
    # restarts begin from other random states, which the backups must replace.
    for seed, kill_at in [(0, 4), (11, 3), (12, 9)]:
        assert train("killed", kill_at, seed) == -signal.SIGKILL
    assert train("killed", -1, 99) == 0
    got = torch.load(tmp_path / "killed" / "out.pt", weights_only=True)
    assert all(torch.equal(got[k], expected[k]) for k in expected)
