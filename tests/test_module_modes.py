"""fit keeps the submodules a user froze with ``.eval()`` frozen, and every loop puts modes back.

The reference is a hand-written loop over the same batches with the base in eval mode: its
BatchNorm running statistics never move. Before this behaviour, ``fit`` called ``module.train()``
each epoch and moved them.
"""

from __future__ import annotations

import torch

import kerasish as ks


def frozen_base_net() -> torch.nn.Sequential:
    torch.manual_seed(0)
    base = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU())
    net = torch.nn.Sequential(base, torch.nn.Linear(8, 3))
    base.eval()  # a pretrained base whose statistics must not change
    return net


def data(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return torch.randn(n, 6, generator=generator) * 3 + 1, torch.randint(0, 3, (n,), generator=generator)


def test_fit_keeps_a_frozen_batchnorm_base_frozen_like_a_hand_written_loop():
    x, y = data()
    reference = frozen_base_net()
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
    for _ in range(2):
        for start in range(0, len(x), 16):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(reference(x[start:start + 16]), y[start:start + 16])
            loss.backward()
            optimizer.step()

    net = frozen_base_net()
    stats_before = net[0][1].running_mean.clone()
    model = ks.Model(net, device="cpu").compile(torch.optim.SGD(net.parameters(), lr=0.1),
                                                "cross_entropy")
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, validation_data=(x, y))
    assert torch.equal(net[0][1].running_mean, stats_before)
    for ours, theirs in zip(net.state_dict().values(), reference.state_dict().values()):
        assert torch.allclose(ours, theirs, atol=1e-6)
    assert net.training and not net[0].training and not net[0][1].training


def test_evaluate_and_predict_put_every_submodules_mode_back():
    net = frozen_base_net()
    model = ks.Model(net, device="cpu").compile("sgd", "cross_entropy")
    x, y = data(16)
    model.evaluate(x, y, verbose=0)
    assert net.training and not net[0].training
    model.predict(x, verbose=0)
    assert net.training and not net[0].training and net[1].training


def test_a_module_left_wholly_in_eval_mode_is_trained_in_train_mode():
    net = frozen_base_net()
    net.eval()
    stats_before = net[0][1].running_mean.clone()
    model = ks.Model(net, device="cpu").compile("sgd", "cross_entropy")
    model.fit(*data(32), batch_size=16, epochs=1, verbose=0)
    assert not torch.equal(net[0][1].running_mean, stats_before)  # BatchNorm trained
