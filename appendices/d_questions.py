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
# # Appendix D: Questions and misconceptions
#
# The questions readers ask once they have built a GPT, and the claims about GPTs that
# are often repeated and wrong. Every answer here is computed on this page, with the
# course's package, and points to the chapter that builds the idea.
#
# ```{admonition} What you will be able to do
# - explain how a GPT differs from BERT, with the two attention masks and the two
#   training objectives;
# - compute GPT-3's 175 billion parameters from its shape with
#   `gptcourse.model.count_parameters`, and build the model without its memory on
#   PyTorch's `meta` device;
# - choose how to fine-tune a GPT on your own task, and count what each choice trains;
# - count the FLOPs of attention, and show that the number of heads does not change
#   them;
# - correct six common misconceptions with evidence you can re-run.
# ```

# %%
import math

import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from gptcourse import plotting
from gptcourse.attention import MultiHeadAttention, causal_mask
from gptcourse.finetune import GPTClassifier, count_trainable, freeze_all_but_head
from gptcourse.glue import glue
from gptcourse.lora import apply_lora
from gptcourse.model import GPT, GPTConfig, count_parameters
from gptcourse.transformer import Block

# %% [markdown]
# ## How is a GPT different from BERT?
#
# Both are stacks of Transformer layers {cite:p}`vaswani2017attention`, and they differ
# in what a position may look at and in what they are trained to predict.
#
# - A **GPT** is *decoder-only* {cite:p}`radford2018improving`: each position attends to
#   itself and the positions before it (a causal mask), and the model is trained to
#   predict the next token at every position (causal language modelling). That is what
#   lets it generate text, one token at a time.
# - **BERT** is *encoder-only* {cite:p}`devlin2019bert`: every position attends to every
#   other, before and after. It is trained by masked language modelling: about 15% of
#   the input tokens are hidden (most replaced by `[MASK]`) and the model predicts them
#   from both sides. That makes it good at understanding a whole text (classification,
#   extraction) and unable to generate left to right.
#
# {numref}`fig-gpt-bert-masks` draws the two masks for eight tokens.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Which positions each query may attend to, for eight tokens. Left, a GPT: the causal mask lets query $i$ see keys $0 \\dots i$ only. Right, BERT: every query sees every key; the hidden tokens (here positions 2 and 6, shown as [MASK]) are what it must predict.", "name": "fig-gpt-bert-masks"}, "image": {"alt": "Two 8 by 8 grids side by side with a shared colour bar from 0 (may not attend, light) to 1 (may attend, dark). The left grid, labelled GPT, causal, is dark on and below the diagonal and light above it. The right grid, labelled BERT, bidirectional, is dark everywhere; its key axis labels show tokens 2 and 6 as MASK."}}
T = 8
gpt_mask = causal_mask(T).float()  # (T, T): query i may see keys j <= i
bert_mask = torch.ones(T, T)  # every query sees every key
words = "the cat sat on the mat and purred".split()
bert_words = [w if i not in (2, 6) else "[MASK]" for i, w in enumerate(words)]

plotting.use_style()
fig, axes = plt.subplots(1, 2, figsize=(plotting.WIDTH, 3.6), layout="constrained")
for ax, mask, title, labels in [
    (axes[0], gpt_mask, "GPT: causal", words),
    (axes[1], bert_mask, "BERT: bidirectional", bert_words),
]:
    image = ax.imshow(mask, cmap="Blues", vmin=0, vmax=1)
    ax.set_title(title)
    ax.set_xticks(range(T), labels, rotation=90)
    ax.set_yticks(range(T), words)
    ax.set_xlabel("key")
axes[0].set_ylabel("query")
fig.colorbar(image, ax=axes, label="may attend", ticks=[0, 1], fraction=0.05)
plt.show()

# %% [markdown]
# The difference is visible in what a model computes. Change the *last* token of a
# sequence: in a GPT only the last position's output can change, since no earlier
# position may look at it. In an encoder (PyTorch's own
# {py:class}`torch.nn.TransformerEncoder`, without a mask), every position's output
# changes.

