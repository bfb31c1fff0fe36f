"""The few private attributes of other libraries kerasish reads, each from one place: these tests
fail loudly when a new release of the library moves them."""

import pytest
import torch

from kerasish.losses.adapters import is_torch_loss_module
from kerasish.trainer.engine import scale_tensor


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


TORCH_LOSSES = [torch.nn.MSELoss, torch.nn.L1Loss, torch.nn.SmoothL1Loss, torch.nn.HuberLoss,
                torch.nn.BCELoss, torch.nn.BCEWithLogitsLoss, torch.nn.KLDivLoss, torch.nn.PoissonNLLLoss]


@pytest.mark.parametrize("loss_class", TORCH_LOSSES, ids=lambda c: c.__name__)
def test_torchs_loss_modules_are_recognised_and_reduction_none_gives_per_element_values(loss_class):
    # torch.nn.modules.loss._Loss is private: if a release moves it, this fails before users see
    # sample weights silently ignored.
    loss = loss_class()
    assert is_torch_loss_module(loss)
    y_pred, y_true = torch.rand(4, 3), torch.rand(4, 3)
    unreduced = loss_class(reduction="none")(y_pred, y_true)
    assert unreduced.shape == (4, 3)
    assert loss(y_pred, y_true) == pytest.approx(unreduced.mean().item(), rel=1e-5, abs=1e-6)


def test_a_module_or_function_of_your_own_is_not_taken_for_a_torch_loss():
    class Own(torch.nn.Module):
        reduction = "mean"

        def forward(self, y_pred, y_true):
            return (y_pred - y_true).abs().max()

    assert not is_torch_loss_module(Own())
    assert not is_torch_loss_module(torch.nn.functional.mse_loss)
    assert not is_torch_loss_module(torch.nn.Linear(2, 2))


def test_wandbs_watch_hooks_are_where_run_is_watching_looks(tmp_path):
    wandb = pytest.importorskip("wandb")
    from kerasish.callbacks.wandb import run_is_watching

    run = wandb.init(dir=tmp_path, mode="offline", project="kerasish-tests")
    try:
        module = torch.nn.Linear(2, 1)
        assert not run_is_watching(run)
        run.watch(module, log="gradients", log_freq=1)
        assert run_is_watching(run)
        run.unwatch(module)
        assert not run_is_watching(run)
    finally:
        run.finish()
