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
# # Self-attention
#
# A language model predicts the next token from the ones before it, so every position
# must be able to gather information from the others. *Self-attention* is how a GPT does
# it: each position computes a weighted average of the whole sequence, with weights it
# chooses itself. This chapter builds it from one formula, first with explicit loops and
# then with matrices; finds out why the scores are divided by $\sqrt{d_k}$; adds the
# causal mask that keeps a language model from reading ahead; proves that the result is
# exactly what PyTorch computes; trains a one-layer model on Shakespeare to see what
# attention looks at; and measures what it costs.

# %%
import math
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from gptcourse import attention, data, plotting
from gptcourse.batches import get_batch, train_val_split
from gptcourse.char_tokenizer import CharTokenizer
from gptcourse.training import estimate_loss, train

torch.set_printoptions(precision=2, sci_mode=False)

# %% [markdown]
# ## How can a token gather information from the others?
#
# Take a sequence of $T$ tokens, each already turned into a vector
# $x_i \in \mathbb{R}^d$ (an embedding; here, random vectors stand in for them). The
# simplest way for position $i$ to collect information from the sequence is a weighted
# average of all the vectors, $z_i = \sum_j a_{ij} x_j$, where the weights are positive
# and sum to 1. Which weights? Those of the vectors that resemble $x_i$ the most,
# measured by the dot product and turned into positive weights that sum to 1 by a
# softmax:
#
# $$
# a_{ij} = \frac{\exp(x_i \cdot x_j)}{\sum_{j'=1}^{T} \exp(x_i \cdot x_{j'})},
# \qquad
# z_i = \sum_{j=1}^{T} a_{ij} \, x_j .
# $$
#
# Written with loops, exactly as the formula reads:

# %%
words = "the cat sat on the mat".split()
T, d = len(words), 4
torch.manual_seed(0)
X = torch.randn(T, d)  # (T, d): one vector per word

Z_loops = torch.zeros(T, d)
for i in range(T):
    scores = torch.zeros(T)
    for j in range(T):
        scores[j] = X[i] @ X[j]  # how much x_j resembles x_i
    # softmax over j
    a = torch.exp(scores) / torch.exp(scores).sum()
    for j in range(T):
        Z_loops[i] += a[j] * X[j]
print(Z_loops.round(decimals=2))

# %% [markdown]
# The double loop over $i$ and $j$ is one matrix product: all the dot products at once
# are $X X^\top$, a $(T, T)$ matrix whose row $i$ holds the scores of position $i$; a
# softmax along each row gives the weights $A$, and $Z = A X$ does all the weighted
# sums. Same numbers, one line each:

# %%
# (T, T): row i holds the weights of position i
A = torch.softmax(X @ X.T, dim=-1)
Z = A @ X  # (T, d)
torch.testing.assert_close(Z, Z_loops)
print("rows of A sum to:", A.sum(dim=-1).round(decimals=6).tolist())

# %% [markdown]
# This has no parameters at all: the weights are fixed by the embeddings, and since a
# vector tends to resemble itself most, most words look mostly at themselves.

# %%
on_itself = [f"{w:.2f}" for w in A.diagonal().tolist()]
print("weight of each word on itself:", " ".join(on_itself))
n_self = (A.argmax(dim=-1) == torch.arange(T)).sum().item()
print(f"words with most weight on themselves: {n_self} of {T}")

# %% [markdown]
# ## What are queries, keys and values?
#
# A word plays three parts in this computation, and they need not use the same vector.
# It *asks* (what am I looking for?), it *is matched* (what do I offer to those who
# look?) and it *is passed on* (what do I give to those who pick me?). Attention gives
# each part its own learned linear map of the input, a *query*, a *key* and a *value*:
#
# $$
# q_i = x_i W_Q, \qquad k_j = x_j W_K, \qquad v_j = x_j W_V,
# $$
#
# $$
# a_{ij} = \operatorname{softmax}_j(q_i \cdot k_j), \qquad z_i = \sum_j a_{ij} v_j,
# $$
#
# with $W_Q, W_K \in \mathbb{R}^{d \times d_k}$ and $W_V \in \mathbb{R}^{d \times d_v}$.
# Now "the" can learn to look for nouns, and "cat" to offer itself to articles, by
# training $W_Q$ and $W_K$; what is passed on, $v_j$, is free to differ from what is
# matched, $k_j$. Again first with loops:

