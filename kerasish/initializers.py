"""Keras's default initialisers and normalisation settings, applied to a torch module.

A model ported from Keras trains differently in torch for a reason that has nothing to do with
the training loop: the layers start elsewhere. torch initialises ``Linear``/``Conv`` weights with
Kaiming-uniform (a = sqrt(5)) and non-zero biases, ``Embedding`` with N(0, 1), LSTM/GRU weights
with U(-1/sqrt(h), 1/sqrt(h)), and its ``BatchNorm`` uses ``eps=1e-5`` and a running-average
``momentum=0.1``. ``keras_defaults(module)`` puts every supported layer where Keras 3 would:

=====================================  ===================================================
torch layer                            Keras 3 default it receives
=====================================  ===================================================
``Linear``, ``Conv1d/2d/3d``,          kernel ``glorot_uniform``, bias zeros
``ConvTranspose1d/2d/3d``
``Embedding``                          ``RandomUniform(-0.05, 0.05)``
``LSTM``, ``GRU``, ``RNN``             input kernels ``glorot_uniform``, recurrent kernels
                                       ``orthogonal``, biases zeros; LSTM forget-gate bias 1
                                       (``unit_forget_bias=True``)
``BatchNorm1d/2d/3d``                  ``epsilon=1e-3``, ``momentum=0.99`` (torch 0.01),
                                       gamma ones, beta zeros
``LayerNorm``, ``GroupNorm``           ``epsilon=1e-3``, gamma ones, beta zeros
=====================================  ===================================================

One difference remains: torch's ``BatchNorm`` updates its running variance with the unbiased
batch variance (``n / (n - 1)`` times Keras's), which no setting changes.
"""

from __future__ import annotations

import math

import torch

_CONVS = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d,
          torch.nn.ConvTranspose1d, torch.nn.ConvTranspose2d, torch.nn.ConvTranspose3d)
_BATCH_NORMS = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)

KERAS_NORM_EPSILON = 1e-3  # BatchNormalization, LayerNormalization, GroupNormalization
KERAS_BATCH_NORM_MOMENTUM = 0.99  # Keras's moving = momentum * moving + (1 - momentum) * batch


def glorot_uniform_(tensor: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Keras's ``glorot_uniform``: U(-limit, limit), ``limit = sqrt(6 / (fan_in + fan_out))``.

    The fans of a torch weight (``(out, in, *kernel)``, or ``(in, out, *kernel)`` for a transposed
    convolution) sum to Keras's ``(in + out) * receptive_field``, so the limit is Keras's.

    Args:
        tensor: a weight of rank >= 2, filled in place.
        generator: an optional torch generator for reproducible draws.

    Returns:
        ``tensor``.

    Example:
        glorot_uniform_(linear.weight)
    """
    if tensor.dim() < 2:
        raise ValueError(f"glorot_uniform_ needs a weight of rank >= 2; got shape {tuple(tensor.shape)}.")
    receptive = math.prod(tensor.shape[2:]) if tensor.dim() > 2 else 1
    limit = math.sqrt(6.0 / ((tensor.shape[0] + tensor.shape[1]) * receptive))
    with torch.no_grad():
        return tensor.uniform_(-limit, limit, generator=generator)


def orthogonal_(tensor: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Keras's ``Orthogonal(gain=1.0)``: a (semi-)orthogonal matrix, filled in place.

    Args:
        tensor: a weight of rank 2.
        generator: an optional torch generator for reproducible draws.

    Returns:
        ``tensor``.

    Example:
        orthogonal_(lstm.weight_hh_l0)
    """
    return torch.nn.init.orthogonal_(tensor, gain=1.0, generator=generator)


def keras_defaults(module: torch.nn.Module, generator: torch.Generator | None = None) -> torch.nn.Module:
    """Give every supported layer of ``module`` Keras 3's default initialisation and settings.

    Call it once after building the module (before training or loading weights). Layers it does
    not know keep torch's initialisation; see the module docstring for the table.

    Args:
        module: the torch module (changed in place).
        generator: an optional torch generator, for draws that do not touch the global RNG.

    Returns:
        ``module``, so it chains: ``model = ks.Model(keras_defaults(net))``.

    Example:
        from kerasish.initializers import keras_defaults
        net = keras_defaults(torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(),
                                                 torch.nn.Linear(128, 10)))
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"keras_defaults takes a torch.nn.Module; got {type(module).__name__}.")
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, (torch.nn.Linear, *_CONVS)):
                glorot_uniform_(layer.weight, generator)
                if layer.bias is not None:
                    layer.bias.zero_()
            elif isinstance(layer, torch.nn.Embedding):
                layer.weight.uniform_(-0.05, 0.05, generator=generator)
            elif isinstance(layer, torch.nn.RNNBase):
                _recurrent(layer, generator)
            elif isinstance(layer, _BATCH_NORMS):
                layer.eps = KERAS_NORM_EPSILON
                layer.momentum = 1.0 - KERAS_BATCH_NORM_MOMENTUM
                if layer.affine:
                    layer.weight.fill_(1.0)
                    layer.bias.zero_()
            elif isinstance(layer, (torch.nn.LayerNorm, torch.nn.GroupNorm)):
                layer.eps = KERAS_NORM_EPSILON
                if getattr(layer, "weight", None) is not None:
                    layer.weight.fill_(1.0)
                if getattr(layer, "bias", None) is not None:
                    layer.bias.zero_()
    return module


def _recurrent(layer: torch.nn.RNNBase, generator: torch.Generator | None) -> None:
    """LSTM/GRU/RNN: glorot input kernels, orthogonal recurrent kernels, zero biases, and for an
    LSTM a forget-gate bias of 1 (Keras's single bias is torch's ``bias_ih + bias_hh``; the forget
    gate is the second quarter in both, so ``bias_ih`` takes the 1 and ``bias_hh`` stays 0)."""
    for name, parameter in layer.named_parameters():
        if name.startswith("weight_ih"):
            glorot_uniform_(parameter, generator)
        elif name.startswith("weight_hh"):
            orthogonal_(parameter, generator)
        elif name.startswith("weight_hr"):  # LSTM projections: a dense kernel
            glorot_uniform_(parameter, generator)
        elif name.startswith("bias"):
            parameter.zero_()
            if isinstance(layer, torch.nn.LSTM) and name.startswith("bias_ih"):
                hidden = layer.hidden_size
                parameter[hidden:2 * hidden] = 1.0
