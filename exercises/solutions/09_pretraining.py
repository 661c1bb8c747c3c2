# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Exercises: pretraining
#
# Each coding exercise asks for a function and then checks it: the last line of its cell
# calls a check from `gptcourse.checks`, which runs your function on several inputs and
# says what is wrong, if anything. They go from a warm-up to a stretch.

# %%
import math

import torch

from gptcourse.checks import ch09 as check
from gptcourse.model import GPT, GPTConfig

# %% [markdown]
# ```{exercise} The learning-rate schedule (warm-up)
# :label: ex-09-lr-schedule
#
# Write `lr_schedule(step, *, lr, min_lr, warmup_steps, max_steps)`, the learning rate
# of step `step` (counting from 0) of the course's schedule: during the warmup
# (`step < warmup_steps`) it rises in a straight line from `lr / warmup_steps` at step 0
# to `lr` at step `warmup_steps`; from there it follows half a cosine down from `lr`, to
# reach `min_lr` at step `max_steps`. The check compares it with
# `gptcourse.optim.warmup_cosine` at every step of four runs; the cell then prints where
# this chapter's run is at a few steps.
# ```

# %% [markdown]
# ```{solution-start} ex-09-lr-schedule
# :class: dropdown
# ```

# %% [markdown]
# The warmup's line goes through $(0, \eta/W)$ and $(W, \eta)$: its slope is
# $(\eta - \eta/W)/W$. After it, the progress $p = (s - W)/(S - W)$ runs from 0 to 1 and
# $\frac{1}{2}(1 + \cos \pi p)$ from 1 to 0.


# %%
def lr_schedule(
    step: int, *, lr: float, min_lr: float, warmup_steps: int, max_steps: int
) -> float:
    """The learning rate of ``step``: linear warmup, then cosine decay to ``min_lr``."""
    # BEGIN SOLUTION
    if step < warmup_steps:
        return lr * (1 / warmup_steps + (1 - 1 / warmup_steps) * step / warmup_steps)
    progress = (step - warmup_steps) / (max_steps - warmup_steps)
    return min_lr + (lr - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))
    # END SOLUTION


check.lr_schedule(lr_schedule)
run = dict(lr=2e-3, min_lr=2e-4, warmup_steps=50, max_steps=800)
for step in (0, 25, 50, 425, 799):
    print(f"step {step:3}: learning rate {lr_schedule(step, **run):.6f}")

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Gradient accumulation (medium)
# :label: ex-09-accumulation
#
# Write `accumulated_gradients(model, x, y, micro_batches)`, which returns the gradient
# of the model's mean loss over the whole batch `x, y` (shape `(B, T)` each), one tensor
# per parameter in the order of `model.parameters()`, while never running the model on
# more than `B / micro_batches` windows at once. The model may hold gradients from an
# earlier step. The cell then compares your gradients with those of the whole batch on a
# small GPT.
# ```

# %% [markdown]
# ```{solution-start} ex-09-accumulation
# :class: dropdown
# ```

# %% [markdown]
# Clear the old gradients once, then let `backward` add up the micro-batches' gradients
# in `.grad`; each micro-batch's loss is a mean over its own windows, so divide it by
# the number of micro-batches to make the sum a mean over all $B$.


# %%
def accumulated_gradients(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, micro_batches: int
) -> list[torch.Tensor]:
    """The gradient of the mean loss on (x, y), (B, T) each, in micro-batches."""
    # BEGIN SOLUTION
    model.zero_grad()
    for xs, ys in zip(x.chunk(micro_batches), y.chunk(micro_batches), strict=True):
        _, loss = model(xs, ys)
        (loss / micro_batches).backward()
    return [p.grad.clone() for p in model.parameters()]
    # END SOLUTION


check.accumulated_gradients(accumulated_gradients)