# %%
d_k, d_v = 3, 4
torch.manual_seed(1)
W_Q, W_K = torch.randn(d, d_k), torch.randn(d, d_k)
W_V = torch.randn(d, d_v)

Z_loops = torch.zeros(T, d_v)
for i in range(T):
    q_i = X[i] @ W_Q  # (d_k,)
    k = [X[j] @ W_K for j in range(T)]  # T keys of shape (d_k,)
    scores = torch.stack([q_i @ k[j] for j in range(T)])  # (T,)
    a = torch.exp(scores) / torch.exp(scores).sum()
    Z_loops[i] = sum(a[j] * (X[j] @ W_V) for j in range(T))

# %% [markdown]
# and then as matrices, $Q = X W_Q$, $K = X W_K$, $V = X W_V$ (one row per position),
# and $Z = \operatorname{softmax}(Q K^\top) V$:

# %%
Q, K, V = X @ W_Q, X @ W_K, X @ W_V  # (T, d_k), (T, d_k), (T, d_v)
# (T, T) @ (T, d_v) -> (T, d_v)
Z = torch.softmax(Q @ K.T, dim=-1) @ V
torch.testing.assert_close(Z, Z_loops)
print(Z.round(decimals=2))

# %% [markdown]
# ## Why are the scores divided by $\sqrt{d_k}$?
#
# The formula used in every Transformer has one more factor:
#
# $$
# \operatorname{Attention}(Q, K, V)
#   = \operatorname{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V .
# $$
#
# Here is why. At initialisation, the entries of queries and keys are roughly
# independent with mean 0 and variance 1. A dot product
# $q \cdot k = \sum_{m=1}^{d_k} q_m k_m$ then sums $d_k$ independent terms, each of mean
# 0 and variance $\mathbb{E}[q_m^2]\,\mathbb{E}[k_m^2] = 1$, so
#
# $$
# \operatorname{Var}(q \cdot k) = d_k, \qquad
# \operatorname{Var}\!\left(\frac{q \cdot k}{\sqrt{d_k}}\right) = 1 .
# $$
#
# The scores grow with the width of the heads; dividing by $\sqrt{d_k}$ brings their
# spread back to 1 whatever the width. Measured on 20,000 random pairs per width:

# %%
torch.manual_seed(2)
n_pairs = 20_000
print(" d_k  Var(q.k)  Var(q.k)/d_k  Var(q.k/sqrt(d_k))")
for width in (4, 16, 64, 256, 1024):
    q, k = torch.randn(n_pairs, width), torch.randn(n_pairs, width)
    dots = (q * k).sum(dim=-1)
    var = dots.var().item()
    var_scaled = (dots / math.sqrt(width)).var().item()
    ratio = var / width
    print(f"{width:4d} {var:9.1f} {ratio:13.3f} {var_scaled:18.3f}")
    assert abs(ratio - 1) < 0.05 and abs(var_scaled - 1) < 0.05

# %% [markdown]
# Why does the spread of the scores matter? Because the softmax *saturates*: when its
# inputs are far apart, nearly all the weight goes to the largest one. Its output then
# hardly moves when the scores move, so almost no gradient flows back to the queries and
# keys, and the model cannot learn where to look. The gradient of the softmax
# $a = \operatorname{softmax}(s)$ with respect to its input is the Jacobian
#
# $$
# J = \frac{\partial a}{\partial s} = \operatorname{diag}(a) - a a^\top ,
# $$
#
# which is zero when $a$ is one-hot. We check that formula against autograd first:


# %%
def softmax_jacobian(a: torch.Tensor) -> torch.Tensor:
    """(..., T) weights -> (..., T, T) Jacobian of the softmax."""
    return torch.diag_embed(a) - a[..., :, None] * a[..., None, :]


