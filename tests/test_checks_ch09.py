"""The checks of chapter 9's exercises: right answers pass, each named mistake gets its hint."""

from __future__ import annotations

import math

import pytest
import torch

from gptcourse.checks import CheckFailed, ch09
from gptcourse.model import count_parameters

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def _stub(*args, **kwargs):
    raise NotImplementedError("Exercise 9-1: replace this line with your code.")


# --- lr_schedule ---------------------------------------------------------------------------


def _schedule(step, *, lr, min_lr, warmup_steps, max_steps, mistake=None):
    W, S = warmup_steps, max_steps
    if step < W:
        if mistake == "from zero":
            return lr * step / W
        if mistake == "one early":
            return lr * (step + 1) / W
        return lr * (1 / W + (1 - 1 / W) * step / W)
    span = S if mistake == "span" else S - W
    floor = 0.0 if mistake == "floor" else min_lr
    half = 1.0 if mistake == "half" else 0.5
    return floor + (lr - floor) * half * (1 + math.cos(math.pi * (step - W) / span))


def test_lr_schedule_right_answer_passes(capsys):
    ch09.lr_schedule(_schedule)
    assert "lr_schedule: all 4 checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("mistake", "message"),
    [
        ("from zero", "starts at lr / warmup_steps at step 0"),
        ("one early", "reaches lr at step warmup_steps, not one step earlier"),
        ("span", r"not \(step - warmup_steps\) / max_steps"),
        ("floor", "ends at min_lr, not at 0"),
        ("half", "half a cosine"),
    ],
)
def test_lr_schedule_mistakes_get_their_hints(mistake, message):
    def wrong(step, **kw):
        return _schedule(step, mistake=mistake, **kw)

    with pytest.raises(CheckFailed, match=message):
        ch09.lr_schedule(wrong)


def test_lr_schedule_stub_is_not_implemented():
    with pytest.raises(CheckFailed, match="not implemented yet"):
        ch09.lr_schedule(_stub)


# --- accumulated_gradients -----------------------------------------------------------------


def _accumulate(model, x, y, k, mistake=None):
    if mistake != "no zero":
        model.zero_grad()
    if mistake == "whole":
        model(x, y)[1].backward()
        return [p.grad.clone() for p in model.parameters()]
    for xs, ys in zip(x.chunk(k), y.chunk(k), strict=True):
        if mistake in ("zero inside", "zero inside, no division"):
            model.zero_grad()
        _, loss = model(idx=xs, targets=ys)  # keywords work too
        divide = mistake not in ("no division", "zero inside, no division")
        (loss / k if divide else loss).backward()
    return [p.grad.clone() for p in model.parameters()]


def test_accumulated_gradients_right_answer_passes(capsys):
    ch09.accumulated_gradients(_accumulate)
    assert "accumulated_gradients: all 16 checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("mistake", "message"),
    [
        ("no zero", "zero them"),
        ("no division", "k times too large"),
        ("zero inside", "zero the gradients once, before the loop, not in it"),
        ("zero inside, no division", "and it was not divided by k"),
        ("whole", "called on 8 windows at once"),
    ],
)
def test_accumulated_gradients_mistakes_get_their_hints(mistake, message):
    with pytest.raises(CheckFailed, match=message):
        ch09.accumulated_gradients(lambda *a: _accumulate(*a, mistake=mistake))


def test_accumulated_gradients_wrong_shapes_are_named():
    with pytest.raises(CheckFailed, match="expected a list of tensors"):
        ch09.accumulated_gradients(lambda m, x, y, k: torch.zeros(3))
    with pytest.raises(CheckFailed, match="one per tensor of model.parameters"):
        ch09.accumulated_gradients(lambda *a: _accumulate(*a)[:-1])


def test_accumulated_gradients_stub_is_not_implemented():
    with pytest.raises(CheckFailed, match="not implemented yet"):
        ch09.accumulated_gradients(_stub)


# --- adamw_training_bytes ------------------------------------------------------------------


def test_adamw_training_bytes_right_answers_pass(capsys):
    ch09.adamw_training_bytes(lambda config, shards=1: 16 * count_parameters(config) / shards)
    ch09.adamw_training_bytes(lambda config, shards=1: 16 * count_parameters(config) // shards)
    assert capsys.readouterr().out.count("adamw_training_bytes: all 5 checks passed") == 2


def _n(config, untied=False, no_positions=False):
    n = count_parameters(config)
    if untied:
        n += config.vocab_size * config.n_embd
    if no_positions:
        n -= config.block_size * config.n_embd
    return n


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda c, s=1: 16 * _n(c, untied=True) / s, "count vocab_size \\* n_embd once"),
        (lambda c, s=1: 12 * _n(c) / s, "this counts three"),
        (lambda c, s=1: 8 * _n(c) / s, "this counts two"),
        (lambda c, s=1: 16 * _n(c, no_positions=True) / s, "position table"),
        (lambda c, s=1: 16 * _n(c) / s / 2**30, "in bytes"),
        (lambda c, s=1: 16 * _n(c) / s / 1e9, "in bytes"),
    ],
)
def test_adamw_training_bytes_mistakes_get_their_hints(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        ch09.adamw_training_bytes(wrong)


def test_adamw_training_bytes_unsharded_gets_its_hint():
    def not_sharded(config, shards=1):
        return 16 * count_parameters(config)

    with pytest.raises(CheckFailed, match="divide by shards"):
        ch09.adamw_training_bytes(not_sharded)


def test_adamw_training_bytes_stub_is_not_implemented():
    with pytest.raises(CheckFailed, match="not implemented yet"):
        ch09.adamw_training_bytes(_stub)
