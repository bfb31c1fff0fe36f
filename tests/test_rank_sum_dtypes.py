"""Sums across ranks keep integer counts exact and float64 states float64 (``Group.all_reduce_sum``).

One gloo process (world size 1) is enough to see it: a sum over one rank is the identity, so any
value that comes back changed was changed by the conversion, as an IoU matrix's counts above
2**24 were when every state went through float32. The two-process sums themselves are checked
under torchrun in ``test_distributed.py``.
"""

from __future__ import annotations

import gc

import pytest
import torch
import torch.distributed as dist

from kerasish.distributed import Group


@pytest.fixture
def one_process_group(tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        yield Group(rank=0, world_size=1)
    finally:
        gc.collect()
        dist.destroy_process_group()


def test_integer_and_float64_states_come_back_exact(one_process_group):
    big = 2**24 + 1  # float32 rounds it to 2**24
    counts = torch.tensor([[big, 3], [0, big + 2]], dtype=torch.int32)
    precise = torch.tensor([1 + 1e-12], dtype=torch.float64)
    plain = torch.tensor([0.5, 1.5])
    total, count64, back_precise, back_plain = one_process_group.all_reduce_sum(
        [torch.tensor(2.0), torch.tensor(big, dtype=torch.int64), precise, plain])
    assert count64.dtype == torch.int64 and int(count64.item()) == big
    assert back_precise.dtype == torch.float64 and back_precise.item() == precise.item()
    assert back_plain.dtype == torch.float32 and torch.equal(back_plain, plain)
    assert float(total) == 2.0
    (matrix,) = one_process_group.all_reduce_sum([counts])
    assert torch.equal(matrix.reshape(2, 2), counts.to(torch.int64))


def test_no_tensors_sum_to_none(one_process_group):
    assert one_process_group.all_reduce_sum([]) == []
