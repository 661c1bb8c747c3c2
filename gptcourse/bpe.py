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

A Python string may hold lone surrogates (``"\\ud800"``), which are not characters and
have no UTF-8 bytes. Like tiktoken, ``encode`` reads a pair of them as the character
they stand for and each lone one as ``"\\ufffd"``; ``train`` refuses them and says where.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence, Set
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import regex

from gptcourse import _args, tokenizer_file

__all__ = ["GPT2_PATTERN", "BPETokenizer", "count_pairs", "merge_pair"]

#: GPT-2's pre-tokenisation pattern, as written in its ``encoder.py``: English
#: contractions, then a letter run, a digit run or a punctuation run (each with at most
#: one leading space), then whitespace (leaving the last space before a word to it).
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

Pair = tuple[int, int]


def count_pairs(
    ids: Sequence[int], counts: dict[Pair, int] | None = None, weight: int = 1
) -> dict[Pair, int]:
    """How often each pair of adjacent ids occurs in ``ids``.

    Overlapping pairs all count: ``[1, 1, 1]`` holds the pair ``(1, 1)`` twice.
    With ``counts``, adds to it (``weight`` times each pair) and returns it.

        >>> count_pairs([1, 2, 3, 1, 2])
        {(1, 2): 2, (2, 3): 1, (3, 1): 1}

    ``ids`` may be a list or tuple of ints, or a 1-D tensor or array of integers.
    """
    ids = _args.id_list("ids", ids)
    weight = _args.integer("weight", weight)
    if counts is not None and not isinstance(counts, dict):
        raise TypeError(f"counts must be a dict to add to, or None, got {_args.shown(counts)}")
    counts = {} if counts is None else counts
    for pair in pairwise(ids):
        counts[pair] = counts.get(pair, 0) + weight
    return counts


def merge_pair(ids: Sequence[int], pair: Pair, new_id: int) -> list[int]:
    """``ids`` with every occurrence of ``pair`` replaced by ``new_id``, left to right.

    Occurrences do not overlap: in ``[1, 1, 1]`` the pair ``(1, 1)`` is replaced once.

        >>> merge_pair([1, 1, 1, 2, 1, 1], (1, 1), 9)
        [9, 1, 2, 9]

    ``ids`` may be a list or tuple of ints, or a 1-D tensor or array of integers.
    """
    ids = _args.id_list("ids", ids)
    pair = _as_pair(pair, name="pair")
    return _merge(ids, pair, _args.integer("new_id", new_id))


