"""Positional encodings: telling a Transformer where each token is.

Self-attention treats its input as a set: permute the tokens and the outputs are
permuted the same way. Three ways of giving it the order, as in chapter 6:

- **sinusoidal** (the original Transformer): a fixed vector per position, added to the
  token embeddings, with ``PE[p, 2i] = sin(p * w_i)`` and ``PE[p, 2i + 1] = cos(p * w_i)``
  where ``w_i = base ** (-2i / n_embd)``. :func:`sinusoidal_encoding` builds the table and
  :class:`SinusoidalPositionalEncoding` adds it.
- **learned** (GPT-2): a trained ``(block_size, n_embd)`` table, added to the token
  embeddings: :class:`LearnedPositionalEmbedding`.
- **rotary** (RoPE; Llama and most recent models): inside attention, each pair of query
  and key dimensions is rotated by an angle proportional to the position, so that
  query-key scores depend only on the offset between positions: :class:`RotaryEmbedding`.

Pairing convention: both the sinusoidal table and the rotary embedding pair dimension
``2i`` with ``2i + 1`` (interleaved), as in the papers that introduced them. Hugging Face
``transformers`` pairs dimension ``i`` with ``i + d/2`` instead (``rotate_half``); the two
conventions differ by a fixed permutation of the dimensions, which leaves every
query-key score unchanged.

    >>> pe = sinusoidal_encoding(block_size=4, n_embd=6)
    >>> pe.shape
    torch.Size([4, 6])
    >>> pe[0].tolist()  # position 0: sin(0) = 0 and cos(0) = 1
    [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
"""

from __future__ import annotations

import torch
from torch import nn

from gptcourse._validation import check_size, values_are_checkable

__all__ = [
    "frequencies",
    "sinusoidal_encoding",
    "sinusoidal_shift_matrix",
    "rotate_pairs",
    "SinusoidalPositionalEncoding",
    "LearnedPositionalEmbedding",
    "RotaryEmbedding",
]


def _check_positive(**sizes: int) -> None:
    for name, value in sizes.items():
        check_size(name, value)


def _check_even(name: str, value: int) -> None:
    _check_positive(**{name: value})
    if value % 2:
        raise ValueError(
            f"{name}={value} is odd: positions are encoded in pairs of dimensions "
            f"(2i, 2i + 1), so {name} must be even"
        )


def _check_base(base: float) -> None:
    if not base > 1:
        raise ValueError(
            f"base must be greater than 1, got {base} (the wavelengths are its powers)"
        )


def _check_length(T: int, block_size: int, what: str, hint: str) -> None:
    if T > block_size:
        raise ValueError(
            f"a sequence of T={T} positions is longer than block_size={block_size}: {what} "
            f"has no position {block_size} or beyond (positions 0 .. {block_size - 1}); {hint}"
        )


def _check_last_dim(x: torch.Tensor, expected: int, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"x must be a torch.Tensor of shape (..., T, {name}={expected}), got {type(x).__name__}"
        )
    if x.dim() < 2 or x.shape[-1] != expected:
        raise ValueError(
            f"expected x of shape (..., T, {name}={expected}), got shape {tuple(x.shape)}"
        )


def _check_floating(x: torch.Tensor) -> None:
    if not x.is_floating_point():
        raise TypeError(
            f"x must hold floating-point vectors (token embeddings), got dtype {x.dtype}: "
            "positions are added to embeddings, not to token ids (embed the ids first, "
            "e.g. with nn.Embedding)"
        )


