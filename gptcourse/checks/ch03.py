"""Checks for the exercises of chapter 3: tokenisation."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

from gptcourse.bpe import BPETokenizer, merge_pair
from gptcourse.checks import Checker, checking, same_as

__all__ = ["encode_with_merges", "encode_with_specials", "tokens_per_char", "train_bpe"]


def tokens_per_char(fn) -> None:
    """Exercise: how many tokens an encoder spends per character of a text.

    ``fn(encode: Callable[[str], list[int]], text: str) -> float``.
    """
    __tracebackhide__ = True
    bytes_encoder = _bytes_encoder
    words = _words_encoder
    cases = [
        (bytes_encoder, "plain ASCII text", "bytes"),
        (bytes_encoder, "人人生而自由", "bytes"),
        (bytes_encoder, "naïve café", "bytes"),
        (words, "one token per word, not per letter", "one id per word"),
        (words, "静夜思 床前明月光", "one id per word"),
    ]
    with checking("tokens_per_char", fn) as c:
        for encode, text, shown in cases:
            got = c.call(encode, text)
            n_tokens, n_chars = len(encode(text)), len(text)
            c.close(
                got,
                n_tokens / n_chars,
                f"tokens_per_char(<encode: {shown}>, {text!r})",
                rtol=1e-9,
                hints={
                    "that is characters per token, the inverse: divide the number of "
                    "tokens by the number of characters.": same_as(n_chars / n_tokens),
                    "that divides by the number of UTF-8 bytes; the question is per "
                    "character, len(text).": same_as(n_tokens / len(text.encode("utf-8"))),
                    "that is the number of tokens; divide it by the number of characters, "
                    "len(text).": same_as(n_tokens),
                },
            )


def _bytes_encoder(text: str) -> list[int]:
    return list(text.encode("utf-8"))


def _words_encoder(text: str) -> list[int]:
    return [hash(w) % 1000 for w in text.split()]


def _train_reference(text: str, vocab_size: int, *, start=None, tie="smallest"):
    """BPE training without pre-tokenisation, with knobs that make the usual mistakes."""
    ids = list(text.encode("utf-8")) if start is None else start(text)
    merges = []
    for k in range(vocab_size - 256):
        counts = Counter(pairwise(ids))
        if not counts:
            break
        if tie == "smallest":
            best = min(counts, key=lambda p: (-counts[p], p))
        else:  # the first pair, in the order of the text, among the most frequent
            best = max(counts, key=counts.get)
        merges.append(best)
        ids = merge_pair(ids, best, 256 + k)
    return merges


def train_bpe(fn) -> None:
    """Exercise: train byte-level BPE end to end (no pre-tokenisation).

    ``fn(text: str, vocab_size: int) -> list[tuple[int, int]]``: the merges, in the order
    they were learnt; merge ``k`` creates the token ``256 + k``.
    """
    __tracebackhide__ = True
    cases = [
        ("aaabdaaabac", 259),
        ("cdab cdab", 257),
        ("the cat sat on the mat. " * 4, 272),
        ("été, café, thé. " * 3, 268),
    ]
    with checking("train_bpe", fn) as c:
        for text, vocab_size in cases:
            _train_bpe_case(c, text, vocab_size)


def _train_bpe_case(c: Checker, text: str, vocab_size: int) -> None:
    __tracebackhide__ = True
    got = c.call(text, vocab_size)
    if not isinstance(got, list):
        c.fail(
            f"train_bpe({text!r}, {vocab_size}) returned a {type(got).__name__}; "
            "return a list of pairs (a, b), one per merge, in the order learnt"
        )
    got = [tuple(p) if isinstance(p, (list, tuple)) else p for p in got]
    expected = BPETokenizer.train(text, vocab_size, pattern=None).merges
    c.equal(
        got,
        expected,
        f"train_bpe({text!r}, {vocab_size})",
        hints={
            f"vocab_size counts the 256 byte tokens: learn vocab_size - 256 = "
            f"{vocab_size - 256} merges, not {vocab_size}.": lambda got: (
                got[: len(expected)] == expected and len(got) > len(expected)
            ),
            "when several pairs are equally frequent, take the smallest pair "
            "(min over (-count, pair)), not the first one met in the text.": (
                lambda got: got == _train_reference(text, vocab_size, tie="first")
            ),
            "start from the UTF-8 bytes, list(text.encode('utf-8')), not from the "
            "characters: 'é' is two bytes, 195 169.": lambda got: (
                got == _train_reference(text, vocab_size, start=_ord_list)
            ),
            "after each merge, replace the pair in the sequence before counting "
            "again, with the new id 256 + k of merge k.": lambda got: (
                len(got) > 1 and got[1] == got[0]
            ),
        },
    )


def _ord_list(text: str) -> list[int]:
    return [ord(ch) for ch in text]


def _merge_table() -> dict[tuple[int, int], int]:
    """A small merge table learnt from text with accented letters, for the checks."""
    text = "the cat sat on the mat; thé café était fermé. " * 5
    tok = BPETokenizer.train(text, vocab_size=280, pattern=None)
    return {pair: 256 + k for k, pair in enumerate(tok.merges)}


def _lowest_first(ids: list[int], merges: dict) -> list[int]:
    """Merge the pair with the lowest new id first, until no pair is in the table."""
    while True:
        present = [p for p in pairwise(ids) if p in merges]
        if not present:
            return ids
        pair = min(present, key=merges.get)
        ids = merge_pair(ids, pair, merges[pair])


def _leftmost_first(ids: list[int], merges: dict) -> list[int]:
    while True:
        pair = next((p for p in pairwise(ids) if p in merges), None)
        if pair is None:
            return ids
        ids = merge_pair(ids, pair, merges[pair])


def _highest_first(ids: list[int], merges: dict) -> list[int]:
    while True:
        present = [p for p in pairwise(ids) if p in merges]
        if not present:
            return ids
        pair = max(present, key=merges.get)
        ids = merge_pair(ids, pair, merges[pair])


def _one_merge(ids: list[int], merges: dict) -> list[int]:
    present = [p for p in pairwise(ids) if p in merges]
    if not present:
        return ids
    pair = min(present, key=merges.get)
    return merge_pair(ids, pair, merges[pair])


def encode_with_merges(fn) -> None:
    """Exercise: encode a text with a given merge table (no pre-tokenisation).

    ``fn(text: str, merges: dict[tuple[int, int], int]) -> list[int]``, where
    ``merges[(a, b)]`` is the id of the token made by merging ``a`` and ``b``.
    """
    __tracebackhide__ = True
    learnt = _merge_table()
    # Tables where the newest pair, or the leftmost one, is the wrong one to merge first.
    newest = {(97, 98): 256, (98, 99): 257}
    leftmost = {(98, 99): 256, (97, 98): 257, (256, 100): 258, (97, 256): 259}
    cases = [
        ("abc", newest),
        ("abcd", leftmost),
        ("abc", leftmost),
        ("the cat", learnt),
        ("the café", learnt),
        ("été 🙂", learnt),
        ("", learnt),
        ("x", learnt),
    ]
    with checking("encode_with_merges", fn) as c:
        for text, merges in cases:
            shown = "the learnt table" if merges is learnt else f"{merges}"
            _encode_with_merges_case(c, text, merges, shown)


def _encode_with_merges_case(c: Checker, text: str, merges: dict, shown: str) -> None:
    __tracebackhide__ = True
    got = c.call(text, dict(merges))
    ids = list(text.encode("utf-8"))
    expected = BPETokenizer(sorted(merges, key=merges.get), pattern=None).encode(text)
    c.equal(
        got,
        expected,
        f"encode_with_merges({text!r}, {shown})",
        hints={
            "start from the UTF-8 bytes of the text, list(text.encode('utf-8')), not "
            "from its characters: 'é' is one character but two bytes, 195 169.": lambda got: (
                got == _lowest_first([ord(ch) for ch in text], merges)
            ),
            "merge the pair with the lowest new id first (the one learnt earliest), "
            "not the leftmost pair of the text.": lambda got: got == _leftmost_first(ids, merges),
            "merge the pair with the lowest new id first: the highest ids were learnt "
            "last, from tokens that the earlier merges made.": lambda got: (
                got == _highest_first(ids, merges)
            ),
            "keep merging until no adjacent pair of the sequence is in the table, not "
            "only once.": lambda got: got == _one_merge(ids, merges),
        },
    )


def encode_with_specials(fn) -> None:
    """Exercise: add special tokens to an encoder.

    ``fn(text: str, encode: Callable[[str], list[int]], special_tokens: dict[str, int])
    -> list[int]``: ``encode`` reads all text as ordinary text; each special-token string
    in ``text`` must become its id instead.
    """
    __tracebackhide__ = True
    cases = [
        "Once upon a time<|endoftext|>The end.",
        "<|endoftext|>",
        "no special token here",
        "the end<|endoftext|>",
        "<|user|>Hi!<|endoftext|><|endoftext|>bye",
        "",
    ]
    with checking("encode_with_specials", fn) as c:
        for text in cases:
            _encode_with_specials_case(c, text)


def _encode_with_specials_case(c: Checker, text: str) -> None:
    __tracebackhide__ = True
    specials = {"<|endoftext|>": 280, "<|user|>": 281}
    base = BPETokenizer.train("Once upon a time, the end. " * 20, vocab_size=280, pattern=None)
    tok = BPETokenizer(base.merges, pattern=None, special_tokens=specials)
    one = BPETokenizer(base.merges, pattern=None, special_tokens={"<|endoftext|>": 280})
    got = c.call(text, base.encode_ordinary, dict(specials))
    expected = tok.encode(text, allowed_special="all")
    c.equal(
        got,
        expected,
        f"encode_with_specials({text!r}, ...)",
        hints={
            "the special tokens were encoded as ordinary text: find each special "
            "string first, and put its id in its place.": lambda got: (
                got == base.encode_ordinary(text)
            ),
            "the ids of the special tokens are missing: put special_tokens[s] where "
            "the text holds s.": lambda got: (
                got == [i for i in expected if i not in specials.values()]
            ),
            "handle every special token of special_tokens, not only '<|endoftext|>'.": (
                lambda got: "<|user|>" in text and got == one.encode(text, "all")
            ),
            "the text after the last special token is lost: encode it too.": lambda got: (
                len(got) < len(expected) and got == expected[: len(got)]
            ),
        },
    )
