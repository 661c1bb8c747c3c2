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
# # Language models by counting
#
# A GPT does one thing: it reads the beginning of a text and gives, for every token that
# could come next, a probability. This chapter makes that sentence precise and builds
# the first models that do it, by counting. We measure on Shakespeare why language is
# hard for a program, define the loss every language model is trained on, count a
# bigram model, and watch longer contexts hit the wall that counting cannot get past.
#
# ```{admonition} What you will be able to do
# - measure, on a real corpus, the ambiguity, the new words and the long-range
#   dependencies that make language hard to predict;
# - state the chain rule that turns next-token prediction into a model of whole texts,
#   and check it on a small distribution;
# - compute a model's cross-entropy and perplexity on held-out text, in nats, and read
#   perplexity as a number of choices;
# - count a bigram model with add-$\alpha$ smoothing, with `gptcourse.bigram`, and
#   sample text from it;
# - explain, with measurements, why counting longer contexts stops working.
# ```

# %%
import math
import re
import statistics
from collections import Counter

import matplotlib.pyplot as plt
import numpy as np
import torch

from gptcourse import data, plotting
from gptcourse.batches import split_text
from gptcourse.glue import glue

text = data.load_text("tinyshakespeare")
glue("n_chars", f"{len(text):,}")
print(f"{len(text):,} characters")
print(text[:250])

# %% [markdown]
# Our text is *Tiny Shakespeare*, {glue:text}`n_chars` characters of Shakespeare's
# plays; the companion package downloads it once into a cache and checks its SHA-256.
# It is a sequence of speeches, each under the name of its speaker.
#
# ## Why is language hard for a computer?
#
# To a program, this text is a string of a million characters. Three properties of
# language make predicting the next one hard. Each can be seen, and measured, in this
# corpus.
#
# ### Ambiguity: the same letters, different meanings
#
# The word *bear* is an animal in one line and a verb ("to carry, to endure") in
# another. Nothing in the four letters says which: only their neighbours do.

# %%
for line in [
    "He's a lamb indeed, that baes like a bear.",
    "Which I can scarcely bear.",
]:
    assert line in text
    print(line)

bear = re.findall(r"\bbear\b", text, flags=re.IGNORECASE)
animal = re.findall(r"\b(?:a|the) bear\b", text, flags=re.IGNORECASE)
verb = re.findall(r"\bto bear\b", text, flags=re.IGNORECASE)
print(f"\n'bear' occurs {len(bear)} times, among them")
print(f"  {len(animal)} times after 'a' or 'the' (the animal)")
print(f"  {len(verb)} times after 'to' (the verb)")

# %% [markdown]
# A model that reads "bear" alone cannot tell what it means; a model that also reads
# the word before it often can. Context decides.
#
# ### Variability: new words keep coming
#
# No list of words is ever complete. Take the last tenth of the text, the part we will
# hold out to test our models on (the course's one split,
# `gptcourse.batches.split_text(text, 0.1)`), and look for its words in the first nine
# tenths. A *word*, here and in every chapter of the course, is a run of letters and
# apostrophes in lower case (`gptcourse.words.words`):

# %%
from gptcourse.words import unknown_word_rate, words

head, tail = split_text(text, 0.1)  # the first 90% and the last 10% of the characters
seen_words = set(words(head))
tail_words = words(tail)
new_words = Counter(w for w in tail_words if w not in seen_words)
n_distinct = len(set(tail_words))
print(f"distinct words in the last tenth: {n_distinct:,}")
print(
    f"  of which never seen in the first nine tenths: {len(new_words) / n_distinct:.0%}"
)
print(f"words in the last tenth: {len(tail_words):,}")
new_share = new_words.total() / len(tail_words)
assert new_share == unknown_word_rate(head, tail)  # the package's definition
print(f"  of which never seen in the first nine tenths: {new_share:.1%}")
print(
    "most frequent new ones:",
    ", ".join(f"{w} ({n})" for w, n in new_words.most_common(3)),
)
word_counts = Counter(words(text))
once = sum(1 for n in word_counts.values() if n == 1) / len(word_counts)
print(f"distinct words of the whole text seen once: {once:.0%}")
assert "prospero" not in seen_words
for name, value in [
    ("unknown_rate", f"{new_share:.1%}"),
    ("prospero", f"{new_words['prospero']}"),
    ("once_share", f"{once:.0%}"),
]:
    glue(name, value)  # quoted in the text below

