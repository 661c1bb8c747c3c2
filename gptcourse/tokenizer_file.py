"""One file format for the course's tokenizers, and one :func:`load` for all of them.

A saved tokenizer is a UTF-8 JSON object: the same envelope, then the fields of its
type::

    {"format": "gptcourse-tokenizer", "version": 1, "type": "char", "chars": [...]}
    {"format": "gptcourse-tokenizer", "version": 1, "type": "bpe", "pattern": ...,
     "byte_order": null, "special_tokens": {...}, "merges": [[a, b], ...]}

``tokenizer.save(path)`` writes one; :func:`load` reads either type back, and
``CharTokenizer.load`` or ``BPETokenizer.load`` read their own and say so when a file
holds the other::

    >>> import tempfile, pathlib
    >>> from gptcourse.char_tokenizer import CharTokenizer
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tok.json"
    >>> CharTokenizer.from_text("hello").save(path)
    >>> load(path)
    CharTokenizer(vocab_size=4)
"""

from __future__ import annotations

import json
from importlib import import_module
from pathlib import Path
from typing import Any

__all__ = ["FORMAT", "VERSION", "load", "read", "write"]

#: The ``format`` field of every saved tokenizer.
FORMAT = "gptcourse-tokenizer"
#: The version of the format this package reads and writes.
VERSION = 1

#: Each type of tokenizer: the module and the class that read and write it.
TYPES = {
    "char": ("gptcourse.char_tokenizer", "CharTokenizer"),
    "bpe": ("gptcourse.bpe", "BPETokenizer"),
}


def write(path: str | Path, type_: str, fields: dict[str, Any]) -> None:
    """Write the envelope and ``fields`` as JSON to ``path``."""
    data = {"format": FORMAT, "version": VERSION, "type": type_, **fields}
    Path(path).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def read(path: str | Path) -> tuple[str, dict[str, Any]]:
    """The type and the fields of the tokenizer saved at ``path``.

    Raises:
        ValueError: the file is not JSON, not a saved tokenizer, of another version, or
            of an unknown type (the message says which).
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is not a saved tokenizer: it is not JSON ({e})") from e
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a saved tokenizer: it holds a JSON {type(data).__name__}")
    if data.get("format") != FORMAT:
        raise ValueError(
            f"{path} is not a saved tokenizer: its 'format' is {data.get('format')!r}, "
            f"not {FORMAT!r}"
        )
    if data.get("version") != VERSION:
        raise ValueError(
            f"{path} is a saved tokenizer of version {data.get('version')!r}; this gptcourse "
            f"reads version {VERSION}"
        )
    type_ = data.get("type")
    if type_ not in TYPES:
        raise ValueError(
            f"{path} holds a tokenizer of type {type_!r}; the known types are {sorted(TYPES)}"
        )
    fields = {k: v for k, v in data.items() if k not in ("format", "version", "type")}
    return type_, fields


def load(path: str | Path, expected: type | None = None):
    """The tokenizer saved at ``path`` (a ``CharTokenizer`` or a ``BPETokenizer``).

    Args:
        path: a file written by a tokenizer's ``save``.
        expected: the class the caller wants; a file of another type is refused.

    Raises:
        ValueError: the file is not a saved tokenizer, holds another type than
            ``expected``, or its fields are inconsistent (the message says which).
    """
    type_, fields = read(path)
    module, name = TYPES[type_]
    if expected is not None and expected.__name__ != name:
        raise ValueError(
            f"{path} holds a {name} (type {type_!r}), not a {expected.__name__}: load it "
            f"with {name}.load, or with gptcourse.tokenizer_file.load, which reads either"
        )
    cls = getattr(import_module(module), name)
    try:
        return cls._from_fields(fields)
    except KeyError as e:
        raise ValueError(f"{path} is not a valid saved {name}: missing field {e}") from e
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path} is not a valid saved {name}: {e}") from e
