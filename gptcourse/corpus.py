"""A corpus as token ids, and the stream of random training batches drawn from it.

Pretraining reads a corpus as one long array of token ids, split into a training head
and a validation tail (:func:`~gptcourse.batches.split_text`), and draws each batch
as random windows of it (:func:`~gptcourse.batches.get_batch`). :class:`BatchStream` is
that draw with its own random generator, whose state goes into every checkpoint, so
that a resumed run draws exactly the batches that an uninterrupted one would have.

    >>> corpus = Corpus.from_text("to be or not to be " * 100, tokenizer="char")
    >>> corpus.vocab_size, len(corpus.train), len(corpus.val)
    (7, 1710, 190)
    >>> stream = BatchStream(corpus.train, batch_size=4, block_size=8, seed=0)
    >>> x, y = stream.next()
    >>> tuple(x.shape), bool((x[:, 1:] == y[:, :-1]).all())
    ((4, 8), True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch

from gptcourse import data
from gptcourse._validation import check_size
from gptcourse.batches import get_batch, split_text
from gptcourse.char_tokenizer import CharTokenizer

__all__ = ["TOKENIZERS", "Tokenizer", "load_tokenizer", "Corpus", "BatchStream"]

#: The tokenizers a training configuration may name.
TOKENIZERS = ("char", "gpt2")


class Tokenizer(Protocol):
    vocab_size: int

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...


class _TiktokenGPT2:
    """GPT-2's BPE through tiktoken (fast, Rust), with the course's tokenizer interface."""

    vocab_size = 50257

    def __init__(self):
        from gptcourse.gpt2_tokenizer import load_tiktoken

        self.encoding = load_tiktoken()

    def encode(self, text: str) -> list[int]:
        return self.encoding.encode_ordinary(text)

    def decode(self, ids: list[int]) -> str:
        return self.encoding.decode(list(ids))

    def __repr__(self) -> str:
        return "GPT-2 BPE (tiktoken)"


def load_tokenizer(name: str, text: str | None = None) -> Tokenizer:
    """``"char"``: one token per character of ``text``; ``"gpt2"``: GPT-2's BPE.

    GPT-2's is tiktoken's encoding built from the local vocabulary files when tiktoken
    is installed (same ids, much faster on a whole corpus), the course's own
    :class:`~gptcourse.bpe.BPETokenizer` otherwise (see :mod:`gptcourse.gpt2_tokenizer`).
    """
    if name == "char":
        if text is None:
            raise ValueError("a character tokenizer needs the text its vocabulary comes from")
        return CharTokenizer.from_text(text)
    if name == "gpt2":
        try:
            return _TiktokenGPT2()
        except ImportError:
            from gptcourse.gpt2_tokenizer import load_gpt2_tokenizer

            return load_gpt2_tokenizer()
    raise ValueError(f"unknown tokenizer {name!r}; use one of {', '.join(TOKENIZERS)}")


@dataclass
class Corpus:
    """A tokenised corpus: ``train`` and ``val`` token ids ``(N,)``, and its tokenizer."""

    train: torch.Tensor
    val: torch.Tensor
    tokenizer: Tokenizer

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size

    @classmethod
    def from_text(cls, text: str, tokenizer: str = "char", val_fraction: float = 0.1) -> Corpus:
        """Split ``text`` (:func:`~gptcourse.batches.split_text`: the last ``val_fraction``
        of its characters is validation, for every tokenizer) and tokenise both parts."""
        tok = load_tokenizer(tokenizer, text)
        train_text, val_text = split_text(text, val_fraction)
        # (N,) each, 4 bytes a token
        train, val = (
            torch.tensor(tok.encode(t), dtype=torch.int32) for t in (train_text, val_text)
        )
        return cls(train, val, tok)

    @classmethod
    def load(cls, dataset: str, tokenizer: str = "char", val_fraction: float = 0.1) -> Corpus:
        """A dataset of :mod:`gptcourse.data` (e.g. ``"tinyshakespeare"``), tokenised."""
        return cls.from_text(data.load_text(dataset), tokenizer, val_fraction)


class BatchStream:
    """Random training windows of ``ids``, drawn by a generator of its own.

    Each :meth:`next` is :func:`~gptcourse.batches.get_batch` with this stream's
    generator: ``batch_size`` windows of ``block_size + 1`` tokens at random starts.
    :meth:`state_dict` holds the generator's state and the number of batches drawn, so a
    stream restored with :meth:`load_state_dict` continues with the same batches. On a
    CUDA device the batch is copied from pinned memory without waiting for it.

    Args:
        ids: the token ids, ``(N,)``, on the CPU.
        batch_size, block_size: ``B`` and ``T`` of each batch.
        seed: seeds the generator (in data-parallel training, one stream per process, each
            with its own seed).
        device: where the batches go.
    """

    def __init__(
        self,
        ids: torch.Tensor,
        batch_size: int,
        block_size: int,
        *,
        seed: int = 0,
        device: torch.device | str = "cpu",
    ):
        check_size("batch_size", batch_size)
        check_size("block_size", block_size)
        if len(ids) < block_size + 1:
            raise ValueError(
                f"block_size={block_size} needs windows of {block_size + 1} tokens, but the "
                f"data has only {len(ids)}"
            )
        self.ids = ids
        self.batch_size = batch_size
        self.block_size = block_size
        self.device = torch.device(device)
        self.generator = torch.Generator().manual_seed(seed)
        self.drawn = 0

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next ``(x, y)`` batch, ``(B, T)`` each, on the stream's device."""
        x, y = get_batch(self.ids, self.batch_size, self.block_size, generator=self.generator)
        self.drawn += 1
        if self.device.type == "cuda":
            x = x.pin_memory().to(self.device, non_blocking=True)
            y = y.pin_memory().to(self.device, non_blocking=True)
        elif self.device.type != "cpu":
            x, y = x.to(self.device), y.to(self.device)
        return x, y

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "drawn": self.drawn}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.drawn = int(state["drawn"])
