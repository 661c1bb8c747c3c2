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
# # Exercises: positional encoding
#
# Each exercise asks for a function and then checks it: the last line of its cell calls
# a check from `gptcourse.checks`, which runs your function on several inputs and says
# what is wrong, if anything. They go from a warm-up to a stretch.

# %%
import math

import torch

from gptcourse.checks import ch06 as check

# %% [markdown]
# ```{exercise} The encoding of one position (warm-up)
# :label: ex-06-sinusoidal-position
#
# Write `sinusoidal_position(p, n_embd)`, which returns the sinusoidal encoding of
# position `p` as a tensor of shape `(n_embd,)`, straight from the formula
# $\mathrm{PE}(p, 2i) = \sin(p / 10000^{2i/d})$ and
# $\mathrm{PE}(p, 2i+1) = \cos(p / 10000^{2i/d})$, with $d$ = `n_embd` (even).
# ```

# %% [markdown]
# ```{solution-start} ex-06-sinusoidal-position
# :class: dropdown
# ```

# %% [markdown]
# Pair $i$ has the angle $p / 10000^{2i/d}$; its sine goes to the even dimension $2i$
# and its cosine to the odd dimension $2i + 1$, which slicing with steps of 2 does in
# one line each.


# %%
def sinusoidal_position(p: int, n_embd: int) -> torch.Tensor:
    """The sinusoidal encoding of position p, shape (n_embd,)."""
    # BEGIN SOLUTION
    i = torch.arange(n_embd // 2, dtype=torch.float64)  # the pair index
    angle = p / 10000 ** (2 * i / n_embd)  # (n_embd/2,)
    pe = torch.empty(n_embd, dtype=torch.float64)
    pe[0::2] = torch.sin(angle)
    pe[1::2] = torch.cos(angle)
    return pe
    # END SOLUTION


check.sinusoidal_position(sinusoidal_position)
print(sinusoidal_position(1, 8).numpy().round(4))

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} The matrix that moves a position (medium)
# :label: ex-06-shift-matrix
#
# For every offset $k$ there is a matrix $M_k$ with
# $\mathrm{PE}(p + k) = M_k\,\mathrm{PE}(p)$ at every position $p$. Write
# `shift_matrix(k, n_embd)`, which returns it as a `(n_embd, n_embd)` tensor. Start
# from $\sin(a + b)$ and $\cos(a + b)$ for one pair of dimensions.
# ```

# %% [markdown]
# ```{solution-start} ex-06-shift-matrix
# :class: dropdown
# ```

# %% [markdown]
# With $\omega_i = 10000^{-2i/d}$, $\sin((p + k)\omega) = \sin p\omega \cos k\omega +
# \cos p\omega \sin k\omega$ and $\cos((p + k)\omega) = \cos p\omega \cos k\omega -
# \sin p\omega \sin k\omega$. So the block of pair $i$ has rows $(\cos k\omega_i,
# \sin k\omega_i)$ and $(-\sin k\omega_i, \cos k\omega_i)$, and $M_k$ is
# block-diagonal: each pair only ever mixes with itself.


