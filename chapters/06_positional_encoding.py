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
# # Positional encoding
#
# Attention lets every token look at every other token, but it has no idea where they
# are: to attention, a sentence is a bag of words. This chapter proves that, then builds
# the three ways Transformers are told the order of their tokens: the *sinusoidal*
# encoding of the original Transformer, the *learned* position table of GPT-2, and the
# *rotary* embeddings (RoPE) of most recent models. It ends with what happens when a
# model meets sequences longer than any it was trained on.

# %%
import math

import matplotlib.pyplot as plt
import torch
from torch import nn

from gptcourse import plotting, training
from gptcourse.attention import (
    CausalSelfAttention,
    MultiHeadAttention,
    scaled_dot_product_attention,
)
from gptcourse.positions import (
    LearnedPositionalEmbedding,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    sinusoidal_encoding,
    sinusoidal_shift_matrix,
)

# %% [markdown]
# ## Does attention know the order of its inputs?
#
# Take self-attention without a mask, as built in
# {doc}`chapter 4 <../chapters/04_self_attention>`: the input is a matrix $X$ whose $T$
# rows are token vectors, and
#
# $$
# \mathrm{Attn}(X) = \mathrm{softmax}\!\left(\frac{(XW_Q)(XW_K)^\top}{\sqrt{d_k}}\right)
# XW_V .
# $$
#
# Reorder the tokens with a permutation matrix $P$ (each row and column holds one 1).
# The scores become $P\,S\,P^\top$, the same numbers with rows and columns reordered; a
# row-wise softmax does not care about the order of a row, so the weights become
# $P\,A\,P^\top$; and since $P^\top P = I$,
#
# $$
# \mathrm{Attn}(PX) = P A P^\top P X W_V = P\,\mathrm{Attn}(X).
# $$
#
# Permuting the input permutes the output, and nothing else changes: self-attention is
# *permutation equivariant*. The heads of
# {doc}`chapter 5 <../chapters/05_multi_head_attention>` and their output projection,
# which acts on each token separately, do not change that. Here it is with the course's
# multi-head attention and random weights:

# %%
torch.manual_seed(0)
attn = MultiHeadAttention(n_embd=16, n_head=4)  # no mask: all tokens see all
x = torch.randn(1, 6, 16)  # (B, T, n_embd): six token vectors
perm = torch.tensor([3, 0, 5, 1, 4, 2])  # a new order for the six positions

with torch.no_grad():
    y = attn(x)  # (1, 6, 16)
    y_of_permuted = attn(x[:, perm])
torch.testing.assert_close(y_of_permuted, y[:, perm])
same = torch.allclose(y_of_permuted, y[:, perm], atol=1e-6)
print("attn(x[perm]) equals attn(x)[perm]:", same)

# %% [markdown]
# What this means for language: give each word a vector and run the two sentences
# "dog bites man" and "man bites dog" through the same attention layer.

# %%
words = ["dog", "bites", "man"]
torch.manual_seed(0)
embed = nn.Embedding(len(words), 16)


def embed_sentence(sentence: str) -> torch.Tensor:
    """The word vectors of a sentence, shape (1, T, 16)."""
    return embed(torch.tensor([[words.index(w) for w in sentence.split()]]))


with torch.no_grad():
    out_a = attn(embed_sentence("dog bites man"))[0]  # (3, 16), in word order
    out_b = attn(embed_sentence("man bites dog"))[0]
for i, word in enumerate("dog bites man".split()):
    j = "man bites dog".split().index(word)
    same = torch.allclose(out_a[i], out_b[j], atol=1e-6)
    print(f"{word!r:8}: same output in both sentences: {same}")
torch.testing.assert_close(out_b, out_a[[2, 1, 0]])

# %% [markdown]
# The vector computed for *dog* is the same whether the dog bites or is bitten, and the
# two sentences give the same set of output vectors. Any layer that pools them (an
# average, say) cannot tell who bit whom.
#
# The fix is to make each input vector depend on where the token is: add to the token's
# vector a vector $p_t$ that encodes its position $t$. The permuted sentence then no
# longer consists of the same vectors in a different order, and the equivariance is gone
# (here with the sinusoidal vectors of the next section):

# %%
positions = sinusoidal_encoding(block_size=3, n_embd=16)  # (T, n_embd)
with torch.no_grad():
    pos_a = attn(embed_sentence("dog bites man") + positions)[0]
    pos_b = attn(embed_sentence("man bites dog") + positions)[0]
change = (pos_a[0] - pos_b[2]).norm() / pos_a[0].norm()
print(f"'dog' output changes by {change:.0%} between the two sentences")
assert change > 0.1 and not torch.allclose(pos_b, pos_a[[2, 1, 0]], atol=1e-3)

# %% [markdown]
# A causal mask, as in a GPT, also breaks the symmetry: the first token sees only
# itself, the last one sees everything. A causal model can therefore infer something
# about positions (for instance by counting how many tokens it sees), but only
# indirectly; GPTs are given positions explicitly.

