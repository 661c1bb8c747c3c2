"""The checks of chapter 4's exercises: right answers pass, each named mistake gets its hint."""

from __future__ import annotations

import math

import pytest
import torch

from gptcourse import attention
from gptcourse.checks import CheckFailed, ch04


def _stub(*args, **kwargs):
    raise NotImplementedError("Exercise 3.1: replace this line with your code.")


# --- causal_mask -------------------------------------------------------------------------


def test_causal_mask_right_answers_pass(capsys):
    ch04.causal_mask(lambda T: torch.ones(T, T, dtype=torch.bool).tril())
    ch04.causal_mask(lambda T: torch.arange(T)[None, :] <= torch.arange(T)[:, None])
    assert "causal_mask: all 16 checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda T: torch.ones(T, T, dtype=torch.bool).triu(), "not the upper one"),
        (lambda T: torch.ones(T, T, dtype=torch.bool).tril(-1), "may attend to itself"),
        (
            lambda T: torch.ones(T, T, dtype=torch.bool).tril(1),
            r"sees the token after it.*tril\(\)",
        ),
        (lambda T: torch.ones(T, T, dtype=torch.bool).triu(1), "True where attention is forbid"),
        (lambda T: torch.ones(T, T).tril(), "expected a bool tensor"),
        (lambda T: torch.ones(T, T, dtype=torch.bool).tril()[:, :-1], r"expected shape \(4, 4\)"),
        (lambda T: [[True]], "expected a torch.Tensor, got list"),
        (lambda T: torch.ones(T, T, dtype=torch.bool), r"causal_mask\(4\): expected"),
    ],
)
def test_causal_mask_wrong_answers_are_named(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ch04.causal_mask(wrong)


def test_causal_mask_stub_is_not_implemented():
    with pytest.raises(CheckFailed, match="not implemented yet"):
        ch04.causal_mask(_stub)


# --- attention_one_query -----------------------------------------------------------------


def _one_query(q, K, V, scale=None, softmax=True, weights_only=False):
    scores = K @ q * (1 / math.sqrt(len(q)) if scale is None else scale)
    weights = torch.softmax(scores, 0) if softmax else scores
    return weights if weights_only else weights @ V


def test_attention_one_query_right_answer_passes(capsys):
    ch04.attention_one_query(_one_query)
    ch04.attention_one_query(
        lambda q, K, V: attention.scaled_dot_product_attention(q[None], K, V)[0][0]
    )
    assert "attention_one_query: all 3 checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda q, K, V: _one_query(q, K, V, scale=1.0), "without the scaling"),
        (lambda q, K, V: _one_query(q, K, V, scale=1 / len(q)), "divided by d_k = 16"),
        (
            lambda q, K, V: _one_query(q, K, V, scale=1 / math.sqrt(V.shape[-1])),
            r"divided by sqrt\(d_v\) = sqrt\(3\).*divide them by sqrt\(d_k\) = sqrt\(16\)",
        ),
        (lambda q, K, V: _one_query(q, K, V, softmax=False), "must be a softmax"),
        (lambda q, K, V: _one_query(q, K, V, weights_only=True), "that returns the weights"),
        (lambda q, K, V: _one_query(q, K, V) + 1, "largest difference is 1"),
    ],
)
def test_attention_one_query_wrong_answers_are_named(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ch04.attention_one_query(wrong)


def test_attention_one_query_stub_is_not_implemented():
    with pytest.raises(CheckFailed, match="not implemented yet"):
        ch04.attention_one_query(_stub)


# --- attention_weights -------------------------------------------------------------------


def _weights(Q, K, mask=None, scale=True, dim=-1, fill=float("-inf"), after=False, flip=False):
    scores = Q @ K.T / (math.sqrt(Q.shape[-1]) if scale else 1.0)
    if mask is not None and flip:
        mask = ~mask
    if mask is not None and not after:
        scores = scores.masked_fill(~mask, fill)
    weights = torch.softmax(scores, dim=dim)
    if mask is not None and after:
        weights = weights.masked_fill(~mask, 0.0)
    return weights


def test_attention_weights_right_answer_passes(capsys):
    ch04.attention_weights(_weights)
    ch04.attention_weights(
        lambda Q, K, mask: attention.scaled_dot_product_attention(Q, K, K, mask=mask)[1]
    )
    assert "attention_weights: all 3 checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda Q, K, m: _weights(Q, K, m, scale=False), "without the scaling"),
        (lambda Q, K, m: _weights(Q, K, m, dim=0), "columns sum to 1"),
        (lambda Q, K, m: _weights(Q, K, m, fill=0.0), "exp\\(0\\) = 1"),
        (lambda Q, K, m: _weights(Q, K, m, after=True), "mask the scores before the softmax"),
        (lambda Q, K, m: _weights(Q, K, m, flip=True), "mask the pairs where it is False"),
        (lambda Q, K, m: _weights(Q, K, None), "the mask was not applied"),
    ],
)
def test_attention_weights_wrong_answers_are_named(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ch04.attention_weights(wrong)


def test_attention_weights_stub_is_not_implemented():
    with pytest.raises(CheckFailed, match="not implemented yet"):
        ch04.attention_weights(_stub)
