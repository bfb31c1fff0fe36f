"""``ks.Model`` is a ``torch.nn.Module``, as a Keras model is on torch (``kerasish.model_module``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kerasish as ks


def net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))


def data(n: int = 48) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)).astype("float32"), rng.normal(size=(n, 2)).astype("float32")


def test_the_model_is_a_module_whose_parameters_are_its_modules():
    module = net()
    model = ks.Model(module, device="cpu")
    assert isinstance(model, torch.nn.Module)
    assert [p for p in model.parameters()] == [p for p in module.parameters()]
    assert [name for name, _ in model.named_parameters()] == [
        f"module.{name}" for name, _ in module.named_parameters()]
    assert model.module is module and dict(model.named_children()) == {"module": module}
    state = model.state_dict()
    assert all(torch.equal(state[f"module.{k}"], v) for k, v in module.state_dict().items())


def test_forward_hooks_on_the_model_run_in_fit_and_predict_and_receive_the_model():
    model = ks.Model(net(), device="cpu").compile("sgd", "mse")
    seen: list[tuple[bool, tuple[int, ...]]] = []
    pre: list[bool] = []
    handle = model.register_forward_hook(
        lambda mod, inputs, output: seen.append((mod is model, tuple(output.shape))))
    pre_handle = model.register_forward_pre_hook(lambda mod, inputs: pre.append(mod is model))
    x, y = data()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert seen == [(True, (16, 2))] * 3 and pre == [True] * 3
    model.predict(x[:8], verbose=0)
    assert seen[-1] == (True, (8, 2)) and len(pre) == 4
    handle.remove()
    pre_handle.remove()
    model.predict(x[:8], verbose=0)
    assert len(seen) == 4 and len(pre) == 4


def test_a_forward_hook_may_replace_the_output_as_torch_allows():
    model = ks.Model(net(), device="cpu")
    model.register_forward_hook(lambda mod, inputs, output: output * 0)
    assert not model.predict(data()[0][:4], verbose=0).any()


@pytest.mark.parametrize("move", [lambda m: m.to("cpu"), lambda m: m.cpu(), lambda m: m.half(),
                                  lambda m: m.double(), lambda m: m.to(torch.float64)])
def test_moving_or_casting_the_model_is_refused_and_changes_nothing(move):
    model = ks.Model(net(), device="cpu")
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(TypeError, match=r"ks.Model\(net, device=...\)"):
        move(model)
    assert all(p.dtype == torch.float32 and torch.equal(p, b) for p, b in zip(model.parameters(), before))


def test_wrapping_a_model_in_a_model_is_refused_with_the_fix():
    model = ks.Model(net(), device="cpu")
    with pytest.raises(TypeError, match=r"ks.Model\(model.module\)"):
        ks.Model(model)


def test_a_subclass_may_set_attributes_before_calling_init_and_its_modules_register():
    class TwoHeads(ks.Model):
        def __init__(self):
            self.head = torch.nn.Linear(2, 1)  # before super().__init__, as Keras code does
            self.scale = 2.0
            super().__init__(net(), device="cpu")

    model = TwoHeads()
    assert model.scale == 2.0 and dict(model.named_children()) == {"head": model.head, "module": model.module}
    assert len(list(model.parameters())) == 6
    model.compile("sgd", "mse").fit(*data(), epochs=1, verbose=0)  # the loop trains the module


def test_train_and_eval_set_the_module_mode_and_fit_still_trains_it():
    model = ks.Model(torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.Dropout(0.5)), device="cpu")
    model.eval()
    assert not model.module.training and not model.module[1].training
    model.compile("sgd", "mse")
    before = model.module[0].weight.detach().clone()
    model.fit(*data(), epochs=1, verbose=0)
    assert not torch.equal(model.module[0].weight, before)
