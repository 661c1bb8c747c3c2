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
# # Exercises: fine-tuning
#
# Each coding exercise asks for a function or a class and then checks it: the last line
# of its cell calls a check from `gptcourse.checks`, which runs your code on several
# inputs and says what is wrong, if anything. They go from a warm-up to a stretch.

# %%
import math

import torch
from torch import nn

from gptcourse.checks import ch10 as check
from gptcourse.model import GPTConfig
from gptcourse.sms_spam import pad_batch

# %% [markdown]
# ```{exercise} The last real token (warm-up)
# :label: ex-10-last-token
#
# A padded batch comes with an attention mask of shape `(B, T)`: 1 for a real token, 0
# for padding, with the padding on the right of every row or on the left of every row.
# Write `last_token_position(attention_mask)`, which returns the position of the last
# real token of each row as a tensor of shape `(B,)`, whichever side the padding is on.
# The cell then pads two messages both ways and reads the token there.
# ```

# %% [markdown]
# ```{solution-start} ex-10-last-token
# :class: dropdown
# ```

# %% [markdown]
# The last real token is the last 1 of the row. Flip the row, find the first 1 with
# `argmax` (which returns the first of equal maxima), and count back from $T - 1$. The
# number of real tokens minus one is right for right padding only.


# %%
def last_token_position(attention_mask: torch.Tensor) -> torch.Tensor:
    """The position of the last real token of each row: (B, T) -> (B,)."""
    # BEGIN SOLUTION
    T = attention_mask.shape[-1]
    return T - 1 - attention_mask.long().flip(-1).argmax(-1)
    # END SOLUTION


check.last_token_position(last_token_position)
items = [([104, 105, 33], 0), ([111, 107], 0)]  # "hi!" and "ok" as byte values
for side in ("right", "left"):
    batch = pad_batch(items, pad_id=0, side=side)
    where = last_token_position(batch.attention_mask)
    last = batch.input_ids[torch.arange(2), where]
    print(
        f"{side:5} padding: positions {where.tolist()}, tokens {bytes(last.tolist())}"
    )

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} What LoRA trains (medium)
# :label: ex-10-lora-count
#
# `gptcourse.lora.apply_lora(model, targets, r=r)` puts an adapter of rank `r` beside
# every linear layer whose name ends with one of `targets`. In each block of the GPT the
# linear layers are `attn.qkv_proj` (from `n_embd` to `3 * n_embd`: queries, keys and
# values at once), `attn.out_proj` (`n_embd` to `n_embd`), `mlp.c_fc` (`n_embd` to
# `4 * n_embd`) and `mlp.c_proj` (`4 * n_embd` to `n_embd`). Write
# `lora_trainable(config, r, targets)`, the number of parameters the adapters add to
# `GPT(config)`, without building the model. The cell then compares LoRA's share of
# GPT-2 small with full fine-tuning.
# ```

# %% [markdown]
# ```{solution-start} ex-10-lora-count
# :class: dropdown
# ```

# %% [markdown]
# An adapter of a layer from $d_\text{in}$ to $d_\text{out}$ holds $A$, $r \times
# d_\text{in}$, and $B$, $d_\text{out} \times r$: $r(d_\text{in} + d_\text{out})$
# numbers, in every one of the $L$ blocks.


# %%
def lora_trainable(config: GPTConfig, r: int, targets: tuple[str, ...]) -> int:
    """Parameters of LoRA adapters of rank r on the named layers of GPT(config)."""
    # BEGIN SOLUTION
    C = config.n_embd
    sizes = {
        "attn.qkv_proj": (C, 3 * C),
        "attn.out_proj": (C, C),
        "mlp.c_fc": (C, 4 * C),
        "mlp.c_proj": (4 * C, C),
    }
    per_block = sum(r * (sizes[t][0] + sizes[t][1]) for t in targets)
    return config.n_layer * per_block
    # END SOLUTION


