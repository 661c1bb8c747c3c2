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
# # Assembling a GPT
#
# The last three chapters built attention, its heads and its positions. This chapter
# puts them together into a GPT: the Transformer block, a stack of blocks between an
# embedding and a language-model head, and GPT-2's way of initialising it. We count what
# such a model costs (parameters, floating-point operations, memory), prove that the
# course's model *is* GPT-2 by moving weights to and from Hugging Face's implementation,
# and end by training a small one on Shakespeare.
#
# ```{admonition} What you will be able to do
# - write a Transformer block (layer norm, GELU MLP, residual connections) and say why
#   GPT-2 normalises before each branch (pre-LN) rather than after it (post-LN);
# - draw the decoder-only GPT, from token ids to logits, and explain weight tying;
# - explain GPT-2's scaled initialisation from the variance of the residual stream;
# - compute a GPT's parameters, FLOPs per token and training memory from its shape, and
#   check them with `gptcourse.model.count_parameters`, `flops_per_token` and PyTorch's
#   FLOP counter;
# - load the weights of transformers' `GPT2LMHeadModel` into `gptcourse.model.GPT` and
#   back, with the same logits both ways.
# ```

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from gptcourse import data, plotting
from gptcourse.attention import CausalSelfAttention
from gptcourse.batches import get_batch, split_text
from gptcourse.char_tokenizer import CharTokenizer
from gptcourse.glue import glue
from gptcourse.model import GPT, GPTConfig, count_parameters, flops_per_token
from gptcourse.training import estimate_loss, train
from gptcourse.transformer import MLP, Block

torch.set_num_threads(1)  # these models are small: one thread is as fast, and steadier

# %% [markdown]
# ## What does a Transformer block compute?
#
# A GPT is a stack of identical *blocks*. Every block reads a sequence of $T$ vectors of
# width $C$ (`n_embd`) and returns a sequence of the same shape. It does two things in
# turn: the positions exchange information (causal self-attention, built in
# {doc}`chapter 5 <../chapters/05_multi_head_attention>`), then each position is
# transformed on its own by a small two-layer network, the *MLP* or
# {term}`feed-forward network`. Two more parts keep a deep stack trainable:
# {term}`layer normalisation` and {term}`residual connections <residual connection>`.
#
# ### Layer normalisation
#
# Layer normalisation {cite:p}`ba2016layer` rescales each position's vector to mean 0
# and variance 1 across its $C$ features, then applies a learnt scale $\gamma$ and
# shift $\beta$:
#
# $$
# \mathrm{LN}(x) = \gamma \odot \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta,
# \qquad \mu = \frac{1}{C}\sum_i x_i,\quad \sigma^2 = \frac{1}{C}\sum_i (x_i - \mu)^2 .
# $$
#
# The variance divides by $C$, not $C - 1$. Written out, against
# {py:class}`torch.nn.LayerNorm`:

# %%
torch.manual_seed(0)
ln = nn.LayerNorm(16)  # GPT-2's eps is PyTorch's default, 1e-5
nn.init.normal_(ln.weight)  # random gamma and beta, so that they are tested too
nn.init.normal_(ln.bias)
x = 3 + 5 * torch.randn(2, 4, 16)  # (B, T, C), far from mean 0 and variance 1

mu = x.mean(dim=-1, keepdim=True)  # (B, T, 1): one mean per position
var = x.var(dim=-1, keepdim=True, unbiased=False)
mine = ln.weight * (x - mu) / torch.sqrt(var + ln.eps) + ln.bias
torch.testing.assert_close(mine, ln(x))
normalised = (x - mu) / torch.sqrt(var + ln.eps)
print(f"per position: mean {normalised.mean(-1).abs().max():.1f}, ", end="")
print(f"std {normalised.std(-1, unbiased=False).mean():.3f}")

# %% [markdown]
# ### The MLP and its GELU
#
# The MLP widens each vector to $4C$, applies a nonlinearity and projects back to $C$.
# GPT-2's nonlinearity is the {term}`GELU` {cite:p}`hendrycks2016gaussian`,
# $x\,\Phi(x)$ with $\Phi$ the standard normal distribution function, in the tanh
# approximation that GPT-2 was trained with:
#
# $$
# \mathrm{GELU}(x) \approx \tfrac{1}{2} x \left(1 + \tanh\!\left(\sqrt{2/\pi}\,
# (x + 0.044715\, x^3)\right)\right).
# $$

# %%
x = torch.linspace(-6, 6, 1001, dtype=torch.float64)
tanh_gelu = 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
exact = x * 0.5 * (1 + torch.erf(x / math.sqrt(2)))  # x * Phi(x)
torch.testing.assert_close(tanh_gelu, F.gelu(x, approximate="tanh"))
torch.testing.assert_close(exact, F.gelu(x))
gap = (tanh_gelu - exact).abs().max().item()
assert gap < 1e-3
print("the tanh approximation is within 1e-3 of x * Phi(x) on [-6, 6]")

