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
# must be able to gather information from the others. {term}`Self-attention` is how a
# GPT does it: each position computes a weighted average of the whole sequence, with
# weights it chooses itself. This chapter builds it from one formula, first with
# explicit loops and then with matrices; measures what the division by $\sqrt{d_k}$
# does to training; adds the {term}`causal mask` that keeps a language model from
# reading ahead, and shows what a model learns without it; proves that the result is
# what PyTorch computes, masks and all; trains a one-head model on Shakespeare to see
# what attention looks at; and measures what it costs.
#
# ```{admonition} What you will be able to do
# - compute self-attention with loops and with matrices, from queries, keys and values;
# - explain, with measurements, what dividing the scores by $\sqrt{d_k}$ changes at the
#   start of training, and what it does not;
# - build causal and padding masks, and use the opposite boolean conventions of
#   {py:class}`torch.nn.MultiheadAttention` and
#   {py:func}`torch.nn.functional.scaled_dot_product_attention` without mixing them up;
# - tell self-attention from {term}`cross-attention`, and say where each is used;
# - show why a language model without the causal mask learns to cheat;
# - estimate the memory and time that attention costs as the context grows.
# ```

# %%
import math
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from gptcourse import attention, data, plotting
from gptcourse.attention_lm import OneHeadLM
from gptcourse.batches import get_batch, train_val_split
from gptcourse.char_tokenizer import CharTokenizer
from gptcourse.glue import glue
from gptcourse.training import estimate_loss, train

torch.set_printoptions(precision=2, sci_mode=False)
torch.set_num_threads(1)  # this chapter's models are tiny: one thread runs them fastest

# %% [markdown]
# ## How can a token gather information from the others?
#
# Take a sequence of $T$ tokens, each already turned into a vector
# $x_i \in \mathbb{R}^d$ by an {term}`embedding` table, as at the end of
# {doc}`chapter 3 <../chapters/03_tokenisation>`. The simplest way for position $i$ to
# collect information from the sequence is a weighted average of all the vectors,
# $z_i = \sum_j a_{ij} x_j$, where the weights are positive and sum to 1. Which
# weights? Those of the vectors that resemble $x_i$ the most, measured by the dot
# product and turned into positive weights that sum to 1 by a {term}`softmax`:
#
# $$
# a_{ij} = \frac{\exp(x_i \cdot x_j)}{\sum_{j'=1}^{T} \exp(x_i \cdot x_{j'})},
# \qquad
# z_i = \sum_{j=1}^{T} a_{ij} \, x_j .
# $$
#
# We give each word of "the cat sat on the mat" an id and look its vector up in a
# (random, untrained) embedding table, so the two "the"s share one vector. Then the
# formula, written with loops exactly as it reads:

# %%
words = "the cat sat on the mat".split()
vocab = {w: i for i, w in enumerate(dict.fromkeys(words))}  # the=0, cat=1, ...
word_ids = torch.tensor([vocab[w] for w in words])  # (T,) = [0, 1, 2, 3, 0, 4]
T, d = len(words), 4
torch.manual_seed(0)
embedding = nn.Embedding(len(vocab), d)
X = embedding(word_ids).detach()  # (T, d): one vector per word, equal for equal ids

Z_loops = torch.zeros(T, d)
for i in range(T):
    scores = torch.zeros(T)
    for j in range(T):
        scores[j] = X[i] @ X[j]  # how much x_j resembles x_i
    a = torch.exp(scores) / torch.exp(scores).sum()  # softmax over j
    for j in range(T):
        Z_loops[i] += a[j] * X[j]
print(Z_loops.round(decimals=2))

# %% [markdown]
# The double loop over $i$ and $j$ is one matrix product: all the dot products at once
# are $X X^\top$, a $(T, T)$ matrix whose row $i$ holds the scores of position $i$; a
# softmax along each row gives the weights $A$, and $Z = A X$ does all the weighted
# sums. Same numbers, one line each:

# %%
A = torch.softmax(X @ X.T, dim=-1)  # (T, T): row i holds the weights of position i
Z = A @ X  # (T, d)
torch.testing.assert_close(Z, Z_loops)
print("rows of A sum to:", A.sum(dim=-1).round(decimals=6).tolist())
assert torch.equal(Z[0], Z[4])  # the two "the"s: same vector in, same vector out
print("the two 'the's give equal outputs:", torch.equal(Z[0], Z[4]))

