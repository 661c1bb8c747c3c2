"""Checks for the exercises of chapter 4: self-attention."""

from __future__ import annotations

import math

import torch

from gptcourse.attention import causal_mask as _causal_mask
from gptcourse.attention import scaled_dot_product_attention as _attention
from gptcourse.checks import checking, same_as

__all__ = ["attention_mask", "cross_attention", "future_leak", "score_scale"]


def attention_mask(fn) -> None:
    """Exercise: a causal mask with padding.

    ``fn(lengths: (B,) int tensor, T: int) -> (B, T, T) bool tensor``, ``True`` where query
    ``i`` of sequence ``b`` may attend to key ``j``: ``j <= i`` and ``j < lengths[b]``.
    """
    __tracebackhide__ = True
    cases = [([3, 5], 5), ([1, 4, 2], 4), ([2], 2), ([6, 6], 6)]
    with checking("attention_mask", fn) as c:
        for lengths, T in cases:
            given = torch.tensor(lengths)
            got = c.call(given.clone(), T)
            what = f"attention_mask(torch.tensor({lengths}), {T})"
            c.tensor(got, what, shape=(len(lengths), T, T))
            c.that(
                got.dtype == torch.bool,
                f"{what}: expected a bool tensor (True = may attend), got dtype {got.dtype}; "
                "build it from comparisons, or convert it with .bool()",
            )
            ones = torch.ones(T, T, dtype=torch.bool)
            real_keys = (torch.arange(T) < given[:, None])[:, None, :]  # (B, 1, T)
            real_queries = (torch.arange(T) < given[:, None])[:, :, None]  # (B, T, 1)
            expected = real_keys & _causal_mask(T)
            hints = {
                "tril(1) also keeps the diagonal just above the main one, so each query "
                "sees the token after it: the causal part is tril() (diagonal=0).": (
                    real_keys & ones.tril(1)
                ),
                "True above the diagonal lets a query see the keys after it: keep the "
                "lower triangle (tril), not the upper one (triu).": real_keys & ones.triu(),
                "a token may attend to itself: keep the diagonal (tril(), not tril(-1)).": (
                    real_keys & ones.tril(-1)
                ),
                "that is True where attention is forbidden, the convention of "
                "nn.MultiheadAttention; here True means 'may attend', as in "
                "F.scaled_dot_product_attention.": ~expected,
                "the padding is hidden from the queries (rows) instead of the keys "
                "(columns): a padded key must get no weight from any query, so the "
                "padding mask has shape (B, 1, T), not (B, T, 1).": (
                    real_queries & _causal_mask(T)
                ),
                "the padding is not masked: keys at positions j >= lengths[b] must be "
                "False.": _causal_mask(T).expand(len(lengths), T, T),
                "the causal part is missing: a query may not attend to later keys, "
                "combine the padding mask with the causal mask by & (and).": (
                    real_keys.expand(len(lengths), T, T)
                ),
            }
            message = f"{what}: expected\n{expected.int()}\ngot\n{got.int()}"
            if got.shape == expected.shape and not torch.equal(got.bool(), expected):
                for hint, wrong in hints.items():
                    if torch.equal(got.bool(), wrong):
                        message += f"\nHint: {hint}"
                        break
            c.that(torch.equal(got, expected), message)


def cross_attention(fn) -> None:
    """Exercise: cross-attention between two sequences.

    ``fn(x: (T_x, d), memory: (T_m, d), W_Q: (d, d_k), W_K: (d, d_k), W_V: (d, d_v))
    -> (T_x, d_v)``: queries from ``x``, keys and values from ``memory``, scaled by
    ``1/sqrt(d_k)``, no mask.
    """
    __tracebackhide__ = True
    generator = torch.Generator().manual_seed(0)
    with checking("cross_attention", fn) as c:
        for T_x, T_m, d, d_k, d_v in ((3, 5, 8, 4, 6), (1, 7, 6, 16, 2), (4, 2, 5, 9, 3)):

            def randn(*shape):
                return torch.randn(*shape, generator=generator, dtype=torch.float64)

            x, memory = randn(T_x, d), randn(T_m, d)
            W_Q, W_K, W_V = randn(d, d_k), randn(d, d_k), randn(d, d_v)
            got = c.call(x, memory, W_Q, W_K, W_V)
            q, k, v = x @ W_Q, memory @ W_K, memory @ W_V
            expected = _attention(q, k, v)[0]
            scores = q @ k.T
            c.close(
                got,
                expected,
                f"cross_attention(x ({T_x}, {d}), memory ({T_m}, {d}), W_Q ({d}, {d_k}), "
                f"W_K ({d}, {d_k}), W_V ({d}, {d_v}))",
                rtol=1e-6,
                hints={
                    f"the scores are divided by sqrt(d_v) = sqrt({d_v}), the width of the "
                    f"values; divide by sqrt(d_k) = sqrt({d_k}), the width of the queries "
                    "and keys whose dot products they are.": _is(
                        torch.softmax(scores / math.sqrt(d_v), -1) @ v
                    ),
                    "the scores are not scaled: divide them by sqrt(d_k) before the softmax.": _is(
                        torch.softmax(scores, -1) @ v
                    ),
                    f"the scores are divided by d_k = {d_k}; divide them by sqrt(d_k).": _is(
                        torch.softmax(scores / d_k, -1) @ v
                    ),
                    "that is self-attention over x: the keys and values must come from "
                    "memory, only the queries from x.": _is(_attention(q, x @ W_K, x @ W_V)[0]),
                    "the softmax runs over the queries (dim=0); each query's weights over "
                    "the keys must sum to 1: softmax over the last dimension.": _is(
                        torch.softmax(scores / math.sqrt(d_k), 0) @ v
                    ),
                },
            )


