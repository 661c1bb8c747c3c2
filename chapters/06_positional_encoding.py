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
#
# ```{admonition} What you will be able to do
# - prove, and check in code, that attention without positions cannot tell
#   "dog bites man" from "man bites dog";
# - compute the sinusoidal encoding from its formula, and spot the garbled versions;
# - derive the rotation $M_k$ that moves a sinusoidal encoding by $k$ positions;
# - use `gptcourse.positions` for sinusoidal, learned and rotary positions, and show
#   that RoPE's scores depend only on the offset;
# - test whether a model extrapolates beyond its trained length, and name what
#   extends a context (position interpolation, relative biases).
# ```

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
from gptcourse.glue import glue
from gptcourse.positions import (
    LearnedPositionalEmbedding,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    sinusoidal_encoding,
    sinusoidal_shift_matrix,
)
from gptcourse.transformer import Block

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
# {term}`permutation equivariant`. The heads of
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
# vector a vector $p_t$ that encodes its position $t$, a {term}`positional encoding`.
# The permuted sentence then no longer consists of the same vectors in a different
# order, and the equivariance is gone (here with the sinusoidal vectors of the next
# section):

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
# The original Transformer {cite:p}`vaswani2017attention` adds a fixed vector to the
# embedding of the token at position $p$. Its dimensions come in pairs $(2i, 2i+1)$,
# and pair $i$ holds the sine and the cosine of the position at its own frequency:
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
# ````{admonition} A common mistake: a garbled formula
# :class: warning
# The course's outline, like several popular accounts, garbles this formula: it puts
# $i + 1$ in the exponents ($10000^{2(i+1)/d}$), lets the index run up to $d - 1$,
# and counts positions from 1. The original is the one above
# {cite:p}`vaswani2017attention`: pair $i = 0, \dots, d/2 - 1$ fills dimensions $2i$
# and $2i + 1$, with the exponent $2i/d$ in both, and the first position is $p = 0$.
# The garbled table is a different table, and its index runs off the vector:
# ````