# %%
torch.manual_seed(0)
causal = CausalSelfAttention(n_embd=16, n_head=4)
with torch.no_grad():
    y, y_of_permuted = causal(x), causal(x[:, perm])
equivariant = torch.allclose(y_of_permuted, y[:, perm], atol=1e-5)
print("causal attention permutation equivariant:", equivariant)
assert not equivariant

# %% [markdown]
# ## How can a vector say where a token is?
#
# The original Transformer (Vaswani et al., 2017) adds a fixed vector to the embedding
# of the token at position $p$. Its dimensions come in pairs $(2i, 2i+1)$, and pair $i$
# holds the sine and the cosine of the position at its own frequency:
#
# $$
# \mathrm{PE}(p, 2i) = \sin\!\left(\frac{p}{10000^{2i/d}}\right), \qquad
# \mathrm{PE}(p, 2i+1) = \cos\!\left(\frac{p}{10000^{2i/d}}\right),
# $$
#
# for $i = 0, \dots, d/2 - 1$, with $d$ the model's width `n_embd` (which must be
# even). Straight from the formula, one number at a time:


# %%
def sinusoidal_loops(block_size: int, n_embd: int) -> torch.Tensor:
    """PE of shape (block_size, n_embd), written exactly as the formula reads."""
    pe = torch.zeros(block_size, n_embd, dtype=torch.float64)
    for p in range(block_size):
        for i in range(n_embd // 2):
            pe[p, 2 * i] = math.sin(p / 10000 ** (2 * i / n_embd))
            pe[p, 2 * i + 1] = math.cos(p / 10000 ** (2 * i / n_embd))
    return pe


print(sinusoidal_loops(block_size=3, n_embd=8).numpy().round(4))

# %% [markdown]
# Position 0 is $[0, 1, 0, 1, \dots]$, since $\sin 0 = 0$ and $\cos 0 = 1$. The loops
# are slow; the same table as whole-tensor operations, with $\omega_i = 10000^{-2i/d}$
# the angular frequency of pair $i$, is
# $\mathrm{PE}(p, 2i) = \sin(p\,\omega_i)$, $\mathrm{PE}(p, 2i+1) = \cos(p\,\omega_i)$:


# %%
def sinusoidal(block_size: int, n_embd: int) -> torch.Tensor:
    p = torch.arange(block_size, dtype=torch.float64)[:, None]  # (T, 1)
    two_i = torch.arange(0, n_embd, 2, dtype=torch.float64)  # 0, 2, 4, ...
    omega = 10000 ** (-two_i / n_embd)  # (d/2,)
    pe = torch.empty(block_size, n_embd, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(p * omega)  # (T, d/2), broadcast
    pe[:, 1::2] = torch.cos(p * omega)
    return pe


pe_loops, pe = sinusoidal_loops(50, 16), sinusoidal(50, 16)
torch.testing.assert_close(pe, pe_loops)
torch.testing.assert_close(pe, sinusoidal_encoding(50, 16, dtype=torch.float64))
torch.testing.assert_close(pe[0], torch.tensor([0, 1] * 8, dtype=torch.float64))
print("loops, vectorised and gptcourse.positions.sinusoidal_encoding agree")

# %% [markdown]
# Drawn for 128 positions of a 64-dimensional model ({numref}`fig-sinusoidal`), each row
# of the picture is one position's vector. The first pairs oscillate quickly, the last
# ones barely move: like the hands of a clock, the fast ones tell nearby positions apart
# and the slow ones tell far apart ones.

# %% mystnb={"figure": {"caption": "The sinusoidal encoding of 128 positions with $d = 64$. Top: each row is one position's vector, each column one dimension; the first columns alternate quickly between $+1$ (red) and $-1$ (blue), the last ones barely change. Bottom: four even columns, sines whose wavelength grows with the dimension.", "name": "fig-sinusoidal"}, "image": {"alt": "Top, a heat map 128 positions tall and 64 dimensions wide in red and blue, with a colour bar from minus 1 to 1: the left columns are fine stripes that alternate quickly down the positions, the stripes widen to the right, and from about dimension 30 on the columns barely change, white (sines near 0) alternating with dark red (cosines near 1). Bottom, four curves against the position from 0 to 127: dimension 8 is a sine with a wavelength of 20 positions, six cycles; dimension 16 of 63, two cycles; dimension 24 of 199, rising to 1 and falling to minus 0.8; dimension 32 of 628, a slow rise from 0 to 0.95."}}
plotting.use_style()  # the course's figure style: sizes, fonts, sharp images

pe = sinusoidal_encoding(128, 64)
fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 6), height_ratios=[1.3, 1])
plotting.heatmap(top, pe, label="value", aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1)
top.set_xlabel("dimension")
top.set_ylabel("position $p$")
for dim in (8, 16, 24, 32):
    wavelength = 2 * math.pi * 10000 ** (dim / 64)  # dim = 2i: 2 pi 10000^(2i/d)
    bottom.plot(pe[:, dim].numpy(), label=f"dim {dim}, wavelength {wavelength:.0f}")
