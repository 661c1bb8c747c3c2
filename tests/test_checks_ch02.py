"""The checks of chapter 2's exercises: right answers pass, stubs and usual mistakes are named."""

from __future__ import annotations

import math

import pytest
import torch
from torch.func import jacrev

from gptcourse.checks import CheckFailed, ch02


def _stub(*args):
    raise NotImplementedError("Exercise 2-1: replace this line with your code.")


# Right answers, written independently of the checks' references.


def warmup_cosine_lr(step, max_lr, warmup_steps, max_steps, min_lr_ratio):
    if step < warmup_steps:
        start = 1 / warmup_steps
        return max_lr * (start + (1 - start) * step / warmup_steps)
    progress = (step - warmup_steps) / (max_steps - warmup_steps)
    low = min_lr_ratio * max_lr
    return low + (max_lr - low) * 0.5 * (1 + math.cos(math.pi * progress))


def receptive_field(kernel_sizes, dilations):
    field = 1
    for k, d in zip(kernel_sizes, dilations, strict=True):
        field += (k - 1) * d
    return field


def optimal_bigram_logits(ids, vocab_size):
    counts = torch.zeros(vocab_size, vocab_size, dtype=torch.float64)
    for a, b in zip(ids[:-1].tolist(), ids[1:].tolist(), strict=True):
        counts[a, b] += 1
    logits = counts.log() + 3.0  # a constant per row does not change the softmax
    logits[counts.sum(dim=1) == 0] = 0.0
    return logits


def rnn_jacobian_norms(W, hs):
    J = torch.eye(len(W), dtype=torch.float64)
    norms = [1.0]
    for s in range(len(hs) - 1, 0, -1):
        J = J @ torch.diag(1 - hs[s] ** 2) @ W
        norms.append(torch.linalg.matrix_norm(J, ord=2).item())
    return torch.tensor(norms)


@pytest.mark.parametrize(
    ("check", "right", "passed"),
    [
        (ch02.warmup_cosine_lr, warmup_cosine_lr, 3),
        (ch02.receptive_field, receptive_field, 5),
        (ch02.optimal_bigram_logits, optimal_bigram_logits, 15),
        (ch02.rnn_jacobian_norms, rnn_jacobian_norms, 3),
    ],
    ids=lambda x: getattr(x, "__name__", None),
)
def test_right_answers_pass_and_untouched_stubs_do_not(check, right, passed, capsys):
    check(right)
    assert f"{check.__name__}: all {passed} checks passed" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="not implemented yet"):
        check(_stub)


def test_the_schedule_reference_is_the_packages_scheduler_at_known_points():
    lrs = ch02._schedule(1.0, 2, 6, 0.0)  # the doctest of gptcourse.optim.warmup_cosine
    assert [round(x, 3) for x in lrs] == [0.5, 0.75, 1.0, 0.854, 0.5, 0.146, 0.0]


def _schedule_variant(variant):
    return lambda s, lr, w, m, r: ch02._schedule_variant(lr, w, m, r, variant)[s]


@pytest.mark.parametrize(
    ("wrong", "expected_message"),
    [
        (_schedule_variant("from zero"), "the warmup starts at 0"),
        (_schedule_variant("plus one"), r"the warmup is \(step \+ 1\) / warmup_steps"),
        (_schedule_variant("to zero"), "the decay ends at 0"),
        (_schedule_variant("whole period"), "the cosine runs over all max_steps steps"),
        (lambda s, lr, w, m, r: lr, "values differ"),
    ],
)
def test_warmup_cosine_lr_mistakes(wrong, expected_message):
    with pytest.raises(CheckFailed, match=expected_message):
        ch02.warmup_cosine_lr(wrong)


def test_the_receptive_field_reference_is_measured_not_computed():
    assert ch02._measured_field([3], [1]) == 3
    assert ch02._measured_field([2, 2, 2], [1, 2, 4]) == 8  # WaveNet's doubling
    assert ch02._measured_field([5, 3], [1, 5]) == 15


@pytest.mark.parametrize(
    ("wrong", "expected_message"),
    [
        (lambda ks, ds: receptive_field(ks, ds) - 1, "one short"),
        (lambda ks, ds: 1 + sum(k - 1 for k in ks), "the dilations are ignored"),
        (lambda ks, ds: math.prod(ks), "that multiplies the kernel sizes"),
        (lambda ks, ds: 1 + sum(k * d for k, d in zip(ks, ds, strict=True)), "reaches k - 1"),
        (lambda ks, ds: 0, r"receptive_field\(\[3\], \[1\]\): expected 3, got 0"),
    ],
)
def test_receptive_field_mistakes(wrong, expected_message):
    with pytest.raises(CheckFailed, match=expected_message):
        ch02.receptive_field(wrong)


def _counts(ids, V):
    counts = torch.zeros(V, V, dtype=torch.float64)
    counts.index_put_(
        (ids[:-1], ids[1:]), torch.ones(len(ids) - 1, dtype=torch.float64), accumulate=True
    )
    return counts


def _probs(ids, V):
    counts = _counts(ids, V)
    return (counts / counts.sum(dim=1, keepdim=True)).nan_to_num()


@pytest.mark.parametrize(
    ("wrong", "expected_message"),
    [
        (lambda ids, V: _counts(ids, V).log(), "some rows of the softmax are NaN"),
        (_probs, "those logits are the probabilities themselves"),
        (_counts, "those logits are the counts"),
        (lambda ids, V: optimal_bigram_logits(ids, V).T.contiguous(), "the table is transposed"),
        (lambda ids, V: torch.zeros(V, V + 1), r"expected shape \(3, 3\), got shape \(3, 4\)"),
    ],
)
def test_optimal_bigram_logits_mistakes(wrong, expected_message):
    with pytest.raises(CheckFailed, match=expected_message):
        ch02.optimal_bigram_logits(wrong)


def test_the_rnn_reference_is_autograds_jacobian():
    W, hs = ch02._rnn_case(hidden=4, steps=6, rho=1.5, seed=0)
    U_x = torch.atanh(hs[1:]) - hs[:-1] @ W.T  # recover the inputs' contribution, (T, H)

    def run(h, t):  # h_T as a function of h_t
        for s in range(t, len(U_x)):
            h = torch.tanh(W @ h + U_x[s])
        return h

    norms = ch02._rnn_norms(W, hs)
    for t in range(len(hs)):
        J = jacrev(run)(hs[t], t)
        assert math.isclose(torch.linalg.matrix_norm(J, ord=2), norms[6 - t], rel_tol=1e-7)


def _rnn_variant(variant):
    return lambda W, hs: ch02._rnn_norms(W, hs, variant=variant)


@pytest.mark.parametrize(
    ("wrong", "expected_message"),
    [
        (lambda W, hs: rnn_jacobian_norms(W, hs)[1:], "return T \\+ 1 norms"),
        (_rnn_variant("no tanh"), "the tanh derivative is missing"),
        (_rnn_variant("previous state"), r"off by one: .*with the new state h_s = hs\[s\]"),
        (_rnn_variant("order"), "multiplied in the wrong order"),
        (_rnn_variant("fro"), "that is the Frobenius norm"),
        (lambda W, hs: rnn_jacobian_norms(W, hs).flip(0), "the norms are in reverse order"),
    ],
)
def test_rnn_jacobian_norms_mistakes(wrong, expected_message):
    with pytest.raises(CheckFailed, match=expected_message):
        ch02.rnn_jacobian_norms(wrong)
