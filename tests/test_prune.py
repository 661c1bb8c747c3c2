"""Magnitude pruning: exactly the requested sparsity, the smallest weights, global or per layer."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gptcourse.model import GPT, GPTConfig
from gptcourse.prune import magnitude_prune, prunable_weights, sparsity


def _gpt(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig.from_preset("gpt-nano", vocab_size=20, block_size=8))


def test_the_prunable_weights_are_the_blocks_linear_layers_not_the_tied_output():
    names = prunable_weights(_gpt())
    assert "lm_head" not in names
    assert len(names) == 3 * 4  # qkv, out, fc, proj per block
    assert all(name.startswith("blocks.") for name in names)


@pytest.mark.parametrize("amount", [0.0, 0.1, 0.37, 0.5, 0.9, 1.0])
def test_global_pruning_reaches_the_requested_sparsity_exactly(amount):
    model = _gpt()
    layers = prunable_weights(model)
    n = sum(m.weight.numel() for m in layers.values())
    magnitude_prune(model, amount, scope="global")
    zeros = sum(int((m.weight == 0).sum()) for m in layers.values())
    assert zeros == round(amount * n)
    assert sparsity(model) == zeros / n


@pytest.mark.parametrize("amount", [0.25, 0.6])
def test_per_layer_pruning_reaches_it_in_every_matrix(amount):
    model = _gpt()
    fractions = magnitude_prune(model, amount, scope="layer")
    for name, module in prunable_weights(model).items():
        n = module.weight.numel()
        assert int((module.weight == 0).sum()) == round(amount * n)
        assert fractions[name] == round(amount * n) / n


def test_global_pruning_removes_the_smallest_magnitudes_and_layers_differ():
    model = _gpt()
    with torch.no_grad():  # one layer of much smaller weights
        model.blocks[0].mlp.c_fc.weight.mul_(0.01)
    before = torch.cat(
        [m.weight.detach().abs().flatten() for m in prunable_weights(model).values()]
    )
    fractions = magnitude_prune(model, 0.3, scope="global")
    after = torch.cat([m.weight.detach().abs().flatten() for m in prunable_weights(model).values()])
    kept, removed = before[after != 0], before[after == 0]
    assert removed.max() <= kept.min()
    assert fractions["blocks.0.mlp.c_fc"] == 1.0  # its weights are all below the threshold
    assert fractions["blocks.1.mlp.c_fc"] < 0.3


def test_pruning_is_permanent_and_leaves_plain_parameters():
    model = _gpt()
    magnitude_prune(model, 0.5)
    names = {name for name, _ in model.named_parameters()}
    assert not any(name.endswith("_orig") for name in names)
    assert not any(m._forward_pre_hooks for m in model.modules())
    # the token embedding (tied to the output layer) is untouched
    assert int((model.token_embedding.weight == 0).sum()) == 0


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"sparsity must be in \[0, 1\], got 1.5"):
        magnitude_prune(_gpt(), 1.5)
    with pytest.raises(ValueError, match=r"scope must be one of \('global', 'layer'\), got 'row'"):
        magnitude_prune(_gpt(), 0.5, scope="row")
    with pytest.raises(ValueError, match="Embedding has no nn.Linear layer to prune"):
        magnitude_prune(nn.Embedding(3, 4), 0.5)
