"""kerasish.export.export: one ONNX file with the weights inside, checked and run by onnx alone."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import torch

import kerasish as ks
from kerasish.export import export, unavailable_reason

if unavailable_reason() is not None:
    pytest.skip(unavailable_reason(), allow_module_level=True)
import onnx  # noqa: E402 - after the skip
from onnx.reference import ReferenceEvaluator  # noqa: E402


def cnn() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.Dropout(0.5),
        torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 3))


def run_alone(path, tmp_path, **inputs):
    """Copy the .onnx file alone to a fresh folder, load it there and run it with onnx's evaluator."""
    lonely = tmp_path / "elsewhere"
    lonely.mkdir(parents=True)
    shutil.copy(path, lonely / "model.onnx")
    model = onnx.load(str(lonely / "model.onnx"))
    onnx.checker.check_model(model, full_check=True)
    return ReferenceEvaluator(model).run(None, {k: v.numpy() for k, v in inputs.items()})


def test_a_trained_model_exports_to_one_file_with_its_weights_and_a_dynamic_batch(tmp_path, capsys):
    x = np.random.default_rng(0).normal(size=(32, 1, 8, 8)).astype("float32")
    model = ks.Model(cnn(), device="cpu").compile("adam", "cross_entropy")
    model.fit(x, np.arange(32) % 3, batch_size=8, epochs=1, verbose=0)
    written = export(model, tmp_path / "out" / "model.onnx", input_signature=(None, 1, 8, 8))
    assert written == [str(tmp_path / "out" / "model.onnx")]
    assert os.listdir(tmp_path / "out") == ["model.onnx"]  # no model.onnx.data beside it
    assert "Saved ONNX model to" in capsys.readouterr().out
    assert model.module.training  # the module's mode is restored
    batch = torch.as_tensor(x[:5])  # another batch size than the export's example
    (out,) = run_alone(written[0], tmp_path, input_0=batch)
    model.module.eval()
    expected = model.module(batch).detach().numpy()
    assert np.allclose(out, expected, atol=1e-5)


def test_several_positional_and_keyword_inputs(tmp_path):
    class Two(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = torch.nn.Linear(3, 2), torch.nn.Linear(4, 2)

        def forward(self, left, right):
            return self.a(left) * self.b(right)

    net = Two()
    left, right = torch.randn(6, 3), torch.randn(6, 4)
    expected = net(left, right).detach().numpy()
    export(net, tmp_path / "pos.onnx", input_signature=[(None, 3), (None, 4)], verbose=False)
    (out,) = run_alone(tmp_path / "pos.onnx", tmp_path / "p", input_0=left, input_1=right)
    assert np.allclose(out, expected, atol=1e-6)
    export(net, tmp_path / "kw.onnx", input_signature={"left": left[:2], "right": right[:2]},
           verbose=False)
    (out,) = run_alone(tmp_path / "kw.onnx", tmp_path / "k", left=left[:2], right=right[:2])
    assert np.allclose(out, expected[:2], atol=1e-6)


def test_an_input_spec_with_a_dtype_is_read(tmp_path):
    class Spec:
        shape, dtype = (None, 4), "int64"

    net = torch.nn.Sequential(torch.nn.Embedding(10, 3), torch.nn.Flatten(), torch.nn.Linear(12, 2))
    export(net, tmp_path / "m.onnx", input_signature=[Spec()], verbose=False)
    tokens = torch.randint(0, 10, (3, 4))
    (out,) = run_alone(tmp_path / "m.onnx", tmp_path, input_0=tokens)
    assert np.allclose(out, net(tokens).detach().numpy(), atol=1e-6)


def test_without_a_signature_or_an_example_the_error_says_what_to_pass(tmp_path):
    model = ks.Model(cnn(), device="cpu")
    if getattr(model, "example_input", None) is not None:
        pytest.skip("the model has an example input")
    with pytest.raises(ValueError, match="input_signature=\\(None, 1, 28, 28\\)"):
        export(model, tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="format='tf_saved_model' is not supported"):
        export(model, tmp_path / "m.onnx", format="tf_saved_model", input_signature=(1, 1, 8, 8))
