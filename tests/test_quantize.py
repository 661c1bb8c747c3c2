"""Weight-only int8: the rounding bound, the bytes saved, the loss kept."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gptcourse.batches import get_batch
from gptcourse.model import GPT, GPTConfig
from gptcourse.quantize import (
    QMAX,
    Int8Linear,
    dequantize_weight,
    model_bytes,
    quantize_int8,
    quantize_weight,
)
from gptcourse.training import train

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def test_each_weight_is_within_half_a_step_of_its_row():
    w = torch.randn(16, 40, generator=torch.Generator().manual_seed(0))
    w[3] = 0.0
    q, scale = quantize_weight(w)
    assert q.dtype == torch.int8 and scale.shape == (16,)
    assert int(q.abs().max()) == QMAX
    error = (dequantize_weight(q, scale) - w).abs()
    assert bool((error <= scale[:, None] / 2 + 1e-7).all())
    assert bool((dequantize_weight(q, scale)[3] == 0).all())


def test_int8_linear_matches_the_dequantised_float_layer():
    torch.manual_seed(0)
    linear = nn.Linear(12, 5)
    layer = Int8Linear(linear)
    x = torch.randn(3, 4, 12)
    expected = x @ dequantize_weight(*quantize_weight(linear.weight)).T + linear.bias
    torch.testing.assert_close(layer(x), expected)


def _trained_gpt() -> tuple[GPT, torch.Tensor]:
    torch.manual_seed(0)
    text = torch.arange(0, 2000) % 13  # a periodic sequence: learnable in a few steps
    data = (text * 7 + text // 5) % 17
    model = GPT(GPTConfig.from_preset("gpt-nano", vocab_size=17, block_size=16))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    train(model, optimizer, lambda: get_batch(data, 16, 16, generator=g), steps=60)
    return model.eval(), data


def test_int8_model_keeps_the_loss_and_takes_a_quarter_of_the_linear_bytes():
    model, data = _trained_gpt()
    quantized = quantize_int8(model)
    x = data[:-1].unfold(0, 16, 16)[:32]
    y = data[1:].unfold(0, 16, 16)[:32]
    with torch.no_grad():
        loss = model(x, y)[1].item()
        loss_q = quantized(x, y)[1].item()
    # the stated tolerance: the int8 model's loss within 1% of the float model's
    assert abs(loss_q - loss) <= 0.01 * loss
    # bytes: each quantised (out, in) float32 matrix, 4 * out * in, becomes out * in + 4 * out
    layers = [m for m in model.modules() if isinstance(m, nn.Linear) and m is not model.lm_head]
    saved = sum(3 * m.in_features * m.out_features - 4 * m.out_features for m in layers)
    assert model_bytes(model) - model_bytes(quantized) == saved
    assert sum(isinstance(m, Int8Linear) for m in quantized.modules()) == len(layers)
    assert not any(isinstance(m, Int8Linear) for m in model.modules())  # the original is intact


@pytest.mark.parametrize("in_features, expected", [(48, 192 / 52), (768, 3072 / 772)])
def test_a_layer_shrinks_by_4_in_over_in_plus_4(in_features, expected):
    # per row: 4 * in bytes of float32 against in bytes of int8 and a 4-byte scale
    linear = nn.Linear(in_features, 64, bias=False)
    assert model_bytes(linear) / model_bytes(Int8Linear(linear)) == pytest.approx(expected)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"must be 2-D \(out, in\), got shape \(3,\)"):
        quantize_weight(torch.ones(3))
    with pytest.raises(TypeError, match="floating-point tensor, got a tensor of dtype torch.int64"):
        quantize_weight(torch.ones(3, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="holds inf or nan"):
        quantize_weight(torch.tensor([[1.0, float("nan")]]))
    with pytest.raises(ValueError, match="ReLU has no nn.Linear layer to quantise"):
        quantize_int8(nn.ReLU())
