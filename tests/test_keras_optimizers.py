"""ks.optimizers and their schedules follow Keras 3 (torch backend): the same weights under the same
gradients, step by step; the same learning rate at every step; Keras optimizer objects given to
compile; and what kerasish refuses. Keras itself computes every expected number here."""

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

import kerasish as ks  # noqa: E402

RNG = np.random.default_rng(0)
SHAPES = [(5, 3), (3,)]
INIT = [RNG.normal(size=s).astype("float32") for s in SHAPES]
# Gradients from 1e-6 to 1e-1: small ones are where epsilon placement shows.
GRADS = [[(RNG.normal(size=s) * 10 ** RNG.uniform(-6, -1)).astype("float32") for s in SHAPES]
         for _ in range(20)]
TOLERANCE = 3e-6  # weights are O(1); float32 rounding stays below 2e-6 in every case here


def keras_trajectory(optimizer):
    variables = [keras.Variable(w) for w in INIT]
    out = []
    for grads in GRADS:
        optimizer.apply_gradients(zip([torch.tensor(g) for g in grads], variables))
        out.append(np.concatenate([np.asarray(v.numpy()).ravel() for v in variables]))
    return np.stack(out)


def our_trajectory(spec):
    params = [torch.nn.Parameter(torch.tensor(w)) for w in INIT]
    optimizer = ks.optimizers.get_optimizer(spec, params)
    out = []
    for grads in GRADS:
        for p, g in zip(params, grads):
            p.grad = torch.tensor(g)
        optimizer.step()
        out.append(np.concatenate([p.detach().numpy().ravel() for p in params]))
    return np.stack(out)


def _schedule(module):
    return module.schedules.ExponentialDecay(0.05, decay_steps=3, decay_rate=0.7)


CASES = [
    ("SGD", {}), ("SGD", {"momentum": 0.9}), ("SGD", {"momentum": 0.9, "nesterov": True}),
    ("SGD", {"momentum": 0.9, "learning_rate": _schedule}), ("SGD", {"weight_decay": 0.1, "momentum": 0.5}),
    ("Adam", {}), ("Adam", {"amsgrad": True}), ("Adam", {"weight_decay": 0.01}), ("Adam", {"clipnorm": 0.01}),
    ("Adam", {"global_clipnorm": 0.01, "learning_rate": _schedule}),
    ("AdamW", {}), ("AdamW", {"clipvalue": 0.001}),
    ("RMSprop", {}), ("RMSprop", {"momentum": 0.9}),
    ("RMSprop", {"centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ("Adagrad", {}), ("Adagrad", {"initial_accumulator_value": 0.0, "learning_rate": _schedule}),
    ("Adadelta", {"learning_rate": 1.0, "weight_decay": 0.1}),
    ("Adamax", {}), ("Nadam", {}), ("Nadam", {"weight_decay": 0.05, "learning_rate": _schedule}),
]


def _build(module, name, kwargs):
    kwargs = {k: v(module) if callable(v) else v for k, v in kwargs.items()}
    return getattr(module, name)(**kwargs)


@pytest.mark.parametrize("name, kwargs", CASES, ids=[f"{n}-{sorted(k)}" for n, k in CASES])
@pytest.mark.parametrize("source", ["ks", "keras-object"])
def test_optimizer_follows_keras_step_by_step(name, kwargs, source):
    expected = keras_trajectory(_build(keras.optimizers, name, kwargs))
    spec = _build(ks.optimizers if source == "ks" else keras.optimizers, name, kwargs)
    np.testing.assert_allclose(our_trajectory(spec), expected, rtol=0, atol=TOLERANCE)


def test_named_nadam_decays_its_momentum_as_keras_does():
    np.testing.assert_allclose(our_trajectory("nadam"), keras_trajectory(keras.optimizers.Nadam()),
                               rtol=0, atol=TOLERANCE)


SCHEDULES = [
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 0.8}),
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 0.8,
                          "staircase": True}),
    ("PiecewiseConstantDecay", {"boundaries": [5, 20, 30], "values": [1.0, 0.5, 0.1, 0.01]}),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 20, "end_learning_rate": 0.01,
                         "power": 2.0}),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 20, "cycle": True}),
    ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 5, "decay_rate": 0.5}),
    ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 5, "decay_rate": 0.5,
                          "staircase": True}),
    ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 30, "alpha": 0.1}),
    ("CosineDecay", {"initial_learning_rate": 0.0, "decay_steps": 30, "warmup_target": 0.1,
                     "warmup_steps": 10}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 7, "t_mul": 2.0,
                             "m_mul": 0.8, "alpha": 0.05}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 7, "t_mul": 1.0}),
]