# %%
def garbled(block_size: int, n_embd: int) -> torch.Tensor:
    """The outline's version: exponents with i + 1, positions counted from 1."""
    pe = torch.zeros(block_size, n_embd, dtype=torch.float64)
    for p in range(1, block_size + 1):
        for i in range(n_embd // 2):
            angle = p / 10000 ** (2 * (i + 1) / n_embd)
            pe[p - 1, 2 * i], pe[p - 1, 2 * i + 1] = math.sin(angle), math.cos(angle)
    return pe


gap = (garbled(50, 16) - sinusoidal_encoding(50, 16, dtype=torch.float64)).abs().max()
assert gap > 0.5
print("largest difference from the original table: more than 0.5 (of at most 2)")
try:  # "i up to d - 1": dimension 2i reaches 2(d - 1), past the last one, d - 1
    torch.zeros(16)[2 * (16 - 1)]
except IndexError as error:
    print(f"IndexError: {error}")

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
# ### How loud are the positions next to the tokens?
#
# Every sinusoidal vector has the same length: each pair contributes
# $\sin^2 + \cos^2 = 1$, so $\lVert \mathrm{PE}(p) \rVert = \sqrt{d/2}$. A token
# embedding initialised with entries of size $d^{-1/2}$ (a common choice when the
# embedding matrix is shared with the output layer, as in the Transformer) has length
# about 1, so the position would drown the token. The Transformer therefore multiplies
# its embeddings by $\sqrt{d_\text{model}}$ {cite:p}`vaswani2017attention` (section
# 3.4), which brings them to the positions' scale. With $d = 512$:

# %%
d = 512
torch.manual_seed(0)
embedding = torch.randn(1000, d) * d**-0.5  # 1000 token vectors, entries of size d^-1/2
token_norm = embedding.norm(dim=1).mean().item()
position_norm = sinusoidal_encoding(100, d).norm(dim=1)  # (100,): all sqrt(d / 2)
torch.testing.assert_close(position_norm, torch.full((100,), (d / 2) ** 0.5))
scaled_norm = (embedding * d**0.5).norm(dim=1).mean().item()
print(f"token {token_norm:.2f}, position {position_norm[0]:.2f}, ", end="")
print(f"token times sqrt(d) {scaled_norm:.1f}")
assert 0.9 < token_norm < 1.1 and 0.9 < scaled_norm / d**0.5 < 1.1

# %% [markdown]
# GPT-2 does not scale {cite:p}`radford2019language`: its token and position tables are
# both learned and both start with small random entries (a standard deviation of 0.01
# to 0.02), so neither drowns the other.

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
# analyses of GPT-2's trained table {cite:p}`wang2020position` find that they
# vary smoothly with the position, with wave-like patterns, and that neighbouring
# positions get similar vectors: training finds something reminiscent of the sinusoids.
# We will train such a table at the end of this chapter and look at it.
#
# Does it matter which one a model uses? For translation, hardly:
# {cite:t}`vaswani2017attention` trained their base model with a learned table instead
# of the sinusoids and "found that the two versions produced nearly identical results"
# (their Table 3, row E: the same development perplexity, 4.92, and 25.7 against 25.8
# BLEU). They kept the sinusoids for another reason, which the end of this chapter
# tests.
#
# A learned table has a hard limit: row `block_size` does not exist. GPT-2, as
# trained, cannot read token 1025: the model itself must change first, by growing its
# table (new rows interpolated between the trained ones, say) and training it further at
# the new length, which is what *position interpolation* does for rotary models
# {cite:p}`chen2023extending`. The package's table says so when asked for too much:

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
# $(x_m + p_m)^\top W (x_n + p_n)$, with $W = W_Q W_K^\top$: four terms.
# $x_m^\top W x_n$ compares the two tokens; $p_m^\top W p_n$ compares the two
# positions; and *two*, $x_m^\top W p_n$ and $p_m^\top W x_n$, combine a token with the
# absolute position of the other. The {term}`rotary position embedding`
# (RoPE, {cite:t}`su2021roformer`), used by Llama, Mistral, Qwen and most recent
# models, instead puts positions where attention compares them. In every layer, after
# the query and key projections, it rotates each pair of dimensions $(2i, 2i+1)$ of the
# query at position $m$ by the angle $m\theta_i$, and the key at position $n$ by
# $n\theta_i$, with the sinusoidal frequencies $\theta_i = 10000^{-2i/d}$ ($d$ is now
# the head's width). The values are left alone.
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
# sinusoidal and rotary encodings are formulas, defined at every position. The
# Transformer's authors chose the sinusoids for this reason: "because it may allow the
# model to extrapolate to sequence lengths longer than the ones encountered during
# training" {cite:p}`vaswani2017attention`. They did not test it. But defined is not
# understood: a model trained on short sequences has never seen the vectors, or the
# angles between queries and keys, that long sequences produce.
#
# A small experiment tests their hypothesis. The task needs positions: copy a sequence.
# The model reads $n$ random symbols, a separator, and must then repeat them, so the
# token to predict at each step is the one exactly $n + 1$ positions back. We train a
# small two-layer causal Transformer on copies of length $n \le 12$ (sequences of at
# most 24 tokens), three times: with sinusoidal, learned and rotary positions. Then we
# ask all three to copy up to 24 symbols. The learned model gets a table of 48 rows so
# that it can run at all; rows 24 to 47 are never used in training.

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
# as rotations inside attention), two of the Transformer blocks that the
# next chapter builds (`gptcourse.transformer.Block`: causal attention and a small MLP,
# each with a residual connection and layer normalisation), and a linear read-out.


# %%
class TinyTransformer(nn.Module):
    def __init__(self, position: str, n_embd: int = 32, n_head: int = 4):
        super().__init__()
        self.embed = nn.Embedding(SYMBOLS + 1, n_embd)
        self.add_positions, rope = nn.Identity(), None
        if position == "sinusoidal":
            self.add_positions = SinusoidalPositionalEncoding(BLOCK_SIZE, n_embd)
        elif position == "learned":
            self.add_positions = LearnedPositionalEmbedding(BLOCK_SIZE, n_embd)
        else:  # rotary: nothing is added, queries and keys turn in every block
            rope = RotaryEmbedding(n_embd // n_head, BLOCK_SIZE)
        blocks = [Block(n_embd, n_head, rotary=rope) for _ in range(2)]
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


# %% [markdown]
# Each model trains for 1,200 steps on copies of random lengths $n \le 12$, with the
# course's training loop, and is then scored on 256 new sequences of every length:


# %%
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


torch.set_num_threads(1)  # a model this small runs fastest on one CPU thread
kinds = ["sinusoidal", "learned", "rotary"]
models = {kind: train(kind) for kind in kinds}
lengths = list(range(1, TEST_N + 1))
accuracy = {kind: [copy_accuracy(models[kind], n) for n in lengths] for kind in kinds}

# %% [markdown]
# Within the lengths it was trained on, each model copies almost perfectly
# ({numref}`fig-length-generalisation`). Beyond them, all three break down, and
# Vaswani et al.'s hope fails: the sinusoidal model, whose positions are defined at
# every length, does no better than the learned one, whose rows 24 to 47 were never
# trained. The rotary model degrades more gradually: it still copies
# {glue:text}`copy_rotary_13_18` of the symbols at lengths 13 to 18, against
# {glue:text}`copy_sinusoidal_13_18` (sinusoidal) and {glue:text}`copy_learned_13_18`
# (learned). At twice the trained length all three copy between
# {glue:text}`copy_low_21_24` and {glue:text}`copy_high_21_24` of the symbols: two to
# three times better than guessing (one chance in 8), far from copying.

# %% mystnb={"figure": {"caption": "How many symbols each model copies right, by the length $n$ of the sequence: trained on $n \\le 12$ (shaded), tested up to $n = 24$. Every model is near perfect inside the trained lengths and breaks down beyond them, the rotary one more gradually; at twice the trained length all three are two to three times better than guessing (dotted), far from copying.", "name": "fig-length-generalisation"}, "image": {"alt": "A line chart of the share of symbols copied right, from 0 to 1, against the sequence length from 1 to 24, with the lengths 1 to 12 shaded and a dotted line at 1/8 for guessing. The sinusoidal, learned and rotary curves stay near 1 up to 12; past it, the sinusoidal and learned curves drop at once and the rotary curve falls more gradually, all three ending well below 0.6 at lengths 21 to 24."}}
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
# Training accumulates rounding differences, so the exact numbers depend a little on
# the machine: the cell below prints and glues this run's averages (those of the text
# above), and the one after it asserts, with margins, what the text says of them.


# %% tags=["nbval-ignore-output"]
def mean(values):
    return sum(values) / len(values)


summary = {}  # kind -> (n <= 12, n = 13..18, n = 21..24)
for kind in kinds:
    acc = accuracy[kind]
    summary[kind] = (
        mean(acc[:TRAIN_N]),
        mean(acc[TRAIN_N : TRAIN_N + 6]),
        mean(acc[-4:]),
    )
    print(f"{kind:>10}: n <= 12: {summary[kind][0]:.0%}, n = 13..18: ", end="")
    print(f"{summary[kind][1]:.0%}, n = 21..24: {summary[kind][2]:.0%}")
    glue(f"copy_{kind}_13_18", f"{summary[kind][1]:.0%}")
at_double = [summary[kind][2] for kind in kinds]
glue("copy_low_21_24", f"{min(at_double):.0%}")
glue("copy_high_21_24", f"{max(at_double):.0%}")

# %%
for kind in kinds:
    inside, beyond, double = summary[kind]
    assert inside > 0.9 and double < 0.6, (kind, inside, double)
    assert 1.5 / SYMBOLS < double < 4 / SYMBOLS  # above guessing, far from copying
others = max(summary["sinusoidal"][1], summary["learned"][1])
assert summary["rotary"][1] > others + 0.15  # rotary degrades more gradually
# the sinusoids extrapolate no better than a table whose rows 24 to 47 are random
assert all(summary["sinusoidal"][i] < summary["learned"][i] + 0.1 for i in (1, 2))
print("every model: > 90% within the trained lengths, < 60% at twice them,")
print("between 1.5 and 4 times chance at twice them; rotary ahead at n = 13..18;")
print("sinusoidal no more than 10 points above learned beyond the trained lengths")

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
# Stretching a rotary model's context is an active subject. {term}`Position
# interpolation` {cite:p}`chen2023extending` divides the positions by the factor of
# the extension, so that a sequence twice as long produces only angles the model has
# seen (at half the spacing), and fine-tunes briefly at the new length; YaRN
# {cite:p}`peng2024yarn` rescales the frequencies unevenly, the fast ones least.
#
# ### What else is there?
#
# Instead of giving tokens position vectors, a model can tell attention directly how
# far apart two tokens are. {cite:t}`shaw2018self` add a learned vector for each
# clipped distance $n - m$ to the keys; T5 {cite:p}`raffel2020exploring` adds a
# learned {term}`relative position bias` to each score, one number per bucket of
# distances (buckets that grow logarithmically) and per head, shared by all layers;
# {term}`ALiBi` {cite:p}`press2022train` adds a fixed penalty proportional to the
# distance, with a different slope per head, and was designed to extrapolate. RoPE, the
# relative encoding most models use today, makes the score depend on $n - m$ without
# any table at all.
#
# The full GPT, which the next chapter assembles from these parts, uses GPT-2's
# learned table.
#
# ## Summary
#
# - Self-attention without a mask is permutation equivariant: without positions,
#   "dog bites man" and "man bites dog" give the same vectors.
# - The sinusoidal encoding is
#   $\mathrm{PE}(p, 2i) = \sin(p/10000^{2i/d})$,
#   $\mathrm{PE}(p, 2i+1) = \cos(p/10000^{2i/d})$, positions from 0; a shift by $k$ is
#   a rotation $M_k$ that does not depend on $p$.
# - The Transformer scales its embeddings by $\sqrt{d_\text{model}}$ so that the
#   positions do not drown the tokens.
# - GPT-2 learns a table of 1024 positions; for translation, learned and sinusoidal
#   positions gave nearly identical results.
# - RoPE rotates queries and keys so that scores depend only on the offset; it is
#   Llama's RoPE up to the order of the dimensions.
# - Vaswani et al.'s hope that sinusoids extrapolate fails on the copy task: no
#   encoding copies at twice the trained length. Position interpolation and fine-tuning
#   stretch a context; relative biases such as ALiBi are designed to extrapolate.
#
# ## Exercises
#
# In
# {doc}`the exercises of this chapter <../exercises/solutions/06_positional_encoding>`
# (also `exercises/06_positional_encoding.ipynb`, to work through in JupyterLab):
#
# - Warm-up: the encoding of one position, from the formula.
# - Medium: derive the matrix $M_k$ that moves a position by $k$.
# - Medium: which layers know the order? Test permutation equivariance.
# - Medium: RoPE with interpolated positions, as position interpolation
#   does.
# - Stretch: change RoPE's base, train the copy model and measure how
#   far it extrapolates.
# - Written: why RoPE does not rotate the values.
#
# ## Further reading
#
# - {cite:t}`vaswani2017attention`, section 3.5: the sinusoidal encoding, the hope that
#   it extrapolates, and the learned alternative (Table 3, row E).
# - {cite:t}`su2021roformer`: rotary position embedding, with its derivation from
#   complex numbers.
# - {cite:t}`press2022train`: ALiBi, and a careful measurement of extrapolation for
#   sinusoidal, rotary and T5's relative positions.
# - {cite:t}`chen2023extending`: position interpolation, which extends Llama's context
#   from 2,048 to 32,768 tokens with a short fine-tuning.
# - {cite:t}`wang2020position`: what the learned position tables of GPT-2 and BERT
#   look like.