# %%
torch.manual_seed(0)
config = GPTConfig.from_preset("gpt-nano", vocab_size=50, block_size=16)
gpt = GPT(config).eval()
layer = nn.TransformerEncoderLayer(48, 3, dim_feedforward=192, batch_first=True)
encoder = nn.TransformerEncoder(layer, num_layers=3, enable_nested_tensor=False).eval()
embed = nn.Embedding(50, 48)

idx = torch.randint(50, (1, 12))
changed = idx.clone()
changed[0, -1] = (idx[0, -1] + 1) % 50  # another last token
with torch.no_grad():
    gpt_moved = (gpt(idx)[0] - gpt(changed)[0]).abs().amax(-1)[0]  # (T,)
    enc_moved = (encoder(embed(idx)) - encoder(embed(changed))).abs().amax(-1)[0]
print("positions whose output changed, of 12:")
print(f"  GPT (causal):       {int((gpt_moved > 0).sum())}")
print(f"  encoder (no mask):  {int((enc_moved > 0).sum())}")
assert int((gpt_moved > 0).sum()) == 1 and int((enc_moved > 0).sum()) == 12

# %% [markdown]
# The objectives differ in how much they learn from a sequence, too. A causal language
# model makes a prediction at every position; masked language modelling predicts only
# the hidden 15%:

# %%
T_bert = 512  # BERT's context
gpt_targets = T_bert  # one next token per position
bert_targets = round(0.15 * T_bert)  # the masked positions only
glue("bert_targets", f"{bert_targets}")
print(f"predictions per sequence of {T_bert} tokens:")
print(f"GPT {gpt_targets}, BERT {bert_targets}")

# %% [markdown]
# So from a sequence of 512 tokens a GPT gets 512 predictions to learn from and BERT
# {glue:text}`bert_targets`; BERT pays for seeing both sides. The GPT of this course is
# built block by block in chapters 4 to 7; its causal mask is built in
# {doc}`../chapters/04_self_attention`.
#
# ## Where do GPT-3's 175 billion parameters come from?
#
# GPT-3 {cite:p}`brown2020language` is GPT-2's architecture, larger: 96 layers of width
# 12,288 with 96 heads, a context of 2,048 tokens and GPT-2's vocabulary of 50,257
# tokens. (Its attention alternates dense and locally banded sparse layers, which
# changes no parameter count.) The course's parameter formula, $12C^2 + 13C$ per block
# plus the embeddings, gives its size:

# %%
gpt3 = GPTConfig(vocab_size=50257, block_size=2048, n_layer=96, n_head=96, n_embd=12288)
n_gpt3 = count_parameters(gpt3)
per_block = 12 * gpt3.n_embd**2 + 13 * gpt3.n_embd
print(f"one block:        {per_block:>16,}")
print(f"96 blocks:        {96 * per_block:>16,}")
print(f"GPT-3, in all:    {n_gpt3:>16,}  ({n_gpt3 / 1e9:.1f} billion)")
assert round(n_gpt3 / 1e9) == 175
glue("gpt3_billions", f"{n_gpt3 / 1e9:.1f}")
glue("gpt3_blocks_share", f"{96 * per_block / n_gpt3:.1%}")

# %% [markdown]
# {glue:text}`gpt3_billions` billion, which the paper rounds to 175; the blocks hold
# {glue:text}`gpt3_blocks_share` of them. We need not trust the formula: PyTorch's
# `meta` device creates tensors that have a shape and no memory, so the course's `GPT`
# class builds GPT-3 itself in a fraction of a second, and we count its parameters:

# %%
with torch.device("meta"):
    model = GPT(gpt3)  # shapes only: no memory is allocated
counted = sum(p.numel() for p in model.parameters())
assert counted == n_gpt3 == model.num_params()
gigabytes = 2 * counted / 1e9  # 2 bytes per parameter in 16-bit floats
glue("gpt3_gb", f"{gigabytes:.0f}")
print(f"GPT(gpt3) on the meta device: {counted:,} parameters")
print(f"its weights in 16-bit floats: {gigabytes:.0f} GB")

