"""Post-training int8 quantisation of the weights: a quarter of the bytes, nearly the same loss.

Each row ``w`` of a linear layer's weight (one output channel) is stored as 8-bit
integers ``q = round(w / s)`` in ``-127 .. 127`` with one float scale per row,
``s = max|w| / 127`` (symmetric, per-channel). The layer multiplies by ``q * s``, so the
error of each weight is at most ``s / 2``. Activations stay in floating point
("weight-only" quantisation, as in LLM.int8's storage of weights, Dettmers et al., 2022).

A float32 matrix of ``out x in`` weights takes ``4 * out * in`` bytes; quantised, it takes
``out * in`` bytes for ``q`` and ``4 * out`` for the scales: nearly 4 times fewer.

    >>> w = torch.tensor([[0.5, -1.0, 0.25], [2.0, 0.0, -0.1]])
    >>> q, scale = quantize_weight(w)
    >>> q.tolist()
    [[64, -127, 32], [127, 0, -6]]
    >>> bool((dequantize_weight(q, scale) - w).abs().max() <= scale.max() / 2)
    True
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "QMAX",
    "quantize_weight",
    "dequantize_weight",
    "Int8Linear",
    "quantize_int8",
    "model_bytes",
]

#: The largest magnitude of a quantised weight, so ``-127 .. 127`` (symmetric, -128 unused).
QMAX = 127


def quantize_weight(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row symmetric int8: ``(out, in)`` floats -> ``(q, scale)``.

    ``q`` is ``(out, in)`` int8 and ``scale`` ``(out,)`` float32, with
    ``weight ≈ q * scale[:, None]``; a row of zeros gets scale 1 (any scale is exact).

    Raises:
        TypeError: ``weight`` is not a floating-point tensor.
        ValueError: ``weight`` is not 2-D, or holds a non-finite value.
    """
    if not isinstance(weight, torch.Tensor) or not weight.is_floating_point():
        raise TypeError(f"weight must be a floating-point tensor, got {_describe(weight)}")
    if weight.dim() != 2:
        raise ValueError(f"weight must be 2-D (out, in), got shape {tuple(weight.shape)}")
    if not bool(torch.isfinite(weight).all()):
        raise ValueError("weight holds inf or nan: it cannot be quantised")
    w = weight.detach().float()
    largest = w.abs().amax(dim=1)  # (out,)
    scale = torch.where(largest > 0, largest / QMAX, torch.ones_like(largest))
    q = torch.round(w / scale[:, None]).clamp(-QMAX, QMAX).to(torch.int8)
    return q, scale


def dequantize_weight(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``q * scale[:, None]``: ``(out, in)`` int8 and ``(out,)`` -> ``(out, in)`` float32."""
    return q.float() * scale[:, None]


class Int8Linear(nn.Module):
    """A :class:`~torch.nn.Linear` whose weight is stored as int8 with a scale per row.

    ``(..., in_features)`` -> ``(..., out_features)``, computed in the input's dtype. The
    weight and scales are buffers (a quantised model is for inference, not training).
    """

    def __init__(self, linear: nn.Linear):
        super().__init__()
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"Int8Linear quantises an nn.Linear, got {type(linear).__name__}")
        self.in_features, self.out_features = linear.in_features, linear.out_features
        q, scale = quantize_weight(linear.weight)
        self.register_buffer("weight_int8", q.to(linear.weight.device))  # (out, in)
        self.register_buffer("scale", scale.to(linear.weight.device))  # (out,)
        bias = None if linear.bias is None else linear.bias.detach().clone()
        self.register_buffer("bias", bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., in_features)`` -> ``(..., out_features)`` with the dequantised weight."""
        weight = self.weight_int8.to(x.dtype) * self.scale.to(x.dtype)[:, None]
        return F.linear(x, weight, None if self.bias is None else self.bias.to(x.dtype))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8"


def quantize_int8(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every :class:`~torch.nn.Linear` layer an :class:`Int8Linear`.

    A linear layer whose weight is an embedding's too (the GPT's tied output layer) is
    left in floating point: the embedding needs it as it is. The original is unchanged;
    the copy is in eval mode.
    """
    quantized = copy.deepcopy(model).eval()
    tied = {id(m.weight) for m in quantized.modules() if isinstance(m, nn.Embedding)}
    names = [
        name
        for name, m in quantized.named_modules()
        if isinstance(m, nn.Linear) and id(m.weight) not in tied
    ]
    if not names:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer to quantise")
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = quantized.get_submodule(parent_name)
        setattr(parent, child, Int8Linear(getattr(parent, child)))
    return quantized


def model_bytes(model: nn.Module) -> int:
    """The bytes of ``model``'s parameters and buffers, a shared tensor counted once."""
    seen: dict[int, int] = {}
    for tensor in [*model.parameters(), *model.buffers()]:
        seen[id(tensor)] = tensor.numel() * tensor.element_size()
    return sum(seen.values())


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of dtype {value.dtype}"
    return type(value).__name__
