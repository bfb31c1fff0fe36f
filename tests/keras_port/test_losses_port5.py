"""Keras 3.15.1's keras/src/losses/losses_test.py, part 5: BinaryFocalCrossentropy,
CategoricalFocalCrossentropy, CTC, Dice, Tversky, Circle, CategoricalGeneralizedCrossEntropy.

Each case states Keras's inputs and expected numbers and runs them on ``ks.losses`` (see
loss_case.py; NOT_PORTED.md for what is left out). The last tests run Keras itself on random
inputs, every reduction, with and without sample weights.
"""

import numpy as np
import pytest
import torch

import kerasish as ks
from tests.keras_port.loss_case import KerasLossCase

L = ks.losses


class TestKerasBinaryFocalCrossentropy(KerasLossCase):
    def test_config(self):
        self.run_class_serialization_test(L.BinaryFocalCrossentropy(name="bfce"))

    def test_all_correct_unweighted(self):
        y_true = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype="float32")
        self.assertAlmostEqual(L.BinaryFocalCrossentropy(gamma=1.5)(y_true, y_true), 0.0, 3)
        logits = np.array([[100.0, -100.0, -100.0], [-100.0, 100.0, -100.0],
                           [-100.0, -100.0, 100.0]])
        obj = L.BinaryFocalCrossentropy(gamma=2.0, from_logits=True)
        self.assertAlmostEqual(obj(y_true, logits), 0.0, 3)

    def _probs(self):
        y_true = np.asarray([1, 0, 1, 0]).reshape([2, 2])
        y_pred = np.asarray([0.9, 0.8, 0.7, 0.2], dtype=np.float32).reshape([2, 2])
        return y_true, y_pred

    def _logits(self):
        y_true = np.array([[1, 1, 0], [0, 1, 0]], dtype="float32")
        return y_true, np.array([[1.5, -2.7, 2.9], [-3.8, 1.2, -4.5]])

    def test_unweighted(self):
        self.assertAlmostEqual(L.BinaryFocalCrossentropy(gamma=2.0)(*self._probs()), 0.268, 3)
        obj = L.BinaryFocalCrossentropy(gamma=3.0, from_logits=True)
        self.assertAlmostEqual(obj(*self._logits()), 0.799, 3)

    def test_scalar_weighted(self):
        obj = L.BinaryFocalCrossentropy(gamma=2.0)
        self.assertAlmostEqual(obj(*self._probs(), sample_weight=1.23), 0.3296, 3)
        obj = L.BinaryFocalCrossentropy(gamma=3.0, from_logits=True)
        self.assertAlmostEqual(obj(*self._logits(), sample_weight=3.21), 2.565, 3)

    def test_sample_weighted(self):
        sample_weight = np.array([1.2, 3.4]).reshape((2, 1))
        obj = L.BinaryFocalCrossentropy(gamma=2.0)
        self.assertAlmostEqual(obj(*self._probs(), sample_weight=sample_weight), 0.34415, 3)
        obj = L.BinaryFocalCrossentropy(gamma=3.0, from_logits=True)
        self.assertAlmostEqual(obj(*self._logits(), sample_weight=sample_weight), 0.95977, 3)

    def test_no_reduction(self):
        obj = L.BinaryFocalCrossentropy(gamma=2.0, reduction=None)
        self.assertAllClose(obj(*self._probs()), (0.515547, 0.020513))

    def test_dtype_arg(self):
        # Keras skips this on torch ("Torch doesn't support bfloat16"); torch 2.x computes it.
        loss = L.BinaryFocalCrossentropy(dtype="bfloat16")(*self._probs())
        self.assertDType(loss, "bfloat16")


