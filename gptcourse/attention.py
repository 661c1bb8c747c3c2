"""Attention: scaled dot-product attention, the causal mask, multi-head self-attention.

Every query position ``i`` mixes the value vectors of the key positions ``j`` that it may
attend to, with weights given by a softmax over its scaled dot products with their keys::

    weights = softmax(q @ k.T / sqrt(d_k))   # (T_q, T_k), each row sums to 1
    output  = weights @ v                    # (T_q, d_v)

:func:`scaled_dot_product_attention` computes exactly that (and returns the weights);
:class:`MultiHeadAttention` runs ``n_head`` of them side by side in subspaces of the
model's width, and :class:`CausalSelfAttention` is its causal case, the attention of a
GPT. It returns its output only; :meth:`MultiHeadAttention.attention_weights` gives the
weights, for pictures. Masks are boolean and follow one convention throughout: ``True``
means "may attend".

For generation, a :class:`KVCache` keeps the keys and values of the positions already
seen, so that each new token computes its own query, key and value only:

    >>> x = torch.randn(2, 5, 16)                       # (B, T, n_embd)
    >>> attn = CausalSelfAttention(n_embd=16, n_head=4)
    >>> tuple(attn(x).shape)                            # (B, T, n_embd)
    (2, 5, 16)
    >>> tuple(attn.attention_weights(x).shape)          # (B, H, T, T)
    (2, 4, 5, 5)
    >>> cache = KVCache(batch_size=2, n_head=4, head_dim=4, capacity=5)
    >>> first, last = attn(x[:, :4], cache=cache), attn(x[:, 4:], cache=cache)
    >>> torch.allclose(last, attn(x)[:, 4:], atol=1e-6)
    True
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gptcourse._validation import check_size, check_tensor
from gptcourse.positions import RotaryEmbedding

__all__ = [
    "causal_mask",
    "scaled_dot_product_attention",
    "KVCache",
    "MultiHeadAttention",
    "CausalSelfAttention",
]


def causal_mask(
    T_q: int, T_k: int | None = None, device: torch.device | str | None = None
) -> torch.Tensor:
    """The mask of a language model: a query may attend to its own and earlier positions.

    With ``T_k`` keys and ``T_q <= T_k`` queries, the queries are the *last* ``T_q``
    positions (the new tokens after ``T_k - T_q`` cached ones): query ``i`` sits at
    position ``T_k - T_q + i`` and may attend to keys ``j <= T_k - T_q + i``.

    Returns:
        a ``(T_q, T_k)`` bool tensor; ``T_k = T_q`` by default, the lower triangle::

            >>> causal_mask(3)
            tensor([[ True, False, False],
                    [ True,  True, False],
                    [ True,  True,  True]])
            >>> causal_mask(2, 4)  # two new queries after two cached positions
            tensor([[ True,  True,  True, False],
                    [ True,  True,  True,  True]])
    """
    check_size("T_q", T_q)
    T_k = T_q if T_k is None else check_size("T_k", T_k)
    if T_q > T_k:
        raise ValueError(
            f"T_q={T_q} queries cannot be the last positions of T_k={T_k} keys: "
            "a causal mask needs T_q <= T_k"
        )
    return torch.ones(T_q, T_k, dtype=torch.bool, device=device).tril(diagonal=T_k - T_q)


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
        causal: also apply :func:`causal_mask`, aligned to the end (the queries are the
            last ``T_q`` of the ``T_k`` positions).
        scale: the factor of the dot products; ``1 / sqrt(d_k)`` by default.

    Returns:
        ``(output, weights)``: ``output`` of shape ``(..., T_q, d_v)`` and ``weights`` of
        shape ``(..., T_q, T_k)``, whose rows sum to 1 over the keys a query may attend
        to (a query that may attend to no key gets weights and output 0, as in
        :func:`torch.nn.functional.scaled_dot_product_attention`).

    Raises:
        TypeError: an argument is not a tensor (a list, a NumPy array).
        ValueError: shapes that do not fit together, or a mask that is not bool or
            does not broadcast to ``(..., T_q, T_k)``; the message names the shapes.
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        check_tensor(name, t)
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


def _check_mask(mask: torch.Tensor, scores_shape: torch.Size | tuple[int, ...]) -> None:
    """Raise a clear error unless ``mask`` is bool and broadcasts to ``scores_shape``."""
    scores_shape = torch.Size(scores_shape)
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
        allowed = causal_mask(scores_shape[-2], scores_shape[-1], device=device)
        mask = allowed if mask is None else mask & allowed
    return mask


class KVCache:
    """The keys and values that one attention layer has computed for the positions so far.

    Generating token ``t + 1`` needs the keys and values of positions ``0 .. t``; they do
    not change once computed (a position attends only to earlier ones), so each step
    computes those of the new token only and appends them here. The tensors are allocated
    once, for ``capacity`` positions, and each step writes into them in place.

    Args:
        batch_size, n_head, head_dim: ``B``, ``H`` and ``D`` of the keys and values.
        capacity: the most positions it holds (prompt plus generated tokens).
        device, dtype: those of the model's activations.

    Attributes:
        k, v: ``(B, H, capacity, D)``; positions ``0 .. length - 1`` are filled.
        length: how many positions are filled.
    """

    def __init__(
        self,
        batch_size: int,
        n_head: int,
        head_dim: int,
        capacity: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ):
        for name, value in (
            ("batch_size", batch_size),
            ("n_head", n_head),
            ("head_dim", head_dim),
            ("capacity", capacity),
        ):
            check_size(name, value)
        shape = (batch_size, n_head, capacity, head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.length = 0

    @property
    def capacity(self) -> int:
        return self.k.shape[2]

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store the keys and values of ``T`` new positions, ``(B, H, T, D)`` each.

        Returns:
            the keys and values of every position so far, ``(B, H, length, D)`` each
            (views of the cache, ``length`` counting the new positions).
        """
        B, H, cap, D = self.k.shape
        if k.shape[0] != B or k.shape[1] != H or k.shape[3] != D or v.shape != k.shape:
            raise ValueError(
                f"this cache holds keys and values of shape (B={B}, H={H}, T, D={D}), got "
                f"keys {tuple(k.shape)} and values {tuple(v.shape)}"
            )
        start, end = self.length, self.length + k.shape[2]
        if end > cap:
            raise ValueError(
                f"the cache has room for {cap} positions; {start} are filled and "
                f"{k.shape[2]} more do not fit"
            )
        self.k[:, :, start:end] = k
        self.v[:, :, start:end] = v
        self.length = end
        return self.k[:, :, :end], self.v[:, :, :end]

    def reset(self) -> None:
        """Forget every position (the memory is kept for the next sequence)."""
        self.length = 0

    def __repr__(self) -> str:
        B, H, cap, D = self.k.shape
        return f"KVCache(B={B}, H={H}, D={D}, length={self.length}, capacity={cap})"