bottom.set_xlabel("position $p$")
bottom.set_ylabel("value")
bottom.legend(loc="lower left", ncols=2)
plt.show()

# %% [markdown]
# ### Which wavelengths?
#
# Pair $i$ completes a cycle every
# $\lambda_i = 2\pi / \omega_i = 2\pi \cdot 10000^{2i/d}$ positions. Each wavelength is
# the previous one times the same factor $10000^{2/d}$: a geometric progression from
# $2\pi$ (for $i = 0$) up towards $10000 \cdot 2\pi$, which the last pair,
# $i = d/2 - 1$, approaches but does not reach ({numref}`fig-wavelengths`).

# %% mystnb={"figure": {"caption": "The wavelengths $\\lambda_i = 2\\pi \\cdot 10000^{2i/d}$ of the 32 pairs for $d = 64$, on a log scale: a straight line, since each is the previous one times $10000^{2/64}$, from $2\\pi$ (dotted) up towards, but never reaching, $10000 \\cdot 2\\pi$ (dashed).", "name": "fig-wavelengths"}, "image": {"alt": "Dots for the pairs 0 to 31 on a logarithmic vertical axis of wavelength in positions. They lie on a straight rising line from 6.28 at pair 0, on a dotted line marked 2 pi, to about 47,000 at pair 31, just below a dashed line at 10000 times 2 pi."}}
d = 64
i = torch.arange(d // 2, dtype=torch.float64)
wavelengths = 2 * math.pi * 10000 ** (2 * i / d)
ratios = wavelengths[1:] / wavelengths[:-1]
torch.testing.assert_close(ratios, torch.full_like(ratios, 10000 ** (2 / d)))
assert math.isclose(wavelengths[0], 2 * math.pi)
assert wavelengths[-1] < 10000 * 2 * math.pi
# Pair i repeats after one wavelength (a position need not be an integer here).
p = torch.linspace(0, 50, 11, dtype=torch.float64)[:, None]
omega = 2 * math.pi / wavelengths
one_later = torch.sin((p + wavelengths) * omega)
torch.testing.assert_close(torch.sin(p * omega), one_later)
print(
    f"wavelengths from {wavelengths[0]:.2f} to {wavelengths[-1]:,.0f} positions, "
    f"ratio {ratios[0]:.4f} = 10000^(2/{d})"
)

fig, ax = plt.subplots(figsize=(6, 3))
ax.semilogy(i.numpy(), wavelengths.numpy(), "o", markersize=3)
ax.axhline(2 * math.pi, color="gray", linestyle=":", label=r"$2\pi$")
ax.axhline(2e4 * math.pi, color="gray", linestyle="--", label=r"$10000 \cdot 2\pi$")
ax.set_xlabel("pair $i$")
ax.set_ylabel(r"wavelength $\lambda_i$ (positions)")
ax.legend()
plt.show()

# %% [markdown]
# ### Can a model read relative positions from it?
#
# The Transformer's authors chose sines and cosines because moving by a fixed offset $k$
# is a *linear* map of the encoding. By the angle-addition formulas, for each pair,
#
# $$
# \begin{pmatrix} \sin((p+k)\omega_i) \\ \cos((p+k)\omega_i) \end{pmatrix}
# = \begin{pmatrix} \cos k\omega_i & \sin k\omega_i \\ -\sin k\omega_i & \cos k\omega_i
# \end{pmatrix}
# \begin{pmatrix} \sin p\omega_i \\ \cos p\omega_i \end{pmatrix},
# $$
#
# so $\mathrm{PE}(p + k) = M_k\,\mathrm{PE}(p)$ with $M_k$ block-diagonal, made of these
# $2 \times 2$ rotations, and depending on $k$ only, never on $p$. A layer that
# multiplies by a matrix can thus learn to "look $k$ tokens back" from any position. We
# build $M_k$ from its blocks and check it for every position of a 1000-position table:


# %%
def shift_matrix(k: int, n_embd: int) -> torch.Tensor:
    two_i = torch.arange(0, n_embd, 2, dtype=torch.float64)
    omega = 10000 ** (-two_i / n_embd)
    blocks = []
    for w in omega.tolist():  # one 2x2 block per pair of dimensions
        c, s = math.cos(k * w), math.sin(k * w)
        blocks.append(torch.tensor([[c, s], [-s, c]], dtype=torch.float64))
    return torch.block_diag(*blocks)  # (n_embd, n_embd)


pe = sinusoidal_encoding(1000, 32, dtype=torch.float64)
eye = torch.eye(32, dtype=torch.float64)
for k in (1, 5, 37, 500):
    M = shift_matrix(k, 32)
    M_package = sinusoidal_shift_matrix(k, 32, dtype=torch.float64)
    torch.testing.assert_close(M, M_package)
    # Row p + k equals M_k @ row p, for all p at once:
    torch.testing.assert_close(pe[k:], pe[:-k] @ M.T)
    torch.testing.assert_close(M @ M.T, eye)  # a rotation: M_k^T = M_k^-1 = M_-k
M5, M37, M42 = shift_matrix(5, 32), shift_matrix(37, 32), shift_matrix(42, 32)
torch.testing.assert_close(M5 @ M37, M42)  # moving by 5, then 37, is moving by 42
print("PE(p + k) = M_k PE(p) for k in (1, 5, 37, 500) and every p < 500")

# %% [markdown]
# ### How similar are two positions?
#
# The dot product of two encodings depends only on the distance between the positions.
# Each pair contributes $\sin p\omega_i \sin q\omega_i + \cos p\omega_i \cos q\omega_i =
# \cos((p - q)\omega_i)$, so
#
# $$
# \mathrm{PE}(p) \cdot \mathrm{PE}(q) = \sum_{i=0}^{d/2-1} \cos\big((p -
# q)\,\omega_i\big).
# $$

# %% mystnb={"figure": {"caption": "The dot products of the sinusoidal encodings of 256 positions ($d = 64$). Left: $\\mathrm{PE}(p) \\cdot \\mathrm{PE}(q)$ for every pair is constant along each diagonal, a function of $q - p$ alone. Right: that function, read along row $p = 127$; it peaks at offset 0 and is symmetric.", "name": "fig-pe-similarity"}, "image": {"alt": "Left, a square heat map of 256 by 256 positions with a colour bar from about 6 to 32: a bright yellow line along the main diagonal and darker and lighter stripes parallel to it, each diagonal one colour. Right, a line chart against the offset from minus 127 to 128: a sharp peak of 32 at offset 0, falling to about 24 within a few positions and then, with ripples, to between 9 and 19 at the ends, the same on both sides."}}
pe = sinusoidal_encoding(256, 64, dtype=torch.float64)
gram = pe @ pe.T  # (256, 256): every PE(p) . PE(q)
omega = 10000 ** (-torch.arange(0, 64, 2, dtype=torch.float64) / 64)
offset = torch.arange(256)[:, None] - torch.arange(256)[None, :]  # p - q
torch.testing.assert_close(gram, torch.cos(offset[..., None] * omega).sum(-1))
print(f"PE(p) . PE(p) = {gram[0, 0]:.1f} = d/2 at every p")
print("PE(p) . PE(q) is a function of p - q")

fig, (left, right) = plt.subplots(1, 2, figsize=(7.5, 3.2))
similarity = r"$\mathrm{PE}(p) \cdot \mathrm{PE}(q)$"
plotting.heatmap(left, gram, label=similarity)
left.set_xlabel("position $q$")
left.set_ylabel("position $p$")
right.plot((torch.arange(256) - 127).numpy(), gram[127].numpy())
right.set_xlabel("offset $q - p$")
right.set_ylabel(similarity)
right.set_title("$p = 127$")
plt.show()

# %% [markdown]
# The similarity peaks at offset 0 and falls off with distance
# ({numref}`fig-pe-similarity`): nearby positions have similar encodings. It is
# symmetric, though:
# $\mathrm{PE}(p)\cdot\mathrm{PE}(p+k) = \mathrm{PE}(p)\cdot\mathrm{PE}(p-k)$, so the
# dot product alone cannot tell before from after; the model has to use the linear maps
# $M_k$ for that.
#
# The package's `SinusoidalPositionalEncoding` adds the
# table to its input: for an input of shape `(B, T, n_embd)`, it returns `x + PE[:T]`.

# %%
add_positions = SinusoidalPositionalEncoding(block_size=1024, n_embd=16)
x = torch.randn(2, 10, 16)  # (B, T, n_embd)
torch.testing.assert_close(add_positions(x), x + sinusoidal_encoding(10, 16))
print(add_positions, "->", tuple(add_positions(x).shape))

# %% [markdown]
# ## Can the model learn its positions instead?
#
# GPT-2 makes no assumption about what a position vector should look like: it keeps a
# table of `block_size` trainable vectors, one per position, and adds row $p$ to the
# embedding of the token at position $p$:
#
# $$
# h_p = E[x_p] + W_{\mathrm{pos}}[p], \qquad W_{\mathrm{pos}} \in \mathbb{R}^{L \times
# d},
# $$
#
# where $E$ is the token embedding table and $L$ is `block_size`.
#
# The table is trained with the rest of the model. Every size of GPT-2 has 1024 rows;
# GPT-2 small's rows have 768 numbers (Hugging Face calls the table `wpe`, and the sizes
# `n_positions` and `n_embd`):

# %%
from transformers import GPT2Config

config = GPT2Config()  # GPT-2 small's sizes; no weights are downloaded
wpe = LearnedPositionalEmbedding(config.n_positions, config.n_embd)
n_params = sum(p.numel() for p in wpe.parameters())
shape = tuple(wpe.table.weight.shape)
print(f"GPT-2's position table: {shape}, {n_params:,} parameters")
assert n_params == 1024 * 768

x = torch.randn(2, 10, 768)  # token embeddings, (B, T, n_embd)
torch.testing.assert_close(wpe(x), x + wpe.table.weight[:10])

# %% [markdown]
# What do these vectors learn? Nothing forces them to be smooth or periodic, but
# analyses of GPT-2's trained table (for instance Wang and Chen, 2020) find that they
# vary smoothly with the position, with wave-like patterns, and that neighbouring
# positions get similar vectors: training finds something reminiscent of the sinusoids.
# We will train such a table at the end of this chapter and look at it.
#
# A learned table has a hard limit: row `block_size` does not exist. GPT-2 cannot read
# token 1025, and no amount of cleverness at inference time changes that:

# %%
wpe_small = LearnedPositionalEmbedding(block_size=8, n_embd=4)
try:
    wpe_small(torch.zeros(1, 10, 4))
except ValueError as error:
    print(f"ValueError: {error}")

# %% [markdown]
# ## How do rotations encode relative position?
#
# Adding a position vector to the input mixes position into everything. The score of
# query $m$ for key $n$ in the first layer becomes
# $(x_m + p_m)^\top W_Q W_K^\top (x_n + p_n)$: four terms, three of which combine a
# token with an absolute position. The *rotary* position embedding (RoPE, Su et al.,
# 2021), used by Llama, Mistral, Qwen and most recent models, instead puts positions
# where attention compares them. In every layer, after the query and key projections, it
# rotates each pair of dimensions $(2i, 2i+1)$ of the query at position $m$ by the angle
# $m\theta_i$, and the key at position $n$ by $n\theta_i$, with the sinusoidal
# frequencies $\theta_i = 10000^{-2i/d}$ ($d$ is now the head's width). The values are
# left alone.
#
# For one pair, with $R(\alpha)$ the rotation by $\alpha$, the score is
#
# $$
# \big(R(m\theta) q\big)^\top \big(R(n\theta) k\big) = q^\top R(m\theta)^\top
# R(n\theta)\, k = q^\top R\big((n - m)\theta\big)\, k ,
# $$
#
# because $R(\alpha)^\top = R(-\alpha)$ and rotations add up. The score depends on the
# offset $n - m$, never on $m$ and $n$ themselves. For one pair:


# %%
def rotation(angle: float) -> torch.Tensor:
    """R(angle), the 2x2 matrix of a counter-clockwise rotation."""
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, -s], [s, c]], dtype=torch.float64)


