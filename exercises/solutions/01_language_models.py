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
# # Exercises: what a language model is
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
# ```{exercise} Perplexity of a uniform model
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
# ```{exercise} Perplexity from log-probabilities
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
# ```{exercise} Bigram probabilities with add-one smoothing
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
# ```{exercise} Sampling from a bigram table
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
# ```{exercise} Vanishing and exploding gradients in an RNN (stretch)
# :label: ex-01-rnn-gradients
#
# A recurrent network updates its hidden state with $h_s = \tanh(W h_{s-1} + U x_s)$.
# You get its recurrent weights `W`, shape `(H, H)`, and its states `hs`, shape
# `(T + 1, H)`, where `hs[0]` is the initial state and `hs[s]` is $h_s$. Write
# `rnn_jacobian_norms(W, hs)`, which returns a tensor of shape `(T + 1,)` whose entry
# `d` is the spectral norm $\lVert \partial h_T / \partial h_{T-d} \rVert_2$
# (`torch.linalg.matrix_norm(J, ord=2)`), for $d = 0, \dots, T$. Use the chain rule:
# $\partial h_T / \partial h_t = J_T J_{T-1} \cdots J_{t+1}$ with
# $J_s = \partial h_s / \partial h_{s-1} = \mathrm{diag}(1 - h_s^2)\, W$. The cell then
# compares a small and a large spectral radius of $W$.
# ```

# %% [markdown]
# ```{solution-start} ex-01-rnn-gradients
# :class: dropdown
# ```

# %% [markdown]
# Walk back from $h_T$, multiplying one Jacobian per step onto the right of the product
# so far. At distance 0 the product is the identity, whose norm is 1. A spectral radius
# below 1 (with tanh's derivative at most 1) makes the norms fall exponentially; a large
# one makes them grow.


# %%
def rnn_jacobian_norms(W: torch.Tensor, hs: torch.Tensor) -> torch.Tensor:
    """||dh_T / dh_{T-d}||_2 for d = 0 .. T, (T + 1,); W (H, H), hs (T + 1, H)."""
    # BEGIN SOLUTION
    J = torch.eye(len(W), dtype=W.dtype)
    norms = [torch.linalg.matrix_norm(J, ord=2)]
    for s in range(len(hs) - 1, 0, -1):
        J = J @ (torch.diag(1 - hs[s] ** 2) @ W)
        norms.append(torch.linalg.matrix_norm(J, ord=2))
    return torch.stack(norms)
    # END SOLUTION


check.rnn_jacobian_norms(rnn_jacobian_norms)

g = torch.Generator().manual_seed(0)
W_direction = torch.randn(16, 16, generator=g, dtype=torch.float64)
W_direction /= torch.linalg.eigvals(W_direction).abs().max()  # spectral radius 1
inputs = torch.randn(
    40, 16, generator=g, dtype=torch.float64
)  # U x_s, already multiplied
for rho in (0.5, 3.0):
    W = rho * W_direction
    hs = [torch.zeros(16, dtype=torch.float64)]
    for x in inputs:
        hs.append(torch.tanh(W @ hs[-1] + x))
    norms = rnn_jacobian_norms(W, torch.stack(hs))
    at_1, at_40 = (math.log10(norms[d]) for d in (1, 40))
    norms = f"norm at distance 1: 10^{at_1:.1f}, at 40: 10^{at_40:.1f}"
    print(f"spectral radius {rho}: {norms}")

# %% [markdown]
# ```{solution-end}
# ```