class TestKerasCategoricalFocalCrossentropy(KerasLossCase):
    y_true = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    y_pred = np.array([[0.9, 0.05, 0.05], [0.5, 0.89, 0.6], [0.05, 0.01, 0.94]], dtype="float32")
    logits = np.array([[8.0, 1.0, 1.0], [0.0, 9.0, 1.0], [2.0, 3.0, 5.0]])

    def test_config(self):
        self.run_class_serialization_test(L.CategoricalFocalCrossentropy(name="cfce"))

    def test_all_correct_unweighted(self):
        y_true = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype="int64")
        y_pred = np.eye(3, dtype="float32")
        obj = L.CategoricalFocalCrossentropy(alpha=0.25, gamma=2.0)
        self.assertAlmostEqual(obj(y_true, y_pred), 0.0, 3)
        logits = np.array([[10.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 0.0, 10.0]])
        obj = L.CategoricalFocalCrossentropy(from_logits=True)
        self.assertAlmostEqual(obj(y_true, logits), 0.0, 3)

    def test_unweighted(self):
        self.assertAlmostEqual(L.CategoricalFocalCrossentropy()(self.y_true, self.y_pred), 0.02059, 3)
        obj = L.CategoricalFocalCrossentropy(from_logits=True)
        self.assertAlmostEqual(obj(self.y_true, self.logits), 0.000345, 3)

    def test_scalar_weighted(self):
        obj = L.CategoricalFocalCrossentropy()
        self.assertAlmostEqual(obj(self.y_true, self.y_pred, sample_weight=2.3), 0.047368, 3)
        obj = L.CategoricalFocalCrossentropy(from_logits=True)
        self.assertAlmostEqual(obj(self.y_true, self.logits, sample_weight=2.3), 0.000794, 4)

    def test_sample_weighted(self):
        sample_weight = np.array([[1.2], [3.4], [5.6]]).reshape((3, 1))
        obj = L.CategoricalFocalCrossentropy()
        self.assertAlmostEqual(obj(self.y_true, self.y_pred, sample_weight=sample_weight), 0.06987, 3)
        obj = L.CategoricalFocalCrossentropy(from_logits=True)
        self.assertAlmostEqual(obj(self.y_true, self.logits, sample_weight=sample_weight),
                               0.001933, 3)

    def test_no_reduction(self):
        obj = L.CategoricalFocalCrossentropy(from_logits=True, reduction=None)
        self.assertAllClose(obj(self.y_true, self.logits),
                            (1.5096224e-09, 2.4136547e-11, 1.0360638e-03))

    def test_label_smoothing(self):
        logits = np.array([[4.9, -0.5, 2.05]])
        obj = L.CategoricalFocalCrossentropy(from_logits=True, label_smoothing=0.1)
        self.assertAlmostEqual(obj(np.array([[1, 0, 0]]), logits), 0.06685, 3)

    def test_dtype_arg(self):
        obj = L.CategoricalFocalCrossentropy(from_logits=True, dtype="bfloat16")
        self.assertDType(obj(np.array([[1, 0, 0]]), np.array([[4.9, -0.5, 2.05]])), "bfloat16")


class TestKerasCTC(KerasLossCase):
    logits = (np.arange(24).reshape((2, 4, 3)).astype("float32") - 12) / 100
    y_true = np.array([[1, 2, 1, 0], [1, 2, 0, 2]])

    def test_config(self):
        self.run_class_serialization_test(L.CTC(name="myctc"))

    def test_correctness(self):
        self.assertAllClose(L.CTC()(self.y_true, self.logits), 2.448645)

    def test_dtype_arg(self):
        self.assertDType(L.CTC(dtype="bfloat16")(self.y_true, self.logits), "bfloat16")


SEG_TRUE = np.array([[1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1]])
SEG_PRED = np.array([[0, 1, 0, 1], [1, 0, 1, 1], [0, 1, 0, 1], [1, 0, 1, 1]])
AXIS_TRUE = np.array([[[[1.0], [1.0]], [[0.0], [0.0]]], [[[1.0], [1.0]], [[0.0], [0.0]]]])
AXIS_PRED = np.array([[[[0.0], [1.0]], [[0.0], [1.0]]], [[[0.4], [0.0]], [[0.0], [0.9]]]])
SMALL_TRUE = np.array([[1, 2], [1, 2]])
SMALL_PRED = np.array([[4, 1], [6, 1]])


class TestKerasDice(KerasLossCase):
    def test_config(self):
        self.run_class_serialization_test(L.Dice(name="mydice"))

    def test_correctness(self):
        self.assertAllClose(L.Dice()(SMALL_TRUE, SMALL_PRED), -0.55555546)

    def test_binary_segmentation(self):
        self.assertAllClose(L.Dice()(SEG_TRUE, SEG_PRED), 0.77777773)

    def test_binary_segmentation_with_axis(self):
        output = L.Dice(axis=(1, 2, 3), reduction=None)(AXIS_TRUE, AXIS_PRED)
        self.assertAllClose(output, [0.5, 0.75757575])

    def test_dtype_arg(self):
        self.assertDType(L.Dice(dtype="bfloat16")(SMALL_TRUE, SMALL_PRED), "bfloat16")


