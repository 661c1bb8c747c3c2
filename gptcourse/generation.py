"""Generating text: from next-token logits to a token, and from a prompt to a continuation.

A language model gives, for the next position, a score (logit) for every token of the
vocabulary. :func:`sample_next_token` turns them into one token: the most likely one
(greedy, ``temperature=0``) or a random draw from the softmax, sharpened or flattened by
a temperature and restricted to the ``top_k`` most likely tokens or to the smallest set
whose probability reaches ``top_p`` (nucleus sampling). :func:`generate` repeats that,
feeding each token back, for any model of the course (``logits, loss = model(idx)``).

With a model that has a key/value cache (:class:`~gptcourse.model.GPT`), each step
computes the new token's keys and values only, and reads the others from the cache::

    step 1:  prompt (B, T)  -> cache holds T positions  -> token T
    step 2:  token  (B, 1)  -> cache holds T + 1         -> token T + 1  ...

Prompts of different lengths go in one batch left-padded (:func:`pad_prompts`), with an
attention mask that hides the padding.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from gptcourse._validation import check_size, check_tensor, check_token_ids, describe

__all__ = ["sample_next_token", "generate", "pad_prompts"]


def _check_sampling(temperature: float, top_k: int | None, top_p: float | None) -> None:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(f"temperature must be a float, got {describe(temperature)}")
    if not temperature >= 0:
        raise ValueError(
            f"temperature must be >= 0 (0 is greedy: always the most likely token), "
            f"got {temperature}"
        )
    if top_k is not None:
        check_size("top_k", top_k)
    if top_p is not None:
        if isinstance(top_p, bool) or not isinstance(top_p, (int, float)):
            raise TypeError(f"top_p must be a float, got {describe(top_p)}")
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], the probability mass to keep, got {top_p}")


def sample_next_token(
    logits: torch.Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Choose the next token of each sequence from its logits.

    Args:
        logits: ``(B, V)``, the scores of every token for the next position.
        temperature: the logits are divided by it before the softmax: below 1 the
            distribution sharpens, above 1 it flattens; 0 is greedy (the argmax).
        top_k: sample among the ``top_k`` highest logits only.
        top_p: sample among the smallest set of most likely tokens whose probability
            reaches ``top_p`` (nucleus sampling; applied after ``top_k``).
        generator: the random generator to draw with (seeded for reproducible samples).

    Returns:
        ``(B,)`` token ids, dtype ``long``.

        >>> logits = torch.tensor([[0.0, 3.0, 1.0]])
        >>> sample_next_token(logits, temperature=0).tolist()
        [1]
        >>> sample_next_token(logits, top_k=1, generator=torch.Generator().manual_seed(0)).tolist()
        [1]
    """
    check_tensor("logits", logits)
    if logits.dim() != 2:
        raise ValueError(f"logits must have shape (B, V), got {tuple(logits.shape)}")
    _check_sampling(temperature, top_k, top_p)
    if temperature == 0:
        return logits.argmax(dim=-1)  # greedy
    logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1): the k-th largest
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (B, V)
        probs = torch.softmax(sorted_logits, dim=-1)
        before = probs.cumsum(dim=-1) - probs  # the mass of the more likely tokens
        drop = before >= top_p  # the set already reached top_p without this token
        drop = drop.scatter(-1, order, drop)  # back to vocabulary order
        logits = logits.masked_fill(drop, float("-inf"))
    probs = torch.softmax(logits, dim=-1)  # (B, V)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(-1)  # (B,)


