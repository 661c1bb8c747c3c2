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
# Each coding exercise asks for a function and then checks it: the last line of its cell
# calls a check from `gptcourse.checks`, which runs your function on several inputs and
# says what is wrong, if anything. The shapes use the chapter's letters: `B` sequences
# of `T` tokens of width `C`, split into `H` heads of width `D = C // H`. They go from a
# warm-up to a stretch.

# %%
import torch

from gptcourse.attention import scaled_dot_product_attention
from gptcourse.checks import ch05 as check

# %% [markdown]
# ```{exercise} Count the parameters of grouped-query attention (warm-up)
# :label: ex-05-gqa-count
#
# In grouped-query attention, `n_head` query heads of width `D = n_embd // n_head`
# share `n_kv_head` groups of key and value heads of the same width. Write
# `count_gqa_parameters(n_embd, n_head, n_kv_head, bias)`: the number of parameters of
# such a layer (the query, key, value and output projections, with one bias per output
# when `bias` is true), from a formula. Then use it: how many parameters does one layer
# of Llama 2 70B's attention save (`n_embd=8192`, 64 heads, 8 groups, no biases)
# against multi-head attention?
# ```

# %% [markdown]
# ```{solution-start} ex-05-gqa-count
# :class: dropdown
# ```

# %% [markdown]
# $W_Q$ and $W_O$ are $C \times C$ as before. $W_K$ and $W_V$ project to one head of
# width $D$ per group, so each is $C \times GD$. With $G = H$ this is multi-head
# attention's $4C^2 + 4C$; with $G = 1$ (multi-query) the key and value projections
# are $H$ times smaller.


