"""jit_compile=True on CPU: compiled forward, loss and optimizer step train as eager does.

The compiled optimizer step must follow every way the learning rate changes (our callbacks, torch
schedulers that wrap ``optimizer.step``) without piling up recompilations, and the paths that
step outside the plain loop (clipping, gradient accumulation) must use it too.
"""

import numpy as np
import pytest
import torch

import kerasish as ks

from helpers import classification_data, mlp, same_weights, weights_of


def torch_adam(module):
    """torch's fused Adam with Keras's numbers: a step torch.compile compiles. A named "adam" builds
    Keras's Adam, whose per-step epsilon makes its step run eagerly (tested below)."""
    return torch.optim.Adam(module.parameters(), lr=0.001, eps=1e-7, fused=True)


def train(jit_compile, optimizer=torch_adam, epochs=3, callbacks=(), n=100, validate=True,
          **compile_kwargs):
    x, y = classification_data(n=n)
    torch.manual_seed(3)
    module = mlp()
    if callable(optimizer) and not isinstance(optimizer, str):
        optimizer = optimizer(module)
    model = ks.Model(module, device="cpu").compile(optimizer, "cross_entropy", metrics=["accuracy"],
                                                   jit_compile=jit_compile, **compile_kwargs)
    history = model.fit(x, y, batch_size=16, epochs=epochs, verbose=0,
                        validation_data=(x[:32], y[:32]) if validate else None,
                        callbacks=[factory() for factory in callbacks])
    return model, history.history


def assert_same_training(eager, compiled):
    (eager_model, eager_logs), (compiled_model, compiled_logs) = eager, compiled
    assert eager_logs.keys() == compiled_logs.keys()
    for key in eager_logs:
        np.testing.assert_allclose(compiled_logs[key], eager_logs[key], rtol=1e-4, atol=1e-6, err_msg=key)
    assert same_weights(weights_of(eager_model.module), weights_of(compiled_model.module), atol=1e-5)


def test_jit_compile_trains_like_eager_with_sgd():
    assert_same_training(train(False, "sgd", epochs=1, n=64), train(True, "sgd", epochs=1, n=64))


@pytest.mark.parametrize("kwargs", [{}, {"clipnorm": 0.1}, {"gradient_accumulation_steps": 2}],
                         ids=["plain", "clipnorm", "accumulation"])
def test_jit_compile_trains_like_eager_with_adam(kwargs):
    """100 samples in batches of 16: the partial last batch runs through the compiled step too."""
    assert_same_training(train(False, **kwargs), train(True, **kwargs))


@pytest.mark.parametrize("name", ["adam", "adamw", "nadam"])
def test_a_named_adam_runs_its_step_eagerly_and_trains_like_eager(name):
    """Keras's Adam changes torch's epsilon every step: its optimizer step runs eagerly inside the
    compiled step (ks.optimizers.Optimizer.build) and still trains as the eager fit does."""
    assert_same_training(train(False, name, epochs=1), train(True, name, epochs=1))


def test_the_optimizer_step_is_compiled():
    model, _ = train(True, epochs=1)
    assert model._engine._step_optimizer is not model._engine._optimizer_step
    eager, _ = train(False, epochs=1)
    assert eager._engine._step_optimizer == eager._engine._optimizer_step


@pytest.mark.skipif(not hasattr(torch._dynamo.config, "fail_on_recompile_limit_hit"),
                    reason="this torch cannot raise at the recompile limit (torch 2.4 has no "
                           "fail_on_recompile_limit_hit)")
def test_a_learning_rate_changed_every_epoch_does_not_pile_up_recompilations():
    """torch recompiles once for a changed rate and then treats it as an input; with the limit
    at 2 and failures raised, a rate that changed every epoch and recompiled each time would fail.

    torch counts compilations per code object, over every optimizer of the process, so the
    earlier tests' entries are cleared first. Full batches and no validation keep the forward at
    one compilation (a partial batch or inference mode would each add one).
    """
    schedule = [lambda: ks.callbacks.LearningRateScheduler(lambda epoch, lr: 0.01 * 0.7 ** epoch)]
    eager = train(False, epochs=8, callbacks=schedule, n=96, validate=False)
    torch.compiler.reset()
    with torch._dynamo.config.patch(recompile_limit=2, fail_on_recompile_limit_hit=True):
        compiled = train(True, epochs=8, callbacks=schedule, n=96, validate=False)
    assert_same_training(eager, compiled)
    assert compiled[1]["learning_rate"][-1] == pytest.approx(0.01 * 0.7 ** 7)


def test_a_torch_scheduler_per_batch_drives_the_compiled_step():
    """The scheduler is built after compile() and wraps optimizer.step, which the compiled step calls."""
    x, y = classification_data(n=64)
    results = []
    for jit in (False, True):
        torch.manual_seed(3)
        module = mlp()
        model = ks.Model(module, device="cpu").compile(torch.optim.Adam(module.parameters(), lr=0.01),
                                                       "cross_entropy", jit_compile=jit)
        scheduler = torch.optim.lr_scheduler.ExponentialLR(model.optimizer, gamma=0.9)
        model.fit(x, y, batch_size=16, epochs=2, verbose=0,
                  callbacks=[ks.callbacks.LearningRateScheduler(scheduler, interval="batch")])
        assert scheduler.last_epoch == 8
        assert model.learning_rate == pytest.approx(0.01 * 0.9 ** 8)
        results.append(weights_of(model.module))
    assert same_weights(*results, atol=1e-5)


@pytest.mark.parametrize("device", [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")),
])
def test_a_learning_rate_of_zero_freezes_compiled_training(device):
    """A compiled step must read the current learning rate, not the one it was built with."""
    x, y = classification_data(n=64)
    model = ks.Model(mlp(), device=device)
    model.compile(torch_adam(model.module), "cross_entropy", jit_compile=True)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    model.learning_rate = 0.0
    before = weights_of(model.module)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert same_weights(before, weights_of(model.module))