@pytest.mark.parametrize("name, kwargs", SCHEDULES, ids=[f"{n}-{sorted(k)}" for n, k in SCHEDULES])
def test_schedule_gives_keras_learning_rate_at_every_step(name, kwargs):
    theirs = getattr(keras.optimizers.schedules, name)(**kwargs)
    translated = ks.optimizers.schedules.from_keras(theirs)
    for ours in (getattr(ks.optimizers.schedules, name)(**kwargs), translated):
        for step in range(51):
            # Keras computes in float32: near the end of a cosine its rate is ~1e-9 off.
            expected = float(theirs(step))
            assert float(ours(step)) == pytest.approx(expected, rel=1e-6, abs=1e-8), step
            assert ours.lr_at(step) == pytest.approx(expected, rel=1e-6, abs=1e-8), step


@pytest.mark.parametrize("name, kwargs", SCHEDULES, ids=[f"{n}-{sorted(k)}" for n, k in SCHEDULES])
def test_schedule_config_is_keras_config_and_rebuilds_the_same_schedule(name, kwargs):
    theirs = getattr(keras.optimizers.schedules, name)(**kwargs).get_config()
    ours = getattr(ks.optimizers.schedules, name)(**kwargs)
    assert ours.get_config() == theirs
    rebuilt = type(ours).from_config(ours.get_config())
    assert [rebuilt.lr_at(step) for step in range(40)] == [ours.lr_at(step) for step in range(40)]


def test_a_schedule_of_your_own_without_its_arguments_as_attributes_cannot_be_configured():
    class Halving(ks.optimizers.schedules.LearningRateSchedule):
        def __init__(self, start):
            self.rate = start

        def lr_at(self, step):
            return self.rate * 0.5 ** step

    with pytest.raises(NotImplementedError, match="Halving must implement get_config"):
        Halving(0.1).get_config()


def _data(n=40):
    x = RNG.normal(size=(n, 4)).astype("float32")
    return x, (x @ RNG.normal(size=(4, 1))).astype("float32")


def _model(optimizer, seed=0):
    torch.manual_seed(seed)
    return ks.Model(torch.nn.Linear(4, 1), device="cpu").compile(optimizer, "mse")


def test_after_n_steps_of_fit_the_learning_rate_is_keras_schedule_at_n():
    x, y = _data()
    kwargs = {"initial_learning_rate": 0.0, "decay_steps": 20, "warmup_target": 0.1, "warmup_steps": 5}
    schedule = ks.optimizers.schedules.CosineDecay(**kwargs)
    model = _model(ks.optimizers.SGD(learning_rate=schedule, momentum=0.9))
    assert model.learning_rate == 0.0  # step 0 of the warmup
    assert model.optimizer.learning_rate_schedule is schedule
    model.fit(x, y, batch_size=8, epochs=3, verbose=0)  # 15 optimizer steps
    assert model.optimizer_steps == 15
    assert model.learning_rate == pytest.approx(float(keras.optimizers.schedules.CosineDecay(**kwargs)(15)))


