"""The checks of chapter 10's exercises: right answers pass, each named mistake gets its hint."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gptcourse.checks import CheckFailed, ch10
from gptcourse.lora import LoRALinear, apply_lora, lora_parameters
from gptcourse.model import GPT, GPTConfig

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def _stub(*args, **kwargs):
    raise NotImplementedError("Exercise 10-1: replace this line with your code.")


# --- last_token_position -------------------------------------------------------------------


def _last(mask):
    T = mask.shape[-1]
    return T - 1 - mask.long().flip(-1).argmax(-1)


def test_last_token_position_right_answers_pass(capsys):
    ch10.last_token_position(_last)
    ch10.last_token_position(
        lambda m: torch.tensor([max(i for i, v in enumerate(row) if v) for row in m.tolist()])
    )
    assert capsys.readouterr().out.count("last_token_position: all 15 checks passed") == 2


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda m: m.long().sum(-1), "one more than the position"),
        (lambda m: m.long().argmax(-1), "the first real token"),
        (lambda m: torch.full((m.shape[0],), m.shape[1] - 1), "position T - 1 for every row"),
        (lambda m: m.long().sum(-1) - 1, "right for right padding only"),
        (lambda m: _last(m)[:-1], r"expected shape \(4,\)"),
        (lambda m: _last(m).tolist(), "expected a torch.Tensor"),
    ],
)
def test_last_token_position_mistakes_get_their_hints(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ch10.last_token_position(wrong)


def test_last_token_position_stub_is_not_implemented():
    with pytest.raises(CheckFailed, match="not implemented yet"):
        ch10.last_token_position(_stub)


# --- lora_trainable ------------------------------------------------------------------------


def test_the_lora_count_is_what_apply_lora_adds():
    config = GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=2, n_embd=16)
    for targets in (("attn.qkv_proj", "attn.out_proj"), tuple(ch10.LAYERS), ("mlp.c_fc",)):
        model = GPT(config)
        apply_lora(model, targets, r=4)
        added = sum(p.numel() for p in lora_parameters(model))
        assert added == ch10._lora_count(config, 4, targets), targets


def _count(config, r, targets, mistake=None):
    C = config.n_embd
    sizes = {
        "attn.qkv_proj": (C, C if mistake == "square" else 3 * C),
        "attn.out_proj": (C, C),
        "mlp.c_fc": (C, 4 * C),
        "mlp.c_proj": (4 * C, C),
    }
    if mistake == "full":
        per_block = sum(sizes[t][0] * sizes[t][1] for t in targets)
    elif mistake == "only B":
        per_block = sum(r * sizes[t][1] for t in targets)
    else:
        per_block = sum(r * (sizes[t][0] + sizes[t][1]) for t in targets)
    return per_block if mistake == "one block" else config.n_layer * per_block


def test_lora_trainable_right_answer_passes(capsys):
    ch10.lora_trainable(_count)
    assert "lora_trainable: all 5 checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("mistake", "message"),
    [
        ("one block", "every one of the n_layer blocks"),
        ("only B", r"count both, r \* \(d_in \+ d_out\)"),
        ("square", r"qkv_proj maps n_embd to 3 \* n_embd"),
        ("full", r"counts the full matrices"),
    ],
)
def test_lora_trainable_mistakes_get_their_hints(mistake, message):
    with pytest.raises(CheckFailed, match=message):
        ch10.lora_trainable(lambda c, r, t: _count(c, r, t, mistake=mistake))


def test_lora_trainable_stub_is_not_implemented():
    with pytest.raises(CheckFailed, match="not implemented yet"):
        ch10.lora_trainable(_stub)


# --- lora_linear ---------------------------------------------------------------------------


def _lora_class(mistake=None):
    class Layer(nn.Module):
        def __init__(self, base, r, alpha):
            super().__init__()
            self.base = base if mistake == "not frozen" else base.requires_grad_(False)
            self.scaling = 1.0 if mistake == "no scaling" else alpha / r
            self.lora_A = nn.Parameter(torch.randn(r, base.in_features) / math.sqrt(r))
            init = torch.randn if mistake == "B random" else torch.zeros
            self.lora_B = nn.Parameter(init(base.out_features, r))
            self.merged = False

        def forward(self, x):
            y = self.base(x)
            if self.merged and mistake != "adds twice":
                return y
            return y + (x @ self.lora_A.T @ self.lora_B.T) * self.scaling

        @torch.no_grad()
        def merge(self):
            if mistake == "no merge":
                self.merged = True
                return
            scaling = 1.0 if mistake == "merge unscaled" else self.scaling
            self.base.weight += scaling * self.lora_B @ self.lora_A
            self.merged = True

    return Layer


def test_lora_linear_right_answers_pass(capsys):
    ch10.lora_linear(_lora_class())
    ch10.lora_linear(LoRALinear)  # the package's own
    assert capsys.readouterr().out.count("lora_linear: all 21 checks passed") == 2


@pytest.mark.parametrize(
    ("mistake", "message"),
    [
        ("not frozen", "must be frozen"),
        ("B random", "initialise lora_B to zeros"),
        ("no scaling", "scaled by alpha / r: x A"),
        ("no merge", "merge\\(\\) must add the change into the base layer's weight"),
        ("merge unscaled", "the change is scaled by alpha / r"),
        ("adds twice", "must not add the low-rank path a second time"),
    ],
)
def test_lora_linear_mistakes_get_their_hints(mistake, message):
    with pytest.raises(CheckFailed, match=message):
        ch10.lora_linear(_lora_class(mistake))


def test_lora_linear_without_its_parameters_is_named():
    class Empty(nn.Module):
        def __init__(self, base, r, alpha):
            super().__init__()

    with pytest.raises(CheckFailed, match="needs two nn.Parameter attributes"):
        ch10.lora_linear(Empty)


def test_lora_linear_stub_is_not_implemented():
    with pytest.raises(CheckFailed, match="not implemented yet"):
        ch10.lora_linear(_stub)