check.lora_trainable(lora_trainable)
gpt2 = GPTConfig.from_preset("gpt2")
for r in (4, 8, 64):
    n = lora_trainable(gpt2, r, ("attn.qkv_proj", "attn.out_proj"))
    print(f"r = {r:2}: {n:9,} parameters, {n / 124_439_808:.3%} of GPT-2 small")

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} A LoRA layer of your own (stretch)
# :label: ex-10-lora-layer
#
# Write a class `MyLoRALinear(base, r, alpha)`, an `nn.Module` that wraps the
# `nn.Linear` `base` and freezes it, and adds two parameters, `lora_A` of shape
# `(r, in_features)` (initialised at random) and `lora_B` of shape `(out_features, r)`
# (initialised to zeros). Its `forward(x)` returns
# $\text{base}(x) + \frac{\alpha}{r}\, x A^\top B^\top$, and its `merge()` adds
# $\frac{\alpha}{r} BA$ into `base.weight`, after which `forward` returns `base(x)`
# alone. The check compares it with `gptcourse.lora.LoRALinear`; the cell then checks
# that a merged layer is one plain linear layer.
# ```

# %% [markdown]
# ```{solution-start} ex-10-lora-layer
# :class: dropdown
# ```

# %% [markdown]
# Keep a flag for "merged": before merging, add the low-rank path; after, the base
# layer already holds it. Merging changes the weights without gradients
# (`torch.no_grad()`), since it is not part of training.


# %%
class MyLoRALinear(nn.Module):
    """base(x) + (alpha / r) x A^T B^T, with the base layer frozen."""

    def __init__(self, base: nn.Linear, r: int, alpha: float):
        super().__init__()
        # BEGIN SOLUTION
        self.base = base.requires_grad_(False)
        self.scaling = alpha / r
        self.lora_A = nn.Parameter(torch.randn(r, base.in_features) / math.sqrt(r))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))
        self.merged = False
        # END SOLUTION

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # BEGIN SOLUTION
        y = self.base(x)
        if self.merged:
            return y
        return y + (x @ self.lora_A.T @ self.lora_B.T) * self.scaling
        # END SOLUTION

    @torch.no_grad()
    def merge(self) -> None:
        # BEGIN SOLUTION
        if not self.merged:
            self.base.weight += self.scaling * self.lora_B @ self.lora_A
            self.merged = True
        # END SOLUTION


check.lora_linear(MyLoRALinear)
torch.manual_seed(0)
layer = MyLoRALinear(nn.Linear(64, 64), r=4, alpha=8)
with torch.no_grad():
    layer.lora_B.normal_()
    x = torch.randn(3, 64)
    before = layer(x)
    layer.merge()
    plain = nn.functional.linear(x, layer.base.weight, layer.base.bias)
largest = (plain - before).abs().max().item()
assert largest < 1e-4
print("merged: one linear layer, the same outputs (largest difference below 1e-4)")

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Which method, when? (written)
# :label: ex-10-which-method
#
# For each situation, say whether you would train the head alone, every weight, or LoRA
# adapters, and why: (a) 200 labelled examples and a 7-billion-parameter model; (b) one
# base model serving fifty customers, each with their own fine-tuned task; (c) 100,000
# labelled examples, a model of 124 million parameters and a GPU for a day.
# ```

# %% [markdown]
# ```{solution} ex-10-which-method
# :class: dropdown
#
# (a)  The head alone or LoRA of low rank: with 200 examples, training billions of
#     weights
# overfits and full fine-tuning's memory (16 bytes a parameter, chapter 9) needs several
# GPUs; a frozen backbone with a head, or a few adapters, learns what the examples can
# support. (b) LoRA: the base weights are stored once and each customer adds a few
# megabytes of adapters, swapped per request (or merged into a copy when one task
# dominates). (c) Full fine-tuning, as GPT-1 did, possibly with the auxiliary LM loss:
# there are enough examples to move every weight usefully, the model is small enough to
# train whole on one GPU, and it usually gives the best accuracy.
# ```
