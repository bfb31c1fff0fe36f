"""``export``: write a trained model for inference, as Keras 3's ``model.export`` does (ONNX).

torch's exporter (``torch.onnx.export(..., dynamo=True)``, the default since torch 2.9) writes the
weights of a model given a file path to a second file, ``model.onnx.data``; a copy of
``model.onnx`` alone (uploaded to a tracker, mailed, ...) then has no weights. ``export`` keeps the
weights in the one ``.onnx`` file whenever the format allows it (under ONNX's 2 GB protobuf
limit) and otherwise returns every file written, so none is left behind.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kerasish.checks import is_int

# ONNX files are protobufs, limited to 2 GiB; leave room for the graph itself.
_INLINE_LIMIT_BYTES = int(1.8 * 2**30)
_FORMATS = ("onnx",)
# torch.onnx.export(dynamo=True, kwargs=..., optimize=...) and ONNXProgram.save(external_data=...).
_EXPORTER_TORCH = (2, 6)


def export(model: Any, filepath: str | os.PathLike, format: str = "onnx",  # noqa: A002 - Keras's name
           input_signature: Any = None, verbose: bool = True) -> list[str]:
    """Export ``model``'s module for inference: an ONNX file with its weights inside.

    The module is exported in eval mode (its mode is restored after), with torch's ONNX exporter.
    Dimensions given as ``None`` in ``input_signature`` (and the batch dimension when the example
    comes from the model's last batch) stay dynamic in the exported graph. The file is checked
    with ``onnx.checker`` before returning.

    Args:
        model: a ``ks.Model`` (its ``module`` is exported) or a ``torch.nn.Module``.
        filepath: the ``.onnx`` file to write (parent folders are created).
        format: ``"onnx"`` (the only format so far).
        input_signature: what the module is called with, as Keras's argument: a shape such as
            ``(None, 1, 28, 28)`` (``None``: a dynamic dimension), a tensor or array to use as the
            example input, an object with ``shape`` and ``dtype`` (``keras.InputSpec``), a list or
            tuple of those for a module taking several positional inputs, or a dict of them for
            keyword inputs. ``None`` uses ``model.example_input`` (a sample of the last batch the
            model saw) when the model has one.
        verbose: print where the model was saved.

    Returns:
        The files written: ``[filepath]``, plus ``filepath + ".data"`` for a model over 1.8 GB,
        whose weights ONNX cannot hold in one file.

    Raises:
        ValueError: an unknown format, or no input signature and none known to the model.
        ImportError: torch older than 2.6, or ``onnx`` or ``onnxscript`` not installed (the message
            is ``unavailable_reason()``'s).

    Example:
        from kerasish.export import export
        export(model, "model.onnx", input_signature=(None, 1, 28, 28))
        import onnx
        onnx.checker.check_model(onnx.load("model.onnx"))     # weights included
    """
    if format not in _FORMATS:
        raise ValueError(f"export: format={format!r} is not supported; use one of {list(_FORMATS)}.")
    onnx = _import_onnx()
    module = model.module if hasattr(model, "module") and isinstance(model.module, torch.nn.Module) \
        else model
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"export takes a ks.Model or a torch.nn.Module; got {type(model).__name__}.")
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    args, kwargs, dynamic = _example_inputs(model, input_signature, device)
    path = Path(filepath)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(kwargs) if kwargs else [f"input_{i}" for i in range(len(args))]
    was_training = module.training
    module.eval()
    try:
        program = _export_program(module, args, kwargs, names, dynamic)
    finally:
        module.train(was_training)
    size = sum(p.numel() * p.element_size() for p in module.parameters()) + sum(
        b.numel() * b.element_size() for b in module.buffers())
    external = size > _INLINE_LIMIT_BYTES
    for stale in (path, Path(f"{path}.data")):
        stale.unlink(missing_ok=True)  # no weights file of an earlier export left beside it
    program.save(os.fspath(path), external_data=external)
    onnx.checker.check_model(os.fspath(path), full_check=True)
    written = [os.fspath(path)] + ([f"{path}.data"] if external else [])
    if verbose:
        where = "in the file" if not external else f"in {written[1]!r}"
        print(f"Saved ONNX model to {os.fspath(path)!r} (weights {where}); load it with "
              "onnx.load, or run it with onnxruntime.InferenceSession (pip install onnxruntime: "
              "no kerasish extra installs it).")
    return written


def unavailable_reason(torch_version: str | None = None) -> str | None:
    """Why ``export`` cannot run here, or ``None`` when it can.

    ``export`` needs torch 2.6 or newer (the ``torch.export``-based ONNX exporter it drives; the
    rest of kerasish runs on torch 2.4) and the ``onnx`` and ``onnxscript`` packages
    (``pip install "kerasish[onnx]"`` brings all three).

    Args:
        torch_version: the torch version to judge (default: the installed one).

    Returns:
        A sentence naming what is missing and how to install it, or ``None``.

    Example:
        if (reason := unavailable_reason()) is None:
            export(model, "model.onnx")
        else:
            print("skipping the ONNX export:", reason)
    """
    version = torch_version or torch.__version__
    if tuple(int(part) for part in version.split(".")[:2]) < _EXPORTER_TORCH:
        return (f"export to ONNX needs torch>=2.6 (its torch.export-based ONNX exporter); this is torch "
                f"{version}: pip install \"torch>=2.6\" (or \"kerasish[onnx]\").")
    missing = [name for name in ("onnx", "onnxscript") if importlib.util.find_spec(name) is None]
    if missing:
        return f"export to ONNX needs {' and '.join(missing)}: pip install onnx onnxscript."
    return None


def _import_onnx():
    reason = unavailable_reason()
    if reason is not None:
        raise ImportError(reason)
    import onnx

    return onnx


def _export_program(module: torch.nn.Module, args: tuple, kwargs: dict, names: list[str],
                    dynamic: dict[int | str, dict[int, str]]) -> Any:
    def run(dynamic_shapes):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notes are about its internals
            return torch.onnx.export(module, args, kwargs=kwargs or None, dynamo=True,
                                     input_names=names, dynamic_shapes=dynamic_shapes,
                                     verbose=False, optimize=True)

    shapes = _dynamic_shapes(args, kwargs, dynamic)
    if shapes is None:
        return run(None)
    try:
        return run(shapes)
    except Exception as error:  # noqa: BLE001 - retried with fixed shapes, with a warning
        warnings.warn(
            f"export: the module could not be exported with dynamic dimensions "
            f"({type(error).__name__}: {str(error)[:200]}); exporting it with the example's fixed "
            "shapes instead.", UserWarning, stacklevel=3,
        )
        return run(None)


def _dynamic_shapes(args: tuple, kwargs: dict, dynamic: dict[int | str, dict[int, str]]):
    if not dynamic:
        return None
    dims: dict[str, Any] = {}

    def spec(key):
        return {axis: dims.setdefault(name, torch.export.Dim(name)) for axis, name in
                dynamic.get(key, {}).items()} or None

    if kwargs:
        return {name: spec(name) for name in kwargs}
    return tuple(spec(i) for i in range(len(args)))


def _example_inputs(model: Any, signature: Any, device: torch.device):
    """``(args, kwargs, dynamic)``: example inputs and, per input, the dynamic axes' names."""
    dynamic: dict[int | str, dict[int, str]] = {}
    if signature is None:
        example = getattr(model, "example_input", None)
        if example is None:
            raise ValueError(
                "export needs to know the module's input: pass input_signature, e.g. "
                "input_signature=(None, 1, 28, 28) for batches of 1x28x28 images (None: any size), "
                "or an example batch."
            )
        return _from_example(example, device)
    if isinstance(signature, Mapping):
        kwargs = {}
        for name, item in signature.items():
            kwargs[name], axes = _one_input(item, name, device)
            if axes:
                dynamic[name] = axes
        return (), kwargs, dynamic
    items = [signature] if _is_single(signature) else list(signature)
    args = []
    for index, item in enumerate(items):
        tensor, axes = _one_input(item, index, device)
        args.append(tensor)
        if axes:
            dynamic[index] = axes
    return tuple(args), {}, dynamic


def _from_example(example: Any, device: torch.device):
    """A sample of the last batch: the batch dimension becomes dynamic (example doubled to 2)."""
    def batch_of_two(t):
        t = torch.as_tensor(t, device=device)
        return torch.cat([t[:1], t[:1]]) if t.dim() else t

    if isinstance(example, Mapping):
        kwargs = {k: batch_of_two(v) for k, v in example.items()}
        return (), kwargs, {k: {0: "batch"} for k, v in kwargs.items() if v.dim()}
    items = list(example) if isinstance(example, (tuple, list)) else [example]
    args = tuple(batch_of_two(v) for v in items)
    return args, {}, {i: {0: "batch"} for i, v in enumerate(args) if v.dim()}


def _is_single(signature: Any) -> bool:
    if isinstance(signature, (torch.Tensor, np.ndarray)) or hasattr(signature, "shape"):
        return True
    return isinstance(signature, (tuple, list, torch.Size)) and all(
        d is None or is_int(d) for d in signature)


def _one_input(item: Any, key: int | str, device: torch.device) -> tuple[torch.Tensor, dict[int, str]]:
    if isinstance(item, (torch.Tensor, np.ndarray)):
        return torch.as_tensor(item, device=device), {}
    if hasattr(item, "shape"):  # keras.InputSpec, a KerasTensor, jax/tf specs: shape and dtype
        shape, dtype = item.shape, _torch_dtype(getattr(item, "dtype", None))
    elif isinstance(item, Sequence):
        shape, dtype = item, torch.float32
    else:
        raise ValueError(f"export: cannot read an input from {item!r}; give a shape, a tensor or "
                         "an object with shape and dtype.")
    axes = {}
    sizes = []
    for axis, size in enumerate(shape):
        if size is None:
            axes[axis] = "batch" if axis == 0 else f"{key}_dim_{axis}"
            sizes.append(2)  # torch.export specialises dimensions of size 0 and 1
        else:
            sizes.append(int(size))
    if dtype.is_floating_point:
        return torch.randn(sizes, dtype=dtype, device=device), axes
    return torch.zeros(sizes, dtype=dtype, device=device), axes


def _torch_dtype(dtype: Any) -> torch.dtype:
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    name = getattr(dtype, "name", None) or str(dtype)
    result = getattr(torch, name.replace("torch.", ""), None)
    if not isinstance(result, torch.dtype):
        raise ValueError(f"export: unknown dtype {dtype!r} in input_signature.")
    return result