class TestKerasTversky(KerasLossCase):
    def test_config(self):
        self.run_class_serialization_test(L.Tversky(name="mytversky"))

    def test_correctness(self):
        self.assertAllClose(L.Tversky()(SMALL_TRUE, SMALL_PRED), -0.55555546)

    def test_correctness_custom_coefficients(self):
        self.assertAllClose(L.Tversky(alpha=0.2, beta=0.8)(SMALL_TRUE, SMALL_PRED), -0.29629636)

    def test_binary_segmentation(self):
        self.assertAllClose(L.Tversky()(SEG_TRUE, SEG_PRED), 0.77777773)

    def test_binary_segmentation_with_axis(self):
        output = L.Tversky(axis=(1, 2, 3), reduction=None)(AXIS_TRUE, AXIS_PRED)
        self.assertAllClose(output, [0.5, 0.75757575])

    def test_binary_segmentation_custom_coefficients(self):
        self.assertAllClose(L.Tversky(alpha=0.2, beta=0.8)(SEG_TRUE, SEG_PRED), 0.7916667)

    def test_binary_segmentation_custom_coefficients_with_axis(self):
        obj = L.Tversky(alpha=0.2, beta=0.8, axis=(1, 2, 3), reduction=None)
        self.assertAllClose(obj(AXIS_TRUE, AXIS_PRED), [0.5, 0.7222222])

    def test_dtype_arg(self):
        self.assertDType(L.Tversky(dtype="bfloat16")(SMALL_TRUE, SMALL_PRED), "bfloat16")


class TestKerasCircle(KerasLossCase):
    y_true = np.array([1, 1, 2, 2, 3])
    y_pred = np.array([
        [0.70014004, -0.42008403, 0.14002801, 0.56011203],
        [0.17609018, 0.70436073, -0.52827054, 0.44022545],
        [-0.34050261, 0.25537696, -0.68100522, 0.59587957],
        [0.32163376, -0.75047877, 0.53605627, -0.21442251],
        [0.51261459, -0.34174306, 0.17087153, 0.76892189],
    ])
    ref_labels = np.array([1, 1, 2, 2, 3, 4])
    ref_embeddings = np.array([
        [0.40824829, -0.54433105, 0.27216553, 0.68041382],
        [0.76376261, 0.10910895, -0.54554473, 0.32732684],
        [-0.74420841, 0.24806947, 0.49613894, -0.3721042],
        [0.52981294, -0.13245324, 0.79471941, -0.26490647],
        [0.54554473, -0.32732684, 0.10910895, 0.76376261],
        [-0.27216553, 0.68041382, 0.40824829, -0.54433105],
    ])
    weights = np.array([2.0, 2.0, 1.0, 1.0, 0.5])

    def test_config(self):
        self.run_class_serialization_test(L.Circle(name="mycircle", gamma=80.0, margin=0.4))

    def test_correctness(self):
        self.assertAlmostEqual(L.Circle(gamma=80.0, margin=0.4)(self.y_true, self.y_pred), 188.3883)
        self.assertAlmostEqual(L.Circle(gamma=256, margin=0.25)(self.y_true, self.y_pred), 652.7617)
        loss = L.circle(self.y_true, self.y_pred, ref_labels=self.ref_labels,
                        ref_embeddings=self.ref_embeddings, gamma=80.0, margin=0.4,
                        remove_diagonal=False)
        self.assertAllClose(loss, (61.5844, 94.3465, 276.9344, 90.9873, 48.8963))

    def test_correctness_weighted(self):
        loss = L.Circle(gamma=80.0, margin=0.4)(self.y_true, self.y_pred, sample_weight=self.weights)
        self.assertAlmostEqual(loss, 244.91918)

    def test_no_reduction(self):
        loss = L.Circle(gamma=80.0, margin=0.4, reduction=None)(self.ref_labels, self.ref_embeddings)
        self.assertAllClose(loss, [82.9116, 36.7942, 92.4590, 52.6798, 0.0, 0.0])

    def test_sum_reduction(self):
        loss = L.Circle(gamma=80.0, margin=0.4, reduction="sum")(self.ref_labels, self.ref_embeddings)
        self.assertAlmostEqual(loss, 264.845)

    def test_mean_with_sample_weight_reduction(self):
        obj = L.Circle(gamma=80.0, margin=0.4, reduction="mean_with_sample_weight")
        self.assertAlmostEqual(obj(self.y_true, self.y_pred, sample_weight=self.weights), 163.27948)

    def test_dtype_arg(self):
        self.assertDType(L.Circle(dtype="bfloat16")(self.y_true, self.y_pred), "bfloat16")


def _gce(p, q):
    return (1 - np.power(np.asarray(p, dtype=np.float64), q)) / q