# %% [markdown]
# Its weights alone take {glue:text}`gpt3_gb` GB in 16-bit floats: more than the
# memory of any one accelerator, which is why such a model is split across many.
#
# ## How do I fine-tune a GPT on my own task?
#
# Start from a pretrained model and continue training on examples of your task; three
# usual ways differ in what they train:
#
# - **All weights** (GPT-1's choice {cite:p}`radford2018improving`): the most
#   capable, and a full copy of the model per task.
# - **A new head on a frozen model**: for classification, a linear layer on the last
#   token's hidden state (`gptcourse.finetune.GPTClassifier` with
#   `freeze_all_but_head`). Cheap, and the model's features must already fit the task.
# - **Low-rank adapters, LoRA** {cite:p}`hu2021lora`: small matrices added to some
#   layers, the rest frozen (`gptcourse.lora.apply_lora`).
#
# Chapter 10 fine-tunes the course's GPT as a spam classifier in all three ways; for
# models on the Hugging Face Hub, transformers' `Trainer` and the `peft` library do the
# same. Here is what each choice trains on GPT-2 small, counted on the `meta` device:

# %%
with torch.device("meta"):  # one GPT-2 small, trained three ways in turn
    classifier = GPTClassifier(GPT(GPTConfig.from_preset("gpt2")), num_classes=2)
counts = {"all weights": count_trainable(classifier)}
freeze_all_but_head(classifier)
counts["head only"] = count_trainable(classifier)
apply_lora(classifier.gpt, r=8)  # adds adapters; freezes the rest of the GPT
counts["LoRA, r = 8"] = count_trainable(classifier)
for name, (trainable, total) in counts.items():
    print(f"{name:12s} trains {trainable:>11,} of {total:,} ({trainable / total:.3%})")
assert counts["all weights"][0] == counts["all weights"][1]
glue("gpt2_trainable", f"{counts['all weights'][0]:,}")

# %% [markdown]
# ## What does attention cost, and what does the number of heads change?
#
# For $B$ sequences of $T$ tokens of width $C$, a multi-head attention layer costs
# $8BTC^2$ FLOPs in its four projections and $4BT^2C$ in the scores and the weighted
# sums, whatever the number of heads $H$: $H$ heads of width $C/H$ compute the same
# products as one head of width $C$, cut into pieces
# ({doc}`../chapters/05_multi_head_attention` derives it). PyTorch's FLOP counter
# agrees, for every $H$:


# %%
def attention_flops(B: int, T: int, C: int) -> int:
    return 8 * B * T * C * C + 4 * B * T * T * C


counts = {}
for n_head in (1, 2, 4, 8, 16, 32):
    torch.manual_seed(0)
    attention = MultiHeadAttention(64, n_head)
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        attention(torch.randn(2, 32, 64))  # B = 2, T = 32, C = 64
    counts[n_head] = counter.get_total_flops()
assert set(counts.values()) == {attention_flops(2, 32, 64)}
print(f"FLOPs for H = 1, 2, ..., 32: all {attention_flops(2, 32, 64):,}")

# %% [markdown]
# A whole block adds the MLP, $16BTC^2$: in all $24BTC^2 + 4BT^2C$ per layer. The term
# in $T^2$ overtakes the others only when $T > 6C$, so for GPT-2 small ($C = 768$)
# beyond 4,608 tokens; {numref}`fig-layer-flops` plots both. What grows with $H$ is
# memory: $H$ weight matrices of $T \times T$ per sequence, unless a fused kernel
# such as FlashAttention {cite:p}`dao2022flashattention` never stores them.

# %%
torch.manual_seed(0)
block = Block(64, 4)
with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
    block(torch.randn(2, 32, 64))
assert counter.get_total_flops() == 24 * 2 * 32 * 64**2 + 4 * 2 * 32**2 * 64
print("one block: 24 B T C^2 + 4 B T^2 C FLOPs, as counted")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "FLOPs of one GPT-2 small layer ($C = 768$) for one sequence, against its length $T$: the matrix products with the weights grow linearly, the attention scores and weighted sums quadratically, and overtake them at $T = 6C = 4608$.", "name": "fig-layer-flops"}, "image": {"alt": "A log-log plot of GFLOPs against sequence length from 128 to 32768. A straight line of slope 1 labelled weights (projections and MLP) and a steeper line of slope 2 labelled scores and weighted sums cross at 4608 tokens, marked by a dotted vertical line."}}
C = 768
lengths = torch.logspace(math.log10(128), math.log10(32768), 50)
fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
ax.loglog(lengths, 24 * lengths * C**2 / 1e9, label="weights (projections and MLP)")
ax.loglog(lengths, 4 * lengths**2 * C / 1e9, label="scores and weighted sums")
ax.axvline(6 * C, color="gray", linestyle=":")
ax.set_xlabel("sequence length T (tokens)")
ax.set_ylabel("GFLOPs per layer")
ax.legend()
plt.show()

