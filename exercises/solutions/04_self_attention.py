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
# what is wrong, if anything.

# %%
import math

import torch

from gptcourse.checks import ch04 as check

# %% [markdown]
# ```{exercise} The causal mask
# :label: ex-04-causal-mask
#
# Write `causal_mask(T)`, which returns the `(T, T)` boolean tensor of a language
# model's attention: `True` where query `i` may attend to key `j`, that is where
# `j <= i`.
# ```

# %% [markdown]
# ```{solution-start} ex-04-causal-mask
# :class: dropdown
# ```

# %% [markdown]
# The allowed pairs are the lower triangle of the matrix, diagonal included:
# `torch.tril` keeps it. An equivalent without `tril` compares positions,
# `torch.arange(T)[None, :] <= torch.arange(T)[:, None]` (key index `j` along the
# columns, query index `i` along the rows).


# %%
def causal_mask(T: int) -> torch.Tensor:
    """(T, T) bool, True where query i may attend to key j <= i."""
    # BEGIN SOLUTION
    return torch.tril(torch.ones(T, T, dtype=torch.bool))
    # END SOLUTION


check.causal_mask(causal_mask)
print(causal_mask(4).int())

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Attention for one query, with loops
# :label: ex-04-one-query
#
# Write `attention_one_query(q, K, V)` with explicit Python loops over the keys (no
# matrix products): `q` is one query of shape `(d_k,)`, `K` holds `T` keys `(T, d_k)`
# and `V` their values `(T, d_v)`. Compute the scaled scores
# $s_j = q \cdot k_j / \sqrt{d_k}$, their softmax
# $a_j = e^{s_j} / \sum_{j'} e^{s_{j'}}$, and return the output $z = \sum_j a_j v_j$, of
# shape `(d_v,)`.
# ```

# %% [markdown]
# ```{solution-start} ex-04-one-query
# :class: dropdown
# ```

# %% [markdown]
# One loop for the scores, the softmax from its definition, one loop for the weighted
# sum. (Real implementations subtract the largest score before `exp`, which changes
# nothing mathematically and avoids overflow: `torch.softmax` does so.)


# %%
def attention_one_query(q, K, V):
    """q (d_k,), K (T, d_k), V (T, d_v) -> the output (d_v,)."""
    # BEGIN SOLUTION
    T, d_k = K.shape
    scores = []
    for j in range(T):
        dot = sum(q[m] * K[j, m] for m in range(d_k))
        scores.append(dot / math.sqrt(d_k))
    exps = [math.exp(s) for s in scores]
    weights = [e / sum(exps) for e in exps]
    z = torch.zeros(V.shape[1], dtype=V.dtype)
    for j in range(T):
        z += weights[j] * V[j]
    return z
    # END SOLUTION


check.attention_one_query(attention_one_query)

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Scaled and masked attention weights
# :label: ex-04-weights
#
# Write `attention_weights(Q, K, mask=None)` with matrix operations: `Q` is
# `(T_q, d_k)`, `K` is `(T_k, d_k)` and `mask`, when given, is a `(T_q, T_k)` bool
# tensor that is `True` where a query may attend to a key. Return the `(T_q, T_k)`
# weights $\operatorname{softmax}(Q K^\top / \sqrt{d_k})$ in which the pairs that the
# mask forbids get weight 0 and each row still sums to 1.
# ```

# %% [markdown]
# ```{solution-start} ex-04-weights
# :class: dropdown
# ```

# %% [markdown]
# Set the forbidden scores to $-\infty$ *before* the softmax: $e^{-\infty} = 0$, and the
# softmax divides by the sum of the allowed terms only, so each row still sums to 1.
# Zeroing weights *after* the softmax would leave rows that sum to less than 1.


# %%
def attention_weights(Q, K, mask=None):
    """Q (T_q, d_k), K (T_k, d_k), mask (T_q, T_k) bool or None.

    Returns the weights, (T_q, T_k).
    """
    # BEGIN SOLUTION
    scores = Q @ K.T / math.sqrt(Q.shape[-1])  # (T_q, T_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1)
    # END SOLUTION


check.attention_weights(attention_weights)

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Shuffle the words
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
