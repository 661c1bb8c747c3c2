"""Attention heads: the maps are the blocks' own, the scores measure their patterns, an
ablation removes one head and nothing else."""

from __future__ import annotations

import pytest
import torch

from gptcourse.heads import (
    attention_maps,
    first_token_score,
    head_ablation_losses,
    induction_score,
    previous_token_score,
    repeated_tokens,
    without_head,
)
from gptcourse.model import GPT, GPTConfig

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def _model(**changes) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig.from_preset("gpt-nano", vocab_size=23, block_size=12, **changes)).eval()


@pytest.mark.parametrize("changes", [{}, {"positions": "rotary"}, {"norm_first": False}])
def test_the_maps_are_those_each_block_computes(changes):
    model = _model(**changes)
    idx = torch.randint(23, (2, 9), generator=torch.Generator().manual_seed(1))
    maps = attention_maps(model, idx)
    assert maps.shape == (3, 2, 3, 9, 9)
    positions = torch.arange(9)
    with torch.no_grad():  # walk the blocks by hand
        x = model.token_embedding(idx)
        if model.position_embedding is not None:
            x = x + model.position_embedding(positions)
        for layer, block in enumerate(model.blocks):
            attn_in = block.ln_1(x) if block.norm_first else x
            expected = block.attn.attention_weights(attn_in, positions=positions)
            torch.testing.assert_close(maps[layer], expected)
            x = block(x, positions=positions)
    torch.testing.assert_close(maps.sum(-1), torch.ones(3, 2, 3, 9))
    assert torch.all(maps.triu(diagonal=1) == 0)  # causal: nothing after the query
    assert not any(b.attn._forward_hooks for b in model.blocks)


def _one_hot_map(T: int, key_of_query) -> torch.Tensor:
    w = torch.zeros(T, T)
    for i in range(T):
        w[i, key_of_query(i)] = 1.0
    return w


def test_scores_of_pure_patterns():
    T, n = 10, 5
    previous = _one_hot_map(T, lambda i: max(i - 1, 0))
    first = _one_hot_map(T, lambda i: 0)
    induction = _one_hot_map(T, lambda i: i - n + 1 if i >= n else i)
    assert previous_token_score(previous).item() == 1.0
    assert first_token_score(previous).item() == pytest.approx(1 / (T - 1))  # query 1 only
    assert first_token_score(first).item() == 1.0
    assert previous_token_score(first).item() == pytest.approx(1 / (T - 1))  # query 1 only
    assert induction_score(induction, n).item() == 1.0
    assert induction_score(previous, n).item() == 0.0
    # stacked maps give one score per map
    stacked = torch.stack([previous, first, induction])
    torch.testing.assert_close(previous_token_score(stacked), torch.tensor([1.0, 1 / 9, 0.0]))


def test_scores_of_uniform_causal_attention():
    T, n = 8, 3
    w = torch.tril(torch.ones(T, T))
    w = w / w.sum(-1, keepdim=True)  # query i spreads 1 / (i + 1) over keys 0..i
    expected = sum(1 / (i + 1) for i in range(1, T)) / (T - 1)
    assert previous_token_score(w).item() == pytest.approx(expected)
    assert first_token_score(w).item() == pytest.approx(expected)
    expected_induction = sum(1 / (i + 1) for i in range(n, T)) / (T - n)
    assert induction_score(w, n).item() == pytest.approx(expected_induction)


def test_repeated_tokens_repeat():
    x = repeated_tokens(7, 5, 3, generator=torch.Generator().manual_seed(0))
    assert x.shape == (3, 10)
    assert torch.equal(x[:, :5], x[:, 5:])
    assert x.min() >= 0 and x.max() < 7


def test_without_head_removes_that_head_and_nothing_else():
    model = _model()
    idx = torch.randint(23, (2, 9), generator=torch.Generator().manual_seed(2))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ablated = without_head(model, 1, 2)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    C, D = model.config.n_embd, model.config.head_dim

    def logits_after_changing_head(m: GPT, head: int) -> torch.Tensor:
        weight = m.blocks[1].attn.qkv_proj.weight  # rows: queries, keys, values
        with torch.no_grad():
            saved = weight.clone()
            weight[head * D : (head + 1) * D] += 1.0  # this head's query rows
            weight[2 * C + head * D : 2 * C + (head + 1) * D] += 1.0  # its value rows
            out = m(idx)[0]
            weight.copy_(saved)
        return out

    with torch.no_grad():
        base = ablated(idx)[0]
    # the removed head's queries and values no longer reach the output ...
    torch.testing.assert_close(logits_after_changing_head(ablated, 2), base, rtol=0, atol=0)
    # ... another head's still do
    assert not torch.allclose(logits_after_changing_head(ablated, 0), base)
    assert not torch.allclose(base, model(idx)[0])


def test_head_ablation_losses_are_each_ablated_models_loss():
    model = _model()
    g = torch.Generator().manual_seed(3)
    idx, targets = torch.randint(23, (2, 9), generator=g), torch.randint(23, (2, 9), generator=g)
    losses = head_ablation_losses(model, idx, targets)
    assert losses.shape == (3, 3)
    with torch.no_grad():
        for layer, head in [(0, 0), (1, 2), (2, 1)]:
            expected = without_head(model, layer, head)(idx, targets)[1]
            torch.testing.assert_close(losses[layer, head], expected)
        # a head whose output columns are zero already costs nothing to remove
        D = model.config.head_dim
        model.blocks[0].attn.out_proj.weight[:, D : 2 * D] = 0
        own = model(idx, targets)[1]
    assert head_ablation_losses(model, idx, targets)[0, 1].item() == own.item()


def test_bad_input_is_named():
    model = _model()
    with pytest.raises(TypeError, match="gptcourse GPT"):
        attention_maps(torch.nn.Linear(2, 2), torch.zeros(1, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"layer must be an integer in \[0, 3\), got 3"):
        without_head(model, 3, 0)
    with pytest.raises(ValueError, match=r"head must be an integer in \[0, 3\), got -1"):
        without_head(model, 0, -1)
    with pytest.raises(ValueError, match=r"\(\.\.\., T, T\)"):
        previous_token_score(torch.ones(3, 4))
    with pytest.raises(ValueError, match="period=5 needs T > 5"):
        induction_score(torch.eye(5), 5)
    with pytest.raises(ValueError, match="period must be an integer >= 2"):
        induction_score(torch.eye(5), 1)
