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
# # Appendix B: Inside the trained model
#
# Chapter 9 trained a character-level GPT on Tiny Shakespeare and measured it from the
# outside, by its loss and its samples. This appendix opens it: where each attention
# head looks, which patterns those looks follow, which heads the model needs, and what
# each layer would predict if the model stopped there. Then the same `GPT` class learns
# something that is not text at all, small images of handwritten digits.
#
# ```{admonition} What you will be able to do
# - collect the attention weights of every head of a trained GPT with
#   `gptcourse.heads.attention_maps`, and draw them;
# - score each head for a named pattern (previous token, first token, induction) and
#   compare the score with what an unspecialised head would get;
# - remove a head with `gptcourse.heads.without_head` and measure what the model loses
#   without it;
# - read the prediction of every layer with the logit lens (`gptcourse.logit_lens`);
# - train the same GPT class on images as sequences of pixel tokens, and say how real
#   multimodal models differ.
# ```

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from gptcourse import plotting
from gptcourse.corpus import BatchStream, Corpus
from gptcourse.generation import generate
from gptcourse.glue import glue
from gptcourse.heads import (
    attention_maps,
    first_token_score,
    head_ablation_losses,
    induction_score,
    previous_token_score,
    repeated_tokens,
)
from gptcourse.logit_lens import layer_losses, logit_lens
from gptcourse.model import GPT, GPTConfig
from gptcourse.train_config import get_config
from gptcourse.trainer import Trainer
from gptcourse.training import train

# Models this small train fastest on one thread: more only add synchronisation.
torch.set_num_threads(1)

# %% [markdown]
# ## Which model do we open?
#
# Chapter 9's: the run `shakespeare-char-cpu` (3 blocks of 4 heads, width 96, a context
# of 64 characters), trained by `gptcourse.trainer.Trainer`. To keep this page fast it
# trains for 400 steps, about 410 thousand characters; chapter 9 trains 500. The
# losses are this machine's: another CPU rounds differently and the run drifts apart in
# the last digits, so what the page asserts holds with a margin.

# %% tags=["nbval-ignore-output"]
corpus = Corpus.load("tinyshakespeare", tokenizer="char")
tok = corpus.tokenizer
config = get_config(
    "shakespeare-char-cpu",
    max_steps=400,
    eval_interval=0,
    sample_tokens=0,
    progress=False,
)
trainer = Trainer(config, corpus=corpus)
result = trainer.fit()
model = trainer.model.eval()
print(f"validation loss {result.val_loss:.3f} after {result.step} steps")
val_loss = glue("val_loss", f"{result.val_loss:.2f}")

# %%
assert 1.9 < result.val_loss < 2.6
print("validation loss between 1.9 and 2.6 nats (a uniform guess: ln 65 = 4.17)")

# %% [markdown]
# Its validation loss is {glue:text}`val_loss` nats. The batch below, 32 windows of 64
# characters from the validation text, is what the rest of the page measures it on.

# %%
x, y = BatchStream(corpus.val, 32, 64, seed=0).next()  # (B, T) = (32, 64) each
with torch.no_grad():
    own_loss = model(x, y)[1].item()
assert abs(own_loss - result.val_loss) < 0.2
print("loss on this batch within 0.2 nats of the validation loss")

# %% [markdown]
# ## Where does each head look?
#
# Every {term}`head <attention head>` of every block computes a $T \times T$ matrix
# of attention weights: row $i$ is the distribution of query $i$ over the keys
# $0 \dots i$ ({doc}`chapter 5 <../chapters/05_multi_head_attention>`).
# The fused kernel that the model runs does not return them, so
# `gptcourse.heads.attention_maps` catches each block's attention input with a forward
# hook and recomputes them with the attention's `attention_weights` method, all
# $L \times H = 12$ maps at once, `(L, B, H, T, T)`:

