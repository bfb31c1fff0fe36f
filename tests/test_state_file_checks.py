"""A training-state file is checked whole before anything loads (issue 26).

An optimizer state of another type (AdamW's into Adam: torch's param groups share every key) is
refused with the file, both types and the fix named; a malformed part (garbage optimizer state, a
non-numeric epoch, a weight that is not a tensor, a bad random state...) is refused with the file
and the key named. Either way the weights, the optimizer state and the position are unchanged.
"""

from __future__ import annotations

import copy
import os

import pytest
import torch

import kerasish as ks

from helpers import InterruptAfter, Interrupted, classification_data, mlp, same_weights, weights_of


def new_model(optimizer="adam", seed=0, **compile_kwargs):
    torch.manual_seed(seed)
    return ks.Model(mlp(8, 16, 3), device="cpu").compile(optimizer, "cross_entropy", **compile_kwargs)


def trained(optimizer="adam", seed=0, **compile_kwargs):
    model = new_model(optimizer, seed, **compile_kwargs)
    model.fit(*classification_data(n=32, seed=seed), batch_size=8, verbose=0)
    return model


def snapshot(model):
    """What a refused load must leave as it was."""
    return {"weights": weights_of(model.module), "optimizer": copy.deepcopy(model.optimizer.state_dict()),
            "epoch": model.epoch, "optimizer_steps": model.optimizer_steps}


def same_optimizer_state(a, b) -> bool:
    if a["param_groups"] != b["param_groups"] or set(a["state"]) != set(b["state"]):
        return False
    for index, entry in a["state"].items():
        other = b["state"][index]
        if set(entry) != set(other):
            return False
        for key, value in entry.items():
            if isinstance(value, torch.Tensor) and not torch.equal(value, other[key]):
                return False
    return True


def assert_unchanged(model, before):
    now = snapshot(model)
    assert same_weights(before["weights"], now["weights"])
    assert same_optimizer_state(before["optimizer"], now["optimizer"])
    assert (now["epoch"], now["optimizer_steps"]) == (before["epoch"], before["optimizer_steps"])


# ---------------------------------------------------------------------------- another optimizer type

def legacy_full(model, path):
    torch.save({"format": "kerasish.full.v1", "module": model.module.state_dict(),
                "optimizer": model.optimizer.state_dict(), "scaler": None, "epoch": 1,
                "compile": dict(model.compile_config)}, path)


def legacy_backup(model, path):
    torch.save({"format": "kerasish.backup.v1", "module": model.module.state_dict(),
                "optimizer": model.optimizer.state_dict(), "scaler": None, "epoch": 1,
                "steps_done": 0, "data_seed": 3, "rng": ks.state.rng_states(), "callbacks": {}}, path)


def backup_of(optimizer, folder):
    """The file BackupAndRestore leaves when a fit with ``optimizer`` is interrupted."""
    model = new_model(optimizer)
    with pytest.raises(Interrupted):
        model.fit(*classification_data(n=32), batch_size=8, epochs=2, verbose=0,
                  callbacks=[ks.callbacks.BackupAndRestore(folder, save_freq=1), InterruptAfter(3)])
    return folder / "backup.pt"


def written(source, optimizer, tmp_path):
    if source == "backup":
        return backup_of(optimizer, tmp_path / "backup")
    path = tmp_path / f"{source}.pt"
    model = trained(optimizer)
    {"save": lambda: model.save(path), "legacy_full": lambda: legacy_full(model, path),
     "legacy_backup": lambda: legacy_backup(model, path)}[source]()
    return path


@pytest.mark.parametrize("source", ["save", "backup", "legacy_full", "legacy_backup"])
@pytest.mark.parametrize("saved,compiled", [("adamw", "Adam"), ("adam", "AdamW")])
def test_an_optimizer_state_loads_only_into_its_own_type(tmp_path, source, saved, compiled):
    path = written(source, saved, tmp_path)
    saved_name = "AdamW" if saved == "adamw" else "Adam"
    target = trained(compiled.lower(), seed=1)
    if source == "legacy_backup" and "decoupled_weight_decay" not in target.optimizer.param_groups[0]:
        pytest.skip("this torch's Adam and AdamW param groups differ in no setting")
    before = snapshot(target)
    with pytest.raises(ValueError) as raised:
        target.load_weights(path)
    message = str(raised.value)
    assert repr(os.fspath(path)) in message and f"({compiled})" in message
    if source != "legacy_backup":  # the type name is in the file
        assert f"saved by {saved_name}" in message
        assert f"Use the optimizer type the file was saved with ({saved_name})" in message
    else:  # v1 backups recorded no type: the setting that makes AdamW tells them apart
        assert "decoupled_weight_decay" in message
    assert_unchanged(target, before)
    # The same file loads into a model compiled with its own optimizer type.
    own = trained(saved, seed=1)
    own.load_weights(path)
    file_state = ks.state.read(path)
    assert same_weights(weights_of(own.module), file_state["module"])
    assert same_optimizer_state(own.optimizer.state_dict(), file_state["optimizer"])