# %% [markdown]
# The two "the"s come out identical: nothing in this computation knows *where* a word
# stands, only which word it is. ({doc}`Chapter 6 <../chapters/06_positional_encoding>`
# adds positions.) And it has no parameters at all: the weights are fixed by the
# embeddings, and since a vector tends to resemble itself most, most words look mostly
# at themselves.

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
# each part its own learned linear map of the input, a {term}`query`, a key and a
# value:
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
Z = torch.softmax(Q @ K.T, dim=-1) @ V  # (T, T) @ (T, d_v) -> (T, d_v)
torch.testing.assert_close(Z, Z_loops)
print(Z.round(decimals=2) + 0.0)  # + 0.0: no "-0.00"

# %% [markdown]
# ## Why are the scores divided by $\sqrt{d_k}$?
#
# The formula used in every Transformer has one more factor
# {cite:p}`vaswani2017attention`, and is called {term}`scaled dot-product attention`:
#
# $$
# \operatorname{Attention}(Q, K, V)
#   = \operatorname{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V .
# $$
#
# The usual argument goes like this. *Suppose* that the entries of queries and keys are
# independent, with mean 0 and variance 1. A dot product
# $q \cdot k = \sum_{m=1}^{d_k} q_m k_m$ then sums $d_k$ independent terms, each of mean
# 0 and variance $\mathbb{E}[q_m^2]\,\mathbb{E}[k_m^2] = 1$, so
#
# $$
# \operatorname{Var}(q \cdot k) = d_k, \qquad
# \operatorname{Var}\!\left(\frac{q \cdot k}{\sqrt{d_k}}\right) = 1 .
# $$
#
# Measured on 20,000 random pairs per width, under that assumption:

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
# Variance 1 is an assumption, not a fact about real models. Queries are
# $q = x W_Q$, and PyTorch's default initialisation of {py:class}`torch.nn.Linear`
# draws each weight uniformly from $\pm 1/\sqrt{d}$, of variance $1/(3d)$; summed over
# the $d$ inputs, an entry of $q$ has variance $\operatorname{Var}(x)/3$. Measured:

# %%
torch.manual_seed(3)
x = torch.randn(100_000, 64)  # inputs of variance 1
W_Q_init = nn.Linear(64, 64, bias=False)  # PyTorch's default initialisation
var_q = W_Q_init(x).var().item()
glue("var_q", f"{var_q:.3f}")
print(f"Var(x) = {x.var().item():.3f}, Var(q) = {var_q:.3f}")
assert abs(var_q - 1 / 3) < 0.02

# %% [markdown]
# With inputs of variance 1, queries and keys have entries of variance
# {glue:text}`var_q`, not 1, so their scaled dot products have variance about
# $1/9$, not 1. What the division does guarantee is that the spread of the scores
# does not grow with the width $d_k$. Why does that spread matter? Because the softmax
# *saturates*: when its inputs are far apart, nearly all the weight goes to the
# largest one, and its output hardly moves when the scores move. The gradient of
# $a = \operatorname{softmax}(s)$ with respect to $s$ is the Jacobian
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
# Now, for widths $d_k$ from 1 to 1024 and unit-variance queries and keys, how a
# query's 16 weights look with and without the division: their entropy (at most
# $\log 16 \approx 2.77$ for uniform weights, 0 for one-hot), the largest weight, and
# the size of the softmax's Jacobian (its Frobenius norm), averaged over 500 queries:


# %%
def softmax_stats(scores: torch.Tensor) -> list[float]:
    """Mean entropy, largest weight and Jacobian norm of softmax(scores), (N, T)."""
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
    stats["scaled by 1/sqrt(d_k)"].append(softmax_stats(scores / math.sqrt(width)))

print("at d_k = 1024          entropy  largest weight  softmax Jacobian")
for label, rows in stats.items():
    entropy, largest, grad = rows[-1]
    print(f"{label:<21} {entropy:7.2f} {largest:15.2f} {grad:17.3f}")