# %%
line = "KING RICHARD III:\nNow is the winter of our discontent"
line_ids = torch.tensor([tok.encode(line)])  # (1, T)
maps = attention_maps(model, line_ids)[:, 0]  # (L, H, T, T)
print(tuple(maps.shape))
assert torch.allclose(maps.sum(-1), torch.ones(maps.shape[:-1]))  # rows sum to 1
assert torch.all(maps.triu(1) == 0)  # and nothing after the query: causal
print("every row sums to 1, and no query looks ahead")

# %% [markdown]
# {numref}`fig-head-maps` draws the twelve maps on the opening line of Richard
# III.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The attention weights of the 12 heads (rows: blocks 0 to 2; columns: heads 0 to 3) on a line of Richard III, 53 characters. Each map is query (down) by key (across); dark is weight near 1. Weight near the diagonal is a look at the last few characters; a dark column is one character that many queries look at, such as the line break in block 1, head 0.", "name": "fig-head-maps"}, "image": {"alt": "A 3 by 4 grid of square heat maps with a shared colour bar from 0 to 1 for the attention weight. Every map is zero above its diagonal. Below it most maps are pale and diffuse, darker near the diagonal and in the first columns. Two maps, block 1 head 0 and block 2 head 1, have a dark vertical stripe: many later queries looking at one early position."}}
plotting.use_style()
L, H = maps.shape[:2]
fig, axes = plt.subplots(L, H, figsize=(plotting.WIDTH, 5.8), layout="constrained")
for layer in range(L):
    for head in range(H):
        ax = axes[layer, head]
        image = ax.imshow(maps[layer, head], cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"block {layer}, head {head}", fontsize=9)
fig.colorbar(image, ax=axes, label="attention weight", fraction=0.04)
plt.show()

# %% [markdown]
# Most maps are diffuse, a few have sharp features. The dark column of block 1, head 0
# is the line break after the speaker's name: every query of the second line looks
# back at where its line began.

# %%
second_line = line.index("\n") + 1
on_break = maps[1, 0, second_line:, second_line - 1].mean()  # mean over the queries
assert on_break > 0.3
print(
    "block 1, head 0: the second line's queries give the line break a weight above 0.3"
)

# %% [markdown]
# ## Can a pattern be measured?
#
# A picture of one line is an anecdote. A score over many windows is a measurement. For
# a map $A$ of $T$ positions, three named patterns each get one number, the mean weight
# on the key that the pattern predicts:
#
# $$
# s_\text{prev} = \frac{1}{T-1} \sum_{i=1}^{T-1} A_{i,\,i-1}, \qquad
# s_\text{first} = \frac{1}{T-1} \sum_{i=1}^{T-1} A_{i,\,0}, \qquad
# s_\text{ind} = \frac{1}{T-n} \sum_{i=n}^{T-1} A_{i,\,i-n+1} .
# $$
#
# The first is a {term}`previous-token head`'s; the second that of a head that parks its
# weight on the first token when it has nothing to look for. The third needs a sequence
# that repeats with period $n$: at position $i$ of the second copy, an
# {term}`induction head` looks at the token that *followed* the same token last time,
# $i - n + 1$, and copies it {cite:p}`elhage2021mathematical,olsson2022context`. The
# package's scores (`gptcourse.heads`) equal the sums written out:

# %%
A = maps[0, 0]  # one map, (T, T)
T = A.shape[0]
n = 20
by_hand = [
    sum(A[i, i - 1] for i in range(1, T)) / (T - 1),
    sum(A[i, 0] for i in range(1, T)) / (T - 1),
    sum(A[i, i - n + 1] for i in range(n, T)) / (T - n),
]
package = [previous_token_score(A), first_token_score(A), induction_score(A, n)]
for mine, theirs in zip(by_hand, package, strict=True):
    torch.testing.assert_close(mine, theirs)
print("the three scores equal their sums")

# %% [markdown]
# What is a high score? A head that spreads its weight evenly over the keys it may see
# gives query $i$ the weight $1/(i+1)$ on each, and scores about 0.06 on 64 positions.
# A pattern counts when a head scores well above that. The previous-token and
# first-token scores are measured on the validation batch; the induction score on 32
# sequences of 32 random characters, each repeated once, where nothing in the first copy
# can be predicted and everything in the second can, by copying:

