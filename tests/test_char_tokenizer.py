"""The character tokenizer: round trips, a stable vocabulary, clear errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gptcourse.char_tokenizer import CharTokenizer


@given(st.text(min_size=1))
def test_round_trip_on_any_text_it_was_built_from(text):
    tok = CharTokenizer.from_text(text)
    ids = tok.encode(text)
    assert len(ids) == len(text)
    assert all(0 <= i < tok.vocab_size for i in ids)
    assert tok.decode(ids) == text


def test_vocabulary_is_sorted_and_independent_of_order():
    assert CharTokenizer.from_text("banana").chars == ["a", "b", "n"]
    assert CharTokenizer.from_text("ananab").stoi == CharTokenizer.from_text("banana").stoi


def test_unknown_character_is_named_with_its_position():
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(ValueError, match=r"'z' \(U\+007A\) at position 2"):
        tok.encode("abz")


def test_decode_rejects_ids_outside_the_vocabulary():
    with pytest.raises(ValueError, match=r"id 3 is outside the vocabulary \(0 .. 2\)"):
        CharTokenizer.from_text("abc").decode([0, 3])


def test_decode_accepts_tensors():
    import torch

    tok = CharTokenizer.from_text("hello")
    assert tok.decode(torch.tensor(tok.encode("hole"))) == "hole"


def test_save_load_round_trip(tmp_path):
    tok = CharTokenizer.from_text("To be, or not to be — 生存")
    tok.save(tmp_path / "tok.json")
    assert CharTokenizer.load(tmp_path / "tok.json").chars == tok.chars


@pytest.mark.parametrize(
    "content", ["{not json", '{"type": "bpe"}', '{"type": "char", "chars": ["ab"]}']
)
def test_corrupt_saved_tokenizer_is_refused(tmp_path, content):
    (tmp_path / "tok.json").write_text(content)
    with pytest.raises(ValueError, match="is not a valid saved CharTokenizer"):
        CharTokenizer.load(tmp_path / "tok.json")
