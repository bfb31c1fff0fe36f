"""Read an offline W&B run back from its ``run-<id>.wandb`` file, for tests.

The file is a LevelDB-style log: a 7-byte header (``:W&B``, uint16 LE ``0xBEE1``, version 0), then
32 KiB blocks of chunks, each with a 7-byte header ``<crc32 u32><length u16><type u8>`` (1 full,
2 first, 3 middle, 4 last). A record's payload is a ``wandb_internal_pb2.Record``. wandb 0.31
writes no summary or config JSON for offline runs, so this file is the only account of a run.
"""

from __future__ import annotations

import json
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb.proto import wandb_internal_pb2

_MAGIC = b":W&B"
_HEADER = 7
_BLOCK = 32 * 1024
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def read_records(path: str | Path) -> list[wandb_internal_pb2.Record]:
    """Every record of a ``.wandb`` file, in write order; checks magic, version and CRCs."""
    data = Path(path).read_bytes()
    if len(data) < _HEADER:
        raise ValueError(f"{path} is too short to be a W&B run file ({len(data)} bytes)")
    magic, ident, version = struct.unpack("<4sHB", data[:_HEADER])
    if magic != _MAGIC or ident != 0xBEE1 or version != 0:
        raise ValueError(f"{path} is not a W&B run file (header {data[:_HEADER]!r})")
    records, pending = [], b""
    pos = _HEADER
    while pos + _HEADER <= len(data):
        left_in_block = _BLOCK - pos % _BLOCK
        if left_in_block < _HEADER:  # too small for a chunk header: zero padding to the next block
            pos += left_in_block
            continue
        crc, length, kind = struct.unpack("<IHB", data[pos:pos + _HEADER])
        if crc == 0 and length == 0 and kind == 0:  # padding at the end of a block
            pos += left_in_block
            continue
        payload = data[pos + _HEADER:pos + _HEADER + length]
        if zlib.crc32(payload, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF != crc:
            raise ValueError(f"{path}: bad checksum at byte {pos}")
        pos += _HEADER + length
        if kind == _FULL:
            pending = payload
        elif kind == _FIRST:
            pending = payload
            continue
        elif kind == _MIDDLE:
            pending += payload
            continue
        elif kind == _LAST:
            pending += payload
        else:
            raise ValueError(f"{path}: unknown chunk type {kind} at byte {pos}")
        record = wandb_internal_pb2.Record()
        record.ParseFromString(pending)
        records.append(record)
        pending = b""
    return records


@dataclass
class OfflineRun:
    """What an offline run logged: config, history rows, summary, metric definitions, artifacts."""

    records: list
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    artifacts: list = field(default_factory=list)
    exit_code: int | None = None
    run_id: str = ""
    name: str = ""
    start_time: float = 0.0
    kinds: list[str] = field(default_factory=list)  # record types in file order

    def rows_with(self, key: str) -> list[dict[str, Any]]:
        return [row for row in self.history if key in row]


def _value(item) -> Any:
    return json.loads(item.value_json)


def _key(item) -> str:
    return item.key or item.nested_key[0]


def _put(target: dict[str, Any], item) -> None:
    """``nested_key`` ``["gradients/w", "bins"]`` becomes ``target["gradients/w"]["bins"]``."""
    path = [item.key] if item.key else list(item.nested_key)
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = _value(item)


def read_run(wandb_dir: str | Path, timeout: float = 15.0) -> OfflineRun:
    """Read the one finished offline run under ``wandb_dir``; fails if there is not exactly one.

    ``run.finish()`` can return before W&B's service has written the end of the file, so this
    waits (up to ``timeout`` seconds) for the run's exit record.
    """
    files = sorted(Path(wandb_dir).glob("**/offline-run-*/run-*.wandb"))
    if len(files) != 1:
        raise AssertionError(f"expected one offline run file under {wandb_dir}, found {files}")
    deadline = time.monotonic() + timeout
    while True:
        try:
            run = read_run_file(files[0])
        except ValueError:  # caught mid-write: a chunk not complete yet
            run = None
        if run is not None and run.exit_code is not None:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"{files[0]} has no exit record after {timeout} s: the run did not finish")
        time.sleep(0.05)


def read_runs(wandb_dir: str | Path, timeout: float = 15.0) -> list[OfflineRun]:
    """Every finished offline run under ``wandb_dir``, oldest first (a run continued with
    ``resume=`` is a second folder with the same ``run_id``)."""
    files = sorted(Path(wandb_dir).glob("**/offline-run-*/run-*.wandb"))
    deadline = time.monotonic() + timeout
    runs = []
    for path in files:
        while True:
            try:
                run = read_run_file(path)
            except ValueError:  # caught mid-write
                run = None
            if run is not None and run.exit_code is not None:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} has no exit record after {timeout} s: the run did not finish")
            time.sleep(0.05)
        runs.append(run)
    return sorted(runs, key=lambda r: r.start_time)


def read_run_file(path: str | Path) -> OfflineRun:
    run = OfflineRun(records=read_records(path))
    for record in run.records:
        kind = record.WhichOneof("record_type")
        run.kinds.append(kind)
        if kind == "run":
            run.run_id, run.name = record.run.run_id, record.run.display_name
            run.start_time = record.run.start_time.seconds + record.run.start_time.nanos / 1e9
            for item in record.run.config.update:
                _put(run.config, item)
        elif kind == "config":
            for item in record.config.update:
                _put(run.config, item)
            for item in record.config.remove:
                run.config.pop(_key(item), None)
        elif kind == "history":
            row: dict[str, Any] = {}
            for item in record.history.item:
                _put(row, item)
            run.history.append(row)
        elif kind == "summary":
            for item in record.summary.update:
                _put(run.summary, item)
            for item in record.summary.remove:
                run.summary.pop(_key(item), None)
        elif kind == "metric":
            metric = record.metric
            name = metric.name or metric.glob_name
            run.metrics[name] = {"step_metric": metric.step_metric, "glob": bool(metric.glob_name)}
        elif kind == "artifact":
            run.artifacts.append(record.artifact)
        elif kind == "exit":
            run.exit_code = record.exit.exit_code
    return run