def pad_prompts(
    prompts: Sequence[Sequence[int] | torch.Tensor], pad_token_id: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Put prompts of different lengths in one batch, padded on the left.

    Generation appends to the right end of every row at once, so the padding goes on the
    left and the attention mask marks it.

    Returns:
        ``(idx, attention_mask)``, both ``(B, T_max)``: the ids, and ``True`` at tokens,
        ``False`` at padding.

        >>> idx, mask = pad_prompts([[5, 6, 7], [8]], pad_token_id=0)
        >>> idx.tolist(), mask.int().tolist()
        ([[5, 6, 7], [0, 0, 8]], [[1, 1, 1], [0, 0, 1]])
    """
    rows = [torch.as_tensor(p, dtype=torch.long).flatten() for p in prompts]
    if not rows or min(len(r) for r in rows) < 1:
        raise ValueError("pad_prompts needs at least one prompt, each of at least one token")
    T = max(len(r) for r in rows)
    idx = torch.full((len(rows), T), pad_token_id, dtype=torch.long)
    mask = torch.zeros(len(rows), T, dtype=torch.bool)
    for b, row in enumerate(rows):
        idx[b, T - len(row) :] = row
        mask[b, T - len(row) :] = True
    return idx, mask


def _eos_ids(eos_token_id: int | Sequence[int] | None) -> list[int]:
    if eos_token_id is None:
        return []
    ids = [eos_token_id] if isinstance(eos_token_id, int) else list(eos_token_id)
    for i in ids:
        check_size("eos_token_id", i, minimum=0)
    return ids


def generate(
    model: nn.Module,
    idx: torch.Tensor,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
    eos_token_id: int | Sequence[int] | None = None,
    pad_token_id: int | None = None,
    attention_mask: torch.Tensor | None = None,
    use_cache: bool = True,
) -> torch.Tensor:
    """Extend the prompts ``idx`` by up to ``max_new_tokens`` tokens, one at a time.

    Args:
        model: ``logits, loss = model(idx)`` with logits ``(B, T, V)``, and a
            ``vocab_size`` attribute. With a ``block_size`` attribute, the model sees the
            last ``block_size`` tokens only (a bigram model has ``block_size = 1``). With
            ``new_cache`` and ``decode`` methods (the GPT), the key/value cache is used.
        idx: the prompts, ``(B, T)`` with ``T >= 1``, left-padded if their lengths
            differ (see :func:`pad_prompts`).
        max_new_tokens: the most tokens to add, ``>= 0``.
        temperature, top_k, top_p, generator: how each token is chosen, see
            :func:`sample_next_token`; ``temperature=0`` is greedy decoding.
        eos_token_id: one id or several that end a sequence: after it, that row gets
            ``pad_token_id`` (by default the first ``eos_token_id``), and generation stops
            when every row has ended.
        attention_mask: ``(B, T)``, ``True``/1 at the prompts' tokens and ``False``/0 at
            their padding.
        use_cache: reuse the keys and values of earlier positions (same tokens, faster);
            ``False`` runs the whole sequence through the model at every step.

    Returns:
        ``(B, T + n)``, the prompts followed by the ``n <= max_new_tokens`` new tokens
        (``n < max_new_tokens`` only when every row has ended).

    The model is put in eval mode while generating (no dropout), then back in its mode.
    """
    vocab_size = getattr(model, "vocab_size", None)
    if vocab_size is None:
        raise TypeError(f"{type(model).__name__} has no vocab_size attribute")
    check_token_ids("idx", idx, vocab_size, dims=(2,))
    if idx.shape[1] < 1:
        raise ValueError(
            f"idx needs at least one token per row to start from, got shape {tuple(idx.shape)}"
        )
    check_size("max_new_tokens", max_new_tokens, minimum=0)
    _check_sampling(temperature, top_k, top_p)
    eos = _eos_ids(eos_token_id)
    pad = pad_token_id if pad_token_id is not None else (eos[0] if eos else 0)
    cached = use_cache and hasattr(model, "new_cache")
    B, T = idx.shape
    if attention_mask is not None:
        check_tensor("attention_mask", attention_mask)
        if attention_mask.shape != idx.shape:
            raise ValueError(
                f"attention_mask must have the shape of idx, {tuple(idx.shape)}, got "
                f"{tuple(attention_mask.shape)}"
            )
        if not hasattr(model, "new_cache"):
            raise ValueError(f"{type(model).__name__} does not take an attention_mask")
    block_size = getattr(model, "block_size", None) or T + max_new_tokens
    device = idx.device

    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            # Preallocated: each step writes one column instead of concatenating.
            out = torch.empty(B, T + max_new_tokens, dtype=torch.long, device=device)
            out[:, :T] = idx
            mask = None
            if attention_mask is not None:
                mask = torch.ones(B, T + max_new_tokens, dtype=torch.bool, device=device)
                mask[:, :T] = attention_mask.bool()
            ended = torch.zeros(B, dtype=torch.bool, device=device) if eos else None
            eos_ids = torch.tensor(eos, device=device) if eos else None
            cache = None
            if cached:
                cache = model.new_cache(B, capacity=min(block_size, T + max_new_tokens))
            for _ in range(max_new_tokens):
                logits = _next_logits(model, out, mask, T, cache, block_size)  # (B, V)
                token = sample_next_token(
                    logits, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator
                )  # (B,)
                if ended is not None:
                    token = token.masked_fill(ended, pad)
                    ended |= torch.isin(token, eos_ids)
                out[:, T] = token
                T += 1
                if ended is not None and bool(ended.all()):
                    break
    finally:
        model.train(was_training)
    return out[:, :T].clone()


def _next_logits(
    model: nn.Module,
    out: torch.Tensor,
    mask: torch.Tensor | None,
    T: int,
    cache: list | None,
    block_size: int,
) -> torch.Tensor:
    """The logits ``(B, V)`` for position ``T`` given the tokens ``out[:, :T]``."""
    if cache is not None and T <= block_size:
        seen = cache[0].length  # the positions the cache holds: feed the others
        return model.decode(out[:, seen:T], cache, None if mask is None else mask[:, :T])
    # Without a cache, or once the sequence has outgrown the context (the positions in a
    # cache would shift): the model reads the last block_size tokens afresh.
    start = max(0, T - block_size)
    if not hasattr(model, "new_cache"):  # any model of the course: logits, loss = model(idx)
        logits, _ = model(out[:, start:T])
    else:
        m = None if mask is None else mask[:, start:T]
        logits, _ = model(out[:, start:T], attention_mask=m, last_only=True)
    return logits[:, -1]
