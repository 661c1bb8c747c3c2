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
# # Multi-head attention
#
# One attention head gives each position one weighted average of the sequence. A GPT
# layer runs several heads side by side, each in its own slice of the model's width, so
# that one position can gather several things at once. This chapter builds multi-head
# attention first as a loop over heads and then in the batched form every
# implementation uses; proves that it is exactly PyTorch's
# {py:class}`torch.nn.MultiheadAttention` and GPT-2's attention given the same weights;
# trains small models to see what their heads learn and whether more heads help; and
# counts what heads cost.
#
# ```{admonition} What you will be able to do
# - compute multi-head attention from its weights, as a loop over heads and in one
#   batched product, and check it against PyTorch's and GPT-2's;
# - explain why each head has width $C/H$, is scaled by $1/\sqrt{C/H}$, and why the
#   heads end in an output projection $W_O$;
# - use `gptcourse.attention.MultiHeadAttention` and read its heads' weights;
# - test what a head attends to, and ablate a head to measure what it contributes;
# - tell a difference between two trained models from the spread between seeds;
# - count the parameters and FLOPs of a layer, and what multi-query and grouped-query
#   attention save.
# ```

# %%
import copy

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode
from transformers import GPT2Config, GPT2Model

from gptcourse import data, plotting, training
from gptcourse.attention import (
    CausalSelfAttention,
    MultiHeadAttention,
    causal_mask,
    scaled_dot_product_attention,
)
from gptcourse.batches import get_batch, split_text
from gptcourse.char_tokenizer import CharTokenizer
from gptcourse.glue import glue

# %% [markdown]
# ## Why is one head not enough?
#
# The one-head model of the {doc}`previous chapter <../chapters/04_self_attention>`
# learned to look at the character just
# before the current one. To predict the next character well it would also like to know
# the one before that, whether a word has just begun, who is speaking. A single softmax
# cannot serve all of these at once: if a query splits its weight between two
# positions, it gets the *average* of their values, a blur of both, not both.
#
# {term}`Multi-head attention` {cite:p}`vaswani2017attention` runs $H$ attentions in
# parallel. Each {term}`attention head` $h$ has its own
# projections $W_Q^{(h)}, W_K^{(h)}, W_V^{(h)} \in \mathbb{R}^{C \times C/H}$: it works
# in a subspace of width $D = C/H$ of the model's width $C$, and can look somewhere else
# than the other heads. Their outputs are concatenated back to width $C$ and mixed by an
# output projection $W_O \in \mathbb{R}^{C \times C}$:
#
# $$
# \mathrm{head}_h = \operatorname{Attention}\!\left(X W_Q^{(h)}, X W_K^{(h)}, X
# W_V^{(h)}\right),
# $$
#
# $$
# \operatorname{MultiHead}(X) = \left[\mathrm{head}_1, \dots, \mathrm{head}_H\right] W_O
# .
# $$
#
# ## How are the heads computed, one at a time?
#
# In practice the $H$ query projections are one $(C, C)$ matrix whose column block $h$
# is $W_Q^{(h)}$, and likewise for keys and values; GPT-2 even stores the three side by
# side as one $(C, 3C)$ matrix. Here they are, with biases, for a model of width
# $C = 12$ with $H = 3$ heads of width $D = 4$, on a batch of two sequences of five
# tokens:

# %%
B, T, C, H = 2, 5, 12, 3
D = C // H  # the width of one head
f64 = torch.float64
torch.manual_seed(0)
x = torch.randn(B, T, C, dtype=f64)  # (B, T, C)
# W_qkv (C, 3C) holds W_Q, W_K and W_V side by side
W_qkv = torch.randn(C, 3 * C, dtype=f64) / C**0.5
b_qkv = torch.randn(3 * C, dtype=f64) / 10  # (3C,)
W_o = torch.randn(C, C, dtype=f64) / C**0.5  # (C, C)
b_o = torch.randn(C, dtype=f64) / 10  # (C,)
W_Q, W_K, W_V = W_qkv.split(C, dim=1)  # 3 x (C, C)
b_Q, b_K, b_V = b_qkv.split(C)  # 3 x (C,)

heads = []
for h in range(H):
    cols = slice(h * D, (h + 1) * D)  # the columns of head h
    q = x @ W_Q[:, cols] + b_Q[cols]  # (B, T, D)
    k = x @ W_K[:, cols] + b_K[cols]  # (B, T, D)
    v = x @ W_V[:, cols] + b_V[cols]  # (B, T, D)
    # the output of head h, (B, T, D)
    out, _ = scaled_dot_product_attention(q, k, v, causal=True)
    heads.append(out)
concatenated = torch.cat(heads, dim=-1)  # (B, T, H * D) = (B, T, C)
y_loop = concatenated @ W_o + b_o  # (B, T, C)
print(y_loop.shape)

