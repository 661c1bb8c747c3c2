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
# # Exercises: multi-head attention
#
# Each exercise asks for a function and then checks it: the last line of its cell calls
# a check from `gptcourse.checks`, which runs your function on several inputs and says
# what is wrong, if anything. The shapes use the chapter's letters: `B` sequences of `T`
# tokens of width `C`, split into `H` heads of width `D = C // H`.

# %%
import math

import torch

from gptcourse.attention import causal_mask
from gptcourse.checks import ch05 as check

# %% [markdown]
# ```{exercise} Split the heads
# :label: ex-05-split-heads
#
# Write `split_heads(x, n_head)`, which turns a `(B, T, C)` tensor into the
# `(B, H, T, D)` tensor of its heads: head `h` gets the channels `h*D` to `h*D + D - 1`
# of every position.
# ```

# %% [markdown]
# ```{solution-start} ex-05-split-heads
# :class: dropdown
# ```

# %% [markdown]
# Viewing the last dimension as `(H, D)` puts the consecutive channels of each head
# together; the transpose then brings the head dimension before the time dimension, so
# that each head is a `(T, D)` sequence of its own. A direct `x.view(B, H, T, D)` would
# have the right shape and the wrong numbers.


# %%
def split_heads(x: torch.Tensor, n_head: int) -> torch.Tensor:
    """(B, T, C) -> (B, H, T, C // H)."""
    # BEGIN SOLUTION
    B, T, C = x.shape
    return x.view(B, T, n_head, C // n_head).transpose(1, 2)
    # END SOLUTION


check.split_heads(split_heads)

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Merge the heads
# :label: ex-05-merge-heads
#
# Write `merge_heads(x)`, the inverse of `split_heads`: from `(B, H, T, D)` to
# `(B, T, H * D)`, the heads' outputs side by side at each position.
# ```

# %% [markdown]
# ```{solution-start} ex-05-merge-heads
# :class: dropdown
# ```

# %% [markdown]
# Undo the two steps in reverse order: transpose back to `(B, T, H, D)`, then join the
# last two dimensions. After a transpose the tensor is not contiguous, so `view` would
# fail; `reshape` copies when it must.


# %%
def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, H, T, D) -> (B, T, H * D)."""
    # BEGIN SOLUTION
    B, H, T, D = x.shape
    return x.transpose(1, 2).reshape(B, T, H * D)
    # END SOLUTION


check.merge_heads(merge_heads)

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Count the parameters
# :label: ex-05-count
#
# Write `count_attention_parameters(n_embd, n_head, bias)`: the number of parameters
# of a multi-head attention layer of width `n_embd` with `n_head` heads (input
# projections to queries, keys and values, and the output projection, with biases when
# `bias` is true). Use the formula, not a module. How does the count depend on
# `n_head`?
# ```

# %% [markdown]
# ```{solution-start} ex-05-count
# :class: dropdown
# ```

# %% [markdown]
# Each of the four projections (queries, keys, values, output) is a $C \times C$ matrix
# with $C$ biases, whatever the number of heads: the heads share out the columns of the
# first three, they do not multiply them. So the count is $4C^2 + 4C$, and does not
# depend on `n_head` at all.


# %%
def count_attention_parameters(n_embd, n_head, bias=True):
    """Parameters of multi-head attention of width n_embd."""
    # BEGIN SOLUTION
    # W_Q, W_K, W_V and W_O, each (C, C)
    weights = 4 * n_embd * n_embd
    biases = 4 * n_embd if bias else 0
    return weights + biases
    # END SOLUTION


check.count_attention_parameters(count_attention_parameters)
gpt2_layer = count_attention_parameters(768, 12)
print(f"GPT-2 small, one layer: {gpt2_layer:,} parameters")

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Causal multi-head attention from scratch
# :label: ex-05-mha
#
# Write `multi_head_attention(x, W_qkv, b_qkv, W_o, b_o, n_head)`: the causal
# multi-head self-attention of GPT-2 on `x` of shape `(B, T, C)`, with the input
# projection `W_qkv` of shape `(C, 3C)` (queries, keys and values side by side, as in
# GPT-2), its bias `b_qkv` `(3C,)`, and the output projection `W_o` `(C, C)` and bias
# `b_o` `(C,)`. Return `(B, T, C)`. You may use `causal_mask` and your `split_heads` and
# `merge_heads`, but not `torch.nn.functional.scaled_dot_product_attention`.
# ```

# %% [markdown]
# ```{solution-start} ex-05-mha
# :class: dropdown
# ```

# %% [markdown]
# Project, split, attend with the scores of each head scaled by $1/\sqrt{D}$ (the width
# of that head's queries, not of the model), mask the future, merge, project. Every
# step works on all the heads at once.


# %%
def multi_head_attention(x, W_qkv, b_qkv, W_o, b_o, n_head):
    """Causal multi-head self-attention: (B, T, C) -> (B, T, C).

    W_qkv (C, 3C), b_qkv (3C,), W_o (C, C), b_o (C,).
    """
    # BEGIN SOLUTION
    B, T, C = x.shape
    D = C // n_head
    q, k, v = (x @ W_qkv + b_qkv).split(C, dim=-1)  # 3 x (B, T, C)
    # each (B, H, T, D)
    q, k, v = (split_heads(t, n_head) for t in (q, k, v))
    scores = q @ k.transpose(-2, -1) / math.sqrt(D)  # (B, H, T, T)
    scores = scores.masked_fill(~causal_mask(T), float("-inf"))
    out = torch.softmax(scores, dim=-1) @ v  # (B, H, T, D)
    return merge_heads(out) @ W_o + b_o  # (B, T, C)
    # END SOLUTION


check.multi_head_attention(multi_head_attention)

# %% [markdown]
# ```{solution-end}
# ```
