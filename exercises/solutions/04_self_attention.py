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
# # Exercises: self-attention
#
# Each exercise asks for a function and then checks it: the last line of its cell calls
# a check from `gptcourse.checks`, which runs your function on several inputs and says
# what is wrong, if anything. They go from a warm-up (a mask for padded batches) to a
# stretch (a test that catches a model reading the future).

# %%
import math

import torch
from torch import nn

from gptcourse.attention_lm import OneHeadLM
from gptcourse.checks import ch04 as check

# %% [markdown]
# ```{exercise} A causal mask for a padded batch (warm-up)
# :label: ex-04-attention-mask
#
# A batch holds `B` sequences padded to length `T`; sequence `b` has `lengths[b]` real
# tokens, then padding. Write `attention_mask(lengths, T)`, which returns the
# `(B, T, T)` boolean mask of a language model over this batch, in the convention of
# {py:func}`torch.nn.functional.scaled_dot_product_attention`: `True` where query `i`
# of sequence `b` may attend to key `j`, that is where `j <= i` *and* key `j` is a
# real token.
# ```

# %% [markdown]
# ```{solution-start} ex-04-attention-mask
# :class: dropdown
# ```

# %% [markdown]
# Two masks, combined by "and": the causal one, `(T, T)`, and the padding one, which
# depends on the key only, `(B, 1, T)`, so that it broadcasts over the queries.
# (`torch.tril(ones, 1)` would let each query see one token ahead, and True meaning
# "masked out" is {py:class}`torch.nn.MultiheadAttention`'s convention, not this
# one.)


# %%
def attention_mask(lengths: torch.Tensor, T: int) -> torch.Tensor:
    """(B, T, T) bool: True where query i may attend to key j (j <= i, j real)."""
    # BEGIN SOLUTION
    causal = torch.ones(T, T, dtype=torch.bool).tril()  # (T, T)
    real_keys = torch.arange(T) < lengths[:, None]  # (B, T)
    return causal & real_keys[:, None, :]  # (B, T, T)
    # END SOLUTION


check.attention_mask(attention_mask)
print(attention_mask(torch.tensor([2, 4]), 4).int())

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Cross-attention (core)
# :label: ex-04-cross-attention
#
# In cross-attention, the queries come from one sequence and the keys and values from
# another. Write `cross_attention(x, memory, W_Q, W_K, W_V)`: `x` is `(T_x, d)`, the
# sequence that asks; `memory` is `(T_m, d)`, the sequence that is read (of another
# length); `W_Q` and `W_K` are `(d, d_k)`, `W_V` is `(d, d_v)`. Return the
# `(T_x, d_v)` outputs of scaled dot-product attention, without a mask.
# ```

# %% [markdown]
# ```{solution-start} ex-04-cross-attention
# :class: dropdown
# ```

# %% [markdown]
# The only change from self-attention is where the keys and values come from. The
# scores are `(T_x, T_m)`: one row per query, one column per key of the memory, so the
# softmax runs along the last dimension; the scale is $1/\sqrt{d_k}$, the width of the
# vectors whose dot products the scores are, whatever $d_v$ is.


# %%
def cross_attention(x, memory, W_Q, W_K, W_V):
    """x (T_x, d), memory (T_m, d) -> (T_x, d_v): x's queries over memory."""
    # BEGIN SOLUTION
    q, k, v = (
        x @ W_Q,
        memory @ W_K,
        memory @ W_V,
    )  # (T_x, d_k), (T_m, d_k), (T_m, d_v)
    scores = q @ k.T / math.sqrt(q.shape[-1])  # (T_x, T_m)
    return torch.softmax(scores, dim=-1) @ v
    # END SOLUTION


check.cross_attention(cross_attention)

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} The right scale for any variance (core)
# :label: ex-04-score-scale
#
# The chapter's argument for $1/\sqrt{d_k}$ assumed queries and keys with entries of
# variance 1; with PyTorch's default initialisation they are closer to 1/3. Suppose
# the entries of $q$ and $k$ are independent, of mean 0 and variances
# $\sigma_q^2$ and $\sigma_k^2$. Derive the factor $c$ for which $c\,(q \cdot k)$ has
# variance 1, and write `score_scale(d_k, var_q, var_k)` that returns it. The cell then
# checks it on queries and keys made by {py:class}`torch.nn.Linear` layers.
# ```

# %% [markdown]
# ```{solution-start} ex-04-score-scale
# :class: dropdown
# ```