# %% [markdown]
# Each head scales its scores by $1/\sqrt{D}$, the width of *its* queries and keys, not
# by $1/\sqrt{C}$: the argument of the previous chapter applies to each dot product
# separately.
#
# ## How are all the heads computed at once?
#
# A loop over heads runs $H$ small matrix products one after another. Since every head
# does the same thing to its own slice, we can instead reshape the queries so that the
# heads become one more batch dimension, and do all of them in one product. The
# channels of head $h$ are the consecutive block $hD, \dots, hD + D - 1$, so a
# `view` of the last dimension as $(H, D)$ separates the heads, and a `transpose` moves
# the head dimension before the time dimension ({numref}`fig-head-split`):

# %% tags=["hide-input"] mystnb={"figure": {"caption": "How the heads share the channels, for one sequence of $T = 5$ positions with $C = 12$ channels and $H = 3$ heads of width $D = 4$: the colour of a cell is the head its channel goes to. Viewing the last dimension as $(H, D)$ and moving the heads before the positions gives each head its own $(T, D)$ block of consecutive channels.", "name": "fig-head-split"}, "image": {"alt": "Four grids of coloured cells. The first, 5 rows (positions 0 to 4) by 12 columns (channels 0 to 11), has channels 0 to 3 in blue, 4 to 7 in orange and 8 to 11 in green. Next to it, three 5 by 4 grids, one per head: head 0 all blue with channels 0 to 3, head 1 all orange with channels 4 to 7, head 2 all green with channels 8 to 11. A colour bar names the three colours head 0, 1 and 2."}}
plotting.use_style()  # the course's figure style: sizes, fonts, sharp images

colours = plt.matplotlib.colors.ListedColormap(plt.cm.tab10.colors[:H])
# one colour per head: head h is the interval (h - 0.5, h + 0.5)
cells = {"cmap": colours, "vmin": -0.5, "vmax": H - 0.5}
cells |= {"edgecolors": "white", "linewidth": 2}
sizes = {"figsize": (7.5, 2.4), "width_ratios": [C] + [D] * H}
fig, axes = plt.subplots(1, 1 + H, sharey=True, **sizes)
# (T, C): the head that each channel goes to
channel_head = torch.arange(C).repeat(T, 1) // D
mesh = axes[0].pcolormesh(channel_head, **cells)
axes[0].set_title("q: (T, C)")
centres = [c + 0.5 for c in range(C)]
axes[0].set_xticks(centres, range(C))
axes[0].set_xlabel("channel")
axes[0].set_yticks([t + 0.5 for t in range(T)], range(T))
axes[0].set_ylabel("position t")
axes[0].invert_yaxis()
for h in range(H):
    ax = axes[1 + h]
    ax.pcolormesh(torch.full((T, D), h), **cells)
    ax.set_title(f"head {h}: (T, D)")
    channels = range(h * D, (h + 1) * D)
    ax.set_xticks(centres[:D], channels)
for ax in axes:
    ax.set_aspect("equal")
    ax.tick_params(length=0)
fig.colorbar(mesh, ax=axes, ticks=range(H), label="head", fraction=0.03)
fig.suptitle("view (B, T, H, D), then transpose to (B, H, T, D)")
plt.show()

# %% [markdown]
# All the heads at once, with the shapes at every step:

# %%
qkv = x @ W_qkv + b_qkv  # (B, T, 3C)
q, k, v = qkv.split(C, dim=-1)  # 3 x (B, T, C)
# (B, T, C) -> (B, T, H, D) -> (B, H, T, D)
q = q.view(B, T, H, D).transpose(1, 2)
k = k.view(B, T, H, D).transpose(1, 2)  # (B, H, T, D)
v = v.view(B, T, H, D).transpose(1, 2)  # (B, H, T, D)
# out (B, H, T, D); weights (B, H, T, T), a (T, T) matrix per head
out, weights = scaled_dot_product_attention(q, k, v, causal=True)
print("weights:", tuple(weights.shape))
# (B, H, T, D) -> (B, T, H, D) -> (B, T, C): heads side by side
out = out.transpose(1, 2).reshape(B, T, C)
y_batched = out @ W_o + b_o  # (B, T, C)
tight = {"rtol": 0, "atol": 1e-12}  # float64: rounding errors only
torch.testing.assert_close(y_batched, y_loop, **tight)

# %% [markdown]
# Same numbers. After the transpose the tensor is no longer contiguous in memory, which
# is why the way back uses {py:meth}`~torch.Tensor.reshape` (which copies when it must)
# rather than {py:meth}`~torch.Tensor.view`. The companion package's
# `MultiHeadAttention` is exactly this computation, with the projections as
# {py:class}`torch.nn.Linear` layers: `qkv_proj` holds $W_{QKV}^\top$ (PyTorch's
# `Linear` stores its weight as `(out, in)`) and `out_proj` holds $W_O^\top$. Given
# our weights, it gives the same output, and `CausalSelfAttention` is its causal case.
# The module returns its output; its `attention_weights` method gives the weights, for
# pictures:

# %%
mha = CausalSelfAttention(n_embd=C, n_head=H).double()
with torch.no_grad():
    mha.qkv_proj.weight.copy_(W_qkv.T)
    mha.qkv_proj.bias.copy_(b_qkv)
    mha.out_proj.weight.copy_(W_o.T)
    mha.out_proj.bias.copy_(b_o)
y_package, weights_package = mha(x), mha.attention_weights(x)
torch.testing.assert_close(y_package, y_loop, **tight)
torch.testing.assert_close(weights_package, weights, **tight)
print(mha)

# %% [markdown]
# ## Is it PyTorch's `nn.MultiheadAttention`?
#
# PyTorch's module has the same parameters under other names: `in_proj_weight` is the
# $(3C, C)$ matrix of the three input projections stacked (our `qkv_proj.weight`),
# `in_proj_bias` their biases, and `out_proj` the output projection. One difference to
# watch: PyTorch's boolean `attn_mask` marks the pairs that may **not** attend, the
# opposite of ours, so we pass the negation of the causal mask. With the same weights,
# the outputs and the weights of every head agree:

# %%
torch_mha = nn.MultiheadAttention(C, H, batch_first=True).double()
with torch.no_grad():
    torch_mha.in_proj_weight.copy_(mha.qkv_proj.weight)  # (3C, C)
    torch_mha.in_proj_bias.copy_(mha.qkv_proj.bias)  # (3C,)
    torch_mha.out_proj.weight.copy_(mha.out_proj.weight)  # (C, C)
    torch_mha.out_proj.bias.copy_(mha.out_proj.bias)  # (C,)
# PyTorch's convention: True = may NOT attend
forbidden = ~causal_mask(T)
# each head's weights, not their average
options = {"attn_mask": forbidden, "average_attn_weights": False}
y_torch, weights_torch = torch_mha(x, x, x, **options)
torch.testing.assert_close(y_package, y_torch, **tight)
torch.testing.assert_close(weights_package, weights_torch, **tight)
largest = (y_package - y_torch).abs().max().item()
assert largest < 1e-12
print("largest difference below 1e-12")

# %% [markdown]
# ````{admonition} A common mistake: full-width heads, no $W_O$, scaling by $\sqrt{C}$
# :class: warning
# The course's outline, like several popular accounts, describes multi-head attention
# as $H$ attentions whose outputs are simply concatenated, each head as wide as the
# model, with scores divided by $\sqrt{d_\text{model}}$. All three differ from the
# Transformer {cite:p}`vaswani2017attention` and from every implementation above:
#
# - each head projects to $D = C/H$ dimensions, not $C$: the $H$ heads together have
#   the projections of *one* full-width head (counted in the last section), and their
#   concatenation is $C$ wide, not $HC$;
# - the concatenation is multiplied by the output projection $W_O$. Without it, the
#   channels $hD, \dots, hD + D - 1$ of the output could only ever hold head $h$'s
#   average; $W_O$ mixes what the heads found into every channel;
# - each head divides its scores by $\sqrt{D}$, the width of *its* queries and keys,
#   since the argument of the previous chapter applies to each dot product on its own.
#
# The cell below computes the outline's two variants with the same weights: neither is
# what PyTorch's module returns.
# ````

# %%
# the outline's scale, 1/sqrt(C), on the heads' queries, keys and values (B, H, T, D)
out_root_C, _ = scaled_dot_product_attention(q, k, v, causal=True, scale=C**-0.5)
y_root_C = mha.merge_heads(out_root_C) @ W_o + b_o  # (B, T, C)
y_no_W_o = out  # the concatenated heads (B, T, C) of the batched cell, no W_O
for name, y_wrong in {"scaled by 1/sqrt(C)": y_root_C, "without W_O": y_no_W_o}.items():
    gap = (y_wrong - y_torch).abs().max().item()
    assert gap > 0.1
    print(f"{name:>20}: differs from nn.MultiheadAttention by more than 0.1")

# %% [markdown]
# ## Is it what GPT-2 computes?
#
# The attention of GPT-2, as the `transformers` library implements it, is the same
# module again: `c_attn` projects to queries, keys and values in one product, and
# `c_proj` is the output projection. GPT-2 was written with a `Conv1D` layer that stores
# its weight as `(in, out)`, the transpose of `nn.Linear`'s `(out, in)`, so we copy
# transposed weights. We build a one-layer GPT-2 from a small configuration, with random
# weights (nothing is downloaded), run it on a few tokens, catch the input and output of
# its attention with a hook, and feed the same input to our module:

# %%
config = GPT2Config(
    vocab_size=100,
    n_positions=32,
    n_embd=64,
    n_layer=1,
    n_head=4,
    bos_token_id=0,
    eos_token_id=0,
    # GPT-2's own attention code, not a fused kernel
    attn_implementation="eager",
)
torch.manual_seed(1)
gpt2 = GPT2Model(config).double().eval()
gpt2_attention = gpt2.h[0].attn
c_attn, c_proj = gpt2_attention.c_attn, gpt2_attention.c_proj
print("c_attn.weight:", tuple(c_attn.weight.shape), "(in, out)")
print("c_proj.weight:", tuple(c_proj.weight.shape), "(in, out)")

ours = CausalSelfAttention(n_embd=64, n_head=4).double().eval()
with torch.no_grad():
    # (in, out) = (64, 192) transposed to (out, in) = (192, 64)
    ours.qkv_proj.weight.copy_(c_attn.weight.T)
    ours.qkv_proj.bias.copy_(c_attn.bias)
    ours.out_proj.weight.copy_(c_proj.weight.T)
    ours.out_proj.bias.copy_(c_proj.bias)

# %% [markdown]
# A forward hook is a function that PyTorch calls after a module's `forward`, with
# its inputs and output ({py:meth}`torch.nn.Module.register_forward_hook`): here it
# keeps what GPT-2's attention received and returned.

# %%
seen = {}


def catch(module, args, kwargs, output):
    # the input (B, T, 64), passed by position or by name
    seen["input"] = args[0] if args else kwargs["hidden_states"]
    seen["output"] = output[0]  # (B, T, 64)


hook = gpt2_attention.register_forward_hook(catch, with_kwargs=True)
generator = torch.Generator().manual_seed(2)
token_ids = torch.randint(0, 100, (2, 12), generator=generator)
with torch.no_grad():
    gpt2(token_ids)
hook.remove()
with torch.no_grad():
    y_ours = ours(seen["input"])
torch.testing.assert_close(y_ours, seen["output"], **tight)
largest = (y_ours - seen["output"]).abs().max().item()
assert largest < 1e-12
print("largest difference from GPT-2's attention below 1e-12")

# %% [markdown]
# The causal masking inside `GPT2Model` comes from the model itself here, not from us,
# and it agrees: our causal self-attention is GPT-2's.
#
# ## What do different heads look at?
#
# We train the character-level model of the previous chapter, with a learned position
# table, once with one head of width 64 and once with four heads of width 16. Both have
# exactly the same number of parameters (a later section shows why). The whole model is
# an embedding, one attention layer with a residual connection, and a read-out:

# %%
text = data.load_text("tinyshakespeare")
train_text, val_text = split_text(text, 0.1)  # the course's validation split
tokenizer = CharTokenizer.from_text(text)
train_ids = torch.tensor(tokenizer.encode(train_text))
val_ids = torch.tensor(tokenizer.encode(val_text))
print(f"{len(train_ids):,} training and {len(val_ids):,} validation characters")


# %%
class AttentionLM(nn.Module):
    """Characters (B, T) -> next-character logits (B, T, vocab), and the loss."""

    def __init__(self, vocab_size, block_size, n_embd, n_head):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, n_embd)
        self.position_embedding = nn.Embedding(block_size, n_embd)
        self.attention = CausalSelfAttention(n_embd, n_head)
        self.to_logits = nn.Linear(n_embd, vocab_size)

    def embed(self, idx):  # (B, T) -> (B, T, C): token plus position vectors
        positions = torch.arange(idx.shape[1])  # 0 .. T - 1
        return self.token_embedding(idx) + self.position_embedding(positions)

    def forward(self, idx, targets=None):
        x = self.embed(idx)
        logits = self.to_logits(x + self.attention(x))
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten())

    def attention_weights(self, idx):
        """Every head's weights, (B, H, T, T)."""
        return self.attention.attention_weights(self.embed(idx))


# %% [markdown]
# Training uses the loop and the loss estimate of the course's package,
# `gptcourse.training.train` and `estimate_loss`; the seed fixes both the initial
# weights and the batches:


# %%
def train_model(n_head: int, seed: int, steps: int = 400) -> AttentionLM:
    torch.manual_seed(seed)  # the initial weights
    model = AttentionLM(tokenizer.vocab_size, 64, n_embd=64, n_head=n_head)
    optimizer = torch.optim.AdamW(model.parameters(), lr=6e-3)
    generator = torch.Generator().manual_seed(seed)  # the batches

    def next_batch():
        return get_batch(train_ids, 32, 64, generator)

    training.train(model, optimizer, next_batch, steps)
    return model


def val_loss(model: nn.Module) -> float:
    """The loss on the same 256 validation windows (seed 0) for every model."""
    return training.estimate_loss(model, val_ids, batch_size=256, block_size=64)


