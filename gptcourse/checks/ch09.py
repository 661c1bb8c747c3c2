"""Checks for the exercises of chapter 9: pretraining."""

from __future__ import annotations

import functools
import math

import torch

from gptcourse.checks import checking, same_as
from gptcourse.model import GPT, GPTConfig, count_parameters
from gptcourse.optim import warmup_cosine

#: The runs the schedule is checked on: (lr, min_lr, warmup_steps, max_steps).
SCHEDULES = ((1e-3, 1e-4, 10, 100), (2e-3, 2e-4, 50, 800), (6e-4, 0.0, 3, 20), (1.0, 0.1, 0, 12))


def _package_schedule(lr: float, min_lr: float, warmup: int, steps: int) -> list[float]:
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = warmup_cosine(opt, warmup_steps=warmup, max_steps=steps, min_lr_ratio=min_lr / lr)
    lrs = []
    for _ in range(steps):
        lrs.append(scheduler.get_last_lr()[0])
        opt.step()
        scheduler.step()
    return lrs


def _formula(lr, min_lr, warmup, steps, *, start=None, span=None, floor=None, half=0.5):
    """Variants of the schedule, for the hints: ``start(s)`` the warmup's fraction, ``span``
    the cosine's length, ``floor`` where it ends, ``half`` the cosine's factor."""
    floor = min_lr if floor is None else floor
    span = steps - warmup if span is None else span
    values = []
    for s in range(steps):
        if s < warmup:
            fraction = start(s) if start else 1 / warmup + (1 - 1 / warmup) * s / warmup
            values.append(lr * fraction)
        else:
            cosine = 1 + math.cos(math.pi * (s - warmup) / span)
            values.append(floor + (lr - floor) * half * cosine)
    return values


def _variant(lr, min_lr, warmup, steps, **kw):
    return same_as(_formula(lr, min_lr, warmup, steps, **kw), rtol=1e-6)


def _record_batch(sizes: list[int], module, args, kwargs) -> None:
    """A forward pre-hook: note how many windows the model is called on."""
    sizes.append(len(args[0] if args else kwargs["idx"]))


def lr_schedule(fn) -> None:
    """Exercise: the learning rate at each step of a warmup-then-cosine schedule.

    ``fn(step, *, lr, min_lr, warmup_steps, max_steps) -> float``, equal to
    :func:`gptcourse.optim.warmup_cosine` at every step.
    """
    __tracebackhide__ = True
    with checking("lr_schedule", fn) as c:
        for lr, min_lr, warmup, steps in SCHEDULES:
            what = (
                f"lr_schedule(step, lr={lr}, min_lr={min_lr}, warmup_steps={warmup}, "
                f"max_steps={steps}) for step = 0 .. {steps - 1}"
            )
            got = [
                c.call(s, lr=lr, min_lr=min_lr, warmup_steps=warmup, max_steps=steps)
                for s in range(steps)
            ]
            expected = _package_schedule(lr, min_lr, warmup, steps)

            variant = functools.partial(_variant, lr, min_lr, warmup, steps)

            hints = {
                "the cosine must run from the end of the warmup to max_steps: its progress "
                "is (step - warmup_steps) / (max_steps - warmup_steps), not "
                "(step - warmup_steps) / max_steps.": variant(span=steps),
                "the cosine ends at min_lr, not at 0: lr at step s is min_lr + (lr - min_lr) "
                "* (1 + cos(pi * progress)) / 2.": variant(floor=0.0),
                "half a cosine: the factor is (1 + cos(pi * progress)) / 2, which goes from 1 "
                "to 0; without the 1/2 the peak is twice lr.": variant(half=1.0),
            }
            if warmup > 1:
                hints.update(
                    {
                        "the warmup starts at lr / warmup_steps at step 0, not at 0, and "
                        "rises in a straight line to lr at step warmup_steps.": variant(
                            start=lambda s, w=warmup: s / w
                        ),
                        "the warmup reaches lr at step warmup_steps, not one step earlier: "
                        "at step s < warmup_steps it is lr * (1/W + (1 - 1/W) * s / W).": (
                            variant(start=lambda s, w=warmup: (s + 1) / w)
                        ),
                    }
                )
            c.close(got, expected, what, rtol=1e-6, atol=1e-12, hints=hints)


