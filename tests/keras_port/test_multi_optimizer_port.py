"""keras/src/optimizers/multi_optimizer_test.py (Keras 3.15.1), ported: Keras's inputs and numbers.

A Keras variable made under ``name_scope("dense_1")`` with name ``kernel`` has the path
``dense_1/kernel``; here it is a parameter named ``dense_1.kernel`` (path ``dense_1/kernel``).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch

import kerasish as ks
from kerasish.optimizers import MultiOptimizer, OptimizerMap

from helpers import InterruptAfter, Interrupted, same_weights, weights_of


def named(*pairs):
    """(name, parameter) pairs from (name, value) pairs."""
    return [(name, torch.nn.Parameter(torch.tensor(value))) for name, value in pairs]


def test_optimizer_map_matching():
    (w_dense, w_conv, w_other) = named(("dense.kernel", [[1.0]]), ("conv.kernel", [[1.0]]), ("bias", [[1.0]]))
    opt_adam, opt_sgd = ks.optimizers.Adam(1e-3), ks.optimizers.SGD(1e-2)
    default_opt = ks.optimizers.RMSprop()
    opt_map = OptimizerMap(default_optimizer=default_opt)
    opt_map["^dense/.*"] = opt_adam
    opt_map["^conv/.*"] = opt_sgd
    path = ks.optimizers.multi_optimizer.ParameterPath
    assert opt_map(path("dense/kernel", w_dense[1])) is opt_adam
    assert opt_map(path("conv/kernel", w_conv[1])) is opt_sgd
    assert opt_map(path("bias", w_other[1])) is default_opt
    conflict = OptimizerMap(default_optimizer=default_opt)
    conflict[".*kernel.*"] = opt_adam
    conflict[".*dense.*"] = opt_sgd
    with pytest.raises(ValueError, match="Multiple optimizers"):
        conflict(path("dense/kernel", w_dense[1]))


def three_way():
    opt_adam, opt_sgd = ks.optimizers.Adam(1e-3), ks.optimizers.SGD(1e-2)
    default_opt = ks.optimizers.RMSprop(1e-4)
    opt_map = OptimizerMap(default_optimizer=default_opt)
    opt_map["^dense_1/.*"] = opt_adam
    opt_map["^dense_2/.*"] = opt_sgd
    return MultiOptimizer(opt_map), (opt_adam, opt_sgd, default_opt)


def test_multi_optimizer_initialization():
    multi, expected = three_way()
    multi.build(named(("dense_1.kernel", [[1.0]]), ("dense_2.kernel", [[1.0]]), ("other.kernel", [[1.0]])))
    assert len(multi.optimizers) == 3
    assert all(a is b for a, b in zip(multi.optimizers, expected))


def test_default_fallback():
    opt_adam, default_opt = ks.optimizers.Adam(1e-3), ks.optimizers.SGD(1e-2)
    opt_map = OptimizerMap(default_optimizer=default_opt)
    opt_map["^dense_1/.*"] = opt_adam
    multi = MultiOptimizer(opt_map)
    pairs = named(("dense_1.kernel", [[1.0]]), ("other.kernel", [[1.0]]))
    multi.build(pairs)
    assert multi.optimizers[multi.optimizer_index(pairs[0][1])] is opt_adam
    assert multi.optimizers[multi.optimizer_index(pairs[1][1])] is default_opt


def test_stateful_apply():
    opt_map = OptimizerMap(default_optimizer=ks.optimizers.SGD(learning_rate=0.0))
    opt_map["^dense_1/.*"] = ks.optimizers.SGD(learning_rate=0.1)
    opt_map["^dense_2/.*"] = ks.optimizers.SGD(learning_rate=1.0)
    multi = MultiOptimizer(opt_map)
    pairs = named(("dense_1.kernel", [[2.0, 2.0]]), ("dense_2.kernel", [[3.0, 3.0]]),
                  ("other.kernel", [[4.0, 4.0]]))
    multi.build(pairs)
    multi.apply([torch.ones(1, 2)] * 3, pairs)
    w1, w2, w3 = (p.detach() for _, p in pairs)
    torch.testing.assert_close(w1, torch.tensor([[1.9, 1.9]]))
    torch.testing.assert_close(w2, torch.tensor([[2.0, 2.0]]))
    torch.testing.assert_close(w3, torch.tensor([[4.0, 4.0]]))
    assert multi.iterations == 1 and multi.sub_iterations() == [1, 1, 1]


def test_serialization():
    multi, _ = three_way()
    pairs = named(("dense_1.kernel", [[1.0]]), ("dense_2.kernel", [[1.0]]), ("other.kernel", [[1.0]]))
    multi.build(pairs)
    rebuilt = MultiOptimizer.from_config(multi.get_config())
    rebuilt.build(pairs)
    assert [type(o).__name__ for o in rebuilt.optimizers] == ["Adam", "SGD", "RMSprop"]
    assert type(rebuilt.optimizers[rebuilt.optimizer_index(pairs[0][1])]).__name__ == "Adam"
    assert rebuilt.optimizers[0].learning_rate == 1e-3 and rebuilt.optimizers[2].learning_rate == 1e-4


def test_custom_callable_function():
    opt_adam, opt_sgd = ks.optimizers.Adam(1e-3), ks.optimizers.SGD(1e-2)
    multi = MultiOptimizer(lambda variable: opt_adam if "dense_1" in variable.path else opt_sgd)
    pairs = named(("dense_1.kernel", [[1.0]]), ("dense_2.kernel", [[1.0]]))
    multi.build(pairs)
    assert multi.optimizers == [opt_adam, opt_sgd]
    multi.apply([torch.ones(1, 1)] * 2, pairs)
    torch.testing.assert_close(pairs[1][1].detach(), torch.tensor([[0.99]]))


def two_dense():
    net = torch.nn.Sequential(OrderedDict(dense_1=torch.nn.Linear(1, 2, bias=False),
                                          dense_2=torch.nn.Linear(2, 1, bias=False)))
    for p in net.parameters():
        torch.nn.init.ones_(p)
    return net


def test_multi_optimizer_with_model_fit():
    net = two_dense()
    multi = MultiOptimizer(OptimizerMap(
        default_optimizer=ks.optimizers.SGD(learning_rate=0.1),
        optimizer_map={".*dense_1/.*": ks.optimizers.SGD(1e-3), ".*dense_2/.*": ks.optimizers.SGD(1e-2)}),
        module=net)
    model = ks.Model(net, device="cpu").compile(loss="mse", optimizer=multi)
    model.fit(np.ones((1, 1), "float32"), np.zeros((1, 1), "float32"), batch_size=1, epochs=1, verbose=0)
    torch.testing.assert_close(net.dense_1.weight.detach().T, torch.tensor([[0.996, 0.996]]))
    torch.testing.assert_close(net.dense_2.weight.detach().T, torch.tensor([[0.96], [0.96]]))
    assert multi.iterations == 1 and model.optimizer.iterations == 1
    assert multi.sub_iterations() == [1, 1, 0]  # the default got no parameter: never stepped


def test_nested_multi_optimizer_is_refused():
    opt_sgd = ks.optimizers.SGD(learning_rate=0.1)
    opt_map = OptimizerMap(default_optimizer=opt_sgd)
    with pytest.raises(ValueError, match="optimizer cannot be MultiOptimizer."):
        opt_map[".*"] = MultiOptimizer(OptimizerMap(opt_sgd))
    direct = OptimizerMap(default_optimizer=opt_sgd, optimizer_map={".*dense_2/.*": MultiOptimizer(opt_map)})
    with pytest.raises(ValueError, match="MultiOptimizer cannot be used inside an MultiOptimizer."):
        MultiOptimizer(direct).build(named(("dense_2.kernel", [[1.0]])))


def test_learning_rate_is_refused_on_the_whole():
    multi, _ = three_way()
    with pytest.raises(AttributeError, match="sub-optimizers"):
        multi.learning_rate  # noqa: B018
    with pytest.raises(AttributeError, match="sub-optimizers"):
        multi.learning_rate = 0.1


def test_bare_parameters_without_a_module_are_refused():
    multi, _ = three_way()
    with pytest.raises(TypeError, match="module=net"):
        multi.build([torch.nn.Parameter(torch.ones(1))])


# ---------------------------------------------------------------- kerasish's own checks


def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(32, 3)).astype("float32"), rng.normal(size=(32, 1)).astype("float32")


def small_net():
    torch.manual_seed(0)
    return torch.nn.Sequential(OrderedDict(encoder=torch.nn.Linear(3, 4), head=torch.nn.Linear(4, 1)))


def multi_for(net):
    return MultiOptimizer(OptimizerMap(ks.optimizers.SGD(0.05, momentum=0.9),
                                       {"^encoder/.*": ks.optimizers.Adam(1e-2, clipnorm=0.5)}), module=net)


def test_fit_matches_a_hand_written_loop_with_two_torch_optimizers():
    x, y = data()
    net = small_net()
    ks.Model(net, device="cpu").compile(multi_for(net), "mse").fit(x, y, batch_size=8, epochs=2,
                                                                   shuffle=False, verbose=0)
    ref = small_net()
    # Keras's Adam epsilon (1e-7, bias-corrected as ks.optimizers.Adam does) and SGD momentum
    # (v = m*v - lr*g; w += v, which equals torch's with the learning rate folded in).
    adam = torch.optim.Adam(ref.encoder.parameters(), lr=1e-2)
    sgd = torch.optim.SGD(ref.head.parameters(), lr=0.05, momentum=0.9)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    t = 0
    for _ in range(2):
        for i in range(0, 32, 8):
            adam.zero_grad(), sgd.zero_grad()
            torch.nn.functional.mse_loss(ref(xt[i:i + 8]), yt[i:i + 8]).backward()
            for p in ref.encoder.parameters():  # Keras's clipnorm: each gradient on its own
                p.grad.mul_(0.5 / p.grad.norm().clamp_min(0.5))
            t += 1
            for group in adam.param_groups:
                group["eps"] = 1e-7 / (1 - 0.999 ** t) ** 0.5
            adam.step(), sgd.step()
    for (name, a), b in zip(net.named_parameters(), ref.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


def fit_run(net, callbacks):
    model = ks.Model(net, device="cpu").compile(multi_for(net), "mse")
    x, y = data()
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=callbacks)
    return model


def test_interrupted_fit_resumes_bit_identically(tmp_path):
    expected = fit_run(small_net(), [])
    with pytest.raises(Interrupted):  # mid-epoch 1, after global batch 6 and its backup
        fit_run(small_net(), [ks.callbacks.BackupAndRestore(tmp_path / "b", save_freq=1), InterruptAfter(6)])
    resumed = fit_run(small_net(), [ks.callbacks.BackupAndRestore(tmp_path / "b", save_freq=1)])
    assert same_weights(weights_of(resumed.module), weights_of(expected.module))
    assert resumed.optimizer.iterations == expected.optimizer.iterations == 12
    a, b = resumed.optimizer.state_dict(), expected.optimizer.state_dict()
    assert a["param_groups"] == b["param_groups"]
    assert all(torch.equal(v, b["state"][i][k]) for i, s in a["state"].items() for k, v in s.items())


def two_sgd_model():
    net = two_dense()
    opt_1, opt_2 = ks.optimizers.SGD(learning_rate=0.1, name="sgd_a"), ks.optimizers.SGD(0.01, name="sgd_b")
    multi = MultiOptimizer(OptimizerMap(default_optimizer=opt_2, optimizer_map={".*dense_1/.*": opt_1}),
                           module=net)
    return ks.Model(net, device="cpu").compile(loss="mse", optimizer=multi)


def test_learning_rate_scheduler_with_multi_optimizer():
    model = two_sgd_model()
    scheduler = ks.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)
    scheduler.set_model(model)
    scheduler.on_train_begin()
    scheduler.on_epoch_begin(epoch=1)
    first, second = model.optimizer.optimizers
    assert first.learning_rate == pytest.approx(0.05) and second.learning_rate == pytest.approx(0.005)
    logs: dict = {}
    scheduler.on_epoch_end(1, logs)  # Keras's keys: learning_rate_<sub-optimizer name>
    assert logs == pytest.approx({"learning_rate_sgd_a": 0.05, "learning_rate_sgd_b": 0.005})


def test_reduce_lr_on_plateau_with_multi_optimizer():
    model = two_sgd_model()
    reduce_lr = ks.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1)
    reduce_lr.set_model(model)
    reduce_lr.on_train_begin()
    first, second = model.optimizer.optimizers
    reduce_lr.on_epoch_end(epoch=0, logs={"val_loss": 1.0})
    assert first.learning_rate == pytest.approx(0.1) and second.learning_rate == pytest.approx(0.01)
    reduce_lr.on_epoch_end(epoch=1, logs={"val_loss": 1.0})
    assert first.learning_rate == pytest.approx(0.05) and second.learning_rate == pytest.approx(0.005)


def test_tensorboard_logging_with_multi_optimizer(tmp_path):
    """Keras's case reads its private ``_collect_learning_rate``; here the written scalars."""
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    model = two_sgd_model()
    x, y = np.ones((2, 1), "float32"), np.ones((2, 1), "float32")
    model.fit(x, y, epochs=1, verbose=0, callbacks=[ks.callbacks.TensorBoard(tmp_path)])
    guidance = {kind: 0 for kind in event_accumulator.DEFAULT_SIZE_GUIDANCE}
    reader = event_accumulator.EventAccumulator(str(tmp_path / "train"), size_guidance=guidance)
    reader.Reload()
    values = {tag: reader.Scalars(tag)[0].value for tag in reader.Tags()["scalars"] if "learning_rate" in tag}
    assert values == pytest.approx({"epoch_learning_rate_sgd_a": 0.1, "epoch_learning_rate_sgd_b": 0.01})
