"""Automatic checks for the exercises.

Every coding exercise ends with a call such as ``check.uniform_perplexity(my_fn)``
(with ``from gptcourse.checks import ch01 as check``). The check calls the
learner's function on several inputs, compares each result with the course's
reference behaviour and either prints how many checks passed or raises
:class:`CheckFailed` with a message that says which input went wrong, what was
expected, and, for the usual mistakes, why.

The modules ``ch01``, ``ch03``, ... hold the checks of each chapter's exercises;
this module holds the small toolkit they share: :func:`checking` and its
:class:`Checker` (``call`` the learner's function; ``close``, ``equal``, ``that`` and
``tensor`` to count checks), and :func:`same_as`, the test of a hint that recognises a
known wrong answer::

    with checking("double", fn) as c:
        c.close(c.call(3), 6.0, "double(3)", hints={"that is x squared.": same_as(9.0)})
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["CheckFailed", "Checker", "checking", "same_as"]

#: A hint: an explanation, and a test of the learner's answer that recognises the mistake
#: it explains (such as :func:`same_as`).
Hints = dict[str, Callable[[Any], bool]]


class CheckFailed(AssertionError):
    """The learner's code does not (yet) behave as the exercise asks."""


class Checker:
    """Calls one learner function and compares what it returns.

    Use it through :func:`checking`; each comparison that passes counts one check.
    """

    def __init__(self, name: str, fn: Any):
        self.name = name
        self.fn = fn
        self.passed = 0

    def fail(self, message: str) -> None:
        """Stop with ``message`` (the check failed)."""
        __tracebackhide__ = True
        raise CheckFailed(message if message.startswith(self.name) else f"{self.name}: {message}")

    def call(self, *args: Any, **kwargs: Any) -> Any:
        """Call the learner's function; turn its exceptions into a clear failure."""
        __tracebackhide__ = True
        shown = ", ".join(
            [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()]
        )
        try:
            return self.fn(*args, **kwargs)
        except NotImplementedError:
            self.fail(
                "not implemented yet: it still raises NotImplementedError. Replace the "
                "`raise NotImplementedError(...)` line with your code, then run the cell again."
            )
        except CheckFailed:
            raise
        except Exception as e:  # the learner's bug: show it, and where it came from
            raise CheckFailed(f"{self.name}({shown}) raised {type(e).__name__}: {e}") from e

    def that(self, condition: bool, message: str) -> None:
        """Count one check that passes when ``condition`` holds, else fail with ``message``."""
        __tracebackhide__ = True
        if not condition:
            self.fail(message)
        self.passed += 1

    def close(
        self,
        got: Any,
        expected: Any,
        what: str,
        *,
        rtol: float = 1e-5,
        atol: float = 1e-8,
        hints: Hints | None = None,
    ) -> None:
        """Check that ``got`` is numerically ``expected`` (numbers, arrays or tensors).

        ``hints`` maps an explanation to a test of ``got`` that recognises a common
        mistake; the first that matches is added to the failure message.
        """
        __tracebackhide__ = True
        problem = _compare(got, expected, rtol, atol)
        if problem:
            self.fail(f"{what}: {problem}" + _hint(got, hints))
        self.passed += 1

    def equal(self, got: Any, expected: Any, what: str, *, hints: Hints | None = None) -> None:
        """Check that ``got == expected`` exactly (ids, lists, dicts, strings).

        On failure the message shows both, and the first of ``hints`` whose test
        recognises ``got``.
        """
        __tracebackhide__ = True
        if got != expected:
            self.fail(f"{what}: expected {expected!r}, got {got!r}" + _hint(got, hints))
        self.passed += 1

    def tensor(
        self,
        got: Any,
        what: str,
        *,
        shape: tuple[int, ...] | None = None,
        dtype: Any = None,
    ) -> Any:
        """Check that ``got`` is a ``torch.Tensor`` (one check), of ``shape`` and ``dtype``
        when they are given (one check each); return it."""
        __tracebackhide__ = True
        import torch

        self.that(
            isinstance(got, torch.Tensor),
            f"{what}: expected a torch.Tensor, got {type(got).__name__}",
        )
        if shape is not None:
            self.that(
                tuple(got.shape) == tuple(shape),
                f"{what}: expected shape {tuple(shape)}, got shape {tuple(got.shape)}",
            )
        if dtype is not None:
            self.that(got.dtype == dtype, f"{what}: expected dtype {dtype}, got dtype {got.dtype}")
        return got