torch.manual_seed(0)
q, k = torch.randn(2, dtype=torch.float64), torch.randn(2, dtype=torch.float64)
theta, offset = 0.3, 4
scores = []
for m in range(6):  # query at m, key at m + offset
    q_m, k_n = rotation(m * theta) @ q, rotation((m + offset) * theta) @ k
    scores.append(q_m @ k_n)
expected = q @ rotation(offset * theta) @ k
torch.testing.assert_close(torch.stack(scores), expected.expand(6))
print("score of (m, m + 4) for m = 0..5:", [f"{s:.4f}" for s in scores])

# %% [markdown]
# For a whole head, pair $i$ of the vector at position $t$ turns by $t\,\theta_i$:
# $(a, b) \mapsto
# (a\cos t\theta_i - b \sin t\theta_i,\; a \sin t\theta_i + b\cos t\theta_i)$.


# %%
def rope(x: torch.Tensor) -> torch.Tensor:
    """x: (T, d), row t at position t; pair (2i, 2i+1) turns by t * theta_i."""
    T, d = x.shape
    theta = 10000 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)  # (d/2,)
    angle = torch.arange(T, dtype=torch.float64)[:, None] * theta  # (T, d/2)
    a, b = x[:, 0::2], x[:, 1::2]
    out = torch.empty_like(x)
    out[:, 0::2] = a * angle.cos() - b * angle.sin()
    out[:, 1::2] = a * angle.sin() + b * angle.cos()
    return out