torch.manual_seed(3)
s = torch.randn(16, dtype=torch.float64)
a = torch.softmax(s, dim=-1)
jacobian = torch.autograd.functional.jacobian
J_autograd = jacobian(lambda s: torch.softmax(s, dim=-1), s)
torch.testing.assert_close(softmax_jacobian(a), J_autograd)

# %% [markdown]
# Now we measure, for widths $d_k$ from 1 to 1024, how a query's 16 weights look with
# and without the division: their entropy (at most $\log 16 \approx 2.77$ for uniform
# weights, 0 for one-hot), the largest weight, and the size of the gradient (the
# Frobenius norm of $J$).


# %% mystnb={"figure": {"caption": "The softmax of 16 random scores as the width $d_k$ of queries and keys grows, without and with the division by $\\sqrt{d_k}$ (averages over 500 queries). Unscaled, the weights become one-hot (entropy near 0, largest weight near 1) and the gradient vanishes; scaled, all three stay where they start.", "name": "fig-scaling-softmax"}, "image": {"alt": "Three line charts against the width d_k on a logarithmic axis from 1 to 1024, each with an unscaled curve (blue) and a scaled curve (orange). Entropy: the scaled curve stays flat near 2.4 nats, below the dotted uniform level of 2.77, while the unscaled one falls from 2.4 to about 0.1. Largest weight: scaled flat near 0.25, unscaled rising to 0.96. Gradient size: scaled flat near 0.3, unscaled falling below 0.06."}}
def softmax_stats(scores: torch.Tensor) -> list[float]:
    """Entropy, largest weight, Jacobian norm of softmax(scores).

    scores: (N, T), one row per query.
    """
    a = torch.softmax(scores, dim=-1)
    entropy = -(a * torch.log(a.clamp_min(1e-30))).sum(dim=-1)
    largest = a.max(dim=-1).values
    grad_norm = torch.linalg.matrix_norm(softmax_jacobian(a))
    return [t.mean().item() for t in (entropy, largest, grad_norm)]


torch.manual_seed(4)
n_queries, n_keys = 500, 16
widths = [2**p for p in range(11)]
stats = {"unscaled": [], "scaled by 1/sqrt(d_k)": []}
for width in widths:
    q = torch.randn(n_queries, 1, width)
    k = torch.randn(n_queries, n_keys, width)
    scores = (q * k).sum(dim=-1)  # (n_queries, n_keys)
    stats["unscaled"].append(softmax_stats(scores))
    scaled_scores = scores / math.sqrt(width)
    scaled_stats = softmax_stats(scaled_scores)
    stats["scaled by 1/sqrt(d_k)"].append(scaled_stats)

plotting.use_style()  # the course's figure style: sizes, fonts, sharp images

fig, axes = plt.subplots(1, 3, figsize=(7.5, 3))
titles = ["entropy (nats)", "largest weight", "gradient size $\\|J\\|$"]
for m, (ax, title) in enumerate(zip(axes, titles, strict=True)):
    for label, rows in stats.items():
        values = [row[m] for row in rows]
        ax.plot(widths, values, marker="o", markersize=4, label=label)
    ax.set_xscale("log", base=2)
    ax.set_xticks([1, 8, 64, 1024], ["1", "8", "64", "1024"])
    ax.set_xlabel("$d_k$")
    ax.set_title(title)
uniform = math.log(n_keys)
axes[0].axhline(uniform, ls=":", color="gray", label="uniform")
fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=3)
plt.show()

print("at d_k = 1024          entropy  largest weight  gradient")
for label, rows in stats.items():
    entropy, largest, grad = rows[-1]
    print(f"{label:<21} {entropy:7.2f} {largest:15.2f} {grad:9.3f}")
scaled, unscaled = stats["scaled by 1/sqrt(d_k)"], stats["unscaled"]
# With the scaling, the entropy is the same at every width ...
entropies = [row[0] for row in scaled]
assert max(entropies) - min(entropies) < 0.15
# ... without it, the softmax saturates and its gradient vanishes.
assert unscaled[-1][1] > 0.9  # the largest weight
assert unscaled[-1][2] < 0.2 * scaled[-1][2]  # the gradient

