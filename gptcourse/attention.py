"""Attention: scaled dot-product attention, the causal mask, multi-head self-attention.

Every query position ``i`` mixes the value vectors of the key positions ``j`` that it may
attend to, with weights given by a softmax over its scaled dot products with their keys::

    weights = softmax(q @ k.T / sqrt(d_k))   # (T_q, T_k), each row sums to 1
    output  = weights @ v                    # (T_q, d_v)

:func:`scaled_dot_product_attention` computes exactly that (and returns the weights);
:class:`MultiHeadAttention` runs ``n_heads`` of them side by side in subspaces of the
model's width, and :class:`CausalSelfAttention` is its causal case, the attention of a
GPT. Masks are boolean and follow one convention throughout: ``True`` means "may attend".

    >>> x = torch.randn(2, 5, 16)                       # (B, T, d_model)
    >>> attn = CausalSelfAttention(d_model=16, n_heads=4)
    >>> y, w = attn(x, return_weights=True)
    >>> tuple(y.shape), tuple(w.shape)                  # (B, T, d_model), (B, H, T, T)
    ((2, 5, 16), (2, 4, 5, 5))
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "causal_mask",
    "scaled_dot_product_attention",
    "MultiHeadAttention",
    "CausalSelfAttention",
]


def causal_mask(T: int, device: torch.device | str | None = None) -> torch.Tensor:
    """The mask of a language model: query ``i`` may attend to keys ``j <= i``.

    Returns:
        a ``(T, T)`` bool tensor, ``True`` on and below the diagonal::

            >>> causal_mask(3)
            tensor([[ True, False, False],
                    [ True,  True, False],
                    [ True,  True,  True]])
    """
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise ValueError(f"the sequence length T must be a positive int, got {T!r}")
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    causal: bool = False,
    scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention of the queries ``q`` over the keys ``k`` and values ``v``.

    Args:
        q: queries, ``(..., T_q, d_k)``.
        k: keys, ``(..., T_k, d_k)``.
        v: values, ``(..., T_k, d_v)``.
        mask: optional bool tensor broadcastable to ``(..., T_q, T_k)``; ``True`` where
            a query may attend to a key.
        causal: also apply :func:`causal_mask` (needs ``T_q == T_k``).
        scale: the factor of the dot products; ``1 / sqrt(d_k)`` by default.

    Returns:
        ``(output, weights)``: ``output`` of shape ``(..., T_q, d_v)`` and ``weights`` of
        shape ``(..., T_q, T_k)``, whose rows sum to 1 over the keys a query may attend
        to (a query that may attend to no key gets weights and output 0, as in
        :func:`torch.nn.functional.scaled_dot_product_attention`).

    Raises:
        ValueError: shapes that do not fit together, or a mask that is not bool or
            does not broadcast to ``(..., T_q, T_k)``; the message names the shapes.
    """
    if q.dim() < 2 or k.dim() < 2 or v.dim() < 2:
        raise ValueError(
            f"q, k and v need at least 2 dimensions (..., T, d), got shapes "
            f"{tuple(q.shape)}, {tuple(k.shape)} and {tuple(v.shape)}"
        )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"queries and keys must have the same size d_k: q has {q.shape[-1]} "
            f"(shape {tuple(q.shape)}), k has {k.shape[-1]} (shape {tuple(k.shape)})"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"keys and values must have the same length T_k: k has {k.shape[-2]} "
            f"(shape {tuple(k.shape)}), v has {v.shape[-2]} (shape {tuple(v.shape)})"
        )
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * scale  # (..., T_q, T_k)
    allowed = _combine_masks(mask, causal, scores.shape, q.device)
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    weights = torch.softmax(scores, dim=-1)  # (..., T_q, T_k)
    if allowed is not None:
        # A row with no allowed key is all -inf and softmax gives NaN there: make it 0.
        weights = weights.masked_fill(~allowed, 0.0)
    return weights @ v, weights  # (..., T_q, d_v), (..., T_q, T_k)


def _check_mask(mask: torch.Tensor, scores_shape: torch.Size) -> None:
    """Raise a clear error unless ``mask`` is bool and broadcasts to ``scores_shape``."""
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        what = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(
            f"mask must be a bool tensor (True = may attend), got {what}; for a 0/1 "
            "float mask use mask.bool(), for an additive mask use mask == 0"
        )
    try:
        shape = torch.broadcast_shapes(mask.shape, scores_shape)
    except RuntimeError:
        shape = None
    if shape != scores_shape:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to the attention "
            f"scores' shape {tuple(scores_shape)} (..., T_q={scores_shape[-2]}, "
            f"T_k={scores_shape[-1]})"
        )