# %% [markdown]
# ## Common misconceptions
#
# Each of these is repeated in tutorials (and was in this course's first outline).
# Each is corrected with evidence computed here, and a pointer to the chapter that
# shows it in full.
#
# ```{admonition} A common mistake: "GPT uses the Transformer's encoder"
# :class: warning
# GPT is **decoder-only**: a stack of the original Transformer's decoder blocks without
# their cross-attention, each with a causal mask {cite:p}`radford2018improving`. The
# evidence: above, changing the last token changed the output of exactly one position
# of the GPT, the last; an encoder would have changed all twelve. The causal mask is
# built in {doc}`../chapters/04_self_attention`.
# ```
#
# ```{admonition} A common mistake: "BERT uses the encoder and the decoder"
# :class: warning
# BERT is **encoder-only** {cite:p}`devlin2019bert`: every position attends to every
# other ({numref}`fig-gpt-bert-masks`, right), and it has no decoder and generates no
# text. The encoder and decoder together are the original Transformer's, for
# translation {cite:p}`vaswani2017attention`; {doc}`../chapters/01_language_models`
# follows the line from it to GPT.
# ```
#
# ```{admonition} A common mistake: "Fine-tuning must freeze the pretrained weights"
# :class: warning
# GPT-1 fine-tuned **all** its weights {cite:p}`radford2018improving`, and so do
# `gptcourse.finetune.GPTClassifier` and transformers' `Trainer` unless told otherwise:
# in the count above, "all weights" trains every one of GPT-2's
# {glue:text}`gpt2_trainable` parameters. Freezing (a head only, or LoRA) is one option
# among three, cheaper in memory and usually a little less accurate; chapter 10
# measures the three on the same task.
# ```
#
# ### "Attention needs no scaling"
#
# The scores are divided by $\sqrt{d_k}$ {cite:p}`vaswani2017attention`. The dot product
# of a query and a key with $d_k$ independent entries of variance 1 has variance $d_k$:
# unscaled, the scores are $\sqrt{d_k}$ times too spread out, and the softmax puts
# nearly all its weight on one key, where its gradient vanishes.

# %%
d_k, n_keys = 64, 16
g = torch.Generator().manual_seed(0)
q = torch.randn(2000, d_k, generator=g)  # 2000 queries
k = torch.randn(2000, n_keys, d_k, generator=g)  # 16 keys each
scores = torch.einsum("nd,nkd->nk", q, k)  # (2000, 16)
for name, s in [
    ("unscaled", scores),
    ("divided by sqrt(d_k)", scores / math.sqrt(d_k)),
]:
    weights = torch.softmax(s, dim=-1)
    print(
        f"{name:21s} score std {s.std():4.1f}, "
        f"mean largest weight {weights.amax(-1).mean():.2f}"
    )
assert abs(scores.std() / math.sqrt(d_k) - 1) < 0.05

# %% [markdown]
# {doc}`../chapters/04_self_attention` shows the saturation and its effect on the
# gradients.
#
# ### "More heads cost more compute"
#
# The FLOP counts above are identical for 1 to 32 heads: the heads split the width,
# they do not multiply it. {doc}`../chapters/05_multi_head_attention` derives the count
# and checks it against PyTorch's counter; what grows with the heads is the memory of
# the attention weights.
#
# ### "CNNs suffer vanishing gradients the way RNNs do"
#
# A recurrent network carries a token's information to a later position through one
# step per position in between, and the gradient is multiplied by the recurrent
# Jacobian at each step: over $n$ positions it shrinks (or grows) roughly like the
# $n$-th power of a number {cite:p}`pascanu2013difficulty`. In a convolutional network
# the path from one position to another has the network's depth, whatever their
# distance. Deep CNNs had depth problems of their own, solved by residual connections
# {cite:p}`he2016deep`, but not ones that grow with the length of the text.
# {numref}`fig-rnn-cnn-gradients` measures the gradient of the last output with respect
# to each input, for an RNN and for a stack of dilated causal convolutions that sees
# the same 64 positions.

