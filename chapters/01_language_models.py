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
# # What a language model is
#
# A GPT does one thing: it reads the beginning of a text and gives, for every token that
# could come next, a probability. This chapter makes that sentence precise, measures how
# good such a prediction is, and builds the first models that make one.

# %% [markdown]
# ## What does it mean to model language?
#
# A *language model* assigns a probability to every sequence of tokens
# $x_1, x_2, \dots, x_T$. A token is a unit of text: in this chapter, one character;
# in the next chapter, pieces of words. Probability theory
# alone, with no assumption about language at all, lets us split the probability of a
# sequence into a product of next-token predictions. This is the *chain rule*:
#
# $$
# p(x_1, \dots, x_T) = \prod_{t=1}^{T} p(x_t \mid x_1, \dots, x_{t-1}).
# $$
#
# So a model that can answer "what comes next, given everything so far?" is a model of
# whole texts. That is the task a GPT is trained on, and the rest of this course is
# about answering it well.
#
# Our text is *Tiny Shakespeare*, a 1.1 MB extract of Shakespeare's plays. The companion
# package downloads it once into a cache and checks its SHA-256.

# %%
import math

import matplotlib.pyplot as plt
import torch

from gptcourse import data

text = data.load_text("tinyshakespeare")
print(f"{len(text):,} characters")
print(text[:250])

# %% [markdown]
# ## How do we measure a prediction?
#
# If a model gives the true next token the probability $p$, we charge it $-\log p$:
# nothing when it was certain and right, more the less probability it gave to what
# actually came. Averaged over a text of $T$ tokens, this is the *cross-entropy*
# (measured in nats, since we use the natural logarithm):
#
# $$
# H = -\frac{1}{T} \sum_{t=1}^{T} \log p(x_t \mid x_{<t}).
# $$
#
# Its exponential, the *perplexity* $\mathrm{PPL} = e^{H}$, reads as a number of choices:
# a model with perplexity 10 is as uncertain, on average, as one choosing uniformly among
# 10 tokens at every step.
#
# The simplest possible model gives every character of the vocabulary the same
# probability. How many characters are there?

# %%
vocab = sorted(set(text))
V = len(vocab)
print(f"{V} distinct characters: {''.join(vocab)!r}")

# %% [markdown]
# A uniform model gives each of them probability $1/V$, whatever came before, so its
# cross-entropy is $\log V$ on any text. We can compute it from the definition, one
# token at a time, and compare it with the formula:

# %%
stoi = {ch: i for i, ch in enumerate(vocab)}
ids = torch.tensor([stoi[ch] for ch in text])

uniform_probs = torch.full((V,), 1 / V)
H_uniform = -torch.log(uniform_probs[ids]).mean().item()
print(f"uniform model: H = {H_uniform:.4f} nats, perplexity = {math.exp(H_uniform):.2f}")
print(f"log V         = {math.log(V):.4f}")
assert math.isclose(H_uniform, math.log(V), rel_tol=1e-6)

# %% [markdown]
# ## Can counting do better than guessing?
#
# Characters are far from equally likely: spaces and vowels are everywhere, `Z` and `&`
# almost never appear. A *unigram* model still ignores the context but uses how often
# each character occurs in the training text.

# %%
counts = torch.bincount(ids, minlength=V).double()
unigram_probs = counts / counts.sum()

order = torch.argsort(counts, descending=True)
fig, ax = plt.subplots(figsize=(10, 3))
ax.bar(range(V), unigram_probs[order].numpy(), color="tab:blue")
ax.axhline(1 / V, color="tab:red", linestyle="--", label="uniform, 1/V")
ax.set_xticks(range(V), [repr(vocab[i])[1:-1] for i in order], fontsize=7)
ax.set_ylabel("probability")
ax.set_title("Character frequencies in Tiny Shakespeare")
ax.legend()
plt.show()

# %% [markdown]
# Its cross-entropy is lower, and its perplexity falls from 65 choices to about 27:
# knowing only which characters are common already removes more than half of the
# choices.
# (We measure it on the same text it was counted on; from the next section on, we keep
# a held-out part of the text for measurements.)

# %%
H_unigram = -torch.log(unigram_probs[ids]).mean().item()
print(f"unigram model: H = {H_unigram:.4f} nats, perplexity = {math.exp(H_unigram):.2f}")
print(f"perplexity ratio, unigram / uniform: {math.exp(H_unigram - H_uniform):.2f}")
assert math.exp(H_unigram) < V / 2

# %% [markdown]
# Neither model looks at the context, and the context is where almost all of the
# information is: after `"Wherefore art thou Rome"` nearly all the probability belongs to
# `o`. Making the prediction depend on what came before is the story of the rest of the
# course, and every improvement will be measured in the same unit, nats per token.
#
# ## Exercises
#
# The exercises for this chapter are in
# {doc}`its exercise notebook <../exercises/solutions/01_language_models>`, and in
# `exercises/01_language_models.ipynb` to work through in JupyterLab.
