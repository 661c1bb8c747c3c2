"""Argument checks shared by the package's modules: clear errors that name the values.

One rule keeps them off the hot path: a check that reads a tensor's *values* (its
minimum, say) runs only when the tensor is on the CPU, where its values are already in
host memory. On an accelerator it would make the host wait for the device at every
call, so there the shapes and dtypes are checked and the values are not.
"""

from __future__ import annotations

from typing import Any

import torch


def describe(value: Any) -> str:
    """``value`` as an error message shows it: its type, and the value if it is short."""
    name = type(value).__name__
    if isinstance(value, (int, float, str, bool)) or value is None:
        return f"{name} {value!r}"
    return name


def check_size(name: str, value: Any, minimum: int = 1) -> int:
    """A size (a length, a width, a count): an ``int`` of at least ``minimum``.

    Raises:
        TypeError: ``value`` is not an ``int`` (a float, a string, a bool, a tensor).
        ValueError: ``value`` is below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {describe(value)}")
    if value < minimum:
        which = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {which}, got {value}")
    return value


def check_tensor(name: str, value: Any, expected: str = "a torch.Tensor") -> torch.Tensor:
    """Raise a ``TypeError`` naming what was expected unless ``value`` is a tensor."""
    if not isinstance(value, torch.Tensor):
        hint = " (convert it with torch.as_tensor)" if hasattr(value, "__len__") else ""
        raise TypeError(f"{name} must be {expected}, got {describe(value)}{hint}")
    return value


def values_are_checkable(t: torch.Tensor) -> bool:
    """Whether reading ``t``'s values is free: it lives in host memory (the CPU)."""
    return t.device.type == "cpu"


def check_token_ids(
    name: str, ids: Any, vocab_size: int, dims: tuple[int, ...], ignore_index: int | None = None
) -> torch.Tensor:
    """``ids`` must be an integer tensor with ``dims`` dimensions, ids in ``[0, vocab_size)``.

    ``ignore_index`` (e.g. -100 in targets) is allowed too. The range is checked only on
    the CPU (see the module's docstring).
    """
    check_tensor(name, ids, "a torch.Tensor of token ids")
    if ids.dim() not in dims:
        want = " or ".join(f"{d}-D" for d in dims)
        raise ValueError(f"{name} must be {want}, got shape {tuple(ids.shape)}")
    if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer token ids, got dtype {ids.dtype}")
    if ids.numel() and values_are_checkable(ids):
        valid = ids if ignore_index is None else ids[ids != ignore_index]
        if valid.numel() and (valid.min() < 0 or valid.max() >= vocab_size):
            bad = valid.min().item() if valid.min() < 0 else valid.max().item()
            ignored = "" if ignore_index is None else f"; {ignore_index} marks ignored positions"
            raise ValueError(
                f"{name} holds token id {bad}, outside the vocabulary 0 .. {vocab_size - 1} "
                f"(vocab_size={vocab_size}){ignored}"
            )
    return ids
