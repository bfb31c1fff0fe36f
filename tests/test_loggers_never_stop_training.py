"""A logger that cannot write never stops training, and never leaves half a record.

Real failures, not mocks: a file-size limit (``RLIMIT_FSIZE``, in a subprocess, with ``SIGXFSZ``
ignored so that a write past it fails with ``EFBIG``), a folder deleted mid-fit, a path whose
parent is a file. (A read-only folder does not stop root, which these tests usually run as; that
case is checked only when they are not.) Each fit must finish with the weights of a fit without
the logger, warn once naming the file, and leave only whole rows.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest
import torch

import kerasish as ks

from helpers import classification_data, mlp, same_weights, weights_of

TESTS = Path(__file__).resolve().parent
EPOCHS = 4


def train(*callbacks, epochs=EPOCHS):
    """Weights and history of a seeded fit, recording the RuntimeWarnings it gave."""
    torch.manual_seed(0)
    model = ks.Model(mlp(), device="cpu").compile("sgd", "cross_entropy")
    x, y = classification_data(n=64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(x, y, batch_size=16, epochs=epochs, verbose=0, callbacks=list(callbacks))
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    return weights_of(model.module), history.history, messages


class DeleteAt(ks.callbacks.Callback):
    """Deletes ``folder`` at the end of ``epoch`` (put it before the logger tested)."""

    def __init__(self, epoch, folder):
        super().__init__()
        self.epoch, self.folder = epoch, folder

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            shutil.rmtree(self.folder)


def reference_csv(tmp_path) -> str:
    path = tmp_path / "reference" / "log.csv"
    train(ks.callbacks.CSVLogger(path))
    return path.read_bytes().decode()


# ---------------------------------------------------------------------------- a file-size limit

LIMITED = """
import json, resource, signal, sys, warnings
sys.path.insert(0, {tests!r})
import torch, kerasish as ks
from helpers import classification_data, mlp, weights_of

def train(*callbacks):
    torch.manual_seed(0)
    model = ks.Model(mlp(), device="cpu").compile("sgd", "cross_entropy")
    x, y = classification_data(n=64)
    history = model.fit(x, y, batch_size=16, epochs=6, verbose=0, callbacks=list(callbacks))
    return weights_of(model.module), len(history.history["loss"])