torch.manual_seed(0)
x = torch.randn(64, 32, dtype=torch.float64)
rotary = RotaryEmbedding(head_dim=32, block_size=64)
ours = rotary(x[None, None])[0, 0]  # it takes (B, H, T, head_dim)
torch.testing.assert_close(rope(x), ours)
torch.testing.assert_close(rope(x).norm(dim=-1), x.norm(dim=-1))
print("rope(x) equals gptcourse.positions.RotaryEmbedding, and keeps every norm")

# %% [markdown]
# Now the property that matters, for a whole head: put the same query vector $q$ at
# every position and the same key vector $k$ at every position. With RoPE, the score
# matrix $S_{mn}$ is constant along each diagonal $n - m = \text{const}$; with the
# position vectors added instead, it is not ({numref}`fig-rope-scores`).

# %% mystnb={"figure": {"caption": "Attention scores $S_{mn}$ of the same query vector at every position $m$ against the same key vector at every position $n$. With RoPE (left) each diagonal, a fixed offset $n - m$, has a single value: the score depends only on the offset. With the sinusoidal vectors added to query and key (right) it does not.", "name": "fig-rope-scores"}, "image": {"alt": "Two square heat maps, 64 by 64, in red and blue with a shared colour bar from minus 23 to 23, query position down the side and key position along the bottom. Left, RoPE: pale blue, with stripes that run exactly parallel to the main diagonal, each diagonal one colour. Right, added sinusoidal: mostly red, with blocks and blotches that change along every diagonal."}}
T, d = 64, 32
torch.manual_seed(1)
q, k = torch.randn(d, dtype=torch.float64), torch.randn(d, dtype=torch.float64)
S_rope = rope(q.expand(T, d)) @ rope(k.expand(T, d)).T  # (T, T)
pe = sinusoidal_encoding(T, d, dtype=torch.float64)
S_added = (q + pe) @ (k + pe).T