scaled, unscaled = stats["scaled by 1/sqrt(d_k)"], stats["unscaled"]
entropies = [row[0] for row in scaled]
assert max(entropies) - min(entropies) < 0.15  # scaled: the same at every width
assert unscaled[-1][1] > 0.9  # unscaled: nearly one-hot ...
assert unscaled[-1][2] < 0.2 * scaled[-1][2]  # ... and a flat softmax

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The softmax of 16 random scores as the width $d_k$ of unit-variance queries and keys grows, without and with the division by $\\sqrt{d_k}$ (averages over 500 queries). Unscaled, the weights become one-hot (entropy near 0, largest weight near 1) and the softmax's own Jacobian vanishes; scaled, all three stay where they start.", "name": "fig-scaling-softmax"}, "image": {"alt": "Three line charts against the width d_k on a logarithmic axis from 1 to 1024, each with an unscaled curve (blue) and a scaled curve (orange). Entropy: the scaled curve stays flat near 2.4 nats, below the dotted uniform level of 2.77, while the unscaled one falls from 2.4 to about 0.1. Largest weight: scaled flat near 0.25, unscaled rising to 0.96. Size of the softmax Jacobian: scaled flat near 0.3, unscaled falling below 0.06."}}
plotting.use_style()  # the course's figure style: sizes, fonts, sharp images

fig, axes = plt.subplots(1, 3, figsize=(7.5, 3))
titles = ["entropy (nats)", "largest weight", "softmax Jacobian $\\|J\\|$"]
for m, (ax, title) in enumerate(zip(axes, titles, strict=True)):
    for label, rows in stats.items():
        values = [row[m] for row in rows]
        ax.plot(widths, values, marker="o", markersize=4, label=label)
    ax.set_xscale("log", base=2)
    ax.set_xticks([1, 8, 64, 1024], ["1", "8", "64", "1024"])
    ax.set_xlabel("$d_k$")
    ax.set_title(title)
axes[0].axhline(math.log(n_keys), ls=":", color="gray", label="uniform")
fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=3)
plt.show()

# %% [markdown]
# Unscaled ({numref}`fig-scaling-softmax`), the weights become nearly one-hot as the
# heads widen, and the softmax's Jacobian shrinks several-fold. But that is the
# softmax alone. The gradient that reaches the queries is $J$ times the keys, and
# unscaled keys enter the scores $\sqrt{d_k}$ times larger, which multiplies the
# gradient back up. So what reaches $W_Q$ in a real model? We take the one-head
# language model trained later in this chapter (`gptcourse.attention_lm.OneHeadLM`,
# with $d_k = 64$ like GPT-2's heads), initialise it twice from the same seed, with and
# without the division, and measure on one batch of Shakespeare the gradient of the
# loss with respect to each query row $q_i$, and with respect to $W_Q$:

# %%
text = data.load_text("tinyshakespeare")
tokenizer = CharTokenizer.from_text(text)
ids = torch.tensor(tokenizer.encode(text))
train_ids, val_ids = train_val_split(ids)  # the last 10 %, as everywhere in the course
block_size = 64
batch = get_batch(train_ids, 32, block_size, generator=torch.Generator().manual_seed(0))


def gradients_at_init(scaled: bool):
    """Per-query gradient norms (B*(T-1),), the norm of dL/dW_Q, largest weights."""
    torch.manual_seed(7)
    model = OneHeadLM(tokenizer.vocab_size, block_size, n_embd=64, scaled=scaled)
    queries = []
    hook = model.head.query.register_forward_hook(lambda m, i, q: queries.append(q))
    _, loss = model(*batch)
    queries[0].retain_grad()
    loss.backward()
    hook.remove()
    # position 0 has one key only: its weights are always [1], its gradient 0
    per_query = queries[0].grad[:, 1:].norm(dim=-1).flatten()
    largest = model.attention_weights(batch[0])[:, 1:].max(dim=-1).values.flatten()
    return per_query, model.head.query.weight.grad.norm().item(), largest.detach()


# %% [markdown]
# The queries' gradients, their spread, and how peaked the attention is at the start:

# %%
at_init = {scaled: gradients_at_init(scaled) for scaled in (True, False)}
reference = at_init[True][0].median()  # the scaled model's median query gradient
print("         median |dL/dq_i|  |dL/dW_Q|  rows < 1% of median  max weight > 0.9")
for scaled, (per_query, w_q, largest) in at_init.items():
    tiny = (per_query < 0.01 * reference).float().mean().item()
    peaked = (largest > 0.9).float().mean().item()
    name = "scaled" if scaled else "unscaled"
    print(
        f"{name:<10} {per_query.median() / reference:15.2f}x {w_q:10.3f}"
        f" {tiny:20.1%} {peaked:17.1%}"
    )
    glue(f"peaked_{name}", f"{peaked:.0%}")
    glue(f"tiny_{name}", f"{tiny:.1%}")
