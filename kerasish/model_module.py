"""``ModuleFace``: what makes a ``ks.Model`` a ``torch.nn.Module``, as a Keras 3 model is on torch.

Tools written for torch modules take a module and nothing else: ``wandb.watch(model)`` (and
``run.watch``) refuses anything that is not a ``torch.nn.Module``, and Keras code ported to the
torch backend calls ``model.parameters()`` or ``model.named_modules()`` on its Keras model, which
is a ``torch.nn.Module`` there. So ``ks.Model`` is one too: the wrapped module is its submodule
``module``, and a subclass's own modules (a GAN's ``self.g``) are registered as usual.

Three things differ from a plain ``torch.nn.Module``, each because the model, not torch, runs the
module:

- forward hooks registered on the model (``wandb.watch``'s parameter histograms use one) are
  registered on the wrapped module, which is what ``fit``, ``evaluate`` and ``predict`` call, and
  receive the model as their ``module`` argument, so names match ``model.named_parameters()``;
- ``to``, ``cuda``, ``cpu``, ``half`` and the other in-place moves and casts are refused: the
  model's device is chosen at construction (``ks.Model(net, device=...)``) and the batches follow
  it, a precision at ``compile(precision=...)``;
- attributes may be set before ``super().__init__()`` in a subclass (torch refuses that), as Keras
  code does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.hooks import RemovableHandle

from kerasish import console
from kerasish.distributed import release_before_exit


class ModuleFace(torch.nn.Module):
    """The ``torch.nn.Module`` side of ``ks.Model``; see the module docstring."""

    module: torch.nn.Module

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        model = super().__new__(cls)
        torch.nn.Module.__init__(model)  # here, so a subclass may set attributes before __init__
        return model

    def __init__(self) -> None:  # torch.nn.Module's already ran in __new__: it would clear it
        pass

    def _hold_module(self, module: torch.nn.Module) -> None:
        """Register ``module`` as the submodule ``module`` and keep it in the instance dict too,
        so the loop's ``model.module`` is a plain attribute read, not ``Module.__getattr__``."""
        self._modules["module"] = module
        object.__setattr__(self, "module", module)

    def _hold_unregistered(self, name: str, value: Any) -> None:
        """Set an attribute torch must not register: the DDP wrapper of ``module`` would list
        every parameter twice in ``state_dict``."""
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:  # print(model): the module, and what compile chose (not torch's)
        return console.model_repr(self)

    def _hold_ddp(self, ddp: torch.nn.Module) -> None:
        """Keep the DDP wrapper of ``module`` (unregistered, see ``_hold_unregistered``), and let
        the exit handler of ``kerasish.distributed`` drop it before the process group goes."""
        object.__setattr__(self, "_ddp", ddp)
        release_before_exit(self._release_ddp)

    def _release_ddp(self) -> None:
        """Drop the DDP wrapper: training then runs the module itself (at exit, nothing runs)."""
        object.__setattr__(self, "_ddp", None)
        engine = getattr(self, "_engine", None)
        if engine is not None:
            engine.train_module = self.module

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The wrapped module's forward (``model(x)`` goes through Keras's ``__call__``)."""
        return self.module(*args, **kwargs)

    def register_forward_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                              with_kwargs: bool = False, always_call: bool = False) -> RemovableHandle:
        """Register ``hook`` on the wrapped module (what the loops run), called with this model."""
        def on_model(_module: torch.nn.Module, *rest: Any) -> Any:
            return hook(self, *rest)
        return self.module.register_forward_hook(on_model, prepend=prepend, with_kwargs=with_kwargs,
                                                 always_call=always_call)

    def register_forward_pre_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Register ``hook`` on the wrapped module (what the loops run), called with this model."""
        def on_model(_module: torch.nn.Module, *rest: Any) -> Any:
            return hook(self, *rest)
        return self.module.register_forward_pre_hook(on_model, prepend=prepend, with_kwargs=with_kwargs)

    def _apply(self, fn: Callable[..., Any], recurse: bool = True) -> Any:  # to, cuda, half, ...
        raise TypeError(
            "A ks.Model is not moved or cast after construction: its batches go to the device it "
            "was built with. Pass the device to ks.Model(net, device=...), or move the module "
            "before wrapping it; for mixed precision use compile(precision='mixed_bfloat16')."
        )
