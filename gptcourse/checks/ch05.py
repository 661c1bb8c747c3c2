"""Checks for the exercises of chapter 5: multi-head attention."""

from __future__ import annotations

import copy

import torch

from gptcourse.attention import MultiHeadAttention
from gptcourse.attention import scaled_dot_product_attention as _attention
from gptcourse.checks import checking, same_as


def count_gqa_parameters(fn) -> None:
    """Exercise: ``fn(n_embd: int, n_head: int, n_kv_head: int, bias: bool) -> int``."""
    __tracebackhide__ = True
    with checking("count_gqa_parameters", fn) as c:
        cases = ((64, 4, 4, True), (64, 8, 2, True), (4096, 32, 8, False), (768, 12, 1, True))
        for C, H, G, bias in cases:
            expected = _gqa_parameters(C, H, G, bias)
            b = 1 if bias else 0
            kv = G * (C // H)  # the width of the keys and of the values
            hints = {
                "that is the count of multi-head attention, 4C^2 (+ 4C): with n_kv_head "
                "groups, the key and value projections are only C x (n_kv_head * D) each, "
                "D = C / n_head.": same_as(4 * C * C + 4 * C * b, rtol=0, atol=0),
                "the output projection W_O (C x C, and C biases) is missing.": same_as(
                    expected - C * C - C * b, rtol=0, atol=0
                ),
                "the values shrink too: W_V is C x (n_kv_head * D), like W_K.": same_as(
                    3 * C * C + C * kv + (3 * C + kv) * b, rtol=0, atol=0
                ),
                "the biases are missing: each projection has one per output.": same_as(
                    _gqa_parameters(C, H, G, False) if bias else -1, rtol=0, atol=0
                ),
                "with bias=False there are no biases at all.": same_as(
                    _gqa_parameters(C, H, G, True) if not bias else -1, rtol=0, atol=0
                ),
            }
            if G > 1:
                hints[
                    "the keys and values have one head per group, n_kv_head * D outputs "
                    "each, not one head in all."
                ] = same_as(_gqa_parameters(C, H, 1, bias), rtol=0, atol=0)
            c.close(
                c.call(C, H, G, bias),
                expected,
                f"count_gqa_parameters(n_embd={C}, n_head={H}, n_kv_head={G}, bias={bias})",
                rtol=0,
                atol=0,
                hints=hints,
            )


def _gqa_parameters(C: int, H: int, G: int, bias: bool) -> int:
    kv = G * (C // H)  # the width of the keys, and of the values
    weights = C * C + 2 * C * kv + C * C  # W_Q, W_K, W_V, W_O
    return weights + ((C + 2 * kv + C) if bias else 0)


def without_head(fn) -> None:
    """Exercise: ``fn(attention: MultiHeadAttention, x: (B, T, C), h: int) -> (B, T, C)``,
    the module's output on ``x`` with head ``h`` removed; the module is left unchanged."""
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(5)
    with checking("without_head", fn) as c:
        for B, T, C, H, h in ((2, 5, 12, 3, 1), (1, 6, 16, 4, 0), (2, 4, 16, 4, 3)):
            torch.manual_seed(int(torch.randint(1000, (), generator=generator)))
            module = MultiHeadAttention(C, H, causal=True).double()
            with torch.no_grad():  # biases that are not zero, so that forgetting them shows
                module.out_proj.bias.normal_()
                module.qkv_proj.bias.normal_()
            x = torch.randn(B, T, C, generator=generator, dtype=torch.float64)
            before = copy.deepcopy(module.state_dict())
            with torch.no_grad():
                got = c.call(module, x, h)
            what = (
                f"without_head(<attention n_embd={C}, n_head={H}>, x of shape {(B, T, C)}, h={h})"
            )
            c.tensor(got, what, shape=(B, T, C))
            D = C // H
            c.close(
                got,
                _ablated(module, x, h),
                what,
                rtol=1e-6,
                atol=1e-8,
                hints={
                    "that is the module's output with every head: head h is still in it.": (
                        same_as(_ablated(module, x, None), rtol=1e-6)
                    ),
                    "the output bias b_O is gone too: remove head h's share of the "
                    "concatenation (its D inputs to W_O), keep the bias.": same_as(
                        _ablated(module, x, h, keep_bias=False), rtol=1e-6
                    ),
                    f"that zeroes the output channels h*D .. h*D + D - 1 after W_O; head h "
                    f"reaches every output channel through W_O: remove its D = {D} inputs "
                    "to W_O (the columns of out_proj.weight) instead.": same_as(
                        _ablated(module, x, None, zero_output=h), rtol=1e-6
                    ),
                    "zeroing head h's queries does not remove it: its weights become "
                    "uniform and it averages the values. Remove its output instead.": same_as(
                        _ablated(module, x, None, zero_query=h), rtol=1e-6
                    ),
                    "head h owns the consecutive channels h*D .. h*D + D - 1, not every "
                    "H-th channel.": same_as(_ablated(module, x, h, strided=True), rtol=1e-6),
                },
            )
            after = module.state_dict()
            c.that(
                all(torch.equal(before[k], after[k]) for k in before),
                f"{what} changed the module's weights: work on a copy "
                "(copy.deepcopy(attention)), or compute the output without writing to it.",
            )


def _ablated(module, x, h, keep_bias=True, zero_output=None, zero_query=None, strided=False):
    """The module's output with head ``h`` removed; the other arguments make mistakes."""
    C, H = module.n_embd, module.n_head
    D = C // H
    with torch.no_grad():
        q, k, v = module.qkv(x)  # (B, H, T, D)
        if zero_query is not None:
            q = q.clone()
            q[:, zero_query] = 0
        out, _ = _attention(q, k, v, causal=module.causal)  # (B, H, T, D)
        concat = module.merge_heads(out)  # (B, T, C)
        if h is not None:
            concat = concat.clone()
            if strided:
                concat[..., h::H] = 0
            else:
                concat[..., h * D : (h + 1) * D] = 0
        y = concat @ module.out_proj.weight.T
        if keep_bias:
            y = y + module.out_proj.bias
        if zero_output is not None:
            y[..., zero_output * D : (zero_output + 1) * D] = 0
    return y


def grouped_query_attention(fn) -> None:
    """Exercise: ``fn(q: (B, H, T, D), k: (B, G, T, D), v: (B, G, T, D)) -> (B, H, T, D)``,
    causal, query head ``h`` using key and value group ``h // (H // G)``."""
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(6)
    with checking("grouped_query_attention", fn) as c:
        for B, H, G, T, D in ((2, 4, 2, 5, 3), (1, 8, 2, 6, 4), (2, 6, 3, 4, 2), (1, 4, 1, 5, 4)):
            q = torch.randn(B, H, T, D, generator=generator, dtype=torch.float64)
            k = torch.randn(B, G, T, D, generator=generator, dtype=torch.float64)
            v = torch.randn(B, G, T, D, generator=generator, dtype=torch.float64)
            what = f"grouped_query_attention(q {(B, H, T, D)}, k and v {(B, G, T, D)})"
            got = c.call(q, k, v)
            c.tensor(got, what, shape=(B, H, T, D))
            hints = {
                "the attention is not causal: a position may only attend to itself and "
                "earlier positions.": same_as(_gqa(q, k, v, causal=False), rtol=1e-6),
                f"the scores are scaled by 1/sqrt({H // G * D}); each query head scales by "
                f"1/sqrt(D) = 1/sqrt({D}), the width of its queries and keys.": same_as(
                    _gqa(q, k, v, scale=(H // G * D) ** -0.5), rtol=1e-6
                ),
            }
            if 1 < G < H:
                hints[
                    "query head h must use group h // (H // G): the heads of one group are "
                    "neighbours. .repeat tiles the groups (0, 1, 0, 1, ...); "
                    ".repeat_interleave(H // G, dim=1) repeats each in place (0, 0, 1, 1)."
                ] = same_as(_gqa(q, k, v, tiled=True), rtol=1e-6)
            c.close(got, _gqa(q, k, v), what, rtol=1e-6, hints=hints)


def _gqa(q, k, v, causal=True, scale=None, tiled=False):
    H, G = q.shape[1], k.shape[1]
    if tiled:
        k, v = k.repeat(1, H // G, 1, 1), v.repeat(1, H // G, 1, 1)
    else:
        k, v = k.repeat_interleave(H // G, dim=1), v.repeat_interleave(H // G, dim=1)
    out, _ = _attention(q, k, v, causal=causal, scale=scale)
    return out
