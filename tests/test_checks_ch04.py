"""The checks of chapter 4's exercises: right answers pass, each named mistake gets its hint."""

from __future__ import annotations

import math

import pytest
import torch

from gptcourse import attention
from gptcourse.checks import CheckFailed, ch04


def _stub(*args, **kwargs):
    raise NotImplementedError("Exercise 4-1: replace this line with your code.")


@pytest.mark.parametrize(
    "check", [ch04.attention_mask, ch04.cross_attention, ch04.score_scale, ch04.future_leak]
)
def test_untouched_stubs_are_reported(check):
    with pytest.raises(CheckFailed, match="not implemented yet"):
        check(_stub)


# --- attention_mask ----------------------------------------------------------------------


def _mask(lengths, T, causal=lambda T: torch.ones(T, T, dtype=torch.bool).tril(), on="keys"):
    real = torch.arange(T) < lengths[:, None]  # (B, T)
    padding = real[:, None, :] if on == "keys" else real[:, :, None]
    if on is None:
        padding = torch.ones(len(lengths), 1, T, dtype=torch.bool)
    return padding & causal(T) if causal is not None else padding.expand(-1, T, T)


def test_attention_mask_right_answers_pass(capsys):
    ch04.attention_mask(_mask)
    ch04.attention_mask(lambda lengths, T: attention.causal_mask(T) & _mask(lengths, T))
    assert "attention_mask: all 16 checks passed" in capsys.readouterr().out


def _ones(T):
    return torch.ones(T, T, dtype=torch.bool)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda lengths, T: _mask(lengths, T, lambda T: _ones(T).tril(1)), r"tril\(1\)"),
        (lambda lengths, T: _mask(lengths, T, lambda T: _ones(T).triu()), "not the upper one"),
        (lambda lengths, T: _mask(lengths, T, lambda T: _ones(T).tril(-1)), "attend to itself"),
        (lambda lengths, T: ~_mask(lengths, T), "nn.MultiheadAttention"),
        (lambda lengths, T: _mask(lengths, T, on="queries"), r"shape \(B, 1, T\)"),
        (lambda lengths, T: _mask(lengths, T, on=None), "padding is not masked"),
        (lambda lengths, T: _mask(lengths, T, causal=None), "causal part is missing"),
        (lambda lengths, T: _mask(lengths, T).int(), "expected a bool tensor"),
        (lambda lengths, T: _mask(lengths, T)[0], r"expected shape \(2, 5, 5\)"),
    ],
)
def test_attention_mask_wrong_answers_are_named(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ch04.attention_mask(wrong)


# --- cross_attention ---------------------------------------------------------------------


def _cross(x, memory, W_Q, W_K, W_V, scale=None, keys_from_x=False, dim=-1):
    source = x if keys_from_x else memory
    q, k, v = x @ W_Q, source @ W_K, source @ W_V
    s = 1 / math.sqrt(q.shape[-1]) if scale is None else scale(q, v)
    return torch.softmax(q @ k.T * s, dim=dim) @ v


def test_cross_attention_right_answer_passes(capsys):
    ch04.cross_attention(_cross)
    ch04.cross_attention(
        lambda x, m, W_Q, W_K, W_V: torch.nn.functional.scaled_dot_product_attention(
            x @ W_Q, m @ W_K, m @ W_V
        )
    )
    assert "cross_attention: all 3 checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda *a: _cross(*a, scale=lambda q, v: 1 / math.sqrt(v.shape[-1])), "sqrt\\(d_v\\)"),
        (lambda *a: _cross(*a, scale=lambda q, v: 1.0), "are not scaled"),
        (lambda *a: _cross(*a, scale=lambda q, v: 1 / q.shape[-1]), "divided by d_k"),
        (lambda *a: _cross(*a, keys_from_x=True), "self-attention over x"),
        (lambda *a: _cross(*a, dim=0), "over the queries"),
    ],
)
def test_cross_attention_wrong_answers_are_named(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ch04.cross_attention(wrong)


# --- score_scale -------------------------------------------------------------------------


def test_score_scale_right_answer_passes(capsys):
    ch04.score_scale(lambda d_k, var_q, var_k: (d_k * var_q * var_k) ** -0.5)
    assert "score_scale: all 5 checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda d_k, vq, vk: 1 / math.sqrt(d_k), "right only when var_q = var_k = 1"),
        (lambda d_k, vq, vk: 1 / (d_k * vq * vk), "take a square root"),
        (lambda d_k, vq, vk: 1 / math.sqrt(d_k * (vq + vk)), "not the sum"),
        (lambda d_k, vq, vk: math.sqrt(d_k * vq * vk), "invert it"),
    ],
)
def test_score_scale_wrong_answers_are_named(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ch04.score_scale(wrong)


# --- future_leak -------------------------------------------------------------------------


def _leak(upto):
    def future_leak(model, idx, changed, t):
        with torch.no_grad():
            a, b = model(idx)[0], model(changed)[0]
        end = upto(t)
        return (a[:, :end] - b[:, :end]).abs().max().item()

    return future_leak


def test_future_leak_right_answer_passes(capsys):
    ch04.future_leak(_leak(lambda t: t + 1))
    assert "future_leak: all 4 checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (_leak(lambda t: t), "leaves out position t"),
        (_leak(lambda t: t + 2), "includes position t \\+ 1"),
        (_leak(lambda t: None), "including those after t"),
    ],
)
def test_future_leak_wrong_answers_are_named(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ch04.future_leak(wrong)
