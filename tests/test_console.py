"""console: output that survives any stream encoding, stays quiet off rank 0, and knows Jupyter."""

import io
import os
import pty
import subprocess
import sys
import types
from pathlib import Path

import pytest

from kerasish import console

REPO = Path(__file__).resolve().parents[1]


def ascii_stream() -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding="ascii")


def written(stream: io.TextIOWrapper) -> str:
    stream.flush()
    return stream.buffer.getvalue().decode(stream.encoding)


def test_characters_the_stream_cannot_encode_are_replaced_not_raised():
    stream = ascii_stream()
    console.print_line("3/3 ━━─ 2µs - loss: 0.1", stream=stream)
    assert written(stream) == "3/3 ==. 2?s - loss: 0.1\n"


def test_text_the_stream_can_encode_is_written_unchanged():
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    console.write("\r3/3 ━━─ 2µs", stream=stream)
    assert written(stream) == "\r3/3 ━━─ 2µs"
    assert console.can_encode("━", io.StringIO())  # no encoding: any text


class Model:
    def __init__(self, main: bool):
        self.is_main_process = main


@pytest.mark.parametrize("rank, model, prints", [
    (None, None, True),
    ("0", None, True),
    ("1", None, False),
    ("not-a-number", None, True),
    ("0", Model(main=False), False),    # the model's view of the process group wins
    ("1", Model(main=True), True),
    ("1", object(), False),             # an object without is_main_process: RANK decides
])
def test_only_the_main_process_prints(monkeypatch, rank, model, prints):
    if rank is None:
        monkeypatch.delenv("RANK", raising=False)
    else:
        monkeypatch.setenv("RANK", rank)
    stream = io.StringIO()
    console.print_line("hello", model=model, stream=stream)
    assert (stream.getvalue() == "hello\n") is prints


def jupyter_stream_class() -> type:
    """A class shaped like ipykernel's ``OutStream`` (ipykernel is not installed here)."""
    return type("OutStream", (io.StringIO,), {"__module__": "ipykernel.iostream"})


def test_jupyter_output_is_recognised_once_ipykernel_is_loaded(monkeypatch):
    out_stream = jupyter_stream_class()()
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert not console.in_jupyter(out_stream)  # no kernel: a look-alike class is not one
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    assert console.in_jupyter(out_stream)
    assert console.in_jupyter(type("Sub", (type(out_stream),), {})())  # a subclass too
    assert not console.in_jupyter(io.StringIO())
    assert not console.in_jupyter(type("OutStream", (io.StringIO,), {})())  # same name, elsewhere


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_lines_redraw_in_place_on_terminals_and_in_jupyter_only(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    assert console.redraws_in_place(Terminal())
    assert console.redraws_in_place(jupyter_stream_class()())
    assert not console.redraws_in_place(io.StringIO())
    closed = io.StringIO()
    closed.close()
    assert not console.redraws_in_place(closed)


# ---------------------------------------------------------------------- whole runs in a terminal

SCRIPT = """
import sys
import numpy as np
import torch
import kerasish as ks

torch.manual_seed(0)
x = np.random.default_rng(0).normal(size=(64, 8)).astype("float32")
y = (x[:, 0] > 0).astype("int64")
net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
model = ks.Model(net, device="cpu").compile("adam", "cross_entropy", metrics=["accuracy"])
if "--summary" in sys.argv:
    model.summary(input_shape=(8,))
# The loss falls, so mode="max" sees no improvement at epoch 2: both callbacks act and print.
callbacks = [
    ks.callbacks.LearningRateScheduler(lambda epoch, lr: lr, verbose=1),
    ks.callbacks.ReduceLROnPlateau(monitor="loss", mode="max", patience=0, verbose=1),
    ks.callbacks.EarlyStopping(monitor="loss", mode="max", patience=0, verbose=1,
                               restore_best_weights=True),
]
model.fit(x, y, batch_size=16, epochs=4, verbose=1, callbacks=callbacks)
model.evaluate(x, y, batch_size=16, verbose=1)
x[0, 0] = float("nan")
model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False,
          callbacks=[ks.callbacks.TerminateOnNaN()])
"""


def run_in_terminal(tmp_path: Path, *args: str, **env_vars: str) -> str:
    """Run SCRIPT with a pseudo-terminal as stdout (so the bar is live) and an ASCII-only encoding.

    Returns what it printed; decoding it as ASCII fails on any other byte.
    """
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(PYTHONPATH=str(REPO), PYTHONIOENCODING="ascii", **env_vars)
    leader, follower = pty.openpty()
    child = subprocess.Popen([sys.executable, str(script), *args], stdout=follower,
                             stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    stderr = child.stderr.read().decode()
    assert child.wait(timeout=120) == 0, stderr
    return b"".join(chunks).decode("ascii").replace("\r\n", "\n")


def test_an_ascii_terminal_gets_the_summary_the_bar_and_every_message(tmp_path):
    out = run_in_terminal(tmp_path, "--summary")
    assert 'Model: "Sequential"' in out and "=" * 30 in out and "Total params: 178" in out
    assert "Epoch 1/4" in out and "4/4 ====================" in out  # the live bar, in ASCII
    assert "Epoch 1: LearningRateScheduler setting learning rate to 0.001." in out
    assert "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.0001" in out
    assert "Epoch 2: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 1." in out
    assert "Batch 0: Invalid loss, terminating training" in out


def test_a_non_zero_rank_prints_nothing_from_the_callbacks(tmp_path):
    assert run_in_terminal(tmp_path, RANK="1") == ""
