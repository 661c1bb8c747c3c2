"""The logit lens: the last layer is the model's output; the stream is the blocks' own."""

from __future__ import annotations

import pytest
import torch

from gptcourse.logit_lens import layer_losses, logit_lens, residual_stream
from gptcourse.model import GPT, GPTConfig

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


@pytest.mark.parametrize(
    "changes", [{}, {"positions": "rotary"}, {"norm_first": False}, {"bias": False}]
)
def test_the_last_layer_equals_the_models_logits(changes):
    torch.manual_seed(0)
    model = GPT(GPTConfig.from_preset("gpt-nano", vocab_size=23, block_size=12, **changes)).eval()
    idx = torch.randint(23, (3, 10))
    lens = logit_lens(model, idx)
    assert lens.shape == (4, 3, 10, 23)
    with torch.no_grad():
        logits, _ = model(idx)
    torch.testing.assert_close(lens[-1], logits, rtol=0, atol=0)


def test_the_stream_is_the_embeddings_then_each_blocks_output():
    torch.manual_seed(0)
    model = GPT(GPTConfig.from_preset("gpt-nano", vocab_size=23, block_size=12)).eval()
    idx = torch.randint(23, (2, 7))
    streams = residual_stream(model, idx)
    with torch.no_grad():
        x = model.token_embedding(idx) + model.position_embedding(torch.arange(7))
        torch.testing.assert_close(streams[0], x)
        for i, block in enumerate(model.blocks):
            x = block(x)
            torch.testing.assert_close(streams[i + 1], x)
    assert not any(b._forward_hooks or b._forward_pre_hooks for b in model.blocks)


def test_layer_losses_end_with_the_models_loss():
    torch.manual_seed(0)
    model = GPT(GPTConfig.from_preset("gpt-nano", vocab_size=23, block_size=12)).eval()
    idx, targets = torch.randint(23, (2, 9)), torch.randint(23, (2, 9))
    targets[0, :3] = -100
    losses = layer_losses(logit_lens(model, idx), targets)
    assert losses.shape == (4,)
    with torch.no_grad():
        torch.testing.assert_close(losses[-1], model(idx, targets)[1])


def test_bad_input_is_named():
    model = GPT(GPTConfig.from_preset("gpt-nano", vocab_size=23, block_size=12))
    with pytest.raises(TypeError, match="must be a gptcourse GPT, got Linear"):
        logit_lens(torch.nn.Linear(2, 2), torch.zeros(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"targets \(B, T\), got \(4, 2, 9, 23\) and \(2, 8\)"):
        layer_losses(torch.zeros(4, 2, 9, 23), torch.zeros(2, 8, dtype=torch.long))
    with pytest.raises(ValueError):
        logit_lens(model, torch.full((1, 3), 23))
