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
# # Exercises: generating text
#
# Each exercise asks for a function and then checks it: the last line of its cell calls
# a check from `gptcourse.checks`, which runs your function on several inputs and says
# what is wrong, if anything. They go from a warm-up to a stretch.

# %%
import math

import torch

from gptcourse.checks import ch08 as check

# %% [markdown]
# ```{exercise} The memory of a KV cache (warm-up)
# :label: ex-08-kv-cache-bytes
#
# Write `kv_cache_bytes(n_layer, n_kv_head, head_dim, n_tokens, batch_size,
# bytes_per_element)`, which returns how many bytes the key/value cache of a model takes
# for a batch of `batch_size` sequences of `n_tokens` tokens each, when every attention
# layer keeps `n_kv_head` heads of keys and values of width `head_dim` (as many as its
# query heads in GPT-2, fewer with grouped-query attention) and every number takes
# `bytes_per_element` bytes (2 in float16, 4 in float32). Then use it: how many tokens
# of GPT-2 XL's cache (48 layers, 25 heads of width 64) fit in 80 GB in float16?
# ```

# %% [markdown]
# ```{solution-start} ex-08-kv-cache-bytes
# :class: dropdown
# ```

# %% [markdown]
# Every layer keeps, for every token of every sequence, one key and one value (the
# factor 2) of `n_kv_head * head_dim` numbers each. GPT-2 XL needs 300 KiB per token in
# float16, so 80 GB hold about 260,000 tokens: 254 sequences of its full context of
# 1024.


# %%
def kv_cache_bytes(
    n_layer: int,
    n_kv_head: int,
    head_dim: int,
    n_tokens: int,
    batch_size: int = 1,
    bytes_per_element: int = 2,
) -> int:
    """The bytes of the keys and values of every layer, token and sequence."""
    # BEGIN SOLUTION
    per_token = 2 * n_layer * n_kv_head * head_dim  # a key and a value per layer
    return per_token * n_tokens * batch_size * bytes_per_element
    # END SOLUTION


check.kv_cache_bytes(kv_cache_bytes)
per_token = kv_cache_bytes(48, 25, 64, n_tokens=1, batch_size=1, bytes_per_element=2)
print(f"GPT-2 XL: {per_token / 2**10:.0f} KiB per token")
print(f"{80e9 // per_token:,.0f} tokens in 80 GB")

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Top-p filtering
# :label: ex-08-top-p
#
# Write `top_p_filter(probs, p)`. It gets the probabilities of the next token, a 1-D
# tensor `probs` of shape `(V,)` that sums to 1, and returns the distribution that
# nucleus sampling draws from, also of shape `(V,)` and in the vocabulary's order: the
# smallest set of the most likely tokens whose probabilities add up to at least `p`
# keeps its probabilities, scaled to sum to 1, and every other token gets 0. The most
# likely token is always kept. Do not use `gptcourse.generation`.
#
# Three mistakes are easy to make; the check recognises each of them: being off by one
# at the threshold (is the token whose probability crosses `p` in or out?), forgetting
# to renormalise, and sorting in ascending order.
# ```

# %% [markdown]
# ```{solution-start} ex-08-top-p
# :class: dropdown
# ```

# %% [markdown]
# Sort the probabilities in descending order. A token belongs to the nucleus when the
# tokens ranked above it do not yet reach `p`: the mass *above* it, the cumulative sum
# minus its own probability, is below `p`. That keeps the token that crosses `p` and
# always the first one (whose mass above is 0). Then put the kept probabilities back in
# the vocabulary's order with `scatter` and divide by their sum.


# %%
def top_p_filter(probs: torch.Tensor, p: float) -> torch.Tensor:
    """(V,) probabilities -> (V,) the renormalised nucleus of mass p."""
    # BEGIN SOLUTION
    sorted_probs, order = torch.sort(probs, descending=True)
    mass_above = sorted_probs.cumsum(0) - sorted_probs
    kept = torch.where(mass_above < p, sorted_probs, torch.zeros_like(sorted_probs))
    filtered = torch.zeros_like(probs).scatter(0, order, kept)
    return filtered / filtered.sum()
    # END SOLUTION


