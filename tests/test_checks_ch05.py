"""The checks of chapter 5's exercises: right answers pass, each named mistake gets its hint."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from gptcourse.attention import scaled_dot_product_attention
from gptcourse.checks import CheckFailed, ch05


def _stub(*args, **kwargs):
    raise NotImplementedError("Exercise 5-1: replace this line with your code.")


@pytest.mark.parametrize(
    "check", [ch05.count_gqa_parameters, ch05.without_head, ch05.grouped_query_attention]
)
def test_untouched_stubs_are_not_implemented(check):
    with pytest.raises(CheckFailed, match="not implemented yet"):
        check(_stub)


# --- count_gqa_parameters -----------------------------------------------------------------


def _count(C, H, G, bias=True, *, values_shrink=True, output=True, kv_heads=None):
    D = C // H
    kv = (G if kv_heads is None else kv_heads) * D
    v = kv if values_shrink else C
    weights = C * C + C * kv + C * v + (C * C if output else 0)
    biases = C + kv + v + (C if output else 0)
    return weights + (biases if bias else 0)


def test_count_gqa_parameters_right_answer_passes(capsys):
    ch05.count_gqa_parameters(_count)
    assert "count_gqa_parameters: all 4 checks passed" in capsys.readouterr().out


def test_count_gqa_parameters_agrees_with_multi_head_attention_when_groups_equal_heads():
    from gptcourse.attention import MultiHeadAttention

    module = MultiHeadAttention(64, 4)
    assert _count(64, 4, 4) == sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda C, H, G, bias: 4 * C * C + 4 * C * bias, "count of multi-head attention"),
        (lambda C, H, G, bias: _count(C, H, G, bias, output=False), "W_O"),
        (lambda C, H, G, bias: _count(C, H, G, bias, values_shrink=False), "values shrink"),
        (lambda C, H, G, bias: _count(C, H, G, False), "biases are missing"),
        (lambda C, H, G, bias: _count(C, H, G, True), "no biases at all"),
        (lambda C, H, G, bias: _count(C, H, G, bias, kv_heads=1), "one head per group"),
        (lambda C, H, G, bias: _count(C, H, G, bias) + 1, "expected 16640, got 16641"),
    ],
)
def test_count_gqa_parameters_wrong_answers_are_named(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ch05.count_gqa_parameters(wrong)


# --- without_head -------------------------------------------------------------------------


def _without_head(attention, x, h):
    D = attention.head_dim
    q, k, v = attention.qkv(x)
    out, _ = scaled_dot_product_attention(q, k, v, causal=attention.causal)
    concat = attention.merge_heads(out).clone()
    concat[..., h * D : (h + 1) * D] = 0
    return attention.out_proj(concat)


def _by_zeroed_columns(attention, x, h):
    """The chapter's way: a copy whose W_O ignores head h."""
    ablated = copy.deepcopy(attention)
    D = ablated.head_dim
    with torch.no_grad():
        ablated.out_proj.weight[:, h * D : (h + 1) * D] = 0
    return ablated(x)


def test_without_head_right_answers_pass(capsys):
    ch05.without_head(_without_head)
    ch05.without_head(_by_zeroed_columns)
    assert "without_head: all 12 checks passed" in capsys.readouterr().out


def _zero_columns_in_place(attention, x, h):
    D = attention.head_dim
    with torch.no_grad():
        attention.out_proj.weight[:, h * D : (h + 1) * D] = 0
    return attention(x)


def _no_bias(attention, x, h):
    return _without_head(attention, x, h) - attention.out_proj.bias


def _zero_outputs(attention, x, h):
    y = attention(x).clone()
    D = attention.head_dim
    y[..., h * D : (h + 1) * D] = 0
    return y


def _zero_query(attention, x, h):
    q, k, v = attention.qkv(x)
    q = q.clone()
    q[:, h] = 0
    out, _ = scaled_dot_product_attention(q, k, v, causal=attention.causal)
    return attention.out_proj(attention.merge_heads(out))


def _strided(attention, x, h):
    q, k, v = attention.qkv(x)
    out, _ = scaled_dot_product_attention(q, k, v, causal=attention.causal)
    concat = attention.merge_heads(out).clone()
    concat[..., h :: attention.n_head] = 0
    return attention.out_proj(concat)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda attention, x, h: attention(x), "head h is still in it"),
        (_no_bias, "output bias b_O is gone"),
        (_zero_outputs, "zeroes the output channels"),
        (_zero_query, "zeroing head h's queries"),
        (_strided, "not every H-th channel"),
        (lambda attention, x, h: _without_head(attention, x, h) * 2, "largest difference"),
        (lambda attention, x, h: _without_head(attention, x, h)[0], "expected shape"),
        (_zero_columns_in_place, "changed the module's weights"),
    ],
)
def test_without_head_wrong_answers_are_named(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ch05.without_head(wrong)


# --- grouped_query_attention --------------------------------------------------------------


def _gqa(q, k, v):
    r = q.shape[1] // k.shape[1]
    out, _ = scaled_dot_product_attention(
        q, k.repeat_interleave(r, dim=1), v.repeat_interleave(r, dim=1), causal=True
    )
    return out


def test_grouped_query_attention_right_answers_pass(capsys):
    ch05.grouped_query_attention(_gqa)
    ch05.grouped_query_attention(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    )
    assert "grouped_query_attention: all 12 checks passed" in capsys.readouterr().out


def _tiled(q, k, v):
    r = q.shape[1] // k.shape[1]
    out, _ = scaled_dot_product_attention(
        q, k.repeat(1, r, 1, 1), v.repeat(1, r, 1, 1), causal=True
    )
    return out


def _not_causal(q, k, v):
    r = q.shape[1] // k.shape[1]
    out, _ = scaled_dot_product_attention(
        q, k.repeat_interleave(r, dim=1), v.repeat_interleave(r, dim=1)
    )
    return out


def _group_scale(q, k, v):
    r = q.shape[1] // k.shape[1]
    scale = (r * q.shape[-1]) ** -0.5
    out, _ = scaled_dot_product_attention(
        q, k.repeat_interleave(r, dim=1), v.repeat_interleave(r, dim=1), causal=True, scale=scale
    )
    return out


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (_tiled, "repeat_interleave"),
        (_not_causal, "not causal"),
        (_group_scale, r"1/sqrt\(D\) = 1/sqrt\(3\)"),
        (lambda q, k, v: _gqa(q, k, v) + 0.5, "largest difference"),
        (lambda q, k, v: _gqa(q, k, v)[:, :1], "expected shape"),
    ],
)
def test_grouped_query_attention_wrong_answers_are_named(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ch05.grouped_query_attention(wrong)
