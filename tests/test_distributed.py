"""DDP under torchrun: two CPU processes (gloo) train exactly like one process with twice the batch."""

import os
import subprocess
import sys
import textwrap

import pytest
import torch

SCRIPT = textwrap.dedent('''
    import os, sys
    import numpy as np, torch
    from torch.utils.data import DataLoader, TensorDataset
    import kerasish as ks

    out, batch_size, accumulation, task = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    rank = os.environ.get("RANK", "single")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 6)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    outputs, loss, metrics = 2, "cross_entropy", ["accuracy"]
    if task == "binary":  # confusion metrics: their counts are summed across ranks at epoch end
        y = y.astype("float32")[:, None]
        outputs, loss = 1, ks.losses.BinaryCrossentropy(from_logits=True)
        metrics = [ks.metrics.Precision(thresholds=0.0), ks.metrics.AUC(from_logits=True),
                   ks.metrics.F1Score(average="micro", threshold=0.5)]
    x_val, y_val = x[:27], y[:27]  # 27 is odd: evaluation shards are uneven and unpadded

    class Writer(ks.callbacks.Callback):
        rank_zero_only = True  # files are written by rank 0 only
        def on_epoch_end(self, epoch, logs=None):
            with open(os.path.join(out, f"written-by-{rank}-{epoch}.txt"), "w") as f:
                f.write(repr(logs))

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, outputs))
    model = ks.Model(net, device="cpu").compile("sgd", loss, metrics=metrics,
                                  gradient_accumulation_steps=accumulation)
    writers = [Writer(), ks.callbacks.CSVLogger(os.path.join(out, f"log-{rank}.csv")),
               ks.callbacks.ModelCheckpoint(os.path.join(out, f"ckpt-{rank}-{{epoch}}.pt"))]
    history = model.fit(x, y, batch_size=batch_size, epochs=3, shuffle=True,
                        validation_data=(x_val, y_val), callbacks=writers, verbose=0)
    result = {
        "weights": model.module.state_dict(),
        "history": history.history,
        "predict": model.predict(x_val, batch_size=4, verbose=0),
        "evaluate": model.evaluate(x_val, y_val, batch_size=5, return_dict=True, verbose=0),
        "evaluate_loader": model.evaluate(
            DataLoader(TensorDataset(torch.tensor(x_val), torch.tensor(y_val)), batch_size=5),
            return_dict=True, verbose=0),
        "predict_loader": model.predict(DataLoader(TensorDataset(torch.tensor(x_val)), batch_size=4),
                                        verbose=0),
        "device": str(model.device),
    }
    torch.save(result, os.path.join(out, f"result-{rank}.pt"))
''')


def _run(tmp_path, batch_size, accumulation=1, processes=None, task="classes"):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    launcher = [sys.executable]
    if processes:
        launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [*launcher, str(script), str(tmp_path), str(batch_size), str(accumulation), task],
        capture_output=True, text=True, timeout=240, env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def _load(tmp_path, name):
    return torch.load(tmp_path / f"result-{name}.pt", weights_only=False)


@pytest.mark.parametrize("accumulation, task", [(1, "classes"), (2, "classes"), (1, "binary")])
def test_two_processes_equal_one_process_with_the_global_batch(tmp_path, accumulation, task):
    single_dir, ddp_dir = tmp_path / "single", tmp_path / "ddp"
    single_dir.mkdir()
    ddp_dir.mkdir()
    _run(single_dir, batch_size=8, task=task)
    _run(ddp_dir, batch_size=4 // accumulation, accumulation=accumulation, processes=2, task=task)
    single, rank0, rank1 = _load(single_dir, "single"), _load(ddp_dir, "0"), _load(ddp_dir, "1")
    if task == "binary":  # the confusion metrics are logged, identical on both ranks
        assert {"precision", "auc", "f1_score", "val_precision", "val_auc"} <= set(rank0["history"])

    for key, value in rank0["weights"].items():
        assert torch.equal(value, rank1["weights"][key]), key  # ranks never drift apart
        torch.testing.assert_close(value, single["weights"][key], rtol=1e-5, atol=1e-5)
    assert rank0["history"] == rank1["history"]  # epoch logs are all-reduced, identical
    for key, values in single["history"].items():
        assert rank0["history"][key] == pytest.approx(values, rel=1e-5, abs=1e-6), key
    for rank in (rank0, rank1):  # predict gathers every sample, in order, on every rank
        assert rank["predict"].shape == single["predict"].shape == (27, 2 if task == "classes" else 1)
        assert rank["predict"] == pytest.approx(single["predict"], rel=1e-4, abs=1e-5)
        assert rank["evaluate"] == pytest.approx(single["evaluate"], rel=1e-5)
        assert rank["evaluate_loader"] == pytest.approx(single["evaluate"], rel=1e-5)
        assert rank["predict_loader"] == pytest.approx(single["predict"], rel=1e-4, abs=1e-5)
    written = sorted(p.name for p in ddp_dir.iterdir() if not p.name.startswith(("result", "train")))
    assert written == ["ckpt-0-1.pt", "ckpt-0-2.pt", "ckpt-0-3.pt", "log-0.csv",
                       "written-by-0-0.txt", "written-by-0-1.txt", "written-by-0-2.txt"]


def test_ddp_example_runs_under_torchrun(tmp_path):
    example = os.path.join(os.path.dirname(__file__), "..", "examples", "ddp.py")
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         example, "--epochs", "2", "--device", "cpu"],
        capture_output=True, text=True, timeout=240, cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("Epoch 2/2") == 1  # only rank 0 prints the progress lines
    assert "test accuracy" in result.stdout and "world size 2" in result.stdout


