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
    # Keras's variables: the whole's iteration and (unused) learning rate, then each SGD's two.
    values = [float(v) for v in multi.variables]
    assert values == pytest.approx([1, 0.0, 1, 0.1, 1, 1.0, 1, 0.0])


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
        optimizer_map={".*dense_1/.*": ks.optimizers.SGD(1e-3), ".*dense_2/.*": ks.optimizers.SGD(1e-2)}))
    # No module=: compile gives the parameters with their qualified names, routed by path.
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
    multi = MultiOptimizer(OptimizerMap(default_optimizer=opt_2, optimizer_map={".*dense_1/.*": opt_1}))
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


# ---------------------------------------------------------------- loss scaling, LossScaleOptimizer, EMA


def test_loss_scaling():
    opt_adam = ks.optimizers.Adam(learning_rate=1e-3, loss_scale_factor=3.0)
    opt_sgd = ks.optimizers.SGD(learning_rate=1e-2, loss_scale_factor=4.0)
    default_opt = ks.optimizers.RMSprop(learning_rate=1e-4, loss_scale_factor=8.0)
    opt_map = OptimizerMap(default_optimizer=default_opt)
    opt_map["^dense_1/.*"] = opt_adam
    opt_map["^dense_2/.*"] = opt_sgd
    multi = MultiOptimizer(opt_map, loss_scale_factor=5.0)
    multi.ensure_built(named(("dense_1.kernel", [[1.0]])))  # Keras's build (compile's refuses the factor)
    torch.testing.assert_close(multi.scale_loss(torch.tensor(2.0)), torch.tensor(10.0))
    # As Keras, the MultiOptimizer's factor overrides the sub-optimizers' own.
    assert [o.loss_scale_factor for o in multi.optimizers] == [5.0, 5.0, 5.0]


def test_gradient_unscaling():
    opt_sgd = ks.optimizers.SGD(learning_rate=0.1, loss_scale_factor=2.0)
    opt_map = OptimizerMap(default_optimizer=opt_sgd)
    opt_map["^dense_1/.*"] = opt_sgd
    multi = MultiOptimizer(opt_map, loss_scale_factor=5.0)
    pairs = named(("dense_1.kernel", [[2.0, 2.0]]))
    multi.ensure_built(pairs)
    multi.apply([torch.tensor([[10.0, 10.0]])], pairs)  # 10 / 5 = 2: 2.0 - 0.1 * 2 = 1.8
    torch.testing.assert_close(pairs[0][1].detach(), torch.tensor([[1.8, 1.8]]))


def test_compile_refuses_a_loss_scale_factor():
    multi = MultiOptimizer(OptimizerMap(ks.optimizers.SGD(0.1)), loss_scale_factor=5.0)
    with pytest.raises(ValueError, match="precision='mixed_float16'"):
        ks.Model(two_dense(), device="cpu").compile(loss="mse", optimizer=multi)


def test_multi_optimizer_wrapped_in_loss_scale_optimizer():
    opt_1, opt_2 = ks.optimizers.SGD(learning_rate=0.1), ks.optimizers.SGD(learning_rate=0.1)
    multi = MultiOptimizer(OptimizerMap(default_optimizer=opt_2, optimizer_map={".*dense_1/.*": opt_1}),
                           loss_scale_factor=5.0)
    lso = ks.optimizers.LossScaleOptimizer(multi, initial_scale=10.0, dynamic_growth_steps=1000)
    pairs = named(("dense_1.kernel", [[2.0, 2.0]]), ("dense_2.kernel", [[2.0, 2.0]]))
    lso.build(pairs)
    assert multi.loss_scale_factor is None and opt_1.loss_scale_factor is None
    assert opt_2.loss_scale_factor is None
    torch.testing.assert_close(lso.scale_loss(torch.tensor(2.0)), torch.tensor(20.0))
    lso.apply([torch.tensor([[10.0, 10.0]])] * 2, pairs)  # 10 / 10 = 1: 2.0 - 0.1 = 1.9
    for _, w in pairs:
        torch.testing.assert_close(w.detach(), torch.tensor([[1.9, 1.9]]))
    assert lso.iterations == 1 and multi.sub_iterations() == [1, 1]


def test_multi_optimizer_blocks_nested_loss_scale_optimizers():
    """The LossScaleOptimizer half of Keras's test_multi_optimizer_blocks_nested_optimizers."""
    opt_sgd = ks.optimizers.SGD(learning_rate=0.1)
    opt_lso = ks.optimizers.LossScaleOptimizer(opt_sgd)
    opt_map = OptimizerMap(default_optimizer=opt_sgd)
    with pytest.raises(ValueError, match="optimizer cannot be LossScaleOptimizer."):
        opt_map[".*"] = opt_lso
    direct = OptimizerMap(default_optimizer=opt_sgd, optimizer_map={".*dense_1/.*": opt_lso})  # type: ignore
    with pytest.raises(ValueError, match="LossScaleOptimizer cannot be used inside an MultiOptimizer."):
        MultiOptimizer(direct).build(named(("dense_1.kernel", [[1.0]])))


def ema_multi():
    opt_1 = ks.optimizers.SGD(learning_rate=0.1, use_ema=True, ema_momentum=0.9)
    opt_2 = ks.optimizers.SGD(learning_rate=0.1, use_ema=False)
    return MultiOptimizer(OptimizerMap(default_optimizer=opt_2, optimizer_map={".*dense_1/.*": opt_1})), opt_1