# %% [markdown]
# Without the division ({numref}`fig-scaling-softmax`), the weights become nearly
# one-hot as the heads widen (GPT-2 uses $d_k = 64$) and the gradient shrinks
# several-fold; with it, entropy, largest weight and gradient stay the same at every
# width. The factor does not change what attention can express (the model could learn
# smaller $W_Q$), only where training starts, and that decides whether training works.
#
# Here is the chapter's attention function, with the scaling, and optionally a mask (the
# next section explains it). It returns the weights too, so that we can look at them.


# %%
def attend(q, k, v, mask=None):
    """Scaled dot-product attention.

    q (..., T_q, d_k), k (..., T_k, d_k), v (..., T_k, d_v);
    mask: bool, broadcastable to (..., T_q, T_k), True = may attend.
    Returns (output (..., T_q, d_v), weights (..., T_q, T_k)).
    """
    d_k = q.shape[-1]
    # (..., T_q, d_k) @ (..., d_k, T_k) -> (..., T_q, T_k)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)
    if mask is not None:
        # exp(-inf) = 0: no weight where the mask is False
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


# %% [markdown]
# ## Why must a language model not look ahead?
#
# A language model is trained to predict token $t+1$ from tokens $1, \dots, t$, and it
# learns from every position of a training window at once: position $t$'s target is the
# input at position $t+1$. If position $t$ could attend to position $t+1$, it would find
# the answer there and copy it; it would learn nothing usable for generating text, where
# the next token does not exist yet. So each query $i$ may only attend to keys
# $j \le i$.
#
# The *causal mask* is the $(T, T)$ boolean matrix that is `True` where attention is
# allowed: on and below the diagonal. The scores of forbidden pairs are set to
# $-\infty$ before the softmax, so that $e^{-\infty} = 0$ gives them no weight while the
# allowed weights still sum to 1. (Setting them to 0 instead would not work:
# $e^0 = 1$.)

# %%
# (T, T), True where j <= i: the lower triangle
mask = torch.ones(T, T, dtype=torch.bool).tril()
assert torch.equal(mask, attention.causal_mask(T))
print(mask.int())

_, weights = attend(Q, K, V, mask=mask)
print(weights.round(decimals=2))
assert torch.all(weights[~mask] == 0)
torch.testing.assert_close(weights.sum(dim=-1), torch.ones(T))

# %% [markdown]
# The first word can only attend to itself (weight 1); every later word shares its
# weight among itself and the words before it. Is the future really invisible? Change
# the last three words: the outputs of the first three positions must not move, while
# without the mask they all do.

# %%
torch.manual_seed(5)
X_changed = X.clone()
# new vectors for "on the mat"
X_changed[3:] = torch.randn(T - 3, d)


def outputs(X, mask):
    return attend(X @ W_Q, X @ W_K, X @ W_V, mask=mask)[0]


def change(mask):
    """Per position, the largest change of the output."""
    diff = outputs(X, mask) - outputs(X_changed, mask)
    return diff.abs().amax(dim=-1)  # (T,)


with_mask, without_mask = change(mask), change(None)
print("word  output change: with the mask  without")
for i, word in enumerate(words):
    print(f"{word:>4} {with_mask[i]:27.4f} {without_mask[i]:8.4f}")
assert torch.all(with_mask[:3] == 0)
assert torch.all(without_mask[:3] > 0)

# %% [markdown]
# ## Is this what PyTorch computes?
#
# PyTorch has this very operation, `torch.nn.functional.scaled_dot_product_attention`
# (which runs fused, memory-saving kernels when it can), and the companion package has
# the version we use from now on, `gptcourse.attention.scaled_dot_product_attention`. On
# a batch of sequences in double precision, with and without the causal mask, the three
# agree to within $10^{-12}$ (double precision rounds at about $10^{-16}$, so the bound
# holds on any machine):