# %% [markdown]
# One running word in {glue:text}`unknown_rate` of the last tenth never occurs before
# it. That tenth holds the later acts of *The Taming of the Shrew* and the opening of
# *The Tempest*, whose hero, Prospero, is named {glue:text}`prospero` times there and
# never before. A model that knows a fixed list of words has no way to even write his
# name; a model over characters can spell it, but has never seen it spelled. And rare
# words are not rare as a group: {glue:text}`once_share` of the distinct words of the
# whole text occur exactly once.
#
# ### Long-range dependencies: what decides the next token may be far back
#
# Who speaks next? Dialogue alternates, so a good clue to the next speaker is the
# speaker two turns back, who may be hundreds of characters back. Let us find every
# speaker's name (a line such as `ROMEO:` after a blank line) and measure two things:
# how often that clue is right, and, when it is, how far back it lies.

# %%
turns = [
    (m.start(1), m.group(1))
    for m in re.finditer(r"(?:^|\n\n)([A-Z][A-Za-z' ]*):\n", text)
]
speakers = [name for _, name in turns]
same_as_two_back = [i for i in range(2, len(turns)) if speakers[i] == speakers[i - 2]]
distance = [turns[i][0] - turns[i - 2][0] for i in same_as_two_back]  # in characters
top_share = Counter(speakers).most_common(1)[0][1] / len(speakers)
again = len(same_as_two_back) / (len(turns) - 2)
median = statistics.median(distance)
print(f"{len(turns):,} speeches by {len(set(speakers))} speakers")
print(f"the speaker of two turns back speaks again: {again:.0%}")
print(f"the most frequent speaker, as a guess:      {top_share:.0%}")
print(f"characters back to that clue: median {median:.0f},")
print(f"  90th percentile {np.percentile(distance, 90):.0f}, longest {max(distance):,}")
for name, value in [
    ("two_back_holds", f"{again:.0%}"),
    ("top_speaker", f"{top_share:.0%}"),
    ("clue_median", f"{median:.0f}"),
]:
    glue(name, value)  # quoted in the text below

# %% mystnb={"figure": {"caption": "How far back the clue to the next speaker lies: for each speech whose speaker also spoke two turns earlier, the number of characters between the two names (log scale; dashed: the median).", "name": "fig-speaker-distance"}, "image": {"alt": "A histogram on a logarithmic axis from 10 to 4,000 characters. The counts rise from about 30 characters, peak between 100 and 300, and fall off towards 3,000; a dashed red line marks the median, at about 200 characters."}}
plotting.use_style()  # the course's figure style: sizes, fonts, sharp images

fig, ax = plt.subplots(figsize=(7.5, 3))
ax.hist(distance, bins=np.geomspace(10, 4000, 40), color="tab:blue")
ax.axvline(median, color="tab:red", linestyle="--", label="median")
ax.set_xscale("log")
ax.set_xlabel("characters back to the same speaker's name, two turns earlier")
ax.set_ylabel("speeches")
ax.legend()
plt.show()

