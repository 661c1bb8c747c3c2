"""Words of a text: the course's one definition of a word, for counting words.

A *word* is a run of letters and apostrophes, compared in lower case: ``"Prospero's"``
and ``"PROSPERO'S"`` are the same word, and punctuation, digits and spaces separate
words. Chapter 1 measures with it how many words of the held-out text never occur in
the training text; the tokenisation chapter asks the same question of a word vocabulary.
Both use :func:`words` and :func:`unknown_word_rate`, so they quote the same number.

    >>> words("Good morrow, Kate; for that's your name, I hear.")
    ['good', 'morrow', 'kate', 'for', "that's", 'your', 'name', 'i', 'hear']
    >>> unknown_word_rate("to be or not to be", "To see, or not?")
    0.25
"""

from __future__ import annotations

import re

from gptcourse import _args

__all__ = ["WORD_PATTERN", "words", "unknown_word_rate"]

#: What a word is, matched in the lower-cased text: letters a to z and apostrophes.
WORD_PATTERN = re.compile(r"[a-z']+")


def _check_text(name: str, text: object) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, got {_args.shown(text)}")
    return text


def words(text: str) -> list[str]:
    """The words of ``text``, lower-cased, in order (:data:`WORD_PATTERN`)."""
    return WORD_PATTERN.findall(_check_text("text", text).lower())


def unknown_word_rate(train_text: str, val_text: str) -> float:
    """The share of the words of ``val_text`` (every occurrence counts) that never occur
    in ``train_text``: how much of the held-out text a vocabulary of the training text's
    words could not write.

    Raises:
        ValueError: ``val_text`` has no words.
    """
    known = set(words(_check_text("train_text", train_text)))
    held_out = words(_check_text("val_text", val_text))
    if not held_out:
        raise ValueError(f"val_text has no words to count: {val_text[:40]!r}")
    return sum(w not in known for w in held_out) / len(held_out)
