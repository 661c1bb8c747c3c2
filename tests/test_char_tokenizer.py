"""The character tokenizer: round trips, a stable vocabulary, clear errors."""

from __future__ import annotations

import json

import numpy as np
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
    saved = json.loads((tmp_path / "tok.json").read_text(encoding="utf-8"))
    assert saved == {
        "format": "gptcourse-tokenizer",
        "version": 1,
        "type": "char",
        "chars": tok.chars,
    }


def _envelope(**fields) -> str:
    return json.dumps({"format": "gptcourse-tokenizer", "version": 1, **fields})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not a saved tokenizer: it is not JSON"),
        ('["a", "b"]', "is not a saved tokenizer: it holds a JSON list"),
        ('{"type": "char", "chars": ["a"]}', "its 'format' is None, not 'gptcourse-tokenizer'"),
        (_envelope(type="char"), "is not a valid saved CharTokenizer: missing field 'chars'"),
        (_envelope(type="char", chars="ab"), "'chars' is not a list but the str 'ab'"),
        (_envelope(type="char", chars=["ab"]), "must be single characters, got 'ab'"),
        (_envelope(type="char", chars=["a", 1]), r"must be characters \(str\), got the int 1"),
        (_envelope(type="char", chars=[["a"]]), r"must be characters \(str\), got a list of 1"),
        (_envelope(type="char", chars=[]), "needs at least one character"),
        (_envelope(type="bpe", merges=[]), r"holds a BPETokenizer \(type 'bpe'\), not a Char"),
    ],
)
def test_corrupt_saved_tokenizer_is_refused(tmp_path, content, message):
    (tmp_path / "tok.json").write_text(content)
    with pytest.raises(ValueError, match=message):
        CharTokenizer.load(tmp_path / "tok.json")


def test_wrong_types_are_named():
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(
        TypeError, match=r"ids must hold integer token ids, got the float 1.5 at position 1"
    ):
        tok.decode([0, 1.5])
    with pytest.raises(TypeError, match="ids must be a sequence of token ids, got the str 'ab'"):
        tok.decode("ab")
    assert tok.decode(np.array([2, 0])) == "ca" and tok.decode([np.int32(1)]) == "b"
    with pytest.raises(TypeError, match="encode expects a str, got a list of 2 items"):
        tok.encode(["a", "b"])
    with pytest.raises(TypeError, match="from_text expects a str, got the int 5"):
        CharTokenizer.from_text(5)
    with pytest.raises(TypeError, match="chars must be a str or an iterable of characters"):
        CharTokenizer(5)
    with pytest.raises(TypeError, match=r"vocabulary entries must be characters \(str\)"):
        CharTokenizer([1, 2])