# %% [markdown]
# These are two separate statistics. The rule "the speaker of two turns back speaks
# next" holds for {glue:text}`two_back_holds` of the speeches, far more often than the
# {glue:text}`top_speaker` of guessing the most frequent speaker. And where it holds,
# the clue lies a median of {glue:text}`clue_median` characters back
# ({numref}`fig-speaker-distance`), often much further. A model that reads only the
# last few characters cannot use it. Keep this distance in mind: the models of this
# chapter see a few characters, and the Transformer was built to see all of them.
#
# ## What does it mean to model language?
#
# A {term}`language model` assigns a probability to every sequence of tokens
# $x_1, x_2, \dots, x_T$. A {term}`token` is a unit of text: in this chapter, one
# character; in {doc}`chapter 3 <../chapters/03_tokenisation>`, pieces of words.
# Probability theory alone, with no assumption about language at all, lets us split the
# probability of a sequence into a product of next-token predictions. This is the *chain
# rule*:
#
# $$
# p(x_1, \dots, x_T) = \prod_{t=1}^{T} p(x_t \mid x_1, \dots, x_{t-1}).
# $$
#
# It holds for any distribution. We can check it on one small enough to write down in
# full: a random distribution over all sequences of three tokens from a vocabulary of
# four, from which we compute each conditional by summing out what comes later.

# %%
torch.manual_seed(0)
joint = torch.rand(4, 4, 4, dtype=torch.float64)  # joint[a, b, c] = p(x1=a, x2=b, x3=c)
joint /= joint.sum()

p1 = joint.sum(dim=(1, 2))  # p(x1)
p2_given_1 = joint.sum(dim=2) / p1[:, None]  # p(x2 | x1)
p3_given_12 = joint / joint.sum(dim=2, keepdim=True)  # p(x3 | x1, x2)
chain = p1[:, None, None] * p2_given_1[:, :, None] * p3_given_12
torch.testing.assert_close(chain, joint)
print(f"p(x1, x2, x3) = p(x1) p(x2|x1) p(x3|x1,x2) for all {joint.numel()} sequences")

# %% [markdown]
# So a model that can answer "what comes next, given everything so far?" is a model of
# whole texts. That is the task a GPT is trained on, and the rest of this course is
# about answering it well.
#
# ## How do we measure a prediction?
#
# If a model gives the true next token the probability $p$, we charge it $-\log p$:
# nothing when it was certain and right, more the less probability it gave to what
# actually came. Averaged over a text of $T$ tokens, this is the {term}`cross-entropy`
# (measured in nats, since we use the natural logarithm):
#
# $$
# H = -\frac{1}{T} \sum_{t=1}^{T} \log p(x_t \mid x_{<t}).
# $$
#
# Its exponential, the {term}`perplexity` $\mathrm{PPL} = e^{H}$, reads as a number of
# choices: a model with perplexity 10 is as uncertain, on average, as one choosing
# uniformly among 10 tokens at every step.
#
# A model is only as good as its predictions on text it has not seen, so from now on we
# count on the first 90% of the characters (the *training* split) and measure on the
# last 10% (the {term}`validation split`, the tail we searched for new words above). The
# package's `CharTokenizer` turns characters into ids, one per distinct character, and
# `train_val_split` cuts the ids at the same boundary as `split_text` cuts the text:

# %%
from gptcourse.batches import train_val_split
from gptcourse.char_tokenizer import CharTokenizer

vocab = sorted(set(text))
V = len(vocab)
tokenizer = CharTokenizer.from_text(text)
assert tokenizer.chars == vocab and tokenizer.vocab_size == V

ids = torch.tensor(tokenizer.encode(text))
train, val = train_val_split(ids, val_fraction=0.1)
assert tokenizer.decode(val) == tail  # split_text's tail, as in the first section
print(f"{V} distinct characters:")
print(repr("".join(vocab)))
print(f"train: {len(train):,} characters, validation: {len(val):,} characters")

# %% [markdown]
# The simplest possible model gives each of the $V$ characters probability $1/V$,
# whatever came before, so its cross-entropy is $\log V$ on any text and its perplexity
# is $V$. We compute it from the definition, one token at a time, and compare:

# %%
uniform_probs = torch.full((V,), 1 / V)
H_uniform = -torch.log(uniform_probs[val]).mean().item()
print(
    f"uniform model: H = {H_uniform:.4f} nats, perplexity = {math.exp(H_uniform):.2f}"
)
print(f"log V         = {math.log(V):.4f}")
assert math.isclose(H_uniform, math.log(V), rel_tol=1e-6)
assert math.isclose(math.exp(H_uniform), V, rel_tol=1e-5)