reference, _ = train()
{setup}
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)          # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    weights, epochs = train(logger)
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
print(json.dumps({{
    "same_weights": all(torch.equal(reference[k], weights[k]) for k in reference),
    "epochs": epochs,
    "warnings": [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)],
}}))
"""

CSV_SETUP = """
train(ks.callbacks.CSVLogger({full!r}))
lines = open({full!r}, newline="").read().splitlines(keepends=True)
limit = len(lines[0]) + len(lines[1]) + len(lines[2]) // 2   # epoch 1's row crosses the limit
logger = ks.callbacks.CSVLogger({limited!r})
"""

TENSORBOARD_SETUP = """
limit = 30_000
logger = ks.callbacks.TensorBoard({log_dir!r}, update_freq=1, histogram_freq=1)
"""


def run_limited(setup: str) -> tuple[dict, str]:
    script = LIMITED.format(tests=str(TESTS), setup=setup)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS.parent), str(TESTS)]),
           "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


def test_csv_logger_under_a_file_size_limit_keeps_whole_rows_and_training_goes_on(tmp_path):
    full, limited = tmp_path / "full" / "log.csv", tmp_path / "limited" / "log.csv"
    report, _ = run_limited(CSV_SETUP.format(full=str(full), limited=str(limited)))
    assert report["epochs"] == 6 and report["same_weights"]
    ours = [m for m in report["warnings"] if "CSVLogger" in m]
    assert len(ours) == 1, report["warnings"]
    assert str(limited) in ours[0] and "File too large" in ours[0]
    lines = full.read_bytes().decode().splitlines(keepends=True)
    assert limited.read_bytes().decode() == lines[0] + lines[1]  # the header and epoch 0, whole
    assert os.listdir(limited.parent) == ["log.csv"]  # no temporary file left by the retries


def test_tensorboard_under_a_file_size_limit_prints_no_thread_traceback(tmp_path):
    report, stderr = run_limited(TENSORBOARD_SETUP.format(log_dir=str(tmp_path / "logs")))
    assert report["epochs"] == 6 and report["same_weights"]
    ours = [m for m in report["warnings"] if "TensorBoardCallback" in m]
    assert len(ours) == 1 and "File too large" in ours[0], report["warnings"]
    assert "Traceback" not in stderr and "Exception in thread" not in stderr, stderr[-3000:]


# ---------------------------------------------------------------------------- a folder deleted mid-fit


def test_csv_logger_whose_folder_is_deleted_warns_and_writes_every_row_again(tmp_path):
    expected = reference_csv(tmp_path)
    reference, _, _ = train()
    path = tmp_path / "run" / "log.csv"
    weights, history, messages = train(DeleteAt(1, path.parent), ks.callbacks.CSVLogger(path))
    assert same_weights(reference, weights) and len(history["loss"]) == EPOCHS
    ours = [m for m in messages if "CSVLogger" in m]
    assert len(ours) == 1 and str(path) in ours[0] and "FileNotFoundError" in ours[0]
    assert path.read_bytes().decode() == expected  # the next epoch end wrote the file whole again


def test_tensorboard_whose_folder_is_deleted_warns_without_a_thread_traceback(tmp_path, monkeypatch):
    reference, _, _ = train()
    died: list = []
    monkeypatch.setattr(threading, "excepthook", died.append)  # what a thread would print
    threads = threading.active_count()
    log_dir = tmp_path / "logs"
    weights, history, messages = train(DeleteAt(0, log_dir),
                                       ks.callbacks.TensorBoard(log_dir, update_freq=1))
    deadline = time.monotonic() + 10
    while threading.active_count() > threads and time.monotonic() < deadline:
        time.sleep(0.05)  # the writer threads end (and would report) after the fit returns
    assert same_weights(reference, weights) and len(history["loss"]) == EPOCHS
    ours = [m for m in messages if "TensorBoardCallback" in m]
    assert len(ours) == 1 and str(log_dir) in ours[0] and "stopped writing" in ours[0]
    assert died == [], [f"{a.exc_type.__name__}: {a.exc_value}" for a in died]


# ---------------------------------------------------------------------------- never writable


def test_csv_logger_whose_parent_is_a_file_warns_once_and_training_goes_on(tmp_path):
    reference, _, _ = train()
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    path = blocker / "log.csv"
    weights, history, messages = train(ks.callbacks.CSVLogger(path))
    assert same_weights(reference, weights) and len(history["loss"]) == EPOCHS
    ours = [m for m in messages if "CSVLogger" in m]
    assert len(ours) == 1 and str(path) in ours[0]
    assert blocker.read_text() == "not a folder"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes to read-only files and folders")
def test_csv_logger_made_read_only_mid_fit_keeps_whole_rows_and_training_goes_on(tmp_path):
    reference, _, _ = train()
    path = tmp_path / "run" / "log.csv"

    class ReadOnlyAt(ks.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                path.chmod(stat.S_IRUSR)
                path.parent.chmod(stat.S_IRUSR | stat.S_IXUSR)

    try:
        weights, history, messages = train(ReadOnlyAt(), ks.callbacks.CSVLogger(path))
    finally:
        path.parent.chmod(stat.S_IRWXU)
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert same_weights(reference, weights) and len(history["loss"]) == EPOCHS
    ours = [m for m in messages if "CSVLogger" in m]
    assert len(ours) == 1 and str(path) in ours[0] and "PermissionError" in ours[0]
    lines = reference_csv(tmp_path).splitlines(keepends=True)
    assert path.read_bytes().decode() == lines[0] + lines[1]  # the header and epoch 0, whole


APPEND = """
import errno, resource, signal
from kerasish.io import append_record
append_record({path!r}, "epoch,loss\\r\\n")
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (20, resource.RLIM_INFINITY))
try:
    append_record({path!r}, "1,1.0190873146057129\\r\\n")   # crosses the limit at byte 20
except OSError as error:
    print(error.errno == errno.EFBIG, error.filename == {path!r}, error)
"""


def test_a_record_cut_short_by_the_size_limit_is_taken_back_and_the_error_names_the_file(tmp_path):
    path = tmp_path / "log.csv"
    env = {**os.environ, "PYTHONPATH": str(TESTS.parent), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run([sys.executable, "-c", APPEND.format(path=str(path))],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("True True"), result.stdout
    assert path.read_bytes() == b"epoch,loss\r\n"  # not b"epoch,loss\r\n1,1.019087"
