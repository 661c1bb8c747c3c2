"""The attention heads of a trained GPT: their weights, what they attend to, what they do.

Three tools to study the heads of a :class:`~gptcourse.model.GPT`, as Appendix B does:

* :func:`attention_maps` collects the attention weights of every head of every block
  on one input, ``(L, B, H, T, T)``;
* the scores say how much a head follows a named pattern: the mean weight on the previous
  token (:func:`previous_token_score`), on the first token (:func:`first_token_score`),
  and, on a sequence that repeats, on the token *after* the earlier occurrence of the
  current one (:func:`induction_score`, the pattern of an induction head, Olsson et al.,
  2022); :func:`repeated_tokens` draws such a sequence;
* :func:`without_head` removes one head (an ablation), and :func:`head_ablation_losses`
  measures the loss of the model without each head in turn.

    >>> from gptcourse.model import GPT, GPTConfig
    >>> model = GPT(GPTConfig.from_preset("gpt-nano", vocab_size=11, block_size=8)).eval()
    >>> idx = torch.randint(11, (2, 6))
    >>> maps = attention_maps(model, idx)
    >>> tuple(maps.shape)  # (n_layer, B, n_head, T, T)
    (3, 2, 3, 6, 6)
    >>> torch.allclose(maps.sum(-1), torch.ones(3, 2, 3, 6))
    True
"""

from __future__ import annotations

import copy

import torch

from gptcourse._validation import check_size, check_tensor, check_token_ids
from gptcourse.model import GPT

__all__ = [
    "attention_maps",
    "previous_token_score",
    "first_token_score",
    "induction_score",
    "repeated_tokens",
    "without_head",
    "head_ablation_losses",
]


def _check_model(model: GPT) -> GPT:
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a gptcourse GPT, got {type(model).__name__}")
    return model