# %% [markdown]
# One term $q_m k_m$ has mean 0 and variance
# $\mathbb{E}[q_m^2]\,\mathbb{E}[k_m^2] = \sigma_q^2 \sigma_k^2$ (independent, mean
# 0); the $d_k$ terms are independent, so
# $\operatorname{Var}(q \cdot k) = d_k \sigma_q^2 \sigma_k^2$, and a factor $c$
# multiplies a variance by $c^2$:
# $c = 1/\sqrt{d_k \sigma_q^2 \sigma_k^2}$. With unit variances it is the usual
# $1/\sqrt{d_k}$. Real models keep $1/\sqrt{d_k}$ and let training choose the scale
# of $W_Q$ and $W_K$: what matters is that the spread does not grow with $d_k$.


# %%
def score_scale(d_k: int, var_q: float, var_k: float) -> float:
    """The factor c that gives c * (q . k) variance 1."""
    # BEGIN SOLUTION
    return 1 / math.sqrt(d_k * var_q * var_k)
    # END SOLUTION


check.score_scale(score_scale)
torch.manual_seed(0)
x = torch.randn(50_000, 64)
q, k = nn.Linear(64, 64, bias=False)(x), nn.Linear(64, 64, bias=False)(x.roll(1, 0))
c = score_scale(64, q.var().item(), k.var().item())
scores = (q * k).sum(dim=-1).detach()
print(f"Var(q.k / sqrt(d_k)) = {(scores / 8).var().item():.2f}")
print(f"Var(c q.k)           = {(c * scores).var().item():.2f}")

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Catch a model reading the future (stretch)
# :label: ex-04-future-leak
#
# A language model must not look ahead, and a bug that lets it do so raises no error.
# Write a test for it: `future_leak(model, idx, changed, t)` gets a model
# (`logits, loss = model(idx)`), two batches of token ids `(B, T)` that agree on
# positions `0 .. t` and differ after, and returns, as a float, the largest absolute
# difference between the model's logits on the two batches at positions `0 .. t`. For
# a causal model it must be 0. The cell then runs it on two
# `gptcourse.attention_lm.OneHeadLM`s, with and without the causal mask. Without the
# mask, such a model reaches a training loss far below any honest model's: why, and
# what happens when it generates text?
# ```

# %% [markdown]
# ```{solution-start} ex-04-future-leak
# :class: dropdown
# ```

# %% [markdown]
# Run the model on both batches without gradients, keep positions `0 .. t`
# (`[:, : t + 1]`), and take the largest difference. Without the mask, position $t$
# attends to position $t + 1$, whose token is exactly its target, so the model learns
# to copy it and its training loss falls close to zero. When it generates, the next
# token does not exist yet: the last position has nothing to copy, the model has never
# learnt to predict, and what it writes is poor (the chapter measures that loss on the
# last position of each window).


# %%
def future_leak(model, idx: torch.Tensor, changed: torch.Tensor, t: int) -> float:
    """Largest change of the logits at positions 0..t when tokens after t change."""
    # BEGIN SOLUTION
    with torch.no_grad():
        a, _ = model(idx)
        b, _ = model(changed)
    return (a[:, : t + 1] - b[:, : t + 1]).abs().max().item()
    # END SOLUTION


check.future_leak(future_leak)
torch.manual_seed(0)
idx = torch.randint(65, (4, 32))
changed = idx.clone()
changed[:, 17:] = torch.randint(65, (4, 15))
for causal in (True, False):
    model = OneHeadLM(vocab_size=65, block_size=32, n_embd=32, causal=causal)
    leak = future_leak(model, idx, changed, t=16)
    print(f"causal={causal}: the future changes the past's logits: {leak > 0}")

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Shuffle the words (written)
# :label: ex-04-shuffle
#
# Take attention *without* a mask and without any information about positions: the
# input is just the sequence of token vectors $x_1, \dots, x_T$. What happens to the
# outputs if you shuffle the input vectors? What does that tell you about what such a
# model can know of word order, and what does the causal mask change?
# ```

# %% [markdown]
# ```{solution} ex-04-shuffle
# :class: dropdown
#
# The outputs are shuffled in the same way, and are otherwise unchanged: each output
# $z_i$ is a weighted sum over the *set* of keys and values, and its weights depend
# only on $x_i$ and the other vectors, not on where they stand. Attention alone is
# *permutation equivariant* (the course's tests check it): "dog bites man" and "man
# bites dog" give the same outputs in a different order, so the model cannot tell them
# apart. The causal mask breaks the symmetry only in part: in one layer, position $i$
# sees the first $i$ tokens as a set, without their order. A real model adds
# information about positions to its inputs, the subject of
# {doc}`chapter 6 <../../chapters/06_positional_encoding>`.
# ```
