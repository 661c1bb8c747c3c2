"""Checks for the exercises of chapter 5: multi-head attention."""

from __future__ import annotations

import math

import torch

from gptcourse.attention import MultiHeadAttention
from gptcourse.attention import scaled_dot_product_attention as _attention
from gptcourse.checks import checking, same_as


def split_heads(fn) -> None:
    """Exercise: ``fn(x: (B, T, C), n_head: int) -> (B, H, T, C / H)``."""
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(0)
    with checking("split_heads", fn) as c:
        for B, T, C, H in ((2, 5, 12, 3), (1, 7, 8, 2), (3, 6, 16, 4), (2, 3, 5, 1)):
            x = torch.randn(B, T, C, generator=generator)
            D = C // H
            got = c.call(x, H)
            expected = x.view(B, T, H, D).transpose(1, 2)  # (B, H, T, D)
            c.close(
                got,
                expected,
                f"split_heads(x of shape {(B, T, C)}, n_head={H})",
                rtol=0,
                atol=0,
                hints={
                    f"that is (B, T, H, C/H) = {(B, T, H, D)}: swap the T and H dimensions "
                    "with .transpose(1, 2).": same_as(x.view(B, T, H, D)),
                    "reshaping (B, T, C) straight to (B, H, T, C/H) mixes time steps into "
                    "the heads: view it as (B, T, H, C/H) first, then transpose(1, 2).": same_as(
                        x.reshape(B, H, T, D)
                    ),
                    "head h must get the consecutive channels h*D .. h*D + D - 1, not every "
                    "H-th channel: view the last dimension as (H, D), not (D, H).": same_as(
                        x.view(B, T, D, H).permute(0, 3, 1, 2)
                    ),
                },
            )


def merge_heads(fn) -> None:
    """Exercise: ``fn(x: (B, H, T, D)) -> (B, T, H * D)``, the inverse of ``split_heads``."""
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(1)
    with checking("merge_heads", fn) as c:
        for B, H, T, D in ((2, 3, 5, 4), (1, 2, 7, 4), (3, 4, 6, 4), (2, 1, 3, 5)):
            x = torch.randn(B, H, T, D, generator=generator)
            got = c.call(x)
            expected = x.transpose(1, 2).reshape(B, T, H * D)
            c.close(
                got,
                expected,
                f"merge_heads(x of shape {(B, H, T, D)})",
                rtol=0,
                atol=0,
                hints={
                    "reshaping (B, H, T, D) straight to (B, T, H*D) mixes the heads' time "
                    "steps: transpose(1, 2) to (B, T, H, D) first, then reshape.": same_as(
                        x.reshape(B, T, H * D)
                    ),
                    f"that is (B, T, H, D) = {(B, T, H, D)}: join the last two dimensions "
                    "with .reshape(B, T, H * D).": same_as(x.transpose(1, 2)),
                },
            )
        x = torch.randn(2, 8, 12, generator=generator)
        heads = x.view(2, 8, 3, 4).transpose(1, 2)
        c.close(c.call(heads), x, "merge_heads(split_heads(x)) == x", rtol=0, atol=0)


def count_attention_parameters(fn) -> None:
    """Exercise: ``fn(n_embd: int, n_head: int, bias: bool) -> int``."""
    __tracebackhide__ = True
    with checking("count_attention_parameters", fn) as c:
        for C, H, bias in ((64, 4, True), (768, 12, True), (768, 12, False), (12, 3, False)):
            got = c.call(C, H, bias)
            expected = sum(p.numel() for p in MultiHeadAttention(C, H, bias=bias).parameters())
            biases = 4 * C if bias else 0
            c.close(
                got,
                expected,
                f"count_attention_parameters(n_embd={C}, n_head={H}, bias={bias})",
                rtol=0,
                atol=0,
                hints={
                    "that counts a full-width set of projections for every head; each head "
                    "projects to only C/H dimensions, so the heads together have as many "
                    "parameters as one head of width C.": same_as(
                        H * (4 * C * C + biases), rtol=0, atol=0
                    ),
                    "the biases are missing: the input projections have 3C of them and the "
                    "output projection C.": same_as(4 * C * C, rtol=0, atol=0),
                    "the output projection W_O (C x C, and C biases) is missing.": same_as(
                        3 * C * C + (3 * C if bias else 0), rtol=0, atol=0
                    ),
                    "with bias=False there are no biases at all.": same_as(
                        4 * C * C + 4 * C if not bias else -1, rtol=0, atol=0
                    ),
                },
            )


def multi_head_attention(fn) -> None:
    """Exercise: causal multi-head attention from its weights.

    ``fn(x: (B, T, C), W_qkv: (C, 3C), b_qkv: (3C,), W_o: (C, C), b_o: (C,), n_head)``
    ``-> (B, T, C)``.
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(2)
    with checking("multi_head_attention", fn) as c:
        for B, T, C, H in ((2, 5, 12, 3), (1, 6, 16, 4), (2, 4, 8, 1)):
            x = torch.randn(B, T, C, generator=generator, dtype=torch.float64)
            W_qkv = torch.randn(C, 3 * C, generator=generator, dtype=torch.float64)
            b_qkv = torch.randn(3 * C, generator=generator, dtype=torch.float64)
            W_o = torch.randn(C, C, generator=generator, dtype=torch.float64) / math.sqrt(C)
            b_o = torch.randn(C, generator=generator, dtype=torch.float64)
            weights = (x, W_qkv, b_qkv, W_o, b_o, H)
            got = c.call(x, W_qkv, b_qkv, W_o, b_o, H)
            c.close(
                got,
                _reference(*weights),
                f"multi_head_attention(x of shape {(B, T, C)}, n_head={H})",
                rtol=1e-6,
                hints={
                    f"the scores are scaled by 1/sqrt(C) = 1/sqrt({C}); each head scales "
                    f"by 1/sqrt(D), the width of its own queries, D = C/H = {C // H}.": same_as(
                        _reference(*weights, scale=1 / math.sqrt(C)), rtol=1e-6
                    ),
                    "the attention is not causal: a position may only attend to itself and "
                    "earlier positions (causal mask).": same_as(
                        _reference(*weights, causal=False), rtol=1e-6
                    ),
                    "the output projection is missing: multiply the concatenated heads by "
                    "W_o and add b_o.": same_as(_reference(*weights, project=False), rtol=1e-6),
                    "the heads were not split right: view (B, T, C) as (B, T, H, D), then "
                    "transpose to (B, H, T, D).": same_as(
                        _reference(*weights, split_by_reshape=True), rtol=1e-6
                    ),
                },
            )


def _reference(
    x, W_qkv, b_qkv, W_o, b_o, H, scale=None, causal=True, project=True, split_by_reshape=False
):
    """Causal multi-head attention; the keyword arguments make its usual mistakes."""
    B, T, C = x.shape
    D = C // H
    q, k, v = (x @ W_qkv + b_qkv).split(C, dim=-1)  # 3 x (B, T, C)
    if split_by_reshape:
        q, k, v = (t.reshape(B, H, T, D) for t in (q, k, v))
    else:
        q, k, v = (t.view(B, T, H, D).transpose(1, 2) for t in (q, k, v))  # (B, H, T, D)
    out, _ = _attention(q, k, v, causal=causal, scale=scale)  # (B, H, T, D)
    out = out.transpose(1, 2).reshape(B, T, C)  # (B, T, C)
    return out @ W_o + b_o if project else out
