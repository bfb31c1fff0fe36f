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
