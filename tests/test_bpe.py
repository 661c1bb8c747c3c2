"""The course's byte-level BPE: the trainer against its definition, round trips, specials, files."""

from __future__ import annotations

import json
from collections import Counter
from itertools import pairwise

import numpy as np
import pytest
import regex
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gptcourse import data
from gptcourse.bpe import GPT2_PATTERN, BPETokenizer, count_pairs, merge_pair
from gptcourse.char_tokenizer import CharTokenizer

EOT = "<|endoftext|>"


@pytest.fixture(scope="module")
def shakespeare() -> str:
    return data.load_text("tinyshakespeare")


@pytest.fixture(scope="module")
def tok(shakespeare) -> BPETokenizer:
    """512 tokens learnt from the first 200,000 characters, and one special token."""
    return BPETokenizer.train(shakespeare[:200_000], vocab_size=513, special_tokens=[EOT])


def reference_merges(text: str, num_merges: int, pattern: str | None) -> list[tuple[int, int]]:
    """BPE by its definition: recount every pair of every chunk, merge the most frequent."""
    chunks = regex.findall(pattern, text) if pattern else [text]
    words = [list(chunk.encode("utf-8")) for chunk in chunks]
    merges = []
    for k in range(num_merges):
        counts = Counter(pair for word in words for pair in pairwise(word))
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        words = [merge_pair(word, best, 256 + k) for word in words]
    return merges


def test_count_pairs_counts_overlapping_pairs_and_accumulates():
    assert count_pairs([1, 2, 3, 1, 2]) == {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    assert count_pairs([5, 5, 5]) == {(5, 5): 2}
    assert count_pairs([7]) == {} and count_pairs([]) == {}
    counts = count_pairs([1, 2], weight=3)
    assert count_pairs([1, 2, 1], counts) == {(1, 2): 4, (2, 1): 1}


@given(st.lists(st.integers(0, 3), max_size=30), st.integers(0, 3), st.integers(0, 3))
def test_merge_pair_shortens_by_the_number_of_replacements(ids, a, b):
    merged = merge_pair(ids, (a, b), 99)
    assert len(merged) == len(ids) - merged.count(99)
    # Expanding the new id gives the sequence back.
    expanded = [x for i in merged for x in ((a, b) if i == 99 else (i,))]
    assert expanded == ids
    assert merge_pair([5, 5, 5], (5, 5), 9) == [9, 5]


@pytest.mark.parametrize("pattern", [GPT2_PATTERN, None])
def test_trainer_equals_the_definition_of_bpe(shakespeare, pattern):
    text = shakespeare[:20_000]
    fast = BPETokenizer.train(text, vocab_size=256 + 120, pattern=pattern)
    assert fast.merges == reference_merges(text, 120, pattern)


def test_the_most_frequent_pair_is_merged_first(shakespeare):
    text = shakespeare[:50_000]
    chunk_counts = Counter(regex.findall(GPT2_PATTERN, text))
    counts: dict = {}
    for chunk, n in chunk_counts.items():
        count_pairs(list(chunk.encode()), counts, n)
    tok = BPETokenizer.train(text, vocab_size=257)
    assert counts[tok.merges[0]] == max(counts.values())
    assert tok.vocab[256] == bytes(tok.merges[0])


def test_merges_never_cross_chunks(tok):
    # GPT-2's pattern puts a space only at the start of a chunk, or in a run of spaces.
    for token in tok.vocab.values():
        assert b" " not in token[1:] or token.strip(b" ") == b"", token


def test_smaller_vocabularies_are_prefixes_of_larger_ones(shakespeare):
    text = shakespeare[:50_000]
    small = BPETokenizer.train(text, vocab_size=300)
    large = BPETokenizer.train(text, vocab_size=400)
    assert large.merges[:44] == small.merges


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_round_trip_on_any_text(tok, text):
    ids = tok.encode_ordinary(text)
    assert all(0 <= i < 512 for i in ids)
    assert tok.decode(ids) == text
    assert tok.decode_bytes(ids) == text.encode("utf-8")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from("the and "), max_size=60))
def test_encode_equals_applying_every_merge_in_order(tok, text):
    expected = []
    for chunk in regex.findall(GPT2_PATTERN, text):
        ids = list(chunk.encode("utf-8"))
        for k, pair in enumerate(tok.merges):
            ids = merge_pair(ids, pair, 256 + k)
        expected += ids
    assert tok.encode_ordinary(text) == expected