ratio = at_init[False][0].median() / reference
glue("grad_ratio", f"{ratio:.1f}")
assert ratio > 1  # unscaled queries get *more* gradient, not less ...
assert (at_init[False][2] > 0.9).float().mean() > 0.1  # ... but attention is peaked

# %% [markdown]
# The measurement contradicts the usual story in one respect: without the division,
# the median query gets {glue:text}`grad_ratio` times *more* gradient, not less, and so
# does $W_Q$. What the division prevents is saturation: unscaled, attention starts
# nearly one-hot in {glue:text}`peaked_unscaled` of the rows (a largest weight above
# 0.9, against {glue:text}`peaked_scaled` scaled), and {glue:text}`tiny_unscaled` of the
# queries get almost no gradient (below 1 % of the scaled median, against
# {glue:text}`tiny_scaled`): a heavy tail of rows stuck on one key. Whether that matters
# is a question for training: we train both models, same seed, same batches.


# %%
def train_one_head(seed: int = 7, steps: int = 300, **switches):
    """Train a OneHeadLM on Shakespeare: (the model, its loss at every step)."""
    torch.manual_seed(seed)
    model = OneHeadLM(tokenizer.vocab_size, block_size, n_embd=64, **switches)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(seed)

    def next_batch():
        return get_batch(train_ids, 32, block_size, generator=generator)

    return model, train(model, optimizer, next_batch, steps).losses


scaled_model, scaled_losses = train_one_head(scaled=True)
_, unscaled_losses = train_one_head(scaled=False)
for name, losses in [("scaled", scaled_losses), ("unscaled", unscaled_losses)]:
    first, last = sum(losses[:20]) / 20, sum(losses[-20:]) / 20
    print(f"{name:<9} mean loss, steps 1-20: {first:.2f}   last 20 steps: {last:.2f}")


# %% tags=["hide-input"] mystnb={"figure": {"caption": "Training loss of the one-head model on Shakespeare, with and without the division of the scores by $\\sqrt{d_k}$ ($d_k = 64$), from the same initial weights and the same batches (a moving average over 10 steps).", "name": "fig-scaling-training"}, "image": {"alt": "Two falling loss curves against the training step, from 0 to 300, loss in nats on the vertical axis. The scaled curve (blue) and the unscaled curve (orange) both fall from about 4 nats towards 2.5, the unscaled curve staying above the scaled one, further above at the end than at the start."}}
def smooth(values: list[float], window: int = 10) -> list[float]:
    ends = range(window, len(values) + 1)
    return [sum(values[i - window : i]) / window for i in ends]


fig, ax = plt.subplots(figsize=(7.5, 3.2))
for name, losses in [("scaled", scaled_losses), ("unscaled", unscaled_losses)]:
    ax.plot(range(10, len(losses) + 1), smooth(losses), label=name)
ax.set_xlabel("training step")
ax.set_ylabel("training loss (nats)")
ax.legend()
plt.show()

# %%
gap_early = sum(unscaled_losses[:50]) / 50 - sum(scaled_losses[:50]) / 50
gap_late = sum(unscaled_losses[-50:]) / 50 - sum(scaled_losses[-50:]) / 50
glue("gap_early", f"{gap_early:.2f}")
glue("gap_late", f"{gap_late:.2f}")
print(f"unscaled minus scaled, mean loss of steps 1-50: {gap_early:+.2f} nats")
print(f"unscaled minus scaled, mean loss of the last 50: {gap_late:+.2f} nats")
assert gap_late > 0  # the unscaled model is still behind at the end

# %% [markdown]
# In {numref}`fig-scaling-training` both models learn, and the unscaled one learns
# more slowly: its loss is higher by {glue:text}`gap_early` nats on average over the
# first 50 steps, and by {glue:text}`gap_late` over the last 50. A larger raw gradient
# buys little, since Adam rescales every parameter's step {cite:p}`kingma2015adam`;
# what costs is the rows stuck on one key, which give their queries no gradient. The
# wider the heads, the more rows start saturated ({numref}`fig-scaling-softmax`), and
# that is what the division prevents. It does not change what attention can express
# (the model could learn a $W_Q$ that is $\sqrt{d_k}$ times smaller), only where
# training starts.
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
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (..., T_q, T_k)
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
mask = torch.ones(T, T, dtype=torch.bool).tril()  # (T, T), True where j <= i
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
X_changed[3:] = torch.randn(T - 3, d)  # new vectors for "on the mat"


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
# What does a model learn when the mask is missing? We train the same one-head model
# without it, and measure its loss twice: on every position, as in training, and on the
# last position of each window only, where the next character is *not* in the window,
# as when the model generates text.

