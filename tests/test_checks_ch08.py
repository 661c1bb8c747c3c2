"""The checks of chapter 8's exercises: right answers pass, each named mistake gets its hint."""

from __future__ import annotations

import math

import pytest
import torch

from gptcourse.checks import CheckFailed, ch08


def _stub(*args, **kwargs):
    raise NotImplementedError("Exercise 8-1: replace this line with your code.")


# --- top_p_filter --------------------------------------------------------------------------


def _top_p(probs, p):
    sorted_probs, order = torch.sort(probs, descending=True)
    before = sorted_probs.cumsum(0) - sorted_probs
    kept = torch.where(before < p, sorted_probs, 0.0)
    return torch.zeros_like(probs).scatter(0, order, kept / kept.sum())


def _top_p_loop(probs, p):
    """Another right answer: add tokens, most likely first, until the mass reaches p."""
    out, total = torch.zeros_like(probs), 0.0
    for i in sorted(range(len(probs)), key=lambda i: -float(probs[i])):
        if total >= p:
            break
        out[i] = probs[i]
        total += float(probs[i])
    return out / out.sum()


def _top_p_wrong(probs, p, *, keep="before", ascending=False, renormalise=True, order=True):
    sorted_probs, index = torch.sort(probs, descending=not ascending)
    cumulative = sorted_probs.cumsum(0)
    kept = {
        "before": cumulative - sorted_probs < p,
        "before<=": cumulative - sorted_probs <= p,
        "cum<=": cumulative <= p,
        "cum<": cumulative < p,
    }[keep]
    out = torch.where(kept, sorted_probs, 0.0)
    if renormalise:
        out = out / out.sum()
    return torch.zeros_like(probs).scatter(0, index, out) if order else out


def test_top_p_filter_right_answers_pass(capsys):
    ch08.top_p_filter(_top_p)
    ch08.top_p_filter(_top_p_loop)
    assert capsys.readouterr().out.count("top_p_filter: all 18 checks passed") == 2


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda q, p: _top_p_wrong(q, p, ascending=True), "sort in descending order"),
        (lambda q, p: _top_p_wrong(q, p, renormalise=False), "renormalise what you keep"),
        (lambda q, p: _top_p_wrong(q, p, order=False), "in the vocabulary's order"),
        (lambda q, p: _top_p_wrong(q, p, keep="cum<="), "the token that crosses p is kept"),
        (lambda q, p: _top_p_wrong(q, p, keep="cum<"), r"reaches p exactly completes"),
        (lambda q, p: _top_p_wrong(q, p, keep="before<="), "the next token is not kept"),
        (lambda q, p: q, "values differ"),
        (lambda q, p: _top_p(q, p).tolist(), "expected a torch.Tensor, got list"),
    ],
)
def test_top_p_filter_wrong_answers_are_named(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ch08.top_p_filter(wrong)


def test_top_p_filter_stub_is_not_implemented():
    with pytest.raises(CheckFailed, match="not implemented yet"):
        ch08.top_p_filter(_stub)


# --- attention_step ------------------------------------------------------------------------


def _step(attn, x_new, past_k, past_v, *, scale=None, own=True, first=False, proj=True):
    B, _, C = x_new.shape
    H = attn.n_head
    D = C // H
    q, k, v = attn.qkv_proj(x_new).split(C, dim=-1)
    q, k, v = (t.view(B, 1, H, D).transpose(1, 2) for t in (q, k, v))
    k_all, v_all = torch.cat((past_k, k), 2), torch.cat((past_v, v), 2)
    keys, values = (k_all, v_all) if own else (past_k, past_v)
    if first:
        keys, values = keys[:, :, :1], values[:, :, :1]
    scores = q @ keys.transpose(-2, -1) / math.sqrt(D if scale is None else scale)
    y = (torch.softmax(scores, -1) @ values).transpose(1, 2).reshape(B, 1, C)
    return (attn.out_proj(y) if proj else y), k_all, v_all


def _step_sdpa(attn, x_new, past_k, past_v):
    """Another right answer, with PyTorch's attention (no mask: one query sees all keys)."""
    q, k, v = attn.qkv(x_new)
    k, v = torch.cat((past_k, k), 2), torch.cat((past_v, v), 2)
    y = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    return attn.out_proj(attn.merge_heads(y)), k, v


def test_attention_step_right_answers_pass(capsys):
    ch08.attention_step(_step)
    ch08.attention_step(_step_sdpa)
    assert capsys.readouterr().out.count("attention_step: all 16 checks passed") == 2


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda *a: _step(*a, own=False), "attends to itself too"),
        (lambda *a: _step(*a, first=True), "lets it see the first key only"),
        (lambda *a: _step(*a, scale=a[1].shape[-1]), r"not 1/sqrt\(n_embd\)"),
        (lambda *a: _step(*a, scale=1.0), r"scaled by 1/sqrt\(head_dim\) before"),
        (lambda *a: _step(*a, proj=False), "apply the output projection"),
        (lambda *a: _step(*a)[0], r"expected a tuple \(y, k, v\)"),
        (lambda *a: (_step(*a)[0], a[2], a[3]), r"k: expected shape \(2, 3, 4, 4\)"),
    ],
)
def test_attention_step_wrong_answers_are_named(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ch08.attention_step(wrong)


def test_attention_step_stub_is_not_implemented():
    with pytest.raises(CheckFailed, match="not implemented yet"):
        ch08.attention_step(_stub)


# --- kv_cache_bytes ------------------------------------------------------------------------


def _bytes(L, H_kv, D, n, B, nbytes):
    return 2 * L * H_kv * D * n * B * nbytes


def test_kv_cache_bytes_right_answer_passes(capsys):
    ch08.kv_cache_bytes(_bytes)
    assert "kv_cache_bytes: all 8 checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda *a: _bytes(*a) // 2, "the factor 2 is missing"),
        (lambda *a: _bytes(*a) // a[5], "that is the number of elements"),
        (lambda *a: _bytes(*a) * 8, "that is in bits"),
        (lambda *a: _bytes(*a) // a[4], "multiply by batch_size"),
        (lambda *a: _bytes(*a) // a[0], "multiply by n_layer"),
        (lambda *a: str(_bytes(*a)), "expected a number, got str"),
    ],
)
def test_kv_cache_bytes_wrong_answers_are_named(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ch08.kv_cache_bytes(wrong)


def test_kv_cache_bytes_stub_is_not_implemented():
    with pytest.raises(CheckFailed, match="not implemented yet"):
        ch08.kv_cache_bytes(_stub)
