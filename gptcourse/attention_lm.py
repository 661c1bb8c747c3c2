"""The smallest language model with attention: one head, for chapter 4's experiments.

Token and position embeddings, one attention head, and a linear map to the logits, with
the input added back to the head's output so that the model always knows the current
token::

    x = token_embedding(idx) + position_embedding(0 .. T-1)   # (B, T, n_embd)
    logits = to_logits(x + head(x))                            # (B, T, vocab_size)

Two switches turn off what chapter 4 explains, to measure what they are for: ``scaled``
(divide the scores by ``sqrt(d_k)``) and ``causal`` (the causal mask). Called like every
language model of the course, ``logits, loss = model(idx, targets=None)``:

    >>> model = OneHeadLM(vocab_size=65, block_size=8, n_embd=16)
    >>> idx = torch.randint(65, (2, 8))
    >>> logits, loss = model(idx, targets=idx)
    >>> tuple(logits.shape), tuple(model.attention_weights(idx).shape)
    ((2, 8, 65), (2, 8, 8))
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gptcourse._validation import check_size, check_token_ids
from gptcourse.attention import scaled_dot_product_attention

__all__ = ["AttentionHead", "OneHeadLM"]


class AttentionHead(nn.Module):
    """One attention head: ``(B, T, n_embd)`` -> output ``(B, T, n_embd)``, weights ``(B, T, T)``.

    Args:
        n_embd: the width of the input and of the values, ``d``.
        d_k: the width of the queries and keys.
        scaled: divide the scores by ``sqrt(d_k)`` (the Transformer's attention); without
            it the scores are the raw dot products.
        causal: let each position attend only to itself and earlier positions.
    """

    def __init__(self, n_embd: int, d_k: int, scaled: bool = True, causal: bool = True):
        super().__init__()
        check_size("n_embd", n_embd)
        check_size("d_k", d_k)
        self.query = nn.Linear(n_embd, d_k, bias=False)
        self.key = nn.Linear(n_embd, d_k, bias=False)
        self.value = nn.Linear(n_embd, n_embd, bias=False)
        self.scale = 1.0 / math.sqrt(d_k) if scaled else 1.0
        self.causal = causal

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(output (B, T, n_embd), weights (B, T, T))``."""
        q, k, v = self.query(x), self.key(x), self.value(x)  # (B, T, d_k), ..., (B, T, d)
        return scaled_dot_product_attention(q, k, v, causal=self.causal, scale=self.scale)


class OneHeadLM(nn.Module):
    """Token ids ``(B, T)`` -> next-token logits ``(B, T, vocab_size)``, and the loss.

    Args:
        vocab_size: the number of token ids.
        block_size: the longest context (the size of the position table).
        n_embd: the width of the embeddings, the queries, keys and values.
        scaled, causal: as in :class:`AttentionHead`.
    """

    def __init__(
        self,
        vocab_size: int,
        block_size: int,
        n_embd: int,
        *,
        scaled: bool = True,
        causal: bool = True,
    ):
        super().__init__()
        check_size("vocab_size", vocab_size)
        check_size("block_size", block_size)
        check_size("n_embd", n_embd)
        self.vocab_size = vocab_size
        self.block_size = block_size
        self.token_embedding = nn.Embedding(vocab_size, n_embd)
        self.position_embedding = nn.Embedding(block_size, n_embd)
        self.head = AttentionHead(n_embd, n_embd, scaled=scaled, causal=causal)
        self.to_logits = nn.Linear(n_embd, vocab_size)

    def embed(self, idx: torch.Tensor) -> torch.Tensor:
        """Token plus position embeddings, ``(B, T)`` -> ``(B, T, n_embd)``."""
        check_token_ids("idx", idx, self.vocab_size, dims=(2,))
        T = idx.shape[-1]
        if T > self.block_size:
            raise ValueError(
                f"a sequence of T={T} tokens is longer than block_size={self.block_size}"
            )
        positions = self.position_embedding(torch.arange(T, device=idx.device))  # (T, d)
        return self.token_embedding(idx) + positions  # (B, T, d)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(logits (B, T, vocab_size), loss)``; the loss is ``None`` without targets."""
        x = self.embed(idx)
        z, _ = self.head(x)  # (B, T, d)
        logits = self.to_logits(x + z)  # (B, T, vocab_size)
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten())

    def attention_weights(self, idx: torch.Tensor) -> torch.Tensor:
        """The head's weights on ``idx``, ``(B, T, T)``: row ``i`` is query ``i``'s."""
        return self.head(self.embed(idx))[1]