def same_as(
    wrong: Any, *, rtol: float = 1e-5, atol: float = 1e-8, nan_as_zero: bool = False
) -> Callable[[Any], bool]:
    """A hint's test: whether the learner's answer is ``wrong``, a known wrong answer.

    ``wrong`` is a number, a list, an array or a tensor; the answer matches when it has
    its shape and values, to ``rtol`` and ``atol`` (for a number, any answer that
    ``float`` reads as that number). With ``nan_as_zero``, a NaN on either side counts as
    0 (a softmax over scores that are all masked). A test that cannot compare (an answer
    of another type) does not match.

        >>> same_as(9.0)(9), same_as([1, 2])([[1, 2]]), same_as(4, rtol=0, atol=0)(4.5)
        (True, False, False)
    """
    import numpy as np

    want = _as_array(wrong)

    def recognise(got: Any) -> bool:
        if want is not None and want.shape == ():
            try:
                got = float(got)
            except (TypeError, ValueError, RuntimeError):
                return False
        have = _as_array(got)
        if have is None or want is None or have.shape != want.shape:
            return False
        a, b = (np.nan_to_num(x, nan=0.0) for x in (have, want)) if nan_as_zero else (have, want)
        return bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))

    return recognise


@contextmanager
def checking(name: str, fn: Any) -> Iterator[Checker]:
    """Run the checks of the learner's ``fn`` and report on them.

    Example::

        with checking("uniform_perplexity", fn) as c:
            c.close(c.call(65), 65.0, "uniform_perplexity(65)")
    """
    __tracebackhide__ = True
    if not callable(fn):
        raise CheckFailed(
            f"{name}: expected a function, got {type(fn).__name__}. Pass the function "
            f"itself, e.g. check.{name}({name}), without calling it."
        )
    checker = Checker(name, fn)
    yield checker
    print(f"\u2714 {name}: all {checker.passed} checks passed.")


def _hint(got: Any, hints: Hints | None) -> str:
    """``"\\nHint: ..."``: the first of ``hints`` whose test recognises ``got``, or ``""``."""
    for explanation, recognise in (hints or {}).items():
        try:
            if recognise(got):
                return f"\nHint: {explanation}"
        except Exception:  # a hint's own test must never hide the failure
            pass
    return ""


def _short(value: Any) -> str:
    """A short description of an argument for failure messages."""
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"<{type(value).__name__} of shape {tuple(shape)}>"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _compare(got: Any, expected: Any, rtol: float, atol: float) -> str | None:
    """Why ``got`` is not close to ``expected``, or ``None`` when it is."""
    import numpy as np

    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        try:
            value = float(got)
        except (TypeError, ValueError):
            return f"expected a number, got {type(got).__name__} {_short(got)}"
        if math.isclose(value, expected, rel_tol=rtol, abs_tol=atol):
            return None
        return f"expected {expected:.6g}, got {value:.6g}"
    got_array = _as_array(got)
    if got_array is None:
        return f"expected an array or tensor, got {type(got).__name__}"
    want = _as_array(expected)
    if got_array.shape != want.shape:
        return f"expected shape {tuple(want.shape)}, got shape {tuple(got_array.shape)}"
    if np.allclose(got_array, want, rtol=rtol, atol=atol, equal_nan=True):
        return None
    diff = np.abs(got_array.astype(float) - want.astype(float))
    where = np.unravel_index(np.nanargmax(diff), diff.shape)
    return (
        f"values differ; the largest difference is {float(diff[where]):.3g} at index "
        f"{tuple(int(i) for i in where)} (expected {float(want[where]):.6g}, "
        f"got {float(got_array[where]):.6g})"
    )


def _as_array(value: Any):
    import numpy as np

    if hasattr(value, "detach"):  # a torch tensor
        return value.detach().cpu().double().numpy()
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None
