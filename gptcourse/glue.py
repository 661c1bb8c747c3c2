"""Numbers computed in a chapter's code, quoted in its prose.

A chapter never types a computed figure into its text: the cell that computes it glues it,
and the text quotes the glued value (myst-nb's ``{glue:text}`` role), so that a re-recorded
notebook can never leave the prose saying something else::

    glue("val_loss", f"{loss:.3f}")          # in the cell
    The loss is {glue:text}`val_loss` nats.  # in the markdown below it

In the book, and wherever myst-nb is installed, :func:`glue` is myst-nb's own. In a notebook
launched on Colab or Binder, where it is missing, the prose of the generated copy already
holds the values (``make readers`` writes them in), so :func:`glue` only returns the value.
"""

from __future__ import annotations

from typing import Any

__all__ = ["glue"]


def glue(name: str, value: Any, display: bool = False) -> Any:
    """Record ``value`` under ``name`` for the book's ``{glue:text}`name``` roles.

    Args:
        name: the key the prose quotes.
        value: what to quote, usually a formatted string such as ``f"{loss:.3f}"``.
        display: also show the value as the cell's output (myst-nb's option).

    Returns:
        ``value``, so that a cell can glue and use it in one line.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"a glue name must be a non-empty str, got {name!r}")
    try:
        from myst_nb import glue as myst_glue
    except ImportError:  # a launched notebook: its prose already holds the value
        return value
    myst_glue(name, value, display=display)
    return value