# %%
torch.manual_seed(6)
q = torch.randn(2, 7, 16, dtype=torch.float64)  # (B, T, d_k)
k = torch.randn(2, 7, 16, dtype=torch.float64)
v = torch.randn(2, 7, 8, dtype=torch.float64)  # (B, T, d_v)
torch_attention = F.scaled_dot_product_attention
package_attention = attention.scaled_dot_product_attention
for causal in (False, True):
    mask = attention.causal_mask(7) if causal else None
    ours, ours_w = attend(q, k, v, mask=mask)
    theirs = torch_attention(q, k, v, is_causal=causal)
    package, package_w = package_attention(q, k, v, causal=causal)
    tight = {"rtol": 0, "atol": 1e-12}
    torch.testing.assert_close(ours, theirs, **tight)
    torch.testing.assert_close(package, theirs, **tight)
    torch.testing.assert_close(ours_w, package_w, **tight)
    largest = (ours - theirs).abs().max().item()
    assert largest < 1e-12
    print(f"causal={causal}: largest difference below 1e-12")

# %% [markdown]
# ## What does attention look at in real text?
#
# Random weights only show the mechanics. To see what attention *learns*, we train the
# smallest language model that has it, on Tiny Shakespeare, one character per token:
# an embedding of each character and of its position (a model needs to know where
# tokens are: {doc}`chapter 6 <../chapters/06_positional_encoding>` is about that),
# one attention head, and a linear map
# from its output to a score for every character of the vocabulary. The input is
# added back to the head's output so that the model still knows the current character
# whatever the head attends to.

# %%
text = data.load_text("tinyshakespeare")
tokenizer = CharTokenizer.from_text(text)
ids = torch.tensor(tokenizer.encode(text))
train_ids, val_ids = train_val_split(ids)


class AttentionHead(nn.Module):
    """A causal head: (B, T, d) -> (B, T, d), weights (B, T, T)."""

    def __init__(self, d: int, d_k: int):
        super().__init__()
        self.query = nn.Linear(d, d_k, bias=False)
        self.key = nn.Linear(d, d_k, bias=False)
        self.value = nn.Linear(d, d, bias=False)

    def forward(self, x):
        return attention.scaled_dot_product_attention(
            self.query(x), self.key(x), self.value(x), causal=True
        )


class OneHeadLM(nn.Module):
    """Characters (B, T) -> next-character logits (B, T, vocab), and the loss."""

    def __init__(self, vocab_size: int, block_size: int, d: int):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, d)
        self.position_embedding = nn.Embedding(block_size, d)
        self.head = AttentionHead(d, d)
        self.to_logits = nn.Linear(d, vocab_size)

    def embed(self, idx):
        T = idx.shape[1]
        tokens = self.token_embedding(idx)  # (B, T, d)
        # (T, d): one vector per position
        positions = self.position_embedding(torch.arange(T))
        return tokens + positions  # (B, T, d)

    def forward(self, idx, targets=None):
        x = self.embed(idx)
        z, _ = self.head(x)  # (B, T, d)
        logits = self.to_logits(x + z)  # (B, T, vocab)
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten())

    def attention_weights(self, idx):
        """The head's weights, (B, T, T)."""
        return self.head(self.embed(idx))[1]


def val_batch(block_size):
    """The same 256 windows of the validation text every time."""
    generator = torch.Generator().manual_seed(0)
    return get_batch(val_ids, 256, block_size, generator=generator)


# For comparison, a model that sees only the current character:
# the next character's probabilities are the counts of character
# pairs in the training text (a bigram model).
V_chars = tokenizer.vocab_size
# each (current, next) pair of the training text as one number
pairs = train_ids[:-1] * V_chars + train_ids[1:]
counts = torch.bincount(pairs, minlength=V_chars**2)
# add one to every count, so that no pair has probability 0
counts = counts.reshape(V_chars, V_chars).double() + 1.0
log_probs = torch.log(counts / counts.sum(dim=-1, keepdim=True))
x, y = val_batch(64)
bigram_loss = -log_probs[x, y].mean().item()
print(f"bigram model:     validation loss {bigram_loss:.3f} nats")


