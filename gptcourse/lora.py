"""LoRA: fine-tuning a few low-rank matrices beside frozen weights (Hu et al., 2021).

Full fine-tuning changes every weight matrix ``W`` (``d_out x d_in``). LoRA freezes ``W``
and learns a change of low rank ``r``: ``W + (alpha / r) B A``, with ``A`` of shape
``(r, d_in)`` and ``B`` of shape ``(d_out, r)``, so ``r (d_in + d_out)`` parameters instead
of ``d_in d_out``. ``B`` starts at zero: before training, the adapted model *is* the
pretrained one. After training, ``B A`` can be added into ``W`` (:meth:`LoRALinear.merge`):
the model is then as fast as the original, and :meth:`LoRALinear.unmerge` takes it out
again.

    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> layer = LoRALinear(nn.Linear(16, 32), r=4, alpha=8)
    >>> x = torch.randn(2, 16)
    >>> torch.equal(layer(x), layer.base(x))   # B = 0: nothing changed yet
    True
    >>> sum(p.numel() for p in layer.parameters() if p.requires_grad)   # 4 * (16 + 32)
    192
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from gptcourse._validation import check_size

__all__ = [
    "LoRALinear",
    "apply_lora",
    "merge_lora",
    "unmerge_lora",
    "lora_parameters",
    "DEFAULT_TARGETS",
]

#: The layers LoRA adapts by default: the attention's two projections in every block.
DEFAULT_TARGETS = ("attn.qkv_proj", "attn.out_proj")


class LoRALinear(nn.Module):
    """An ``nn.Linear`` (frozen) plus a trainable low-rank change of its weight.

    ``y = base(x) + (alpha / r) * dropout(x) @ A.T @ B.T``

    Args:
        base: the linear layer to adapt; its parameters are frozen.
        r: the rank of the change.
        alpha: its scale: the change is multiplied by ``alpha / r``, so that ``r`` can vary
            without retuning the learning rate.
        dropout: dropout on the input of the low-rank path (training only).

    Attributes:
        lora_A: ``(r, in_features)``, initialised like ``nn.Linear``'s weight.
        lora_B: ``(out_features, r)``, initialised to zero.
        merged: whether the change is currently added into ``base.weight``.
    """

    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16.0, dropout: float = 0.0):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"LoRALinear adapts an nn.Linear, got {type(base).__name__}")
        check_size("r", r)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.base = base
        self.base.requires_grad_(False)
        self.r = r
        self.alpha = alpha
        self.scaling = alpha / r
        weight = base.weight
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, device=weight.device))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, device=weight.device))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.dropout = nn.Dropout(dropout)
        self.merged = False

    @property
    def weight(self) -> torch.Tensor:
        """The base layer's weight (with the change in it only when merged)."""
        return self.base.weight

    @property
    def bias(self) -> torch.Tensor | None:
        return self.base.bias

    def delta_weight(self) -> torch.Tensor:
        """The change of the weight, ``(alpha / r) B A``: ``(out_features, in_features)``."""
        return (self.lora_B @ self.lora_A) * self.scaling

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., in_features)`` -> ``(..., out_features)``."""
        y = self.base(x)
        if self.merged:
            return y
        return y + (self.dropout(x) @ self.lora_A.T @ self.lora_B.T) * self.scaling

    @torch.no_grad()
    def merge(self) -> None:
        """Add the change into ``base.weight`` (one matrix product per call, as before)."""
        if not self.merged:
            self.base.weight += self.delta_weight().to(self.base.weight.dtype)
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Take the change out of ``base.weight`` again."""
        if self.merged:
            self.base.weight -= self.delta_weight().to(self.base.weight.dtype)
            self.merged = False

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha}, merged={self.merged}"


def apply_lora(
    model: nn.Module,
    targets: Iterable[str] = DEFAULT_TARGETS,
    *,
    r: int = 8,
    alpha: float = 16.0,
    dropout: float = 0.0,
) -> list[str]:
    """Replace the linear layers of ``model`` whose names end with one of ``targets`` by
    :class:`LoRALinear` s, and freeze every other parameter of ``model``.

    Returns:
        the names of the adapted layers (e.g. ``blocks.0.attn.qkv_proj``).

    Raises:
        ValueError: no linear layer matches ``targets`` (the message lists the model's
            linear layers).
    """
    targets = tuple(targets)
    names = [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and any(name.endswith(t) for t in targets)
    ]
    if not names:
        linear = sorted(
            {n.split(".")[-1] for n, m in model.named_modules() if isinstance(m, nn.Linear)}
        )
        raise ValueError(
            f"no nn.Linear of the model matches {targets}; its linear layers are named "
            f"{', '.join(linear)}"
        )
    model.requires_grad_(False)
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(
            parent, child, LoRALinear(getattr(parent, child), r=r, alpha=alpha, dropout=dropout)
        )
    return names


def lora_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The ``lora_A`` and ``lora_B`` of every :class:`LoRALinear` in ``model``."""
    return [p for m in model.modules() if isinstance(m, LoRALinear) for p in (m.lora_A, m.lora_B)]


def merge_lora(model: nn.Module) -> nn.Module:
    """Merge every :class:`LoRALinear` of ``model`` (see :meth:`LoRALinear.merge`)."""
    for module in model.modules():
        if isinstance(module, LoRALinear):
            module.merge()
    return model


def unmerge_lora(model: nn.Module) -> nn.Module:
    """Unmerge every :class:`LoRALinear` of ``model``."""
    for module in model.modules():
        if isinstance(module, LoRALinear):
            module.unmerge()
    return model