class MultiHeadAttention(nn.Module):
    """Multi-head self-attention over a sequence of ``n_embd``-wide vectors.

    The input is projected to queries, keys and values of width ``n_embd`` (one
    ``Linear`` for the three, like GPT-2 and :class:`torch.nn.MultiheadAttention`), each
    is split into ``n_head`` heads of width ``head_dim = n_embd // n_head``, every
    head attends on its own, and the heads' outputs are concatenated and projected back
    to ``n_embd``.

    Args:
        n_embd: the width of the input and output vectors, ``C``.
        n_head: the number of heads, ``H``; must divide ``n_embd``.
        causal: let each position attend only to itself and earlier positions.
        bias: whether the two projections have biases.
        dropout: dropout probability, at two places (used only in training mode): on
            the attention weights and on the output.
        rotary: a :class:`~gptcourse.positions.RotaryEmbedding` of width ``head_dim``
            to rotate the queries and keys by their positions (RoPE), or ``None``.

    Attributes:
        qkv_proj: ``Linear(n_embd, 3 * n_embd)``; its weight rows are the query,
            key and value projections, in that order.
        out_proj: ``Linear(n_embd, n_embd)``, applied to the concatenated heads.
        attn_dropout: the dropout probability of the attention weights (applied inside
            PyTorch's fused attention).
        out_dropout: the ``nn.Dropout`` of the output.
    """

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        causal: bool = False,
        bias: bool = True,
        dropout: float = 0.0,
        rotary: RotaryEmbedding | None = None,
    ):
        super().__init__()
        check_size("n_embd", n_embd)
        check_size("n_head", n_head)
        if n_embd % n_head != 0:
            raise ValueError(
                f"n_embd={n_embd} is not divisible by n_head={n_head}: each head needs "
                f"n_embd / n_head dimensions (try n_head in {_divisors(n_embd)})"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.n_embd = n_embd
        self.n_head = n_head
        self.head_dim = n_embd // n_head
        self.causal = causal
        if rotary is not None and rotary.head_dim != self.head_dim:
            raise ValueError(
                f"rotary has head_dim={rotary.head_dim}, but the heads of n_embd={n_embd} "
                f"with n_head={n_head} are {self.head_dim} wide"
            )
        self.rotary = rotary
        self.qkv_proj = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.out_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.attn_dropout = dropout
        self.out_dropout = nn.Dropout(dropout)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, C)`` -> ``(B, H, T, C / H)``: one sequence per head."""
        B, T, C = x.shape
        return x.view(B, T, self.n_head, self.head_dim).transpose(1, 2)

    @staticmethod
    def merge_heads(x: torch.Tensor) -> torch.Tensor:
        """``(B, H, T, D)`` -> ``(B, T, H * D)``: the heads side by side again."""
        B, H, T, D = x.shape
        return x.transpose(1, 2).reshape(B, T, H * D)

    def qkv(
        self,
        x: torch.Tensor,
        positions: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The heads' queries ``(B, H, T, D)``, and keys and values ``(B, H, T_k, D)``.

        The queries and keys are rotated by their positions when the module has a
        ``rotary`` embedding (positions ``start .. start + T - 1`` by default, ``start``
        being the cache's length). With a ``cache``, the new keys and values are appended
        to it and those of every position so far are returned (``T_k = cache.length``).
        """
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[-1] != self.n_embd:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"expected input of shape (B, T, n_embd={self.n_embd}), got {got}")
        B, T, C = x.shape
        q, k, v = self.qkv_proj(x).split(C, dim=-1)  # 3 x (B, T, C)
        q, k, v = self.split_heads(q), self.split_heads(k), self.split_heads(v)  # (B, H, T, D)
        if self.rotary is not None:
            if positions is None:
                start = 0 if cache is None else cache.length
                positions = torch.arange(start, start + T, device=x.device)
            q, k = self.rotary(q, positions), self.rotary(k, positions)
        if cache is not None:
            k, v = cache.append(k, v)  # (B, H, T_k, D): the cached positions and the new
        return q, k, v

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        *,
        positions: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        """Attend over the sequence ``x`` (and the cached positions, with a ``cache``).

        Args:
            x: ``(B, T, n_embd)``: the new positions.
            mask: optional bool tensor broadcastable to ``(B, H, T, T_k)``, ``True`` = may
                attend (e.g. ``(B, 1, 1, T_k)`` to hide padding); combined with the causal
                mask when the module is causal. ``T_k`` is ``T`` plus the cached positions.
            positions: the integer positions of the ``T`` new tokens for the rotary
                embedding, ``(T,)`` or ``(B, T)``; ignored without one.
            cache: the layer's :class:`KVCache`; the new keys and values are appended.

        Returns:
            ``y`` of shape ``(B, T, n_embd)``.

        The heads run in :func:`torch.nn.functional.scaled_dot_product_attention`,
        PyTorch's fused kernel, which computes what :func:`scaled_dot_product_attention`
        computes without storing the weights (the chapters and tests prove they agree).
        """
        q, k, v = self.qkv(x, positions, cache)
        B, H, T_q, _ = q.shape
        T_k = k.shape[-2]
        if mask is not None:
            _check_mask(mask, (B, H, T_q, T_k))
        is_causal = False
        if self.causal and T_q > 1:  # a single query is the last position: it sees all keys
            if mask is None and T_q == T_k:
                is_causal = True  # the kernel's own mask, aligned to the start
            else:  # aligned to the end: the queries are the last T_q positions
                allowed = causal_mask(T_q, T_k, device=x.device)
                mask = allowed if mask is None else mask & allowed
        out = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            dropout_p=self.attn_dropout if self.training else 0.0,
            is_causal=is_causal,
        )  # (B, H, T, D)
        return self.out_dropout(self.out_proj(self.merge_heads(out)))  # (B, T, C)

    def attention_weights(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        *,
        positions: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The attention weights of every head on ``x``, for pictures and analyses.

        Args:
            x, mask, positions: as in :meth:`forward` (no cache).

        Returns:
            ``(B, H, T, T)``: row ``i`` of head ``h`` is the distribution of query ``i``
            over the keys. Taken before dropout, so that each row sums to 1 in training
            mode too.
        """
        q, k, v = self.qkv(x, positions)
        _, weights = scaled_dot_product_attention(q, k, v, mask=mask, causal=self.causal)
        return weights

    def extra_repr(self) -> str:
        return (
            f"n_embd={self.n_embd}, n_head={self.n_head}, causal={self.causal}, "
            f"attn_dropout={self.attn_dropout}"
        )


class CausalSelfAttention(MultiHeadAttention):
    """The attention of a GPT: :class:`MultiHeadAttention` with ``causal=True``."""

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        bias: bool = True,
        dropout: float = 0.0,
        rotary: RotaryEmbedding | None = None,
    ):
        super().__init__(n_embd, n_head, causal=True, bias=bias, dropout=dropout, rotary=rotary)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]
