"""The simplest tokenizer: one token per character of a fixed vocabulary."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from gptcourse import _args, tokenizer_file


class CharTokenizer:
    """Maps each character of a vocabulary to an id, ``0 .. vocab_size - 1``.

    Ids follow the sorted order of the characters, so the same text always gives the
    same vocabulary::

        >>> tok = CharTokenizer.from_text("hello")
        >>> tok.encode("hell"), tok.decode([3, 1])
        ([1, 0, 2, 2], 'oh')

    Raises:
        TypeError: ``chars`` is not a string or an iterable of one-character strings.
        ValueError: the vocabulary is empty, or an entry is not a single character.
    """

    def __init__(self, chars: Iterable[str]):
        if not isinstance(chars, Iterable):
            raise TypeError(
                f"chars must be a str or an iterable of characters, got {_args.shown(chars)}"
            )
        try:
            unique = set(chars)
        except TypeError:  # an unhashable entry, such as a list
            unique = {None}
        for ch in unique:
            if not isinstance(ch, str):
                bad = next(c for c in chars if not isinstance(c, str))
                raise TypeError(
                    f"vocabulary entries must be characters (str), got {_args.shown(bad)}"
                )
            if len(ch) != 1:
                raise ValueError(f"vocabulary entries must be single characters, got {ch!r}")
        self.chars: list[str] = sorted(unique)
        if not self.chars:
            raise ValueError("a CharTokenizer needs at least one character")
        self.stoi: dict[str, int] = {ch: i for i, ch in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """The tokenizer whose vocabulary is every distinct character of ``text``."""
        if not isinstance(text, str):
            raise TypeError(f"from_text expects a str, got {_args.shown(text)}")
        return cls(text)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """``text`` as a list of ``len(text)`` ids.

        Raises:
            TypeError: ``text`` is not a str.
            ValueError: ``text`` holds a character outside the vocabulary (the message
                names it and where it is).
        """
        if not isinstance(text, str):
            raise TypeError(f"encode expects a str, got {_args.shown(text)}")
        try:
            return [self.stoi[ch] for ch in text]
        except KeyError:
            for position, ch in enumerate(text):
                if ch not in self.stoi:
                    raise ValueError(
                        f"character {ch!r} (U+{ord(ch):04X}) at position {position} is not in "
                        f"this tokenizer's vocabulary of {self.vocab_size} characters"
                    ) from None
            raise

    def decode(self, ids: Sequence[int]) -> str:
        """The text of a sequence of ids (a list, or a 1-D tensor or array of integers).

        Raises:
            TypeError: ``ids`` is not a sequence of integers (the message says where).
            ValueError: an id is outside the vocabulary.
        """
        out = []
        for i in _args.id_list("ids", ids):
            if not 0 <= i < self.vocab_size:
                raise ValueError(f"id {i} is outside the vocabulary (0 .. {self.vocab_size - 1})")
            out.append(self.chars[i])
        return "".join(out)

    def save(self, path: str | Path) -> None:
        """Write the vocabulary as JSON, in the format of :mod:`gptcourse.tokenizer_file`."""
        tokenizer_file.write(path, "char", {"chars": self.chars})

    @classmethod
    def load(cls, path: str | Path) -> CharTokenizer:
        """Read a vocabulary written by :meth:`save`.

        Raises:
            ValueError: the file is not JSON, not a saved tokenizer, a saved
                ``BPETokenizer``, or its vocabulary is not a list of characters.
        """
        return tokenizer_file.load(path, cls)

    @classmethod
    def _from_fields(cls, fields: dict[str, Any]) -> CharTokenizer:
        """The tokenizer of the fields of a saved file (see :meth:`save`)."""
        chars = fields["chars"]
        if not isinstance(chars, list):
            raise ValueError(f"'chars' is not a list but {_args.shown(chars)}")
        return cls(chars)

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"