# %%
torch.manual_seed(7)
block_size = 64
model = OneHeadLM(tokenizer.vocab_size, block_size, d=64)
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
generator = torch.Generator().manual_seed(7)
# The mean loss on val_batch(block_size), the same 256 windows (seed 0):
initial_loss = estimate_loss(model, val_ids, batch_size=256, block_size=block_size)
print(f"before training:  validation loss {initial_loss:.3f} nats")


def next_batch():
    return get_batch(train_ids, 32, block_size, generator=generator)


train(model, optimizer, next_batch, steps=400)  # the training loop of chapter 2
trained_loss = estimate_loss(model, val_ids, batch_size=256, block_size=block_size)
print(f"after 400 steps:  validation loss {trained_loss:.3f} nats")
assert trained_loss < bigram_loss

# %% [markdown]
# Now the weights on a line the model never trained on (it comes from the validation
# part of the text), in {numref}`fig-trained-head`. Row $i$ of the picture is the query
# at character $i$; the columns are the characters it may attend to; darker is more
# weight. Everything above the diagonal is white: that is the causal mask at work.


# %% mystnb={"figure": {"caption": "The attention weights of the trained head on a line from the validation text: row $i$ is the query at character $i$, column $j$ the weight it gives to character $j$. Above the diagonal everything is zero, the causal mask at work; the dark band just below it is the character right before each query.", "name": "fig-trained-head"}, "image": {"alt": "A triangular heat map of 49 rows by 49 columns in shades of blue, both axes labelled with the characters of the line TRANIO:, a line break, then Pardon me, sir, the boldness is mine own, with a colour bar from 0 to 1. The upper right triangle is white. The darkest cells form a band just below the diagonal, one step to the left of it; the other cells of each row are pale."}}
def show_attention(ax, weights, chars, title=""):
    """Draw (T, T) weights with the characters along both axes."""
    labels = ["↵" if c == "\n" else c for c in chars]
    plotting.heatmap(
        ax, weights, label="attention weight", cmap="Blues", vmin=0, vmax=1
    )
    ticks = range(len(chars))
    ax.set_xticks(ticks, labels, fontsize=9, family="monospace")
    ax.set_yticks(ticks, labels, fontsize=9, family="monospace")
    ax.tick_params(length=0)
    ax.set_xlabel("key: the character attended to")
    ax.set_ylabel("query: the character attending")
    ax.set_title(title)


line = "TRANIO:\nPardon me, sir, the boldness is mine own,"
# The line comes from the validation part of the text:
assert text.index(line) > len(text) - len(val_ids)
with torch.no_grad():
    line_weights = model.attention_weights(torch.tensor([tokenizer.encode(line)]))
line_weights = line_weights[0]  # (T, T)

fig, ax = plt.subplots(figsize=(7.5, 7))
show_attention(ax, line_weights, line)
plt.show()

# %% [markdown]
# The dark band just below the diagonal says that most queries put most of their weight
# on the character *right before* them. Averaged over all the queries of the line, the
# weight each one gives to the character $\Delta$ positions back:

# %%
# diagonal(-delta): the weights of the queries on the key delta back
w = line_weights
by_offset = [w.diagonal(-delta).mean().item() for delta in range(6)]
for delta, weight in enumerate(by_offset):
    note = "   (itself)" if delta == 0 else ""
    print(f"{delta} back: {weight:.2f}{note}")
assert max(range(6), key=lambda delta: by_offset[delta]) == 1

# %% [markdown]
# With the current character coming through the added input, and the previous one
# through attention, the model predicts from the last two characters; that is why its
# loss fell below the bigram model's, which sees only the current one. A single head
# gives each query a single weighted average, so it has to choose one thing to look
# at; the {doc}`next chapter <../chapters/05_multi_head_attention>` lets a layer look
# at several.
#
# ## What does attention cost?
#
# Every query is scored against every key: for a sequence of $T$ tokens that is a
# $(T, T)$ matrix of scores, so both the work and the memory grow as $T^2$. Doubling the
# context quadruples them. The memory of the weights is exact arithmetic: $T^2$ numbers
# of 4 bytes (float32), per head and per sequence. Training keeps them for the backward
# pass in every head of every layer, unless a fused kernel avoids storing them; the
# last line counts them for GPT-2, 12 layers of 12 heads, on 1024 tokens.

