"""The logit lens: what the residual stream would predict if the model stopped early.

A GPT adds each block's output to its residual stream and, at the end, reads the next
token off it through the final layer norm and the output layer. The logit lens
(nostalgebraist, 2020) applies that same read-out to the stream after every block: the
predictions of layer 0 (the embeddings alone), 1, ..., ``n_layer``. The last one is the
model's own output; the earlier ones show how a prediction forms through depth.

    >>> from gptcourse.model import GPT, GPTConfig
    >>> model = GPT(GPTConfig.from_preset("gpt-nano", vocab_size=11, block_size=8)).eval()
    >>> idx = torch.randint(11, (2, 5))
    >>> lens = logit_lens(model, idx)
    >>> tuple(lens.shape)  # (n_layer + 1, B, T, V)
    (4, 2, 5, 11)
    >>> torch.allclose(lens[-1], model(idx)[0])
    True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gptcourse._validation import check_token_ids
from gptcourse.model import GPT

__all__ = ["residual_stream", "logit_lens", "layer_losses"]


def residual_stream(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    """The residual stream before the first block and after each block.

    Args:
        model: a :class:`~gptcourse.model.GPT` (in eval mode, for repeatable values).
        idx: token ids, ``(B, T)``.

    Returns:
        ``(n_layer + 1, B, T, C)``: entry 0 is the input of block 0 (the embeddings),
        entry ``l`` the output of block ``l - 1``.
    """
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a gptcourse GPT, got {type(model).__name__}")
    check_token_ids("idx", idx, model.vocab_size, dims=(2,))
    streams: list[torch.Tensor] = []
    hooks = [model.blocks[0].register_forward_pre_hook(lambda m, args: streams.append(args[0]))]
    for block in model.blocks:
        hooks.append(block.register_forward_hook(lambda m, args, out: streams.append(out)))
    try:
        with torch.no_grad():
            model(idx)
    finally:
        for hook in hooks:
            hook.remove()
    return torch.stack(streams)  # (L + 1, B, T, C)


def logit_lens(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    """The next-token logits read off the residual stream at every depth.

    Each entry of :func:`residual_stream` goes through the model's final layer norm and
    output layer, as the last one does in the model itself.

    Returns:
        ``(n_layer + 1, B, T, V)``; entry ``n_layer`` equals ``model(idx)[0]``.
    """
    streams = residual_stream(model, idx)
    with torch.no_grad():  # one depth at a time: the shapes, so the numerics, of the model's own
        return torch.stack([model.lm_head(model.ln_f(x)) for x in streams])


def layer_losses(lens_logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The cross-entropy of each depth's predictions, in nats.

    Args:
        lens_logits: from :func:`logit_lens`, ``(L + 1, B, T, V)``.
        targets: the next tokens, ``(B, T)``, with -100 at positions that do not count.

    Returns:
        ``(L + 1,)``: the mean loss of each depth; the last is the model's own loss.
    """
    if lens_logits.dim() != 4 or targets.shape != lens_logits.shape[1:3]:
        raise ValueError(
            f"lens_logits must be (L + 1, B, T, V) and targets (B, T), got "
            f"{tuple(lens_logits.shape)} and {tuple(targets.shape)}"
        )
    return torch.stack(
        [
            F.cross_entropy(lg.flatten(0, 1), targets.flatten(), ignore_index=-100)
            for lg in lens_logits
        ]
    )
