"""compile(): optimizer names with Keras defaults, loss/metric/precision resolution."""

import math

import numpy as np
import pytest
import torch

import kerasish as ks

from helpers import classification_data, mlp, same_weights, weights_of


@pytest.mark.parametrize(
    "name, cls, expected",
    [
        ("sgd", ks.optimizers.KerasSGD, {"lr": 0.01, "momentum": 0.0, "nesterov": False}),
        ("adam", torch.optim.Adam, {"lr": 0.001, "eps": 1e-7, "betas": (0.9, 0.999)}),
        ("adamw", torch.optim.AdamW, {"lr": 0.001, "eps": 1e-7, "weight_decay": 0.004}),
        ("rmsprop", ks.optimizers.KerasRMSprop, {"lr": 0.001, "rho": 0.9, "eps": 1e-7}),
        ("adagrad", ks.optimizers.KerasAdagrad, {"lr": 0.001, "initial_accumulator_value": 0.1}),
        ("adadelta", torch.optim.Adadelta, {"lr": 0.001, "rho": 0.95, "eps": 1e-7}),
        ("adamax", ks.optimizers.KerasAdamax, {"lr": 0.001, "eps": 1e-7}),
        ("nadam", torch.optim.NAdam, {"lr": 0.001, "eps": 1e-7, "momentum_decay": 1.0}),
    ],
)
def test_optimizer_names_get_keras_defaults(name, cls, expected):
    model = ks.Model(mlp(), device="cpu").compile(name.upper() if name == "adam" else name, "mse")
    assert isinstance(model.optimizer, cls)
    assert type(model.optimizer).__name__ == cls.__name__  # what logs and state files record
    group = model.optimizer.param_groups[0]
    for key, value in expected.items():
        assert group[key] == value, key

def test_optimizer_instance_class_and_factory():
    net = mlp()
    instance = torch.optim.SGD(net.parameters(), lr=0.5)
    assert ks.Model(net).compile(instance, "mse").optimizer is instance
    assert isinstance(ks.Model(mlp()).compile(torch.optim.AdamW, "mse").optimizer, torch.optim.AdamW)
    model = ks.Model(mlp()).compile(lambda p: torch.optim.SGD(p, lr=0.3), "mse")
    assert model.learning_rate == pytest.approx(0.3)


def test_compile_returns_the_model_so_two_lines_train():
    model = ks.Model(mlp())
    assert model.compile("adam", "cross_entropy") is model


def test_learning_rate_property_sets_every_group():
    net = mlp()
    groups = [{"params": net[0].parameters()}, {"params": net[2].parameters(), "lr": 0.5}]
    opt = torch.optim.SGD(groups, lr=0.1)
    model = ks.Model(net).compile(opt, "mse")
    assert model.learning_rate == pytest.approx(0.1)
    model.learning_rate = 0.02
    assert [g["lr"] for g in opt.param_groups] == [0.02, 0.02]


@pytest.mark.parametrize("precision", ["float32", "mixed_float16", "mixed_bfloat16", "fp16", "bf16",
                                       "16-mixed", "bf16-mixed"])
def test_precision_names_and_aliases_are_accepted(precision):
    ks.Model(mlp()).compile("adam", "mse", precision=precision)


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ValueError, match="optimizer='adamm'.*adam, adamax, adamw"):
        ks.Model(mlp()).compile("adamm", "mse")
    with pytest.raises(ValueError, match="loss='msee'.*mse"):
        ks.Model(mlp()).compile("adam", "msee")
    with pytest.raises(ValueError, match="'acuracy'.*accuracy"):
        ks.Model(mlp()).compile("adam", "mse", metrics=["acuracy"])
    with pytest.raises(ValueError, match="precision='float8'.*mixed_bfloat16"):
        ks.Model(mlp()).compile("adam", "mse", precision="float8")


def test_bad_compile_arguments_name_the_argument():
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        ks.Model(mlp()).compile("adam", "mse", gradient_accumulation_steps=0)
    with pytest.raises(ValueError, match="clipnorm"):
        ks.Model(mlp()).compile("adam", "mse", clipnorm=-1.0)
    with pytest.raises(TypeError, match="optimizer"):
        ks.Model(mlp()).compile(42, "mse")
    with pytest.raises(TypeError, match="metrics must be a list"):
        ks.Model(mlp()).compile("adam", "mse", metrics="accuracy")


def test_metric_log_names_follow_keras():
    def my_metric(y_pred, y_true):
        return (y_pred - y_true).abs().mean()

    model = ks.Model(mlp()).compile(
        "adam", "cross_entropy",
        metrics=["acc", "accuracy", "accuracy", ks.metrics.SparseCategoricalAccuracy(), my_metric],
        weighted_metrics=["accuracy"],
    )
    assert model.metrics_names == [
        "loss", "acc", "accuracy", "accuracy_1", "sparse_categorical_accuracy", "my_metric",
        "weighted_accuracy",
    ]


def test_torchmetrics_object_is_keyed_by_snake_case_class_name():
    torchmetrics = pytest.importorskip("torchmetrics")
    model = ks.Model(mlp()).compile(
        "adam", "cross_entropy", metrics=[torchmetrics.classification.MulticlassAccuracy(num_classes=3)]
    )
    assert model.metrics_names == ["loss", "multiclass_accuracy"]


def test_model_rejects_a_non_module():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        ks.Model(lambda x: x)


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_named_adam_gets_the_fused_kernel_and_trains_like_the_looped_one(name):
    """Fused and looped Adam are the same update rounded differently (Keras's epsilon in both)."""
    x, y = classification_data(n=96)
    looped = {"adam": (torch.optim.Adam, {}), "adamw": (torch.optim.AdamW, {"weight_decay": 0.004})}
    cls, kwargs = looped[name]

    def keras_adam(parameters):  # torch's looped Adam with Keras's epsilon, eps / sqrt(1 - beta_2**t)
        optimizer = cls(parameters, lr=0.001, eps=1e-7, **kwargs)
        steps = [0]

        def keras_epsilon(opt, args, kw):
            steps[0] += 1
            for group in opt.param_groups:
                group["eps"] = 1e-7 / math.sqrt(1 - 0.999 ** steps[0])

        optimizer.register_step_pre_hook(keras_epsilon)
        return optimizer

    trained = []
    for optimizer in (name, keras_adam):
        torch.manual_seed(0)
        model = ks.Model(mlp(), device="cpu").compile(optimizer, "cross_entropy")
        model.fit(x, y, batch_size=16, epochs=3, verbose=0)
        trained.append(model)
    assert trained[0].optimizer.defaults["fused"] is True
    assert trained[1].optimizer.defaults["fused"] is None  # a user's factory is used as given
    assert same_weights(weights_of(trained[0].module), weights_of(trained[1].module), atol=1e-6)

def test_optimizers_without_a_fused_kernel_or_parameters_it_cannot_take_are_looped():
    assert ks.Model(mlp(), device="cpu").compile("sgd", "mse").optimizer.defaults.get("fused") is None

    class ComplexLinear(torch.nn.Module):  # fused Adam takes real floating-point tensors only
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.randn(3, 2, dtype=torch.complex64))

        def forward(self, x):
            return (x.to(torch.complex64) @ self.weight).abs()

    model = ks.Model(ComplexLinear(), device="cpu").compile("adam", "mse")
    assert model.optimizer.defaults["fused"] is None
    before = model.module.weight.detach().clone()
    model.fit(np.ones((4, 3), "float32"), np.zeros((4, 2), "float32"), verbose=0)
    assert not torch.equal(before, model.module.weight)