def test_a_backup_of_an_adamw_run_is_refused_by_an_adam_fit(tmp_path):
    path = backup_of("adamw", tmp_path)
    target = new_model("adam", seed=1)
    before = snapshot(target)
    with pytest.raises(ValueError, match=r"BackupAndRestore: .*saved by AdamW.*\(AdamW\)"):
        target.fit(*classification_data(n=32), batch_size=8, epochs=2, verbose=0,
                   callbacks=[ks.callbacks.BackupAndRestore(tmp_path)])
    assert_unchanged(target, before)
    assert path.exists()


# ---------------------------------------------------------------------------- malformed parts

def _set(*keys_and_value):
    *keys, value = keys_and_value

    def change(state):
        entry = state
        for key in keys[:-1]:
            entry = entry[key]
        entry[keys[-1]] = value
    return change


def _delete(*keys):
    def change(state):
        entry = state
        for key in keys[:-1]:
            entry = entry[key]
        del entry[keys[-1]]
    return change


# id -> (change to a model.save() state, what the message names)
LOADED = {
    "optimizer-string": (_set("optimizer", "garbage"), "'optimizer'"),
    "optimizer-state-number": (_set("optimizer", "state", 5), "'optimizer'['state']"),
    "optimizer-state-entry": (_set("optimizer", "state", 0, "junk"), "'optimizer'['state'][0]"),
    "optimizer-params-strings": (_set("optimizer", "param_groups", 0, "params", ["a", "b", "c", "d"]),
                                 "'optimizer'['param_groups'][0]['params']"),
    "optimizer-no-groups": (_delete("optimizer", "param_groups"), "'optimizer'['param_groups']"),
    "epoch-string": (_set("epoch", "three"), "'epoch'"),
    "epoch-negative": (_set("epoch", -1), "'epoch'"),
    "step_in_epoch-float": (_set("step_in_epoch", 1.5), "'step_in_epoch'"),
    "optimizer_steps-string": (_set("optimizer_steps", "4"), "'optimizer_steps'"),
    "data_seed-string": (_set("data_seed", "seven"), "'data_seed'"),
    "scaler-string": (_set("scaler", "x"), "'scaler'"),
    "scaler-missing-keys": (_set("scaler", {"scale": 1.0}), "'scaler'"),
    "compile-optimizer-number": (_set("compile", "optimizer", 3), "'compile'['optimizer']"),
    "module-entry-none": (_set("module", "0.weight", None), "0.weight (NoneType)"),
    "module-entry-string": (_set("module", "2.bias", "bias"), "2.bias (str)"),
    "module-missing": (_delete("module"), "'module' is missing"),
    "module-list": (_set("module", [1, 2]), "'module'"),
    "owned-string": (_set("owned", "x"), "'owned'"),
    "owned-entry": (_set("owned", {"d_optimizer": 3}), "'owned'['d_optimizer']"),
}

# id -> (change, what the message names): parts a resume takes (BackupAndRestore, state.resume)
RESUMED = {
    "rng-string": (_set("rng", "x"), "'rng'"),
    "rng-python": (_set("rng", "python", 1), "'rng'['python']"),
    "rng-numpy-key": (_set("rng", "numpy", "key", "k"), "'rng'['numpy']"),
    "rng-torch-short": (_set("rng", "torch", torch.zeros(3, dtype=torch.uint8)), "'rng'['torch']"),
    "rng-cuda": (_set("rng", "cuda", "x"), "'rng'['cuda']"),
    "window-grads": (_set("accumulation", {"window": 1, "grads": [None]}), "'accumulation'['grads']"),
    "window-grad-shape": (_set("accumulation", {"window": 1, "grads": [torch.zeros(2)] * 4}),
                          "'accumulation'['grads'][0]"),
    "window-too-long": (_set("accumulation", {"window": 3, "grads": [None] * 4}),
                        "gradient_accumulation_steps=2"),
    "window-count": (_set("accumulation", {"window": "one", "grads": [None] * 4}),
                     "'accumulation'['window']"),
    "callbacks-string": (_set("callbacks", "x"), "'callbacks'"),
    "callbacks-entry": (_set("callbacks", {"EarlyStopping#0": 1}), "'callbacks'['EarlyStopping#0']"),
    "metrics-entry": (_set("metrics", {"0:loss": 5}), "'metrics'['0:loss']"),
    "last-logs-string": (_set("last_logs", "x"), "'last_logs'"),
    "last-logs-value": (_set("last_logs", {"loss": "low"}), "'last_logs'"),
    "data-pass": (_set("data", {"pass": "a", "read": 0, "generators": []}), "'data'['pass']"),
    "data-generators": (_set("data", {"pass": 0, "read": 1, "generators": "g"}), "'data'['generators']"),
    "ranks-string": (_set("ranks", "x"), "'ranks'"),
}