# %% tags=["nbval-ignore-output"]
maps_val = attention_maps(model, x).mean(1)  # (L, H, T, T), mean over the batch
uniform = torch.tril(torch.ones(64, 64))
uniform = uniform / uniform.sum(-1, keepdim=True)  # every key seen, equally
rep = repeated_tokens(
    model.vocab_size, 32, 32, generator=torch.Generator().manual_seed(0)
)
maps_rep = attention_maps(model, rep).mean(1)  # (L, H, 64, 64)
scores = {
    "previous token": (previous_token_score(maps_val), previous_token_score(uniform)),
    "first token": (first_token_score(maps_val), first_token_score(uniform)),
    "induction": (induction_score(maps_rep, 32), induction_score(uniform, 32)),
}
for name, (s, even) in scores.items():
    print(
        f"{name:<15} even spread {even:.3f}; heads from {s.min():.2f} to {s.max():.2f}"
    )

# %% tags=["nbval-ignore-output"]
prev = scores["previous token"][0]
best_prev = divmod(int(prev.argmax()), H)  # (block, head)
glue("prev_best", f"block {best_prev[0]}, head {best_prev[1]}")
glue("prev_best_score", f"{prev.max():.2f}")
n_prev = int((prev > 1.5 * scores["previous token"][1]).sum())
glue("prev_n", f"{n_prev}")
ind_max = glue("ind_max", f"{scores['induction'][0].max():.2f}")
first_max = glue("first_max", f"{scores['first token'][0].max():.2f}")

# %% [markdown]
# {numref}`fig-head-scores` shows the three scores of every head. After 400 steps the
# heads have only begun to specialise, and the previous-token pattern is the one they
# are growing into: {glue:text}`prev_n` of the 12 heads score more than 1.5 times the
# even spread, the highest ({glue:text}`prev_best`) {glue:text}`prev_best_score`. No
# head parks its weight on the first token (at most {glue:text}`first_max`), and none
# is an induction head (at most {glue:text}`ind_max`, about an even spread).
# Train longer and the previous-token scores keep rising: chapter 9's full run of 800
# steps takes a minute on a CPU, too long for this page.

# %%
even_prev = scores["previous token"][1]
assert (prev > 1.5 * even_prev).sum() >= 2  # previous-token heads, beginning
assert scores["first token"][0].max() < 1.5 * scores["first token"][1]  # none
assert scores["induction"][0].max() < 1.5 * scores["induction"][1]  # none
print("previous token: at least 2 heads above 1.5 times the even spread;")
print("first token and induction: no head above 1.5 times the even spread")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Three scores of every head, block by head: the mean attention weight on the previous token and on the first token (32 validation windows of 64 characters), and the induction score (32 random sequences repeated once). A head that spread its weight evenly would score the value in each panel's title; only some previous-token scores rise above it.", "name": "fig-head-scores"}, "image": {"alt": "Three small heat maps side by side, each 3 rows (blocks) by 4 columns (heads), with the score written in each cell and a colour bar from 0 to 0.3. The first, previous token, has several cells above the even spread of 0.06. The second, first token, and the third, induction, are pale everywhere, with values near or below their even spread."}}
fig, axes = plt.subplots(1, 3, figsize=(plotting.WIDTH, 2.6), layout="constrained")
top = max(float(s.max()) for s, _ in scores.values())
for ax, (name, (s, even)) in zip(axes, scores.items(), strict=True):
    image = ax.imshow(s, cmap="Blues", vmin=0, vmax=top)
    for (layer, head), value in zip(
        [(i, j) for i in range(L) for j in range(H)], s.flatten(), strict=True
    ):
        dark = value > 0.6 * top
        colour = "white" if dark else "black"
        ax.text(head, layer, f"{value:.2f}", ha="center", va="center", color=colour)
    ax.set_title(f"{name}\n(even: {even:.2f})")
    ax.set_xticks(range(H))
    ax.set_yticks(range(L))
    ax.set_xlabel("head")
axes[0].set_ylabel("block")
fig.colorbar(image, ax=axes, label="mean weight", fraction=0.04)
plt.show()

