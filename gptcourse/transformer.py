"""The Transformer block of a GPT: attention and an MLP, each in a residual branch.

A GPT is a stack of identical blocks. Each one lets the positions exchange information
(causal self-attention) and then transforms every position on its own (a two-layer MLP),
and adds each result back to its input, the *residual stream*::

    x = x + attn(ln_1(x))   # pre-LN, GPT-2: normalise the input of each branch
    x = x + mlp(ln_2(x))

The original Transformer normalised after the addition instead (post-LN,
``norm_first=False``): ``x = ln_1(x + attn(x))``, ``x = ln_2(x + mlp(x))``.

    >>> block = Block(n_embd=16, n_head=4)
    >>> tuple(block(torch.randn(2, 5, 16)).shape)   # (B, T, C) -> (B, T, C)
    (2, 5, 16)
"""

from __future__ import annotations

import torch
from torch import nn

from gptcourse.attention import CausalSelfAttention, KVCache
from gptcourse.positions import RotaryEmbedding

__all__ = ["MLP", "Block"]


class MLP(nn.Module):
    """The position-wise feed-forward network: ``C -> 4C -> C`` with a GELU between.

    GPT-2 uses the tanh approximation of the GELU,
    ``0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))`` (``nn.GELU(approximate="tanh")``).

    Args:
        n_embd: the width ``C`` of the residual stream.
        hidden: the width of the hidden layer, ``4 C`` by default.
        bias: whether the two linear layers have biases.
        dropout: dropout probability on the output (training mode only).
    """

    def __init__(
        self, n_embd: int, hidden: int | None = None, bias: bool = True, dropout: float = 0.0
    ):
        super().__init__()
        hidden = 4 * n_embd if hidden is None else hidden
        self.c_fc = nn.Linear(n_embd, hidden, bias=bias)  # (C) -> (4C)
        self.gelu = nn.GELU(approximate="tanh")
        self.c_proj = nn.Linear(hidden, n_embd, bias=bias)  # (4C) -> (C)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, C)`` -> ``(B, T, C)``, each position on its own."""
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """One Transformer block: causal self-attention, then an MLP, with residual connections.

    Args:
        n_embd: the width ``C`` of the residual stream.
        n_head: the number of attention heads; must divide ``n_embd``.
        dropout: dropout probability of the attention weights and of both branches'
            outputs (training mode only).
        bias: whether the linear layers and layer norms have biases.
        norm_first: pre-LN as GPT-2 (``True``) or post-LN as the original Transformer.
        rotary: a :class:`~gptcourse.positions.RotaryEmbedding` for the attention, or
            ``None`` (GPT-2 adds learned positions to the input instead).
        layer_norm_eps: the ``eps`` of both layer norms (GPT-2: 1e-5).
    """

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        *,
        dropout: float = 0.0,
        bias: bool = True,
        norm_first: bool = True,
        rotary: RotaryEmbedding | None = None,
        layer_norm_eps: float = 1e-5,
    ):
        super().__init__()
        self.norm_first = norm_first
        self.ln_1 = nn.LayerNorm(n_embd, eps=layer_norm_eps, bias=bias)
        self.attn = CausalSelfAttention(n_embd, n_head, bias=bias, dropout=dropout, rotary=rotary)
        self.ln_2 = nn.LayerNorm(n_embd, eps=layer_norm_eps, bias=bias)
        self.mlp = MLP(n_embd, bias=bias, dropout=dropout)

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        *,
        positions: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        """``(B, T, C)`` -> ``(B, T, C)``; ``mask``, ``positions`` and ``cache`` go to the
        attention (see :meth:`~gptcourse.attention.MultiHeadAttention.forward`)."""
        if self.norm_first:
            x = x + self.attn(self.ln_1(x), mask, positions=positions, cache=cache)
            return x + self.mlp(self.ln_2(x))
        x = self.ln_1(x + self.attn(x, mask, positions=positions, cache=cache))
        return self.ln_2(x + self.mlp(x))

    def extra_repr(self) -> str:
        return f"norm_first={self.norm_first}"
