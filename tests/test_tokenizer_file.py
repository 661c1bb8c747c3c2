"""One file format for every tokenizer, and one load that gives back the right one."""

from __future__ import annotations

import json

import pytest

from gptcourse import tokenizer_file
from gptcourse.bpe import BPETokenizer
from gptcourse.char_tokenizer import CharTokenizer


def test_load_gives_back_either_type(tmp_path):
    char = CharTokenizer.from_text("hello")
    bpe = BPETokenizer.train("low lower lowest " * 20, vocab_size=260, special_tokens=["<s>"])
    char.save(tmp_path / "char.json")
    bpe.save(tmp_path / "bpe.json")
    again_char = tokenizer_file.load(tmp_path / "char.json")
    again_bpe = tokenizer_file.load(tmp_path / "bpe.json")
    assert isinstance(again_char, CharTokenizer) and again_char.chars == char.chars
    assert isinstance(again_bpe, BPETokenizer) and again_bpe.merges == bpe.merges
    assert again_bpe.special_tokens == {"<s>": 259}  # 256 bytes, 3 merges, then it


def test_both_types_share_the_envelope(tmp_path):
    CharTokenizer.from_text("ab").save(tmp_path / "char.json")
    BPETokenizer([]).save(tmp_path / "bpe.json")
    for name, type_ in (("char.json", "char"), ("bpe.json", "bpe")):
        saved = json.loads((tmp_path / name).read_text(encoding="utf-8"))
        assert (saved["format"], saved["version"], saved["type"]) == (
            tokenizer_file.FORMAT,
            tokenizer_file.VERSION,
            type_,
        )


def test_each_class_refuses_the_other_type_by_name(tmp_path):
    CharTokenizer.from_text("ab").save(tmp_path / "char.json")
    BPETokenizer([]).save(tmp_path / "bpe.json")
    with pytest.raises(ValueError, match=r"holds a BPETokenizer \(type 'bpe'\), not a CharTok"):
        CharTokenizer.load(tmp_path / "bpe.json")
    with pytest.raises(ValueError, match="load it with CharTokenizer.load, or with gptcourse"):
        BPETokenizer.load(tmp_path / "char.json")


def test_a_file_that_is_not_a_saved_tokenizer(tmp_path):
    (tmp_path / "notes.txt").write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(ValueError, match="notes.txt is not a saved tokenizer: it is not JSON"):
        tokenizer_file.load(tmp_path / "notes.txt")
    (tmp_path / "other.json").write_text('{"model": "gpt2"}')
    with pytest.raises(ValueError, match="its 'format' is None, not 'gptcourse-tokenizer'"):
        tokenizer_file.load(tmp_path / "other.json")
