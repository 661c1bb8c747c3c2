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


def right_tokens_per_char(encode, text):
    return len(encode(text)) / len(text)


def right_train_bpe(text, vocab_size):
    ids, merges = list(text.encode("utf-8")), []
    for k in range(vocab_size - 256):
        counts = Counter(pairwise(ids))
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        merges.append(best)
        ids = merge_pair(ids, best, 256 + k)
    return merges


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
        (ch03.tokens_per_char, right_tokens_per_char, 5),
        (ch03.train_bpe, right_train_bpe, 4),
        (ch03.encode_with_merges, right_encode, 8),
        (ch03.encode_with_specials, right_specials, 6),
    ],
)
def test_right_answers_pass(capsys, check, fn, passed):
    check(fn)
    assert f"all {passed} checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "check",
    [ch03.tokens_per_char, ch03.train_bpe, ch03.encode_with_merges, ch03.encode_with_specials],
)
def test_untouched_stubs_are_reported(check):
    with pytest.raises(CheckFailed, match="not implemented yet"):
        check(stub)


# ---- the usual mistakes --------------------------------------------------------------


def _train_bpe_with(*, count=None, tie_first=False, start=None, no_replace=False):
    """A train_bpe that makes one of the usual mistakes."""

    def train_bpe(text, vocab_size):
        ids = list(text.encode("utf-8")) if start is None else start(text)
        merges = []
        for k in range(vocab_size - 256 if count is None else count(vocab_size)):
            counts = Counter(pairwise(ids))
            if not counts:
                break
            if tie_first:
                best = max(counts, key=counts.get)
            else:
                best = min(counts, key=lambda pair: (-counts[pair], pair))
            merges.append(best)
            if not no_replace:
                ids = merge_pair(ids, best, 256 + k)
        return merges

    return train_bpe


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
        (ch03.tokens_per_char, lambda encode, text: len(text) / len(encode(text)), "inverse"),
        (
            ch03.tokens_per_char,
            lambda encode, text: len(encode(text)) / len(text.encode("utf-8")),
            "UTF-8 bytes",
        ),
        (ch03.tokens_per_char, lambda encode, text: len(encode(text)), "that is the number"),
        (ch03.train_bpe, _train_bpe_with(count=lambda v: v), "counts the 256 byte tokens"),
        (ch03.train_bpe, _train_bpe_with(tie_first=True), "the smallest pair"),
        (ch03.train_bpe, _train_bpe_with(start=chars), "start from the UTF-8 bytes"),
        (ch03.train_bpe, _train_bpe_with(no_replace=True), "replace the pair in the sequence"),
        (ch03.train_bpe, lambda text, v: {}, "returned a dict; return a list"),
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
        ch03.train_bpe(_train_bpe_with(tie_first=True))
    message = str(info.value)
    assert re.search(r"train_bpe\('.*', \d+\): expected \[\(.*got \[\(", message)
    assert "Hint: when several pairs are equally frequent" in message


def test_learner_exceptions_are_shown_with_their_input():
    with pytest.raises(CheckFailed, match=r"tokens_per_char\(.*\) raised ZeroDivisionError"):
        ch03.tokens_per_char(lambda encode, text: 1 / 0)
