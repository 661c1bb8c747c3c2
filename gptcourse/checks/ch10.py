"""Checks for the exercises of chapter 10: fine-tuning."""

from __future__ import annotations

import functools
import operator

import torch
from torch import nn

from gptcourse.checks import checking, same_as
from gptcourse.finetune import last_token_index
from gptcourse.lora import LoRALinear
from gptcourse.model import GPTConfig


def _masks() -> list[tuple[str, torch.Tensor]]:
    lengths = torch.tensor([3, 1, 5, 4])
    T = 5
    positions = torch.arange(T)
    right = (positions < lengths[:, None]).long()  # (B, T)
    left = right.flip(-1)
    return [
        ("right padding", right),
        ("left padding", left),
        ("no padding", torch.ones(2, 4, dtype=torch.long)),
        ("one token each, right padding", torch.tensor([[1, 0, 0], [1, 0, 0]])),
        ("a boolean mask, left padding", left.bool()),
    ]


def last_token_position(fn) -> None:
    """Exercise: the position of the last real token of each row.

    ``fn(attention_mask: (B, T)) -> (B,)`` integer positions, for any padding side.
    """
    __tracebackhide__ = True
    with checking("last_token_position", fn) as c:
        for name, mask in _masks():
            what = f"last_token_position(mask) with {name}, mask = {mask.long().tolist()}"
            got = c.tensor(c.call(mask.clone()), what, shape=(mask.shape[0],))
            B, T = mask.shape
            counts = mask.long().sum(-1)
            hints = {
                "positions count from 0: the number of real tokens is one more than the "
                "position of the last one.": same_as(counts),
                "that is the first real token of each row, not the last.": same_as(
                    mask.long().argmax(-1)
                ),
            }
            if not bool(mask.all()):
                hints[
                    "that is position T - 1 for every row: with right padding it is a "
                    "padding token. The mask says where the real tokens end."
                ] = same_as(torch.full((B,), T - 1))
            if name.startswith(("left", "a boolean")):
                hints[
                    "(number of real tokens - 1) is right for right padding only: with "
                    "left padding the real tokens end at T - 1. Find the last 1 of the "
                    "mask instead."
                ] = same_as(counts - 1)
            c.equal(got.tolist(), last_token_index(mask).tolist(), what, hints=hints)


#: The linear layers of a block, by name: (fan in, fan out) in units of n_embd.
LAYERS = {
    "attn.qkv_proj": (1, 3),
    "attn.out_proj": (1, 1),
    "mlp.c_fc": (1, 4),
    "mlp.c_proj": (4, 1),
}

#: (preset, overrides, r, targets) of the checks.
#: The first has one layer alone, so that each hinted mistake gives its own number.
LORA_CASES = (
    ("gpt2", {}, 4, ("attn.qkv_proj",)),
    ("gpt-nano", dict(vocab_size=65, block_size=64), 8, ("attn.qkv_proj", "attn.out_proj")),
    ("gpt2", {}, 8, ("attn.qkv_proj", "attn.out_proj")),
    ("gpt-mini", dict(vocab_size=65, block_size=128), 16, tuple(LAYERS)),
    ("gpt2-xl", {}, 2, ("mlp.c_fc", "mlp.c_proj")),
)


def _lora_count(config: GPTConfig, r: int, targets, *, only_b=False, square_qkv=False):
    C, total = config.n_embd, 0
    for name in targets:
        fan_in, fan_out = LAYERS[name]
        if square_qkv and name == "attn.qkv_proj":
            fan_out = 1
        total += r * (fan_out * C if only_b else (fan_in + fan_out) * C)
    return config.n_layer * total