RESUME_SCRIPT = textwrap.dedent('''
    import gc, os, sys
    import numpy as np, torch
    import kerasish as ks

    out, interrupt_at, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rank = os.environ.get("RANK", "single")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Dropout(0.4),
                              torch.nn.Linear(16, 2))
    model = ks.Model(net, device="cpu").compile("adam", "cross_entropy")
    torch.manual_seed(seed + int(os.environ["RANK"]))  # each rank draws its own dropout masks

    class Interrupt(ks.callbacks.Callback):
        seen = 0
        def on_train_batch_end(self, batch, logs=None):
            self.seen += 1
        def on_train_batch_begin(self, batch, logs=None):
            if self.seen == interrupt_at:
                raise SystemExit(3)

    callbacks = [ks.callbacks.BackupAndRestore(os.path.join(out, "backup"), save_freq=1), Interrupt()]
    try:
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=callbacks)
        torch.save(model.module.state_dict(), os.path.join(out, f"weights-{rank}.pt"))
    finally:  # a clean shutdown: gloo may abort a process that exits with its group (or a DDP
        del model, net, callbacks  # reducer holding it) still up
        gc.collect()
        torch.distributed.destroy_process_group()
''')


def test_a_resumed_two_process_run_with_dropout_ends_as_an_uninterrupted_one(tmp_path):
    script = tmp_path / "resume.py"
    script.write_text(RESUME_SCRIPT)
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def train(out, interrupt_at, seed):
        out.mkdir(exist_ok=True)
        return subprocess.run([*launcher, str(script), str(out), str(interrupt_at), str(seed)],
                              capture_output=True, text=True, timeout=240, env=env)

    clean = train(tmp_path / "clean", -1, seed=0)
    assert clean.returncode == 0, clean.stderr[-3000:]
    assert train(tmp_path / "resumed", 5, seed=0).returncode != 0  # both ranks stop after batch 5
    resumed = train(tmp_path / "resumed", -1, seed=77)  # the backup must restore each rank's state
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    for rank in ("0", "1"):
        expected = torch.load(tmp_path / "clean" / f"weights-{rank}.pt", weights_only=True)
        got = torch.load(tmp_path / "resumed" / f"weights-{rank}.pt", weights_only=True)
        assert all(torch.equal(got[k], expected[k]) for k in expected), rank


EXIT_SCRIPT = textwrap.dedent('''
    import atexit, os, sys
    import torch

    def check():  # registered before kerasish's handler, so it runs after it (atexit is LIFO)
        left = not torch.distributed.is_initialized()
        released = MODEL._ddp is None and MODEL._engine.train_module is MODEL.module
        with open(os.path.join(sys.argv[1], f"exit-{os.environ['RANK']}.txt"), "w") as f:
            f.write(f"{left} {released}")
    atexit.register(check)

    import numpy as np
    import kerasish as ks
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    MODEL = ks.Model(torch.nn.Linear(4, 1), device="cpu").compile("sgd", "mse")
    MODEL.fit(x, x[:, :1], batch_size=8, epochs=1, verbose=0)
    assert MODEL._ddp is not None  # trained under DDP; the script ends without any cleanup
''')


def test_a_script_that_just_ends_leaves_the_group_kerasish_joined(tmp_path):
    """No destroy_process_group in the script: kerasish drops the DDP wrapper and leaves the gloo
    group at exit (a group left up until teardown sometimes made gloo abort the process, -6)."""
    script = tmp_path / "ends.py"
    script.write_text(EXIT_SCRIPT)
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    result = subprocess.run([*launcher, str(script), str(tmp_path)], capture_output=True, text=True,
                            timeout=240, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert [(tmp_path / f"exit-{rank}.txt").read_text() for rank in (0, 1)] == ["True True"] * 2