check.top_p_filter(top_p_filter)
print(top_p_filter(torch.tensor([0.1, 0.6, 0.3]), 0.7))

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} One step of the KV cache
# :label: ex-08-attention-step
#
# Write `attention_step(attn, x_new, past_k, past_v)` for a
# `gptcourse.attention.CausalSelfAttention` `attn`: `x_new` of shape
# `(B, 1, C)` is the input of the new position, `past_k` and `past_v` of shape
# `(B, H, t, D)` hold the keys and values of the `t` positions before it (`t` may be
# 0). Return `(y, k, v)`: the attention's output at the new position, `(B, 1, C)`, and
# the keys and values with the new position's appended, `(B, H, t + 1, D)`. Use the
# layer's weights (`attn.qkv_proj`, whose output holds the queries, keys and values
# side by side, and `attn.out_proj`; `attn.n_head`, `attn.head_dim`), but not
# `attn(...)` itself. The check runs your step from an empty cache, one position at a
# time, and compares every output with the full pass `attn(x)`.
# ```

# %% [markdown]
# ```{solution-start} ex-08-attention-step
# :class: dropdown
# ```

# %% [markdown]
# The new position's query, key and value depend on its input only. Append its key and
# value to the cache *before* attending: a position attends to itself. As the last
# position, it may attend to every key, so no mask is needed (a causal mask built for
# one query and $t + 1$ keys must be aligned to the end, where it allows everything).


# %%
def attention_step(attn, x_new, past_k, past_v):
    """(B, 1, C), (B, H, t, D) x 2 -> y (B, 1, C), k and v (B, H, t + 1, D)."""
    # BEGIN SOLUTION
    B, _, C = x_new.shape
    H, D = attn.n_head, attn.head_dim
    q, k, v = attn.qkv_proj(x_new).split(C, dim=-1)  # 3 x (B, 1, C)
    q, k, v = (a.view(B, 1, H, D).transpose(1, 2) for a in (q, k, v))  # (B, H, 1, D)
    k = torch.cat((past_k, k), dim=2)  # (B, H, t + 1, D)
    v = torch.cat((past_v, v), dim=2)
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(D), dim=-1)
    y = (weights @ v).transpose(1, 2).reshape(B, 1, C)  # (B, 1, C)
    return attn.out_proj(y), k, v
    # END SOLUTION


check.attention_step(attention_step)

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Why greedy decoding loops (stretch)
# :label: ex-08-greedy-loops
#
# A model with a context of `block_size` tokens generates greedily. Prove that the text
# it writes eventually repeats with a period, whatever the model, and give an upper
# bound on how long it can go before it starts repeating, in terms of `block_size` and
# the vocabulary size $V$. Does the bound matter in practice? Why does sampling escape
# the argument?
# ```

# %% [markdown]
# ```{solution} ex-08-greedy-loops
# :class: dropdown
#
# Once the text is at least `block_size` tokens long, the next token is a function of
# the last `block_size` tokens only (the model sees nothing else, and greedy decoding
# has no randomness): the generation is a deterministic map from a *state*, a window of
# `block_size` tokens, to the next state. There are at most $V^{\text{block\_size}}$
# states, so within that many steps some state occurs twice (the pigeonhole
# principle), and from its second occurrence on, everything repeats what followed the
# first: the text is eventually periodic, with a period of at most
# $V^{\text{block\_size}}$. The bound is astronomically large ($65^{64}$ for the
# chapter's model) and so says nothing about *when*; in practice loops start within a
# few hundred tokens, because the model's likeliest continuations funnel into a few
# common phrases, and a phrase that returns to a state seen before closes the loop.
# Sampling escapes the argument because the next token is no longer a function of the
# state: a repeated state can be followed by a different token.
# ```
