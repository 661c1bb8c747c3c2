"""Checks of the arguments that the package's functions are given.

Each raises a ``TypeError`` or ``ValueError`` that names the argument, what was expected
and what was given, so that a wrong call stops at the call with a sentence, not deep
inside with a traceback::

    >>> integer("block_size", 8.0, minimum=1)
    Traceback (most recent call last):
    ...
    TypeError: block_size must be an int, got the float 8.0
"""

from __future__ import annotations

import operator
from typing import Any


def shown(value: Any) -> str:
    """A short description of ``value`` for an error message: its type and its value.

    >>> shown(2.5), shown("8"), shown([1, 2]), shown(None)
    ('the float 2.5', "the str '8'", 'a list of 2 items', 'None')
    """
    if value is None:
        return "None"
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "dtype"):
        return f"a {type(value).__name__} of shape {tuple(shape)} and dtype {value.dtype}"
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return f"a {type(value).__name__} of {len(value)} items"
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"the {type(value).__name__} {text}"


def integer(name: str, value: Any, *, minimum: int | None = None) -> int:
    """``value`` as an ``int`` (a Python or NumPy integer, or a 0-d integer tensor).

    Raises:
        TypeError: ``value`` is not an integer (a float, a str, a bool, ...).
        ValueError: ``value`` is below ``minimum``.
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {shown(value)}")
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {shown(value)}") from None
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {number}")
    return number


def string(name: str, value: Any) -> str:
    """``value``, checked to be a ``str``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {shown(value)}")
    return value


def id_list(name: str, ids: Any) -> list[int]:
    """Token ids as a list of ``int``: from a list or tuple of integers, or a 1-D tensor or
    array of integers.

    Raises:
        TypeError: ``ids`` is not a sequence of ids, or one of them is not an integer
            (the message gives its position).
    """
    if isinstance(ids, (str, bytes)) or not hasattr(ids, "__iter__"):
        raise TypeError(f"{name} must be a sequence of token ids, got {shown(ids)}")
    if hasattr(ids, "tolist"):  # a tensor or an array
        if getattr(ids, "ndim", 1) != 1:
            raise TypeError(f"{name} must be a 1-D sequence of token ids, got {shown(ids)}")
        ids = ids.tolist()
    out = []
    for position, i in enumerate(ids):
        try:
            out.append(integer(name, i))
        except TypeError:
            raise TypeError(
                f"{name} must hold integer token ids, got {shown(i)} at position {position}"
            ) from None
    return out