class TestKerasCategoricalGeneralizedCrossEntropy(KerasLossCase):
    def test_config(self):
        self.run_class_serialization_test(L.CategoricalGeneralizedCrossEntropy(name="gce"))
        self.run_class_serialization_test(L.CategoricalGeneralizedCrossEntropy(q=0.1, name="gce"))

    def test_basic_correctness_for_binary(self):
        y_true = np.array([0, 1, 0, 1])
        y_pred = np.array([[0.7, 0.3], [0.2, 0.8], [0.6, 0.4], [0.4, 0.6]])
        for q in (0.5, 0.8):
            obj = L.CategoricalGeneralizedCrossEntropy() if q == 0.5 else \
                L.CategoricalGeneralizedCrossEntropy(q=q)
            self.assertAllClose(obj(y_true, y_pred), _gce([0.7, 0.8, 0.6, 0.6], q).mean())

    def test_basic_correctness_for_multi_class(self):
        y_true = np.array([0, 1, 0, 1])
        y_pred = np.array([[0.7, 0.3, 0.0], [0.2, 0.2, 0.6], [0.6, 0.4, 0.0], [0.2, 0.2, 0.6]])
        for q in (0.5, 0.8):
            obj = L.CategoricalGeneralizedCrossEntropy() if q == 0.5 else \
                L.CategoricalGeneralizedCrossEntropy(q=q)
            self.assertAllClose(obj(y_true, y_pred), _gce([0.7, 0.2, 0.6, 0.2], q).mean())

    def test_binary_segmentation(self):
        y_true = np.array([[0, 1, 1, 0], [1, 0, 1, 0], [0, 0, 1, 1], [1, 1, 0, 1]])
        y_pred = np.array([
            [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]],
            [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]],
            [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]],
            [[0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]],
        ])
        self.assertAllClose(L.CategoricalGeneralizedCrossEntropy(q=0.5)(y_true, y_pred), 0.0)
        y_pred = np.array([
            [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.2, 0.8]],
            [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]],
            [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]],
            [[0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.6, 0.4]],
        ])
        output = L.CategoricalGeneralizedCrossEntropy(q=0.5)(y_true, y_pred)
        self.assertAllClose(output, _gce([0.2, 0.4], 0.5).sum() / 16.0)  # 16 pixels

    def test_multi_class_segmentation(self):
        y_true = np.array([[0, 1, 2, 0], [1, 0, 1, 0], [0, 0, 1, 1], [1, 1, 0, 1]])
        a, b, c = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]
        y_pred = np.array([[a, b, c, a], [b, a, b, a], [a, a, b, b], [b, b, a, b]])
        self.assertAllClose(L.CategoricalGeneralizedCrossEntropy(q=0.5)(y_true, y_pred), 0.0)
        y_pred = np.array([[a, b, c, [0.2, 0.0, 0.8]], [a, a, b, a], [a, a, b, b],
                           [b, b, [0.5, 0.5, 0.0], b]])
        output = L.CategoricalGeneralizedCrossEntropy(q=0.5)(y_true, y_pred)
        self.assertAllClose(output, _gce([0.2, 0.0, 0.5], 0.5).sum() / 16.0)  # 16 pixels

    def test_dtype_arg(self):
        y_true = np.array([0, 1, 0, 1])
        y_pred = np.array([[0.7, 0.3], [0.2, 0.8], [0.6, 0.4], [0.4, 0.6]])
        output = L.CategoricalGeneralizedCrossEntropy(dtype="bfloat16")(y_true, y_pred)
        self.assertDType(output, "bfloat16")


# Keras itself as the reference: random inputs, every reduction, with and without weights.
keras = pytest.importorskip("keras")
REDUCTIONS = ["sum_over_batch_size", "sum", "mean_with_sample_weight", None]
RNG = np.random.default_rng(7)


def _unit_rows(n, d):
    x = RNG.normal(size=(n, d)).astype("float32")
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _case(kind):
    """(constructor kwargs, y_true, y_pred, per-sample weights) for each class."""
    probs = RNG.uniform(0.05, 0.95, size=(6, 4)).astype("float32")
    if kind in ("BinaryFocalCrossentropy", "Dice", "Tversky"):
        kwargs = {"BinaryFocalCrossentropy": dict(apply_class_balancing=True, alpha=0.3, gamma=1.5,
                                                  label_smoothing=0.1),
                  "Dice": dict(axis=(1,)), "Tversky": dict(alpha=0.3, beta=0.7, axis=(1,))}[kind]
        return kwargs, (RNG.uniform(size=(6, 4)) > 0.5).astype("float32"), probs
    if kind == "CategoricalFocalCrossentropy":
        y_true = np.eye(4, dtype="float32")[RNG.integers(0, 4, size=6)]
        return dict(alpha=[0.1, 0.2, 0.3, 0.4], gamma=1.0, from_logits=True, label_smoothing=0.1), \
            y_true, RNG.normal(size=(6, 4)).astype("float32")
    if kind == "CTC":
        y_true = np.array([[1, 2, 0], [3, 3, 1], [2, 0, 0], [1, 1, 0], [3, 2, 1], [2, 1, 0]])
        return {}, y_true, RNG.normal(size=(6, 7, 4)).astype("float32")
    if kind == "Circle":
        return dict(gamma=30.0, margin=0.3), np.array([0, 0, 1, 1, 2, 3]), _unit_rows(6, 5)
    y_true = RNG.integers(0, 4, size=6)
    return dict(q=0.7), y_true, probs / probs.sum(axis=1, keepdims=True)