def _merge(ids: list[int], pair: Pair, new_id: int) -> list[int]:
    """:func:`merge_pair` without the checks of its arguments (the trainer's inner loop)."""
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
            word = words[w] = _merge(word, best, new_id)
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
        TypeError: an argument of the wrong type (the message names it).
        ValueError: a merge refers to a token that does not exist yet, a special id
            collides or is out of place, ``byte_order`` is not a permutation, the
            pattern is not a valid regular expression.
    """

    def __init__(
        self,
        merges: Iterable[Pair],
        *,
        pattern: str | None = GPT2_PATTERN,
        special_tokens: Mapping[str, int] | None = None,
        byte_order: Sequence[int] | None = None,
    ):
        if isinstance(merges, (str, bytes, Mapping)) or not hasattr(merges, "__iter__"):
            raise TypeError(f"merges must be a list of pairs of ids, got {_args.shown(merges)}")
        self.merges: list[Pair] = [_as_pair(m, k) for k, m in enumerate(merges)]
        self.pattern = pattern
        self._split = _compile(pattern).findall if pattern is not None else None
        self.byte_order: list[int] = (
            list(range(256)) if byte_order is None else _args.id_list("byte_order", byte_order)
        )
        if sorted(self.byte_order) != list(range(256)):
            raise ValueError(
                f"byte_order must be a permutation of 0 .. 255, got {len(self.byte_order)} "
                "values" + ("" if len(self.byte_order) != 256 else " with repeats")
            )
        if special_tokens is not None and not isinstance(special_tokens, Mapping):
            raise TypeError(
                f"special_tokens must be a dict {{string: id}}, got {_args.shown(special_tokens)}"
            )
        self.special_tokens: dict[str, int] = dict(special_tokens or {})
        first_special = 256 + len(self.merges)
        for text, i in self.special_tokens.items():
            if not isinstance(text, str) or not text:
                raise ValueError(f"a special token must be a non-empty string, got {text!r}")
            if not isinstance(i, int) or isinstance(i, bool) or i < first_special:
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
            TypeError: an argument of the wrong type, such as one special token given
                as a str instead of a list of them.
            ValueError: ``vocab_size`` leaves no room for the 256 bytes and the special
                tokens, the text runs out of pairs before enough merges are learnt, or
                it holds a lone surrogate (no UTF-8 bytes: the message says where).
        """
        if not isinstance(text, str):
            raise TypeError(f"train expects a str, got {type(text).__name__}")
        vocab_size = _args.integer("vocab_size", vocab_size)
        if isinstance(special_tokens, str):
            raise TypeError(
                f"special_tokens must be a list of strings, got the str {special_tokens!r}; "
                f"for one special token, pass [{special_tokens!r}]"
            )
        if not hasattr(special_tokens, "__iter__") or isinstance(special_tokens, Mapping):
            raise TypeError(
                f"special_tokens must be a list of strings, got {_args.shown(special_tokens)}"
            )
        specials = list(dict.fromkeys(special_tokens))
        for s in specials:
            if not isinstance(s, str) or not s:
                raise ValueError(f"a special token must be a non-empty string, got {s!r}")
        surrogate = _SURROGATE.search(text)
        if surrogate:
            raise ValueError(
                f"the text holds the lone surrogate U+{ord(surrogate.group()):04X} at "
                f"position {surrogate.start()}: it is not a character and has no UTF-8 "
                "bytes to learn from (it often comes from decoding bytes with "
                "errors='surrogateescape'); remove or replace it"
            )
        split = _compile(pattern).findall if pattern is not None else (lambda s: [s])
        num_merges = vocab_size - 256 - len(specials)
        if num_merges < 0:
            raise ValueError(
                f"vocab_size={vocab_size} is too small: it must hold the 256 bytes and the "
                f"{len(specials)} special tokens, so at least {256 + len(specials)}"
            )
        pieces = regex.split(_alternation(specials), text) if specials else [text]
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
        _args.string("text", text)
        if self._split is None:
            return [text] if text else []
        return self._split(text)

    def encode_chunk(self, chunk: bytes) -> list[int]:
        """The ids of one chunk: its bytes, then merges, the earliest learnt first."""
        if not isinstance(chunk, (bytes, bytearray)):
            raise TypeError(
                f"encode_chunk expects bytes (such as text.encode('utf-8')), got "
                f"{_args.shown(chunk)}"
            )
        ids = [self._id_of_byte[b] for b in chunk]
        merge_id = self._merge_id
        while len(ids) >= 2:
            # Of the pairs present, the one merged earliest in training has the lowest id.
            pair = min(pairwise(ids), key=lambda p: merge_id.get(p, _NEVER))
            if pair not in merge_id:
                break
            ids = _merge(ids, pair, merge_id[pair])
        return ids

    def encode_ordinary(self, text: str) -> list[int]:
        """``text`` as ids, reading special-token strings as ordinary text.

        Lone surrogates become ``"\\ufffd"``, as in tiktoken (see the module's docstring).
        """
        if not isinstance(text, str):
            raise TypeError(f"encode expects a str, got {type(text).__name__}")
        text = _without_surrogates(text)
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

        Lone surrogates become ``"\\ufffd"``, as in tiktoken (see the module's docstring).

        Raises:
            ValueError: ``text`` contains a special token that is not allowed (text
                from users must not be able to forge one; to read it as ordinary
                text, use :meth:`encode_ordinary`).
        """
        if not isinstance(text, str):
            raise TypeError(f"encode expects a str, got {type(text).__name__}")
        if allowed_special == "all":
            allowed = set(self.special_tokens)
        elif isinstance(allowed_special, str) or not isinstance(allowed_special, Iterable):
            raise TypeError(
                "allowed_special must be 'all' or a set of special tokens, such as "
                f"{{'<|endoftext|>'}}, got {_args.shown(allowed_special)}"
            )
        else:
            allowed = set(allowed_special)
        if self._special_re is None and not allowed:
            return self.encode_ordinary(text)
        text = _without_surrogates(text)
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
        """The bytes of a sequence of ids (a list, or a 1-D tensor or array of integers)."""
        parts = []
        for i in _args.id_list("ids", ids):
            token = self.vocab.get(i)
            if token is None:
                token = self._special_of_id.get(i)
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
        _args.string("errors", errors)
        return self.decode_bytes(ids).decode("utf-8", errors=errors)

    # ---- saving ---------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the tokenizer as JSON, in the format of :mod:`gptcourse.tokenizer_file`."""
        tokenizer_file.write(
            path,
            "bpe",
            {
                "pattern": self.pattern,
                "byte_order": None if self.byte_order == list(range(256)) else self.byte_order,
                "special_tokens": self.special_tokens,
                "merges": [list(pair) for pair in self.merges],
            },
        )

    @classmethod
    def load(cls, path: str | Path) -> BPETokenizer:
        """Read a tokenizer written by :meth:`save`.

        Raises:
            ValueError: the file is not JSON, not a saved tokenizer, a saved
                ``CharTokenizer``, of another version, or inconsistent (the message says
                which).
        """
        return tokenizer_file.load(path, cls)

    @classmethod
    def _from_fields(cls, fields: dict[str, Any]) -> BPETokenizer:
        """The tokenizer of the fields of a saved file (see :meth:`save`)."""
        merges = fields["merges"]
        if not isinstance(merges, list):
            raise ValueError(f"'merges' is not a list but {_args.shown(merges)}")
        return cls(
            merges,
            pattern=fields["pattern"],
            special_tokens=fields["special_tokens"],
            byte_order=fields["byte_order"],
        )

    def __repr__(self) -> str:
        return (
            f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, "
            f"special_tokens={sorted(self.special_tokens)})"
        )


_NEVER = float("inf")  # the rank of a pair that is not in the merge table
_SURROGATE = regex.compile("[\ud800-\udfff]")


def _without_surrogates(text: str) -> str:
    """``text`` with surrogate pairs joined and lone surrogates replaced, as tiktoken does."""
    if _SURROGATE.search(text) is None:
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _compile(pattern: Any) -> regex.Pattern:
    """The compiled pre-tokenisation ``pattern``, or a clear error."""
    if not isinstance(pattern, str):
        raise TypeError(
            f"pattern must be a str (a regular expression) or None, got {_args.shown(pattern)}"
        )
    try:
        return regex.compile(pattern)
    except regex.error as e:
        raise ValueError(
            f"pattern is not a valid regular expression for the regex module: {e} "
            f"(pattern {pattern[:60]!r}{'...' if len(pattern) > 60 else ''})"
        ) from None


def _alternation(strings: Iterable[str]) -> str:
    """A pattern that matches any of ``strings``, the longest first."""
    return "|".join(regex.escape(s) for s in sorted(strings, key=len, reverse=True))


def _as_pair(merge, k: int | None = None, *, name: str | None = None) -> Pair:
    """Merge ``k`` as a pair of ints, checked to refer to tokens that exist before it
    (or, with ``name`` instead of ``k``, the argument ``name`` as a pair of ints)."""
    what = name or f"merge {k}"
    try:
        a, b = merge
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a pair of ids, got {merge!r}") from None
    try:
        a, b = _args.integer(what, a), _args.integer(what, b)
    except TypeError:
        raise ValueError(f"{what} must be a pair of ints, got {merge!r}") from None
    if k is None:
        return (a, b)
    if not (0 <= a < 256 + k and 0 <= b < 256 + k):
        raise ValueError(
            f"merge {k} is {(a, b)}, but only ids 0 .. {256 + k - 1} exist before it "
            f"(it creates id {256 + k})"
        )
    return (a, b)
