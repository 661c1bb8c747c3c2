"""The exercise checks: a right answer passes, each kind of wrong answer is named."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gptcourse.checks import CheckFailed, ch01, checking


def test_right_answer_passes_and_says_so(capsys):
    ch01.uniform_perplexity(lambda v: float(v))
    assert "uniform_perplexity: all 4 checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "expected_message"),
    [
        (lambda v: math.log(v), "that is the cross-entropy"),
        (lambda v: 1 / v, "that is the probability of one token"),
        (lambda v: v + 1, r"uniform_perplexity\(65\): expected 65, got 66"),
    ],
)
def test_wrong_answers_get_specific_messages(wrong, expected_message):
    with pytest.raises(CheckFailed, match=expected_message):
        ch01.uniform_perplexity(wrong)


def test_untouched_stub_is_reported_as_not_implemented():
    def stub(v):
        raise NotImplementedError("Exercise 1.1: replace this line with your code.")

    with pytest.raises(CheckFailed, match="not implemented yet"):
        ch01.uniform_perplexity(stub)


def test_learner_exception_is_shown_with_its_input():
    with pytest.raises(CheckFailed, match=r"uniform_perplexity\(65\) raised IndexError"):
        ch01.uniform_perplexity(lambda v: [1.0, 2.0][v])


def test_passing_a_value_instead_of_a_function():
    with pytest.raises(CheckFailed, match="expected a function, got float"):
        ch01.uniform_perplexity(65.0)


def test_close_compares_shapes_then_values_of_tensors():
    with pytest.raises(CheckFailed, match=r"expected shape \(2, 3\), got shape \(3, 2\)"):
        with checking("f", print) as c:
            c.close(torch.zeros(3, 2), np.zeros((2, 3)), "f(x)")
    with pytest.raises(CheckFailed, match=r"largest difference is 0.5 at index \(1, 2\)"):
        with checking("f", print) as c:
            expected = torch.zeros(2, 3)
            got = expected.clone()
            got[1, 2] = 0.5
            c.close(got, expected, "f(x)")


def test_a_failing_hint_never_hides_the_failure():
    def broken_hint(_):
        raise RuntimeError("bug in the hint")

    with pytest.raises(CheckFailed, match="expected 1, got 2"):
        with checking("f", print) as c:
            c.close(2.0, 1.0, "f()", hints={"never shown": broken_hint})
