"""Byte-level byte-pair encoding (BPE), the tokenizer of GPT-2 and its successors.

A text becomes token ids in three steps:

1. *pre-tokenisation*: a regular expression cuts the text into chunks (words with
   their leading space, runs of digits, of punctuation, of whitespace); merges never
   cross a chunk boundary;
2. each chunk is written as its UTF-8 bytes, one token per byte: ids ``0 .. 255``;
3. the merges learnt from a corpus are applied, earliest learnt first: merge ``k``
   replaces every adjacent pair ``(a, b)`` of the chunk by the new token ``256 + k``.

Every string is a sequence of bytes, so every string can be encoded and decoded back
exactly: a byte-level BPE has no unknown words::

    >>> tok = BPETokenizer.train("low lower lowest " * 20, vocab_size=260)
    >>> tok.merges
    [(108, 111), (256, 119), (32, 257), (258, 101)]
    >>> tok.encode(" lowest"), tok.decode(tok.encode("lowest 🙂"))
    ([259, 115, 116], 'lowest 🙂')

Special tokens (such as ``<|endoftext|>``) have ids after the merges, are never
produced by a merge, and are encoded only when the caller allows it.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence, Set
from itertools import pairwise
from pathlib import Path
from typing import Literal

import regex

__all__ = ["GPT2_PATTERN", "BPETokenizer", "count_pairs", "merge_pair"]

#: GPT-2's pre-tokenisation pattern, as written in its ``encoder.py``: English
#: contractions, then a letter run, a digit run or a punctuation run (each with at most
#: one leading space), then whitespace (leaving the last space before a word to it).
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

#: The format name and version written by :meth:`BPETokenizer.save`.
FORMAT = "gptcourse-bpe"
FORMAT_VERSION = 1

Pair = tuple[int, int]


def count_pairs(
    ids: Sequence[int], counts: dict[Pair, int] | None = None, weight: int = 1
) -> dict[Pair, int]:
    """How often each pair of adjacent ids occurs in ``ids``.

    Overlapping pairs all count: ``[1, 1, 1]`` holds the pair ``(1, 1)`` twice.
    With ``counts``, adds to it (``weight`` times each pair) and returns it.

        >>> count_pairs([1, 2, 3, 1, 2])
        {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    """
    counts = {} if counts is None else counts
    for pair in pairwise(ids):
        counts[pair] = counts.get(pair, 0) + weight
    return counts


def merge_pair(ids: Sequence[int], pair: Pair, new_id: int) -> list[int]:
    """``ids`` with every occurrence of ``pair`` replaced by ``new_id``, left to right.

    Occurrences do not overlap: in ``[1, 1, 1]`` the pair ``(1, 1)`` is replaced once.

        >>> merge_pair([1, 1, 1, 2, 1, 1], (1, 1), 9)
        [9, 1, 2, 9]
    """
    first, second = pair
    out: list[int] = []
    i, n = 0, len(ids)
    while i < n:
        if i < n - 1 and ids[i] == first and ids[i + 1] == second:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _learn_merges(chunks: Mapping[bytes, int], num_merges: int) -> list[Pair]:
    """The ``num_merges`` merges that BPE learns from chunks and their frequencies.

    Each step merges the most frequent pair (ties: the smallest pair), as a recount of
    every pair at every step would, but only the chunks that hold the merged pair are
    recounted, and a heap finds the most frequent pair.
    """
    words = [list(chunk) for chunk in chunks]
    freqs = list(chunks.values())
    counts: dict[Pair, int] = {}
    where: dict[Pair, set[int]] = {}  # pair -> the words that hold (or held) it
    for w, word in enumerate(words):
        for pair in pairwise(word):
            counts[pair] = counts.get(pair, 0) + freqs[w]
            where.setdefault(pair, set()).add(w)
    heap = [(-count, pair) for pair, count in counts.items()]
    heapq.heapify(heap)

    merges: list[Pair] = []
    while len(merges) < num_merges:
        while heap and counts.get(heap[0][1]) != -heap[0][0]:
            heapq.heappop(heap)  # a count that has changed since it was pushed
        if not heap:
            break
        _, best = heapq.heappop(heap)
        new_id = 256 + len(merges)
        merges.append(best)
        changed: set[Pair] = set()
        for w in where.pop(best):
            word, freq = words[w], freqs[w]
            for pair in pairwise(word):
                counts[pair] -= freq
                changed.add(pair)
            word = words[w] = merge_pair(word, best, new_id)
            for pair in pairwise(word):
                counts[pair] = counts.get(pair, 0) + freq
                where.setdefault(pair, set()).add(w)
                changed.add(pair)
        for pair in changed:
            if counts[pair] == 0:
                del counts[pair]
            else:
                heapq.heappush(heap, (-counts[pair], pair))
    return merges


class BPETokenizer:
    """A byte-level BPE tokenizer: a merge table, a pre-tokenisation pattern, specials.

    Token ids:

    - ``0 .. 255``: single bytes; id ``i`` is the byte ``byte_order[i]`` (the identity
      unless given: GPT-2 numbers its bytes in another order);
    - ``256 + k``: the token made by merge ``k``, the pair ``merges[k]``;
    - then the special tokens, ``special_tokens[s]`` for the string ``s``.

    Args:
        merges: the merge table, in the order it was learnt: ``merges[k] = (a, b)``
            with ``a, b < 256 + k``.
        pattern: the pre-tokenisation regular expression (for the ``regex`` module),
            or ``None`` to merge across the whole text.
        special_tokens: ``{string: id}``, ids from ``256 + len(merges)`` on.
        byte_order: a permutation of ``0 .. 255``, the byte of each id below 256.

    Raises:
        ValueError: a merge refers to a token that does not exist yet, a special id
            collides or is out of place, ``byte_order`` is not a permutation.
    """

    def __init__(
        self,
        merges: Iterable[Pair],
        *,
        pattern: str | None = GPT2_PATTERN,
        special_tokens: Mapping[str, int] | None = None,
        byte_order: Sequence[int] | None = None,
    ):
        self.merges: list[Pair] = [_as_pair(m, k) for k, m in enumerate(merges)]
        self.pattern = pattern
        self.byte_order: list[int] = list(range(256) if byte_order is None else byte_order)
        if sorted(self.byte_order) != list(range(256)):
            raise ValueError(
                f"byte_order must be a permutation of 0 .. 255, got {len(self.byte_order)} "
                "values" + ("" if len(self.byte_order) != 256 else " with repeats")
            )
        self.special_tokens: dict[str, int] = dict(special_tokens or {})
        first_special = 256 + len(self.merges)
        for text, i in self.special_tokens.items():
            if not isinstance(text, str) or not text:
                raise ValueError(f"a special token must be a non-empty string, got {text!r}")
            if not isinstance(i, int) or i < first_special:
                raise ValueError(
                    f"special token {text!r} has id {i}, but ids below {first_special} are "
                    f"bytes and merges (256 + {len(self.merges)} merges)"
                )
        if len(set(self.special_tokens.values())) != len(self.special_tokens):
            raise ValueError(f"two special tokens share an id: {self.special_tokens}")

        # id -> bytes, the vocabulary; pair -> id, the merge table used by encode.
        self.vocab: dict[int, bytes] = {i: bytes([b]) for i, b in enumerate(self.byte_order)}
        for k, (a, b) in enumerate(self.merges):
            self.vocab[256 + k] = self.vocab[a] + self.vocab[b]
        self._merge_id: dict[Pair, int] = {pair: 256 + k for k, pair in enumerate(self.merges)}
        self._id_of_byte = [0] * 256
        for i, b in enumerate(self.byte_order):
            self._id_of_byte[b] = i
        self._special_of_id = {i: s.encode("utf-8") for s, i in self.special_tokens.items()}
        self._split = regex.compile(pattern).findall if pattern is not None else None
        self._special_re = (
            regex.compile(_alternation(self.special_tokens)) if self.special_tokens else None
        )
        self._cache: dict[str, list[int]] = {}

    # ---- training -------------------------------------------------------------------

    @classmethod
    def train(
        cls,
        text: str,
        vocab_size: int,
        *,
        pattern: str | None = GPT2_PATTERN,
        special_tokens: Sequence[str] = (),
    ) -> BPETokenizer:
        """Learn ``vocab_size - 256 - len(special_tokens)`` merges from ``text``.

        Each merge joins the pair of adjacent tokens that is most frequent in the text
        (ties go to the smallest pair of ids), counted inside pre-tokenised chunks. The
        special tokens are cut out of the text first, so that no merge learns them.

        Raises:
            ValueError: ``vocab_size`` leaves no room for the 256 bytes and the special
                tokens, or the text runs out of pairs before enough merges are learnt.
        """
        if not isinstance(text, str):
            raise TypeError(f"train expects a str, got {type(text).__name__}")
        specials = list(dict.fromkeys(special_tokens))
        num_merges = vocab_size - 256 - len(specials)
        if num_merges < 0:
            raise ValueError(
                f"vocab_size={vocab_size} is too small: it must hold the 256 bytes and the "
                f"{len(specials)} special tokens, so at least {256 + len(specials)}"
            )
        pieces = regex.split(_alternation(specials), text) if specials else [text]
        split = regex.compile(pattern).findall if pattern is not None else (lambda s: [s])
        chunks = Counter(chunk for piece in pieces for chunk in split(piece) if chunk)
        merges = _learn_merges({c.encode("utf-8"): n for c, n in chunks.items()}, num_merges)
        if len(merges) < num_merges:
            raise ValueError(
                f"vocab_size={vocab_size} needs {num_merges} merges, but the text runs out of "
                f"pairs to merge after {len(merges)}: use more text or a vocab_size of at "
                f"most {256 + len(merges) + len(specials)}"
            )
        first = 256 + len(merges)
        return cls(
            merges, pattern=pattern, special_tokens={s: first + j for j, s in enumerate(specials)}
        )

    # ---- encoding -------------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        """One more than the largest id: the 256 bytes, the merges, the special tokens.

        (The number of rows of an embedding table for these ids.)
        """
        return max([256 + len(self.merges), *(i + 1 for i in self.special_tokens.values())])

    def split(self, text: str) -> list[str]:
        """The pre-tokenised chunks of ``text`` (``[text]`` without a pattern)."""
        if self._split is None:
            return [text] if text else []
        return self._split(text)

    def encode_chunk(self, chunk: bytes) -> list[int]:
        """The ids of one chunk: its bytes, then merges, the earliest learnt first."""
        ids = [self._id_of_byte[b] for b in chunk]
        merge_id = self._merge_id
        while len(ids) >= 2:
            # Of the pairs present, the one merged earliest in training has the lowest id.
            pair = min(pairwise(ids), key=lambda p: merge_id.get(p, _NEVER))
            if pair not in merge_id:
                break
            ids = merge_pair(ids, pair, merge_id[pair])
        return ids

    def encode_ordinary(self, text: str) -> list[int]:
        """``text`` as ids, reading special-token strings as ordinary text."""
        if not isinstance(text, str):
            raise TypeError(f"encode expects a str, got {type(text).__name__}")
        cache = self._cache
        if len(cache) > 500_000:  # bounded memory on endless streams of new words
            cache.clear()
        ids: list[int] = []
        for chunk in self.split(text):
            chunk_ids = cache.get(chunk)
            if chunk_ids is None:
                chunk_ids = cache[chunk] = self.encode_chunk(chunk.encode("utf-8"))
            ids.extend(chunk_ids)
        return ids

    def encode(
        self, text: str, allowed_special: Literal["all"] | Set[str] = frozenset()
    ) -> list[int]:
        """``text`` as a list of ids.

        Args:
            text: any string.
            allowed_special: the special tokens that may appear in ``text`` and are
                encoded as their id; ``"all"`` for every one.

        Raises:
            ValueError: ``text`` contains a special token that is not allowed (text
                from users must not be able to forge one; to read it as ordinary
                text, use :meth:`encode_ordinary`).
        """
        if not isinstance(text, str):
            raise TypeError(f"encode expects a str, got {type(text).__name__}")
        if self._special_re is None:
            return self.encode_ordinary(text)
        allowed = set(self.special_tokens) if allowed_special == "all" else set(allowed_special)
        unknown = allowed - set(self.special_tokens)
        if unknown:
            raise ValueError(
                f"allowed_special names {sorted(unknown)}, which are not special tokens of "
                f"this tokenizer ({sorted(self.special_tokens)})"
            )
        ids: list[int] = []
        start = 0
        for match in self._special_re.finditer(text):
            special = match.group()
            if special not in allowed:
                raise ValueError(
                    f"the text contains the special token {special!r} at position "
                    f"{match.start()}; pass allowed_special={{{special!r}}} to encode it as "
                    f"id {self.special_tokens[special]}, or use encode_ordinary to encode it "
                    "as ordinary text"
                )
            ids += self.encode_ordinary(text[start : match.start()])
            ids.append(self.special_tokens[special])
            start = match.end()
        ids += self.encode_ordinary(text[start:])
        return ids

    # ---- decoding -------------------------------------------------------------------

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The bytes of a sequence of ids (a list, or a 1-D tensor)."""
        ids = ids.tolist() if hasattr(ids, "tolist") else ids
        parts = []
        for i in ids:
            token = self.vocab.get(i) if isinstance(i, int) else None
            if token is None:
                token = self._special_of_id.get(i) if isinstance(i, int) else None
            if token is None:
                raise ValueError(
                    f"id {i!r} is not a token of this tokenizer (ids are 0 .. "
                    f"{256 + len(self.merges) - 1}"
                    + (
                        f", and specials {sorted(self._special_of_id)})"
                        if self._special_of_id
                        else ")"
                    )
                )
            parts.append(token)
        return b"".join(parts)

    def decode(self, ids: Iterable[int], errors: str = "replace") -> str:
        """The text of a sequence of ids.

        A sequence cut in the middle of a character is not valid UTF-8; its broken bytes
        become ``"\\ufffd"`` (``errors="replace"``, as GPT-2 does) or raise
        (``errors="strict"``).
        """
        return self.decode_bytes(ids).decode("utf-8", errors=errors)

    # ---- saving ---------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the tokenizer as JSON (format ``gptcourse-bpe``, version 1)."""
        data = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "pattern": self.pattern,
            "byte_order": None if self.byte_order == list(range(256)) else self.byte_order,
            "special_tokens": self.special_tokens,
            "merges": [list(pair) for pair in self.merges],
        }
        Path(path).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> BPETokenizer:
        """Read a tokenizer written by :meth:`save`.

        Raises:
            ValueError: the file is not JSON, not a saved BPE tokenizer, of another
                version, or inconsistent (the message says which).
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"{path} is not a valid saved BPETokenizer: not JSON ({e})") from e
        try:
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                kind = data.get("type") or data.get("format") if isinstance(data, dict) else None
                raise ValueError(
                    f"its format is {kind!r}, not {FORMAT!r}" if kind else "no 'format' field"
                )
            if data.get("version") != FORMAT_VERSION:
                raise ValueError(
                    f"it is version {data.get('version')!r}; this gptcourse reads version "
                    f"{FORMAT_VERSION}"
                )
            pattern = data["pattern"]
            if pattern is not None:
                regex.compile(pattern)
            merges = data["merges"]
            if not isinstance(merges, list):
                raise ValueError("'merges' is not a list")
            return cls(
                merges,
                pattern=pattern,
                special_tokens=data["special_tokens"],
                byte_order=data["byte_order"],
            )
        except (KeyError, TypeError, ValueError, regex.error) as e:
            what = f"missing field {e}" if isinstance(e, KeyError) else str(e)
            raise ValueError(f"{path} is not a valid saved BPETokenizer: {what}") from e

    def __repr__(self) -> str:
        return (
            f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, "
            f"special_tokens={sorted(self.special_tokens)})"
        )


_NEVER = float("inf")  # the rank of a pair that is not in the merge table


def _alternation(strings: Iterable[str]) -> str:
    """A pattern that matches any of ``strings``, the longest first."""
    return "|".join(regex.escape(s) for s in sorted(strings, key=len, reverse=True))


def _as_pair(merge, k: int) -> Pair:
    """Merge ``k`` as a pair of ints, checked to refer to tokens that exist before it."""
    try:
        a, b = merge
    except (TypeError, ValueError):
        raise ValueError(f"merge {k} must be a pair of ids, got {merge!r}") from None
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (a, b)):
        raise ValueError(f"merge {k} must be a pair of ints, got {merge!r}")
    if not (0 <= a < 256 + k and 0 <= b < 256 + k):
        raise ValueError(
            f"merge {k} is {(a, b)}, but only ids 0 .. {256 + k - 1} exist before it "
            f"(it creates id {256 + k})"
        )
    return (a, b)
