"""Magnitude pruning: set the smallest weights to zero, and see what the model loses.

A weight near zero contributes little to a matrix product; pruning removes (zeroes) the
fraction ``sparsity`` of weights with the smallest absolute values. Two ways to choose:

* ``scope="global"``: one threshold for all the pruned matrices together, so a layer
  whose weights are small loses more of them (Han et al., 2015);
* ``scope="layer"``: the same fraction in every matrix.

The pruned weights are the matrices of the model's :class:`torch.nn.Linear` layers,
except one that shares its weight with an embedding (the GPT's output layer, tied to the
token embedding): embeddings are looked up, not multiplied, and pruning a row removes a
token. The work is done by PyTorch's ``torch.nn.utils.prune``, made permanent.

    >>> model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4))
    >>> _ = magnitude_prune(model, 0.5)
    >>> sparsity(model)
    0.5
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import prune

__all__ = ["SCOPES", "prunable_weights", "magnitude_prune", "sparsity"]

#: How the threshold is chosen, one for all matrices or one per matrix.
SCOPES = ("global", "layer")


def prunable_weights(model: nn.Module) -> dict[str, nn.Linear]:
    """The :class:`~torch.nn.Linear` layers whose weights are pruned, by name.

    Every linear layer of ``model``, except those whose weight is an embedding's too
    (weight tying).
    """
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    return {
        name: module
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and id(module.weight) not in embeddings
    }


def magnitude_prune(model: nn.Module, sparsity: float, scope: str = "global") -> dict[str, float]:
    """Zero the fraction ``sparsity`` of the prunable weights with the smallest magnitudes.

    In place and permanent: the weights are zeroed in the model's ordinary parameters
    (no masks or hooks are left behind). Exactly ``round(sparsity * n)`` weights are
    chosen: of all ``n`` prunable weights for ``scope="global"``, of each matrix's ``n``
    for ``scope="layer"``. Weights that are zero already count if they are chosen.

    Args:
        model: any module with :class:`~torch.nn.Linear` layers (a GPT).
        sparsity: the fraction to remove, in ``[0, 1]``.
        scope: ``"global"`` (one threshold) or ``"layer"`` (the same fraction per matrix).

    Returns:
        ``{layer name: fraction of its weights that are zero}`` after pruning.

    Raises:
        ValueError: ``sparsity`` is outside ``[0, 1]``, ``scope`` is unknown, or the
            model has no prunable layer.
    """
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)):
        raise TypeError(f"sparsity must be a number in [0, 1], got {type(sparsity).__name__}")
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"sparsity must be in [0, 1], got {sparsity}")
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
    layers = prunable_weights(model)
    if not layers:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer to prune")
    targets = [(module, "weight") for module in layers.values()]
    if scope == "global":
        prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=sparsity)
    else:
        for module, name in targets:
            prune.l1_unstructured(module, name, amount=sparsity)
    for module, name in targets:
        prune.remove(module, name)  # weight = weight_orig * mask, as a plain parameter again
    return {name: _zero_fraction(module.weight) for name, module in layers.items()}


def sparsity(model: nn.Module) -> float:
    """The fraction of the prunable weights (see :func:`prunable_weights`) that are zero."""
    layers = prunable_weights(model).values()
    total = sum(m.weight.numel() for m in layers)
    if not total:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer")
    return sum(int((m.weight == 0).sum()) for m in layers) / total


def _zero_fraction(weight: torch.Tensor) -> float:
    return int((weight == 0).sum()) / weight.numel()