# %% [markdown]
# ## Can counting do better than guessing?
#
# Characters are far from equally likely ({numref}`fig-char-frequencies`): spaces and
# vowels are everywhere, `Z` and `&` almost never appear. A *unigram* model still
# ignores the context but uses how often each character occurs in the training text.

# %% mystnb={"figure": {"caption": "How often each character occurs in the training text, most frequent first, on a log scale; the dashed line is the uniform model's $1/V = 1/65$. Only 18 characters are above it: space, `e`, `t`, `o`, `a`, and other lower-case letters and the line break (`↵`). Capitals, digits and rare punctuation lie up to 10,000 times below it.", "name": "fig-char-frequencies"}, "image": {"alt": "Two rows of bars, one per character, the top row the 33 most frequent and the bottom row the other 32, heights on a logarithmic scale. Space is highest, at 0.15, followed by e, t, o, a, h, s, r, n, i and the line break; a dashed line at 1/65 crosses the top row after the 18th character, w. The bottom row, capitals and rare punctuation, falls from 0.004 for N to one in a million for the dollar sign."}}
char_counts = torch.bincount(train, minlength=V).double()
unigram_probs = char_counts / char_counts.sum()
assert (unigram_probs > 1 / V).sum() == 18  # as the caption says

order = torch.argsort(char_counts, descending=True)
shown = {"\n": "↵", " ": "␣"}  # line break and space, drawn
fig, axes = plt.subplots(2, 1, figsize=(7.5, 4.2), sharey=True)
half = (V + 1) // 2  # two rows of bars, so that every character can be labelled
for ax, part in zip(axes, (order[:half], order[half:]), strict=True):
    ax.bar(range(len(part)), unigram_probs[part].numpy(), color="tab:blue")
    ax.axhline(1 / V, color="tab:red", linestyle="--", label="uniform, 1/V")
    ax.set_xticks(range(len(part)), [shown.get(vocab[i], vocab[i]) for i in part])
    ax.tick_params(axis="x", length=0)
    ax.set_xlim(-0.7, half - 0.3)
    ax.set_yscale("log")
    ax.set_ylabel("probability")
axes[0].legend()
plt.show()

# %% [markdown]
# On the validation split its perplexity falls from {glue:text}`ppl_uniform` choices to
# {glue:text}`ppl_unigram`: knowing only which characters are common already removes
# more than half of the choices.

# %%
H_unigram = -torch.log(unigram_probs[val]).mean().item()
print(
    f"unigram model: H = {H_unigram:.4f} nats, perplexity = {math.exp(H_unigram):.2f}"
)
print(f"perplexity ratio, unigram / uniform: {math.exp(H_unigram - H_uniform):.2f}")
assert math.exp(H_unigram) < V / 2
for name, value in [
    ("ppl_uniform", f"{math.exp(H_uniform):.0f}"),
    ("ppl_unigram", f"{math.exp(H_unigram):.1f}"),
]:
    glue(name, value)  # quoted in the text below

# %% [markdown]
# ## What can one character of context do?
#
# Neither model looks at the context, and the context is where the information is: after
# `q`, nearly all the probability belongs to `u`. The smallest step into context is the
# {term}`bigram model`, which predicts the next character from the current one alone,
# $p(x_t \mid x_{<t}) \approx p(x_t \mid x_{t-1})$. Its parameters are a $V \times V$
# table, and the simplest way to fill it is to count. Let $N_{ij}$ be the number of
# times character $j$ follows character $i$ in the training text:

# %%
counts = torch.zeros(V, V, dtype=torch.long)
counts.index_put_(
    (train[:-1], train[1:]),
    torch.ones(len(train) - 1, dtype=torch.long),
    accumulate=True,
)

# The same count, one pair at a time, on the first 10,000 characters:
first = train[:10_000].tolist()
slow = torch.zeros(V, V, dtype=torch.long)
for current, following in zip(first[:-1], first[1:], strict=True):
    slow[current, following] += 1