def _tiny_gpt(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    config = GPTConfig(vocab_size=20, block_size=8, n_layer=2, n_head=2, n_embd=16)
    return GPT(config)


def accumulated_gradients(fn) -> None:
    """Exercise: gradient accumulation.

    ``fn(model, x, y, micro_batches) -> list of tensors``: the gradient of the mean loss
    over the whole batch ``(x, y)``, one tensor per parameter in ``model.parameters()``
    order, computed ``micro_batches`` windows-groups at a time.
    """
    __tracebackhide__ = True
    with checking("accumulated_gradients", fn) as c:
        for B, k in ((8, 2), (12, 3), (6, 1), (8, 4)):
            model = _tiny_gpt(seed=B + k)
            generator = torch.Generator().manual_seed(k)
            x = torch.randint(20, (B, 8), generator=generator)
            y = torch.randint(20, (B, 8), generator=generator)
            model.zero_grad()
            model(x, y)[1].backward()
            expected = torch.cat([p.grad.flatten() for p in model.parameters()])
            last_alone = model(x[-B // k :], y[-B // k :])[1]
            model.zero_grad()
            last_alone.backward()
            last = torch.cat([p.grad.flatten() for p in model.parameters()])
            for p in model.parameters():  # an earlier step's gradients, left behind
                p.grad = torch.ones_like(p)
            sizes: list[int] = []
            hook = model.register_forward_pre_hook(
                functools.partial(_record_batch, sizes),
                with_kwargs=True,
            )
            try:
                got = c.call(model, x, y, k)
            finally:
                hook.remove()
            what = f"accumulated_gradients(model, x, y, {k}) with B = {B}"
            c.that(
                isinstance(got, (list, tuple)) and all(isinstance(g, torch.Tensor) for g in got),
                f"{what}: expected a list of tensors, one per parameter, got {type(got).__name__}",
            )
            n_params = len(list(model.parameters()))
            c.that(
                len(got) == n_params,
                f"{what}: expected {n_params} gradients (one per tensor of "
                f"model.parameters()), got {len(got)}",
            )
            c.that(
                bool(sizes) and max(sizes) <= B // k,
                f"{what}: the model was called on {max(sizes, default=0)} windows at once; "
                f"accumulation runs micro-batches of B / k = {B // k} windows (x.chunk(k)).",
            )
            flat = torch.cat([g.detach().flatten() for g in got])
            hints = {
                "the gradients left in .grad by an earlier step were added in: zero them "
                "(model.zero_grad()) before the first micro-batch.": same_as(
                    expected + 1, rtol=1e-4, atol=1e-6
                ),
                "each micro-batch's loss must be divided by the number of micro-batches "
                "(the loss is a mean): these gradients are k times too large.": same_as(
                    expected * k, rtol=1e-4, atol=1e-6
                ),
                "only the last micro-batch's gradient is left: zero the gradients once, "
                "before the loop, not in it (.grad adds up across backward passes).": same_as(
                    last / k, rtol=1e-4, atol=1e-6
                ),
            }
            if k > 1:
                hints[
                    "only the last micro-batch's gradient is left, and it was not divided "
                    "by k: zero the gradients once, before the loop."
                ] = same_as(last, rtol=1e-4, atol=1e-6)
            c.close(flat, expected, what, rtol=1e-4, atol=1e-6, hints=hints)


#: Configurations the memory is checked on: (preset, overrides, shards).
MEMORY_CASES = (
    ("gpt-nano", dict(vocab_size=65, block_size=64), 1),
    ("gpt2", {}, 1),
    ("gpt2", {}, 8),
    ("gpt-mini", dict(vocab_size=65, block_size=256, bias=False), 4),
    ("gpt2-xl", {}, 64),
)


def _either(*tests):
    """A hint's test that recognises what any of ``tests`` recognises."""
    return lambda got: any(test(got) for test in tests)


def adamw_training_bytes(fn) -> None:
    """Exercise: the bytes of float32 weights, gradients and AdamW's two moments.

    ``fn(config: GPTConfig, shards: int = 1) -> float``: ``16 * N / shards`` for a model
    of ``N`` parameters (the tied embedding counted once).
    """
    __tracebackhide__ = True
    with checking("adamw_training_bytes", fn) as c:
        for preset, overrides, shards in MEMORY_CASES:
            config = GPTConfig.from_preset(preset, **overrides)
            n = count_parameters(config)
            VC = config.vocab_size * config.n_embd
            what = f"adamw_training_bytes(GPTConfig.from_preset({preset!r}, ...), {shards})"
            got = c.call(config, shards)
            hints = {
                "the tied embedding is one matrix: the output layer uses the token "
                "embedding's weight, so count vocab_size * n_embd once.": same_as(
                    16 * (n + VC) / shards
                ),
                "four float32 numbers (4 bytes each) per parameter: the weight, its "
                "gradient and AdamW's two moments; this counts three.": same_as(12 * n / shards),
                "four float32 numbers per parameter: the weight, its gradient and AdamW's "
                "two moments m and v; this counts two.": same_as(8 * n / shards),
                "the position table (block_size x n_embd) has parameters too.": same_as(
                    16 * (n - config.block_size * config.n_embd) / shards
                ),
                "the answer is in bytes: 16 per parameter, not GiB or GB.": _either(
                    same_as(16 * n / shards / 2**30), same_as(16 * n / shards / 1e9)
                ),
            }
            if shards > 1:
                hints[
                    "sharding splits the weights, gradients and moments over the shards: "
                    "divide by shards."
                ] = same_as(16 * n)
            c.close(got, 16 * n / shards, what, rtol=1e-9, hints=hints)
