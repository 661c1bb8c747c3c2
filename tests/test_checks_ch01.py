"""The checks of chapter 1's exercises: right answers pass, stubs and usual mistakes are named."""

from __future__ import annotations

import math

import pytest
import torch

from gptcourse.bigram import pair_counts
from gptcourse.checks import CheckFailed, ch01


def _stub(*args):
    raise NotImplementedError("Exercise 1.1: replace this line with your code.")


# Right answers, written independently of the checks' references.


def perplexity(log_probs):
    return math.exp(-log_probs.double().mean().item())


def bigram_probs(ids, vocab_size, alpha=1.0):
    counts = torch.zeros(vocab_size, vocab_size, dtype=torch.float64)
    for a, b in zip(ids[:-1].tolist(), ids[1:].tolist(), strict=True):
        counts[a, b] += 1
    return (counts + alpha) / (counts + alpha).sum(dim=1, keepdim=True)


def sample_bigram(probs, start, num_tokens, generator):
    out, current = [], start
    for _ in range(num_tokens):
        current = torch.multinomial(probs[current], 1, generator=generator).item()
        out.append(current)
    return out


def interpolated_loss(train_ids, val_ids, vocab_size, lam):
    V = vocab_size
    pairs = torch.zeros(V, V, dtype=torch.float64)
    for a, b in zip(train_ids[:-1].tolist(), train_ids[1:].tolist(), strict=True):
        pairs[a, b] += 1
    single = torch.tensor([train_ids.tolist().count(i) for i in range(V)], dtype=torch.float64)
    total = 0.0
    for a, b in zip(val_ids[:-1].tolist(), val_ids[1:].tolist(), strict=True):
        p = lam * pairs[a, b] / pairs[a].sum() + (1 - lam) * single[b] / single.sum()
        total -= math.log(p)
    return total / (len(val_ids) - 1)


@pytest.mark.parametrize(
    ("check", "right", "passed"),
    [
        (ch01.uniform_perplexity, lambda v: float(v), 4),
        (ch01.perplexity, perplexity, 4),
        (ch01.bigram_probs, bigram_probs, 4),
        (ch01.sample_bigram, sample_bigram, 4),
        (ch01.interpolated_loss, interpolated_loss, 3),
    ],
    ids=lambda x: getattr(x, "__name__", None),
)
def test_right_answers_pass_and_untouched_stubs_do_not(check, right, passed, capsys):
    check(right)
    assert f"{check.__name__}: all {passed} checks passed" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="not implemented yet"):
        check(_stub)


def test_a_learner_exception_is_shown_with_its_input():
    with pytest.raises(CheckFailed, match=r"uniform_perplexity\(65\) raised IndexError"):
        ch01.uniform_perplexity(lambda v: [1.0, 2.0][v])


@pytest.mark.parametrize(
    ("wrong", "expected_message"),
    [
        (lambda v: math.log(v), "that is the cross-entropy"),
        (lambda v: 1 / v, "that is the probability of one token"),
        (lambda v: v + 1, r"uniform_perplexity\(65\): expected 65, got 66"),
    ],
)
def test_uniform_perplexity_mistakes(wrong, expected_message):
    with pytest.raises(CheckFailed, match=expected_message):
        ch01.uniform_perplexity(wrong)


@pytest.mark.parametrize(
    ("wrong", "expected_message"),
    [
        (lambda lp: -lp.mean(), "that is the cross-entropy"),
        (lambda lp: 2 ** (-lp.mean()), r"2 \*\* cross-entropy.*natural logarithms"),
        (lambda lp: torch.exp(lp.mean()), "one over the perplexity"),
        (lambda lp: torch.exp(-lp.sum()), "uses the sum of the log-probabilities"),
        (lambda lp: 1 / lp.exp().mean(), "one over the mean probability"),
        (lambda lp: math.exp(-lp.mean()) + 1, r"expected 4, got 5$"),
    ],
)
def test_perplexity_mistakes(wrong, expected_message):
    with pytest.raises(CheckFailed, match=expected_message):
        ch01.perplexity(wrong)


def _pairs_counted(V, pairs):
    counts = torch.zeros(V, V, dtype=torch.float64)
    for a, b in pairs:
        counts[a, b] += 1
    return counts


def _rows(table):
    return table / table.sum(dim=1, keepdim=True)


