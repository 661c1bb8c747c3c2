"""Checks for the exercises of chapter 1: what a language model is."""

from __future__ import annotations

import math

from gptcourse.checks import checking


def uniform_perplexity(fn) -> None:
    """Exercise: the perplexity of a model that is uniform over ``vocab_size`` tokens.

    ``fn(vocab_size: int) -> float``.
    """
    __tracebackhide__ = True
    with checking("uniform_perplexity", fn) as c:
        for vocab_size in (65, 2, 50_257, 1):
            got = c.call(vocab_size)
            c.close(
                got,
                float(vocab_size),
                f"uniform_perplexity({vocab_size})",
                hints={
                    "that is the cross-entropy, log(V); perplexity is exp(cross-entropy).": (
                        lambda g, v=vocab_size: v > 1 and math.isclose(float(g), math.log(v))
                    ),
                    "that is the probability of one token, 1/V; perplexity is its inverse.": (
                        lambda g, v=vocab_size: v > 1 and math.isclose(float(g), 1 / v)
                    ),
                },
            )
