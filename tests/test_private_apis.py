"""The few private attributes of other libraries kerasish reads, each from one place: these tests
fail loudly when a new release of the library moves them."""

import pytest
import torch

from kerasish.engine import scale_tensor


def test_the_gradient_scalers_scale_is_a_tensor_equal_to_get_scale():
    scaler = torch.amp.GradScaler("cpu", init_scale=256.0)
    param = torch.nn.Parameter(torch.ones(2))
    optimizer = torch.optim.SGD([param], lr=0.1)
    scaler.scale((param * 2).sum()).backward()
    scaler.step(optimizer)
    scaler.update()
    scale = scale_tensor(scaler)
    assert isinstance(scale, torch.Tensor) and scale.numel() == 1
    assert scale.item() == pytest.approx(scaler.get_scale())