def attention_maps(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    """The attention weights of every head of every block on ``idx``.

    Each block's attention is given the input it receives in the model's forward pass
    (caught by a forward hook), and its
    :meth:`~gptcourse.attention.MultiHeadAttention.attention_weights` computes the weights
    that the fused kernel does not return.

    Args:
        model: a :class:`~gptcourse.model.GPT` (in eval mode, for repeatable values).
        idx: token ids, ``(B, T)``.

    Returns:
        ``(n_layer, B, n_head, T, T)``: entry ``[l, b, h, i]`` is the distribution of
        query ``i`` of head ``h`` in block ``l`` over the keys (zero after ``i``).
    """
    _check_model(model)
    check_token_ids("idx", idx, model.vocab_size, dims=(2,))
    maps: list[torch.Tensor] = []

    def catch(module, args, kwargs, output):
        x, mask = args[0], (args[1] if len(args) > 1 else kwargs.get("mask"))
        maps.append(module.attention_weights(x, mask, positions=kwargs.get("positions")))

    hooks = [block.attn.register_forward_hook(catch, with_kwargs=True) for block in model.blocks]
    try:
        with torch.no_grad():
            model(idx)
    finally:
        for hook in hooks:
            hook.remove()
    return torch.stack(maps)  # (L, B, H, T, T)


def _check_weights(weights: torch.Tensor, min_len: int) -> int:
    check_tensor("weights", weights)
    if weights.dim() < 2 or weights.shape[-1] != weights.shape[-2]:
        raise ValueError(
            f"weights must be attention maps (..., T, T), got shape {tuple(weights.shape)}"
        )
    T = weights.shape[-1]
    if T < min_len:
        raise ValueError(f"weights must cover at least {min_len} positions, got T={T}")
    return T


def previous_token_score(weights: torch.Tensor) -> torch.Tensor:
    """The mean weight that a query gives the token just before it.

    Args:
        weights: attention maps ``(..., T, T)``, e.g. from :func:`attention_maps`.

    Returns:
        ``(...)``: the mean over the queries ``1 .. T-1`` of ``weights[..., i, i - 1]``
        (1 for a head that always looks one token back).
    """
    _check_weights(weights, 2)
    return weights.diagonal(offset=-1, dim1=-2, dim2=-1).mean(-1)


def first_token_score(weights: torch.Tensor) -> torch.Tensor:
    """The mean weight that a query gives the first token of the sequence.

    Query 0 can only attend to itself, so it is left out.

    Args:
        weights: attention maps ``(..., T, T)``.

    Returns:
        ``(...)``: the mean over the queries ``1 .. T-1`` of ``weights[..., i, 0]``.
    """
    _check_weights(weights, 2)
    return weights[..., 1:, 0].mean(-1)


def induction_score(weights: torch.Tensor, period: int) -> torch.Tensor:
    """How much a head attends to the token after the earlier occurrence of the current one.

    On a sequence that repeats with period ``n`` (``x[i] == x[i - n]``, from
    :func:`repeated_tokens`), an induction head at query ``i >= n`` looks back at the
    token that followed the same token last time, at ``i - n + 1``, so as to copy it.

    Args:
        weights: attention maps ``(..., T, T)`` on such a sequence, ``T > n``.
        period: ``n``, at least 2 (with 1, the earlier token's successor is the token
            itself).

    Returns:
        ``(...)``: the mean over the queries ``n .. T-1`` of ``weights[..., i, i - n + 1]``.
    """
    check_size("period", period, minimum=2)
    T = _check_weights(weights, 2)
    if T <= period:
        raise ValueError(f"a sequence with period={period} needs T > {period} positions, got T={T}")
    # diagonal offset -(n - 1): entries (i, i - n + 1) for i = n - 1 .. T - 1; i = n - 1
    # is still in the first copy, so it is dropped
    return weights.diagonal(offset=-(period - 1), dim1=-2, dim2=-1)[..., 1:].mean(-1)


def repeated_tokens(
    vocab_size: int,
    period: int,
    batch_size: int = 1,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Random token ids repeated once: ``(B, 2 * period)`` with ``x[:, i] == x[:, i - period]``.

    The first half is drawn uniformly from ``[0, vocab_size)``; nothing in it can be
    predicted, and everything in the second half can, by copying.
    """
    check_size("vocab_size", vocab_size)
    check_size("period", period)
    check_size("batch_size", batch_size)
    first = torch.randint(vocab_size, (batch_size, period), generator=generator)
    return torch.cat([first, first], dim=1)


def without_head(model: GPT, layer: int, head: int) -> GPT:
    """A copy of ``model`` in which head ``head`` of block ``layer`` is removed.

    A head reaches the residual stream only through its ``head_dim`` columns of the
    block's ``attn.out_proj.weight`` (the output projection reads the heads side by
    side); the copy has them set to zero. The original model is not changed.
    """
    _check_model(model)
    L, H = model.config.n_layer, model.config.n_head
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < L:
        raise ValueError(f"layer must be an integer in [0, {L}), got {layer!r}")
    if isinstance(head, bool) or not isinstance(head, int) or not 0 <= head < H:
        raise ValueError(f"head must be an integer in [0, {H}), got {head!r}")
    ablated = copy.deepcopy(model)
    D = model.config.head_dim
    with torch.no_grad():  # out_proj.weight is (out, in): zero the inputs of this head
        ablated.blocks[layer].attn.out_proj.weight[:, head * D : (head + 1) * D] = 0
    return ablated


def head_ablation_losses(model: GPT, idx: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The model's loss on ``(idx, targets)`` without each head in turn.

    Args:
        model: a :class:`~gptcourse.model.GPT`.
        idx, targets: a batch, ``(B, T)`` each (``-100`` marks targets that do not count).

    Returns:
        ``(n_layer, n_head)``: entry ``[l, h]`` is the loss of
        ``without_head(model, l, h)``, in nats; subtract the model's own loss for the rise.
    """
    _check_model(model)
    L, H = model.config.n_layer, model.config.n_head
    losses = torch.empty(L, H)
    with torch.no_grad():
        for layer in range(L):
            for head in range(H):
                ablated = without_head(model, layer, head).eval()
                losses[layer, head] = ablated(idx, targets)[1]
    return losses
