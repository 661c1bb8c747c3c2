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
# # Exercises: language models by counting
#
# Each exercise asks for a function and then checks it: the last line of its cell calls
# a check from `gptcourse.checks`, which runs your function on several inputs and says
# what is wrong, if anything. They go from a warm-up to a stretch.

# %%
import math

import torch

from gptcourse import data
from gptcourse.batches import train_val_split
from gptcourse.bigram import CountBigramModel
from gptcourse.char_tokenizer import CharTokenizer
from gptcourse.checks import ch01 as check

text = data.load_text("tinyshakespeare")
tokenizer = CharTokenizer.from_text(text)
train, val = train_val_split(torch.tensor(tokenizer.encode(text)), val_fraction=0.1)

# %% [markdown]
# ```{exercise} Perplexity of a uniform model (warm-up)
# :label: ex-01-uniform-perplexity
#
# A model that knows nothing gives each of the $V$ tokens of its vocabulary the same
# probability, $1/V$, at every step. Write `uniform_perplexity(vocab_size)`, which
# returns the perplexity of such a model on any text, as a float. Then use it to say how
# many choices a model that knows nothing faces with GPT-2's vocabulary of 50,257
# tokens.
# ```

# %% [markdown]
# ```{solution-start} ex-01-uniform-perplexity
# :class: dropdown
# ```

# %% [markdown]
# Every token gets probability $1/V$, so the cross-entropy is
# $H = -\frac{1}{T}\sum_t \log \frac{1}{V} = \log V$ and the perplexity is
# $e^{H} = V$: a uniform model faces exactly $V$ choices at every step.


# %%
def uniform_perplexity(vocab_size: int) -> float:
    """Perplexity of a model giving each of ``vocab_size`` tokens probability 1/V."""
    # BEGIN SOLUTION
    cross_entropy = -math.log(1 / vocab_size)
    return math.exp(cross_entropy)
    # END SOLUTION


check.uniform_perplexity(uniform_perplexity)
print(f"GPT-2's vocabulary: {uniform_perplexity(50_257):,.0f} choices per token")

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Perplexity from log-probabilities (warm-up)
# :label: ex-01-perplexity
#
# A model has read a text and given each true next token a probability $p_t$. You get
# their natural logarithms, `log_probs`, a tensor of shape `(N,)`. Write
# `perplexity(log_probs)`, which returns the model's perplexity on the text as a float.
# The cell then measures the chapter's bigram model on the first line spoken in the
# validation text.
# ```

# %% [markdown]
# ```{solution-start} ex-01-perplexity
# :class: dropdown
# ```

# %% [markdown]
# The cross-entropy is the mean cost per token, $H = -\frac{1}{N}\sum_t \log p_t$, and
# the perplexity is $e^H$ (natural logarithms, so base $e$, not 2). Equivalently, the
# perplexity is one over the geometric mean of the probabilities, which is not one over
# their arithmetic mean.


# %%
def perplexity(log_probs: torch.Tensor) -> float:
    """Perplexity of a model that gave the true tokens these log-probs (N,)."""
    # BEGIN SOLUTION
    cross_entropy = -log_probs.double().mean()
    return math.exp(cross_entropy)
    # END SOLUTION


check.perplexity(perplexity)

# the first line spoken in the validation text
line = "Good morrow, neighbour Baptista.\n"
assert line in tokenizer.decode(val[:100])
line_ids = torch.tensor(tokenizer.encode(line))
bigram = CountBigramModel.from_ids(train, tokenizer.vocab_size, alpha=1.0)
line_log_probs = bigram.log_probs()[
    line_ids[:-1], line_ids[1:]
]  # log p(next | current)
print(f"the bigram model's perplexity on {line!r}: {perplexity(line_log_probs):.2f}")

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Bigram probabilities with add-one smoothing (medium)
# :label: ex-01-bigram-probs
#
# Write `bigram_probs(ids, vocab_size, alpha=1.0)`, which counts how often each token
# follows each other token in `ids` (a 1-D tensor of token ids) and returns the
# $V \times V$ table of smoothed probabilities
#
# $$
# p(j \mid i) = \frac{N_{ij} + \alpha}{\sum_k N_{ik} + \alpha V},
# $$
#
# where $N_{ij}$ is the number of positions $t$ with `ids[t] == i` and
# `ids[t + 1] == j`. Each row must sum to 1. With `alpha=1` this is *add-one* (Laplace)
# smoothing. The cell then uses your table for what follows `q` in Shakespeare: see what
# add-one smoothing does to a row with few counts.
# ```

# %% [markdown]
# ```{solution-start} ex-01-bigram-probs
# :class: dropdown
# ```

# %% [markdown]
# The pairs are `(ids[t], ids[t + 1])` for the $N - 1$ positions that have a next token:
# `ids[:-1]` and `ids[1:]` side by side. `index_put_` with `accumulate=True` adds one
# for each pair, repeated pairs included (a plain `counts[a, b] += 1` on tensors of
# indices would count a repeated pair once).


# %%
def bigram_probs(
    ids: torch.Tensor, vocab_size: int, alpha: float = 1.0
) -> torch.Tensor:
    """The (V, V) table p(next = j | current = i) with add-alpha smoothing."""
    # BEGIN SOLUTION
    counts = torch.zeros(vocab_size, vocab_size, dtype=torch.float64)
    ones = torch.ones(len(ids) - 1, dtype=torch.float64)
    counts.index_put_((ids[:-1], ids[1:]), ones, accumulate=True)
    smoothed = counts + alpha
    return smoothed / smoothed.sum(dim=1, keepdim=True)
    # END SOLUTION


check.bigram_probs(bigram_probs)