# %%
leaky_model, leaky_losses = train_one_head(causal=False)
last = {}
for name, model in [("with the mask", scaled_model), ("without", leaky_model)]:
    x, y = get_batch(
        val_ids, 256, block_size, generator=torch.Generator().manual_seed(0)
    )
    with torch.no_grad():
        logits, loss_all = model(x, y)
    last[name] = F.cross_entropy(logits[:, -1], y[:, -1]).item()
    print(
        f"{name:<14} validation loss, every position: {loss_all.item():.2f}"
        f"   last position only: {last[name]:.2f} nats"
    )
glue("leaky_train", f"{sum(leaky_losses[-20:]) / 20:.2f}")
glue("leaky_last", f"{last['without']:.2f}")
glue("causal_last", f"{last['with the mask']:.2f}")
assert last["without"] > last["with the mask"] + 0.2

# %% [markdown]
# ```{admonition} A common mistake: attention without the causal mask
# :class: warning
# The course's outline, like many introductions, defines attention as
# $\operatorname{softmax}(QK^\top/\sqrt{d_k})V$ over the whole sequence and stops there.
# That is the attention of an encoder such as BERT {cite:p}`devlin2019bert`, which
# reads a whole sentence at once. A GPT is {term}`decoder-only` and unidirectional:
# every attention layer is masked, so that position $t$ depends only on tokens
# $1, \dots, t$ {cite:p}`radford2018improving`. Without the mask, the model above
# reaches a training loss of {glue:text}`leaky_train` nats by copying the next
# character, which it can see; on the last position of a window, where there is
# nothing to copy, its loss is {glue:text}`leaky_last` nats, against
# {glue:text}`causal_last` for the masked model. It learnt to cheat, not to predict.
# ```
#
# ## Is this what PyTorch computes?
#
# PyTorch has this very operation,
# {py:func}`torch.nn.functional.scaled_dot_product_attention` (which runs fused,
# memory-saving kernels when it can), and the companion package has the version we
# use from now on, `gptcourse.attention.scaled_dot_product_attention`. On a batch of
# sequences in double precision, with and without the causal mask, the three agree to
# within $10^{-12}$ (double precision rounds at about $10^{-16}$, so the bound holds on
# any machine):

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
    print(f"causal={causal}: largest difference below 1e-12")

# %% [markdown]
# ### Two libraries, two opposite masks
#
# A boolean mask can say either "may attend" or "may not", and PyTorch uses both:
# {py:func}`torch.nn.functional.scaled_dot_product_attention` reads `True` as *takes
# part* (as this course does), while {py:class}`torch.nn.MultiheadAttention` reads
# `True` in its `attn_mask` and `key_padding_mask` as *masked out*. The same causal
# matrix handed to both gives opposite results, so we check each convention:

# %%
torch.manual_seed(7)
x = torch.randn(1, 5, 8)  # (B, T, d)
allowed = attention.causal_mask(5)  # True = may attend
mha = nn.MultiheadAttention(8, num_heads=1, bias=False, batch_first=True)
_, mha_weights = mha(x, x, x, attn_mask=~allowed)  # True = masked out
assert torch.all(mha_weights[0][~allowed] == 0)  # ~allowed hides the future

w_q, w_k, w_v = mha.in_proj_weight.chunk(3)  # the projections mha used
q, k, v = x @ w_q.T, x @ w_k.T, x @ w_v.T
_, sdpa_weights = attend(q, k, v, mask=allowed)
torch.testing.assert_close(mha_weights, sdpa_weights)
sdpa_out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)  # True: take part
torch.testing.assert_close(sdpa_out, sdpa_weights @ v)

_, wrong = mha(x, x, x, attn_mask=allowed)  # the course's mask, in mha's convention
first_query = wrong[0, 0]  # (T,): it may no longer see itself, only the future
print("first query, swapped convention:", [round(w, 2) for w in first_query.tolist()])
assert first_query[0] == 0 and torch.all(first_query[1:] > 0)
print("nn.MultiheadAttention: True = masked out")
print("F.scaled_dot_product_attention: True = may attend")

