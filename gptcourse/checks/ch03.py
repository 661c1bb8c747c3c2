"""Checks for the exercises of chapter 3: tokenisation."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

from gptcourse.bpe import BPETokenizer, merge_pair
from gptcourse.checks import Checker, checking

__all__ = ["count_pairs", "encode_with_merges", "encode_with_specials", "merge"]


def count_pairs(fn) -> None:
    """Exercise: count the pairs of adjacent ids.

    ``fn(ids: list[int]) -> dict[tuple[int, int], int]``.
    """
    __tracebackhide__ = True
    with checking("count_pairs", fn) as c:
        for ids in ([1, 2, 3, 1, 2], [5, 5, 5, 5], list(b"hello world"), [7], []):
            _count_pairs_case(c, ids)


def _count_pairs_case(c: Checker, ids: list[int]) -> None:
    __tracebackhide__ = True
    got = c.call(list(ids))
    if not isinstance(got, dict):
        c.fail(
            f"count_pairs({ids}) returned a {type(got).__name__}; return a dict that "
            "maps each pair (a tuple of two ids) to how often it occurs"
        )
    c.equal(
        dict(got),
        dict(Counter(pairwise(ids))),
        f"count_pairs({ids})",
        hints={
            "count every adjacent pair, overlapping ones too: [5, 5, 5] holds the "
            "pair (5, 5) twice, at positions 0 and 1.": lambda got: (
                got == dict(Counter(zip(ids[::2], ids[1::2], strict=False)))
            ),
            "the last id has no right neighbour: a sequence of n ids has n - 1 "
            "pairs, not n (no pair wraps around to the start).": lambda got: (
                got == dict(Counter([*pairwise(ids), (ids[-1], ids[0])]))
            ),
            "the last pair is missing: a sequence of n ids has n - 1 pairs, "
            "(ids[i], ids[i + 1]) for i from 0 to n - 2 included.": lambda got: (
                len(ids) > 1 and got == dict(Counter(pairwise(ids[:-1])))
            ),
            "the keys must be tuples (a, b) of two ids: a list cannot be a dict key, "
            "and a string or a single id does not say which pair it is.": lambda got: any(
                not isinstance(k, tuple) for k in got
            ),
        },
    )


def merge(fn) -> None:
    """Exercise: one BPE merge step.

    ``fn(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]``.
    """
    __tracebackhide__ = True
    cases = [
        ([1, 2, 3, 1, 2], (1, 2), 99),
        ([5, 5, 5], (5, 5), 9),
        ([1, 1, 1, 1], (1, 1), 7),
        ([3, 1, 2], (1, 2), 4),
        ([2, 1, 2, 1], (1, 2), 6),
        ([], (1, 2), 3),
    ]
    with checking("merge", fn) as c:
        for ids, pair, new_id in cases:
            _merge_case(c, ids, pair, new_id)


def _merge_case(c: Checker, ids: list[int], pair: tuple[int, int], new_id: int) -> None:
    __tracebackhide__ = True
    given = list(ids)
    got = c.call(given, pair, new_id)
    c.that(
        given == ids,
        f"merge({ids}, {pair}, {new_id}) changed the list it was given into {given}; "
        "build and return a new list instead",
    )
    if not isinstance(got, list):
        c.fail(f"merge({ids}, {pair}, {new_id}) returned a {type(got).__name__}, not a list")
    expected = merge_pair(ids, pair, new_id)
    c.equal(
        got,
        expected,
        f"merge({ids}, {pair}, {new_id})",
        hints={
            "the last id was lost: when the loop stops before the end, append the "
            "last id if it was not part of a merged pair.": lambda got: got == expected[:-1],
            "replace every occurrence of the pair, not only the first.": lambda got: (
                got == _first_only(ids, pair, new_id)
            ),
            "after replacing a pair, skip both of its ids: [5, 5, 5] merged on (5, 5) "
            "becomes [9, 5], not [9, 9].": lambda got: (
                got == _without_skipping(ids, pair, new_id)
                or got.count(new_id) > expected.count(new_id)
            ),
            "look for the pair in its order: (2, 1) is not the pair (1, 2).": lambda got: (
                got == merge_pair(ids, pair[::-1], new_id)
            ),
        },
    )


def _without_skipping(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """The mistake of moving on by one id, not two, after a replacement."""
    return [new_id if (a, b) == pair else a for a, b in zip(ids, [*ids[1:], None], strict=True)]


def _first_only(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    for i in range(len(ids) - 1):
        if (ids[i], ids[i + 1]) == pair:
            return [*ids[:i], new_id, *ids[i + 2 :]]
    return list(ids)


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