# %% [markdown]
# ```{admonition} A common mistake: "a trained Transformer has induction heads"
# :class: warning
# Induction heads are the best known circuit of language models, and they are often
# described as something every trained Transformer has. They are learned, in a sudden
# change during training, by models with at least two layers, after far more text than
# this one has seen {cite:p}`olsson2022context`. This model has seen
# 400 × 16 × 64 ≈ 410 thousand characters; on the repeated random sequences no head
# scores much above an even spread, and the model predicts the second copy no better
# than the first (below).
# ```

# %%
with torch.no_grad():
    logits, _ = model(rep)
per_token = F.cross_entropy(
    logits[:, :-1].flatten(0, 1), rep[:, 1:].flatten(), reduction="none"
).view(32, 63)  # loss of predicting token t + 1
first_copy, second_copy = per_token[:, :31].mean(), per_token[:, 32:].mean()
assert second_copy > first_copy - 0.2  # no copying: the second copy is not easier
print("loss on the second copy not lower than on the first (within 0.2 nats)")

# %% [markdown]
# ## Which heads does the model need?
#
# A score says where a head looks, not whether the model uses what it finds. An
# {term}`ablation` answers that: remove the head and measure how much the loss rises.
# `gptcourse.heads.without_head(model, layer, head)` returns a copy whose block `layer`
# has the head's columns of `attn.out_proj.weight` set to zero, as chapter 5 did for
# one block; `head_ablation_losses` measures the copy without each head in turn:

# %% tags=["nbval-ignore-output"]
rise = head_ablation_losses(model, x, y) - own_loss  # (L, H), nats
print("loss rise without each head (nats), block by head:")
for layer in range(L):
    print(f"  block {layer}: " + "  ".join(f"{r:+.3f}" for r in rise[layer]))
worst = divmod(int(rise.argmax()), H)
glue("worst_head", f"block {worst[0]}, head {worst[1]}")
glue("worst_rise", f"{rise.max():.3f}")
worst_prev = glue("worst_prev", f"{prev[worst]:.2f}")
median_rise = glue("median_rise", f"{rise.median():.3f}")

# %% [markdown]
# Every head costs something: the model has no spare head. The one it needs most is
# {glue:text}`worst_head`: without it the loss rises by {glue:text}`worst_rise` nats
# (the median head: {glue:text}`median_rise`). {numref}`fig-head-ablation` sets each
# rise beside the head's previous-token score, and the two do not line up: the head
# that costs most scores {glue:text}`worst_prev`. A score names where a head looks on
# average, an ablation what the model would lose, and in a model this young the heads
# still do a little of everything. The two answer different questions, as in
# {doc}`chapter 5 <../chapters/05_multi_head_attention>`: measure both before naming a
# head.

# %%
assert rise.min() > 0 and rise.max() > 0.03
print("every head's removal raises the loss; the largest rise is above 0.03 nats")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Each head's previous-token score (across) against the rise in validation loss when it alone is removed (up); a point's label is block.head. Every head costs something; the scores do not predict which heads cost most.", "name": "fig-head-ablation"}, "image": {"alt": "A scatter plot of 12 points labelled by block and head. The horizontal axis is the previous-token score, from about 0.05 to 0.13, with a dotted line at the even spread; the vertical axis the loss rise in nats, from about 0.01 to 0.07. The points are scattered: a high score does not go with a high rise."}}
fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
ax.scatter(prev.flatten(), rise.flatten())
for layer in range(L):
    for head in range(H):
        ax.annotate(
            f"{layer}.{head}",
            (prev[layer, head], rise[layer, head]),
            fontsize=9,
            xytext=(4, 2),
            textcoords="offset points",
        )
ax.axvline(float(even_prev), color="grey", linestyle=":", label="even spread")
ax.set_xlabel("previous-token score")
ax.set_ylabel("loss rise without the head (nats)")
ax.legend(loc="upper left")
plt.show()