# %% [markdown]
# ### Residual connections, and the block
#
# Each of the two parts is a *branch* whose output is added to its input, $x + f(x)$
# {cite:p}`he2016deep`. The running sum of all the branches' outputs is the *residual
# stream*; every block reads it and writes an update into it. GPT-2 normalises the
# input of each branch, so the block is
#
# $$
# x \leftarrow x + \mathrm{Attn}(\mathrm{LN}_1(x)), \qquad
# x \leftarrow x + \mathrm{MLP}(\mathrm{LN}_2(x)).
# $$
#
# Here it is, built from the parts above, with the same names as
# `gptcourse.transformer.Block` so that one block's weights load into the other:


# %%
class MyMLP(nn.Module):
    def __init__(self, C: int):
        super().__init__()
        self.c_fc = nn.Linear(C, 4 * C)  # (B, T, C) -> (B, T, 4C)
        self.gelu = nn.GELU(approximate="tanh")
        self.c_proj = nn.Linear(4 * C, C)  # (B, T, 4C) -> (B, T, C)

    def forward(self, x):
        return self.c_proj(self.gelu(self.c_fc(x)))


class MyBlock(nn.Module):
    def __init__(self, C: int, n_head: int):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.attn = CausalSelfAttention(C, n_head)  # chapter 5's
        self.mlp = MyMLP(C)

    def forward(self, x):  # (B, T, C) -> (B, T, C)
        x = x + self.attn(self.ln_1(x))  # positions talk to each other
        x = x + self.mlp(self.ln_2(x))  # each position on its own
        return x


torch.manual_seed(0)
block = Block(n_embd=32, n_head=4)  # the package's, GPT-2's pre-LN block
mine = MyBlock(32, 4)
mine.load_state_dict(block.state_dict())  # same names, same shapes
x = torch.randn(2, 10, 32)
torch.testing.assert_close(mine(x), block(x))
assert isinstance(block.mlp, MLP)
print("MyBlock equals gptcourse.transformer.Block:", tuple(block(x).shape))

# %% [markdown]
# From here on we use the package's `Block`. The MLP holds most of a block's weights:
# $C \cdot 4C + 4C \cdot C = 8C^2$, against $4C^2$ for the attention's four projections
# (queries, keys, values and output).
#
# ## Where should the layer norm go?
#
# The original Transformer {cite:p}`vaswani2017attention` normalised *after* adding
# each branch, $x \leftarrow \mathrm{LN}(x + f(x))$: {term}`post-LN`. GPT-2
# {cite:p}`radford2019language` moved the normalisation to the input of each branch and
# added one final layer norm after the last block: {term}`pre-LN`. The difference is
# what the residual stream is. In a pre-LN model it is a plain sum,
# $x_L = x_0 + \sum_\ell f_\ell(\cdot)$, so the gradient reaches every block through
# the additions unchanged.
# In a post-LN model every block's layer norm sits on that path, and the gradient is
# rescaled by each of them on its way down. The package's `Block` does both
# (`norm_first=False` is post-LN):

# %%
torch.manual_seed(0)
post = Block(32, 4, norm_first=False)
x = torch.randn(2, 10, 32)
h = post.ln_1(x + post.attn(x))  # normalise after the residual addition
torch.testing.assert_close(post.ln_2(h + post.mlp(h)), post(x))
print(post)

# %% [markdown]
# {cite:t}`xiong2020layer` showed that at initialisation a post-LN Transformer has
# large gradients near its output, which is why it needs a learning-rate *warm-up*
# (starting small and growing) to train at all, while a pre-LN Transformer trains well
# without one. A small experiment: two 6-layer character models of Shakespeare, the
# same in everything but the place of the layer norms, trained with
# {py:class}`torch.optim.AdamW` at a constant learning rate of $3 \times 10^{-3}$,
# no warm-up, for 100 steps.

# %%
text = data.load_text("tinyshakespeare")
tokenizer = CharTokenizer.from_text(text)
train_text, val_text = split_text(text, 0.1)  # the course's split: the last 10%
train_ids = torch.tensor(tokenizer.encode(train_text))
val_ids = torch.tensor(tokenizer.encode(val_text))