# %%
T, width = 64, 32
torch.manual_seed(0)
rnn = nn.RNN(width, width, batch_first=True)  # tanh, PyTorch's initialisation
convs = nn.Sequential(
    *[
        nn.Sequential(
            nn.ConstantPad1d((2**i, 0), 0.0),
            nn.Conv1d(width, width, 2, dilation=2**i),
            nn.Tanh(),
        )
        for i in range(6)  # dilations 1, 2, ..., 32: the last output sees all 64 inputs
    ]
)


def input_gradients(run) -> torch.Tensor:
    """The norm of d(last output) / d(input at t), for each t: (T,)."""
    x = torch.randn(1, T, width, generator=torch.Generator().manual_seed(1))
    x.requires_grad_(True)
    run(x).sum().backward()
    return x.grad[0].norm(dim=-1)


rnn_grad = input_gradients(lambda x: rnn(x)[0][:, -1])
cnn_grad = input_gradients(lambda x: convs(x.transpose(1, 2))[:, :, -1])
for name, grad in [("RNN", rnn_grad), ("CNN", cnn_grad)]:
    print(f"{name}: gradient from 63 positions back, relative to the last: ", end="")
    ratio = grad[0] / grad[-1]
    print("below 1e-6" if ratio < 1e-6 else f"{ratio:.2f}")
assert rnn_grad[0] / rnn_grad[-1] < 1e-6 < cnn_grad[0] / cnn_grad[-1]

# %% tags=["hide-input"] mystnb={"figure": {"caption": "How much the last output depends on each earlier input: the norm of the gradient with respect to the input $n$ positions back, for a recurrent network and for six dilated causal convolutions that see the same 64 positions. The RNN's gradient falls exponentially with the distance; the CNN's does not.", "name": "fig-rnn-cnn-gradients"}, "image": {"alt": "A plot with a logarithmic vertical axis, gradient norm, against the distance back from 0 to 63 positions. The RNN's curve falls along a straight line on the log scale by many orders of magnitude. The CNN's curve stays within about one to two orders of magnitude across all distances."}}
distance = torch.arange(T - 1, -1, -1)
fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
ax.semilogy(distance, rnn_grad, label="RNN")
ax.semilogy(distance, cnn_grad, label="CNN (dilated)")
ax.set_xlabel("distance back from the last position")
ax.set_ylabel("gradient norm")
ax.legend()
plt.show()

# %% [markdown]
# Chapter 2 shows the vanishing gradient of a recurrent network trained on text, and
# why attention, which connects any two positions in one step, removed the problem.
#
# ## Summary
#
# - GPT is decoder-only, trained to predict the next token under a causal mask; BERT is
#   encoder-only, trained to recover masked tokens from both sides.
# - GPT-3's 175 billion parameters follow from its shape: 96 blocks of
#   $12C^2 + 13C$ with $C = 12{,}288$, plus the embeddings.
# - Fine-tuning may train every weight (as GPT-1 did), a new head, or low-rank adapters;
#   freezing is a choice, not a rule.
# - Attention costs $8BTC^2 + 4BT^2C$ FLOPs whatever the number of heads; the heads
#   change memory, not arithmetic.
# - Scores are scaled by $1/\sqrt{d_k}$ to keep the softmax from saturating.
# - Vanishing gradients grow with the sequence in an RNN and with the depth in a CNN.
#
# ## Further reading
#
# - {cite:t}`devlin2019bert` introduce BERT and masked language modelling, and compare
#   it with a left-to-right GPT.
# - {cite:t}`brown2020language`, Table 2.1, list the shapes of the eight GPT-3 models,
#   from 125 million to 175 billion parameters.
# - {cite:t}`kaplan2020scaling` count a Transformer's parameters and FLOPs as this page
#   does, and relate them to the loss.
# - {cite:t}`hu2021lora` introduce low-rank adapters and compare them with full
#   fine-tuning of GPT-3.
# - {cite:t}`pascanu2013difficulty` analyse why recurrent networks' gradients vanish and
#   explode.