fast = torch.zeros(V, V, dtype=torch.long)
fast.index_put_(
    (train[:9_999], train[1:10_000]),
    torch.ones(9_999, dtype=torch.long),
    accumulate=True,
)
assert torch.equal(slow, fast)
assert counts.sum() == len(train) - 1  # every pair counted once

q, u = tokenizer.stoi["q"], tokenizer.stoi["u"]
print(
    f"'q' occurs {counts[q].sum()} times before another character,",
    f"{counts[q, u]} times before 'u'",
)

# %% [markdown]
# The *maximum-likelihood* estimate divides each row by its total,
# $p(j \mid i) = N_{ij} / \sum_k N_{ik}$. {numref}`fig-bigram-table` shows that table,
# one row per current character; white cells are pairs that never occur in the training
# text.

# %% mystnb={"figure": {"caption": "The bigram table $p(j \\mid i)$ counted on the training text: row $i$ is the distribution of the character that follows $i$ (log colour scale; white: pairs never seen). Notice the blocks: capitals followed by capitals or lower case, lower case almost never followed by a capital, the line break `↵` followed by capitals, and `q` followed by `u` alone.", "name": "fig-bigram-table"}, "image": {"alt": "A heat map of 65 rows by 65 columns, current character down the side and next character along the bottom, both ordered line break, space, punctuation, the digit 3, capitals A to Z, lower case a to z. Coloured cells are pairs seen in training, from dark blue (rare) to yellow (certain); white cells were never seen. Capital rows are filled across the capital and lower-case columns; lower-case rows are filled across the lower-case and punctuation columns and empty under the capitals; the row of q has a single yellow cell, at u."}}
mle = counts.double() / counts.sum(dim=1, keepdim=True)
labels = [shown.get(ch, ch) for ch in vocab]

fig, ax = plt.subplots(figsize=(7.5, 8.8))
never = np.ma.masked_equal(mle.numpy(), 0)  # pairs never seen: left white
plotting.heatmap(ax, never, label="$p(j \\mid i)$", norm="log", aspect="auto")
# one label per character: monospaced, 9 points, the smallest the course uses
ax.set_xticks(range(V), labels, fontsize=9, family="monospace")
ax.set_yticks(range(V), labels, fontsize=9, family="monospace")
ax.tick_params(length=0)
ax.set_xlabel("next character $j$")
ax.set_ylabel("current character $i$")
plt.show()

# %% [markdown]
# The picture is language seen through a keyhole one character wide: capitals are
# followed by capitals (speaker names) or lower case, a line break (`↵`) by capitals,
# `q` by `u` alone. It also has holes. A pair that never occurs in training gets
# probability zero, and one such pair in the validation text makes the loss infinite,
# since $-\log 0 = \infty$. The usual cure is {term}`add-α smoothing`: pretend that
# every pair was seen $\alpha$ more times,
#
# $$
# p(j \mid i) = \frac{N_{ij} + \alpha}{\sum_k N_{ik} + \alpha V}.
# $$
#
# The package's `CountBigramModel` does exactly this; we check it against the formula
# and check that every row is a probability distribution.

# %%
from gptcourse.bigram import CountBigramModel, pair_counts


def smoothed(counts: torch.Tensor, alpha: float) -> torch.Tensor:
    return (counts.double() + alpha) / (counts.double() + alpha).sum(
        dim=1, keepdim=True
    )


assert torch.equal(pair_counts(train, V), counts)
for alpha in (0.0, 0.1, 1.0):
    package_model = CountBigramModel.from_ids(train, V, alpha=alpha)
    torch.testing.assert_close(package_model.probs, smoothed(counts, alpha).float())
    torch.testing.assert_close(package_model.probs.sum(dim=1), torch.ones(V))

