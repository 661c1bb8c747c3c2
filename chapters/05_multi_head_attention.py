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
# implementation uses; proves that it is exactly PyTorch's `nn.MultiheadAttention` and
# GPT-2's attention given the same weights; trains a small model to see what its heads
# learn; and counts what heads cost.

# %%
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
from gptcourse.batches import get_batch, train_val_split
from gptcourse.char_tokenizer import CharTokenizer

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
# *Multi-head attention* runs $H$ attentions in parallel. Head $h$ has its own
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
# is why the way back uses `reshape` (which copies when it must) rather than `view`.
# The companion package's `MultiHeadAttention` is exactly this computation, with the
# projections as `nn.Linear` layers: `qkv_proj` holds $W_{QKV}^\top$ (PyTorch's `Linear`
# stores its weight as `(out, in)`) and `out_proj` holds $W_O^\top$. Given our weights,
# it gives the same output, and `CausalSelfAttention` is its causal case. The module
# returns its output; its `attention_weights` method gives the weights, for pictures:

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
# We train the character-level model of the previous chapter twice with identical
# settings: once with one head of width 64, once with four heads of width 16. Both have
# exactly the same number of parameters (the last section shows why).

# %%
text = data.load_text("tinyshakespeare")
tokenizer = CharTokenizer.from_text(text)
ids = torch.tensor(tokenizer.encode(text))
train_ids, val_ids = train_val_split(ids)


class AttentionLM(nn.Module):
    """Characters (B, T) -> next-character logits (B, T, vocab), and the loss."""

    def __init__(self, vocab_size, block_size, n_embd, n_head):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, n_embd)
        self.position_embedding = nn.Embedding(block_size, n_embd)
        self.attention = CausalSelfAttention(n_embd, n_head)
        self.to_logits = nn.Linear(n_embd, vocab_size)

    def embed(self, idx):
        T = idx.shape[1]
        tokens = self.token_embedding(idx)  # (B, T, C)
        # (T, C): one vector per position
        positions = self.position_embedding(torch.arange(T))
        return tokens + positions  # (B, T, C)

    def forward(self, idx, targets=None):
        x = self.embed(idx)
        logits = self.to_logits(x + self.attention(x))
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten())

    def attention_weights(self, idx):
        """Every head's weights, (B, H, T, T)."""
        return self.attention.attention_weights(self.embed(idx))


def train(n_head, steps=400, block_size=64):
    torch.manual_seed(3)
    V = tokenizer.vocab_size
    model = AttentionLM(V, block_size, n_embd=64, n_head=n_head)
    optimizer = torch.optim.AdamW(model.parameters(), lr=6e-3)
    generator = torch.Generator().manual_seed(3)

    def next_batch():
        return get_batch(train_ids, 32, block_size, generator)

    training.train(model, optimizer, next_batch, steps)  # the loop of chapter 2
    return model


models = {n_head: train(n_head) for n_head in (1, 4)}
# the loss on the same 256 validation windows for both (seed 0)
val = {"batch_size": 256, "block_size": 64}
losses = {n: training.estimate_loss(m, val_ids, **val) for n, m in models.items()}
print("heads  width  parameters  validation loss (nats)")
for n_head, model in models.items():
    n_params = sum(p.numel() for p in model.parameters())
    width, loss = 64 // n_head, losses[n_head]
    print(f"{n_head:5d} {width:6d} {n_params:11,} {loss:9.3f}")
assert losses[4] < losses[1]


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
# The line comes from the validation part of the text:
assert text.index(line) > len(text) - len(val_ids)
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
# same thing is common: nothing in training asks heads to differ, and many heads of
# trained Transformers can be removed with little loss (Michel et al., 2019, *Are
# Sixteen Heads Really Better than One?*). With the same parameters and the same
# training, the four-head model ends with a slightly lower validation loss than the
# one-head model.
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
# ## Exercises
#
# The exercises for this chapter are in
# {doc}`its exercise notebook <../exercises/solutions/05_multi_head_attention>`, and in
# `exercises/05_multi_head_attention.ipynb` to work through in JupyterLab.