# %%
def count_gqa_parameters(n_embd, n_head, n_kv_head, bias=True):
    """Parameters of grouped-query attention of width n_embd."""
    # BEGIN SOLUTION
    kv = n_kv_head * (n_embd // n_head)  # the width of the keys, and of the values
    weights = (
        n_embd * n_embd + 2 * n_embd * kv + n_embd * n_embd
    )  # W_Q, W_K, W_V, W_O
    biases = (n_embd + 2 * kv + n_embd) if bias else 0
    return weights + biases
    # END SOLUTION


check.count_gqa_parameters(count_gqa_parameters)
mha = count_gqa_parameters(8192, 64, 64, bias=False)
gqa = count_gqa_parameters(8192, 64, 8, bias=False)
print(f"one layer: {mha:,} parameters with 64 key-value heads, {gqa:,} with 8")
print(f"saved: {mha - gqa:,} ({(mha - gqa) / mha:.0%})")

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Ablate a head (medium)
# :label: ex-05-ablate
#
# Write `without_head(attention, x, h)`: the output of the `MultiHeadAttention` module
# `attention` on `x` `(B, T, C)` as if head `h` were not there, that is, with head
# `h`'s block of the concatenated heads set to zero before the output projection (its
# bias stays). Leave the module itself unchanged. The module's `qkv`, `merge_heads`,
# `out_proj` and `causal` are all you need, with the package's
# `scaled_dot_product_attention`.
# ```

# %% [markdown]
# ```{solution-start} ex-05-ablate
# :class: dropdown
# ```

# %% [markdown]
# Head $h$ reaches the output only through the channels $hD, \dots, hD + D - 1$ of the
# concatenation, which $W_O$ spreads over *every* output channel: zero those inputs,
# not any outputs. Zeroing the head's queries would not remove it: it would attend
# uniformly and still add an average of its values. Equivalently, zero the columns
# $hD, \dots, hD + D - 1$ of `out_proj.weight` in a copy of the module, as the chapter
# did.


# %%
def without_head(attention, x, h):
    """attention's output on x (B, T, C) with head h removed."""
    # BEGIN SOLUTION
    D = attention.head_dim
    q, k, v = attention.qkv(x)  # (B, H, T, D)
    out, _ = scaled_dot_product_attention(q, k, v, causal=attention.causal)
    concat = attention.merge_heads(out).clone()  # (B, T, C)
    concat[..., h * D : (h + 1) * D] = 0  # head h's block
    return attention.out_proj(concat)  # W_O and its bias
    # END SOLUTION


check.without_head(without_head)

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Grouped-query attention (medium)
# :label: ex-05-gqa
#
# Write `grouped_query_attention(q, k, v)` for queries `q` of shape `(B, H, T, D)` and
# keys and values `k`, `v` of shape `(B, G, T, D)`, with `G` dividing `H`: causal
# attention in which query head `h` uses key and value group `h // (H // G)`. Return
# `(B, H, T, D)`. You may use the package's `scaled_dot_product_attention`, but not
# PyTorch's `enable_gqa`. Then check your function against
# `torch.nn.functional.scaled_dot_product_attention(..., enable_gqa=True)`.
# ```

# %% [markdown]
# ```{solution-start} ex-05-gqa
# :class: dropdown
# ```

# %% [markdown]
# Give every query head its group's keys and values: repeat each group $H/G$ times *in
# place* (`repeat_interleave`), so that heads $0, \dots, H/G - 1$ share group 0. A
# `repeat` would tile the groups instead (0, 1, 0, 1, ...), which has the right shape
# and the wrong pairs. The scale stays $1/\sqrt{D}$.


# %%
def grouped_query_attention(q, k, v):
    """Causal attention; q (B, H, T, D), k and v (B, G, T, D) -> (B, H, T, D)."""
    # BEGIN SOLUTION
    repeats = q.shape[1] // k.shape[1]  # H // G query heads per group
    k = k.repeat_interleave(repeats, dim=1)  # (B, H, T, D)
    v = v.repeat_interleave(repeats, dim=1)
    out, _ = scaled_dot_product_attention(q, k, v, causal=True)
    return out
    # END SOLUTION


check.grouped_query_attention(grouped_query_attention)
torch.manual_seed(0)
q, k, v = torch.randn(2, 8, 5, 4), torch.randn(2, 2, 5, 4), torch.randn(2, 2, 5, 4)
fused = torch.nn.functional.scaled_dot_product_attention(
    q, k, v, is_causal=True, enable_gqa=True
)
torch.testing.assert_close(grouped_query_attention(q, k, v), fused)
print("equal to PyTorch's enable_gqa")

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} How many heads? (stretch)
# :label: ex-05-heads-seeds
#
# The chapter compared one head with four over five seeds. Extend the comparison to
# 1, 2 and 8 heads with the chapter's model and data (copy its `AttentionLM`,
# `train_model` and `val_loss`; 200 training steps and three seeds keep it to about a
# minute). For each head count, report the mean validation loss and the spread between
# seeds. Which differences are larger than the spread? Then ablate each head of one of
# your 8-head models with your `without_head`: how many heads could you remove for
# less than 0.01 nats?
# ```

# %% [markdown]
# ````{solution} ex-05-heads-seeds
# :class: dropdown
#
# A sketch of the experiment, with the chapter's `train_model(n_head, seed, steps)` and
# `val_loss(model)`:
#
# ```python
# results = {}
# for n_head in (1, 2, 8):
#     models = [train_model(n_head, seed, steps=200) for seed in range(3)]
#     losses = torch.tensor([val_loss(model) for model in models])
#     results[n_head] = (losses.mean().item(), losses.std().item())
# ```
#
# and for the ablation, the module's `out_proj` with head `h`'s columns zeroed (the
# chapter's `without_head`) or your function on the embedded validation batches. What to
# look for: a difference between two head counts means something only when it is
# several times the spread between seeds; after 200 steps the models are far from
# converged, so a larger head count can be behind at first and ahead later. Many heads
# of the 8-head model can be removed for a tiny loss, as {cite:t}`michel2019sixteen`
# found in large Transformers, but rarely all of them: some heads carry most of the
# work.
# ````
