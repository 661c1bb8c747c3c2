"""The simplest tokenizer: one token per character of a fixed vocabulary."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path


class CharTokenizer:
    """Maps each character of a vocabulary to an id, ``0 .. vocab_size - 1``.

    Ids follow the sorted order of the characters, so the same text always gives the
    same vocabulary::

        >>> tok = CharTokenizer.from_text("hello")
        >>> tok.encode("hell"), tok.decode([3, 1])
        ([1, 0, 2, 2], 'oh')
    """

    def __init__(self, chars: Iterable[str]):
        self.chars: list[str] = sorted(set(chars))
        if not self.chars:
            raise ValueError("a CharTokenizer needs at least one character")
        if any(len(ch) != 1 for ch in self.chars):
            bad = next(ch for ch in self.chars if len(ch) != 1)
            raise ValueError(f"vocabulary entries must be single characters, got {bad!r}")
        self.stoi: dict[str, int] = {ch: i for i, ch in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """The tokenizer whose vocabulary is every distinct character of ``text``."""
        return cls(text)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """``text`` as a list of ``len(text)`` ids.

        Raises:
            ValueError: ``text`` holds a character outside the vocabulary (the message
                names it and where it is).
        """
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
        """The text of a sequence of ids (a list, or a 1-D tensor)."""
        ids = ids.tolist() if hasattr(ids, "tolist") else ids
        out = []
        for i in ids:
            if not 0 <= i < self.vocab_size:
                raise ValueError(f"id {i} is outside the vocabulary (0 .. {self.vocab_size - 1})")
            out.append(self.chars[i])
        return "".join(out)

    def save(self, path: str | Path) -> None:
        """Write the vocabulary as JSON."""
        Path(path).write_text(
            json.dumps({"type": "char", "chars": self.chars}, ensure_ascii=False), encoding="utf-8"
        )

    @classmethod
    def load(cls, path: str | Path) -> CharTokenizer:
        """Read a vocabulary written by :meth:`save`."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if data.get("type") != "char" or not isinstance(data.get("chars"), list):
                raise ValueError("not a saved CharTokenizer")
            return cls(data["chars"])
        except (json.JSONDecodeError, ValueError, AttributeError) as e:
            raise ValueError(f"{path} is not a valid saved CharTokenizer: {e}") from e

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"
