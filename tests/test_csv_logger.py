"""CSVLogger: Keras's columns and rows, NA for missing values, append, separator, crash safety."""

import csv
import os

import numpy as np
import pytest

import kerasish as ks

from helpers import mlp


def data(n=16):
    x = np.random.default_rng(0).normal(size=(n, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64")


def fit(logger, epochs=2, extra=(), **kwargs):
    model = ks.Model(mlp(4, 8, 2), device="cpu").compile("adam", "cross_entropy",
                                                         metrics=["accuracy"])
    x, y = data()
    return model.fit(x, y, batch_size=4, epochs=epochs, verbose=0, callbacks=[*extra, logger],
                     **kwargs).history


def rows(path, sep=","):
    with open(path, newline="") as handle:
        return list(csv.reader(handle, delimiter=sep))


def test_epoch_column_then_sorted_keys_row_by_row(tmp_path):
    path = tmp_path / "log.csv"
    h = fit(ks.callbacks.CSVLogger(path), validation_data=data(8))
    assert rows(path) == [
        ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"],
        ["0", str(h["accuracy"][0]), str(h["loss"][0]), str(h["val_accuracy"][0]), str(h["val_loss"][0])],
        ["1", str(h["accuracy"][1]), str(h["loss"][1]), str(h["val_accuracy"][1]), str(h["val_loss"][1])],
    ]
    assert open(path, newline="").read().count("\r\n") == 3   # csv's excel dialect, as Keras


def test_val_columns_exist_when_the_first_epoch_has_no_validation(tmp_path):
    path = tmp_path / "log.csv"
    h = fit(ks.callbacks.CSVLogger(path), validation_data=data(8), validation_freq=2)
    table = rows(path)
    assert table[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert table[1] == ["0", str(h["accuracy"][0]), str(h["loss"][0]), "NA", "NA"]
    assert table[2][3:] == [str(h["val_accuracy"][0]), str(h["val_loss"][0])]


def test_without_validation_the_val_columns_are_NA(tmp_path):
    path = tmp_path / "log.csv"
    fit(ks.callbacks.CSVLogger(path), epochs=1)
    assert rows(path)[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert rows(path)[1][3:] == ["NA", "NA"]


def test_the_separator_is_used(tmp_path):
    path = tmp_path / "log.tsv"
    fit(ks.callbacks.CSVLogger(path, separator="\t"), epochs=1)
    assert open(path).readline() == "epoch\taccuracy\tloss\tval_accuracy\tval_loss\n"


def test_append_writes_the_header_once(tmp_path):
    path = tmp_path / "log.csv"
    logger = ks.callbacks.CSVLogger(path, append=True)
    fit(logger)
    fit(logger)
    table = rows(path)
    assert [r[0] for r in table] == ["epoch", "0", "1", "0", "1"]


def test_append_to_an_empty_file_writes_the_header(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("")
    fit(ks.callbacks.CSVLogger(path, append=True), epochs=1)
    assert [r[0] for r in rows(path)] == ["epoch", "0"]


def test_without_append_a_new_fit_overwrites(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("old content\n")
    logger = ks.callbacks.CSVLogger(path)
    fit(logger)
    fit(logger, epochs=1)
    assert [r[0] for r in rows(path)] == ["epoch", "0"]


def test_each_row_is_on_disk_when_its_epoch_ends(tmp_path):
    path = tmp_path / "log.csv"
    seen = []
    reader = ks.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(len(rows(path))))
    model = ks.Model(mlp(4, 8, 2), device="cpu").compile("adam", "cross_entropy")
    model.fit(*data(), epochs=3, verbose=0, callbacks=[ks.callbacks.CSVLogger(path), reader])
    assert seen == [2, 3, 4]
    assert sorted(os.listdir(tmp_path)) == ["log.csv"]   # no temporary files left


def test_learning_rate_column_from_an_earlier_callback(tmp_path):
    path = tmp_path / "log.csv"
    schedule = ks.callbacks.LearningRateScheduler(lambda epoch: 0.5 ** (epoch + 1))
    fit(ks.callbacks.CSVLogger(path), extra=[schedule])
    table = rows(path)
    assert table[0][:4] == ["epoch", "accuracy", "learning_rate", "loss"]
    assert [r[2] for r in table[1:]] == ["0.5", "0.25"]


def test_parent_folders_are_created(tmp_path):
    path = tmp_path / "logs" / "run" / "log.csv"
    fit(ks.callbacks.CSVLogger(path), epochs=1)
    assert path.exists()


@pytest.mark.parametrize("separator", ["", ";;", None])
def test_separator_must_be_one_character(tmp_path, separator):
    with pytest.raises(ValueError, match="separator must be a single character"):
        ks.callbacks.CSVLogger(tmp_path / "log.csv", separator=separator)


@pytest.mark.parametrize("filename", ["", None])
def test_filename_is_required(filename):
    with pytest.raises(ValueError, match="filename must be a file path"):
        ks.callbacks.CSVLogger(filename)