def test_a_checkpoint_resumes_the_schedule_and_the_optimizer_exactly(tmp_path):
    x, y = _data()

    def optimizer():
        return ks.optimizers.Adam(learning_rate=ks.optimizers.schedules.ExponentialDecay(0.05, 4, 0.5),
                                  clipnorm=1.0)

    straight = _model(optimizer())
    straight.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    first = _model(optimizer())
    first.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    first.save(tmp_path / "ckpt.pt")
    resumed = _model(optimizer(), seed=1)
    resumed.load_weights(tmp_path / "ckpt.pt")
    assert resumed.learning_rate == pytest.approx(0.05 * 0.5 ** (10 / 4))  # the lr for step 10
    resumed.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert resumed.optimizer.param_groups[0]["iterations"] == 15
    assert resumed.learning_rate == straight.learning_rate
    for a, b in zip(resumed.module.parameters(), straight.module.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


@pytest.mark.parametrize("clip", [{"clipnorm": 0.05}, {"global_clipnorm": 0.05}, {"clipvalue": 0.01}])
def test_clipping_sees_unscaled_gradients_when_a_grad_scaler_drives_the_fused_kernel(clip):
    """An fp16 GradScaler leaves the gradients of a fused Adam scaled (the kernel unscales them);
    Keras's clipping must act on the true gradients all the same."""
    x, y = _data()
    results = []
    for scaler in (None, torch.amp.GradScaler("cpu", init_scale=2.0**10)):
        torch.manual_seed(0)
        net = torch.nn.Linear(4, 1)
        optimizer = ks.optimizers.get_optimizer(ks.optimizers.Adam(learning_rate=0.1, **clip),
                                                net.parameters())
        assert optimizer.defaults["fused"] is True
        for _ in range(3):
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(net(torch.tensor(x)), torch.tensor(y))
            if scaler is None:
                loss.backward()
                optimizer.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
        results.append([p.detach().clone() for p in net.parameters()])
    for plain, scaled in zip(*results):
        torch.testing.assert_close(scaled, plain, rtol=0, atol=1e-6)


def test_a_scheduled_optimizer_does_not_recompile_a_jit_compiled_step_at_every_step():
    """The lr (and Adam's corrected epsilon) change every step; a compiled optimizer step would
    recompile for each new value until torch's recompile limit, so these steps run eagerly."""
    x, y = _data()
    trained = []
    for jit in (False, True):
        torch._dynamo.reset()
        torch._dynamo.utils.counters.clear()
        schedule = ks.optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
        model = _model(ks.optimizers.RMSprop(learning_rate=schedule))
        model.compile(ks.optimizers.RMSprop(learning_rate=schedule), "mse", jit_compile=jit)
        model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)  # 10 steps, 10 rates
        trained.append(model)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] <= 3  # not one per learning rate
    assert trained[1].learning_rate == trained[0].learning_rate == pytest.approx(0.1 * 0.5 ** 5)
    for a, b in zip(trained[0].module.parameters(), trained[1].module.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


@pytest.mark.parametrize("make", [
    lambda: ks.optimizers.Adam(learning_rate=ks.optimizers.schedules.CosineDecay(0.01, 50), clipnorm=1.0),
    lambda: ks.optimizers.RMSprop(momentum=0.9, weight_decay=0.01, global_clipnorm=1.0),
], ids=["adam-schedule-clipnorm", "rmsprop-decay-global-clipnorm"])
def test_keras_optimizers_read_nothing_from_the_device_per_step(host_reads, make):
    counts = host_reads

    def reads(n):
        x, y = _data(n)
        model = _model(make())
        counts["n"] = 0
        model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        return counts["n"]

    assert reads(40) == reads(400)


class _OwnAdam(keras.optimizers.Adam):
    pass


@pytest.mark.parametrize("make, match", [
    (lambda: keras.optimizers.Optimizer(learning_rate=0.1), "ks.optimizers.SGD"),  # no ks class
    (lambda: _OwnAdam(), "cannot reproduce"),
    (lambda: keras.optimizers.Adam, "pass an instance"),
    (lambda: keras.optimizers.SGD(gradient_accumulation_steps=2), r"compile\(\.\.\., gradient_accumul"),
    (lambda: keras.optimizers.Adam(learning_rate=lambda: 0.1),
     r"ks.optimizers.Adam\(learning_rate=function\)"),
], ids=["no-ks-class", "subclass", "class", "accumulation", "callable-lr"])
def test_keras_optimizers_kerasish_cannot_reproduce_are_refused_with_the_ks_way(make, match):
    with pytest.raises(TypeError, match=match):
        ks.optimizers.get_optimizer(make(), torch.nn.Linear(2, 1).parameters())


def test_a_keras_optimizer_that_excludes_weights_from_decay_is_refused():
    optimizer = keras.optimizers.AdamW()
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    with pytest.raises(TypeError, match="param groups"):
        ks.optimizers.get_optimizer(optimizer, torch.nn.Linear(2, 1).parameters())


@pytest.mark.parametrize("make, error, match", [
    (lambda: ks.optimizers.Adam(beta3=0.1), ValueError, "not recognized"),
    (lambda: ks.optimizers.SGD(clipnorm=1.0, clipvalue=1.0), ValueError, "Only one of"),
    (lambda: ks.optimizers.SGD(learning_rate=lambda step: 0.1), TypeError, "lr_at"),
    (lambda: ks.optimizers.SGD(learning_rate=-1.0), ValueError, "learning_rate"),
    (lambda: ks.optimizers.SGD(momentum=1.5), ValueError, "momentum"),
    (lambda: ks.optimizers.Adam(beta_1="0.9"), ValueError, "beta_1"),
    (lambda: ks.optimizers.AdamW(weight_decay=None), ValueError, "weight_decay"),
    (lambda: ks.optimizers.RMSprop(loss_scale_factor=-128.0), ValueError, "loss_scale_factor"),
    (lambda: ks.optimizers.schedules.ExponentialDecay(0.1, decay_steps=0, decay_rate=0.5), ValueError,
     "decay_steps"),
    (lambda: ks.optimizers.schedules.PiecewiseConstantDecay([10], [1.0]), ValueError, "boundaries"),
])
def test_bad_optimizer_arguments_are_refused_with_the_argument_named(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_keras_decay_argument_warns_and_is_ignored_as_in_keras():
    with pytest.warns(UserWarning, match="decay"):
        ks.optimizers.SGD(decay=0.1)


def test_shared_arguments_are_keyword_only_and_their_own_arguments_keep_kerass_positions():
    # One name for both: default names are numbered per object (adam, adam_1, ...), as in Keras.
    assert ks.optimizers.Adam(2e-3, 0.8, 0.99, 1e-6, True, name="a").get_config() == pytest.approx(
        ks.optimizers.Adam(learning_rate=2e-3, beta_1=0.8, beta_2=0.99, epsilon=1e-6,
                           amsgrad=True, name="a").get_config())
    ours = ks.optimizers.AdamW(2e-3, 0.01, 0.8).get_config()
    theirs = keras.optimizers.AdamW(2e-3, 0.01, 0.8).get_config()
    assert (ours["weight_decay"], ours["beta_1"]) == (theirs["weight_decay"], theirs["beta_1"])
    with pytest.raises(TypeError):
        ks.optimizers.Adam(1e-3, 0.9, 0.999, 1e-7, False, 0.01)  # weight_decay by position