torch.set_num_threads(1)  # models this small run fastest on one thread
models = {n_head: train_model(n_head, seed=3) for n_head in (1, 4)}
print("heads  width  parameters  validation loss (nats)")
for n_head, model in models.items():
    n_params = sum(p.numel() for p in model.parameters())
    print(f"{n_head:5d} {64 // n_head:6d} {n_params:11,} {val_loss(model):9.2f}")

# %% [markdown]
# Now the four heads' weights on the line of the previous chapter, which comes from
# the validation text ({numref}`fig-four-heads`):


# %% mystnb={"figure": {"caption": "The weights of the four heads of the trained model on the line from the validation text: in each panel, row $i$ is the query at position $i$ of the line and column $j$ the character it attends to. Heads 1 and 2 keep to the character right before each query; head 3 keeps coming back to the colon of `TRANIO:`; head 0 spreads its weight over the last few characters.", "name": "fig-four-heads"}, "image": {"alt": "Four triangular heat maps in a two by two grid, heads 0 to 3, in shades of blue with a shared colour bar from 0 to 1. The bottom axes are labelled with the characters of the line TRANIO:, a line break, Pardon me, sir, the boldness is mine own; the left axes with positions 0 to 40. Heads 1 and 2 show a dark band just below the diagonal. Head 3 shows a dark vertical stripe under the colon, the seventh character. Head 0 shows a broader, paler band along the diagonal."}}
def show_attention(ax, weights, chars, title=""):
    """Draw (T, T) weights, the characters along the bottom, positions at the side."""
    labels = ["↵" if c == "\n" else c for c in chars]
    image = ax.imshow(weights, cmap="Blues", vmin=0, vmax=1)
    # the characters read as the line itself: monospaced, at the smallest size, 9 points
    ax.set_xticks(range(len(chars)), labels, fontsize=9, family="monospace")
    ax.set_yticks(range(0, len(chars), 10))
    ax.tick_params(axis="x", length=0, pad=2)
    ax.set_title(title)
    return image


line = "TRANIO:\nPardon me, sir, the boldness is mine own,"
assert line in val_text  # a line the model was not trained on
line_ids = torch.tensor([tokenizer.encode(line)])  # (1, T)
with torch.no_grad():
    line_weights = models[4].attention_weights(line_ids)
line_weights = line_weights[0]  # (H, T, T)

fig, axes = plt.subplots(2, 2, figsize=(7.5, 8), sharex=True, sharey=True)
for h, ax in enumerate(axes.flat):
    image = show_attention(ax, line_weights[h], line, f"head {h}")
fig.colorbar(image, ax=axes, location="top", shrink=0.5, label="attention weight")
fig.supxlabel("key: the character attended to")
fig.supylabel("query: its position in the line")
plt.show()

# %% [markdown]
# To put numbers on the pictures: for each head, the average weight a query gives
# to the character $\Delta = 0, 1, 2, 3$ and more positions back; the entropy of its
# weights (0 when it looks at one character only, higher the more it spreads); and the
# character that the queries of the second line (after `TRANIO:`) give the most
# weight to, on average:

# %%
second_line = line.index("\n") + 1
backs = "".join(f"{d:>5}" for d in ("0", "1", "2", "3"))
print(f"head{backs}   4+   entropy  favourite in line 2")
one_back, favourite = [], []
for h in range(4):
    w = line_weights[h]  # (T, T)
    by_offset = [w.diagonal(-dt).mean().item() for dt in range(4)]
    entropy = -(w * w.clamp_min(1e-30).log()).sum(dim=-1)
    entropy = entropy.mean().item()
    # the mean weight each key gets from the queries of line 2
    received = w[second_line:].mean(dim=0)  # (T,)
    top = received.argmax().item()
    row = "".join(f"{p:5.2f}" for p in by_offset)
    rest = 1 - sum(by_offset)
    fav = f"{line[top]!r} {received[top]:.2f}"
    print(f"{h:4d}{row}{rest:5.2f}{entropy:10.2f}  {fav}")
    one_back.append(by_offset[1])
    favourite.append((line[top], received[top].item()))
# An even spread gives key j the weight 1 / (i + 1) from query i:
queries = range(second_line, len(line))
even = sum(1 / (i + 1) for i in queries) / len(queries)
print(f"an even spread gives a key of line 1 {even:.2f} on average")
assert one_back[1] > 0.5 and one_back[2] > 0.5
assert favourite[3][0] == ":" and favourite[3][1] > 3 * even

