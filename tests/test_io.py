"""Crash-safe writers: whole files or whole records, never torn ones."""

import os
import signal
import subprocess
import sys
import textwrap

from kerasish.io import append_record, atomic_write_text


def test_atomic_write_replaces_whole_files_and_leaves_no_temporaries(tmp_path):
    path = tmp_path / "sub" / "file.txt"
    atomic_write_text(path, "first")
    atomic_write_text(path, "second")
    assert path.read_text() == "second"
    assert os.listdir(path.parent) == ["file.txt"]


def test_append_record_adds_whole_records(tmp_path):
    path = tmp_path / "log.csv"
    append_record(path, "epoch,loss\r\n")
    append_record(path, "0,0.5\r\n")
    assert path.read_bytes() == b"epoch,loss\r\n0,0.5\r\n"


def test_a_writer_killed_mid_stream_leaves_only_whole_records(tmp_path):
    path = tmp_path / "rows.csv"
    script = textwrap.dedent(f"""
        import os, signal
        from kerasish.io import append_record
        for i in range(2000):
            append_record({str(path)!r}, ",".join([str(i)] * 200) + "\\n")
            if i == 1234:
                os.kill(os.getpid(), signal.SIGKILL)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert result.returncode == -signal.SIGKILL
    lines = path.read_text().splitlines()
    assert len(lines) == 1235
    assert all(line == ",".join([str(i)] * 200) for i, line in enumerate(lines))
