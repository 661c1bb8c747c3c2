"""The course's one definition of a word, and the unknown-word rate built on it."""

from __future__ import annotations

import pytest

from gptcourse.batches import split_text
from gptcourse.words import unknown_word_rate, words


def test_words_are_lower_case_runs_of_letters_and_apostrophes():
    assert words("KING RICHARD III:\nWhy, 'tis done--now.") == [
        "king",
        "richard",
        "iii",
        "why",
        "'tis",
        "done",
        "now",
    ]
    assert words("") == [] and words("3, 14; --") == []


def test_unknown_word_rate_counts_every_occurrence():
    # held out: a, b, c, c; only "a" was seen: 3 of 4 occurrences are unknown
    assert unknown_word_rate("A a a", "a b c C") == 0.75
    assert unknown_word_rate("x y", "y, X!") == 0.0  # case and punctuation do not matter


def test_unknown_word_rate_matches_a_direct_count_on_a_split_text():
    text = "the cat sat on the mat. the dog sat on the log; a bird flew over it."
    train, val = split_text(text, 0.3)
    known = set(train.lower().replace(".", " ").replace(";", " ").split())
    held = val.lower().replace(".", " ").split()
    expected = sum(w not in known for w in held) / len(held)
    assert unknown_word_rate(train, val) == pytest.approx(expected)


def test_bad_input_is_named():
    with pytest.raises(TypeError, match="text must be a str, got a list"):
        words(["a", "b"])
    with pytest.raises(TypeError, match="val_text must be a str"):
        unknown_word_rate("a", None)
    with pytest.raises(ValueError, match="val_text has no words"):
        unknown_word_rate("a b", "3 4, 5")