# %% [markdown]
# With the convention swapped, the mask hides the past and lets the future through:
# the worst possible bug, since the model trains, and cheats, without any error.
#
# ### Padding masks and attention dropout
#
# Sequences in a batch often have different lengths; the short ones are filled up to
# the longest with a *padding* token. No query should attend to padding, so a second
# mask hides those keys: a {term}`padding mask` of shape $(B, 1, T)$, `True` on real
# tokens, that broadcasts over the queries and combines with the causal mask by
# "and". The real tokens' outputs must then be exactly those of the unpadded sequence:

# %%
torch.manual_seed(8)
short, long = torch.randn(3, 8), torch.randn(5, 8)  # sequences of 3 and 5 vectors
batch_x = torch.zeros(2, 5, 8)  # (B, T, d), padded with zeros
batch_x[0, :3], batch_x[1] = short, long
lengths = torch.tensor([3, 5])
is_real = torch.arange(5) < lengths[:, None]  # (B, T): True on real tokens
padding_mask = is_real[:, None, :]  # (B, 1, T_k): hide the padded keys
mask = padding_mask & attention.causal_mask(5)  # (B, T, T)
out, _ = attend(batch_x, batch_x, batch_x, mask=mask)
alone, _ = attend(short, short, short, mask=attention.causal_mask(3))
torch.testing.assert_close(out[0, :3], alone)  # padding changed nothing
print("the padded sequence's real outputs equal those of the sequence alone")

# %% [markdown]
# (A padded *query* still gets an output, which the loss then ignores.) A GPT trained
# on a stream of text cut into windows needs no padding, but batches of prompts of
# different lengths do, when generating text and fine-tuning (Part III).
#
# *Attention dropout* is the other thing a full attention layer adds: in training, it
# zeroes each weight $a_{ij}$ with probability $p$ and divides the rest by $1 - p$
# {cite:p}`srivastava2014dropout,vaswani2017attention`, so a query cannot rely on a
# single key. Rows then no longer sum to 1, but their expectation is unchanged:

# %%
torch.manual_seed(9)
w = torch.softmax(torch.randn(10_000, 16), dim=-1)  # 10,000 rows of weights
dropped = F.dropout(w, p=0.1, training=True)
print(f"share of weights zeroed: {(dropped == 0).float().mean().item():.2f}")
print(f"mean row sum after dropout: {dropped.sum(dim=-1).mean().item():.2f}")
assert abs(dropped.sum(dim=-1).mean().item() - 1) < 0.01

# %% [markdown]
# `gptcourse.attention.MultiHeadAttention` takes a `dropout` argument for it and passes
# it to PyTorch's kernel (`dropout_p`), in training mode only.
#
# ### Self-attention and cross-attention
#
# In *self*-attention, queries, keys and values all come from the same sequence. In
# {term}`cross-attention` the queries come from one sequence and the keys and values
# from another: in the original Transformer, each position of the translation being
# written attends to the encoded source sentence {cite:p}`vaswani2017attention`. The
# formula is the same; only the shapes differ, $T_q$ queries against $T_k$ keys:

# %%
torch.manual_seed(10)
target = torch.randn(3, 8)  # (T_q, d): the sequence that asks
source = torch.randn(6, 8)  # (T_k, d): the sequence that is read
W_Q, W_K, W_V = (torch.randn(8, 4) for _ in range(3))
z, w = attend(target @ W_Q, source @ W_K, source @ W_V)
print("weights:", tuple(w.shape), " outputs:", tuple(z.shape))  # (T_q, T_k), (T_q, d_v)
assert w.shape == (3, 6) and z.shape == (3, 4)

# %% [markdown]
# There is no causal mask in cross-attention: the source is complete before the
# target is written. A GPT has no second sequence, so it uses self-attention only.
#
# ## What does attention look at in real text?
#
# Random weights only show the mechanics. To see what attention *learns*, we look at
# the one-head model trained above with the division and the mask
# (`gptcourse.attention_lm.OneHeadLM`): an embedding of each character and of its
# position (a model needs to know where tokens are:
# {doc}`chapter 6 <../chapters/06_positional_encoding>` is about that), one attention
# head, and a linear map from its output to a score for every character of the
# vocabulary. The input is added back to the head's output, so that the model still
# knows the current character whatever the head attends to. For comparison, a model
# that sees only the current character, the {term}`bigram model` of chapter 1,
# estimated from the pair counts of the training text:

