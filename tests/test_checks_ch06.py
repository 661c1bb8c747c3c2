"""The checks of chapter 6's exercises: right answers pass, each named mistake gets its hint."""

from __future__ import annotations

import math

import pytest
import torch

from gptcourse.checks import CheckFailed, ch06
from gptcourse.positions import RotaryEmbedding, sinusoidal_encoding, sinusoidal_shift_matrix

F64 = torch.float64


def _stub(*args, **kwargs):
    raise NotImplementedError("Exercise 5.1: replace this line with your code.")


# --- sinusoidal_position -------------------------------------------------------------------


def _position(
    p, d, swap=False, halves=False, own_frequency=False, no_two=False, plus_one=False, base=10000
):
    i = torch.arange(d // 2, dtype=F64)
    angle = p / base ** ((i if no_two else 2 * i + plus_one) / d)
    sin, cos = angle.sin(), angle.cos()
    if own_frequency:
        odd = p / 10000 ** ((2 * i + 1) / d)
        cos = odd.cos()
    if swap:
        sin, cos = cos, sin
    if halves:
        return torch.cat((sin, cos))
    return torch.stack((sin, cos), -1).flatten()


def test_sinusoidal_position_right_answers_pass(capsys):
    ch06.sinusoidal_position(_position)
    ch06.sinusoidal_position(lambda p, d: sinusoidal_encoding(p + 1, d)[p])  # float32 is fine
    ch06.sinusoidal_position(
        lambda p, d: torch.tensor(
            [
                math.sin(p / 10000 ** (j / d))
                if j % 2 == 0
                else math.cos(p / 10000 ** ((j - 1) / d))
                for j in range(d)
            ]
        )
    )
    assert capsys.readouterr().out.count("sinusoidal_position: all 10 checks passed") == 3


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda p, d: _position(p, d, swap=True), "sin and cos are swapped"),
        (lambda p, d: _position(p, d, halves=True), "not all the sines first"),
        (lambda p, d: _position(p, d, own_frequency=True), "shares one frequency"),
        (lambda p, d: _position(p, d, no_two=True), "you used i/d"),
        (lambda p, d: _position(p, d, plus_one=True), r"you used \(2i \+ 1\)/d"),
        (lambda p, d: _position(p, d, base=1000), "the base is 10000, not 1000"),
        (lambda p, d: _position(p, d)[:-1], r"expected shape \(8,\), got shape \(7,\)"),
        (lambda p, d: _position(p, d).tolist(), "expected a torch.Tensor, got list"),
        (lambda p, d: _position(p + 1, d), r"sinusoidal_position\(0, 8\): values differ"),
        (lambda p, d: _position(p + 1, d), "positions count from 0: .* you encoded position 1"),
    ],
)
def test_sinusoidal_position_wrong_answers_are_named(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ch06.sinusoidal_position(wrong)


def test_sinusoidal_position_stub_is_not_implemented():
    with pytest.raises(CheckFailed, match="not implemented yet"):
        ch06.sinusoidal_position(_stub)


# --- shift_matrix --------------------------------------------------------------------------


def _shift(k, d):
    M = torch.zeros(d, d, dtype=F64)
    for i in range(d // 2):
        a = k / 10000 ** (2 * i / d)
        M[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = torch.tensor(
            [[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]]
        )
    return M


def test_shift_matrix_right_answers_pass(capsys):
    ch06.shift_matrix(_shift)
    ch06.shift_matrix(lambda k, d: sinusoidal_shift_matrix(k, d))
    assert capsys.readouterr().out.count("shift_matrix: all 15 checks passed") == 2


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda k, d: _shift(k, d).T, "moves positions k steps back"),
        (lambda k, d: _shift(-k, d), "moves positions k steps back"),
        (lambda k, d: sinusoidal_shift_matrix(k, d, base=100.0), "frequency w_i"),
        (lambda k, d: sinusoidal_shift_matrix(k, d, base=1000.0), "the base is 10000, not 1000"),
        (lambda k, d: torch.eye(d), "that is the identity"),
        (lambda k, d: _shift(1, d), "it looks like you used w_i"),
        (lambda k, d: _shift(k, d)[:, :-1], r"expected shape \(2, 2\), got shape \(2, 1\)"),
    ],
)
def test_shift_matrix_wrong_answers_are_named(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ch06.shift_matrix(wrong)


def test_shift_matrix_stub_is_not_implemented():
    with pytest.raises(CheckFailed, match="not implemented yet"):
        ch06.shift_matrix(_stub)


# --- rope ----------------------------------------------------------------------------------


def _rope(
    x, base=10000.0, scale=1.0, sign=1, start=0, no_two=False, same_angle=False, halves=False
):
    T, d = x.shape
    i = torch.arange(d // 2, dtype=x.dtype)
    theta = base ** (-(i if no_two else 2 * i) / d)
    t = torch.ones(T, 1, dtype=x.dtype) if same_angle else torch.arange(T, dtype=x.dtype)[:, None]
    angle = sign * (t + start) / scale * theta
    if halves:
        a, b = x[:, : d // 2], x[:, d // 2 :]
        return torch.cat((a * angle.cos() - b * angle.sin(), a * angle.sin() + b * angle.cos()), -1)
    a, b = x[:, 0::2], x[:, 1::2]
    out = torch.empty_like(x)
    out[:, 0::2] = a * angle.cos() - b * angle.sin()
    out[:, 1::2] = a * angle.sin() + b * angle.cos()
    return out


def _rotary_module(x, base, scale):
    """The package's RotaryEmbedding at positions t / scale (its angles take any positions)."""
    T, d = x.shape
    rotary = RotaryEmbedding(d, T, base)
    angles = rotary.angles(torch.arange(T, dtype=x.dtype) / scale, dtype=x.dtype)
    from gptcourse.positions import rotate_pairs

    return rotate_pairs(x, angles)


def test_rope_right_answers_pass(capsys):
    ch06.rope(_rope)
    ch06.rope(_rotary_module)
    assert capsys.readouterr().out.count("rope: all 15 checks passed") == 2


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda x, base, scale: _rope(x, base, scale, sign=-1), "the rotation goes the wrong way"),
        (lambda x, base, scale: _rope(x, base, scale, start=1), "counting from 0"),
        (lambda x, base, scale: _rope(x, base, scale, no_two=True), r"you used base\^\(-i/d\)"),
        (lambda x, base, scale: _rope(x, base, scale, halves=True), "rotate_half"),
        (
            lambda x, base, scale: _rope(x, base, scale, same_angle=True),
            "rotates every row by the same angles",
        ),
        (
            lambda x, base, scale: _rope(x, scale=scale),
            r"rope\(x of shape \(10, 6\), base=100, scale=1\): values differ",
        ),
        (
            lambda x, base, scale: _rope(x, scale=scale),
            r"the base is an argument, base=100: .* not",
        ),
        (lambda x, base, scale: _rope(x, base, 1 / scale), "you multiplied by the scale"),
        (lambda x, base, scale: _rope(x, base), "the scale is an argument"),
        (lambda x, base, scale: x * 2, "values differ"),
    ],
)
def test_rope_wrong_answers_are_named(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ch06.rope(wrong)


def test_rope_stub_is_not_implemented():
    with pytest.raises(CheckFailed, match="not implemented yet"):
        ch06.rope(_stub)


# --- is_permutation_equivariant --------------------------------------------------------------


def _equivariant(f, x, compare_unpermuted=False, identity=False, tol=1e-5):
    g = torch.Generator().manual_seed(0)
    y = f(x)
    for _ in range(5):
        perm = torch.arange(len(x)) if identity else torch.randperm(len(x), generator=g)
        expected = y if compare_unpermuted else y[perm]
        if not torch.allclose(f(x[perm]), expected, atol=tol, rtol=0):
            return False
    return True


def test_is_permutation_equivariant_right_answers_pass(capsys):
    ch06.is_permutation_equivariant(_equivariant)
    ch06.is_permutation_equivariant(lambda f, x: bool(torch.tensor(_equivariant(f, x))))
    assert capsys.readouterr().out.count("is_permutation_equivariant: all 14 checks passed") == 2


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (
            lambda f, x: _equivariant(f, x, compare_unpermuted=True),
            r"returned False, but self-attention without a mask is permutation equivariant"
            r"(.|\n)*Hint: compare f\(x\[perm\]\) with f\(x\)\[perm\]",
        ),
        (
            lambda f, x: _equivariant(f, x, identity=True),
            r"returned True, but self-attention after adding sinusoidal positions is not"
            r"(.|\n)*a permutation that moves the rows",
        ),
        (lambda f, x: True, "returned True, but self-attention after adding"),
        (lambda f, x: "yes", "expected True or False, got str"),
    ],
)
def test_is_permutation_equivariant_wrong_answers_are_named(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ch06.is_permutation_equivariant(wrong)


def test_is_permutation_equivariant_stub_is_not_implemented():
    with pytest.raises(CheckFailed, match="not implemented yet"):
        ch06.is_permutation_equivariant(_stub)


def test_the_layers_are_what_the_check_says_they_are():
    x = torch.randn(6, 16, generator=torch.Generator().manual_seed(3))
    for description, layer, truth in ch06._layers():
        assert _equivariant(layer, x) == truth, description