KINDS = ["BinaryFocalCrossentropy", "CategoricalFocalCrossentropy", "CTC", "Dice", "Tversky",
         "Circle", "CategoricalGeneralizedCrossEntropy"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_keras_on_random_inputs(kind, reduction, weighted):
    kwargs, y_true, y_pred = _case(kind)
    weight = RNG.uniform(0.0, 2.0, size=(6,)).astype("float32") if weighted else None
    expected = getattr(keras.losses, kind)(reduction=reduction, **kwargs)(
        y_true, y_pred, sample_weight=weight)
    ours = getattr(ks.losses, kind)(reduction=reduction, **kwargs)(
        torch.as_tensor(y_true), torch.as_tensor(y_pred),
        sample_weight=None if weight is None else torch.as_tensor(weight))
    np.testing.assert_allclose(ours.detach().numpy(), keras.ops.convert_to_numpy(expected),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["binary_focal_crossentropy", "categorical_focal_crossentropy",
                                  "dice", "tversky", "ctc", "circle",
                                  "categorical_generalized_cross_entropy"])
def test_functions_match_keras(name):
    kind = {"binary_focal_crossentropy": "BinaryFocalCrossentropy",
            "categorical_focal_crossentropy": "CategoricalFocalCrossentropy", "dice": "Dice",
            "tversky": "Tversky", "ctc": "CTC", "circle": "Circle",
            "categorical_generalized_cross_entropy": "CategoricalGeneralizedCrossEntropy"}[name]
    kwargs, y_true, y_pred = _case(kind)
    tensor = keras.ops.convert_to_tensor  # Keras's generalized CE needs tensors, not arrays
    expected = getattr(keras.losses, name)(tensor(y_true), tensor(y_pred), **kwargs)
    ours = getattr(ks.losses, name)(y_true, y_pred, **kwargs)
    np.testing.assert_allclose(ours.detach().numpy(), keras.ops.convert_to_numpy(expected),
                               rtol=1e-5, atol=1e-6)


def test_string_names_resolve_as_keras_does():
    for name, cls in [("dice", L.Dice), ("tversky", L.Tversky), ("circle", L.Circle),
                      ("ctc", L.CTC), ("binary_focal_crossentropy", L.BinaryFocalCrossentropy),
                      ("categorical_focal_crossentropy", L.CategoricalFocalCrossentropy)]:
        assert isinstance(L.get_loss(name), cls)
    with pytest.raises(ValueError, match="not a known loss name"):  # Keras has no string for it
        L.get_loss("categorical_generalized_cross_entropy")


def test_generalized_ce_checks_q_and_labels():
    with pytest.raises(ValueError, match="q must be in the interval"):
        L.CategoricalGeneralizedCrossEntropy(q=1.0)
    with pytest.raises(ValueError, match="contain 3"):
        L.CategoricalGeneralizedCrossEntropy().check_targets(torch.tensor([0, 3]), torch.zeros(2, 3))


def test_circle_gradient_is_finite_for_samples_without_positives():
    y_pred = torch.as_tensor(_unit_rows(4, 3)).requires_grad_()
    L.Circle()(torch.tensor([0, 0, 1, 2]), y_pred).backward()
    assert torch.isfinite(y_pred.grad).all()


@pytest.mark.parametrize("loss", [L.Dice(axis=(1,)), "dice", L.BinaryFocalCrossentropy()])
def test_compile_and_fit(loss):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Sigmoid())
    model = ks.Model(net)
    model.compile(optimizer="sgd", loss=loss)
    x = torch.randn(16, 3)
    y = (torch.rand(16, 2) > 0.5).float()
    before = model.evaluate(x, y, verbose=0)
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    expected = L.get_loss(loss)(y, net(x).detach())
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0, batch_size=16),
                               float(expected), rtol=1e-5)
    assert before != model.evaluate(x, y, verbose=0)