def score_scale(fn) -> None:
    """Exercise: the factor that gives the scores variance 1.

    ``fn(d_k: int, var_q: float, var_k: float) -> float``: the ``c`` for which
    ``c * (q . k)`` has variance 1 when the entries of ``q`` and ``k`` are independent,
    of mean 0 and variances ``var_q`` and ``var_k``.
    """
    __tracebackhide__ = True
    cases = [(64, 1.0, 1.0), (64, 1 / 3, 1 / 3), (16, 2.0, 0.5), (1, 4.0, 1.0), (128, 0.25, 2.0)]
    with checking("score_scale", fn) as c:
        for d_k, var_q, var_k in cases:
            got = c.call(d_k, var_q, var_k)
            expected = 1 / math.sqrt(d_k * var_q * var_k)
            c.close(
                got,
                expected,
                f"score_scale({d_k}, {var_q:g}, {var_k:g})",
                rtol=1e-9,
                hints={
                    "that is 1/sqrt(d_k), right only when var_q = var_k = 1: the variance "
                    "of one product q_m k_m is var_q * var_k.": same_as(1 / math.sqrt(d_k)),
                    "that makes the variance var_q * var_k * d_k times c, not c squared: "
                    "a variance scales with the square of a factor, so take a square "
                    "root.": same_as(1 / (d_k * var_q * var_k)),
                    "the variance of a product of independent zero-mean variables is the "
                    "product of their variances, not the sum.": same_as(
                        1 / math.sqrt(d_k * (var_q + var_k))
                    ),
                    "that is the spread of the scores, not the factor that removes it: "
                    "invert it.": same_as(math.sqrt(d_k * var_q * var_k)),
                },
            )


def future_leak(fn) -> None:
    """Exercise: a test for a model that reads the future.

    ``fn(model, idx: (B, T), changed: (B, T), t: int) -> float``: ``idx`` and ``changed``
    agree on positions ``0 .. t``; return the largest absolute difference between the
    model's logits on them at positions ``0 .. t``.
    """
    __tracebackhide__ = True
    from gptcourse.attention_lm import OneHeadLM

    generator = torch.Generator().manual_seed(0)
    with checking("future_leak", fn) as c:
        for causal in (True, False):
            torch.manual_seed(1)
            model = OneHeadLM(vocab_size=11, block_size=8, n_embd=16, causal=causal).eval()
            for t in (2, 5):
                idx = torch.randint(11, (3, 8), generator=generator)
                changed = idx.clone()
                changed[:, t + 1 :] = (idx[:, t + 1 :] + 1) % 11
                got = c.call(model, idx.clone(), changed.clone(), t)
                with torch.no_grad():
                    a, b = model(idx)[0], model(changed)[0]
                expected = (a[:, : t + 1] - b[:, : t + 1]).abs().max().item()
                kind = "a causal model" if causal else "a model without the causal mask"
                c.close(
                    got,
                    expected,
                    f"future_leak({kind}, idx, changed, t={t})",
                    rtol=1e-4,
                    atol=1e-6,
                    hints={
                        "positions 0 .. t are the first t + 1 positions, [:, : t + 1]; "
                        "[:, : t] leaves out position t.": same_as(
                            (a[:, :t] - b[:, :t]).abs().max().item(), rtol=1e-4
                        ),
                        "[:, : t + 2] includes position t + 1, whose own token changed: "
                        "compare positions 0 .. t only.": same_as(
                            (a[:, : t + 2] - b[:, : t + 2]).abs().max().item(), rtol=1e-4
                        ),
                        "that compares every position, including those after t, whose "
                        "tokens changed.": same_as((a - b).abs().max().item(), rtol=1e-4),
                    },
                )


def _is(wrong: torch.Tensor):
    """A hint's test: the learner's result is ``wrong`` (NaN, a fully masked row, as 0)."""
    return same_as(wrong, rtol=1e-6, nan_as_zero=True)