# %%
V_chars = tokenizer.vocab_size
pairs = train_ids[:-1] * V_chars + train_ids[1:]  # each (current, next) pair, a number
counts = torch.bincount(pairs, minlength=V_chars**2).reshape(V_chars, V_chars)
log_probs = torch.log((counts + 1.0) / (counts + 1.0).sum(dim=-1, keepdim=True))
x, y = get_batch(val_ids, 256, block_size, generator=torch.Generator().manual_seed(0))
bigram_loss = -log_probs[x, y].mean().item()
trained_loss = estimate_loss(
    scaled_model, val_ids, batch_size=256, block_size=block_size
)
glue("bigram_loss", f"{bigram_loss:.2f}")
glue("trained_loss", f"{trained_loss:.2f}")
print(f"bigram model:      validation loss {bigram_loss:.3f} nats")
print(f"one-head model:    validation loss {trained_loss:.3f} nats")
assert trained_loss < bigram_loss

# %% [markdown]
# Both losses are on the same 256 validation windows. Now the weights on a line the
# model never trained on (it comes from the validation part of the text), in
# {numref}`fig-trained-head`. Row $i$ of the picture is the query at character $i$; the
# columns are the characters it may attend to; darker is more weight. Everything above
# the diagonal is white: that is the causal mask at work.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The attention weights of the trained head on a line from the validation text: row $i$ is the query at character $i$, column $j$ the weight it gives to character $j$. Above the diagonal everything is zero, the causal mask at work; the dark band just below it is the character right before each query.", "name": "fig-trained-head"}, "image": {"alt": "A triangular heat map of 49 rows by 49 columns in shades of blue, both axes labelled with the characters of the line TRANIO:, a line break, then Pardon me, sir, the boldness is mine own, with a colour bar from 0 to 1. The upper right triangle is white. The darkest cells form a band just below the diagonal, one step to the left of it; the other cells of each row are pale."}}
line = "TRANIO:\nPardon me, sir, the boldness is mine own,"
assert text.index(line) > len(text) - len(val_ids)  # from the validation text
with torch.no_grad():
    line_weights = scaled_model.attention_weights(
        torch.tensor([tokenizer.encode(line)])
    )
line_weights = line_weights[0]  # (T, T)

fig, ax = plt.subplots(figsize=(7.5, 7))
labels = ["↵" if c == "\n" else c for c in line]
colours = {"cmap": "Blues", "vmin": 0, "vmax": 1}
plotting.heatmap(ax, line_weights, label="attention weight", **colours)
ax.set_xticks(range(len(line)), labels, fontsize=9, family="monospace")
ax.set_yticks(range(len(line)), labels, fontsize=9, family="monospace")
ax.tick_params(length=0)
ax.set_xlabel("key: the character attended to")
ax.set_ylabel("query: the character attending")
plt.show()

# %% [markdown]
# The dark band just below the diagonal says that most queries put most of their weight
# on the character *right before* them. Averaged over all the queries of the line, the
# weight each one gives to the character $\Delta$ positions back:

# %%
w = line_weights  # diagonal(-delta): the weights of the queries on the key delta back
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
gpt2_mib = 12 * 12 * 4 * 1024**2 / 2**20  # layers x heads x bytes x T^2
print(f"GPT-2, 12 layers x 12 heads, T = 1024: {gpt2_mib:.0f} MiB")

# %% [markdown]
# The time, measured on this machine (your numbers will differ; the shape of the curve
# will not): the fastest of five runs of one head of width 64, for each length.

# %% tags=["nbval-ignore-output"]
times = []
for T_len in lengths:
    q = k = v = torch.randn(1, T_len, 64)
    package_attention(q, k, v, causal=True)  # a first call, not timed: it sets up
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        package_attention(q, k, v, causal=True)
        runs.append(time.perf_counter() - start)
    times.append(min(runs))  # the fastest run is the least disturbed by others
ratios = [b / a for a, b in zip(times, times[1:], strict=False)]
print("time ratio per doubling:", [round(r, 1) for r in ratios])