for n_minus_m in range(-(T - 1), T):
    diagonal = S_rope.diagonal(n_minus_m)  # every (m, m + n_minus_m)
    constant = diagonal[:1].expand_as(diagonal)
    torch.testing.assert_close(diagonal, constant, rtol=0, atol=1e-12)
spread = (S_added.diagonal(3) - S_added.diagonal(3)[0]).abs().max()
print("RoPE: every diagonal is constant")
print(f"added positions: the scores on diagonal n - m = 3 vary by {spread:.2f}")
assert spread > 0.1

fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.4), sharey=True)
panels = {"RoPE": S_rope, "added sinusoidal": S_added}
largest = max(S.abs().max().item() for S in panels.values())  # one colour scale
for ax, (title, S) in zip(axes, panels.items(), strict=True):
    image = ax.imshow(S.numpy(), cmap="RdBu_r", vmin=-largest, vmax=largest)
    ax.set_title(title)
    ax.set_xlabel("key position $n$")
axes[0].set_ylabel("query position $m$")
fig.colorbar(image, ax=axes, label="score $S_{mn}$", fraction=0.05)
plt.show()

# %% [markdown]
# Since scores see only offsets, moving a whole sequence to other positions changes no
# attention weight. The package's `RotaryEmbedding` takes
# explicit positions for that (the same mechanism lets generation continue a sequence):

# %%
rotary = RotaryEmbedding(head_dim=16, block_size=1000)
torch.manual_seed(0)
q, k, v = torch.randn(3, 1, 2, 8, 16, dtype=torch.float64)  # (B, H, T, head_dim)
weights = {}
for start in (0, 100, 900):
    p = torch.arange(start, start + 8)
    q_rotated, k_rotated = rotary(q, p), rotary(k, p)
    _, w = scaled_dot_product_attention(q_rotated, k_rotated, v, causal=True)
    weights[start] = w
torch.testing.assert_close(weights[0], weights[100])
torch.testing.assert_close(weights[0], weights[900])
print("attention weights at positions 0..7, 100..107 and 900..907 are identical")

# %% [markdown]
# ### Is it the RoPE of Llama?
#
# Hugging Face's `transformers` implements RoPE for Llama with one difference of
# convention: it pairs dimension $i$ with $i + d/2$ (its `rotate_half`) where we pair
# $2i$ with $2i + 1$. Rearranging the dimensions turns one convention into the other;
# since a score is a sum over dimensions, both give the same scores, and a model learns
# the same thing with either. We build Llama's rotary module from a small configuration
# (no weights are involved) and compare:

# %%
from transformers import LlamaConfig
from transformers.models.llama import modeling_llama

config = LlamaConfig(
    hidden_size=64,
    num_attention_heads=4,
    head_dim=16,  # the width of one head: RoPE's d
    max_position_embeddings=32,
)
llama_rope = modeling_llama.LlamaRotaryEmbedding(config)
torch.manual_seed(0)
q, k = torch.randn(2, 1, 4, 32, 16)  # (B, H, T, head_dim)
# Our pair i, dimensions (2i, 2i + 1), goes to dimensions (i, i + 8):
halves = torch.cat([torch.arange(0, 16, 2), torch.arange(1, 16, 2)])

cos, sin = llama_rope(q, position_ids=torch.arange(32)[None])
apply_rope = modeling_llama.apply_rotary_pos_emb
q_llama, k_llama = apply_rope(q[..., halves], k[..., halves], cos, sin)
rotary = RotaryEmbedding(head_dim=16, block_size=32)
torch.testing.assert_close(q_llama, rotary(q)[..., halves])
torch.testing.assert_close(
    q_llama @ k_llama.transpose(-2, -1), rotary(q) @ rotary(k).transpose(-2, -1)
)
print("Llama's RoPE in transformers = ours, up to the order of the dimensions")
print("and the scores are equal")

# %% [markdown]
# ## What happens beyond the trained length?
#
# A learned table has no row for a position it was not built with, as we saw. The
# sinusoidal and rotary encodings are formulas, defined at every position. But defined
# is not understood: a model trained on short sequences has never seen the vectors, or
# the angles between queries and keys, that long sequences produce.
#
# A small experiment shows what happens. The task needs positions: copy a sequence.
# The model reads $n$ random symbols, a separator, and must then repeat them, so the
# token to predict at each step is the one exactly $n + 1$ positions back. We train a
# small two-layer causal Transformer, of the kind the next chapters build, on copies of
# length $n \le 12$ (sequences of at most 24 tokens), three times: with sinusoidal,
# learned and rotary positions. Then we ask all three to copy up to 24 symbols. The
# learned model gets a table of 48 rows so that it can run at all; rows 24 to 47 are
# never used in training.