def test_encoding_compresses_shakespeare(tok, shakespeare):
    val = shakespeare[-50_000:]
    ids = tok.encode(val)
    assert tok.decode(ids) == val
    assert len(ids) < 0.6 * len(val)  # 256 merges already shorten it by 40 %


def test_unicode_round_trips_through_bytes(tok):
    text = "naïve café — 你好, 世界 👋🏽 Ünïcödé"
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert len(ids) >= len(text)  # mostly unseen bytes: about one token per byte
    assert tok.decode(tok.encode("你")[:1]) == "\ufffd"  # one byte of a 3-byte character


def test_vocabulary_sizes(tok):
    assert tok.vocab_size == 513 and len(tok.merges) == 256
    assert tok.special_tokens == {EOT: 512}
    assert len(tok.vocab) == 512 and len(set(tok.vocab.values())) == 512


def test_special_tokens_are_never_learnt_and_need_permission(tok):
    assert EOT.encode() not in tok.vocab.values()
    text = f"To be{EOT}or not"
    with pytest.raises(ValueError, match=r"special token '<\|endoftext\|>' at position 5"):
        tok.encode(text)
    ids = tok.encode(text, allowed_special={EOT})
    assert ids == tok.encode("To be") + [512] + tok.encode("or not")
    assert tok.encode(text, allowed_special="all") == ids
    assert tok.decode(ids) == text
    ordinary = tok.encode_ordinary(text)
    assert 512 not in ordinary and tok.decode(ordinary) == text
    with pytest.raises(ValueError, match=r"not special tokens of this tokenizer"):
        tok.encode(text, allowed_special={"<|im_start|>"})


def test_special_tokens_cut_the_training_text():
    # Without the cut, "a<|x|>b" repeated would teach merges such as (b'|', b'>').
    tok = BPETokenizer.train("a<|x|>b " * 50, vocab_size=258, special_tokens=["<|x|>"])
    assert all(b"|" not in token for token in tok.vocab.values() if len(token) > 1)
    assert tok.encode("a<|x|>b", allowed_special="all") == [97, 257, 98]


def test_longest_special_token_wins():
    tok = BPETokenizer([], special_tokens={"<|a|>": 256, "<|a|><|b|>": 257})
    assert tok.encode("<|a|><|b|><|a|>", allowed_special="all") == [257, 256]


def test_without_a_pattern_merges_cross_words():
    tok = BPETokenizer.train("ab ab ab ab", vocab_size=259, pattern=None)
    assert tok.vocab[258] == b" ab ab"  # across a space
    assert tok.decode(tok.encode("ab ab")) == "ab ab"


def test_save_load_round_trip(tok, tmp_path, shakespeare):
    tok.save(tmp_path / "tok.json")
    again = BPETokenizer.load(tmp_path / "tok.json")
    assert again.merges == tok.merges and again.special_tokens == tok.special_tokens
    assert again.pattern == tok.pattern and again.byte_order == tok.byte_order
    sample = shakespeare[-5_000:] + EOT + "é👋"
    assert again.encode(sample, allowed_special="all") == tok.encode(sample, allowed_special="all")
    saved = json.loads((tmp_path / "tok.json").read_text(encoding="utf-8"))
    assert (saved["format"], saved["version"], saved["type"]) == ("gptcourse-tokenizer", 1, "bpe")