def test_swap_ema_weights_with_multi_optimizer():
    net = two_dense()
    multi, opt_1 = ema_multi()
    model = ks.Model(net, device="cpu").compile(loss="mse", optimizer=multi)
    model.train_on_batch(np.ones((1, 1), "float32"), np.ones((1, 1), "float32"))
    with torch.no_grad():  # Keras's kernels [[2, 2]] and [[3], [3]], as torch's (out, in) weights
        net.dense_1.weight.copy_(torch.tensor([[2.0], [2.0]]))
        net.dense_2.weight.copy_(torch.tensor([[3.0, 3.0]]))
        opt_1.moving_averages[0].copy_(torch.tensor([[9.0], [9.0]]))
    dense_2_before = net.dense_2.weight.detach().clone()
    swap = ks.callbacks.SwapEMAWeights()
    swap.set_model(model)
    swap.on_test_begin()
    torch.testing.assert_close(net.dense_1.weight.detach(), torch.tensor([[9.0], [9.0]]))
    torch.testing.assert_close(opt_1.moving_averages[0], torch.tensor([[2.0], [2.0]]))
    torch.testing.assert_close(net.dense_2.weight.detach(), dense_2_before)
    swap.on_test_end()
    torch.testing.assert_close(net.dense_1.weight.detach(), torch.tensor([[2.0], [2.0]]))
    torch.testing.assert_close(net.dense_2.weight.detach(), dense_2_before)
    torch.testing.assert_close(opt_1.moving_averages[0], torch.tensor([[9.0], [9.0]]))


def test_swap_ema_weights_needs_a_sub_optimizer_with_ema():
    model = two_sgd_model()
    swap = ks.callbacks.SwapEMAWeights()
    swap.set_model(model)
    with pytest.raises(ValueError, match="at least one inner optimizer has `use_ema=True`"):
        swap.on_test_begin()


@pytest.fixture(scope="module")
def keras():
    import keras

    return keras


def test_ema_fit_and_swapped_evaluation_match_keras(keras):
    """fit with a use_ema sub-optimizer (finalised at fit's end) and validation through
    SwapEMAWeights, against Keras itself on the same data."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(8, 1)).astype("float32"), rng.normal(size=(8, 1)).astype("float32")
    k_opt = keras.optimizers.MultiOptimizer(keras.optimizers.OptimizerMap(
        default_optimizer=keras.optimizers.SGD(0.1),
        optimizer_map={".*dense_1/.*": keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5)}))
    dense = keras.layers.Dense
    k_model = keras.Sequential([keras.Input((1,)),
                                dense(2, kernel_initializer="ones", use_bias=False, name="dense_1"),
                                dense(1, kernel_initializer="ones", use_bias=False, name="dense_2")])
    k_model.compile(loss="mse", optimizer=k_opt)
    k_hist = k_model.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0, validation_data=(x, y),
                         callbacks=[keras.callbacks.SwapEMAWeights()])
    net = two_dense()
    multi, _ = ema_multi()
    multi.optimizers[0].ema_momentum = 0.5
    model = ks.Model(net, device="cpu").compile(loss="mse", optimizer=multi)
    hist = model.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0, validation_data=(x, y),
                     callbacks=[ks.callbacks.SwapEMAWeights()])
    np.testing.assert_allclose(hist.history["val_loss"], k_hist.history["val_loss"], rtol=1e-5)
    np.testing.assert_allclose(hist.history["loss"], k_hist.history["loss"], rtol=1e-5)
    for module, layer in ((net.dense_1, k_model.layers[0]), (net.dense_2, k_model.layers[1])):
        np.testing.assert_allclose(module.weight.detach().numpy().T, layer.kernel.numpy(), rtol=1e-5)


def test_swap_on_epoch_leaves_the_averages_in_the_model_as_keras(keras):
    """swap_on_epoch=True: at fit's end the model holds the averages (Keras's recovery of the
    averages at the last epoch), against Keras with a plain SGD(use_ema=True)."""
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(6, 1)).astype("float32"), rng.normal(size=(6, 1)).astype("float32")
    k_model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, kernel_initializer="ones")])
    k_model.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5))
    k_model.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0,
                callbacks=[keras.callbacks.SwapEMAWeights(swap_on_epoch=True)])
    net = torch.nn.Linear(1, 1)
    torch.nn.init.ones_(net.weight)
    torch.nn.init.zeros_(net.bias)
    model = ks.Model(net, device="cpu").compile(
        loss="mse", optimizer=ks.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5))
    model.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0,
              callbacks=[ks.callbacks.SwapEMAWeights(swap_on_epoch=True)])
    kernel, bias = (v.numpy() for v in k_model.layers[0].weights)
    np.testing.assert_allclose(net.weight.detach().numpy().T, kernel, rtol=1e-5)
    np.testing.assert_allclose(net.bias.detach().numpy(), bias, rtol=1e-5)


def test_predict_with_swapped_averages_gives_the_weights_back():
    """Keras 3.15.1's on_predict_end leaves the averages in the model (its flag test is inverted);
    kerasish swaps back, so predict changes no weight."""
    net = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.ones_(net.weight)
    model = ks.Model(net, device="cpu").compile(
        loss="mse", optimizer=ks.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5))
    x = np.ones((4, 1), "float32")
    model.fit(x, np.zeros((4, 1), "float32"), batch_size=2, epochs=1, verbose=0)
    weight = net.weight.detach().clone()
    with torch.no_grad():
        model.optimizer.state[net.weight]["average"].fill_(9.0)
    out = model.predict(x, verbose=0, callbacks=[ks.callbacks.SwapEMAWeights()])
    np.testing.assert_allclose(np.asarray(out), np.full((4, 1), 9.0, "float32"))  # predicted with the average
    torch.testing.assert_close(net.weight.detach(), weight)
    torch.testing.assert_close(model.optimizer.state[net.weight]["average"], torch.full((1, 1), 9.0))
