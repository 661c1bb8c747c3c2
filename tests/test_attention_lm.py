"""The one-head language model of chapter 4: its switches do what they say."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gptcourse.attention_lm import AttentionHead, OneHeadLM


def _manual_head(head: AttentionHead, x: torch.Tensor, scale: float, causal: bool):
    q, k, v = head.query(x), head.key(x), head.value(x)
    scores = q @ k.transpose(-2, -1) * scale
    if causal:
        T = x.shape[-2]
        scores = scores.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


@pytest.mark.parametrize("scaled", [True, False])
@pytest.mark.parametrize("causal", [True, False])
def test_head_equals_the_formula(scaled, causal):
    torch.manual_seed(0)
    head = AttentionHead(8, 4, scaled=scaled, causal=causal).double()
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    scale = 1 / math.sqrt(4) if scaled else 1.0
    out, weights = head(x)
    torch.testing.assert_close(out, _manual_head(head, x, scale, causal))
    assert weights.shape == (2, 5, 5)


def test_model_logits_and_loss():
    torch.manual_seed(0)
    model = OneHeadLM(vocab_size=7, block_size=6, n_embd=8)
    idx = torch.randint(7, (3, 6))
    logits, loss = model(idx)
    assert logits.shape == (3, 6, 7) and loss is None
    _, loss = model(idx, targets=idx)
    torch.testing.assert_close(loss, F.cross_entropy(logits.flatten(0, 1), idx.flatten()))


@pytest.mark.parametrize("causal", [True, False])
def test_only_the_causal_model_is_blind_to_the_future(causal):
    torch.manual_seed(0)
    model = OneHeadLM(vocab_size=7, block_size=6, n_embd=8, causal=causal)
    idx = torch.randint(7, (2, 6))
    changed = idx.clone()
    changed[:, 3:] = (idx[:, 3:] + 1) % 7
    with torch.no_grad():
        change = (model(idx)[0][:, :3] - model(changed)[0][:, :3]).abs().max().item()
    assert (change < 1e-6) == causal


def test_scaled_switch_changes_only_the_scale():
    torch.manual_seed(0)
    scaled = OneHeadLM(vocab_size=7, block_size=6, n_embd=16)
    unscaled = OneHeadLM(vocab_size=7, block_size=6, n_embd=16, scaled=False)
    unscaled.load_state_dict(scaled.state_dict())
    assert scaled.head.scale == pytest.approx(0.25) and unscaled.head.scale == 1.0
    idx = torch.randint(7, (2, 6))
    assert not torch.allclose(scaled.attention_weights(idx), unscaled.attention_weights(idx))


def test_bad_input_is_named():
    model = OneHeadLM(vocab_size=7, block_size=4, n_embd=8)
    with pytest.raises(ValueError, match="T=5 tokens is longer than block_size=4"):
        model(torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="token id 9"):
        model(torch.full((1, 3), 9))
    with pytest.raises(TypeError, match="n_embd must be an integer"):
        OneHeadLM(vocab_size=7, block_size=4, n_embd=8.0)