# %% [markdown]
# ## What does each layer predict?
#
# The residual stream (chapter 7) starts as the embeddings and each block adds to it;
# at the end the final layer norm and the output layer read the next token off it. The
# {term}`logit lens` {cite:p}`nostalgebraist2020interpreting` applies that same read-out
# to the stream after every block: `gptcourse.logit_lens.logit_lens` returns the
# logits of every depth, `(L + 1, B, T, V)`, the last of which are the model's own.

# %%
lens = logit_lens(model, x)  # (L + 1, B, T, V)
with torch.no_grad():
    torch.testing.assert_close(lens[-1], model(x)[0])
depth_loss = layer_losses(lens, y)  # (L + 1,)
assert abs(depth_loss[-1].item() - own_loss) < 1e-5
assert all(a > b for a, b in zip(depth_loss[:-1], depth_loss[1:], strict=True))
assert depth_loss[0] > math.log(model.vocab_size)  # the embeddings: worse than uniform
print("the last depth is the model's output; the loss falls at every depth;")
print("read off the embeddings, it is above ln 65, a uniform guess")

# %% tags=["nbval-ignore-output"]
for depth, loss in enumerate(depth_loss):
    print(f"after {depth} block{'s' * (depth != 1)}: {loss:.2f} nats")
glue("lens_0", f"{depth_loss[0]:.2f}")
glue("lens_1", f"{depth_loss[1]:.2f}")
lens_last = glue("lens_last", f"{depth_loss[-1]:.2f}")

# %% [markdown]
# Read off the embeddings alone, the stream predicts badly ({glue:text}`lens_0`
# nats, worse than a uniform guess, 4.17): the token embedding doubles as the output
# layer (weight tying), and so "predicts" mostly the character that is already there.
# One block brings the loss to {glue:text}`lens_1` nats, most of the way to the
# model's {glue:text}`lens_last`. {numref}`fig-logit-lens` shows it for one line:
# the character each depth ranks first at every position.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The logit lens on the start of a line of Richard III: at each depth (rows: the embeddings, then after blocks 1 to 3) and each position (columns: the character read), the character that depth ranks first for the next position, coloured by the probability it gives the true next character. The embeddings mostly repeat the input; the blocks turn it into guesses at the next character.", "name": "fig-logit-lens"}, "image": {"alt": "A grid of 4 rows by 24 columns, each cell holding one predicted character, over a colour scale from 0 to 1 for the probability of the true next character. The bottom row, the embeddings, mostly repeats the characters of the input along the top axis; the upper rows hold likely next characters such as a space after a word and letters inside words, in darker cells where they are right."}}
shown = 24
lens_line = logit_lens(model, line_ids[:, :shown])[:, 0]  # (L + 1, T, V)
probs = lens_line.softmax(-1)
truth = line_ids[0, 1 : shown + 1]
p_true = probs[:, torch.arange(shown), truth]  # (L + 1, T)
fig, ax = plt.subplots(figsize=(plotting.WIDTH, 2.6), layout="constrained")
plotting.heatmap(
    ax,
    p_true,
    label="p(true next)",
    cmap="Blues",
    vmin=0,
    vmax=1,
    aspect="auto",
    origin="lower",
    colorbar={"fraction": 0.04},
)
for depth in range(L + 1):
    for t, top_id in enumerate(probs[depth].argmax(-1).tolist()):
        char = repr(tok.decode([top_id]))[1:-1].replace(" ", "␣")
        colour = "white" if p_true[depth, t] > 0.6 else "black"
        ax.text(t, depth, char, ha="center", va="center", color=colour)
labels = [repr(c)[1:-1].replace(" ", "␣") for c in line[:shown]]
ax.set_xticks(range(shown), labels)
ax.set_yticks(range(L + 1), ["embed."] + [f"block {i + 1}" for i in range(L)])
ax.set_xlabel("character read")
plt.show()

# %% [markdown]
# ## Can the same GPT learn something other than text?
#
# Nothing in the `GPT` class knows that its tokens are characters. Any data written as a
# sequence of ids from a fixed vocabulary will do: images, for one. scikit-learn ships a
# small set of handwritten digits {cite:p}`alpaydin1998optical`, 1,797 images of
# $8 \times 8$ pixels with intensities 0 to 16, read offline with scikit-learn's
# `load_digits`. Each image becomes 64 pixel tokens, row by row, its intensity being its
# id (17 ids); a *class token* in front, one of 10 more ids, says which digit it is, so
# that we can later ask for a given digit.

