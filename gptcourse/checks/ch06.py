"""Checks for the exercises of chapter 6: positional encoding."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from gptcourse.attention import CausalSelfAttention, MultiHeadAttention
from gptcourse.checks import checking, same_as
from gptcourse.positions import (
    sinusoidal_encoding,
    sinusoidal_shift_matrix,
)

_F64 = torch.float64


def _is(wrong: torch.Tensor) -> Callable[[object], bool]:
    """A hint's test: the learner's answer is (numerically) the tensor ``wrong``."""
    return same_as(wrong, rtol=1e-5, atol=1e-7)


def _interleave(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """``(..., n)`` and ``(..., n)`` -> ``(..., 2n)`` as first[0], second[0], first[1], ..."""
    return torch.stack((first, second), dim=-1).flatten(-2)


def sinusoidal_position(fn) -> None:
    """Exercise: the sinusoidal encoding of one position.

    ``fn(p: int, n_embd: int) -> (n_embd,) tensor`` with ``PE(p, 2i) = sin(p / 10000^(2i/d))``
    and ``PE(p, 2i + 1) = cos(p / 10000^(2i/d))``.
    """
    __tracebackhide__ = True
    with checking("sinusoidal_position", fn) as c:
        for p, d in ((0, 8), (1, 8), (7, 16), (100, 64), (1023, 768)):
            what = f"sinusoidal_position({p}, {d})"
            got = c.tensor(c.call(p, d), what)
            expected = sinusoidal_encoding(p + 1, d, dtype=_F64)[p]
            i = torch.arange(d // 2, dtype=_F64)
            j = torch.arange(d, dtype=_F64)
            angle = p / 10000 ** (2 * i / d)  # (d/2,)
            odd_exponent = p / 10000 ** ((2 * i + 1) / d)  # (d/2,)
            base_1000 = p / 1000 ** (2 * i / d)  # (d/2,)
            c.close(
                got,
                expected,
                what,
                rtol=1e-5,
                atol=1e-6,
                hints={
                    "sin and cos are swapped: the even dimensions 2i hold the sine, the odd "
                    "ones 2i + 1 the cosine.": _is(_interleave(angle.cos(), angle.sin())),
                    "sines and cosines must alternate, sin in dimension 2i and cos in 2i + 1, "
                    "not all the sines first and then all the cosines.": _is(
                        torch.cat((angle.sin(), angle.cos()))
                    ),
                    "each pair (2i, 2i + 1) shares one frequency, 1 / 10000^(2i/d): the odd "
                    "dimension 2i + 1 uses the frequency of 2i, not its own index.": _is(
                        torch.where(
                            j % 2 == 0,
                            torch.sin(p / 10000 ** (j / d)),
                            torch.cos(p / 10000 ** (j / d)),
                        )
                    ),
                    "the exponent is 2i/d, with i the pair's index: it looks like you used i/d.": (
                        _is(
                            _interleave(
                                torch.sin(p / 10000 ** (i / d)), torch.cos(p / 10000 ** (i / d))
                            )
                        )
                    ),
                    "the exponent of pair i is 2i/d, for its sine (dimension 2i) and its "
                    "cosine (dimension 2i + 1) alike: it looks like you used (2i + 1)/d.": _is(
                        _interleave(odd_exponent.sin(), odd_exponent.cos())
                    ),
                    "the base is 10000, not 1000: the frequency of pair i is "
                    "1 / 10000^(2i/d).": _is(_interleave(base_1000.sin(), base_1000.cos())),
                    f"positions count from 0: sinusoidal_position({p}, {d}) is the encoding "
                    f"of position {p}, and it looks like you encoded position {p + 1}.": _is(
                        sinusoidal_encoding(p + 2, d, dtype=_F64)[p + 1]
                    ),
                },
            )


def shift_matrix(fn) -> None:
    """Exercise: the matrix ``M_k`` with ``PE(p + k) = M_k @ PE(p)`` for every position ``p``.

    ``fn(k: int, n_embd: int) -> (n_embd, n_embd) tensor``.
    """
    __tracebackhide__ = True
    with checking("shift_matrix", fn) as c:
        for k, d in ((1, 2), (3, 8), (-2, 8), (50, 16), (0, 4)):
            what = f"shift_matrix({k}, {d})"
            got = c.tensor(c.call(k, d), what)
            expected = sinusoidal_shift_matrix(k, d, dtype=_F64)
            hints = {
                "that matrix moves positions k steps back (it is the transpose, the inverse, "
                "of M_k); check the signs of the sines: new sin = sin cos(kw) + cos sin(kw), "
                "new cos = cos cos(kw) - sin sin(kw). The answer must multiply PE(p) "
                "from the left, as a column vector.": _is(expected.T),
                "the block of pair i must use the frequency w_i = 1 / 10000^(2i/d), "
                "with the angle k * w_i.": _is(
                    sinusoidal_shift_matrix(k, d, dtype=_F64, base=10000**0.5)
                ),
                "the base is 10000, not 1000: the frequency of pair i is "
                "w_i = 1 / 10000^(2i/d).": _is(
                    sinusoidal_shift_matrix(k, d, dtype=_F64, base=1000)
                ),
            }
            if k != 0:
                hints["that is the identity: M_k must rotate each pair by k * w_i."] = _is(
                    torch.eye(d, dtype=_F64)
                )
            if k != 1:
                hints[
                    f"the angle of pair i is k * w_i = {k} * w_i: it looks like you used w_i."
                ] = _is(sinusoidal_shift_matrix(1, d, dtype=_F64))
            c.close(got, expected, what, rtol=1e-5, atol=1e-6, hints=hints)
            pe = sinusoidal_encoding(60, d, dtype=_F64)
            lo, hi = max(0, -k), 60 - max(0, k)
            c.close(
                pe[lo:hi] @ torch.as_tensor(got, dtype=_F64).T,
                pe[lo + k : hi + k],
                f"PE(p + {k}) = shift_matrix({k}, {d}) @ PE(p), for p = {lo} .. {hi - 1}",
                rtol=1e-5,
                atol=1e-6,
            )


def rope(fn) -> None:
    """Exercise: rotary position embedding with interpolated positions.

    ``fn(x: (T, d) tensor, base: float, scale: float) -> (T, d) tensor``: row ``t`` (at
    position ``t / scale``) with each pair of dimensions ``(2i, 2i + 1)`` rotated by
    ``(t / scale) * base^(-2i/d)``.
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(0)
    cases = (
        (3, 2, 10000.0, 1.0),
        (16, 8, 10000.0, 1.0),
        (10, 6, 100.0, 1.0),
        (64, 32, 10000.0, 2.0),
        (12, 8, 10000.0, 4.0),
    )
    with checking("rope", fn) as c:
        for T, d, base, scale in cases:
            x = torch.randn(T, d, generator=generator, dtype=_F64)
            what = f"rope(x of shape ({T}, {d}), base={base:g}, scale={scale:g})"
            got = c.tensor(c.call(x.clone(), base, scale), what)
            positions = torch.arange(T, dtype=_F64)[:, None]
            w = base ** (-torch.arange(0, d, 2, dtype=_F64) / d)
            expected = _rotate(x, positions / scale * w)
            hints = {
                "the rotation goes the wrong way: pair (a, b) becomes "
                "(a cos - b sin, a sin + b cos).": _is(_rotate(x, -positions / scale * w)),
                "row t is at position t, counting from 0: the first row is not rotated.": _is(
                    _rotate(x, (positions + 1) / scale * w)
                ),
                "the frequency of pair i is base^(-2i/d), with the 2: it looks like you "
                "used base^(-i/d).": _is(
                    _rotate(x, positions / scale * base ** (-torch.arange(d // 2, dtype=_F64) / d))
                ),
                "that pairs dimension i with i + d/2 (transformers' rotate_half); here "
                "the pairs are the neighbours (2i, 2i + 1).": _is(_halves_rope(x, base, scale)),
                "that rotates every row by the same angles; row t must turn by t / scale "
                "times the pair's frequency.": _is(_rotate(x, w.expand(T, -1) / scale)),
                # (With base 10000 this is the right answer, never a failure's hint.)
                f"the base is an argument, base={base:g}: the frequencies are "
                "base^(-2i/d), not 10000^(-2i/d).": _is(
                    _rotate(
                        x,
                        positions / scale * 10000 ** (-torch.arange(0, d, 2, dtype=_F64) / d),
                    )
                ),
            }
            if scale != 1:
                hints[
                    f"interpolation squeezes the positions: row t is at position t / scale "
                    f"= t / {scale:g}; it looks like you multiplied by the scale."
                ] = _is(_rotate(x, positions * scale * w))
                hints[
                    "the scale is an argument: row t is at position t / scale, so with "
                    f"scale={scale:g} the angles are {scale:g} times smaller."
                ] = _is(_rotate(x, positions * w))
            c.close(got, expected, what, rtol=1e-6, atol=1e-8, hints=hints)
            c.that(
                torch.allclose(torch.as_tensor(got, dtype=_F64).norm(dim=-1), x.norm(dim=-1)),
                f"{what}: rotations keep lengths, but the rows' norms changed",
            )


def _rotate(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (2i, 2i + 1) of ``x`` (T, d) by ``angles`` (T, d/2)."""
    a, b = x[:, 0::2], x[:, 1::2]
    return _interleave(a * angles.cos() - b * angles.sin(), a * angles.sin() + b * angles.cos())


def _halves_rope(x: torch.Tensor, base: float, scale: float = 1.0) -> torch.Tensor:
    """RoPE with transformers' pairing, dimension i with i + d/2."""
    T, d = x.shape
    w = base ** (-torch.arange(0, d, 2, dtype=_F64) / d)
    angles = torch.arange(T, dtype=_F64)[:, None] / scale * torch.cat((w, w))  # (T, d)
    rotated_half = torch.cat((-x[:, d // 2 :], x[:, : d // 2]), dim=-1)
    return x * angles.cos() + rotated_half * angles.sin()


def _layers() -> list[tuple[str, Callable[[torch.Tensor], torch.Tensor], bool]]:
    """Functions from (T, d) to (T, d'): (description, function, is it equivariant?)."""
    torch.manual_seed(0)
    d = 16
    attention = MultiHeadAttention(d, n_head=4).eval()
    causal = CausalSelfAttention(d, n_head=4).eval()
    linear = nn.Linear(d, 8)
    pe = sinusoidal_encoding(6, d)

    def no_grad(f):
        def run(x):
            with torch.no_grad():
                return f(x)

        return run

    return [
        ("self-attention without a mask", no_grad(lambda x: attention(x[None])[0]), True),
        ("the same linear layer applied to every token", no_grad(linear), True),
        (
            "self-attention after adding sinusoidal positions",
            no_grad(lambda x: attention((x + pe[: len(x)])[None])[0]),
            False,
        ),
        ("causal self-attention", no_grad(lambda x: causal(x[None])[0]), False),
        ("the average of all tokens, given to every token", lambda x: x.mean(0).expand_as(x), True),
        ("a running sum over the tokens (cumsum)", lambda x: x.cumsum(0), False),
        ("reversing the sequence", lambda x: x.flip(0), False),
    ]


def is_permutation_equivariant(fn) -> None:
    """Exercise: decide whether a layer is permutation equivariant.

    ``fn(f, x: (T, d) tensor) -> bool``: whether ``f(x[perm])`` equals ``f(x)[perm]`` for
    every permutation ``perm`` of the ``T`` rows (tested on a few random ones).
    """
    __tracebackhide__ = True
    x = torch.randn(6, 16, generator=torch.Generator().manual_seed(1))
    with checking("is_permutation_equivariant", fn) as c:
        for description, layer, truth in _layers():
            got = c.call(layer, x.clone())
            if isinstance(got, torch.Tensor) and got.numel() == 1 and got.dtype == torch.bool:
                got = bool(got)
            c.that(
                isinstance(got, bool),
                f"is_permutation_equivariant(<{description}>, x): expected True or False, "
                f"got {type(got).__name__}",
            )
            message = (
                f"is_permutation_equivariant(<{description}>, x) returned {got}, but "
                f"{description} is {'' if truth else 'not '}permutation equivariant."
            )
            if truth:
                message += (
                    "\nHint: compare f(x[perm]) with f(x)[perm] (the output of the original "
                    "order, reordered the same way), not with f(x); and allow for rounding "
                    "with torch.allclose(..., atol=1e-5)."
                )
            else:
                message += (
                    "\nHint: compare f(x[perm]) with f(x)[perm], for a permutation that moves "
                    "the rows (torch.randperm can return the identity for short sequences: "
                    "try several)."
                )
            c.that(got == truth, message)