val_counts = pair_counts(val, V)
unseen = (counts == 0) & (val_counts > 0)
print(
    f"{int(unseen.sum())} kinds of pair in the validation text never occur in training,"
)
print(f"{int(val_counts[unseen].sum())} pairs in all, e.g.", end=" ")
print(", ".join(repr(vocab[i] + vocab[j]) for i, j in unseen.nonzero()[:4].tolist()))
for name, value in [
    ("unseen_pairs", f"{int(val_counts[unseen].sum())}"),
]:
    glue(name, value)  # quoted in the text below

# %% [markdown]
# How good is the bigram model? Its cross-entropy on a text depends only on the text's
# pair counts $M_{ij}$: every occurrence of the pair $(i, j)$ costs $-\log p(j \mid i)$,
# so
#
# $$
# H = -\frac{1}{\sum_{ij} M_{ij}} \sum_{i,j} M_{ij} \log p(j \mid i).
# $$
#
# We check this shortcut against the definition (the mean of $-\log p$ over every
# position of the validation text) and against the model's own loss, then use it to
# measure the model on both splits for a few values of $\alpha$:


# %%
def split_loss(log_probs: torch.Tensor, pair_counts_of_split: torch.Tensor) -> float:
    """Cross-entropy of a bigram table on a split, from the split's pair counts."""
    n = pair_counts_of_split.double()
    terms = torch.where(n > 0, n * log_probs.double(), 0.0)  # 0 * log 0 counts as 0
    return (-terms.sum() / n.sum()).item()


count_model = CountBigramModel.from_ids(train, V, alpha=1.0)
by_definition = -count_model.probs[val[:-1], val[1:]].log().mean().item()
_, by_model = count_model(val[None, :-1], val[None, 1:])
by_counts = split_loss(count_model.log_probs(), val_counts)
assert math.isclose(by_counts, by_definition, rel_tol=1e-5)
assert math.isclose(by_counts, by_model.item(), rel_tol=1e-5)

train_counts = counts
print("alpha    train H   val H   val perplexity")
for alpha in (0.0, 0.1, 1.0):
    log_probs = CountBigramModel(counts, alpha).log_probs()
    h_train, h_val = (
        split_loss(log_probs, train_counts),
        split_loss(log_probs, val_counts),
    )
    print(f"{alpha:5.1f}   {h_train:7.4f}   {h_val:7.4f}   {math.exp(h_val):10.2f}")
H_count_train = split_loss(mle.log(), train_counts)  # the unsmoothed table, alpha = 0
H_count_val = split_loss(count_model.log_probs(), val_counts)
assert H_count_val < H_unigram < H_uniform
assert math.exp(H_count_val) < math.exp(H_unigram) / 2
for name, value in [
    ("H_bigram_val", f"{H_count_val:.2f}"),
    ("ppl_bigram", f"{math.exp(H_count_val):.0f}"),
]:
    glue(name, value)  # quoted in the text below

# %% [markdown]
# With $\alpha = 0$ the {glue:text}`unseen_pairs` unseen pairs make the validation loss
# infinite; with add-one smoothing ($\alpha = 1$) the bigram model reaches
# {glue:text}`H_bigram_val` nats, a perplexity of {glue:text}`ppl_bigram`: one character
# of context cuts the choices of the unigram model by more than half again.
# Smoothing costs a little on the training text (which the unsmoothed table fits best)
# and buys everything on the text that matters.
#
# A language model is also a *generator*: sample the first character from its
# row of the table, feed it back, sample the next. With a seeded generator the sample is
# the same on every run.

# %%
start = torch.tensor([[tokenizer.stoi["\n"]]])  # (B=1, T=1): start after a line break
sample = count_model.generate(
    start, max_new_tokens=300, generator=torch.Generator().manual_seed(0)
)
print(tokenizer.decode(sample[0]))

# %% [markdown]
# It has the texture of a play (names in capitals, short lines, spaces between
# word-sized pieces) and none of its words.
#
# ## Is one character of context enough?
#
# No, and counting shows both why more context helps and why counting cannot use it.
# Predict the next character from the previous $k$ with counts, exactly as for the
# bigram ($k = 1$), an {term}`n-gram model` with $n = k + 1$: a table row for every
# $k$-character context that occurs. On the training text, a longer context always fits
# better. On the validation text we smooth with $\alpha$ as before, and an unseen
# context gets the uniform distribution.