# %%
SYMBOLS, SEP = 8, 8  # symbols 0..7 to copy, then the separator's id
TRAIN_N, TEST_N = 12, 24  # train on copies of n <= 12 symbols, test up to n = 24
BLOCK_SIZE = 2 * TEST_N  # a copy of n symbols is an input of 2n tokens


def copy_batch(n: int, batch_size: int, generator: torch.Generator):
    """Inputs [a_1..a_n, SEP, a_1..a_{n-1}] (B, 2n) and targets (B, 2n).

    The copy a_1..a_n is predicted at positions n .. 2n - 1 (the separator
    predicts a_1); the targets of positions 0 .. n - 1 are -100, which the loss
    skips.
    """
    a = torch.randint(0, SYMBOLS, (batch_size, n), generator=generator)
    x = torch.cat([a, torch.full((batch_size, 1), SEP), a[:, :-1]], dim=1)
    y = torch.cat([torch.full((batch_size, n), -100), a], dim=1)
    return x, y


x, y = copy_batch(5, 1, torch.Generator().manual_seed(0))
print("input:  ", x[0].tolist())
print("targets:", y[0].tolist())

# %% [markdown]
# The model: token embeddings, then the positions (added to the embeddings, or applied
# as rotations inside attention), two blocks of causal attention and a small MLP, each
# with a residual connection and layer normalisation, and a linear read-out.


# %%
class Block(nn.Module):
    """A pre-norm Transformer block; with `rope`, attention rotates queries and keys."""

    def __init__(self, n_embd: int, n_head: int, rope: RotaryEmbedding | None):
        super().__init__()
        self.norm1 = nn.LayerNorm(n_embd)
        # rotary=None: no rotation; a RotaryEmbedding turns the queries and keys
        self.attn = CausalSelfAttention(n_embd, n_head, rotary=rope)
        self.norm2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(n_embd, 4 * n_embd),
            nn.GELU(),
            nn.Linear(4 * n_embd, n_embd),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B, T, C)
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyTransformer(nn.Module):
    def __init__(self, position: str, n_embd: int = 32, n_head: int = 4):
        super().__init__()
        self.embed = nn.Embedding(SYMBOLS + 1, n_embd)
        self.add_positions = nn.Identity()
        rope = None
        if position == "sinusoidal":
            self.add_positions = SinusoidalPositionalEncoding(BLOCK_SIZE, n_embd)
        elif position == "learned":
            self.add_positions = LearnedPositionalEmbedding(BLOCK_SIZE, n_embd)
        else:  # rotary: nothing is added, queries and keys turn in every block
            rope = RotaryEmbedding(n_embd // n_head, BLOCK_SIZE)
        blocks = [Block(n_embd, n_head, rope) for _ in range(2)]  # two layers
        self.blocks = nn.Sequential(*blocks)
        self.norm = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, SYMBOLS + 1)

    def forward(self, x: torch.Tensor, targets: torch.Tensor | None = None):
        h = self.blocks(self.add_positions(self.embed(x)))
        logits = self.head(self.norm(h))  # (B, T) -> (B, T, V)
        if targets is None:
            return logits, None
        # the positions whose target is -100 do not count
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())
        return logits, loss


def train(position: str, steps: int = 1200) -> TinyTransformer:
    torch.manual_seed(0)
    model = TinyTransformer(position)
    # No weight decay: a row of the learned table that is never used never moves.
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    generator = torch.Generator().manual_seed(1)

    def next_batch():  # a copy of random length n <= 12
        n = int(torch.randint(1, TRAIN_N + 1, (), generator=generator))
        return copy_batch(n, batch_size=32, generator=generator)

    training.train(model, optimizer, next_batch, steps)  # the loop of chapter 2
    return model


@torch.no_grad()
def copy_accuracy(model: TinyTransformer, n: int) -> float:
    """The fraction of n symbols copied right, over 256 new sequences."""
    x, y = copy_batch(n, 256, torch.Generator().manual_seed(1000 + n))
    logits, _ = model(x)
    return (logits[:, n:].argmax(-1) == y[:, n:]).float().mean().item()


# A model this small gains nothing from several CPU threads, and loses a lot when the
# cores are busy with something else: train on one.
torch.set_num_threads(1)
kinds = ["sinusoidal", "learned", "rotary"]
models = {kind: train(kind) for kind in kinds}
lengths = list(range(1, TEST_N + 1))
accuracy = {}  # kind -> the accuracy at each length
for kind in kinds:
    accuracy[kind] = [copy_accuracy(models[kind], n) for n in lengths]

# %% [markdown]
# Within the lengths it was trained on, each model copies almost perfectly
# ({numref}`fig-length-generalisation`). Beyond them, all three break down: the
# sinusoidal and learned ones as soon as the sequences get longer, the rotary one more
# gradually. At twice the trained length none of them is far above guessing (one chance
# in 8):

