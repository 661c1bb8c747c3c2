"""Positional encodings: telling a Transformer where each token is.

Self-attention treats its input as a set: permute the tokens and the outputs are
permuted the same way. Three ways of giving it the order, as in chapter 5:

- **sinusoidal** (the original Transformer): a fixed vector per position, added to the
  token embeddings, with ``PE[p, 2i] = sin(p * w_i)`` and ``PE[p, 2i + 1] = cos(p * w_i)``
  where ``w_i = base ** (-2i / d_model)``. :func:`sinusoidal_encoding` builds the table and
  :class:`SinusoidalPositionalEncoding` adds it.
- **learned** (GPT-2): a trained ``(max_len, d_model)`` table, added to the token
  embeddings: :class:`LearnedPositionalEmbedding`.
- **rotary** (RoPE; Llama and most recent models): inside attention, each pair of query
  and key dimensions is rotated by an angle proportional to the position, so that
  query-key scores depend only on the offset between positions: :class:`RotaryEmbedding`.

Pairing convention: both the sinusoidal table and the rotary embedding pair dimension
``2i`` with ``2i + 1`` (interleaved), as in the papers that introduced them. Hugging Face
``transformers`` pairs dimension ``i`` with ``i + d/2`` instead (``rotate_half``); the two
conventions differ by a fixed permutation of the dimensions, which leaves every
query-key score unchanged.

    >>> pe = sinusoidal_encoding(max_len=4, d_model=6)
    >>> pe.shape
    torch.Size([4, 6])
    >>> pe[0].tolist()  # position 0: sin(0) = 0 and cos(0) = 1
    [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
"""

from __future__ import annotations

import torch
from torch import nn

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
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


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


def _check_length(T: int, max_len: int, what: str, hint: str) -> None:
    if T > max_len:
        raise ValueError(
            f"a sequence of T={T} positions is longer than max_len={max_len}: {what} has no "
            f"position {max_len} or beyond (positions 0 .. {max_len - 1}); {hint}"
        )


def _check_last_dim(x: torch.Tensor, expected: int, name: str) -> None:
    if x.dim() < 2 or x.shape[-1] != expected:
        raise ValueError(
            f"expected x of shape (..., T, {name}={expected}), got shape {tuple(x.shape)}"
        )