def lora_trainable(fn) -> None:
    """Exercise: the parameters LoRA trains.

    ``fn(config: GPTConfig, r: int, targets: tuple[str, ...]) -> int``: the ``lora_A`` and
    ``lora_B`` numbers of :func:`gptcourse.lora.apply_lora` on ``GPT(config)``.
    """
    __tracebackhide__ = True
    with checking("lora_trainable", fn) as c:
        for preset, overrides, r, targets in LORA_CASES:
            config = GPTConfig.from_preset(preset, **overrides)
            what = f"lora_trainable(GPTConfig.from_preset({preset!r}, ...), r={r}, {targets})"
            got = c.call(config, r, targets)
            expected = _lora_count(config, r, targets)
            hints = {
                "that is one block's adapters: every one of the n_layer blocks has its own.": (
                    same_as(expected // config.n_layer)
                ),
                "A is (r, d_in) and B is (d_out, r): count both, r * (d_in + d_out) per "
                "layer.": same_as(_lora_count(config, r, targets, only_b=True)),
                "qkv_proj maps n_embd to 3 * n_embd (the queries, keys and values at "
                "once), so its adapter has r * (C + 3C) numbers.": same_as(
                    _lora_count(config, r, targets, square_qkv=True)
                ),
                "that counts the full matrices, d_in * d_out each: LoRA's point is to "
                "train r * (d_in + d_out) instead.": same_as(
                    config.n_layer
                    * sum(LAYERS[t][0] * LAYERS[t][1] * config.n_embd**2 for t in targets)
                ),
            }
            c.equal(got, expected, what, hints=hints)


def lora_linear(cls) -> None:
    """Exercise: a LoRA linear layer.

    ``cls(base: nn.Linear, r: int, alpha: float)`` with parameters ``lora_A`` ``(r, in)``
    and ``lora_B`` ``(out, r)``, ``forward(x)`` and ``merge()``; behaves as
    :class:`gptcourse.lora.LoRALinear`.
    """
    __tracebackhide__ = True
    with checking("lora_linear", cls) as c:
        for d_in, d_out, r, alpha in ((16, 24, 4, 8.0), (8, 8, 2, 2.0), (32, 12, 8, 32.0)):
            what = f"{getattr(cls, '__name__', 'the class')}(nn.Linear({d_in}, {d_out}), r={r})"
            torch.manual_seed(d_in + d_out)
            base = nn.Linear(d_in, d_out)
            x = torch.randn(5, d_in)
            layer = c.call(base, r=r, alpha=alpha)
            c.that(
                isinstance(getattr(layer, "lora_A", None), nn.Parameter)
                and isinstance(getattr(layer, "lora_B", None), nn.Parameter),
                f"{what}: needs two nn.Parameter attributes, lora_A and lora_B",
            )
            c.equal(
                (tuple(layer.lora_A.shape), tuple(layer.lora_B.shape)),
                ((r, d_in), (d_out, r)),
                f"{what}: the shapes of (lora_A, lora_B)",
            )
            trainable = sum(p.numel() for p in layer.parameters() if p.requires_grad)
            c.equal(
                trainable,
                r * (d_in + d_out),
                f"{what}: the trainable parameters",
                hints={
                    "the base layer's weight and bias must be frozen "
                    "(base.requires_grad_(False)): only A and B train.": functools.partial(
                        operator.lt, r * (d_in + d_out)
                    )
                },
            )
            with torch.no_grad():
                c.close(
                    layer(x),
                    base(x),
                    f"{what}: before training, the output",
                    atol=1e-6,
                    hints={
                        "before training the layer must equal its base layer: initialise "
                        "lora_B to zeros (and lora_A at random), so that B A = 0.": lambda _: True
                    },
                )
                reference = LoRALinear(nn.Linear(d_in, d_out), r=r, alpha=alpha)
                reference.base.load_state_dict(base.state_dict())
                A, B = torch.randn(r, d_in) / 4, torch.randn(d_out, r) / 4
                for module in (layer, reference):
                    module.lora_A.copy_(A)
                    module.lora_B.copy_(B)
                expected = reference(x)
                c.close(
                    layer(x),
                    expected,
                    f"{what}: with lora_A and lora_B set, the output",
                    atol=1e-5,
                    hints={
                        "the low-rank path is scaled by alpha / r: x A^T B^T * (alpha / r).": (
                            same_as(base(x) + x @ A.T @ B.T, atol=1e-5)
                        ),
                    },
                )
                W0 = base.weight.clone()
                try:
                    layer.merge()
                except Exception as e:
                    c.fail(f"{what}: merge() raised {type(e).__name__}: {e}")
                c.close(
                    base.weight,
                    W0 + (alpha / r) * B @ A,
                    f"{what}: after merge(), base.weight",
                    atol=1e-5,
                    hints={
                        "merge() must add the change into the base layer's weight, "
                        "base.weight += (alpha / r) * B @ A.": same_as(W0),
                        "the change is scaled by alpha / r: (alpha / r) * B @ A.": same_as(
                            W0 + B @ A, atol=1e-5
                        ),
                    },
                )
                c.close(
                    layer(x),
                    expected,
                    f"{what}: after merge(), the output",
                    atol=1e-5,
                    hints={
                        "after merge() the change is in base.weight: forward must not add "
                        "the low-rank path a second time.": same_as(
                            expected + (x @ A.T @ B.T) * (alpha / r), atol=1e-5
                        ),
                    },
                )
