"""What export needs is said before anything runs: torch 2.6+ (kerasish trains on 2.4+), onnx and
onnxscript. These tests run on every torch, also where tests/test_export.py is skipped."""

import pytest

from kerasish.export import unavailable_reason


@pytest.mark.parametrize("version, refused", [
    ("2.4.1+cu121", True), ("2.5.1", True), ("2.6.0", False), ("2.10.0a0+git1234", False),
])
def test_export_says_which_torch_it_needs(version, refused):
    reason = unavailable_reason(version)
    if refused:
        assert reason is not None and "torch>=2.6" in reason and version in reason
    else:
        assert reason is None or "torch" not in reason  # onnx itself may be missing here


def test_export_on_a_torch_too_old_raises_the_reason_before_writing_anything(tmp_path, monkeypatch):
    import torch

    import kerasish as ks
    from kerasish.export import export

    monkeypatch.setattr(torch, "__version__", "2.4.1")
    model = ks.Model(torch.nn.Linear(3, 1), device="cpu").compile("sgd", "mse")
    with pytest.raises(ImportError, match=r"torch>=2\.6.*this is torch 2\.4\.1"):
        export(model, tmp_path / "m.onnx", input_signature=(None, 3))
    assert list(tmp_path.iterdir()) == []