def frequencies(
    d_model: int,
    base: float = 10000.0,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The angular frequencies ``w_i = base ** (-2i / d_model)``, shape ``(d_model // 2,)``.

    Pair ``i`` of dimensions turns by ``w_i`` radians per position: its wavelength
    ``2 pi / w_i`` grows geometrically from ``2 pi`` (``i = 0``) towards ``base * 2 pi``.
    """
    _check_even("d_model", d_model)
    _check_base(base)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64, device=device)
    return (float(base) ** (-two_i / d_model)).to(dtype)


def sinusoidal_encoding(
    max_len: int,
    d_model: int,
    base: float = 10000.0,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The sinusoidal position table of *Attention Is All You Need*, shape ``(max_len, d_model)``.

    ``PE[p, 2i] = sin(p / base ** (2i / d_model))`` and
    ``PE[p, 2i + 1] = cos(p / base ** (2i / d_model))``, for positions ``p = 0 .. max_len - 1``.
    Computed in float64, then cast to ``dtype``.

    Raises:
        ValueError: ``d_model`` is odd or a size is not a positive integer.
    """
    _check_positive(max_len=max_len)
    w = frequencies(d_model, base, dtype=torch.float64, device=device)  # (d_model/2,)
    angles = torch.arange(max_len, dtype=torch.float64, device=device)[:, None] * w  # (T, d/2)
    pe = torch.stack((angles.sin(), angles.cos()), dim=-1)  # (T, d/2, 2): (sin, cos) pairs
    return pe.flatten(-2).to(dtype)  # (T, d_model), interleaved sin, cos, sin, cos, ...


def sinusoidal_shift_matrix(
    k: int, d_model: int, base: float = 10000.0, *, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """The matrix ``M_k`` of shape ``(d_model, d_model)`` with ``PE[p + k] = M_k @ PE[p]``, all p.

    It is block-diagonal: pair ``i`` is multiplied by
    ``[[cos(k w_i), sin(k w_i)], [-sin(k w_i), cos(k w_i)]]``, a rotation that depends
    on the offset ``k`` only (``k`` may be negative).
    """
    w = frequencies(d_model, base, dtype=torch.float64)
    c, s = torch.cos(k * w), torch.sin(k * w)
    M = torch.zeros(d_model, d_model, dtype=torch.float64)
    i = torch.arange(0, d_model, 2)
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
        max_len: the longest sequence it accepts (the formula works for any position;
            this only sizes the stored table).
        d_model: the embedding width, even.
        base: 10000 in the original Transformer.
    """

    pe: torch.Tensor

    def __init__(self, max_len: int, d_model: int, base: float = 10000.0):
        super().__init__()
        self.max_len, self.d_model = max_len, d_model
        # A buffer: moves with .to(device) but is not trained and not saved.
        self.register_buffer("pe", sinusoidal_encoding(max_len, d_model, base), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, T, d_model)`` (or ``(T, d_model)``) -> ``x + PE[:T]``, same shape."""
        _check_last_dim(x, self.d_model, "d_model")
        T = x.shape[-2]
        _check_length(T, self.max_len, "the stored table", "build it with a larger max_len")
        return x + self.pe[:T].to(x.dtype)

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, d_model={self.d_model}"


class LearnedPositionalEmbedding(nn.Module):
    """GPT-2's positions: a trained table of ``max_len`` vectors, added to the input.

    ``forward(x) = x + table[0 .. T - 1]``. The table is an ``nn.Embedding`` (GPT-2's
    ``wpe``: 1024 rows of 768) initialised like GPT-2's, normal with std 0.02. A position
    that was never seen in training keeps its random initial row, and a position at or
    beyond ``max_len`` has no row at all.
    """

    def __init__(self, max_len: int, d_model: int):
        super().__init__()
        _check_positive(max_len=max_len, d_model=d_model)
        self.max_len, self.d_model = max_len, d_model
        self.table = nn.Embedding(max_len, d_model)  # weight: (max_len, d_model)
        nn.init.normal_(self.table.weight, mean=0.0, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, T, d_model)`` (or ``(T, d_model)``) -> ``x + table[:T]``, same shape."""
        _check_last_dim(x, self.d_model, "d_model")
        T = x.shape[-2]
        _check_length(
            T,
            self.max_len,
            "a learned table",
            "a model with learned positions cannot read longer sequences",
        )
        positions = torch.arange(T, device=x.device)  # (T,)
        return x + self.table(positions)  # (T, d_model) broadcasts over the batch

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, d_model={self.d_model}"


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (RoPE, Su et al. 2021), applied to queries and keys.

    The vector at position ``m`` has each pair of dimensions ``(2i, 2i + 1)`` rotated by
    the angle ``m * w_i``, with ``w_i = base ** (-2i / head_dim)``. Rotations preserve
    norms, and ``rope(q, m) . rope(k, n)`` depends on ``m - n`` only, so attention scores
    see relative positions. Interleaved pairs; ``transformers`` uses halves
    (``rotate_half``): permute the dimensions to go from one to the other.

    Args:
        head_dim: the width of one attention head's queries and keys, even.
        max_len: the largest number of positions it accepts.
        base: 10000 in RoFormer and Llama 2.

    The angles are computed on the fly, in float64 for a float64 input and in float32
    otherwise, then cast to the input's dtype.
    """

    def __init__(self, head_dim: int, max_len: int, base: float = 10000.0):
        super().__init__()
        _check_even("head_dim", head_dim)
        _check_positive(max_len=max_len)
        _check_base(base)
        self.head_dim, self.max_len, self.base = head_dim, max_len, float(base)

    def angles(self, positions: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Integer ``positions`` ``(T,)`` -> angles ``positions * w_i``, ``(T, head_dim // 2)``."""
        w = frequencies(self.head_dim, self.base, dtype=dtype, device=positions.device)
        return positions.to(dtype)[:, None] * w

    def forward(self, x: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """Rotate ``x`` by its positions.

        Args:
            x: queries or keys, ``(B, H, T, head_dim)`` (any leading dims, then ``T, head_dim``).
            positions: integer positions ``(T,)`` of the ``T`` rows, ``0 .. T - 1`` by
                default (give e.g. ``arange(start, start + T)`` to continue a sequence).

        Returns:
            the rotated ``x``, same shape and dtype.
        """
        _check_last_dim(x, self.head_dim, "head_dim")
        T = x.shape[-2]
        if positions is None:
            _check_length(T, self.max_len, "this RotaryEmbedding", "build it with a larger max_len")
            positions = torch.arange(T, device=x.device)
        else:
            if positions.dim() != 1 or len(positions) != T:
                raise ValueError(
                    f"positions must have shape (T,) = ({T},) to match x of shape "
                    f"{tuple(x.shape)}, got shape {tuple(positions.shape)}"
                )
            if positions.is_floating_point() or positions.is_complex():
                raise ValueError(f"positions must be integers, got dtype {positions.dtype}")
            if T and (int(positions.min()) < 0 or int(positions.max()) >= self.max_len):
                raise ValueError(
                    f"positions must lie in 0 .. {self.max_len - 1} (max_len={self.max_len}), "
                    f"got values from {int(positions.min())} to {int(positions.max())}"
                )
        dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
        angles = self.angles(positions, dtype)  # (T, head_dim/2), broadcasts over (B, H)
        return rotate_pairs(x.to(dtype), angles).to(x.dtype)

    def extra_repr(self) -> str:
        return f"head_dim={self.head_dim}, max_len={self.max_len}, base={self.base:g}"
