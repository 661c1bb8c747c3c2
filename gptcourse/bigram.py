"""Bigram language models: the next token is predicted from the current one alone.

Two models of the same family, a table of ``V x V`` next-token distributions:

- :class:`CountBigramModel` reads the table off the training text (pair counts with
  add-``alpha`` smoothing): no training at all.
- :class:`BigramLanguageModel` learns it by gradient descent (a ``V x V`` table of
  logits, one row per current token): the smallest neural language model, and the
  interface that every later model of the course keeps::

      logits, loss = model(idx, targets)             # (B, T, V), scalar
      out = model.generate(idx, max_new_tokens=100)  # (B, T + 100)

Samples come from :mod:`gptcourse.generation`, the sampler the GPT uses too.

Both are ``nn.Module``\\ s with that interface, so code that trains, evaluates or samples
one works with the other.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gptcourse import generation
from gptcourse._validation import check_token_ids

__all__ = ["pair_counts", "CountBigramModel", "BigramLanguageModel"]


def pair_counts(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """How often each token follows each other token in ``ids``.

    Args:
        ids: token ids, shape ``(N,)``, each in ``[0, vocab_size)``.
        vocab_size: ``V``.

    Returns:
        ``counts`` of shape ``(V, V)``, dtype ``long``: ``counts[i, j]`` is the number of
        positions ``t`` with ``ids[t] == i`` and ``ids[t + 1] == j``. The ``N - 1`` pairs
        are counted once each, so ``counts.sum() == N - 1``.
    """
    if vocab_size < 1:
        raise ValueError(f"vocab_size must be positive, got {vocab_size}")
    check_token_ids("ids", ids, vocab_size, dims=(1,))
    ids = ids.long()
    pairs = ids[:-1] * vocab_size + ids[1:]  # one number per (current, next) pair
    return torch.bincount(pairs, minlength=vocab_size * vocab_size).view(vocab_size, vocab_size)


class _Bigram(nn.Module):
    """What both bigram models share: ``forward`` from a table of logits, and sampling."""

    vocab_size: int
    #: The context length: a bigram model reads the last token only.
    block_size: int = 1

    def logits_table(self) -> torch.Tensor:
        """The ``(V, V)`` logits: row ``i`` scores every token that may follow token ``i``."""
        raise NotImplementedError

    def log_probs(self) -> torch.Tensor:
        """The ``(V, V)`` table of ``log p(next = j | current = i)``; each row's exp sums to 1."""
        return F.log_softmax(self.logits_table(), dim=-1)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Next-token logits for every position, and the loss if ``targets`` are given.

        Args:
            idx: token ids, shape ``(B, T)``.
            targets: the next tokens, shape ``(B, T)``, with -100 at positions that do
                not count (``F.cross_entropy``'s ``ignore_index``), or ``None``.

        Returns:
            ``(logits, loss)``: logits of shape ``(B, T, V)``; loss, the mean
            cross-entropy in nats over the positions that count (a scalar), or ``None``.
        """
        check_token_ids("idx", idx, self.vocab_size, dims=(2,))
        logits = F.embedding(idx.long(), self.logits_table())  # (B, T, V): row idx[b, t]
        if targets is None:
            return logits, None
        check_token_ids("targets", targets, self.vocab_size, dims=(2,), ignore_index=-100)
        if targets.shape != idx.shape:
            raise ValueError(
                f"targets must have the shape of idx, {tuple(idx.shape)}, "
                f"got {tuple(targets.shape)}"
            )
        B, T, V = logits.shape
        loss = F.cross_entropy(
            logits.reshape(B * T, V), targets.reshape(B * T).long(), ignore_index=-100
        )
        return logits, loss

    def generate(
        self, idx: torch.Tensor, max_new_tokens: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``(B, T)`` -> ``(B, T + max_new_tokens)``, sampled one token at a time.

        The course's one sampler, :func:`gptcourse.generation.generate`; the model sees
        the last token only (``block_size = 1``).
        """
        return generation.generate(self, idx, max_new_tokens, generator=generator)


class CountBigramModel(_Bigram):
    """A bigram model read off pair counts, with add-``alpha`` smoothing.

    ``p(j | i) = (counts[i, j] + alpha) / (counts[i].sum() + alpha * V)``: every pair
    gets ``alpha`` pretend occurrences, so a pair never seen in training still has a
    probability above zero. ``alpha = 0`` is the maximum-likelihood estimate, the table
    that makes the training text most probable.

    Example::

        >>> ids = torch.tensor([0, 1, 0, 1, 1])
        >>> CountBigramModel.from_ids(ids, vocab_size=2, alpha=0).probs
        tensor([[0.0000, 1.0000],
                [0.5000, 0.5000]])
    """

    def __init__(self, counts: torch.Tensor, alpha: float = 1.0):
        """``counts``: the ``(V, V)`` pair counts (see :func:`pair_counts`); ``alpha >= 0``."""
        super().__init__()
        if counts.dim() != 2 or counts.shape[0] != counts.shape[1]:
            raise ValueError(f"counts must be a square (V, V) table, got {tuple(counts.shape)}")
        if (counts < 0).any():
            raise ValueError(f"counts must be >= 0, found {counts.min().item()}")
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        smoothed = counts.double() + alpha
        row_totals = smoothed.sum(dim=1, keepdim=True)  # (V, 1)
        if (row_totals == 0).any():
            empty = int((row_totals[:, 0] == 0).nonzero()[0])
            raise ValueError(
                f"token {empty} is never followed by anything in the counts, so its row has no "
                f"distribution with alpha={alpha}; use alpha > 0"
            )
        self.vocab_size = counts.shape[0]
        self.alpha = alpha
        self.register_buffer("counts", counts.long().clone())
        self.register_buffer("probs", (smoothed / row_totals).float())  # (V, V), rows sum to 1

    @classmethod
    def from_ids(cls, ids: torch.Tensor, vocab_size: int, alpha: float = 1.0) -> CountBigramModel:
        """Count the pairs of ``ids`` (shape ``(N,)``) and smooth them."""
        return cls(pair_counts(ids, vocab_size), alpha)

    def logits_table(self) -> torch.Tensor:
        return self.probs.log()  # log-probabilities are logits whose softmax is probs

    def __repr__(self) -> str:
        return f"CountBigramModel(vocab_size={self.vocab_size}, alpha={self.alpha})"


class BigramLanguageModel(_Bigram):
    """The neural bigram: a learned ``(V, V)`` table of logits, one row per current token.

    ``nn.Embedding(V, V)`` holds the table: looking up token ``i`` gives row ``i``, the
    scores of every possible next token. The table starts at zero, which is the uniform
    model (loss ``log V``); trained with the cross-entropy loss, its softmax rows
    approach the counted probabilities of :class:`CountBigramModel`.
    """

    def __init__(self, vocab_size: int):
        super().__init__()
        if vocab_size < 1:
            raise ValueError(f"vocab_size must be positive, got {vocab_size}")
        self.vocab_size = vocab_size
        self.token_logits = nn.Embedding(vocab_size, vocab_size)
        nn.init.zeros_(self.token_logits.weight)  # every row uniform: start from knowing nothing

    def logits_table(self) -> torch.Tensor:
        return self.token_logits.weight  # (V, V)
