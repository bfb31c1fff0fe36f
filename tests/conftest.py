"""Shared test settings: offline W&B, and a small, deterministic torch."""

import os

import pytest
import torch

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
    yield


HOST_READS = ("item", "__float__", "__bool__", "__int__", "tolist", "cpu", "numpy")


@pytest.fixture
def host_reads(monkeypatch):
    """Counts reads of tensor values by the host (``counts["n"]``); counted, never timed."""
    counts = {"n": 0}
    for name in HOST_READS:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, __original=original, **kwargs):
            counts["n"] += 1
            return __original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    return counts