def _saved(tok: BPETokenizer, tmp_path, **changes) -> str:
    tok.save(tmp_path / "tok.json")
    saved = json.loads((tmp_path / "tok.json").read_text(encoding="utf-8"))
    saved.update(changes)
    return json.dumps(saved)


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda tok, p: '{"format": "gptcourse-tokenizer", "merges": [[1, ', "it is not JSON"),
        (lambda tok, p: "[1, 2, 3]", "it holds a JSON list"),
        (
            lambda tok, p: _saved(tok, p, format="gptcourse-bpe"),
            "its 'format' is 'gptcourse-bpe', not 'gptcourse-tokenizer'",
        ),
        (
            lambda tok, p: _saved(tok, p, version=2),
            "of version 2; this gptcourse reads version 1",
        ),
        (lambda tok, p: _saved(tok, p, type="gpt"), r"type 'gpt'; the known types are \['bpe'"),
        (lambda tok, p: _saved(tok, p, merges=[[1, 2], [3, 300]]), r"merge 1 is \(3, 300\)"),
        (lambda tok, p: _saved(tok, p, merges=[[1, 2, 3]]), "merge 0 must be a pair"),
        (lambda tok, p: _saved(tok, p, merges="abc"), "'merges' is not a list but the str"),
        (lambda tok, p: _saved(tok, p, pattern="(unclosed"), "not a valid regular expression"),
        (lambda tok, p: _saved(tok, p, pattern=5), "pattern must be a str"),
        (lambda tok, p: _saved(tok, p, byte_order=[0] * 256), "permutation of 0 .. 255"),
        (lambda tok, p: _saved(tok, p, special_tokens={EOT: 3}), "has id 3, but ids below 512"),
        (lambda tok, p: _saved(tok, p, special_tokens=[EOT]), "special_tokens must be a dict"),
    ],
)
def test_corrupt_saved_tokenizer_is_refused(tok, tmp_path, corrupt, message):
    (tmp_path / "bad.json").write_text(corrupt(tok, tmp_path), encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.json (is not a|is a saved|holds a)") as info:
        BPETokenizer.load(tmp_path / "bad.json")
    assert regex.search(message, str(info.value)), str(info.value)


def test_a_saved_field_missing_is_named(tok, tmp_path):
    tok.save(tmp_path / "tok.json")
    saved = json.loads((tmp_path / "tok.json").read_text(encoding="utf-8"))
    del saved["merges"]
    (tmp_path / "tok.json").write_text(json.dumps(saved), encoding="utf-8")
    with pytest.raises(
        ValueError, match="is not a valid saved BPETokenizer: missing field 'merges'"
    ):
        BPETokenizer.load(tmp_path / "tok.json")


def test_a_char_tokenizer_file_is_not_a_bpe_tokenizer(tmp_path):
    CharTokenizer.from_text("abc").save(tmp_path / "char.json")
    with pytest.raises(
        ValueError, match=r"holds a CharTokenizer \(type 'char'\), not a BPETokenizer: load it"
    ):
        BPETokenizer.load(tmp_path / "char.json")


def test_training_bad_inputs_name_the_numbers():
    with pytest.raises(ValueError, match=r"vocab_size=200 is too small.*at least 256"):
        BPETokenizer.train("hello", vocab_size=200)
    with pytest.raises(ValueError, match=r"at least 258"):
        BPETokenizer.train("hello", vocab_size=257, special_tokens=["<a>", "<b>"])
    with pytest.raises(ValueError, match=r"needs 100 merges, but the text runs out .* after 4"):
        BPETokenizer.train("hello", vocab_size=356)
    with pytest.raises(TypeError, match="train expects a str, got bytes"):
        BPETokenizer.train(b"hello", vocab_size=300)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        # One string is not a list of special tokens: never four one-character ones.
        (
            {"special_tokens": "<|e|>"},
            TypeError,
            r"special_tokens must be a list of strings, got the str '<\|e\|>'; .* \['<\|e\|>'\]",
        ),
        ({"special_tokens": {"<|e|>": 300}}, TypeError, "special_tokens must be a list"),
        ({"special_tokens": ["<a>", 7]}, ValueError, "special token must be a non-empty string"),
        ({"vocab_size": 300.0}, TypeError, "vocab_size must be an int, got the float 300.0"),
        ({"vocab_size": "300"}, TypeError, "vocab_size must be an int, got the str '300'"),
        ({"pattern": "(?P<"}, ValueError, "pattern is not a valid regular expression"),
        ({"pattern": b"\\w+"}, TypeError, "pattern must be a str"),
    ],
)
def test_training_arguments_of_the_wrong_kind_are_named(kwargs, error, message):
    kwargs = {"vocab_size": 260, **kwargs}
    with pytest.raises(error, match=message):
        BPETokenizer.train("hello hello", **kwargs)


def test_training_text_with_a_lone_surrogate_says_where():
    with pytest.raises(ValueError, match=r"lone surrogate U\+DC80 at position 7"):
        BPETokenizer.train("hello, \udc80 world", vocab_size=260)


def test_lone_surrogates_are_encoded_as_tiktoken_does(tok):
    # A pair of surrogates is the character it stands for; a lone one becomes U+FFFD.
    assert tok.encode("a\ud800b") == tok.encode("a\ufffdb")
    assert tok.encode_ordinary("\ud83d\ude00!") == tok.encode("😀!")
    assert tok.encode(f"x\udfff{EOT}", allowed_special="all") == tok.encode("x\ufffd") + [512]
    assert tok.decode(tok.encode("\ude00\ud83d")) == "\ufffd\ufffd"