# %% mystnb={"figure": {"caption": "How many symbols each model copies right, by the length $n$ of the sequence: trained on $n \\le 12$ (shaded), tested up to $n = 24$. Every model is near perfect inside the trained lengths and breaks down beyond them; none is far above guessing (dotted) at twice the trained length.", "name": "fig-length-generalisation"}, "image": {"alt": "A line chart of the share of symbols copied right, from 0 to 1, against the sequence length from 1 to 24, with the lengths 1 to 12 shaded and a dotted line at 1/8 for guessing. The sinusoidal, learned and rotary curves stay near 1 up to 12; past it, the sinusoidal and learned curves drop at once and the rotary curve falls more gradually, all three ending well below 0.6 at lengths 21 to 24."}}
fig, ax = plt.subplots(figsize=(7.5, 3.6))
ax.axvspan(0.5, TRAIN_N + 0.5, color="gray", alpha=0.15, label="trained lengths")
for kind in kinds:
    ax.plot(lengths, accuracy[kind], "o-", markersize=3, label=kind)
ax.axhline(1 / SYMBOLS, color="black", linestyle=":", label="guessing")
ax.set_xlabel("length $n$ of the sequence to copy")
ax.set_ylabel("symbols copied right")
ax.set_ylim(0, 1.02)
ax.legend(loc="upper right")
plt.show()

# %% [markdown]
# The exact numbers depend a little on the machine (training accumulates rounding
# differences), so we assert only what the plot shows, and print the averages for this
# run:

# %%
for kind in kinds:
    inside = sum(accuracy[kind][:TRAIN_N]) / TRAIN_N
    at_double = sum(accuracy[kind][-4:]) / 4
    assert inside > 0.9 and at_double < 0.6, (kind, inside, at_double)
print("every model: > 90% within the trained lengths, < 60% at twice them")

# %% tags=["nbval-ignore-output"]
for kind in kinds:
    inside = sum(accuracy[kind][:TRAIN_N]) / TRAIN_N
    at_double = sum(accuracy[kind][-4:]) / 4
    print(f"{kind:>10}: n <= 12: {inside:.0%}, n = 21..24: {at_double:.0%}")

# %% [markdown]
# ### What did the learned table learn?
#
# The rows of the learned model's position table, compared by cosine similarity
# ({numref}`fig-learned-similarity`): the 24 rows used in training (positions 0 to 23)
# have organised themselves, with neighbouring positions similar and the similarity
# fading with distance, as for the sinusoids. Rows 24 to 47 never received a gradient:
# they are still exactly the random vectors they started as, which is why the learned
# model fails beyond length 12.

# %% mystnb={"figure": {"caption": "Cosine similarity between the rows of the learned position table after training. The 24 rows used in training (positions 0 to 23, top left of the lines) have organised themselves: neighbouring positions are similar, distant ones are not. Rows 24 to 47 never received a gradient and are still random.", "name": "fig-learned-similarity"}, "image": {"alt": "A square heat map of 48 by 48 positions in red and blue with a colour bar from minus 1 to 1, divided by black lines after position 23. In the top left block, red squares along the diagonal, where neighbouring positions are similar, and blue areas away from it, where distant positions point in opposite directions. Everywhere else, apart from the red diagonal of each row with itself, a speckle of pale red and blue with no structure."}}
table = models["learned"].add_positions.table.weight.detach()  # (48, 32)
torch.manual_seed(0)  # as in train(): the same initial weights
initial = TinyTransformer("learned").add_positions.table.weight.detach()
assert torch.equal(table[24:], initial[24:])  # never used in training: unchanged
assert not torch.equal(table[:24], initial[:24])

unit = table / table.norm(dim=1, keepdim=True)
fig, ax = plt.subplots(figsize=(5, 4))
plotting.heatmap(
    ax, unit @ unit.T, label="cosine similarity", cmap="RdBu_r", vmin=-1, vmax=1
)
ax.axhline(23.5, color="black", linewidth=0.8)
ax.axvline(23.5, color="black", linewidth=0.8)
ax.set_xlabel("position")
ax.set_ylabel("position")
plt.show()

# %% [markdown]
# So a model is used at the lengths it was trained at: GPT-2 at up to 1024 tokens,
# and models with longer contexts are trained (or fine-tuned) at those lengths.
# Stretching a rotary model's context is an active subject: *position interpolation*
# (Chen et al., 2023) and *YaRN* (Peng et al., 2023) rescale the rotation angles so that
# long sequences produce angles the model has seen, then fine-tune briefly at the new
# length, while ALiBi (Press et al., 2022) replaces position vectors by a penalty on
# attention scores that grows with distance, designed to extrapolate.
#
# The GPT we build next uses GPT-2's learned table.
#
# ## Exercises
#
# The exercises for this chapter are in
# {doc}`its exercise notebook <../exercises/solutions/06_positional_encoding>`, and in
# `exercises/06_positional_encoding.ipynb` to work through in JupyterLab.