# %% [markdown]
# The heads have shared out the work. Heads 1 and 2 both do what the single head of the
# previous chapter did, and look at the character just before (more than half of their
# weight is one step back). Head 3 spreads its weight over the line and keeps coming
# back to where it began, the colon that ends the speaker's name `TRANIO:`: the
# queries of the second line give it more than three times the weight an even spread
# would. Head 0 spreads its weight over the recent past. Two heads learning the
# same thing is common: nothing in training asks heads to differ.
#
# ### Is it the colon, or position 6?
#
# The colon of `TRANIO:` is character 6, and this model has a learned position table:
# head 3 could just as well have learned "look at position 6" as "look at the colon".
# One line cannot tell the two apart. Lines whose speaker's name has another length
# can: in them the colon moves and position 6 holds a letter. For five speakers of the
# validation text, the first 40 characters of one of their speeches, and the mean
# weight the queries of the second line give to the colon and to position 6:

# %%
head = 3
print("line                   colon at  weight on it  on position 6")
for name in ("ARIEL", "TRANIO", "GONZALO", "LUCENTIO", "PETRUCHIO"):
    start = val_text.index(f"\n\n{name}:\n") + 2
    speech = val_text[start : start + 40]
    colon, second_line = speech.index(":"), speech.index("\n") + 1
    speech_ids = torch.tensor([tokenizer.encode(speech)])
    with torch.no_grad():
        w = models[4].attention_weights(speech_ids)[0, head]  # (T, T)
    received = w[second_line:].mean(dim=0)  # (T,): the mean weight each key gets
    on_colon, on_six = received[colon].item(), received[6].item()
    shown = repr(speech[:16])[1:-1] + "…"
    print(f"{shown:<22} {colon:8d} {on_colon:13.2f} {on_six:14.2f}")
    if colon != 6:
        assert on_colon > 2 * on_six  # the head follows the colon, not position 6

# %% [markdown]
# Wherever the colon stands, head 3 finds it, and position 6 gets much less weight when
# it holds something else: the head looks for the character, not the place.
#
# ### Which heads does the model need?
#
# A picture shows where a head looks, not whether the model uses what it finds there.
# To measure that, *ablate* the head ({term}`ablation`): remove its output and see how
# much the validation loss rises. Head $h$ contributes to the output only through its
# block of the concatenation, which $W_O$ reads with the columns $hD, \dots, hD + D - 1$
# of `out_proj.weight`; setting those columns to zero removes the head and nothing
# else.


# %%
def without_head(model: AttentionLM, h: int) -> AttentionLM:
    """A copy of the model whose attention ignores head h."""
    ablated = copy.deepcopy(model)
    D = ablated.attention.head_dim
    with torch.no_grad():  # out_proj.weight is (out, in): zero head h's inputs
        ablated.attention.out_proj.weight[:, h * D : (h + 1) * D] = 0
    return ablated


full = val_loss(models[4])
glue("full_loss", f"{full:.2f}")
rise = [val_loss(without_head(models[4], h)) - full for h in range(4)]
for h in range(4):
    print(f"without head {h}: validation loss {full:.2f} + {rise[h]:.2f}")
    glue(f"rise_head{h}", f"{rise[h]:.2f}")
assert min(rise) > 0.01 and max(rise) > 2 * min(rise)

# %% [markdown]
# Removing any one head raises the validation loss of {glue:text}`full_loss` nats: by
# {glue:text}`rise_head0`, {glue:text}`rise_head1`, {glue:text}`rise_head2` and
# {glue:text}`rise_head3` nats for heads 0 to 3. The model uses all four, some much
# more than others. A picture and an ablation answer different questions, where a
# head looks and how much the predictions depend on it, and only the second measures
# what a head is worth. In large trained Transformers many heads can be removed with
# little loss {cite:p}`michel2019sixteen`; in this one-layer model, with four heads
# only, none is spare.
#
# ## Are four heads better than one?
#
# The single training run above gives the four-head model a slightly lower validation
# loss than the one-head model. One run cannot say whether that is the heads or the
# luck of the draw: another seed gives other initial weights and other batches, and so
# another loss. So we train both models with four seeds (the seed-3 models are the ones
# above) and compare the difference between them with the spread between seeds:

# %%
seeds = range(4)
losses = {(1, 3): val_loss(models[1]), (4, 3): val_loss(models[4])}
for n_head in (1, 4):
    for seed in seeds:
        if (n_head, seed) not in losses:
            losses[n_head, seed] = val_loss(train_model(n_head, seed))
loss = torch.tensor([[losses[h, s] for s in seeds] for h in (1, 4)])  # (2, seeds)
gain = loss[0] - loss[1]  # per seed: one head's loss minus four heads'
print("seed          " + "".join(f"{s:7d}" for s in seeds) + "     mean   spread")
for row, label in ((loss[0], "1 head"), (loss[1], "4 heads"), (gain, "difference")):
    cells = "".join(f"{value:7.2f}" for value in row)
    print(f"{label:<14}{cells}  {row.mean():7.2f}  {row.std():7.2f}")
