"""The checks toolkit: how a check counts, compares and reports, on a small check of its own.

The checks of each chapter's exercises are tested in ``test_checks_chNN.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gptcourse.checks import CheckFailed, checking


def double_check(fn) -> None:
    """A check written like the chapters' ones: ``fn(x)`` must return ``2 * x``."""
    __tracebackhide__ = True
    with checking("double", fn) as c:
        for x in (3, 0, -2):
            c.close(
                c.call(x),
                float(2 * x),
                f"double({x})",
                hints={"that is x squared.": lambda g, x=x: g == x * x},
            )


def test_right_answer_passes_and_says_so(capsys):
    double_check(lambda x: 2 * x)
    assert "double: all 3 checks passed" in capsys.readouterr().out


def test_wrong_answer_names_the_input_and_the_hint():
    with pytest.raises(
        CheckFailed, match=r"double\(3\): expected 6, got 9\nHint: that is x squared"
    ):
        double_check(lambda x: x * x)
    with pytest.raises(CheckFailed, match=r"double\(3\): expected 6, got 7$"):
        double_check(lambda x: x + 4)


def test_untouched_stub_is_reported_as_not_implemented():
    def stub(x):
        raise NotImplementedError("Exercise 1.1: replace this line with your code.")

    with pytest.raises(CheckFailed, match="not implemented yet"):
        double_check(stub)


def test_learner_exception_is_shown_with_its_input():
    with pytest.raises(CheckFailed, match=r"double\(3\) raised IndexError"):
        double_check(lambda x: [1.0, 2.0][x])


def test_passing_a_value_instead_of_a_function():
    with pytest.raises(CheckFailed, match="expected a function, got float"):
        double_check(6.0)


def test_close_wants_a_number_for_a_number():
    with pytest.raises(CheckFailed, match="expected a number, got str"):
        double_check(lambda x: "six")


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