def _combine_masks(
    mask: torch.Tensor | None, causal: bool, scores_shape: torch.Size, device: torch.device
) -> torch.Tensor | None:
    """The bool mask of allowed (query, key) pairs, or None when every pair is allowed."""
    if mask is not None:
        _check_mask(mask, scores_shape)
    if causal:
        T_q, T_k = scores_shape[-2], scores_shape[-1]
        if T_q != T_k:
            raise ValueError(
                f"causal=True needs as many queries as keys, got T_q={T_q} and T_k={T_k}; "
                "pass an explicit mask instead"
            )
        allowed = causal_mask(T_q, device=device)
        mask = allowed if mask is None else mask & allowed
    return mask


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention over a sequence of ``d_model``-wide vectors.

    The input is projected to queries, keys and values of width ``d_model`` (one
    ``Linear`` for the three, like GPT-2 and :class:`torch.nn.MultiheadAttention`), each
    is split into ``n_heads`` heads of width ``head_dim = d_model // n_heads``, every
    head attends on its own, and the heads' outputs are concatenated and projected back
    to ``d_model``.

    Args:
        d_model: the width of the input and output vectors, ``C``.
        n_heads: the number of heads, ``H``; must divide ``d_model``.
        causal: let each position attend only to itself and earlier positions.
        bias: whether the two projections have biases.
        dropout: dropout probability on the attention weights and on the output
            (used only in training mode).

    Attributes:
        qkv_proj: ``Linear(d_model, 3 * d_model)``; its weight rows are the query,
            key and value projections, in that order.
        out_proj: ``Linear(d_model, d_model)``, applied to the concatenated heads.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        causal: bool = False,
        bias: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__()
        if d_model < 1 or n_heads < 1:
            raise ValueError(f"d_model and n_heads must be positive, got {d_model} and {n_heads}")
        if d_model % n_heads != 0:
            raise ValueError(
                f"d_model={d_model} is not divisible by n_heads={n_heads}: each head needs "
                f"d_model / n_heads dimensions (try n_heads in {_divisors(d_model)})"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.d_model = d_model
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.causal = causal
        self.dropout = dropout
        self.qkv_proj = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.attn_dropout = nn.Dropout(dropout)
        self.out_dropout = nn.Dropout(dropout)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, C)`` -> ``(B, H, T, C / H)``: one sequence per head."""
        B, T, C = x.shape
        return x.view(B, T, self.n_heads, self.head_dim).transpose(1, 2)

    @staticmethod
    def merge_heads(x: torch.Tensor) -> torch.Tensor:
        """``(B, H, T, D)`` -> ``(B, T, H * D)``: the heads side by side again."""
        B, H, T, D = x.shape
        return x.transpose(1, 2).reshape(B, T, H * D)

    def forward(
        self,
        x: torch.Tensor,
        return_weights: bool = False,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Attend over the sequence ``x``.

        Args:
            x: ``(B, T, d_model)``.
            return_weights: also return the attention weights of every head.
            mask: optional bool tensor broadcastable to ``(B, H, T, T)``, ``True`` =
                may attend (e.g. ``(B, 1, 1, T)`` to hide padding); combined with the
                causal mask when the module is causal.

        Returns:
            ``y`` of shape ``(B, T, d_model)``; with ``return_weights``, ``(y, weights)``
            with ``weights`` of shape ``(B, H, T, T)`` (before dropout, so that each row
            sums to 1).

        Without ``return_weights`` the heads run in
        :func:`torch.nn.functional.scaled_dot_product_attention`, PyTorch's fused
        kernel, which computes the same thing without storing the weights.
        """
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(
                f"expected input of shape (B, T, d_model={self.d_model}), got {tuple(x.shape)}"
            )
        B, T, C = x.shape
        q, k, v = self.qkv_proj(x).split(C, dim=-1)  # 3 x (B, T, C)
        q, k, v = self.split_heads(q), self.split_heads(k), self.split_heads(v)  # (B, H, T, D)
        if return_weights:
            out, weights = scaled_dot_product_attention(q, k, v, mask=mask, causal=self.causal)
            out = self.attn_dropout(weights) @ v if self.training and self.dropout else out
        else:
            # The same computation in PyTorch's fused kernel (the chapters prove they agree).
            if mask is not None:
                _check_mask(mask, torch.Size((B, self.n_heads, T, T)))
                if self.causal:
                    mask = mask & causal_mask(T, device=x.device)
            out = F.scaled_dot_product_attention(
                q,
                k,
                v,
                attn_mask=mask,
                dropout_p=self.dropout if self.training else 0.0,
                is_causal=self.causal and mask is None,
            )  # (B, H, T, D)
        y = self.out_dropout(self.out_proj(self.merge_heads(out)))  # (B, T, C)
        return (y, weights) if return_weights else y

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, n_heads={self.n_heads}, causal={self.causal}"


class CausalSelfAttention(MultiHeadAttention):
    """The attention of a GPT: :class:`MultiHeadAttention` with ``causal=True``."""

    def __init__(self, d_model: int, n_heads: int, bias: bool = True, dropout: float = 0.0):
        super().__init__(d_model, n_heads, causal=True, bias=bias, dropout=dropout)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]