def frequencies(
    n_embd: int,
    base: float = 10000.0,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The angular frequencies ``w_i = base ** (-2i / n_embd)``, shape ``(n_embd // 2,)``.

    Pair ``i`` of dimensions turns by ``w_i`` radians per position: its wavelength
    ``2 pi / w_i`` grows geometrically from ``2 pi`` (``i = 0``) towards ``base * 2 pi``.
    """
    _check_even("n_embd", n_embd)
    _check_base(base)
    two_i = torch.arange(0, n_embd, 2, dtype=torch.float64, device=device)
    return (float(base) ** (-two_i / n_embd)).to(dtype)


def sinusoidal_encoding(
    block_size: int,
    n_embd: int,
    base: float = 10000.0,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The sinusoidal positions of *Attention Is All You Need*, ``(block_size, n_embd)``.

    ``PE[p, 2i] = sin(p / base ** (2i / n_embd))`` and
    ``PE[p, 2i + 1] = cos(p / base ** (2i / n_embd))``, for positions ``p = 0 .. block_size - 1``.
    Computed in float64, then cast to ``dtype``.

    Raises:
        ValueError: ``n_embd`` is odd or a size is not a positive integer.
    """
    _check_positive(block_size=block_size)
    w = frequencies(n_embd, base, dtype=torch.float64, device=device)  # (n_embd/2,)
    angles = torch.arange(block_size, dtype=torch.float64, device=device)[:, None] * w  # (T, d/2)
    pe = torch.stack((angles.sin(), angles.cos()), dim=-1)  # (T, d/2, 2): (sin, cos) pairs
    return pe.flatten(-2).to(dtype)  # (T, n_embd), interleaved sin, cos, sin, cos, ...


def sinusoidal_shift_matrix(
    k: int, n_embd: int, base: float = 10000.0, *, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """The matrix ``M_k`` of shape ``(n_embd, n_embd)`` with ``PE[p + k] = M_k @ PE[p]``, all p.

    It is block-diagonal: pair ``i`` is multiplied by
    ``[[cos(k w_i), sin(k w_i)], [-sin(k w_i), cos(k w_i)]]``, a rotation that depends
    on the offset ``k`` only (``k`` may be negative).
    """
    w = frequencies(n_embd, base, dtype=torch.float64)
    c, s = torch.cos(k * w), torch.sin(k * w)
    M = torch.zeros(n_embd, n_embd, dtype=torch.float64)
    i = torch.arange(0, n_embd, 2)
    M[i, i], M[i, i + 1] = c, s  # new sin = sin * cos(kw) + cos * sin(kw)
    M[i + 1, i], M[i + 1, i + 1] = -s, c  # new cos = cos * cos(kw) - sin * sin(kw)
    return M.to(dtype)


def rotate_pairs(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate each pair of dimensions ``(2i, 2i + 1)`` of ``x`` by ``angles[..., i]``.

    Args:
        x: shape ``(..., D)`` with ``D`` even.
        angles: radians, broadcastable to ``(..., D // 2)``.

    Returns:
        shape ``(..., D)``: pair ``(a, b)`` becomes
        ``(a cos t - b sin t, a sin t + b cos t)``, a counter-clockwise rotation by ``t``.
    """
    if x.shape[-1] % 2:
        raise ValueError(f"x has an odd last dimension, {x.shape[-1]}; pairs need it even")
    a, b = x[..., 0::2], x[..., 1::2]  # (..., D/2) each
    cos, sin = angles.cos(), angles.sin()
    rotated = torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1)  # (..., D/2, 2)
    return rotated.flatten(-2)


class SinusoidalPositionalEncoding(nn.Module):
    """Adds the fixed sinusoidal table to its input: ``forward(x) = x + PE[:T]``.

    Args:
        block_size: the longest sequence it accepts (the formula works for any position;
            this only sizes the stored table).
        n_embd: the embedding width, even.
        base: 10000 in the original Transformer.
    """

    pe: torch.Tensor

    def __init__(self, block_size: int, n_embd: int, base: float = 10000.0):
        super().__init__()
        self.block_size, self.n_embd = block_size, n_embd
        # A buffer: moves with .to(device) but is not trained and not saved.
        self.register_buffer("pe", sinusoidal_encoding(block_size, n_embd, base), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, T, n_embd)`` (or ``(T, n_embd)``) -> ``x + PE[:T]``, same shape."""
        _check_last_dim(x, self.n_embd, "n_embd")
        _check_floating(x)
        T = x.shape[-2]
        _check_length(T, self.block_size, "the stored table", "build it with a larger block_size")
        return x + self.pe[:T].to(x.dtype)

    def extra_repr(self) -> str:
        return f"block_size={self.block_size}, n_embd={self.n_embd}"


class LearnedPositionalEmbedding(nn.Module):
    """GPT-2's positions: a trained table of ``block_size`` vectors, added to the input.

    ``forward(x) = x + table[0 .. T - 1]``. The table is an ``nn.Embedding`` (GPT-2's
    ``wpe``: 1024 rows of 768) initialised like GPT-2's, normal with std 0.02. A position
    that was never seen in training keeps its random initial row, and a position at or
    beyond ``block_size`` has no row at all.
    """

    def __init__(self, block_size: int, n_embd: int):
        super().__init__()
        _check_positive(block_size=block_size, n_embd=n_embd)
        self.block_size, self.n_embd = block_size, n_embd
        self.table = nn.Embedding(block_size, n_embd)  # weight: (block_size, n_embd)
        nn.init.normal_(self.table.weight, mean=0.0, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, T, n_embd)`` (or ``(T, n_embd)``) -> ``x + table[:T]``, same shape."""
        _check_last_dim(x, self.n_embd, "n_embd")
        _check_floating(x)
        T = x.shape[-2]
        _check_length(
            T,
            self.block_size,
            "a learned table",
            "a model with learned positions cannot read longer sequences",
        )
        positions = torch.arange(T, device=x.device)  # (T,)
        return x + self.table(positions)  # (T, n_embd) broadcasts over the batch

    def extra_repr(self) -> str:
        return f"block_size={self.block_size}, n_embd={self.n_embd}"


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (RoPE, Su et al. 2021), applied to queries and keys.

    The vector at position ``m`` has each pair of dimensions ``(2i, 2i + 1)`` rotated by
    the angle ``m * w_i``, with ``w_i = base ** (-2i / head_dim)``. Rotations preserve
    norms, and ``rope(q, m) . rope(k, n)`` depends on ``m - n`` only, so attention scores
    see relative positions. Interleaved pairs; ``transformers`` uses halves
    (``rotate_half``): permute the dimensions to go from one to the other. Give it to
    :class:`~gptcourse.attention.MultiHeadAttention` (its ``rotary`` argument) to rotate
    every head's queries and keys.

    Args:
        head_dim: the width of one attention head's queries and keys, even.
        block_size: the number of positions it accepts, ``0 .. block_size - 1``.
        base: 10000 in RoFormer and Llama 2.

    The tables of ``cos(m w_i)`` and ``sin(m w_i)`` are computed once, in float64, and
    stored in float32 (``cos`` and ``sin``, ``(block_size, head_dim // 2)``); inputs in
    half precision are rotated in float32 and cast back. A float64 input, the course's
    dtype for checking formulas, is rotated with angles computed in float64.
    """

    cos: torch.Tensor
    sin: torch.Tensor

    def __init__(self, head_dim: int, block_size: int, base: float = 10000.0):
        super().__init__()
        _check_even("head_dim", head_dim)
        _check_positive(block_size=block_size)
        _check_base(base)
        self.head_dim, self.block_size, self.base = head_dim, block_size, float(base)
        angles = self.angles(torch.arange(block_size), torch.float64)  # (block_size, D/2)
        # Buffers: they move with .to(device), and are not trained and not saved.
        self.register_buffer("cos", angles.cos().float(), persistent=False)
        self.register_buffer("sin", angles.sin().float(), persistent=False)

    def angles(self, positions: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Integer ``positions`` ``(..., T)`` -> angles ``positions * w_i``, ``(..., T, D/2)``."""
        w = frequencies(self.head_dim, self.base, dtype=dtype, device=positions.device)
        return positions.to(dtype)[..., None] * w

    def forward(self, x: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """Rotate ``x`` by its positions.

        Args:
            x: queries or keys, ``(B, H, T, head_dim)`` (any leading dims, then ``T, head_dim``).
            positions: integer positions of the ``T`` rows: ``(T,)``, the same for every
                sequence, or ``(B, T)``, one row per sequence (left-padded batches);
                ``0 .. T - 1`` by default (give ``arange(start, start + T)`` to continue a
                sequence).

        Returns:
            the rotated ``x``, same shape and dtype.
        """
        _check_last_dim(x, self.head_dim, "head_dim")
        T = x.shape[-2]
        if positions is None:
            _check_length(
                T, self.block_size, "this RotaryEmbedding", "build it with a larger block_size"
            )
            positions = torch.arange(T, device=x.device)
        else:
            self._check_positions(positions, x)
        if x.dtype == torch.float64:  # exact: the angles in float64, not the float32 tables
            angles = self.angles(positions, torch.float64)
            cos, sin = angles.cos(), angles.sin()
        else:
            cos, sin = self.cos[positions], self.sin[positions]  # (T, D/2) or (B, T, D/2)
        if positions.dim() == 2:  # (B, T, D/2) -> (B, 1, T, D/2): the same for every head
            cos, sin = cos.unsqueeze(-3), sin.unsqueeze(-3)
        dtype = torch.promote_types(x.dtype, cos.dtype)
        x_ = x.to(dtype)
        a, b = x_[..., 0::2], x_[..., 1::2]  # (..., T, D/2) each
        rotated = torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1)  # (..., T, D/2, 2)
        return rotated.flatten(-2).to(x.dtype)

    def _check_positions(self, positions: torch.Tensor, x: torch.Tensor) -> None:
        T = x.shape[-2]
        if not isinstance(positions, torch.Tensor):
            raise TypeError(
                f"positions must be a torch.Tensor of integers, got {type(positions).__name__}"
            )
        batched = positions.dim() == 2 and x.dim() >= 3 and positions.shape[0] == x.shape[0]
        if positions.shape[-1:] != (T,) or not (positions.dim() == 1 or batched):
            raise ValueError(
                f"positions must have shape (T,) = ({T},) or (B, T) = "
                f"({x.shape[0]}, {T}) to match x of shape {tuple(x.shape)}, got shape "
                f"{tuple(positions.shape)}"
            )
        if positions.is_floating_point() or positions.is_complex() or positions.dtype == torch.bool:
            raise ValueError(f"positions must be integers, got dtype {positions.dtype}")
        if positions.numel() and values_are_checkable(positions):
            low, high = int(positions.min()), int(positions.max())
            if low < 0 or high >= self.block_size:
                raise ValueError(
                    f"positions must lie in 0 .. {self.block_size - 1} "
                    f"(block_size={self.block_size}), got values from {low} to {high}"
                )

    def extra_repr(self) -> str:
        return f"head_dim={self.head_dim}, block_size={self.block_size}, base={self.base:g}"