# %%
from sklearn.datasets import load_digits  # noqa: E402 (a library only this part needs)

digits = load_digits()
pixels = torch.tensor(digits.images).flatten(1).long()  # (N, 64), intensities 0..16
labels = torch.tensor(digits.target)  # (N,), digits 0..9
LEVELS = 17  # pixel ids 0..16; class ids 17..26
sequences = torch.cat([labels[:, None] + LEVELS, pixels], dim=1)  # (N, 65)
n_val = len(sequences) // 10  # the course's split: the last 10% held out
train_seq, val_seq = sequences[:-n_val], sequences[-n_val:]
print(f"{len(train_seq)} training images, {len(val_seq)} validation images")
print("first sequence:", sequences[0, :12].tolist(), "...")

# %% [markdown]
# What loss should beat? A model with no attention could still learn, for each digit
# and each of the 64 positions, how often each intensity occurs there. That baseline
# knows where a "0" is usually dark and nothing about the pixels around: its validation
# loss is the mean cross-entropy of those frequencies (add-one smoothed).

# %%
counts = torch.ones(10, 64, LEVELS)  # add-one smoothing
for digit in range(10):
    rows = train_seq[train_seq[:, 0] == digit + LEVELS, 1:]  # (n_digit, 64)
    counts[digit] += F.one_hot(rows, LEVELS).sum(0)
freq = counts / counts.sum(-1, keepdim=True)  # (10, 64, LEVELS)
val_digit = val_seq[:, 0] - LEVELS
p = freq[val_digit[:, None], torch.arange(64), val_seq[:, 1:]]  # (N_val, 64)
baseline = -p.log().mean().item()
assert 1.3 < baseline < 1.7
print(
    f"position-and-digit baseline: {baseline:.2f} nats per pixel "
    f"(uniform: ln 17 = {math.log(LEVELS):.2f})"
)
digit_baseline = glue("digit_baseline", f"{baseline:.2f}")

# %% [markdown]
# A GPT of 2 blocks and width 48 reads the class token and the first 63 pixels and
# predicts the 64 pixels, a few hundred steps of batches of 32 images:

# %% tags=["nbval-ignore-output"]
torch.manual_seed(0)
digit_model = GPT(
    GPTConfig(vocab_size=LEVELS + 10, block_size=64, n_layer=2, n_head=4, n_embd=48)
)
optimizer = torch.optim.AdamW(digit_model.parameters(), lr=3e-3)
g = torch.Generator().manual_seed(0)


def next_batch():
    rows = train_seq[torch.randint(len(train_seq), (32,), generator=g)]  # (32, 65)
    return rows[:, :-1], rows[:, 1:]  # inputs, targets: (32, 64) each


history = train(digit_model, optimizer, next_batch, steps=300)
digit_model.eval()
with torch.no_grad():
    digit_val = digit_model(val_seq[:, :-1], val_seq[:, 1:])[1].item()
print(f"validation loss {digit_val:.3f} nats per pixel")
digit_val_text = glue("digit_val", f"{digit_val:.2f}")

# %%
assert digit_val < baseline - 0.05
print("the GPT beats the baseline by more than 0.05 nats per pixel")