# %% tags=["hide-input", "nbval-ignore-output"] mystnb={"figure": {"caption": "What one head of width 64 costs as the sequence grows, on log-log axes. Left: its time on this machine (the fastest of five runs), against a line growing as $T^2$. Right: the memory of its $(T, T)$ weights, exactly $4T^2$ bytes.", "name": "fig-attention-cost"}, "image": {"alt": "Two line charts on logarithmic axes against the sequence length T from 128 to 2048. Left, the measured time in milliseconds: it rises more slowly than the dotted T-squared line for short sequences and parallel to it for long ones. Right, the memory of the weights in mebibytes: a straight line from 0.06 at T = 128 to 16 at T = 2048, four times more for each doubling."}}
fig, (ax_time, ax_memory) = plt.subplots(1, 2, figsize=(7.5, 3))
ax_time.loglog(lengths, [t * 1e3 for t in times], marker="o", label="measured")
quadratic = [times[-1] * 1e3 * (n / lengths[-1]) ** 2 for n in lengths]
ax_time.loglog(lengths, quadratic, linestyle=":", color="gray", label="$\\propto T^2$")
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

# %% [markdown]
# In {numref}`fig-attention-cost`, on short sequences the fixed costs dominate and the
# time grows more slowly; on long ones each doubling costs about four times as much.
# This quadratic cost is why the contexts of models like GPT-2 are *short*: 1,024
# tokens. That GPT-2's context is *fixed* has another cause: its position embedding is
# a learnt table with one row per position, 1,024 rows, and a position beyond them has
# no vector ({doc}`chapter 6 <../chapters/06_positional_encoding>`). Much work has gone
# into attention that never stores the $(T, T)$ matrix: FlashAttention
# {cite:p}`dao2022flashattention`, which PyTorch's `scaled_dot_product_attention` uses
# on GPUs, computes the same result in blocks, in memory that grows only as $T$.
#
# ## Summary
#
# - Self-attention gives each position a weighted average of the values of the
#   positions it may see, with weights $\operatorname{softmax}(q_i \cdot k_j /
#   \sqrt{d_k})$; loops and matrices compute the same thing.
# - Dividing by $\sqrt{d_k}$ keeps the spread of the scores from growing with the
#   width. Measured, it does not raise the gradient to the queries (unscaled, the
#   median is larger); it prevents saturated, one-hot rows at the start of training.
# - The scores' variance is 1 only under an assumption; with PyTorch's default
#   initialisation, queries and keys have entries of variance about
#   $\operatorname{Var}(x)/3$.
# - The causal mask sets the scores of later positions to $-\infty$; without it a
#   language model copies the next token during training and is useless when it
#   generates.
# - Padding masks hide filler keys; {py:class}`torch.nn.MultiheadAttention` reads
#   `True` as "masked out", {py:func}`torch.nn.functional.scaled_dot_product_attention`
#   as "may attend".
# - Cross-attention takes queries from one sequence and keys and values from another;
#   a GPT uses self-attention only.
# - Memory and time grow as $T^2$, which keeps contexts short.
#
# ## Exercises
#
# In {doc}`the exercise notebook <../exercises/solutions/04_self_attention>` (and
# `exercises/04_self_attention.ipynb` to work through in JupyterLab):
#
# - **Exercise 4-1** (warm-up): a causal mask with padding, in the course's convention.
# - **Exercise 4-2** (core): cross-attention between two sequences of different
#   lengths.
# - **Exercise 4-3** (core): the scale that keeps the scores' variance at 1 for
#   queries and keys of any variance, derived and checked.
# - **Exercise 4-4** (stretch): a test that detects a model reading the future, and
#   what happens when you train without the mask.
# - **Exercise 4-5** (written): what attention without positions knows about word
#   order.
#
# ## Further reading
#
# - {cite:t}`bahdanau2015neural` introduced attention, as cross-attention from a
#   decoder to an encoder's states, for translation.
# - {cite:t}`vaswani2017attention`, section 3.2, defines scaled dot-product attention
#   and gives the variance argument for the $\sqrt{d_k}$ this chapter measures.
# - {cite:t}`radford2018improving` describe GPT's masked self-attention decoder.
# - {cite:t}`elhage2021mathematical` read attention heads as circuits, the way this
#   chapter read the trained head's weights.
# - {cite:t}`dao2022flashattention` compute exact attention without storing the
#   $(T, T)$ weights, by tiling.
