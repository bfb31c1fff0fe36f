"""ModelCheckpoint: which files exist for which save_freq, templates, save_best_only, loading."""

import os

import numpy as np
import pytest
import torch

import kerasish as ks

from helpers import Scripted, WeightsPerEpoch, mlp, same_weights, weights_of


def data(n=16):
    x = np.random.default_rng(0).normal(size=(n, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64")


def new_model(optimizer="adam"):
    return ks.Model(mlp(4, 8, 2), device="cpu").compile(optimizer, "cross_entropy")


def fit(callbacks, epochs=3, model=None, **kwargs):
    model = model or new_model()
    history = model.fit(*data(), batch_size=4, epochs=epochs, verbose=0, callbacks=callbacks,
                        **kwargs)
    return model, history


def files(folder):
    return sorted(p for p in os.listdir(folder) if not p.startswith("."))


def test_saves_every_epoch_with_a_1_based_epoch_template(tmp_path):
    fit([ks.callbacks.ModelCheckpoint(tmp_path / "{epoch:02d}.pt")])
    assert files(tmp_path) == ["01.pt", "02.pt", "03.pt"]


def test_integer_save_freq_counts_batches_across_epochs(tmp_path):
    # 4 batches per epoch, every 3rd batch: global batches 3, 6, 9, 12.
    fit([ks.callbacks.ModelCheckpoint(tmp_path / "e{epoch}-b{batch}.pt", save_freq=3)])
    assert files(tmp_path) == ["e1-b3.pt", "e2-b2.pt", "e3-b1.pt", "e3-b4.pt"]


def test_save_freq_one_saves_after_every_batch(tmp_path):
    fit([ks.callbacks.ModelCheckpoint(tmp_path / "{epoch}-{batch}.pt", save_freq=1)], epochs=2)
    assert files(tmp_path) == [f"{e}-{b}.pt" for e in (1, 2) for b in (1, 2, 3, 4)]


def test_a_batch_template_does_not_read_batch_logs(tmp_path):
    class AssertUnread(ks.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            assert not logs._read   # LazyLogs not materialised: no host read per batch

    fit([ks.callbacks.ModelCheckpoint(tmp_path / "{batch}.pt", save_freq=2), AssertUnread()],
        epochs=1)
    assert files(tmp_path) == ["2.pt", "4.pt"]


def test_templates_take_any_log_key(tmp_path):
    _, history = fit([ks.callbacks.ModelCheckpoint(tmp_path / "{epoch}-{loss:.4f}.pt")], epochs=2)
    losses = history.history["loss"]
    assert files(tmp_path) == [f"1-{losses[0]:.4f}.pt", f"2-{losses[1]:.4f}.pt"]


def test_a_missing_template_key_lists_the_available_keys(tmp_path):
    checkpoint = ks.callbacks.ModelCheckpoint(tmp_path / "{epoch}-{val_loss:.2f}.pt")
    with pytest.raises(KeyError) as info:
        fit([checkpoint], epochs=1)
    message = str(info.value)
    assert "['val_loss']" in message and "not in the logs" in message
    assert "Available keys: ['epoch', 'loss']" in message
    assert isinstance(info.value, ValueError)   # also a ValueError, as every bad input is


def test_batch_template_needs_an_integer_save_freq(tmp_path):
    with pytest.raises(ValueError, match=r"uses \{batch\}.*save_freq=N"):
        ks.callbacks.ModelCheckpoint(tmp_path / "{batch}.pt")


@pytest.mark.parametrize("save_freq", [0, -2, 1.5, "batch", True, None])
def test_invalid_save_freq(tmp_path, save_freq):
    with pytest.raises(ValueError, match="save_freq must be 'epoch' or a positive integer"):
        ks.callbacks.ModelCheckpoint(tmp_path / "m.pt", save_freq=save_freq)


@pytest.mark.parametrize("filepath", ["", None])
def test_filepath_is_required(filepath):
    with pytest.raises(ValueError, match="filepath must be a file path"):
        ks.callbacks.ModelCheckpoint(filepath)


def test_positional_and_malformed_templates_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="positional field"):
        ks.callbacks.ModelCheckpoint(tmp_path / "{}.pt")
    with pytest.raises(ValueError, match="not a valid format string"):
        ks.callbacks.ModelCheckpoint(tmp_path / "{epoch.pt")


def test_save_best_only_saves_only_improvements(tmp_path):
    checkpoint = ks.callbacks.ModelCheckpoint(tmp_path / "best-{epoch}.pt", save_best_only=True)
    fit([Scripted("val_loss", [1.0, 0.5, 0.7, 0.4]), checkpoint], epochs=4)
    assert files(tmp_path) == ["best-1.pt", "best-2.pt", "best-4.pt"]
    assert checkpoint.best == 0.4


def test_save_best_only_keeps_the_best_weights_in_one_file(tmp_path):
    record = WeightsPerEpoch()
    checkpoint = ks.callbacks.ModelCheckpoint(tmp_path / "best.pt", save_best_only=True,
                                              save_weights_only=True)
    fit([Scripted("val_loss", [1.0, 0.5, 0.7, 0.8]), checkpoint, record], epochs=4)
    fresh = new_model()
    fresh.load_weights(tmp_path / "best.pt")
    assert same_weights(weights_of(fresh.module), record.weights[1])
    assert not same_weights(record.weights[3], record.weights[1])


def test_max_mode_for_accuracy(tmp_path):
    checkpoint = ks.callbacks.ModelCheckpoint(tmp_path / "{epoch}.pt", monitor="val_accuracy",
                                              save_best_only=True)
    fit([Scripted("val_accuracy", [0.5, 0.7, 0.6]), checkpoint])
    assert files(tmp_path) == ["1.pt", "2.pt"]


def test_initial_value_threshold_must_be_beaten_first(tmp_path):
    checkpoint = ks.callbacks.ModelCheckpoint(tmp_path / "{epoch}.pt", save_best_only=True,
                                              initial_value_threshold=0.6)
    fit([Scripted("val_loss", [1.0, 0.7, 0.5, 0.55]), checkpoint], epochs=4)
    assert files(tmp_path) == ["3.pt"]


def test_missing_monitor_warns_and_saves_anyway(tmp_path):
    checkpoint = ks.callbacks.ModelCheckpoint(tmp_path / "{epoch}.pt", save_best_only=True)
    with pytest.warns(UserWarning, match=r"'val_loss' is not in the logs.*saved anyway"):
        fit([checkpoint], epochs=2)
    assert files(tmp_path) == ["1.pt", "2.pt"]


def test_parent_folders_are_created(tmp_path):
    fit([ks.callbacks.ModelCheckpoint(tmp_path / "a" / "b" / "{epoch}.pt")], epochs=1)
    assert files(tmp_path / "a" / "b") == ["1.pt"]


def test_an_existing_folder_as_path_is_an_error(tmp_path):
    (tmp_path / "1.pt").mkdir()
    with pytest.raises((ValueError, IsADirectoryError), match="is an existing folder"):
        fit([ks.callbacks.ModelCheckpoint(tmp_path / "{epoch}.pt")], epochs=1)


def test_save_weights_only_writes_a_plain_state_dict(tmp_path):
    model, _ = fit([ks.callbacks.ModelCheckpoint(tmp_path / "w.pt", save_weights_only=True)],
                   epochs=1)
    state = torch.load(tmp_path / "w.pt", weights_only=True)
    assert list(state) == list(model.module.state_dict())


def test_a_full_checkpoint_continues_training_exactly(tmp_path):
    model, _ = fit([ks.callbacks.ModelCheckpoint(tmp_path / "full.pt")], epochs=2, shuffle=False)
    model.fit(*data(), batch_size=4, epochs=1, verbose=0, shuffle=False)
    torch.manual_seed(7)
    resumed = new_model()
    resumed.load_weights(tmp_path / "full.pt")
    assert resumed.epoch == 2
    resumed.fit(*data(), batch_size=4, epochs=1, verbose=0, shuffle=False)
    assert same_weights(weights_of(resumed.module), weights_of(model.module))


def test_weights_only_checkpoint_does_not_carry_the_optimizer(tmp_path):
    model, _ = fit([ks.callbacks.ModelCheckpoint(tmp_path / "w.pt", save_weights_only=True)],
                   epochs=2, shuffle=False)
    model.fit(*data(), batch_size=4, epochs=1, verbose=0, shuffle=False)
    resumed = new_model()
    resumed.load_weights(tmp_path / "w.pt")
    resumed.fit(*data(), batch_size=4, epochs=1, verbose=0, shuffle=False)
    assert not same_weights(weights_of(resumed.module), weights_of(model.module))  # fresh Adam


def test_verbose_messages(tmp_path, capsys):
    fit([Scripted("val_loss", [1.0, 2.0]),
         ks.callbacks.ModelCheckpoint(tmp_path / "b.pt", save_best_only=True, verbose=1)], epochs=2)
    out = capsys.readouterr().out
    assert f"Epoch 1: val_loss improved from None to 1.00000, saving model to {tmp_path / 'b.pt'}" in out
    assert "Epoch 2: val_loss did not improve from 1.00000" in out
    fit([ks.callbacks.ModelCheckpoint(tmp_path / "{epoch}.pt", verbose=1)], epochs=1)
    assert f"Epoch 1: saving model to {tmp_path / '1.pt'}" in capsys.readouterr().out


def test_no_temporary_files_are_left_behind(tmp_path):
    fit([ks.callbacks.ModelCheckpoint(tmp_path / "{epoch}-{batch}.pt", save_freq=1)], epochs=1)
    assert sorted(os.listdir(tmp_path)) == ["1-1.pt", "1-2.pt", "1-3.pt", "1-4.pt"]


# ---------------------------------------------------------------------------- checked before training


@pytest.mark.parametrize("template", ["{loss:02d}.pt", "{epoch:q}.pt", "{loss:.2f}-{epoch:s}.pt"])
def test_a_format_the_values_cannot_take_fails_before_the_first_step(tmp_path, template):
    model = new_model()
    before = weights_of(model.module)
    with pytest.raises(ValueError, match="cannot be filled"):
        fit([ks.callbacks.ModelCheckpoint(tmp_path / template)], model=model)
    assert same_weights(before, weights_of(model.module))
    assert files(tmp_path) == []


def test_an_unwritable_folder_fails_before_the_first_step(tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    model = new_model()
    before = weights_of(model.module)
    with pytest.raises(ValueError, match=r"cannot write checkpoints under .*a_file"):
        fit([ks.callbacks.ModelCheckpoint(tmp_path / "a_file" / "ckpt" / "{epoch}.pt")], model=model)
    assert same_weights(before, weights_of(model.module))


def test_a_validation_key_in_a_batch_template_fails_before_the_first_step(tmp_path):
    model = new_model()
    before = weights_of(model.module)
    with pytest.raises(KeyError, match=r"\['val_loss'\].*never in batch logs"):
        fit([ks.callbacks.ModelCheckpoint(tmp_path / "{batch}-{val_loss:.2f}.pt", save_freq=2)],
            model=model, validation_split=0.25)
    assert same_weights(before, weights_of(model.module))


def test_a_validation_key_without_validation_data_fails_before_the_first_step(tmp_path):
    seen = {}
    probe = ks.callbacks.LambdaCallback(on_train_begin=lambda logs: seen.update(probe.params))
    fit([probe], epochs=1)
    if "do_validation" not in seen:
        pytest.skip("fit does not report params['do_validation'] yet")
    model = new_model()
    before = weights_of(model.module)
    with pytest.raises(KeyError, match=r"\['val_loss'\].*without validation data"):
        fit([ks.callbacks.ModelCheckpoint(tmp_path / "{epoch}-{val_loss:.2f}.pt")], model=model)
    assert same_weights(before, weights_of(model.module))
    fit([ks.callbacks.ModelCheckpoint(tmp_path / "{epoch}-{val_loss:.2f}.pt")], epochs=1,
        validation_split=0.25)  # with validation data the same template is fine
    assert len(files(tmp_path)) == 1


def test_saved_lists_every_file_written_and_on_save_sees_each(tmp_path):
    seen = []

    class Uploads(ks.callbacks.ModelCheckpoint):
        def on_save(self, saved):
            seen.append((os.path.exists(saved.path), saved))

    checkpoint = Uploads(tmp_path / "e{epoch}-b{batch}.pt", save_freq=3)
    fit([checkpoint])
    assert [(f.epoch, f.batch) for f in checkpoint.saved] == [(0, 2), (1, 1), (2, 0), (2, 3)]
    assert [os.path.basename(f.path) for f in checkpoint.saved] == [
        "e1-b3.pt", "e2-b2.pt", "e3-b1.pt", "e3-b4.pt"]
    assert seen == [(True, f) for f in checkpoint.saved]  # called once the file exists


def test_state_dict_round_trips_the_best_value_and_the_batch_count(tmp_path):
    first = ks.callbacks.ModelCheckpoint(tmp_path / "{epoch}.pt", save_best_only=True, save_freq=3)
    fit([Scripted("val_loss", [1.0, 0.5, 0.7]), first], epochs=3)
    state = first.state_dict()
    second = ks.callbacks.ModelCheckpoint(tmp_path / "{epoch}.pt", save_best_only=True, save_freq=3)
    second.load_state_dict(state)
    assert (second.best, second._schedule.batches_since_save) == (first.best, 12 % 3)