# %%
def shift_matrix(k: int, n_embd: int) -> torch.Tensor:
    """M_k of shape (n_embd, n_embd), with PE(p + k) = M_k @ PE(p)."""
    # BEGIN SOLUTION
    M = torch.zeros(n_embd, n_embd, dtype=torch.float64)
    for i in range(n_embd // 2):
        angle = k / 10000 ** (2 * i / n_embd)
        c, s = math.cos(angle), math.sin(angle)
        M[2 * i, 2 * i], M[2 * i, 2 * i + 1] = c, s  # new sin
        M[2 * i + 1, 2 * i], M[2 * i + 1, 2 * i + 1] = -s, c  # new cos
    return M
    # END SOLUTION


check.shift_matrix(shift_matrix)

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Which layers know the order? (medium)
# :label: ex-06-equivariance
#
# A function `f` from a sequence `x` of shape `(T, d)` to one of shape `(T, d')` is
# *permutation equivariant* when `f(x[perm])` equals `f(x)[perm]` for every reordering
# `perm` of the rows. Write `is_permutation_equivariant(f, x)`, which tries a few random
# permutations and returns `True` or `False`. The check runs it on several layers:
# attention with and without a mask, with and without positions, and others. Before
# running it, guess which ones are equivariant.
# ```

# %% [markdown]
# ```{solution-start} ex-06-equivariance
# :class: dropdown
# ```

# %% [markdown]
# Self-attention without a mask, a layer applied to each token separately, and the
# average of all tokens are equivariant; adding positions, a causal mask, a running sum
# and reversing are not. Floating-point sums in another order differ in the last bits,
# so the comparison needs a tolerance.


# %%
def is_permutation_equivariant(f, x: torch.Tensor, trials: int = 5) -> bool:
    """Whether f(x[perm]) == f(x)[perm] for `trials` random permutations of rows."""
    # BEGIN SOLUTION
    generator = torch.Generator().manual_seed(0)
    y = f(x)
    for _ in range(trials):
        perm = torch.randperm(len(x), generator=generator)
        if not torch.allclose(f(x[perm]), y[perm], atol=1e-5):
            return False
    return True
    # END SOLUTION


check.is_permutation_equivariant(is_permutation_equivariant)

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Rotary embeddings with interpolated positions (medium)
# :label: ex-06-rope
#
# *Position interpolation* {cite:p}`chen2023extending` lets a rotary model read
# sequences `scale` times longer than it was trained on by squeezing their positions:
# row $t$ is treated as position $t / \text{scale}$, so that every angle stays within
# the range seen in training. Write `rope(x, base, scale)` for a tensor `x` of shape
# `(T, d)` whose row $t$ is the query (or key) at position $t$: it returns a tensor of
# the same shape in which each pair of dimensions $(2i, 2i + 1)$ of row $t$ is rotated
# by the angle $\alpha = (t / \text{scale})\,\theta_i$, with
# $\theta_i = \text{base}^{-2i/d}$: the pair $(a, b)$ becomes
# $(a\cos\alpha - b\sin\alpha,\; a\sin\alpha + b\cos\alpha)$. With `scale=1` it is
# the chapter's RoPE. Do not use `gptcourse.positions`. Then check that interpolation
# keeps what makes RoPE useful: the score of a query and a key still depends only on
# their offset.
# ```

# %% [markdown]
# ```{solution-start} ex-06-rope
# :class: dropdown
# ```

# %% [markdown]
# The angles form a `(T, d/2)` table, position times frequency, and the positions are
# now $t / \text{scale}$, which need not be integers; the even and odd dimensions are
# the two coordinates of each pair. A score of rows $m$ and $n$ still sees only
# $(n - m)/\text{scale}$: interpolation keeps RoPE relative, at a finer spacing.


# %%
def rope(x: torch.Tensor, base: float = 10000.0, scale: float = 1.0) -> torch.Tensor:
    """x: (T, d) -> (T, d); pair (2i, 2i + 1) of row t turns by (t / scale) theta_i."""
    # BEGIN SOLUTION
    T, d = x.shape
    theta = base ** (-torch.arange(0, d, 2, dtype=x.dtype) / d)  # (d/2,)
    positions = torch.arange(T, dtype=x.dtype)[:, None] / scale  # (T, 1)
    angle = positions * theta  # (T, d/2)
    a, b = x[:, 0::2], x[:, 1::2]
    out = torch.empty_like(x)
    out[:, 0::2] = a * angle.cos() - b * angle.sin()
    out[:, 1::2] = a * angle.sin() + b * angle.cos()
    return out
    # END SOLUTION


check.rope(rope)
torch.manual_seed(0)
q, k = torch.randn(16, dtype=torch.float64), torch.randn(16, dtype=torch.float64)
S = (
    rope(q.expand(32, 16), scale=4.0) @ rope(k.expand(32, 16), scale=4.0).T
)  # (32, 32)
for offset in range(-31, 32):
    diagonal = S.diagonal(offset)
    torch.testing.assert_close(diagonal, diagonal[:1].expand_as(diagonal))
print("with scale=4, every score still depends only on the offset")

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Does the base change how far RoPE extrapolates? (stretch)
# :label: ex-06-rope-base
#
# The chapter's copy experiment trained a rotary model with base 10000 on copies of up
# to 12 symbols. Train it again with base 100 and with base 1000000 (give
# `RotaryEmbedding` the base; the chapter's `TinyTransformer` builds it with the
# default), and plot the copy accuracy of the three by length, up to 24. Before you
# run it, predict: with which base do the angles at positions 24 to 47 repeat angles
# the model saw at positions 0 to 23? Does the accuracy beyond the trained lengths
# follow your prediction? Then, without retraining, give the base-10000 model your
# interpolated `rope` at test time (scale 2, through a `RotaryEmbedding` whose angles
# you replace): does it copy 24 symbols? What would {cite:t}`chen2023extending` do
# next?
# ```

# %% [markdown]
# ````{solution} ex-06-rope-base
# :class: dropdown
#
# Pair $i$ turns through a full cycle every $2\pi\,\text{base}^{2i/d}$ positions.
# With base 100 and $d = 8$ (the chapter's heads), the wavelengths are about 6, 20,
# 63 and 199 positions; with base 10000, 6, 63, 628 and 6283; with base 1000000, 6,
# 199, 6283 and 198692. The smaller the base, the more pairs complete a cycle within
# the 24 trained positions, and the more of the angles at longer lengths the model has
# seen. But a score mixes all pairs, and with any base the slow pairs reach angles
# never seen in training: so the mechanism predicts a later or gentler breakdown with
# a small base, not copying at every length. Your plot decides, and only next to the
# spread between two seeds of the same base. Interpolating the positions at test time,
# without training, gives the model angles within the range it saw but at a spacing
# it never saw, so expect a model that has not been trained on it to copy badly;
# {cite:t}`chen2023extending` fine-tune briefly (about a thousand steps) at the
# interpolated positions, which is what makes interpolation work.
# ````

# %% [markdown]
# ```{exercise} Why not rotate the values? (written)
# :label: ex-06-rope-values
#
# RoPE rotates the queries and the keys, but not the values. What would go wrong if the
# value at position $n$ were rotated by $n\theta_i$ too?
# ```

# %% [markdown]
# ```{solution} ex-06-rope-values
# :class: dropdown
#
# Positions are needed only to decide *how much* each token is attended to, and the
# score $q_m \cdot k_n$ already sees the offset $n - m$. The output is a weighted sum of
# values; if the value at position $n$ were rotated by $n\theta_i$, each term would be
# expressed in a frame turned by its own absolute position, and the same content would
# produce a different output depending on where the sequence starts. The output would
# depend on absolute positions again, which is what RoPE set out to avoid (and the
# layers after attention would have to undo the rotations).
# ```