probs = bigram_probs(train, tokenizer.vocab_size, alpha=1.0)
q, u = tokenizer.stoi["q"], tokenizer.stoi["u"]
print(
    f"p('u' | 'q') = {probs[q, u]:.4f}; the most likely character after 'q' is ",
    end="",
)
print(repr(tokenizer.chars[int(probs[q].argmax())]))

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Sampling from a bigram table (medium)
# :label: ex-01-sample-bigram
#
# Write `sample_bigram(probs, start, num_tokens, generator)`, which generates text from
# a bigram table: starting from the token id `start`, draw the next token from the row
# `probs[current]`, make it the current token, and repeat. Return the `num_tokens` new
# ids as a list of ints (without `start`). Draw each token with
# `torch.multinomial(probs[current], 1, generator=generator)` so that the same generator
# gives the same text. The cell then writes 200 characters of "Shakespeare".
# ```

# %% [markdown]
# ```{solution-start} ex-01-sample-bigram
# :class: dropdown
# ```

# %% [markdown]
# One draw per token, each from the row of the token drawn before it. Passing the
# generator makes the sample reproducible: the same seed, the same text.


# %%
def sample_bigram(
    probs: torch.Tensor, start: int, num_tokens: int, generator: torch.Generator
) -> list[int]:
    """num_tokens ids sampled from the bigram table probs (V, V), after `start`."""
    # BEGIN SOLUTION
    out, current = [], start
    for _ in range(num_tokens):
        current = int(torch.multinomial(probs[current], 1, generator=generator))
        out.append(current)
    return out
    # END SOLUTION


check.sample_bigram(sample_bigram)

new_ids = sample_bigram(
    probs, tokenizer.stoi["\n"], 200, torch.Generator().manual_seed(0)
)
print(tokenizer.decode(new_ids))

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Interpolating a bigram with a unigram (stretch)
# :label: ex-01-interpolation
#
# Add-$\alpha$ smoothing is one cure for unseen pairs. Another *interpolates*: mix the
# unsmoothed bigram table with the unigram distribution,
#
# $$
# p_\lambda(j \mid i) = \lambda\, \frac{N_{ij}}{\sum_k N_{ik}} + (1 - \lambda)\,
# \frac{N_j}{N},
# $$
#
# where $N_j$ counts token $j$ among the $N$ training ids; both parts are counted on the
# training ids. Write `interpolated_loss(train_ids, val_ids, vocab_size, lam)`, which
# returns the cross-entropy (in nats, a float) of $p_\lambda$ on the pairs of
# `val_ids`. Assume that every token occurs in `train_ids[:-1]`, so that every row of
# the bigram table is defined. The cell then searches $\lambda$ on Shakespeare's
# validation split and compares the best mixture with the chapter's add-one smoothing:
# which cure works better here, and why can $\lambda$ not be 1?
# ```

# %% [markdown]
# ```{solution-start} ex-01-interpolation
# :class: dropdown
# ```

# %% [markdown]
# Count the pairs and the single tokens of the training ids, mix the two distributions
# row by row (the unigram is the same for every row), and average $-\log p_\lambda$
# over the validation pairs. With $\lambda = 1$ the unseen pairs get probability 0 and
# the loss is infinite; any $\lambda < 1$ gives every token at least $(1 - \lambda)
# N_j / N$. Interpolation backs off to what is known about the next token alone, where
# add-one smoothing gives every unseen pair the same small count, however rare its next
# token is.
#
# On Shakespeare's characters add-one smoothing still wins, narrowly (the cell asserts
# it). One $\lambda$ for every row is the weakness: a frequent character's row, counted
# from tens of thousands of pairs, needs almost no smoothing, and a rare one's (`Z`,
# `X`) needs a lot. Add-one smoothing adapts by itself, since $\alpha V$ is large next
# to a small row total and negligible next to a large one; the better interpolated
# models make $\lambda$ depend on the row's count {cite:p}`chen1999empirical`.


# %%
def interpolated_loss(
    train_ids: torch.Tensor, val_ids: torch.Tensor, vocab_size: int, lam: float
) -> float:
    """Validation cross-entropy of lam * bigram + (1 - lam) * unigram, in nats."""
    # BEGIN SOLUTION
    counts = torch.zeros(vocab_size, vocab_size, dtype=torch.float64)
    ones = torch.ones(len(train_ids) - 1, dtype=torch.float64)
    counts.index_put_((train_ids[:-1], train_ids[1:]), ones, accumulate=True)
    bigram = counts / counts.sum(dim=1, keepdim=True)  # (V, V)
    unigram = torch.bincount(train_ids, minlength=vocab_size).double()
    unigram = unigram / unigram.sum()  # (V,)
    probs = lam * bigram + (1 - lam) * unigram[None, :]
    return -probs[val_ids[:-1], val_ids[1:]].log().mean().item()
    # END SOLUTION


check.interpolated_loss(interpolated_loss)

V = tokenizer.vocab_size
lams = [0.9, 0.95, 0.98, 0.99, 0.995, 0.999]
losses = {lam: interpolated_loss(train, val, V, lam) for lam in lams}
best = min(losses, key=losses.get)
add_one = CountBigramModel.from_ids(train, V, alpha=1.0)
_, add_one_loss = add_one(val[None, :-1], val[None, 1:])
for lam, loss in losses.items():
    print(f"lambda = {lam:5}: validation H = {loss:.4f}")
print(
    f"best lambda {best}: {losses[best]:.4f}; add-one smoothing: {add_one_loss:.4f}"
)
assert add_one_loss < losses[best]  # add-one smoothing wins here

# %% [markdown]
# ```{solution-end}
# ```