def train_small(norm_first: bool, steps: int = 100) -> list[float]:
    torch.manual_seed(0)
    config = GPTConfig(
        vocab_size=tokenizer.vocab_size,
        block_size=32,
        n_layer=6,
        n_head=4,
        n_embd=32,
        norm_first=norm_first,
    )
    model = GPT(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    g = torch.Generator().manual_seed(1)  # the same batches for both models
    history = train(model, optimizer, lambda: get_batch(train_ids, 16, 32, g), steps)
    return history.losses


losses = {"pre-LN (GPT-2)": train_small(True), "post-LN": train_small(False)}
final = {name: sum(curve[-20:]) / 20 for name, curve in losses.items()}
assert final["post-LN"] > final["pre-LN (GPT-2)"] + 0.2
print("after 100 steps, post-LN's loss is at least 0.2 nats above pre-LN's")

# The loss of predicting every character by its frequency alone (a unigram model):
frequencies = torch.bincount(train_ids, minlength=tokenizer.vocab_size) / len(train_ids)
unigram = -(frequencies * frequencies.clamp(min=1e-12).log()).sum().item()
assert final["pre-LN (GPT-2)"] < unigram - 0.3 < final["post-LN"] - 0.1
print(f"unigram: {unigram:.2f} nats; pre-LN ends 0.3 below it, post-LN does not")

# %% [markdown]
# The two start alike ({numref}`fig-pre-post-ln`); after a few dozen steps the pre-LN
# model keeps improving while the post-LN one stalls on a plateau, near the
# {glue:text}`unigram_loss` nats of predicting each character by its frequency alone,
# without looking at the context. Over the last 20 steps, on this
# machine, the average loss is {glue:text}`pre_ln_loss` nats for pre-LN against
# {glue:text}`post_ln_loss` for post-LN. Post-LN is not hopeless: with a warm-up and a
# smaller learning rate it trains, and it is what the original Transformer and BERT
# used, but it needs that care, and the deeper the model, the more. GPT-3 kept GPT-2's
# pre-LN, as have most large language models since.

# %% tags=["nbval-ignore-output"]
glue("pre_ln_loss", f"{final['pre-LN (GPT-2)']:.2f}")
glue("post_ln_loss", f"{final['post-LN']:.2f}")
_ = glue("unigram_loss", f"{unigram:.2f}")

# %% mystnb={"figure": {"caption": "Training loss of two 6-layer character models of Shakespeare that differ only in where their layer norms are, at a constant learning rate of 0.003 without warm-up (a moving average over 10 steps). The pre-LN model (GPT-2's) keeps improving; the post-LN model stalls.", "name": "fig-pre-post-ln"}, "image": {"alt": "Two curves of training loss against step, from 0 to 100. Both fall together from about 3.9 nats at step 10 to 3.45 at step 20. Then the pre-LN curve keeps falling, to about 2.8 at step 100, while the post-LN curve stays between 3.3 and 3.5."}}
plotting.use_style()
fig, ax = plt.subplots(figsize=(6, 3))
for name, curve in losses.items():
    smooth = torch.tensor(curve).unfold(0, 10, 1).mean(-1)  # a moving average
    ax.plot(range(10, len(curve) + 1), smooth.numpy(), label=name)
ax.set_xlabel("step")
ax.set_ylabel("training loss (nats)")
ax.legend()
plt.show()

# %% [markdown]
# ## How do the blocks become a GPT?
#
# A GPT is {term}`decoder-only`: a stack of these causally masked blocks and nothing
# else, no encoder and no cross-attention. Around the stack
# ({numref}`fig-gpt-architecture`):
#
# - the *token embedding* turns each token id into a vector of width $C$ (a
#   $V \times C$ table, GPT-2's `wte`), and the *position embedding* adds a learnt
#   vector for each position (a `block_size` $\times\, C$ table, `wpe`; see
#   {doc}`chapter 6 <../chapters/06_positional_encoding>`);
# - after the last block, a final layer norm `ln_f` (pre-LN leaves the stream
#   unnormalised);
# - the *language-model head*, a linear map from $C$ to $V$, gives the
#   {term}`logits` of the next token at every position.


# %% tags=["hide-input"] mystnb={"figure": {"caption": "The decoder-only GPT. Token ids are embedded and their positions' vectors added; $L$ identical pre-LN blocks each add an attention update and an MLP update to the residual stream; a final layer norm and the language-model head, whose weight is the token embedding's, give the logits of the next token at every position.", "name": "fig-gpt-architecture"}, "image": {"alt": "A vertical diagram read from bottom to top. Token ids (B, T) go into a token embedding (V by C) and a position embedding (block_size by C), which are added. Then a dashed frame marked 'times n_layer' holds the block: layer norm, causal self-attention, a plus sign adding it to the stream, layer norm, MLP (C to 4C, GELU, 4C to C), another plus sign; arrows on the side carry the stream past each branch to the plus signs. Above the frame: final layer norm, the language-model head (C to V, the token embedding's weight, tied), and logits (B, T, V). A dotted line links the head to the token embedding."}}
def box(ax, y, text, color):
    ax.text(
        0.5,
        y,
        text,
        ha="center",
        va="center",
        bbox=dict(boxstyle="round,pad=0.4", fc=color, ec="black", lw=0.8),
    )


def arrow(ax, y0, y1, x=0.5):
    ax.annotate("", (x, y1), (x, y0), arrowprops=dict(arrowstyle="->", lw=1))


fig, ax = plt.subplots(figsize=(6, 7.2))
ax.set_axis_off()
ax.set_xlim(0, 1)
ax.set_ylim(-0.3, 13.2)
parts = [  # (height, text, colour), bottom to top
    (0, "token ids  (B, T)", "white"),
    (1.3, "token embedding wte (V × C)  +  position embedding wpe (T × C)", "#dbe9f6"),
    (2.8, "LayerNorm ln_1", "#fde9c9"),
    (3.9, "causal self-attention  (n_head heads)", "#f6d5d5"),
    (5.0, "+", "white"),
    (6.1, "LayerNorm ln_2", "#fde9c9"),
    (7.2, "MLP: C → 4C, GELU, 4C → C", "#dcefd9"),
    (8.3, "+", "white"),
    (9.7, "final LayerNorm ln_f", "#fde9c9"),
    (10.8, "language-model head: C → V (weight = wte, tied)", "#dbe9f6"),
    (12.0, "logits (B, T, V): next-token scores", "white"),
]
for y, text, color in parts:
    box(ax, y, text, color)
for (y0, *_), (y1, *_) in zip(parts[:-1], parts[1:], strict=True):
    arrow(ax, y0 + 0.35, y1 - 0.35)
for y_from, y_to in ((2.2, 5.0), (5.6, 8.3)):  # the residual paths around each branch
    ax.plot([0.5, 0.9, 0.9], [y_from, y_from, y_to], color="black", lw=1)
    ax.annotate("", (0.53, y_to), (0.9, y_to), arrowprops=dict(arrowstyle="->", lw=1))
frame = plt.Rectangle((0.05, 2.1), 0.9, 6.8, fill=False, ls="--", lw=1, ec="gray")
ax.add_patch(frame)
ax.text(0.07, 8.8, "× n_layer blocks", color="dimgray", va="top")
ax.text(0.91, 3.6, "residual", rotation=90, va="center", color="dimgray")
ax.plot([0.06, 0.06], [1.3, 10.8], color="steelblue", ls=":", lw=1.2)
ax.text(0.02, 6.0, "same matrix", rotation=90, va="center", color="steelblue")
plt.show()

# %% [markdown]
# The package's `gptcourse.model.GPT` is that picture; its sizes come from a
# `GPTConfig`, with named presets from toys to GPT-2's four sizes. Its forward pass,
# written out with its own parts, gives its logits:

# %%
torch.manual_seed(0)
config = GPTConfig.from_preset("gpt-nano", vocab_size=65, block_size=32)
model = GPT(config).eval()
idx = torch.randint(65, (2, 16))  # (B, T) token ids

x = model.token_embedding(idx) + model.position_embedding(torch.arange(16))
for block in model.blocks:  # (B, T, C) -> (B, T, C), n_layer times
    x = block(x)
logits = model.lm_head(model.ln_f(x))  # (B, T, V)

torch.testing.assert_close(logits, model(idx)[0])
print(config)
print("logits:", tuple(logits.shape))

# %% [markdown]
# ### Weight tying
#
# The token embedding maps a token to a vector; the head maps a vector to a score for
# each token, by a dot product with each of $V$ rows. GPT-2 uses one $V \times C$
# matrix for both {cite:p}`press2017using`: {term}`weight tying`. A token's score is
# then the similarity between the final vector and that token's own embedding. In
# PyTorch the two modules hold the same `Parameter` object, which the optimizer updates
# once and `parameters()` lists once:

# %%
assert model.lm_head.weight is model.token_embedding.weight
names = [name for name, _ in model.named_parameters()]
assert "lm_head.weight" not in names  # listed once, under the embedding's name
counted = sum(p.numel() for p in model.parameters())
assert counted == model.num_params() == count_parameters(config)
V, C = config.vocab_size, config.n_embd
print(f"tying saves V x C = {V} x {C} = {V * C:,} of {counted + V * C:,} parameters")
small = GPTConfig.from_preset("gpt2")  # GPT-2 small: tying saves 31% of its size
assert round(100 * small.vocab_size * small.n_embd / count_parameters(small)) == 31

# %% [markdown]
# For GPT-2 small, with $V = 50{,}257$ and $C = 768$, tying saves 38.6 million
# parameters, 31% of the model's 124 million.
#
# ## Why are some weights initialised smaller?
#
# GPT-2 draws every weight from a normal distribution with standard deviation 0.02,
# except the two projections that write into the residual stream in each block (the
# attention's output projection and the MLP's second layer), which it scales by
# $1/\sqrt{N}$, $N$ being the number of residual layers {cite:p}`radford2019language`:
# two per block, so $\sigma = 0.02 / \sqrt{2 L}$.
#
# The reason is the residual stream. After $L$ blocks it is the embedding plus $2L$
# branch outputs. At initialisation those are roughly independent, so their variances
# add: if each branch adds variance $s^2$, the stream's variance is
# $\sigma_0^2 + 2L s^2$, growing linearly with depth. Scaling the last weight of each
# branch by $1/\sqrt{2L}$ divides each $s^2$ by $2L$, and the total becomes
# $\sigma_0^2 + s^2$, whatever the depth. We measure the standard deviation of the
# stream after each block of a 48-layer model, with GPT-2's initialisation and with
# every weight at 0.02:


# %%
def stream_std(model: GPT, idx: torch.Tensor) -> list[float]:
    """The std of the residual stream after the embeddings and after each block."""
    T = idx.shape[1]
    with torch.no_grad():
        x = model.token_embedding(idx) + model.position_embedding(torch.arange(T))
        stds = [x.std().item()]
        for block in model.blocks:
            x = block(x)
            stds.append(x.std().item())
    return stds


def depth_profiles(n_layer: int) -> dict[str, list[float]]:
    torch.manual_seed(0)
    config = GPTConfig(256, 64, n_layer=n_layer, n_head=4, n_embd=128)
    model = GPT(config).eval()  # GPT-2's initialisation
    idx = torch.randint(256, (2, 64), generator=torch.Generator().manual_seed(0))
    scaled = stream_std(model, idx)
    for block in model.blocks:  # undo the scaling of the residual projections
        nn.init.normal_(block.attn.out_proj.weight, std=0.02)
        nn.init.normal_(block.mlp.c_proj.weight, std=0.02)
    return {"GPT-2: 0.02 / sqrt(2L)": scaled, "all 0.02": stream_std(model, idx)}


profiles = {L: depth_profiles(L) for L in (12, 48)}
scaled, plain = profiles[48].values()
assert plain[-1] > 5 * scaled[-1]  # unscaled: much larger after 48 blocks
# unscaled, the variance grows linearly: the std after 48 blocks is ~2x that after 12
ratio = plain[48] / plain[12]
assert 1.8 < ratio < 2.2, ratio
# scaled, the output's std barely depends on the depth: 12 or 48 blocks
assert abs(profiles[12]["GPT-2: 0.02 / sqrt(2L)"][-1] / scaled[-1] - 1) < 0.1
print(f"std after 48 blocks: {scaled[-1]:.2f} scaled, {plain[-1]:.2f} unscaled")

# %% [markdown]
# Without the scaling, the stream's standard deviation grows like $\sqrt{\ell}$ with
# the number of blocks $\ell$ ({numref}`fig-residual-init`): 48 blocks make it about
# twice what 12 blocks make, as $\sqrt{48/12} = 2$ predicts. With it, the stream stays
# close to its initial size at every depth, so that the first layer norms and the last
# see vectors of the same scale, and the output of a 48-layer model at initialisation
# is as large as that of a 12-layer one.

# %% mystnb={"figure": {"caption": "Standard deviation of the residual stream after each block of a 48-layer GPT at initialisation (width 128, random tokens). With every weight drawn at 0.02, each block adds variance and the stream grows like the square root of depth; with GPT-2's residual projections at 0.02 / sqrt(2L), it stays near its initial size.", "name": "fig-residual-init"}, "image": {"alt": "Two curves of the residual stream's standard deviation against the number of blocks passed, 0 to 48. The curve for all weights at 0.02 rises steeply at first and then more slowly, like a square root, from 0.03 to about 0.45. The curve for GPT-2's scaled initialisation stays nearly flat, from 0.03 to 0.05."}}
fig, ax = plt.subplots(figsize=(6, 3))
for name, stds in profiles[48].items():
    ax.plot(range(49), stds, label=name)
ax.set_xlabel("blocks passed")
ax.set_ylabel("std of the residual stream")
ax.legend()
plt.show()

# %% [markdown]
# ## How many parameters does a GPT have?
#
# Count one block's weights, with $C$ = `n_embd`:
#
# | part | weights | biases |
# | --- | --- | --- |
# | attention: queries, keys, values $C \to 3C$ | $3C^2$ | $3C$ |
# | attention: output projection $C \to C$ | $C^2$ | $C$ |
# | MLP: $C \to 4C$ and $4C \to C$ | $8C^2$ | $4C + C$ |
# | two layer norms ($\gamma$ and $\beta$ each) | $2C$ | $2C$ |
#
# In all $12C^2 + 13C$ per block. The model adds the token embedding $VC$ (counted once:
# the head is tied to it), the position table $T_{\max} C$ and the final layer norm
# $2C$:
#
# $$
# N = L\,(12C^2 + 13C) + VC + T_{\max} C + 2C .
# $$
#
# We build GPT-2's four sizes on PyTorch's `meta` device, which gives every parameter a
# shape and no memory, and count:

# %%
published = {"gpt2": 124, "gpt2-medium": 355, "gpt2-large": 774, "gpt2-xl": 1558}


def formula(L: int, C: int, V: int, T: int) -> int:
    return L * (12 * C**2 + 13 * C) + V * C + T * C + 2 * C


print(f"{'model':12} {'L':>3} {'C':>5} {'formula':>14} {'the model':>14}")
for name, millions in published.items():
    config = GPTConfig.from_preset(name)  # vocab 50257, context 1024
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        built = GPT(config)
    n = formula(config.n_layer, config.n_embd, 50257, 1024)
    assert n == built.num_params() == count_parameters(config)
    assert round(n / 1e6) == millions  # the sizes transformers' GPT-2s have
    L, C = config.n_layer, config.n_embd
    print(f"{name:12} {L:>3} {C:>5} {n:>14,} {built.num_params():>14,}")
    glue(f"params_{name}", f"{n / 1e6:,.0f}M")
for name, percent in (("gpt2", 32), ("gpt2-xl", 5)):  # the embeddings' share
    config = GPTConfig.from_preset(name)
    share = (50257 + 1024) * config.n_embd / count_parameters(config)
    assert round(100 * share) == percent

# %% [markdown]
# GPT-2 small has {glue:text}`params_gpt2` parameters, medium
# {glue:text}`params_gpt2-medium`, large {glue:text}`params_gpt2-large` and XL
# {glue:text}`params_gpt2-xl`, 1.56 billion. (The GPT-2 paper lists 117M and 1542M
# for the smallest and the largest; the released models are these.) The $12LC^2$ term
# dominates: the embeddings are 32% of GPT-2 small but 5% of XL.
#
# GPT-3 {cite:p}`brown2020language` is the same recipe at 96 layers of width 12,288,
# a context of 2,048 tokens and GPT-2's vocabulary:

# %%
gpt3 = GPTConfig(n_layer=96, n_head=96, n_embd=12288, block_size=2048)
with torch.device("meta"):
    built = GPT(gpt3)
n_gpt3 = formula(96, 12288, 50257, 2048)
assert n_gpt3 == built.num_params() == count_parameters(gpt3)
assert round(n_gpt3 / 1e9) == 175
glue("params_gpt3", f"{n_gpt3 / 1e9:.1f}")
print(f"GPT-3: {n_gpt3:,} parameters = {n_gpt3 / 1e9:.1f} billion")

# %% [markdown]
# ```{admonition} A common mistake: 175 billion, 1750亿, not 175亿
# :class: warning
# GPT-3 has 175 billion parameters: {glue:text}`params_gpt3` billion counted from its
# published shape above, and "175B" in its paper. In Chinese that is 1750亿
# (亿 = $10^8$). The outline this course grew from, and many articles, say 175亿, which
# is 17.5 billion, ten times too few (the paper's nearest size is GPT-3 13B).
# ```
#
# ## How much compute does a token cost?
#
# A matrix product of a vector by a $C_\text{in} \times C_\text{out}$ weight costs
# $2 C_\text{in} C_\text{out}$ floating-point operations (FLOPs): a multiplication and
# an addition per weight. Every token meets every weight matrix once: the blocks'
# $12LC^2$ weights and the head's $VC$. The embeddings are lookups, and biases, layer
# norms and softmax are negligible. Attention adds products that have no weights: each
# of the $T$ queries is compared with $T$ keys ($2TC$ per layer and token) and averages
# $T$ values ($2TC$ again). So, with $N = 12LC^2 + VC$, per token
#
# $$
# \text{forward} \approx 2N + 4LTC, \qquad
# \text{training} \approx 3 \times \text{forward} = 6N + 12LTC ,
# $$
#
# since the backward pass costs twice the forward (the gradients with respect to the
# inputs and to the weights, one product each) {cite:p}`kaplan2020scaling`. PyTorch's
# `torch.utils.flop_counter.FlopCounterMode` counts the FLOPs of the matrix
# products that actually run (attention in its plain "math" form, so that the counter
# sees its products):

# %%
torch.manual_seed(0)
config = GPTConfig(vocab_size=65, block_size=32, n_layer=2, n_head=4, n_embd=64)
model = GPT(config)
B, T = 4, 32
x, y = get_batch(train_ids, B, T, torch.Generator().manual_seed(0))

L, C, V = config.n_layer, config.n_embd, config.vocab_size
N = 12 * L * C**2 + V * C
forward_per_token = 2 * N + 4 * L * T * C
with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
    model(x)
assert counter.get_total_flops() == B * T * forward_per_token
with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
    model(x, y)[1].backward()
assert counter.get_total_flops() == B * T * 3 * forward_per_token
assert 3 * forward_per_token == flops_per_token(config, T)
print(f"forward: {forward_per_token:,} FLOPs per token; training: 3x that")

# %% [markdown]
# The formula is exact for what PyTorch runs, and the package's
# `gptcourse.model.flops_per_token` computes it. Two consequences for compute budgets:
#
# - the attention term matters for small models and long contexts and fades for large
#   ones: it is {glue:text}`attn_share_gpt2` of the training FLOPs of GPT-2 small at
#   1,024 tokens, and {glue:text}`attn_share_gpt3` of GPT-3's at 2,048;
# - training a model of $N$ parameters on $D$ tokens costs about $6ND$. GPT-3, trained
#   on 300 billion tokens {cite:p}`brown2020language`, cost $3.14 \times 10^{23}$
#   FLOPs by this rule, the figure its paper reports. One GPU that sustained
#   {glue:text}`gpu_tflops` TFLOP/s (a generous figure) would need
#   {glue:text}`gpu_years` years.

# %%
shares = {}
for name, cfg in (("gpt2", GPTConfig.from_preset("gpt2")), ("gpt3", gpt3)):
    T, L, C = cfg.block_size, cfg.n_layer, cfg.n_embd
    shares[name] = 12 * L * T * C / flops_per_token(cfg)
    glue(f"attn_share_{name}", f"{shares[name]:.0%}")
compute = 6 * n_gpt3 * 300e9
assert f"{compute:.2e}" == "3.14e+23"  # Brown et al. (2020), table D.1
sustained = 400e12  # FLOP/s: a generous figure for one GPU in bf16
glue("gpu_tflops", f"{sustained / 1e12:.0f}")
glue("gpu_years", f"{compute / sustained / 3.15e7:.0f}")  # 3.15e7 s in a year
print({name: f"{share:.1%}" for name, share in shares.items()}, f"{compute:.2e}")

# %% [markdown]
# ## How much memory does training take?
#
# Training with {py:class}`torch.optim.AdamW` {cite:p}`loshchilov2019decoupled` in
# float32 keeps four numbers per parameter: the weight, its gradient, and Adam's two
# running averages (of the gradient and of its square). At 4 bytes each that is
# 16 bytes per parameter, before any activations. We measure it on a small model after
# one optimizer step:

# %%
torch.manual_seed(0)
model = GPT(GPTConfig.from_preset("gpt-nano", vocab_size=65, block_size=32))
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
model(x, y)[1].backward()
optimizer.step()


def nbytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


params = list(model.parameters())
weights, grads = nbytes(params), nbytes(p.grad for p in params)
state = optimizer.state.values()
adam = nbytes(s[k] for s in state for k in ("exp_avg", "exp_avg_sq"))
assert weights == grads == adam / 2 == 4 * model.num_params()
print(f"{model.num_params():,} parameters: {weights + grads + adam:,} bytes = 16 each")

# %% [markdown]
# For the GPT-2 sizes and GPT-3 (in gigabytes of $10^9$ bytes):

# %%
counts = {name: count_parameters(GPTConfig.from_preset(name)) for name in published}
counts["GPT-3"] = n_gpt3
print(f"{'model':12} {'weights':>9} {'+ gradients':>12} {'+ AdamW':>9}")
for name, n in counts.items():
    print(f"{name:12} {4 * n / 1e9:>9.1f} {8 * n / 1e9:>12.1f} {16 * n / 1e9:>9.1f}")
assert round(16 * counts["gpt2"] / 1e9) == 2  # GB
assert f"{16 * n_gpt3 / 1e12:.1f}" == "2.8" and round(16 * n_gpt3 / 80e9) == 35

# %% [markdown]
# GPT-2 small trains in 2 GB plus activations, on any GPU. GPT-3 needs 2.8 TB for its
# weights and optimizer alone, the memory of 35 GPUs of 80 GB, which is why such models
# are trained with their weights, gradients and optimizer state split over many GPUs
# {cite:p}`rajbhandari2020zero`. Mixed-precision training, the usual recipe, also
# comes to 16 bytes: 16-bit weights and gradients (2 + 2), plus a float32 master copy
# of the weights and the two averages (4 + 4 + 4).
#
# ## Is it really GPT-2?
#
# Hugging Face's {py:class}`transformers.GPT2LMHeadModel` is the reference
# implementation of GPT-2. It computes the same function as `gptcourse.model.GPT`,
# with the same weights under other names: `gptcourse.gpt2_weights.WEIGHT_MAP` lists
# every pair. One difference is not a name: GPT-2 was written with a `Conv1D` layer
# that stores its weight as (in, out), the transpose of {py:class}`torch.nn.Linear`'s
# (out, in), so four weights per block are transposed on the way across.

# %%
from transformers import GPT2Config, GPT2LMHeadModel

from gptcourse.gpt2_weights import WEIGHT_MAP

for ours, theirs, transposed in WEIGHT_MAP[4:8]:
    print(f"{ours:32} <- {theirs:38} {'transposed' if transposed else ''}")

# %% [markdown]
# We create a small GPT-2 with random weights on this machine (nothing is downloaded),
# give every weight and bias random values so that no mismatch can hide behind a zero
# or a one, load it into the course's GPT, and compare the logits on the same tokens:

# %%
torch.manual_seed(0)
hf_config = GPT2Config(  # (its special token ids must lie in its vocabulary)
    vocab_size=100,
    n_positions=32,
    n_embd=64,
    n_layer=2,
    n_head=4,
    bos_token_id=99,
    eos_token_id=99,
)
hf_model = GPT2LMHeadModel(hf_config).eval()
with torch.no_grad():
    for p in hf_model.parameters():
        p.copy_(0.1 * torch.randn_like(p))
idx = torch.randint(100, (3, 32))

ours = GPT.from_transformers(hf_model)  # transformers -> the course
with torch.no_grad():
    largest = (ours(idx)[0] - hf_model(idx).logits).abs().max().item()
assert largest < 1e-5
print("GPT2LMHeadModel -> GPT: logits agree within 1e-5")

back = ours.to_transformers()  # the course -> transformers
with torch.no_grad():
    largest = (back(idx).logits - ours(idx)[0]).abs().max().item()
assert largest < 1e-5
print("GPT -> GPT2LMHeadModel: logits agree within 1e-5")

# %% [markdown]
# With an internet connection, the same two lines give OpenAI's trained GPT-2, from the
# Hugging Face Hub (about 500 MB for the smallest; not run here, where nothing can be
# downloaded):
#
# ```python
# model = GPT.from_pretrained("gpt2")  # or "gpt2-medium", "gpt2-large", "gpt2-xl"
# ```
#
# It calls `GPT2LMHeadModel.from_pretrained` and then `GPT.from_transformers`.
#
# ## Does it learn?
#
# A GPT trains as every model of the course trains, with the loop of
# {doc}`chapter 2 <../chapters/02_neural_language_models>`
# (`gptcourse.training.train`). A 4-layer model, 64 wide, with a context of 64
# characters, for 300 steps:

# %%
torch.manual_seed(0)
config = GPTConfig(
    vocab_size=tokenizer.vocab_size, block_size=64, n_layer=4, n_head=4, n_embd=64
)
model = GPT(config)
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
g = torch.Generator().manual_seed(0)
before = estimate_loss(model, val_ids, batch_size=32, block_size=64, num_batches=4)
history = train(model, optimizer, lambda: get_batch(train_ids, 16, 64, g), 300)
after = estimate_loss(model, val_ids, batch_size=32, block_size=64, num_batches=4)
assert abs(before - math.log(65)) < 0.05  # a new model: nearly uniform
assert after < 2.6
print(f"{model.num_params():,} parameters; validation loss below 2.6 nats")

# %% [markdown]
# The validation loss falls from {glue:text}`val_before`, the $\ln 65$ of a uniform
# guess, to {glue:text}`val_after` nats on this machine. A sample, drawn with the
# package's `generate` from a newline:

# %% tags=["nbval-ignore-output"]
glue("val_before", f"{before:.2f}")
glue("val_after", f"{after:.2f}")
prompt = torch.tensor([tokenizer.encode("\n")])
out = model.generate(
    prompt, 300, temperature=0.8, generator=torch.Generator().manual_seed(0)
)
print(tokenizer.decode(out[0].tolist()))

# %% [markdown]
# Three hundred steps on a CPU give names in capitals, line breaks and word-like
# strings. {doc}`Chapter 8 <../chapters/08_generation>` studies how the next token is
# chosen, and {doc}`chapter 9 <../chapters/09_pretraining>` trains for real, on a GPU.
#
# ## Summary
#
# - A Transformer block adds an attention update and an MLP update ($C \to 4C \to C$,
#   GELU) to the residual stream, each branch reading a layer-normalised input (pre-LN).
# - Post-LN, the original placement, puts every layer norm on the residual path; it
#   needs warm-up and care, and trained worse here; GPT-2 and its successors are pre-LN.
# - A GPT is decoder-only: embeddings of tokens and positions, $L$ blocks, a final layer
#   norm and a head tied to the token embedding.
# - GPT-2 scales the residual projections by $1/\sqrt{2L}$ so that the stream's variance
#   does not grow with depth.
# - $N = L(12C^2 + 13C) + VC + T_{\max}C + 2C$: 124M, 355M, 774M and 1.56B for GPT-2,
#   175 billion for GPT-3.
# - Training costs about $6N + 12LTC$ FLOPs per token and, with AdamW in float32,
#   16 bytes per parameter before activations.
# - `gptcourse.model.GPT` loads and exports transformers' GPT-2 weights with the same
#   logits.
#
# ## Exercises
#
# In {doc}`the exercise notebook <../exercises/solutions/07_gpt>` (and in
# `exercises/07_gpt.ipynb` to work through in JupyterLab):
#
# - Exercise 7-1 (warm-up): count a GPT's parameters by hand, from its shape.
# - Exercise 7-2 (medium): the FLOPs of a forward pass over a whole sequence.
# - Exercise 7-3 (medium): write a post-LN block that loads the package's weights.
# - Exercise 7-4 (stretch, written): why GPT-2's scaled initialisation uses $2L$, and
#   what $1/\sqrt{L}$ would give.
#
# ## Further reading
#
# - {cite:t}`radford2019language`, the GPT-2 paper: the pre-LN placement, the final
#   layer norm and the scaled initialisation are in its section 2.3.
# - {cite:t}`xiong2020layer` explain, with gradients at initialisation, why post-LN
#   Transformers need a warm-up and pre-LN ones do not.
# - {cite:t}`kaplan2020scaling` derive the $6N$ FLOPs per token (their table 1) and
#   measure how loss falls with parameters, data and compute.
# - {cite:t}`brown2020language`, GPT-3: the table of its eight sizes, the same recipe
#   from 125M to 175B parameters, and its training compute.
# - {cite:t}`karpathy2022nanogpt`, nanoGPT: a GPT-2 in about 300 lines of PyTorch, which
#   the course's model resembles.