def test_bad_pattern_in_the_constructor_is_named():
    with pytest.raises(ValueError, match=r"pattern is not a valid regular expression.*'\[a-'"):
        BPETokenizer([], pattern="[a-")
    with pytest.raises(TypeError, match="pattern must be a str .* or None, got the int 3"):
        BPETokenizer([], pattern=3)
    with pytest.raises(TypeError, match="merges must be a list of pairs of ids, got the str"):
        BPETokenizer("ab")
    with pytest.raises(TypeError, match="special_tokens must be a dict .*, got a list of 1"):
        BPETokenizer([], special_tokens=["<s>"])


def test_encoding_and_decoding_bad_inputs(tok):
    with pytest.raises(TypeError, match="encode expects a str, got list"):
        tok.encode([1, 2])
    with pytest.raises(
        ValueError,
        match=r"id 513 is not a token of this tokenizer \(ids are 0 .. 511, and specials \[512\]\)",
    ):
        tok.decode([1, 513])
    with pytest.raises(ValueError, match=r"id -1 is not a token"):
        tok.decode([-1])
    assert tok.decode(torch.tensor(tok.encode("hello"))) == "hello"
    assert tok.decode(np.array(tok.encode("hello"))) == "hello"
    assert tok.decode([np.int64(104), 105]) == "hi"
    with pytest.raises(TypeError, match="ids must hold integer token ids, got the float 1.5 at"):
        tok.decode([104, 1.5])
    with pytest.raises(TypeError, match=r"got the float 104.0 at position 0"):
        tok.decode(torch.tensor([104.0]))
    with pytest.raises(TypeError, match="ids must be a sequence of token ids, got the str"):
        tok.decode("hi")
    with pytest.raises(TypeError, match="allowed_special must be 'all' or a set of special"):
        tok.encode(EOT, allowed_special=EOT)
    with pytest.raises(TypeError, match="encode_chunk expects bytes"):
        tok.encode_chunk("hello")


def test_pair_functions_take_tensors_and_name_wrong_arguments():
    assert count_pairs(torch.tensor([1, 2, 1, 2])) == {(1, 2): 2, (2, 1): 1}
    assert merge_pair(np.array([1, 2, 1, 2]), (1, 2), 9) == [9, 9]
    with pytest.raises(TypeError, match="ids must be a sequence of token ids, got the int 5"):
        count_pairs(5)
    with pytest.raises(ValueError, match="pair must be a pair of ids, got 12"):
        merge_pair([1, 2], 12, 9)
    with pytest.raises(TypeError, match="new_id must be an int, got the float 9.0"):
        merge_pair([1, 2], (1, 2), 9.0)
    with pytest.raises(TypeError, match="counts must be a dict to add to, or None, got a list"):
        count_pairs([1, 2], [])


def test_decode_of_a_cut_character(tok):
    ids = tok.encode("é")
    assert ids == [0xC3, 0xA9]
    assert tok.decode(ids[:1]) == "\ufffd"
    with pytest.raises(UnicodeDecodeError):
        tok.decode(ids[:1], errors="strict")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"merges": [(0, 256)]}, r"merge 0 is \(0, 256\), but only ids 0 .. 255 exist"),
        ({"merges": [(0, 1)], "special_tokens": {"<s>": 256}}, "has id 256, but ids below 257"),
        ({"merges": [], "special_tokens": {"<a>": 300, "<b>": 300}}, "share an id"),
        ({"merges": [], "special_tokens": {"": 300}}, "non-empty string"),
        ({"merges": [], "byte_order": list(range(255))}, "got 255 values"),
    ],
)
def test_constructor_bad_inputs(kwargs, message):
    merges = kwargs.pop("merges")
    with pytest.raises(ValueError, match=message):
        BPETokenizer(merges, **kwargs)


def test_byte_order_renames_the_single_bytes():
    order = list(range(255, -1, -1))
    tok = BPETokenizer([(255 - ord("a"), 255 - ord("b"))], byte_order=order)
    assert tok.encode("abc") == [256, 255 - ord("c")]
    assert tok.decode([256, 255 - ord("c")]) == "abc"