# %%
def context_codes(ids: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each position's previous k tokens as one integer (base V), and its next token."""
    n = len(ids) - k
    code = torch.zeros(n, dtype=torch.long)
    for j in range(k):
        code = code * V + ids[j : j + n]
    return code, ids[k:]


def count_of(
    keys: torch.Tensor, key_counts: torch.Tensor, queries: torch.Tensor
) -> torch.Tensor:
    """How often each query occurs, given the sorted distinct keys and their counts."""
    at = torch.searchsorted(keys, queries).clamp(max=len(keys) - 1)
    return torch.where(keys[at] == queries, key_counts[at], 0).double()


ks = range(9)
H_train, H_val, H_val_1, seen = [], [], [], []
for k in ks:
    context, following = context_codes(train, k)
    # The distinct contexts and (context, next) pairs of the training text, with their
    # counts, and for every training position, which of them it is (inverse).
    contexts, context_index, context_n = torch.unique(
        context, return_inverse=True, return_counts=True
    )
    pairs, pair_index, pair_n = torch.unique(
        context * V + following, return_inverse=True, return_counts=True
    )
    # Training text: maximum likelihood, measured on the text it was counted on.
    p_train = pair_n[pair_index].double() / context_n[context_index]
    H_train.append(-p_train.log().mean().item())
    # Validation text: add-alpha smoothing; an unseen context gets the uniform
    # distribution.
    context, following = context_codes(val, k)
    n_context = count_of(contexts, context_n, context)
    n_pair = count_of(pairs, pair_n, context * V + following)
    H_val.append(-((n_pair + 0.01) / (n_context + 0.01 * V)).log().mean().item())
    H_val_1.append(-((n_pair + 1) / (n_context + V)).log().mean().item())
    seen.append((n_context > 0).double().mean().item())

print(" k   train H   val H (α=0.01)   val H (α=1)   contexts seen")
for k in ks:
    losses = f"{H_train[k]:7.3f}   {H_val[k]:14.3f}   {H_val_1[k]:11.3f}"
    print(f"{k:2}   {losses}   {seen[k]:13.1%}")

# k = 0 is the unigram model and k = 1 the bigram model of the sections above.
assert math.isclose(H_train[0], -unigram_probs[train].log().mean().item(), rel_tol=1e-9)
assert math.isclose(H_train[1], H_count_train, rel_tol=1e-9)
assert math.isclose(H_val_1[1], H_count_val, rel_tol=1e-5)
best_k = min(ks, key=lambda k: H_val[k])
assert best_k in (3, 4) and min(ks, key=lambda k: H_val_1[k]) in (3, 4)
assert H_val[8] > H_val[1] and 0.45 < seen[8] < 0.55  # as the figure's caption says
for name, value in [
    ("best_k", f"{best_k}"),
    ("best_val", f"{H_val[best_k]:.2f}"),
    ("seen_8", f"{seen[8]:.0%}"),
]:
    glue(name, value)  # quoted in the text below

# %% mystnb={"figure": {"caption": "Counting with $k$ characters of context. Left: the training loss falls towards zero as $k$ grows, while the validation loss is lowest at $k = 3$ or 4 and then rises. Right: why; the share of validation positions whose context occurs in the training text falls to one half at $k = 8$.", "name": "fig-context-length"}, "image": {"alt": "Two line charts against the context length k from 0 to 8. Left, cross-entropy in nats: the training curve falls steadily from 3.3 to 0.4; the two validation curves (smoothing 0.01 and 1) fall with it to about 1.8 and 1.95 at k = 3 or 4, then rise to 3.2 and 3.7 at k = 8. Right, the share of validation contexts seen in training: 1.0 up to k = 3, then falling to 0.5 at k = 8."}}
fig, (ax, ax2) = plt.subplots(1, 2, figsize=(7.5, 3.4))
ax.plot(ks, H_train, "o-", label="train")
ax.plot(ks, H_val, "o-", label="validation, α = 0.01")
ax.plot(ks, H_val_1, "o--", label="validation, α = 1")
ax.set_xlabel("characters of context, k")
ax.set_ylabel("cross-entropy (nats)")
ax.set_title("Loss")
ax.set_ylim(0, 4.7)
ax.legend(loc="lower left")
ax2.plot(ks, seen, "o-", color="tab:purple")
ax2.set_xlabel("characters of context, k")
ax2.set_ylabel("share of validation positions")
ax2.set_title("Contexts seen in training")
ax2.set_ylim(0, 1.05)
plt.show()

# %% [markdown]
# With each character of context the training loss falls, towards zero
# ({numref}`fig-context-length`): most long contexts occur once, and a table that has
# seen a context once predicts it perfectly. The validation loss falls too, to
# {glue:text}`best_val` nats with {glue:text}`best_k` characters of context (and
# $\alpha = 0.01$), then
# rises: at eight characters only {glue:text}`seen_8` of the validation contexts were
# seen in training, and the model is worse than the bigram. This is the wall of
# counting, *sparsity*: the number of possible contexts grows as $V^k$, the text does
# not, and a context never seen says nothing.
#
# Counting treats every context as unrelated to every other; it learns nothing about
# `"the king"` from `"the kings"` or `"thy king"`. The way out is a model that
# *generalises*: one that represents contexts by learned vectors, so that similar
# contexts get similar predictions, and computes its prediction from the whole context
# with a fixed number of parameters {cite:p}`bengio2003neural`.
# {doc}`Chapter 2 <../chapters/02_neural_language_models>` takes the first step: it
# learns the bigram table by gradient descent instead of counting, and shows why the
# recurrent networks that first read whole contexts struggled.
#
# ## Summary
#
# - Language is hard to predict: words are ambiguous, new words keep coming, and the
#   clue to the next token can lie hundreds of characters back.
# - A language model gives a probability to every next token; by the chain rule, that is
#   a probability for every whole text.
# - Models are measured by their cross-entropy on held-out text (nats per token), or its
#   exponential, the perplexity, a number of choices; the course holds out the last 10%
#   of the characters (`split_text(text, 0.1)`).
# - Counting gives the best bigram table on the training text; add-$\alpha$ smoothing
#   keeps unseen pairs from making the held-out loss infinite.
# - Longer contexts fit the training text ever better and the held-out text worse:
#   counting cannot generalise to contexts it has not seen.
#
# ## Exercises
#
# The exercises for this chapter are on
# {doc}`its exercise page <../exercises/solutions/01_language_models>` (the notebook
# `exercises/01_language_models.ipynb` to work through in JupyterLab):
#
# - **Exercise 1-1** (warm-up): the perplexity of a uniform model, and what it means for
#   GPT-2's vocabulary.
# - **Exercise 1-2** (warm-up): perplexity from the log-probabilities a model gave a
#   text.
# - **Exercise 1-3** (medium): a bigram table with add-$\alpha$ smoothing, and what it
#   does to a row with few counts.
# - **Exercise 1-4** (medium): sampling text from a bigram table with a seeded
#   generator.
# - **Exercise 1-5** (stretch): interpolating the bigram with the unigram instead of
#   smoothing, with the mixture chosen on held-out text.
#
# ## Further reading
#
# - {cite:t}`shannon1948mathematical` defines entropy and generates English from
#   counted letter and word $n$-grams, the models of this chapter, seventy years before
#   GPT.
# - {cite:t}`chen1999empirical` compare the smoothing methods of $n$-gram models on
#   large corpora; additive smoothing, this chapter's, is the simplest of them, and
#   among the worst.
# - {cite:t}`bengio2003neural` name the wall of this chapter's last section, the curse
#   of dimensionality, and answer it with learned word vectors: the first neural
#   language model.
#
