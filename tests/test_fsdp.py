"""FSDP2 under torchrun: two CPU processes (gloo) with ``distribute="fsdp"``.

Two torchrun launches for the library (and one for the example), to stay fast: the first trains
with backups and SIGKILLs itself in the middle of an epoch; the second runs every other scenario
(sharded training against a one-process reference, the resume from the killed job's backup
against an uninterrupted run, a world-size-2 reload, bfloat16) and writes what it saw for the
tests here to check.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import kerasish as ks

COMMON = textwrap.dedent('''
    import gc, os, signal, sys
    import numpy as np, torch
    import kerasish as ks

    out = sys.argv[1]
    rank = os.environ.get("RANK", "single")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")

    def net(dropout=0.0):
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Dropout(dropout),
                                   torch.nn.Linear(16, 2))

    def resumable(folder, seed, kill_at=-1):
        """Adam, accumulation 2, dropout: a backup after every batch; kill_at: SIGKILL there."""
        model = ks.Model(net(0.3), device="cpu", distribute="fsdp").compile(
            "adam", "cross_entropy", gradient_accumulation_steps=2)
        torch.manual_seed(seed + int(os.environ["RANK"]))  # each rank draws its own masks

        class Kill(ks.callbacks.Callback):
            seen = 0
            def on_train_batch_end(self, batch, logs=None):
                self.seen += 1
            def on_train_batch_begin(self, batch, logs=None):
                if self.seen == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)

        backup = ks.callbacks.BackupAndRestore(os.path.join(out, folder), save_freq=1)
        model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[backup, Kill()])
        return model
''')

KILLED = COMMON + textwrap.dedent('''
    resumable("backup", seed=0, kill_at=5)  # batch 5 of 8 per epoch: mid-epoch, mid-window
''')

SCENARIOS = COMMON + textwrap.dedent('''
    results = {}
    # 1. sharded training: Adam, clipnorm, accumulation, validation, checkpoints
    model = ks.Model(net(), device="cpu", distribute="fsdp").compile(
        "adam", "cross_entropy", metrics=["accuracy"], clipnorm=0.1, gradient_accumulation_steps=2)
    checkpoint = ks.callbacks.ModelCheckpoint(os.path.join(out, "ckpt-{epoch}.pt"))
    history = model.fit(x, y, batch_size=4, epochs=2, shuffle=True, verbose=0,
                        validation_data=(x[:27], y[:27]), callbacks=[checkpoint])
    results["sharded"] = type(next(model.module.parameters())).__name__
    results["history"] = history.history
    results["weights"] = model.get_weights()
    results["predict"] = model.predict(x[:27], batch_size=5, verbose=0)
    results["evaluate"] = model.evaluate(x[:27], y[:27], batch_size=5, return_dict=True, verbose=0)
    model.save(os.path.join(out, "full.pt"), full=True)
    # 2. the world-size-2 checkpoint back into a fresh sharded model
    again = ks.Model(net(), device="cpu", distribute="fsdp").compile("adam", "cross_entropy")
    again.load_weights(os.path.join(out, "ckpt-2.pt"))
    results["reloaded"] = again.get_weights()
    results["reloaded_epoch"] = again.epoch
    # 3. the killed job resumed (from another seed: its random states must come back), and the
    # same job uninterrupted
    results["resumed"] = resumable("backup", seed=77).get_weights()
    results["uninterrupted"] = resumable("clean", seed=0).get_weights()
    # 4. mixed bfloat16: FSDP2 gathers the parameters in bfloat16, the shards stay float32
    bf16 = ks.Model(net(), device="cpu", distribute="fsdp").compile(
        "adam", "cross_entropy", precision="mixed_bfloat16")
    results["bf16_loss"] = bf16.fit(x, y, batch_size=4, epochs=1, verbose=0).history["loss"]
    results["bf16_dtype"] = str(next(bf16.module.parameters()).dtype)
    torch.save(results, os.path.join(out, f"result-{rank}.pt"))
    del model, again, bf16
    gc.collect()
    torch.distributed.destroy_process_group()
''')

SINGLE = COMMON + textwrap.dedent('''
    model = ks.Model(net(), device="cpu").compile(
        "adam", "cross_entropy", metrics=["accuracy"], clipnorm=0.1, gradient_accumulation_steps=2)
    history = model.fit(x, y, batch_size=8, epochs=2, shuffle=True, verbose=0,
                        validation_data=(x[:27], y[:27]))
    bf16 = ks.Model(net(), device="cpu").compile("adam", "cross_entropy")
    torch.save({"history": history.history, "weights": model.get_weights(),
                "predict": model.predict(x[:27], batch_size=5, verbose=0),
                "evaluate": model.evaluate(x[:27], y[:27], batch_size=5, return_dict=True, verbose=0),
                "f32_loss": bf16.fit(x, y, batch_size=8, epochs=1, verbose=0).history["loss"]},
               os.path.join(out, "result-single.pt"))
''')


def _launch(tmp_path, name, script, processes):
    path = tmp_path / f"{name}.py"
    path.write_text(script)
    launcher = [sys.executable]
    if processes:
        launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # this checkout's kerasish
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    env.pop("RANK", None)
    return subprocess.run([*launcher, str(path), str(tmp_path)], capture_output=True, text=True,
                          timeout=240, env=env)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("fsdp")
    killed = _launch(out, "killed", KILLED, 2)
    assert killed.returncode != 0  # SIGKILLed mid-epoch
    assert os.path.isfile(out / "backup" / "backup.pt" / "kerasish.pt")  # a whole backup folder
    done = _launch(out, "scenarios", SCENARIOS, 2)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    single = _launch(out, "single", SINGLE, None)
    assert single.returncode == 0, single.stderr[-3000:]
    load = lambda name: torch.load(out / f"result-{name}.pt", weights_only=False)  # noqa: E731
    return out, load("0"), load("1"), load("single")


def test_sharded_training_equals_one_process_with_the_global_batch(runs):
    _, rank0, rank1, single = runs
    assert rank0["sharded"] == "DTensor"  # the module really is sharded
    for rank in (rank0, rank1):  # whole weights and every prediction on every rank
        for got, expected in zip(rank["weights"], single["weights"]):
            assert got.shape == expected.shape
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        assert rank["history"] == rank0["history"]
        for key, values in single["history"].items():
            assert rank["history"][key] == pytest.approx(values, rel=1e-5, abs=1e-6), key
        assert rank["predict"].shape == (27, 2)
        np.testing.assert_allclose(rank["predict"], single["predict"], rtol=1e-4, atol=1e-5)
        assert rank["evaluate"] == pytest.approx(single["evaluate"], rel=1e-5)


def test_a_killed_sharded_run_resumes_bit_identical(runs):
    _, rank0, rank1, _ = runs
    for rank in (rank0, rank1):
        assert len(rank["resumed"]) == len(rank["uninterrupted"]) == 4
        for got, expected in zip(rank["resumed"], rank["uninterrupted"]):
            assert torch.equal(torch.from_numpy(got), torch.from_numpy(expected))


def test_a_world_size_2_checkpoint_reloads_at_2_and_at_1(runs):
    out, rank0, _, _ = runs
    for got, expected in zip(rank0["reloaded"], rank0["weights"]):
        assert np.array_equal(got, expected)
    assert rank0["reloaded_epoch"] == 2
    # one process, no process group: DCP reshards the two ranks' shards into whole tensors
    model = ks.Model(torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Dropout(0.0),
                                         torch.nn.Linear(16, 2)), device="cpu")
    model.compile("adam", "cross_entropy", clipnorm=0.1, gradient_accumulation_steps=2)
    model.load_weights(out / "ckpt-2.pt")
    for got, expected in zip(model.get_weights(), rank0["weights"]):
        assert np.array_equal(got, expected)
    assert model.epoch == 2 and model.optimizer_steps == 8
    assert model.optimizer.state_dict()["state"][0]["exp_avg"].shape == (16, 6)
    # save(full=True): one ordinary file, its "module" a plain state_dict
    full = torch.load(out / "full.pt", weights_only=True)
    for got, expected in zip(full["module"].values(), rank0["weights"]):
        assert type(got) is torch.Tensor and np.array_equal(got.numpy(), expected)
    twin = ks.Model(model.module, device="cpu").compile("adam", "cross_entropy", clipnorm=0.1,
                                                       gradient_accumulation_steps=2)
    twin.load_weights(out / "full.pt")  # the optimizer state loads too
    assert twin.optimizer_steps == 8


def test_mixed_bfloat16_gathers_in_bfloat16_and_trains_close_to_float32(runs):
    _, rank0, rank1, single = runs
    assert rank0["bf16_dtype"] == "torch.float32"  # the shards (the optimizer's) stay float32
    assert rank0["bf16_loss"] == rank1["bf16_loss"]
    assert rank0["bf16_loss"] == pytest.approx(single["f32_loss"], abs=2e-2)


@pytest.mark.parametrize("distribute, error, match", [
    ("fsdp", ValueError, "torchrun --nproc-per-node"),
    ("ddp", ValueError, "torchrun --nproc-per-node"),
    ("fdsp", ValueError, r"distribute='fdsp'\) is not known"),
    (3, TypeError, "distribute"),
])
def test_a_bad_distribute_fails_before_anything_changes(monkeypatch, distribute, error, match):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    net = torch.nn.Linear(3, 2)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(error, match=match):
        ks.Model(net, device="cpu", distribute=distribute)
    assert all(torch.equal(before[k], v) and type(v) is torch.Tensor for k, v in net.state_dict().items())


def test_a_wrap_policy_is_a_callable_or_module_classes():
    with pytest.raises(TypeError, match="wrap_policy"):
        ks.FSDP(wrap_policy="Linear")
    net = torch.nn.Sequential(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU()),
                              torch.nn.Linear(2, 2), torch.nn.ReLU())
    assert ks.FSDP().wraps(net) == [net[0], net[1]]  # top-level children with parameters
    assert ks.FSDP(wrap_policy=[torch.nn.Linear]).wraps(net) == [net[1], net[0][0]]
    assert ks.FSDP(wrap_policy=lambda m: isinstance(m, torch.nn.ReLU)).wraps(net) == [
        net[2], net[0][1]]


def test_the_fsdp_example_runs_under_torchrun(tmp_path):
    example = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "fsdp.py")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                             "--nproc-per-node", "2", example, "--small"], capture_output=True,
                            text=True, timeout=240, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("world size 2") == 1 and result.stdout.count("Epoch 2/2") == 1  # rank 0
    assert os.path.isfile(tmp_path / "fsdp_run" / "model.pt" / "kerasish.pt")  # sharded checkpoint
    assert os.path.isfile(tmp_path / "fsdp_run" / "model-full.pt")
    assert not os.path.exists(tmp_path / "fsdp_run" / "backup")  # deleted after the finished fit
