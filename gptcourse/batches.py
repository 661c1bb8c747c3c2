"""From a long sequence of token ids to training batches for next-token prediction.

A language model learns from windows of ``block_size + 1`` consecutive tokens: the
first ``block_size`` are its input and the last ``block_size`` (the same window moved
one step on) are the targets, so that position ``t`` of the input is trained to
predict token ``t + 1``.
"""

from __future__ import annotations

import numbers

import torch

from gptcourse import _args


def _check_ids(ids: object) -> torch.Tensor:
    """``ids``, checked to be a 1-D tensor of integer token ids."""
    if not isinstance(ids, torch.Tensor):
        raise TypeError(
            f"ids must be a 1-D torch.Tensor of token ids, got {_args.shown(ids)}; "
            "convert it with torch.tensor(ids)"
        )
    if ids.dim() != 1:
        raise ValueError(f"expected a 1-D tensor of token ids, got shape {tuple(ids.shape)}")
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise TypeError(
            f"token ids must be integers, got a tensor of dtype {ids.dtype}; ids are "
            "whole numbers, so a float tensor means something went wrong before"
        )
    return ids


def train_val_split(
    ids: torch.Tensor, val_fraction: float = 0.1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split ``ids`` (shape ``(N,)``) into a training head and a validation tail.

    The split is contiguous, not shuffled: validation text is text the model has not
    seen, not single tokens taken out of the sentences it trains on.

    Returns:
        ``(train, val)`` of shapes ``(N - n_val,)`` and ``(n_val,)``, with
        ``n_val = int(N * val_fraction)``.

    Raises:
        TypeError: ``ids`` is not an integer tensor, or ``val_fraction`` not a number.
        ValueError: ``ids`` is not 1-D, or ``val_fraction`` is not in ``[0, 1)``.
    """
    _check_ids(ids)
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, numbers.Real):
        raise TypeError(f"val_fraction must be a number, got {_args.shown(val_fraction)}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    n_val = int(len(ids) * val_fraction)
    return ids[: len(ids) - n_val], ids[len(ids) - n_val :]


def split_text(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """The course's one train/validation split of a text: its last ``val_fraction`` is held out.

    The boundary is the one :func:`train_val_split` draws on the text's characters, so a
    character-level model and a model of any other tokenizer (which encodes the two parts
    separately) are measured on the same validation text.

        >>> split_text("abcdefghij", 0.2)
        ('abcdefgh', 'ij')

    Returns:
        ``(train_text, val_text)``, with ``len(val_text) == int(len(text) * val_fraction)``.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {_args.shown(text)}")
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, numbers.Real):
        raise TypeError(f"val_fraction must be a number, got {_args.shown(val_fraction)}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    n_val = int(len(text) * val_fraction)
    return text[: len(text) - n_val], text[len(text) - n_val :]


def get_batch(
    ids: torch.Tensor,
    batch_size: int,
    block_size: int,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``batch_size`` random windows of ``block_size + 1`` tokens from ``ids``.

    Args:
        ids: token ids, an integer tensor of shape ``(N,)``, with ``N >= block_size + 1``.
        batch_size: how many windows, ``B``.
        block_size: the context length, ``T``.
        generator: the random generator that picks the windows (for reproducibility).
        device: where to put the batch.

    Returns:
        ``(x, y)``, both of shape ``(B, T)`` and dtype ``long``, with
        ``y[b, t] == x[b, t + 1]`` for ``t < T - 1``: the targets are the inputs
        shifted one token to the left.

    Raises:
        TypeError: ``ids`` is not a tensor of integers, or a size is not an int.
        ValueError: ``ids`` is not 1-D, or is too short for one window, or a size is
            not positive.
    """
    _check_ids(ids)
    batch_size = _args.integer("batch_size", batch_size)
    block_size = _args.integer("block_size", block_size)
    if batch_size < 1 or block_size < 1:
        raise ValueError(
            f"batch_size and block_size must be positive, got {batch_size} and {block_size}"
        )
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {_args.shown(generator)}")
    if len(ids) < block_size + 1:
        raise ValueError(
            f"block_size={block_size} needs windows of {block_size + 1} tokens, but the data "
            f"has only {len(ids)}; use a smaller block_size or more data"
        )
    starts = torch.randint(len(ids) - block_size, (batch_size,), generator=generator)
    offsets = torch.arange(block_size + 1)
    windows = ids[starts[:, None] + offsets].long()  # (B, T + 1)
    x, y = windows[:, :-1], windows[:, 1:]
    if device is not None:
        x, y = x.to(device), y.to(device)
    return x, y
