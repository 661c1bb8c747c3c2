"""Checks for the exercises of chapter 4: self-attention."""

from __future__ import annotations

import math

import torch

from gptcourse.attention import causal_mask as _causal_mask
from gptcourse.attention import scaled_dot_product_attention as _attention
from gptcourse.checks import checking, same_as


def causal_mask(fn) -> None:
    """Exercise: the causal mask. ``fn(T: int) -> (T, T) bool tensor``, True = may attend."""
    __tracebackhide__ = True
    with checking("causal_mask", fn) as c:
        for T in (4, 1, 2, 8):
            got = c.call(T)
            what = f"causal_mask({T})"
            c.tensor(got, what, shape=(T, T))
            c.that(
                got.dtype == torch.bool,
                f"{what}: expected a bool tensor (True = may attend), got dtype {got.dtype}. "
                "Build it with dtype=torch.bool or convert it with .bool().",
            )
            expected = _causal_mask(T)
            message = f"{what}: expected\n{expected.int()}\ngot\n{got.int()}"
            ones = torch.ones(T, T, dtype=torch.bool)
            hints = {
                "True above the diagonal lets a query see the keys after it: keep the "
                "lower triangle (tril), not the upper one (triu).": ones.triu(),
                "a token may attend to itself: keep the diagonal (tril(), not tril(-1)).": (
                    ones.tril(-1)
                ),
                "tril(1) also keeps the diagonal just above the main one, so each query "
                "sees the token after it: keep the lower triangle with the main diagonal, "
                "tril() (diagonal=0).": ones.tril(1),
                "that is True where attention is forbidden; here True means 'may attend' "
                "(the lower triangle, diagonal included).": ~expected,
            }
            for hint, wrong in hints.items():
                if torch.equal(got, wrong):
                    message += f"\nHint: {hint}"
                    break
            c.that(torch.equal(got, expected), message)


def attention_one_query(fn) -> None:
    """Exercise: attention of one query, with loops.

    ``fn(q: (d_k,), K: (T, d_k), V: (T, d_v)) -> (d_v,)``.
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(0)
    with checking("attention_one_query", fn) as c:
        for T, d_k, d_v in ((1, 4, 3), (5, 16, 3), (7, 64, 5)):
            q = torch.randn(d_k, generator=generator, dtype=torch.float64)
            K = torch.randn(T, d_k, generator=generator, dtype=torch.float64)
            V = torch.randn(T, d_v, generator=generator, dtype=torch.float64)
            got = c.call(q, K, V)
            expected = _attention(q[None], K, V)[0][0]  # (d_v,)
            scores = K @ q  # (T,)
            c.close(
                got,
                expected,
                f"attention_one_query(q of shape ({d_k},), K of shape ({T}, {d_k}), "
                f"V of shape ({T}, {d_v}))",
                rtol=1e-6,
                hints={
                    f"that is the attention without the scaling: divide each score by "
                    f"sqrt(d_k) = {math.sqrt(d_k):g} before the softmax.": _is(
                        torch.softmax(scores, 0) @ V
                    ),
                    f"the scores are divided by d_k = {d_k}; divide them by sqrt(d_k).": _is(
                        torch.softmax(scores / d_k, 0) @ V
                    ),
                    f"the scores are divided by sqrt(d_v) = sqrt({d_v}), the width of the "
                    f"values; divide them by sqrt(d_k) = sqrt({d_k}), the width of the query "
                    "and the keys whose dot products they are.": _is(
                        torch.softmax(scores / math.sqrt(d_v), 0) @ V
                    ),
                    "the weights must be a softmax of the scores (positive, summing to 1), "
                    "not the scores themselves.": _is(scores / math.sqrt(d_k) @ V),
                    "that returns the weights: the output is their weighted sum of the "
                    "value vectors V[j].": _is(torch.softmax(scores / math.sqrt(d_k), 0)),
                },
            )


def attention_weights(fn) -> None:
    """Exercise: scaled and masked attention weights.

    ``fn(Q: (T_q, d_k), K: (T_k, d_k), mask: (T_q, T_k) bool | None) -> (T_q, T_k)``.
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(1)
    with checking("attention_weights", fn) as c:
        cases = [(4, 6, 8, None), (5, 5, 16, "causal"), (3, 6, 32, "random")]
        for T_q, T_k, d_k, kind in cases:
            Q = torch.randn(T_q, d_k, generator=generator, dtype=torch.float64)
            K = torch.randn(T_k, d_k, generator=generator, dtype=torch.float64)
            if kind == "causal":
                mask = _causal_mask(T_q)
            elif kind == "random":
                mask = torch.rand(T_q, T_k, generator=generator) < 0.6
                mask[:, 0] = True  # every query may attend somewhere
            else:
                mask = None
            got = c.call(Q, K, mask)
            expected = _attention(Q, K, torch.eye(T_k, dtype=Q.dtype), mask=mask)[1]
            scores = Q @ K.T / math.sqrt(d_k)
            hints = {
                "that is softmax(Q @ K.T) without the scaling: divide the scores by "
                "sqrt(d_k) first.": _is(_masked_softmax(Q @ K.T, mask)),
                "the columns sum to 1 instead of the rows: take the softmax over the keys, "
                "the last dimension (dim=-1).": _is(_masked_softmax(scores, mask, dim=0)),
            }
            if mask is not None:
                hints.update(
                    {
                        "masked scores set to 0 still get weight, since exp(0) = 1: set them "
                        "to -inf (masked_fill(~mask, float('-inf'))).": _is(
                            torch.softmax(scores.masked_fill(~mask, 0.0), -1)
                        ),
                        "the rows no longer sum to 1: mask the scores before the softmax, "
                        "not the weights after it.": _is(
                            torch.softmax(scores, -1).masked_fill(~mask, 0.0)
                        ),
                        "True in the mask means 'may attend': mask the pairs where it is "
                        "False (~mask), not where it is True.": _is(_masked_softmax(scores, ~mask)),
                        "the mask was not applied: the weights of the pairs where it is False "
                        "must be 0.": _is(torch.softmax(scores, -1)),
                    }
                )
            c.close(
                got,
                expected,
                f"attention_weights(Q of shape ({T_q}, {d_k}), K of shape ({T_k}, {d_k}), "
                f"mask={'None' if mask is None else f'{kind} bool ({T_q}, {T_k})'})",
                rtol=1e-6,
                hints=hints,
            )


def _masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None, dim: int = -1):
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim).nan_to_num(0.0)


def _is(wrong: torch.Tensor):
    """A hint's test: the learner's result is ``wrong`` (NaN, a fully masked row, as 0)."""
    return same_as(wrong, rtol=1e-6, nan_as_zero=True)
