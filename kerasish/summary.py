"""``Model.summary``: Keras's layer table for a torch module.

Output shapes need a forward pass: one sample of the last batch ``fit`` saw, or zeros of the
``input_shape`` the user gives, run once in eval mode without gradients, with a forward hook on
every leaf module. Without either, the shape column says "?".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


def _shape_of(output: Any) -> str:
    if isinstance(output, torch.Tensor):
        return str((None, *output.shape[1:])).replace(",)", ")")
    if isinstance(output, (tuple, list)):
        return ", ".join(_shape_of(o) for o in output)
    return "?"


def _output_shapes(module: torch.nn.Module, example: Any, call: Callable) -> dict[str, str]:
    shapes: dict[str, str] = {}
    handles = []

    def recorder(name: str):
        def hook(_module, _inputs, output) -> None:  # must return None: a value replaces the output
            shapes.setdefault(name, _shape_of(output))
        return hook

    for name, sub in module.named_modules():
        if name and not list(sub.children()):
            handles.append(sub.register_forward_hook(recorder(name)))
    was_training = module.training
    try:
        module.eval()
        with torch.no_grad():
            shapes[""] = _shape_of(call(module, example))
    finally:
        module.train(was_training)
        for handle in handles:
            handle.remove()
    return shapes


def summarize(module: torch.nn.Module, example: Any, call: Callable) -> str:
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

    def line(cells):
        name, shape, count = cells
        return f" {name.ljust(widths[0])}  {shape.ljust(widths[1])}  {count.rjust(widths[2])}"

    rule = "━" * (sum(widths) + 5)
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
