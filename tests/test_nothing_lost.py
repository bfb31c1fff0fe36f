"""Nothing lost: damaged files are refused before they touch the model, writes leave nothing behind,
bad folders and NaN inputs are reported before the first step."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest
import torch

import kerasish as ks

from helpers import classification_data, mlp, same_weights, weights_of


def tensor_data_offsets(path) -> list[int]:
    """Byte offsets of the stored tensor data in a torch zip file (where a flip corrupts weights)."""
    with zipfile.ZipFile(path) as archive:
        offsets = []
        for info in archive.infolist():
            if "/data/" in info.filename:
                # The member's data follows its local header: 30 bytes + name + extra field.
                with open(path, "rb") as handle:
                    handle.seek(info.header_offset + 26)
                    name_len, extra_len = np.frombuffer(handle.read(4), dtype="<u2")
                start = info.header_offset + 30 + int(name_len) + int(extra_len)
                offsets += range(start, start + info.file_size)
        return offsets


def flip(path, offset: int) -> None:
    data = bytearray(open(path, "rb").read())
    data[offset] ^= 0x40
    open(path, "wb").write(bytes(data))


def trained_model():
    torch.manual_seed(0)
    model = ks.Model(mlp(), device="cpu").compile("adam", "cross_entropy")
    model.fit(*classification_data(n=32), verbose=0)
    return model


@pytest.mark.parametrize("kind", ["save", "save_weights"])
def test_every_flipped_weight_byte_is_caught_before_the_model_changes(tmp_path, kind):
    model = trained_model()
    path = tmp_path / "ckpt.pt"
    getattr(model, kind)(path)
    offsets = tensor_data_offsets(path)
    rng = np.random.default_rng(0)
    target = ks.Model(mlp(), device="cpu").compile("adam", "cross_entropy")
    before = weights_of(target.module)
    pristine = open(path, "rb").read()
    for offset in rng.choice(offsets, size=20, replace=False):
        open(path, "wb").write(pristine)
        flip(path, int(offset))
        with pytest.raises(ValueError, match="CRC32"):
            target.load_weights(path)
        assert same_weights(before, weights_of(target.module))
    open(path, "wb").write(pristine)
    target.load_weights(path)  # the intact file still loads
    assert same_weights(weights_of(model.module), weights_of(target.module))


def test_backup_and_restore_falls_back_when_the_latest_backup_rotted(tmp_path):
    x, y = classification_data(n=32)

    class Stop(ks.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if self.model.optimizer_steps == 6:  # after batch 6 and its backup
                raise KeyboardInterrupt

    torch.manual_seed(0)
    model = ks.Model(mlp(), device="cpu").compile("adam", "cross_entropy")
    backup = ks.callbacks.BackupAndRestore(tmp_path, save_freq=2, double_checkpoint=True)
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[backup, Stop()])
    flip(tmp_path / "backup.pt", tensor_data_offsets(tmp_path / "backup.pt")[5])
    seen = []
    resumed = ks.Model(mlp(), device="cpu").compile("adam", "cross_entropy")
    spy = ks.callbacks.LambdaCallback(on_train_begin=lambda logs: seen.append(resumed.optimizer_steps))
    with pytest.warns(UserWarning, match="CRC32.*previous backup"):
        resumed.fit(x, y, batch_size=8, epochs=3, verbose=0,
                    callbacks=[ks.callbacks.BackupAndRestore(tmp_path, save_freq=2,
                                                             double_checkpoint=True), spy])
    assert seen == [4]  # resumed from the previous backup, two steps earlier


def test_a_killed_writer_leaves_a_temporary_that_the_next_write_removes(tmp_path):
    model = trained_model()
    leftover = tmp_path / ".ckpt.pt.abc123.tmp"
    leftover.write_bytes(b"\0" * 1000)  # what a SIGKILL mid-write leaves
    model.save(tmp_path / "ckpt.pt")
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pt"]


def test_an_unwritable_backup_dir_fails_before_the_first_step(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    model = ks.Model(mlp(), device="cpu").compile("sgd", "cross_entropy")
    before = weights_of(model.module)
    with pytest.raises(ValueError, match="backup_dir .* is not writable"):
        model.fit(*classification_data(n=16), verbose=0,
                  callbacks=[ks.callbacks.BackupAndRestore(blocker / "backups")])
    assert same_weights(before, weights_of(model.module))


def test_nan_in_array_input_warns_once_per_fit():
    x, y = classification_data(n=32)
    x[3, 2] = np.nan
    model = ks.Model(mlp(), device="cpu").compile("sgd", "cross_entropy")
    with pytest.warns(UserWarning, match="NaN or infinite") as warned:
        model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert sum("NaN or infinite" in str(w.message) for w in warned) == 1