def malformed_file(tmp_path, change):
    source = trained(gradient_accumulation_steps=2)
    source.save(tmp_path / "good.pt")
    state = torch.load(tmp_path / "good.pt", weights_only=True)
    change(state)
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    return path


def target_model():
    return trained(seed=1, gradient_accumulation_steps=2)


@pytest.mark.parametrize("case", list(LOADED), ids=list(LOADED))
def test_a_malformed_part_is_refused_by_name_before_anything_loads(tmp_path, case):
    change, named = LOADED[case]
    path = malformed_file(tmp_path, change)
    target = target_model()
    before = snapshot(target)
    with pytest.raises(ValueError) as raised:
        target.load_weights(path)
    assert repr(os.fspath(path)) in str(raised.value) and named in str(raised.value), str(raised.value)
    assert_unchanged(target, before)


@pytest.mark.parametrize("case", list(RESUMED), ids=list(RESUMED))
def test_a_malformed_part_of_a_resume_is_refused_by_name_before_anything_loads(tmp_path, case):
    change, named = RESUMED[case]
    path = malformed_file(tmp_path, change)
    target = target_model()
    before, rng_before = snapshot(target), torch.get_rng_state()
    with pytest.raises(ValueError) as raised:
        ks.state.resume(target, ks.state.read(path), path)
    assert repr(os.fspath(path)) in str(raised.value) and named in str(raised.value), str(raised.value)
    assert_unchanged(target, before)
    assert torch.equal(rng_before, torch.get_rng_state())
    target.fit(*classification_data(n=16), batch_size=8, verbose=0)  # no resume was left pending
    assert target.epoch == 1


@pytest.mark.parametrize("entry,named", [(None, "0.weight (NoneType)"), ("w", "0.weight (str)")])
def test_a_bare_state_dict_with_a_non_tensor_entry_changes_no_weight(tmp_path, entry, named):
    weights = {k: v + 1 for k, v in weights_of(new_model().module).items()}
    weights["0.weight"] = entry
    torch.save(weights, tmp_path / "bare.pt")
    target = target_model()
    before = snapshot(target)
    refused = r"bare\.pt' does not match this module: entries that are not"
    with pytest.raises(ValueError, match=refused) as raised:
        target.load_weights(tmp_path / "bare.pt")
    assert named in str(raised.value)
    assert_unchanged(target, before)


@pytest.mark.parametrize("key", ["steps_done", "rng", "module"])
def test_a_legacy_backup_missing_a_part_is_refused_by_name(tmp_path, key):
    source = trained()
    legacy_backup(source, tmp_path / "old.pt")
    state = torch.load(tmp_path / "old.pt", weights_only=True)
    del state[key]
    torch.save(state, tmp_path / "old.pt")
    target = target_model()
    before = snapshot(target)
    with pytest.raises(ValueError, match=rf"old\.pt' is malformed: '{key}' is missing"):
        target.load_weights(tmp_path / "old.pt")
    assert_unchanged(target, before)


def test_a_legacy_file_with_a_non_numeric_epoch_is_refused_by_name(tmp_path):
    source = trained()
    legacy_full(source, tmp_path / "old.pt")
    state = torch.load(tmp_path / "old.pt", weights_only=True)
    state["epoch"] = "four"
    torch.save(state, tmp_path / "old.pt")
    target = target_model()
    before = snapshot(target)
    with pytest.raises(ValueError, match=r"old\.pt' is malformed: 'epoch' must be a non-negative integer"):
        target.load_weights(tmp_path / "old.pt")
    assert_unchanged(target, before)
