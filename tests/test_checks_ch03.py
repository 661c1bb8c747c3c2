"""Chapter 3's exercise checks: right answers pass, stubs and the usual mistakes are named."""

from __future__ import annotations

import re
from collections import Counter
from itertools import pairwise

import pytest

from gptcourse.bpe import merge_pair
from gptcourse.checks import CheckFailed, ch03


def stub(*args):
    raise NotImplementedError("Exercise 2.1: replace this line with your code.")


# ---- right answers -------------------------------------------------------------------


def right_count_pairs(ids):
    return dict(Counter(pairwise(ids)))


def right_encode(text, merges):
    ids = list(text.encode("utf-8"))
    for pair, new_id in sorted(merges.items(), key=lambda item: item[1]):  # in rank order
        ids = merge_pair(ids, pair, new_id)
    return ids


def right_specials(text, encode, special_tokens):
    pattern = "(" + "|".join(map(re.escape, sorted(special_tokens, key=len)[::-1])) + ")"
    ids = []
    for piece in re.split(pattern, text):
        ids += [special_tokens[piece]] if piece in special_tokens else encode(piece)
    return ids


@pytest.mark.parametrize(
    ("check", "fn", "passed"),
    [
        (ch03.count_pairs, right_count_pairs, 5),
        (ch03.merge, merge_pair, 12),
        (ch03.encode_with_merges, right_encode, 8),
        (ch03.encode_with_specials, right_specials, 6),
    ],
)
def test_right_answers_pass(capsys, check, fn, passed):
    check(fn)
    assert f"all {passed} checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "check", [ch03.count_pairs, ch03.merge, ch03.encode_with_merges, ch03.encode_with_specials]
)
def test_untouched_stubs_are_reported(check):
    with pytest.raises(CheckFailed, match="not implemented yet"):
        check(stub)


# ---- the usual mistakes --------------------------------------------------------------


def _merge_loop(step):
    """A merge that walks with ``step(ids, i, pair, new_id, out) -> next i``."""

    def merge(ids, pair, new_id):
        out, i = [], 0
        while i < len(ids):
            i = step(ids, i, pair, new_id, out)
        return out

    return merge


def _no_skip(ids, i, pair, new_id, out):
    out.append(new_id if tuple(ids[i : i + 2]) == pair else ids[i])
    return i + 1


def _drops_last(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids) - 1:
        if (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _first_only(ids, pair, new_id):
    for i in range(len(ids) - 1):
        if (ids[i], ids[i + 1]) == pair:
            return ids[:i] + [new_id] + ids[i + 2 :]
    return list(ids)


def _mutates(ids, pair, new_id):
    result = merge_pair(ids, pair, new_id)
    ids[:] = result
    return result


def _encode_from(start, choose, once=False):
    def encode(text, merges):
        ids = start(text)
        while True:
            present = [p for p in pairwise(ids) if p in merges]
            if not present:
                return ids
            pair = choose(present, merges)
            ids = merge_pair(ids, pair, merges[pair])
            if once:
                return ids

    return encode


def utf8(text):
    return list(text.encode("utf-8"))


def chars(text):
    return [ord(ch) for ch in text]


def lowest(present, merges):
    return min(present, key=merges.get)


def _specials_ignored(text, encode, special_tokens):
    return encode(text)


def _specials_dropped(text, encode, special_tokens):
    return [i for i in right_specials(text, encode, special_tokens) if i < 280]


def _only_endoftext(text, encode, special_tokens):
    return right_specials(text, encode, {"<|endoftext|>": special_tokens["<|endoftext|>"]})


def _loses_the_tail(text, encode, special_tokens):
    pieces = re.split("(<\\|endoftext\\|>|<\\|user\\|>)", text)
    ids = []
    for piece in pieces[:-1]:
        ids += [special_tokens[piece]] if piece in special_tokens else encode(piece)
    return ids


@pytest.mark.parametrize(
    ("check", "wrong", "message"),
    [
        (
            ch03.count_pairs,
            lambda ids: dict(Counter(zip(ids[::2], ids[1::2], strict=False))),
            "overlapping ones too",
        ),
        (
            ch03.count_pairs,
            lambda ids: dict(Counter(zip(ids, ids[1:] + ids[:1], strict=True))),
            "no pair wraps around",
        ),
        (
            ch03.count_pairs,
            lambda ids: dict(Counter(pairwise(ids[:-1]))),
            "the last pair is missing",
        ),
        (
            ch03.count_pairs,
            lambda ids: {f"{a},{b}": n for (a, b), n in Counter(pairwise(ids)).items()},
            "the keys must be tuples",
        ),
        (ch03.count_pairs, lambda ids: list(pairwise(ids)), "returned a list; return a dict"),
        (ch03.merge, _merge_loop(_no_skip), "skip both of its ids"),
        (ch03.merge, _drops_last, "the last id was lost"),
        (ch03.merge, _first_only, "replace every occurrence"),
        (
            ch03.merge,
            lambda ids, p, n: merge_pair(ids, p[::-1], n),
            "look for the pair in its order",
        ),
        (ch03.merge, _mutates, "changed the list it was given"),
        (
            ch03.merge,
            lambda ids, p, n: tuple(merge_pair(ids, p, n)),
            "returned a tuple, not a list",
        ),
        (ch03.encode_with_merges, _encode_from(chars, lowest), "UTF-8 bytes"),
        (
            ch03.encode_with_merges,
            _encode_from(utf8, lambda present, merges: present[0]),
            "not the leftmost pair",
        ),
        (
            ch03.encode_with_merges,
            _encode_from(utf8, lambda present, merges: max(present, key=merges.get)),
            "the highest ids were learnt last",
        ),
        (ch03.encode_with_merges, _encode_from(utf8, lowest, once=True), "not only once"),
        (ch03.encode_with_specials, _specials_ignored, "encoded as ordinary text"),
        (ch03.encode_with_specials, _specials_dropped, "ids of the special tokens are missing"),
        (ch03.encode_with_specials, _only_endoftext, "not only '<|endoftext|>'"),
        (ch03.encode_with_specials, _loses_the_tail, "the text after the last special token"),
    ],
)
def test_usual_mistakes_get_their_hint(check, wrong, message):
    with pytest.raises(CheckFailed, match=re.escape(message)):
        check(wrong)


def test_a_failure_names_the_input_and_both_results():
    with pytest.raises(CheckFailed) as info:
        ch03.merge(_first_only)
    assert "merge([1, 2, 3, 1, 2], (1, 2), 99): expected [99, 3, 99], got [99, 3, 1, 2]" in str(
        info.value
    )


def test_learner_exceptions_are_shown_with_their_input():
    with pytest.raises(CheckFailed, match=r"count_pairs\(\[7\]\) raised IndexError"):
        ch03.count_pairs(
            lambda ids: {(ids[0], ids[1]): 1} if len(ids) < 2 else right_count_pairs(ids)
        )
