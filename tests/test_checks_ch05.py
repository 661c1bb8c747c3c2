"""The checks of chapter 5's exercises: right answers pass, each named mistake gets its hint."""

from __future__ import annotations

import math

import pytest
import torch

from gptcourse.attention import MultiHeadAttention, causal_mask
from gptcourse.checks import CheckFailed, ch05


def _stub(*args, **kwargs):
    raise NotImplementedError("Exercise 4.1: replace this line with your code.")


@pytest.mark.parametrize(
    "check",
    [
        ch05.split_heads,
        ch05.merge_heads,
        ch05.count_attention_parameters,
        ch05.multi_head_attention,
    ],
)
def test_untouched_stubs_are_not_implemented(check):
    with pytest.raises(CheckFailed, match="not implemented yet"):
        check(_stub)


# --- split_heads and merge_heads ----------------------------------------------------------


def _split(x, n_head):
    B, T, C = x.shape
    return x.view(B, T, n_head, C // n_head).transpose(1, 2)


def _merge(x):
    B, H, T, D = x.shape
    return x.transpose(1, 2).reshape(B, T, H * D)


def test_split_heads_right_answers_pass(capsys):
    ch05.split_heads(_split)
    ch05.split_heads(lambda x, n: MultiHeadAttention(x.shape[-1], n).split_heads(x))
    ch05.split_heads(lambda x, n: torch.stack(x.chunk(n, dim=-1), dim=1))
    assert "split_heads: all 4 checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda x, n: x.view(*x.shape[:2], n, -1), r"that is \(B, T, H, C/H\) = \(2, 5, 3, 4\)"),
        (lambda x, n: x.reshape(x.shape[0], n, x.shape[1], -1), "mixes time steps into the heads"),
        (
            lambda x, n: x.view(*x.shape[:2], -1, n).permute(0, 3, 1, 2),
            "consecutive channels",
        ),
        (lambda x, n: _split(x, n) * 2, "largest difference"),
    ],
)
def test_split_heads_wrong_answers_are_named(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ch05.split_heads(wrong)


def test_merge_heads_right_answers_pass(capsys):
    ch05.merge_heads(_merge)
    ch05.merge_heads(MultiHeadAttention.merge_heads)
    ch05.merge_heads(lambda x: torch.cat(x.unbind(dim=1), dim=-1))
    assert "merge_heads: all 5 checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda x: x.reshape(x.shape[0], x.shape[2], -1), "mixes the heads' time steps"),
        (lambda x: x.transpose(1, 2), r"that is \(B, T, H, D\) = \(2, 5, 3, 4\)"),
        (lambda x: _merge(x).contiguous() + 1, "largest difference is 1"),
    ],
)
def test_merge_heads_wrong_answers_are_named(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ch05.merge_heads(wrong)


# --- count_attention_parameters -----------------------------------------------------------


def test_count_attention_parameters_right_answer_passes(capsys):
    ch05.count_attention_parameters(lambda C, H, bias: 4 * C * C + (4 * C if bias else 0))
    assert "count_attention_parameters: all 4 checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda C, H, bias: H * (4 * C * C + 4 * C), "full-width set of projections for every"),
        (lambda C, H, bias: 4 * C * C, "the biases are missing"),
        (lambda C, H, bias: 3 * C * C + 3 * C, "output projection W_O"),
        (lambda C, H, bias: 4 * C * C + 4 * C, "with bias=False there are no biases"),
        (lambda C, H, bias: 4 * C * C + 4 * C + 1, r"expected 16640, got 16641"),
    ],
)
def test_count_attention_parameters_wrong_answers_are_named(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ch05.count_attention_parameters(wrong)


# --- multi_head_attention -----------------------------------------------------------------


def _mha(x, W_qkv, b_qkv, W_o, b_o, n_head, scale_by=None, causal=True, project=True):
    B, T, C = x.shape
    q, k, v = (_split(t, n_head) for t in (x @ W_qkv + b_qkv).split(C, dim=-1))
    scores = q @ k.mT / math.sqrt(scale_by or C // n_head)
    if causal:
        scores = scores.masked_fill(~causal_mask(T), float("-inf"))
    out = _merge(torch.softmax(scores, dim=-1) @ v)
    return out @ W_o + b_o if project else out


def _module(x, W_qkv, b_qkv, W_o, b_o, n_head):
    """The package's CausalSelfAttention given the same weights."""
    module = MultiHeadAttention(x.shape[-1], n_head, causal=True).double()
    with torch.no_grad():
        module.qkv_proj.weight.copy_(W_qkv.T)
        module.qkv_proj.bias.copy_(b_qkv)
        module.out_proj.weight.copy_(W_o.T)
        module.out_proj.bias.copy_(b_o)
    return module(x)


def test_multi_head_attention_right_answers_pass(capsys):
    ch05.multi_head_attention(_mha)
    ch05.multi_head_attention(_module)
    assert "multi_head_attention: all 3 checks passed" in capsys.readouterr().out


def _split_by_reshape(x, W_qkv, b_qkv, W_o, b_o, n_head):
    B, T, C = x.shape
    q, k, v = (t.reshape(B, n_head, T, -1) for t in (x @ W_qkv + b_qkv).split(C, dim=-1))
    scores = q @ k.mT / math.sqrt(C // n_head)
    out = torch.softmax(scores.masked_fill(~causal_mask(T), float("-inf")), dim=-1) @ v
    return _merge(out) @ W_o + b_o


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda *a: _mha(*a, scale_by=a[0].shape[-1]), r"scaled by 1/sqrt\(C\) = 1/sqrt\(12\)"),
        (lambda *a: _mha(*a, causal=False), "not causal"),
        (lambda *a: _mha(*a, project=False), "output projection is missing"),
        (_split_by_reshape, "heads were not split right"),
        (lambda *a: _mha(*a) * 1.5, "largest difference"),
    ],
)
def test_multi_head_attention_wrong_answers_are_named(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ch05.multi_head_attention(wrong)
