"""``Model.summary``: Keras's layer table for a torch module.

Output shapes need a forward pass: one sample of the last batch ``fit`` saw, an example batch the
user gives, or zeros of the ``input_shape`` (and dtype) the user gives, run once in eval mode
without gradients, with a forward hook on every leaf module. Without any, the shape column says
"?". The dtype matters: an ``Embedding`` takes integer indices, so zeros of the default float32
cannot go through it; ``input_dtype=torch.long`` (or a real ``example_input``) can.

The table is drawn with the box characters Keras uses (``━``) where the output stream can encode
them, and with ``=`` where it cannot (``PYTHONIOENCODING=ascii``, some Windows consoles and CI
logs), so printing a summary never raises ``UnicodeEncodeError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO, TypeGuard

import torch

from kerasish import console
from kerasish import data as data_lib
from kerasish.checks import is_int
from kerasish.tree import flatten

Shape = Sequence[int]
ShapeSpec = Shape | Sequence[Shape] | Mapping[str, Shape]
DtypeSpec = torch.dtype | Sequence[torch.dtype] | Mapping[str, torch.dtype]


def zeros_input(input_shape: ShapeSpec, dtype: DtypeSpec = torch.float32,
                device: str | torch.device = "cpu") -> Any:
    """A batch of one sample of zeros, shaped as the module's input, to trace output shapes.

    Args:
        input_shape: the shape of one sample, without the batch dimension (``(1, 28, 28)``); a
            list of shapes for a module taking several positional inputs; a dict of shapes for
            keyword inputs.
        dtype: the dtype of the zeros: one for every input, or a list / dict matching
            ``input_shape``. Use ``torch.long`` for token ids going into an ``Embedding``.
        device: where to create them (the model's device).

    Returns:
        A tensor of shape ``(1, *input_shape)``, or a tuple / dict of them, as ``fit`` would pass
        the batch to the module.

    Raises:
        ValueError: ``input_shape`` is not a shape, a list of shapes or a dict of shapes, or
            ``dtype`` does not match its structure.

    Example:
        >>> zeros_input((4,), torch.long)
        tensor([[0, 0, 0, 0]])
        >>> [t.shape for t in zeros_input([(3,), (2, 2)])]
        [torch.Size([1, 3]), torch.Size([1, 2, 2])]
    """
    if isinstance(input_shape, Mapping):
        dtypes = _dtypes_for(list(input_shape), dtype)
        return {name: _zeros(shape, dtypes[name], device) for name, shape in input_shape.items()}
    if _is_shape(input_shape):
        if not isinstance(dtype, torch.dtype):
            raise ValueError(f"summary: input_dtype must be one dtype for one input_shape; got {dtype!r}.")
        return _zeros(input_shape, dtype, device)
    shapes = [shape for shape in input_shape if _is_shape(shape)]
    if not shapes or len(shapes) != len(input_shape):
        raise ValueError(
            "summary: input_shape must be the shape of one sample such as (1, 28, 28), a list of "
            f"such shapes (several inputs) or a dict of them (keyword inputs); got {input_shape!r}."
        )
    dtypes = _dtypes_for(list(range(len(shapes))), dtype)
    return tuple(_zeros(shape, dtypes[i], device) for i, shape in enumerate(shapes))


def build_example(input_shape: ShapeSpec | None = None, input_dtype: DtypeSpec = torch.float32,
                  example_input: Any = None, seen_input: Any = None,
                  device: str | torch.device = "cpu") -> Any:
    """The batch ``summary`` runs through the module to learn output shapes, or ``None``.

    The most explicit source wins: ``example_input``, then zeros of ``input_shape``, then the
    sample ``fit`` last saw.

    Args:
        input_shape: see ``zeros_input``.
        input_dtype: see ``zeros_input``'s ``dtype``.
        example_input: a real batch (a tensor, NumPy array, or a tuple / dict of them) passed to
            the module as ``fit`` passes ``x``: a tuple as positional arguments, a dict as keywords.
        seen_input: one sample of the last batch ``fit`` saw, already on the device.
        device: the model's device.

    Returns:
        The example batch on ``device``, or ``None`` when there is nothing to run.

    Example:
        example = build_example(input_shape=(16,), input_dtype=torch.long, device=model.device)
        print(summarize(model.module, example, call_module))
    """
    if example_input is not None:
        return data_lib.to_device(example_input, torch.device(device))
    if input_shape is not None:
        return zeros_input(input_shape, input_dtype, device)
    return seen_input


def summarize(module: torch.nn.Module, example: Any, call: Callable[[torch.nn.Module, Any], Any],
              *, stream: TextIO | None = None) -> str:
    """Keras's summary table of ``module``: layers, output shapes and parameter counts.

    Args:
        module: the module to describe.
        example: a batch to run through ``module`` once to record every leaf's output shape, or
            ``None`` (the shape column then shows "?").
        call: how to pass ``example`` to ``module``: ``call(module, example)`` (kerasish's
            ``engine.call_module`` passes a tuple as positional arguments, a dict as keywords).
        stream: where the table will be printed (``sys.stdout`` by default): its encoding decides
            between Keras's ``━`` rules and ASCII ``=`` rules.

    Returns:
        The table as one string, lines separated by ``"\\n"``.

    Raises:
        ValueError: running ``example`` through the module failed; the message says how to pass
            the input's dtype or a real example.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Embedding(100, 8), torch.nn.Flatten(),
        ...                           torch.nn.Linear(32, 2))
        >>> text = summarize(net, zeros_input((4,), torch.long), lambda m, x: m(x))
        >>> "(None, 4, 8)" in text and "Total params: 866" in text
        True
    """
    shapes = _output_shapes(module, example, call) if example is not None else {}
    rows = []
    for name, sub in module.named_modules():
        if not name or list(sub.children()):
            own = list(sub.parameters(recurse=False))
            if not own or not name:
                continue
        count = sum(p.numel() for p in sub.parameters(recurse=False))
        rows.append((f"{name} ({type(sub).__name__})", shapes.get(name, "?"), f"{count:,}"))
    headers = ("Layer (type)", "Output Shape", "Param #")
    widths = [max(len(headers[i]), *(len(r[i]) for r in rows)) if rows else len(headers[i])
              for i in range(3)]

    def line(cells: tuple[str, str, str]) -> str:
        name, shape, count = cells
        return f" {name.ljust(widths[0])}  {shape.ljust(widths[1])}  {count.rjust(widths[2])}"

    rule = ("━" if console.can_encode("━", stream) else "=") * (sum(widths) + 5)
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    out = [f'Model: "{type(module).__name__}"', rule, line(headers), rule]
    out += [line(r) for r in rows]
    out += [rule,
            f" Total params: {total:,}",
            f" Trainable params: {trainable:,}",
            f" Non-trainable params: {total - trainable:,}"]
    if "" in shapes:
        out.append(f" Output shape: {shapes['']}")
    return "\n".join(out)


def _is_shape(value: Any) -> TypeGuard[Shape]:
    return (isinstance(value, Sequence) and not isinstance(value, str)
            and all(is_int(d) for d in value))


def _zeros(shape: Shape, dtype: torch.dtype, device: str | torch.device) -> torch.Tensor:
    return torch.zeros((1, *shape), dtype=dtype, device=device)


def _dtypes_for(keys: list, dtype: DtypeSpec) -> dict:
    """One dtype per input: the same for all, or given per input in the same structure."""
    if isinstance(dtype, torch.dtype):
        return dict.fromkeys(keys, dtype)
    given = dict(dtype) if isinstance(dtype, Mapping) else dict(enumerate(dtype))
    if set(given) != set(keys):
        raise ValueError(
            f"summary: input_dtype must be one dtype or one per input ({len(keys)} inputs: "
            f"{keys}); got {dtype!r}."
        )
    return given


def _shape_of(output: Any) -> str:
    if isinstance(output, torch.Tensor):
        return str((None, *output.shape[1:])).replace(",)", ")")
    if isinstance(output, (tuple, list)):
        return ", ".join(_shape_of(o) for o in output)
    return "?"


def _output_shapes(module: torch.nn.Module, example: Any,
                   call: Callable[[torch.nn.Module, Any], Any]) -> dict[str, str]:
    shapes: dict[str, str] = {}
    handles = []

    def recorder(name: str) -> Callable[..., None]:
        def hook(_module: torch.nn.Module, _inputs: Any, output: Any) -> None:
            shapes.setdefault(name, _shape_of(output))  # returning a value would replace the output
        return hook

    for name, sub in module.named_modules():
        if name and not list(sub.children()):
            handles.append(sub.register_forward_hook(recorder(name)))
    was_training = module.training
    try:
        module.eval()
        with torch.no_grad():
            shapes[""] = _shape_of(call(module, example))
    except Exception as error:
        raise ValueError(
            f"summary: running the module on {_describe(example)} to find the output shapes "
            f"failed ({type(error).__name__}: {str(error)[:300]}). Pass input_dtype= (e.g. "
            "torch.long for token ids into an Embedding) or example_input= (a real batch)."
        ) from error
    finally:
        module.train(was_training)
        for handle in handles:
            handle.remove()
    return shapes


def _describe(example: Any) -> str:
    leaves = flatten(example)
    tensors = [t for t in leaves if isinstance(t, torch.Tensor)]
    if not tensors:
        return "the example input"
    return "a batch of " + ", ".join(f"{t.dtype} {tuple(t.shape)}" for t in tensors)