# %%
lengths = [128, 256, 512, 1024, 2048]
print("     T   weights of one head")
for T_len in lengths:
    torch.manual_seed(8)
    q = k = v = torch.randn(1, T_len, 64)
    _, w = package_attention(q, k, v, causal=True)  # w: (1, T, T)
    nbytes = w.nelement() * w.element_size()
    assert nbytes == 4 * T_len**2
    print(f"{T_len:6d}   {nbytes / 2**20:8.2f} MiB")
# layers x heads x bytes x T^2
gpt2_mib = 12 * 12 * 4 * 1024**2 / 2**20
print(f"GPT-2, 12 layers x 12 heads, T = 1024: {gpt2_mib:.0f} MiB")

# %% [markdown]
# The time, measured on this machine (your numbers will differ; the shape of the curve
# will not): the fastest of five runs of one head of width 64, for each length.

# %% tags=["nbval-ignore-output"] mystnb={"figure": {"caption": "What one head of width 64 costs as the sequence grows, on log-log axes. Left: its time on this machine (the fastest of five runs), against a line growing as $T^2$. Right: the memory of its $(T, T)$ weights, exactly $4T^2$ bytes.", "name": "fig-attention-cost"}, "image": {"alt": "Two line charts on logarithmic axes against the sequence length T from 128 to 2048. Left, the measured time in milliseconds: it rises more slowly than the dotted T-squared line for short sequences and parallel to it for long ones. Right, the memory of the weights in mebibytes: a straight line from 0.06 at T = 128 to 16 at T = 2048, four times more for each doubling."}}
times = []
for T_len in lengths:
    q = k = v = torch.randn(1, T_len, 64)
    # a first call, not timed: it sets things up
    package_attention(q, k, v, causal=True)
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        package_attention(q, k, v, causal=True)
        runs.append(time.perf_counter() - start)
    # the fastest run is the least disturbed by other programs
    times.append(min(runs))

fig, (ax_time, ax_memory) = plt.subplots(1, 2, figsize=(7.5, 3))
milliseconds = [t * 1e3 for t in times]
ax_time.loglog(lengths, milliseconds, marker="o", label="measured")
ax_time.loglog(
    lengths,
    [times[-1] * 1e3 * (n / lengths[-1]) ** 2 for n in lengths],
    linestyle=":",
    color="gray",
    label="$\\propto T^2$",
)
ax_time.set_xlabel("sequence length T")
ax_time.set_ylabel("time (ms)")
ax_time.legend()
mebibytes = [4 * n**2 / 2**20 for n in lengths]
ax_memory.loglog(lengths, mebibytes, marker="o", color="tab:orange")
ax_memory.set_xlabel("sequence length T")
ax_memory.set_ylabel("memory of the weights (MiB)")
for ax in (ax_time, ax_memory):
    ax.set_xticks(lengths, [str(n) for n in lengths])
    ax.minorticks_off()
plt.show()
ratios = [b / a for a, b in zip(times, times[1:], strict=False)]
print("time ratio per doubling:", [round(r, 1) for r in ratios])

# %% [markdown]
# In {numref}`fig-attention-cost`, on short sequences the fixed costs dominate and the
# time grows more slowly; on long ones each doubling costs about four times as much.
# This quadratic cost is why models have a fixed context length (1024 tokens for GPT-2),
# and why so much work has gone into attention that never stores the $(T, T)$ matrix
# (FlashAttention, which PyTorch's `scaled_dot_product_attention` uses on GPUs, computes
# the same result in blocks).
#
# ## Exercises
#
# The exercises for this chapter are in
# {doc}`its exercise notebook <../exercises/solutions/04_self_attention>`, and in
# `exercises/04_self_attention.ipynb` to work through in JupyterLab.