standard_error = gain.std().item() / len(seeds) ** 0.5
glue("gain_mean", f"{gain.mean():.2f}")
glue("gain_se", f"{standard_error:.2f}")
glue("gain_min", f"{gain.min():.2f}")
glue("gain_max", f"{gain.max():.2f}")
glue("seed_spread", f"{loss[0].std():.2f}")
assert (gain > 0).all()  # four heads ahead with every seed
assert gain.mean() > max(2 * standard_error, loss[0].std())  # beyond the seeds' noise

# %% [markdown]
# Four heads are ahead with every seed, by {glue:text}`gain_min` to
# {glue:text}`gain_max` nats ({glue:text}`gain_mean` on average, with a standard error
# of {glue:text}`gain_se`), while the loss of one model changes from seed to seed by
# about {glue:text}`seed_spread` nats (its standard deviation). The edge of four heads
# is small, but larger than the noise of the seeds: that, one run could not show.
#
# ## What do heads cost?
#
# Splitting the width into heads costs **no parameters**: whatever $H$, the projections
# are $W_{QKV}$, $(C, 3C)$, and $W_O$, $(C, C)$, with biases $3C$ and $C$, in all
#
# $$
# N_{\text{params}} = 4C^2 + 4C ,
# $$
#
# exactly the count of a single head of width $C$. For GPT-2 small ($C = 768$, 12 heads
# per layer) that is 2,362,368 parameters per layer. We check the formula against the
# modules:


# %%
def attention_parameters(C: int) -> int:
    return 4 * C * C + 4 * C


sizes = [(64, 1), (64, 4), (64, 16), (768, 1), (768, 12)]
for width, n_head in sizes:
    module = MultiHeadAttention(width, n_head)
    counted = sum(p.numel() for p in module.parameters())
    assert counted == attention_parameters(width)
    print(f"C={width:3d}, H={n_head:2d}: {counted:>9,} parameters")

# %% [markdown]
# Nor do heads change the arithmetic. Counting a multiply and an add as 2 floating-point
# operations (FLOPs), a product of an $(m, n)$ and an $(n, p)$ matrix costs $2mnp$. For
# $B$ sequences of $T$ tokens:
#
# - the input projections, $(BT, C) \times (C, 3C)$: $6BTC^2$;
# - the scores $QK^\top$, for each of the $BH$ heads $(T, D) \times (D, T)$:
#   $2BHT^2D = 2BT^2C$;
# - the weighted sums $AV$, for each head $(T, T) \times (T, D)$: again $2BT^2C$;
# - the output projection, $(BT, C) \times (C, C)$: $2BTC^2$.
#
# $$
# \text{FLOPs} = 8BTC^2 + 4BT^2C ,
# $$
#
# with no $H$ in it: $H$ heads of width $C/H$ do the work of one head of width $C$, cut
# into pieces. We check the formula against PyTorch's own FLOP counter, which counts the
# matrix products as they run:


# %%
def attention_flops(B: int, T: int, C: int) -> int:
    return 8 * B * T * C * C + 4 * B * T * T * C


for n_head in (1, 4, 16):
    module = MultiHeadAttention(64, n_head)
    # PyTorch's math backend runs attention as matrix products, which the counter sees
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        # B = 2 sequences of T = 32 tokens of width C = 64
        module(torch.randn(2, 32, 64))
    counted = counter.get_total_flops()
    formula = attention_flops(2, 32, 64)
    assert counted == formula
    print(f"H={n_head:2d}: {counted:,} FLOPs, formula {formula:,}")
gpt2_layer = attention_flops(1, 1024, 768)
share = 4 * 1024**2 * 768 / gpt2_layer
gflops = gpt2_layer / 1e9
print(f"GPT-2 small, one layer, T = 1024: {gflops:.2f} GFLOPs,")
print(f"{share:.0%} of them in the scores and the weighted sums")

# %% [markdown]
# What heads do change is the number of $(T, T)$ weight matrices: $H$ of them per
# sequence, so the memory of the weights and the work of the softmax grow with $H$
# (this is not in the FLOP count, which counts only matrix products), and each head
# works with smaller matrices, which hardware runs less efficiently. For a fixed
# width, more heads buy more places to look at, each one narrower; GPT-2 small uses 12
# heads of width 64.
#
# ```{admonition} A common mistake: "the cost depends on the number of heads"
# :class: warning
# The course's outline says that the cost of multi-head attention grows with the
# number of heads. For a fixed width $C$ it does not: the parameters are $4C^2 + 4C$
# and the matrix products $8BTC^2 + 4BT^2C$ FLOPs whatever $H$, as PyTorch's own
# counter confirmed above for $H = 1$, 4 and 16. Heads cut the same work into narrower
# pieces; only the softmax's work and the memory of the $H$ weight matrices grow with
# $H$.
# ```
#
# ## Do the keys and values need $H$ heads each?
#
# When a GPT generates text, it produces one token at a time, and every new token
# attends to the keys and values of all the tokens before it. Recomputing those at every
# step would waste work, so generation keeps them in a *KV cache*, which chapter 8, on
# generating text, builds: per layer and per token, $H$ keys and $H$ values of width
# $D$. For long contexts and many sequences at once, the cache, not the weights, fills
# the memory, and reading it is what limits the speed of generation.
#
# {term}`Multi-query attention` {cite:p}`shazeer2019fast` keeps $H$ query heads but
# gives them one shared key head and one shared value head: the cache shrinks $H$
# times. {term}`Grouped-query attention` {cite:p}`ainslie2023gqa` is the middle
# ground, used by Llama 2 70B {cite:p}`touvron2023llama2` and most recent models: $G$
# groups of key and value heads,
# each shared by $H/G$ query heads ($G = 1$ is multi-query, $G = H$ is multi-head).
# Query head $h$ uses key and value group $\lfloor h / (H/G) \rfloor$, which is what
# repeating each group $H/G$ times side by side does; PyTorch's
# {py:func}`~torch.nn.functional.scaled_dot_product_attention` does it itself with
# `enable_gqa=True`:

# %%
B, T, H, G, D = 2, 6, 8, 2, 4  # 8 query heads share 2 key and value groups
torch.manual_seed(0)
q = torch.randn(B, H, T, D)
k, v = torch.randn(B, G, T, D), torch.randn(B, G, T, D)  # H / G = 4 times smaller
# query head h uses group h // (H // G): repeat each group H // G times in place
k_rep, v_rep = k.repeat_interleave(H // G, dim=1), v.repeat_interleave(H // G, dim=1)
ours, _ = scaled_dot_product_attention(q, k_rep, v_rep, causal=True)  # (B, H, T, D)
fused = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
torch.testing.assert_close(ours, fused)
print("grouped-query attention: PyTorch's enable_gqa equals repeated key groups")


def kv_cache_numbers(n_layer: int, T: int, n_kv_head: int, head_dim: int) -> int:
    """The numbers a KV cache holds for one sequence of T tokens."""
    return 2 * n_layer * T * n_kv_head * head_dim  # keys and values


# Llama 2 70B's sizes: 80 layers, 64 query heads of width 128, 8 key-value groups
mha_cache = kv_cache_numbers(80, 4096, 64, 128)
gqa_cache = kv_cache_numbers(80, 4096, 8, 128)
assert mha_cache == 8 * gqa_cache
print(
    f"4,096 tokens, 16-bit numbers: {mha_cache * 2 / 2**30:.2f} GiB with 64 key-value"
)
print(f"heads, {gqa_cache * 2 / 2**30:.2f} GiB with 8 groups")

# %% [markdown]
# The query and output projections keep their size; the key and value projections
# shrink from $C \times C$ to $C \times GD$ each. What is given up is some quality:
# {cite:t}`ainslie2023gqa` find grouped-query attention close to multi-head attention
# in quality and close to multi-query attention in speed.
#
# ## Summary
#
# - Multi-head attention runs $H$ attentions of width $D = C/H$ side by side, each
#   scaled by $1/\sqrt{D}$, and mixes their concatenated outputs with $W_O$.
# - The batched form views $(B, T, C)$ as $(B, T, H, D)$ and moves the heads before
#   time; it is exactly {py:class}`torch.nn.MultiheadAttention` and GPT-2's attention.
# - Trained heads share out the work: some look one character back, one finds the
#   colon after the speaker's name wherever it stands.
# - Ablating a head measures what the model uses it for; a picture alone does not.
# - A difference between two models means something only next to the spread between
#   seeds.
# - Heads cost no parameters and no FLOPs for a fixed width; multi-query and
#   grouped-query attention share keys and values between heads to shrink the KV cache.
#
# ## Exercises
#
# In
# {doc}`the exercises of this chapter <../exercises/solutions/05_multi_head_attention>`
# (also `exercises/05_multi_head_attention.ipynb`, to work through in JupyterLab):
#
# - Warm-up: count the parameters of grouped-query attention.
# - Medium: ablate one head of a `MultiHeadAttention` module.
# - Medium: grouped-query attention from the heads' queries, keys and
#   values.
# - Stretch: how many heads? Train 1, 2 and 8 heads over seeds, and
#   say which differences are larger than the spread.
#
# ## Further reading
#
# - {cite:t}`vaswani2017attention`, section 3.2.2: multi-head attention as it was
#   introduced, with $H = 8$ heads of width 64.
# - {cite:t}`michel2019sixteen`: most heads of trained Transformers can be removed at
#   test time with little loss, measured by ablation as in this chapter.
# - {cite:t}`elhage2021mathematical`: reading what heads do, with $W_O$ and $W_V$ seen
#   as one matrix per head.
# - {cite:t}`shazeer2019fast` and {cite:t}`ainslie2023gqa`: multi-query and
#   grouped-query attention, and why sharing keys and values speeds up generation.