# %% [markdown]
# The GPT's validation loss, {glue:text}`digit_val` nats per pixel against the
# baseline's {glue:text}`digit_baseline`, is lower because it sees the pixels already
# drawn: a stroke that has started continues. {numref}`fig-digit-samples` shows what it
# draws when asked for each digit: the prompt is the class token alone, and 64 pixels
# are sampled one at a time with chapter 8's `gptcourse.generation.generate`.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Top row: one real validation image of each digit, 0 to 9. Rows below: images the digit GPT sampled, pixel by pixel, from the class token of each column's digit alone. Many samples are recognisable as their digit; others are smudged or broken, as a small model trained for seconds draws them.", "name": "fig-digit-samples"}, "image": {"alt": "A grid of 4 rows by 10 columns of small 8 by 8 greyscale images of handwritten digits, with a colour bar for pixel intensity from 0 to 16. The top row holds real digits 0 to 9; the three rows below hold generated digits in the same column order, many legible, others smudged, with gaps or stray pixels."}}
prompt = (torch.arange(10).repeat(3) + LEVELS)[:, None]  # (30, 1): each digit 3 times
samples = generate(digit_model, prompt, 64, generator=torch.Generator().manual_seed(0))
drawn = samples[:, 1:].clamp(
    max=LEVELS - 1
)  # a class id sampled as a pixel: drawn black
real = torch.stack([val_seq[val_seq[:, 0] == d + LEVELS][0, 1:] for d in range(10)])
fig, axes = plt.subplots(4, 10, figsize=(plotting.WIDTH, 3.4), layout="constrained")
for ax, image in zip(axes.flat, torch.cat([real, drawn]), strict=True):
    shown_image = ax.imshow(image.view(8, 8), cmap="gray_r", vmin=0, vmax=16)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.spines[:].set_visible(False)
for digit in range(10):
    axes[0, digit].set_title(str(digit))
axes[0, 0].set_ylabel("real")
axes[1, 0].set_ylabel("sampled")
fig.colorbar(shown_image, ax=axes, label="intensity", fraction=0.04)
plt.show()

# %% [markdown]
# ### How do real multimodal models differ?
#
# This toy is the idea of Image GPT {cite:p}`chen2020generative`, which trained GPT-2
# on images as sequences of pixels (colours clustered into 512 ids), at low resolution,
# because a sequence grows with every pixel and attention's cost with its square. Real
# multimodal models avoid one token per pixel:
#
# - a **vision Transformer** cuts an image into patches of, say, 16 × 16 pixels and
#   projects each to one vector, so that a 224 × 224 image is 196 tokens
#   {cite:p}`dosovitskiy2021image`;
# - a **learned image tokenizer** (a discrete autoencoder) compresses an image into a
#   short grid of codes from a learned vocabulary, which a GPT then models like words,
#   as DALL·E does {cite:p}`vanoord2017neural,ramesh2021zero`;
# - most vision-language models keep a pretrained **vision encoder** (often CLIP's,
#   trained to match images with their captions {cite:p}`radford2021learning`) and
#   connect its outputs to a pretrained language model: LLaVA projects them into the
#   language model's input as if they were token embeddings {cite:p}`liu2023visual`;
#   Flamingo lets the language model attend to them through new cross-attention layers
#   {cite:p}`alayrac2022flamingo`.
#
# In each case the language model's half is the decoder-only GPT of this course.
#
# ## Summary
#
# - `gptcourse.heads.attention_maps` recovers every head's attention weights,
#   `(L, B, H, T, T)`, from a forward hook.
# - A named pattern is a score, compared with what an even spread of weight would get:
#   after 400 steps this model has weak previous-token heads, no first-token head and
#   no induction head.
# - Ablation (`without_head`) measures what the model uses: every head here costs
#   something, and a head's score does not say how much.
# - The logit lens reads every depth's prediction; the loss falls at every block, most
#   at the first.
# - The same `GPT`, given pixel tokens and a class token, learns to draw digits better
#   than a per-position baseline; real multimodal models use patches, learned image
#   tokens or a vision encoder instead of raw pixels.
#
# ## Further reading
#
# - {cite:t}`elhage2021mathematical` read small attention-only Transformers as circuits,
#   and describe previous-token and induction heads.
# - {cite:t}`olsson2022context` show that induction heads form in a sudden change during
#   training, together with the ability to learn in context.
# - {cite:t}`nostalgebraist2020interpreting` introduced the logit lens on GPT-2.
# - {cite:t}`michel2019sixteen` ablate the heads of large trained Transformers and find
#   that many can go with little loss.
# - {cite:t}`chen2020generative` train GPT-2 on pixels, the large version of this
#   appendix's digits.