@pytest.mark.parametrize(
    ("wrong", "expected_message"),
    [
        (lambda ids, V, a: pair_counts(ids, V) + a, "the rows are not normalised"),
        (lambda ids, V, a: pair_counts(ids, V), "the rows are not normalised"),
        (
            lambda ids, V, a: (pair_counts(ids, V) + a) / (pair_counts(ids, V) + a).sum(0),
            "the columns sum to 1 instead of the rows",
        ),
        (lambda ids, V, a: _rows(pair_counts(ids, V).T + a), "the table is transposed"),
        (
            lambda ids, V, a: _rows(
                _pairs_counted(V, zip(ids.tolist(), ids.roll(-1).tolist(), strict=True)) + a
            ),
            "off by one in the pairs: there is also a pair from the last token back to the first",
        ),
        (
            lambda ids, V, a: _rows(
                _pairs_counted(V, zip(ids[:-2].tolist(), ids[1:-1].tolist(), strict=True)) + a
            ),
            r"the last pair, \(ids\[N - 2\], ids\[N - 1\]\), is missing",
        ),
        (
            lambda ids, V, a: _rows(pair_counts(ids, V).double() + 1e-12),
            "the smoothing is missing",
        ),
        (
            lambda ids, V, a: (
                (pair_counts(ids, V) + a) / (pair_counts(ids, V).sum(1, keepdim=True) + a)
            ),
            r"its total grows by alpha \* V, not alpha",
        ),
        (
            lambda ids, V, a: torch.zeros(V + 1, V),
            r"expected shape \(2, 2\), got shape \(3, 2\)",
        ),
    ],
)
def test_bigram_probs_mistakes(wrong, expected_message):
    with pytest.raises(CheckFailed, match=expected_message):
        ch01.bigram_probs(wrong)


def test_bigram_probs_check_reports_the_input_it_failed_on():
    # Right on the first case (alpha = 1), wrong whenever alpha is not 1.
    def ignores_alpha(ids, V, alpha):
        return bigram_probs(ids, V, 1.0)

    with pytest.raises(CheckFailed, match=r"bigram_probs\(\[2, 0, 1, 2, 2, 1, 0\], .*alpha=0.5\)"):
        ch01.bigram_probs(ignores_alpha)


def _greedy(probs, start, n, generator):
    out, current = [], start
    for _ in range(n):
        current = int(probs[current].argmax())
        out.append(current)
    return out


def _from_start_row(probs, start, n, generator):
    return [int(torch.multinomial(probs[start], 1, generator=generator)) for _ in range(n)]


def _from_column(probs, start, n, generator):
    return sample_bigram(probs.T.contiguous(), start, n, generator)


def _global_generator(probs, start, n, generator):
    torch.manual_seed(0)
    return sample_bigram(probs, start, n, None)


@pytest.mark.parametrize(
    ("wrong", "expected_message"),
    [
        (lambda p, s, n, g: [s, *sample_bigram(p, s, n, g)], "the start token is not part"),
        (lambda p, s, n, g: sample_bigram(p, s, n, g)[:-1], "return exactly num_tokens=7 ids"),
        (_greedy, "the most probable token at every step"),
        (_from_start_row, "every token is drawn from the row of `start`"),
        (_from_column, r"samples from a column, probs\[:, current\]"),
        (_global_generator, "passing the generator you were given"),
        (lambda p, s, n, g: "abc", "expected a list of ints, got str"),
    ],
)
def test_sample_bigram_mistakes(wrong, expected_message):
    with pytest.raises(CheckFailed, match=expected_message):
        ch01.sample_bigram(wrong)


def _interpolated_variant(variant):
    return lambda t, v, V, lam: ch01._interpolated(t, v, V, lam, variant=variant)


@pytest.mark.parametrize(
    ("wrong", "expected_message"),
    [
        (_interpolated_variant("swapped"), "the two are swapped"),
        (_interpolated_variant("val unigram"), "counted on the validation ids"),
        (_interpolated_variant("log2"), r"in bits \(log base 2\)"),
        (_interpolated_variant("sum"), "the sum over the pairs"),
        (
            lambda t, v, V, lam: interpolated_loss(t, v, V, lam) + 0.1,
            r"expected 1.94591, got 2.04591$",
        ),
    ],
)
def test_interpolated_loss_mistakes(wrong, expected_message):
    with pytest.raises(CheckFailed, match=expected_message):
        ch01.interpolated_loss(wrong)