torch.manual_seed(0)
gpt = GPT(GPTConfig(vocab_size=65, block_size=32, n_layer=2, n_head=2, n_embd=32))
x = torch.randint(65, (16, 32))
y = torch.randint(65, (16, 32))
gpt.zero_grad()
gpt(x, y)[1].backward()
whole = [p.grad.clone() for p in gpt.parameters()]
for k in (2, 4, 8):
    mine = accumulated_gradients(gpt, x, y, k)
    largest = max(
        (a - b).abs().max().item() for a, b in zip(whole, mine, strict=True)
    )
    assert largest < 1e-6
    print(f"{k} micro-batches of {16 // k}: largest difference below 1e-6")

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} The memory of AdamW training (medium)
# :label: ex-09-memory
#
# Training in float32 with AdamW keeps four numbers of 4 bytes for every parameter: the
# weight, its gradient and AdamW's two moments. Write
# `adamw_training_bytes(config, shards=1)`, the bytes they take for `GPT(config)` when
# they are spread evenly over `shards` GPUs (as FSDP does), without building the model.
# Count the parameters from the configuration (the chapters before this one describe
# every tensor of the GPT; remember weight tying). The cell then says which GPT-2 sizes
# fit on one 80 GB GPU.
# ```

# %% [markdown]
# ```{solution-start} ex-09-memory
# :class: dropdown
# ```

# %% [markdown]
# Per block: the attention's $W_{QKV}$ ($C \times 3C$) and output projection ($C \times
# C$), the MLP's two layers ($C \times 4C$ and $4C \times C$), so $12C^2$ weights, plus
# biases $3C + C + 4C + C$ and two layer norms $2 \times 2C$ when the model has biases
# (only the norms' gains, $2C$, without). Then the final layer norm, the token embedding
# $VC$ (the output layer shares it) and the position table $T_{\max} C$. Then 16 bytes
# each, over the shards.


# %%
def adamw_training_bytes(config: GPTConfig, shards: int = 1) -> float:
    """Bytes of float32 weights, gradients and AdamW moments, per shard."""
    # BEGIN SOLUTION
    C, L = config.n_embd, config.n_layer
    per_block = 12 * C * C + (13 * C if config.bias else 2 * C)
    final_norm = 2 * C if config.bias else C
    n = L * per_block + final_norm + config.vocab_size * C + config.block_size * C
    return 16 * n / shards
    # END SOLUTION


check.adamw_training_bytes(adamw_training_bytes)
for preset in ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl"):
    gb = adamw_training_bytes(GPTConfig.from_preset(preset)) / 1e9
    print(
        f"{preset:12} {gb:5.1f} GB of training state: "
        f"{'fits' if gb < 80 else 'does not fit'} in 80 GB before activations"
    )

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} What the first step says (stretch, written)
# :label: ex-09-first-loss
#
# The chapter's untrained model scores $\ln 65 \approx 4.17$ nats at its first step.
# (a) What first-step loss would you expect for a GPT-2-sized model with GPT-2's
# vocabulary? (b) A run starts at 11.5 with that vocabulary: name a likely cause.
# (c) Another starts at 0.3 with a character vocabulary and falls to 0.01 within a
# hundred steps, while its samples are gibberish: what went wrong?
# ```

# %% [markdown]
# ```{solution} ex-09-first-loss
# :class: dropdown
#
# (a) $\ln 50257 \approx 10.8$ nats: small initial weights give nearly equal logits.
# (b) A loss above $\ln V$ means the model is confidently wrong from the start: logits
# too large, for example weights initialised with standard deviation 1 instead of 0.02,
# a missing scale factor (no $1/\sqrt{d_k}$ in attention), or targets not aligned with
# the inputs' vocabulary. (c) A loss far below $\ln V$ before any training means the
# model can see what it predicts: the targets leak into the inputs, for instance a
# missing causal mask, or `y` equal to `x` instead of `x` moved on by one token. The
# model learns to copy, the loss collapses, and generation, which has no future to copy
# from, produces gibberish.
# ```
