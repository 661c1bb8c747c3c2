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
# # What a language model is, and the road to the Transformer
#
# A GPT does one thing: it reads the beginning of a text and gives, for every token that
# could come next, a probability. This chapter makes that sentence precise and builds the
# first models that do it. We measure on Shakespeare why language is hard for a program,
# define the loss every language model is trained on, then build a bigram model twice,
# once by counting and once as a neural network, and watch both hit the wall that
# counting cannot get past. We end with why recurrent networks struggled to get past it,
# and how the Transformer and the GPT family did.

# %%
import math
import re
import statistics
from collections import Counter

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gptcourse import data

text = data.load_text("tinyshakespeare")
print(f"{len(text):,} characters")
print(text[:250])

# %% [markdown]
# Our text is *Tiny Shakespeare*, a 1.1 MB extract of Shakespeare's plays; the companion
# package downloads it once into a cache and checks its SHA-256. It is a sequence of
# speeches, each under the name of its speaker.
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
for line in ["He's a lamb indeed, that baes like a bear.", "Which I can scarcely bear."]:
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
# hold out to test our models on, and look for its words in the first nine tenths:

# %%
n_val = int(len(text) * 0.1)
head, tail = text[: len(text) - n_val], text[len(text) - n_val :]


def words(s: str) -> list[str]:
    return re.findall(r"[a-z']+", s.lower())


seen_words = set(words(head))
tail_words = words(tail)
new_words = Counter(w for w in tail_words if w not in seen_words)
n_distinct = len(set(tail_words))
print(f"distinct words in the last tenth: {n_distinct:,}")
print(f"  of which never seen in the first nine tenths: {len(new_words) / n_distinct:.0%}")
print(f"words in the last tenth: {len(tail_words):,}")
print(f"  of which never seen in the first nine tenths: {new_words.total() / len(tail_words):.1%}")
print("most frequent new ones:", ", ".join(f"{w} ({n})" for w, n in new_words.most_common(3)))
word_counts = Counter(words(text))
once = sum(1 for n in word_counts.values() if n == 1)
print(f"distinct words of the whole text seen once: {once / len(word_counts):.0%}")

# %% [markdown]
# The last tenth of the file holds the later acts of *The Taming of the Shrew* and the
# opening of *The Tempest*, whose hero, Prospero, is named 65 times there and never
# before. A model that knows a fixed list of words has no way to even write his name; a
# model over characters can spell it, but has never seen it spelled. And rare words are
# not rare as a group: almost half of the distinct words of the whole text occur exactly
# once.
#
# ### Long-range dependencies: what decides the next token may be far back
#
# Who speaks next? Dialogue alternates, so the best clue to the next speaker is the
# speaker two turns back, who may be hundreds of characters back. Let us find every
# speaker's name (a line such as `ROMEO:` after a blank line) and measure:

# %%
turns = [(m.start(1), m.group(1)) for m in re.finditer(r"(?:^|\n\n)([A-Z][A-Za-z' ]*):\n", text)]
speakers = [name for _, name in turns]
same_as_two_back = [i for i in range(2, len(turns)) if speakers[i] == speakers[i - 2]]
distance = [turns[i][0] - turns[i - 2][0] for i in same_as_two_back]  # in characters
top_share = Counter(speakers).most_common(1)[0][1] / len(speakers)
print(f"{len(turns):,} speeches by {len(set(speakers))} speakers")
print(f"the speaker of two turns back speaks again: {len(same_as_two_back) / (len(turns) - 2):.0%}")
print(f"the most frequent speaker, as a guess:      {top_share:.0%}")
print(f"characters back to that clue: median {statistics.median(distance):.0f},")
print(f"  90th percentile {np.percentile(distance, 90):.0f}, longest {max(distance):,}")

# %%
fig, ax = plt.subplots(figsize=(8, 3))
ax.hist(distance, bins=np.geomspace(10, 4000, 40), color="tab:blue")
ax.axvline(statistics.median(distance), color="tab:red", linestyle="--", label="median")
ax.set_xscale("log")
ax.set_xlabel("characters between the next speaker's name and the same name two turns back")
ax.set_ylabel("speeches")
ax.set_title("The clue to the next speaker is a few hundred characters back")
ax.legend()
plt.show()

# %% [markdown]
# More than half of the time, the right answer sits about 200 characters back. A model
# that reads only the last few characters cannot use it. Keep this distance in mind: the
# models of this chapter see one character, and the Transformer was built to see all of
# them.
#
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
# A model is only as good as its predictions on text it has not seen, so from now on we
# count on the first 90% of the characters (the *training* split) and measure on the
# last 10% (the *validation* split, the tail we searched for new words above). The
# package's `CharTokenizer` turns characters into ids, one per distinct character:

# %%
from gptcourse.batches import train_val_split
from gptcourse.char_tokenizer import CharTokenizer

vocab = sorted(set(text))
V = len(vocab)
tokenizer = CharTokenizer.from_text(text)
assert tokenizer.chars == vocab and tokenizer.vocab_size == V

ids = torch.tensor(tokenizer.encode(text))
train, val = train_val_split(ids, val_fraction=0.1)
assert tokenizer.decode(val) == tail  # the same tail as in the first section
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
print(f"uniform model: H = {H_uniform:.4f} nats, perplexity = {math.exp(H_uniform):.2f}")
print(f"log V         = {math.log(V):.4f}")
assert math.isclose(H_uniform, math.log(V), rel_tol=1e-6)
assert math.isclose(math.exp(H_uniform), V, rel_tol=1e-5)

# %% [markdown]
# ## Can counting do better than guessing?
#
# Characters are far from equally likely: spaces and vowels are everywhere, `Z` and `&`
# almost never appear. A *unigram* model still ignores the context but uses how often
# each character occurs in the training text.

# %%
char_counts = torch.bincount(train, minlength=V).double()
unigram_probs = char_counts / char_counts.sum()

order = torch.argsort(char_counts, descending=True)
fig, ax = plt.subplots(figsize=(10, 3))
ax.bar(range(V), unigram_probs[order].numpy(), color="tab:blue")
ax.axhline(1 / V, color="tab:red", linestyle="--", label="uniform, 1/V")
ax.set_xticks(range(V), [repr(vocab[i])[1:-1] for i in order], fontsize=7)
ax.set_ylabel("probability")
ax.set_title("Character frequencies in Tiny Shakespeare (training split)")
ax.legend()
plt.show()

# %% [markdown]
# On the validation split its perplexity falls from 65 choices to about 28: knowing
# only which characters are common already removes more than half of the choices.

# %%
H_unigram = -torch.log(unigram_probs[val]).mean().item()
print(f"unigram model: H = {H_unigram:.4f} nats, perplexity = {math.exp(H_unigram):.2f}")
print(f"perplexity ratio, unigram / uniform: {math.exp(H_unigram - H_uniform):.2f}")
assert math.exp(H_unigram) < V / 2

# %% [markdown]
# ## What can one character of context do?
#
# Neither model looks at the context, and the context is where the information is:
# after `q`, nearly all the probability belongs to `u`. The smallest step into context
# is the *bigram* model, which predicts the next character from the current one alone,
# $p(x_t \mid x_{<t}) \approx p(x_t \mid x_{t-1})$. Its parameters are a $V \times V$
# table, and the simplest way to fill it is to count. Let $N_{ij}$ be the number of
# times character $j$ follows character $i$ in the training text:

# %%
counts = torch.zeros(V, V, dtype=torch.long)
counts.index_put_(
    (train[:-1], train[1:]), torch.ones(len(train) - 1, dtype=torch.long), accumulate=True
)

# The same count, one pair at a time, on the first 10,000 characters:
first = train[:10_000].tolist()
slow = torch.zeros(V, V, dtype=torch.long)
for current, following in zip(first[:-1], first[1:], strict=True):
    slow[current, following] += 1
fast = torch.zeros(V, V, dtype=torch.long)
fast.index_put_(
    (train[:9_999], train[1:10_000]), torch.ones(9_999, dtype=torch.long), accumulate=True
)
assert torch.equal(slow, fast)
assert counts.sum() == len(train) - 1  # every pair counted once

q, u = tokenizer.stoi["q"], tokenizer.stoi["u"]
print(
    f"'q' occurs {counts[q].sum()} times before another character, {counts[q, u]} times before 'u'"
)

# %% [markdown]
# The *maximum-likelihood* estimate divides each row by its total,
# $p(j \mid i) = N_{ij} / \sum_k N_{ik}$. Here is that table, one row per current
# character; white cells are pairs that never occur in the training text.

# %%
mle = counts.double() / counts.sum(dim=1, keepdim=True)
labels = [{"\n": "\\n", " ": "␣"}.get(ch, ch) for ch in vocab]

fig, ax = plt.subplots(figsize=(9, 8.5))
image = ax.imshow(np.ma.masked_equal(mle.numpy(), 0), norm="log", cmap="viridis")
ax.set_xticks(range(V), labels, fontsize=6)
ax.set_yticks(range(V), labels, fontsize=6)
ax.set_xlabel("next character $j$")
ax.set_ylabel("current character $i$")
ax.set_title("The bigram table $p(j \\mid i)$ of Tiny Shakespeare (log colour scale)")
fig.colorbar(image, ax=ax, shrink=0.8, label="probability")
plt.show()

# %% [markdown]
# The picture is language seen through a keyhole one character wide: capitals are
# followed by capitals (speaker names) or lower case, `\n` by capitals, `q` by `u` alone.
# It also has holes. A pair that never occurs in training gets probability zero, and
# one such pair in the validation text makes the loss infinite, since $-\log 0 = \infty$.
# The usual cure is *add-$\alpha$ smoothing*: pretend that every pair was seen $\alpha$
# more times,
#
# $$
# p(j \mid i) = \frac{N_{ij} + \alpha}{\sum_k N_{ik} + \alpha V}.
# $$
#
# The package's `CountBigramModel` does exactly this; we check it against the formula
# and check that every row is a probability distribution.

# %%
from gptcourse.bigram import BigramLanguageModel, CountBigramModel, pair_counts


def smoothed(counts: torch.Tensor, alpha: float) -> torch.Tensor:
    return (counts.double() + alpha) / (counts.double() + alpha).sum(dim=1, keepdim=True)


assert torch.equal(pair_counts(train, V), counts)
for alpha in (0.0, 0.1, 1.0):
    package_model = CountBigramModel.from_ids(train, V, alpha=alpha)
    torch.testing.assert_close(package_model.probs, smoothed(counts, alpha).float())
    torch.testing.assert_close(package_model.probs.sum(dim=1), torch.ones(V))

val_counts = pair_counts(val, V)
unseen = (counts == 0) & (val_counts > 0)
print(f"{int(unseen.sum())} kinds of pair in the validation text never occur in training,")
print(f"{int(val_counts[unseen].sum())} pairs in all, e.g.", end=" ")
print(", ".join(repr(vocab[i] + vocab[j]) for i, j in unseen.nonzero()[:4].tolist()))

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
    h_train, h_val = split_loss(log_probs, train_counts), split_loss(log_probs, val_counts)
    print(f"{alpha:5.1f}   {h_train:7.4f}   {h_val:7.4f}   {math.exp(h_val):10.2f}")
H_count_train = split_loss(mle.log(), train_counts)  # the unsmoothed table, alpha = 0
H_count_val = split_loss(count_model.log_probs(), val_counts)
assert H_count_val < H_unigram < H_uniform

# %% [markdown]
# With $\alpha = 0$ the 187 unseen pairs make the validation loss infinite; with a
# little smoothing the bigram model reaches about 2.48 nats, a perplexity of 12: one
# character of context cuts the choices of the unigram model by more than half again.
# Smoothing costs a little on the training text (which the unsmoothed table fits best)
# and buys everything on the text that matters.
#
# A language model is also a *generator*: sample the first character from its
# row of the table, feed it back, sample the next. With a seeded generator the sample is
# the same on every run.

# %%
start = torch.tensor([[tokenizer.stoi["\n"]]])  # (B=1, T=1): start after a line break
sample = count_model.generate(start, max_new_tokens=300, generator=torch.Generator().manual_seed(0))
print(tokenizer.decode(sample[0]))

# %% [markdown]
# It has the texture of a play (names in capitals, short lines, spaces between
# word-sized pieces) and none of its words.
#
# ## Can a neural network learn the same table?
#
# Counting works for one character of context, but it will not scale to more, as the
# next section shows. Neural networks will, so let us build the same model as a neural
# network and train it by gradient descent, the way every model in this course is
# trained. The network is a learned $V \times V$ table of *logits* (unnormalised
# log-probabilities): the row of the current token, passed through a softmax, is the
# distribution of the next one. PyTorch's `nn.Embedding` is such a table with a
# row lookup. We start it at zero, which is the uniform model.


# %%
class Bigram(nn.Module):
    def __init__(self, vocab_size: int):
        super().__init__()
        self.table = nn.Embedding(vocab_size, vocab_size)
        nn.init.zeros_(self.table.weight)

    def forward(self, idx, targets=None):
        logits = self.table(idx)  # (B, T) -> (B, T, V): one row of the table per token
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten())


mine = Bigram(V)
x, y = train[None, :1000], train[None, 1:1001]  # (1, 1000): a stretch of text and its next tokens
_, loss = mine(x, y)
print(f"loss at initialisation: {loss.item():.4f}, log V = {math.log(V):.4f}")
assert math.isclose(loss.item(), math.log(V), rel_tol=1e-6)

# The package's BigramLanguageModel is the same model: same weights, same outputs.
theirs = BigramLanguageModel(V)
torch.manual_seed(0)
nn.init.normal_(mine.table.weight)
theirs.token_logits.weight.data.copy_(mine.table.weight.data)
logits_mine, loss_mine = mine(x, y)
logits_theirs, loss_theirs = theirs(x, y)
torch.testing.assert_close(logits_mine, logits_theirs)
torch.testing.assert_close(loss_mine, loss_theirs)

# %% [markdown]
# Training samples random windows of the training text (`get_batch` from the package),
# computes the loss, and moves the table a step down its gradient. We use the AdamW
# optimiser, without weight decay (which would pull every logit towards zero, a
# smoothing of its own), and a learning rate that decays to zero. Every model of the
# course is trained with this loop; the package has it as `gptcourse.training.train`,
# which the later chapters use.

# %%
from gptcourse.batches import get_batch

torch.manual_seed(0)
model = BigramLanguageModel(V)
steps = 300
optimizer = torch.optim.AdamW(model.parameters(), lr=0.3, weight_decay=0.0)
schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
batches = torch.Generator().manual_seed(0)
batch_losses = []
for _ in range(steps):
    x, y = get_batch(train, batch_size=64, block_size=128, generator=batches)  # (64, 128) each
    _, loss = model(x, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    schedule.step()
    batch_losses.append(loss.item())

# The package's train() is this loop; same seeds, same losses, same table:
from gptcourse.training import train as train_loop

torch.manual_seed(0)
package_model = BigramLanguageModel(V)
optimizer = torch.optim.AdamW(package_model.parameters(), lr=0.3, weight_decay=0.0)
schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
batches = torch.Generator().manual_seed(0)
history = train_loop(
    package_model,
    optimizer,
    lambda: get_batch(train, batch_size=64, block_size=128, generator=batches),
    steps,
    scheduler=schedule,
)
assert history.losses == batch_losses
assert torch.equal(package_model.token_logits.weight, model.token_logits.weight)

H_neural_train = split_loss(model.log_probs(), train_counts)
H_neural_val = split_loss(model.log_probs(), val_counts)
print("                          train H   val H")
print(f"neural bigram             {H_neural_train:7.4f}   {H_neural_val:7.4f}")
print(f"count bigram, alpha = 0   {H_count_train:7.4f}       inf")
H_count_1_train = split_loss(count_model.log_probs(), train_counts)
print(f"count bigram, alpha = 1   {H_count_1_train:7.4f}   {H_count_val:7.4f}")

# %%
fig, ax = plt.subplots(figsize=(8, 3.5))
ax.plot(batch_losses, color="tab:blue", linewidth=1, label="neural bigram, loss of each batch")
ax.axhline(math.log(V), color="tab:gray", linestyle=":", label="uniform model, log V")
ax.axhline(H_count_train, color="tab:red", linestyle="--", label="count model (alpha = 0), train")
ax.set_xlabel("training step")
ax.set_ylabel("cross-entropy (nats)")
ax.set_ylim(2.3, 4.3)
ax.set_title("Gradient descent finds the table that counting gives")
ax.legend()
plt.show()

# %% [markdown]
# The neural model's training loss comes within a few thousandths of a nat of the
# unsmoothed count model's, and never below it. That is no coincidence. Both models
# choose a distribution $q(\cdot \mid i)$ for every current character $i$, so they
# belong to the same family, and on the training text the gap between any member $q$
# and the count model $\hat p$ is a weighted sum of *Kullback-Leibler divergences*,
#
# $$
# H(q) - H(\hat p) = \sum_i \frac{N_i}{N} \, \mathrm{KL}\big(\hat p(\cdot \mid i) \,\|\,
# q(\cdot \mid i)\big) \ \ge 0,
# $$
#
# where $N_i$ is how often $i$ occurs as a current character and $N = \sum_i N_i$. A KL
# divergence is zero only when the two distributions agree, so counting finds the best
# table on the training text, and training the neural model is a slower way to find it.
# We check the identity on our trained model, and that the neural model with the count
# model's log-probabilities as its logits *is* the count model:

# %%
log_q = model.log_probs().double()
kl_rows = torch.where(mle > 0, mle * (mle.log() - log_q), 0.0).sum(dim=1)  # (V,): KL of each row
row_weights = counts.sum(dim=1).double() / counts.sum()
gap = (row_weights * kl_rows).sum().item()
print(f"H(neural) - H(count), train: {H_neural_train - H_count_train:.5f} nats")
print(f"weighted KL divergence:      {gap:.5f} nats")
assert math.isclose(H_neural_train - H_count_train, gap, rel_tol=1e-4, abs_tol=1e-6)

same = BigramLanguageModel(V)
with torch.no_grad():
    same.token_logits.weight.copy_(count_model.log_probs())
xv, yv = val[None, :-1], val[None, 1:]
torch.testing.assert_close(same(xv, yv)[1], count_model(xv, yv)[1])
print(f"p('u' | 'q'): counted {mle[q, u].item():.4f}, learned {log_q[q, u].exp().item():.4f}")

# %% [markdown]
# Its samples are as Shakespearean as the count model's, which is to say, barely. With
# the same seed it writes almost the same text as the count model did: the two tables
# are that close.

# %%
sample = model.generate(start, max_new_tokens=300, generator=torch.Generator().manual_seed(0))
print(tokenizer.decode(sample[0]))

# %% [markdown]
# ## Is one character of context enough?
#
# No, and counting shows both why more context helps and why counting cannot use it.
# Predict the next character from the previous $k$ with counts, exactly as for the
# bigram ($k = 1$): a table row for every $k$-character context that occurs. On the
# training text, a longer context always fits better. On the validation text we smooth
# with $\alpha$ as before, and an unseen context gets the uniform distribution.


# %%
def context_codes(ids: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each position's previous k tokens as one integer (base V), and its next token."""
    n = len(ids) - k
    code = torch.zeros(n, dtype=torch.long)
    for j in range(k):
        code = code * V + ids[j : j + n]
    return code, ids[k:]


def count_of(keys: torch.Tensor, key_counts: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """How often each query occurs, given the sorted distinct keys and their counts."""
    at = torch.searchsorted(keys, queries).clamp(max=len(keys) - 1)
    return torch.where(keys[at] == queries, key_counts[at], 0).double()


ks = range(9)
H_train, H_val, H_val_1, seen = [], [], [], []
for k in ks:
    context, following = context_codes(train, k)
    # The distinct contexts and (context, next) pairs of the training text, with their counts,
    # and for every training position, which of them it is (inverse).
    contexts, context_index, context_n = torch.unique(
        context, return_inverse=True, return_counts=True
    )
    pairs, pair_index, pair_n = torch.unique(
        context * V + following, return_inverse=True, return_counts=True
    )
    # Training text: maximum likelihood, measured on the text it was counted on.
    p_train = pair_n[pair_index].double() / context_n[context_index]
    H_train.append(-p_train.log().mean().item())
    # Validation text: add-alpha smoothing; an unseen context gets the uniform distribution.
    context, following = context_codes(val, k)
    n_context = count_of(contexts, context_n, context)
    n_pair = count_of(pairs, pair_n, context * V + following)
    H_val.append(-((n_pair + 0.01) / (n_context + 0.01 * V)).log().mean().item())
    H_val_1.append(-((n_pair + 1) / (n_context + V)).log().mean().item())
    seen.append((n_context > 0).double().mean().item())

print(" k   train H   val H (α=0.01)   val H (α=1)   contexts seen")
for k in ks:
    print(f"{k:2}   {H_train[k]:7.3f}   {H_val[k]:14.3f}   {H_val_1[k]:11.3f}   {seen[k]:13.1%}")

# k = 0 is the unigram model and k = 1 the bigram model of the sections above.
assert math.isclose(H_train[0], -unigram_probs[train].log().mean().item(), rel_tol=1e-9)
assert math.isclose(H_train[1], H_count_train, rel_tol=1e-9)
assert math.isclose(H_val_1[1], H_count_val, rel_tol=1e-5)

# %%
fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
ax.plot(ks, H_train, "o-", label="train (the text it counted)")
ax.plot(ks, H_val, "o-", label="validation, alpha = 0.01")
ax.plot(ks, H_val_1, "o--", label="validation, alpha = 1")
ax.set_xlabel("characters of context, k")
ax.set_ylabel("cross-entropy (nats)")
ax.set_title("More context: train keeps improving, validation does not")
ax.set_ylim(0, 4.7)
ax.legend(loc="upper center")
ax2.plot(ks, seen, "o-", color="tab:purple")
ax2.set_xlabel("characters of context, k")
ax2.set_ylabel("share of validation positions")
ax2.set_title("Validation contexts ever seen in training")
ax2.set_ylim(0, 1.05)
plt.show()

# %% [markdown]
# With each character of context the training loss falls, towards zero: most long
# contexts occur once, and a table that has seen a context once predicts it perfectly.
# The validation loss falls too, up to three or four characters, then rises: by eight
# characters half of the validation contexts were never seen in training, and the model
# is worse than the bigram. Counting treats every context as unrelated to every other;
# it learns nothing about `"the king"` from `"the kings"` or `"thy king"`. The way out
# is a model that *generalises*: one that represents contexts by learned vectors, so that
# similar contexts get similar predictions, and computes its prediction from the whole
# context with a fixed number of parameters. The neural bigram, which found the count
# table by gradient descent, is the first step; the rest of the course takes the others.
#
# ## Why did recurrent networks struggle?
#
# The first neural answer to "use the whole context" was the recurrent neural network
# (RNN). It reads the text one token at a time and carries what it has read in a hidden
# state $h_t \in \mathbb{R}^H$, updated by the same function at every step:
#
# $$
# h_t = \tanh(W h_{t-1} + U x_t).
# $$
#
# Everything it knows about token 1 when it predicts token 61 has passed through 60
# applications of this update, and so has the training signal on the way back. By the
# chain rule of calculus, the gradient of a late state with respect to an early one is
# a product of one Jacobian per step:
#
# $$
# \frac{\partial h_T}{\partial h_t} = \prod_{s=T}^{t+1} \frac{\partial h_s}{\partial
# h_{s-1}} = \prod_{s=T}^{t+1} \mathrm{diag}\big(1 - h_s^2\big)\, W,
# $$
#
# with the factor for step $T$ on the left. A product of many matrices tends to shrink
# or grow exponentially with their number, like $0.9^{60}$ or $1.1^{60}$. Let us
# measure it on a small random RNN ($H = 32$ hidden units, $T = 60$ steps, random
# inputs), with the recurrent weights $W$ scaled to a few spectral radii $\rho$ (the
# largest absolute eigenvalue), and check the formula against autograd:

# %%
from torch.func import jacrev

H, D, T = 32, 8, 60
g = torch.Generator().manual_seed(0)
W_direction = torch.randn(H, H, generator=g, dtype=torch.float64) / math.sqrt(H)
W_direction /= torch.linalg.eigvals(W_direction).abs().max()  # spectral radius 1
U = torch.randn(H, D, generator=g, dtype=torch.float64) / math.sqrt(D)
xs = torch.randn(T, D, generator=g, dtype=torch.float64)  # (T, D): the inputs
h0 = torch.zeros(H, dtype=torch.float64)


def rnn_states(W: torch.Tensor, xs: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Run the RNN from state h over the inputs xs (T, D); return (T + 1, H), h included."""
    states = [h]
    for x in xs:
        states.append(torch.tanh(W @ states[-1] + U @ x))
    return torch.stack(states)


def jacobian_products(W: torch.Tensor, hs: torch.Tensor) -> torch.Tensor:
    """dh_T / dh_{T-d} for d = 0 .. T by the product formula: shape (T + 1, H, H)."""
    J = torch.eye(len(W), dtype=W.dtype)
    products = [J]
    for s in range(len(hs) - 1, 0, -1):  # s = T, T-1, ..., 1: one more factor on the right
        J = J @ (torch.diag(1 - hs[s] ** 2) @ W)
        products.append(J)
    return torch.stack(products)


rnn_norms = {}
for rho in (0.5, 1.0, 2.0, 3.0):
    W = rho * W_direction
    hs = rnn_states(W, xs, h0)  # (T + 1, H)
    products = jacobian_products(W, hs)  # (T + 1, H, H)
    for t in (0, 30, T - 1):  # autograd's Jacobian of h_T with respect to h_t
        J = jacrev(lambda h, W=W, t=t: rnn_states(W, xs[t:], h)[-1])(hs[t])
        torch.testing.assert_close(J, products[T - t], rtol=1e-9, atol=1e-300)
    rnn_norms[rho] = torch.linalg.matrix_norm(products, ord=2)  # (T + 1,): spectral norms
print("the product of Jacobians equals autograd's Jacobian for every rho")

# %% [markdown]
# Attention, the Transformer's mechanism that the next chapters build, does something
# different: the output at the last position is a weighted average of *all* positions
# (here, one attention head over random inputs $x_0, \dots, x_T$),
#
# $$
# y_T = \sum_{t=0}^{T} a_t\, W_v x_t, \qquad a = \mathrm{softmax}_t\Big(\frac{(W_q
# x_T)^\top (W_k x_t)}{\sqrt{d}}\Big),
# $$
#
# so every position is one step away from the output, however far back it is. Its
# gradients depend on the random inputs, so we average them over 64 random inputs.

# %%
from torch.func import vmap

d = 32
g = torch.Generator().manual_seed(0)
W_q, W_k, W_v = (
    torch.randn(d, d, generator=g, dtype=torch.float64) / math.sqrt(d) for _ in range(3)
)
Xs = torch.randn(64, T + 1, d, generator=g, dtype=torch.float64)  # 64 random inputs (T + 1, d)


def attend_from_last(X: torch.Tensor) -> torch.Tensor:
    """The attention output at the last position, (d,), for inputs X of shape (T + 1, d)."""
    q, K, Vals = X[-1] @ W_q, X @ W_k, X @ W_v  # (d,), (T + 1, d), (T + 1, d)
    a = torch.softmax(K @ q / math.sqrt(d), dim=0)  # (T + 1,): how much each position counts
    return a @ Vals


# The formula is what PyTorch's attention computes (it also scales by 1/sqrt(d)):
X = Xs[0]
torch_attention = F.scaled_dot_product_attention(X[-1:] @ W_q, X @ W_k, X @ W_v)  # (1, d)
torch.testing.assert_close(attend_from_last(X), torch_attention[0])

J = vmap(jacrev(attend_from_last))(Xs)  # (64, d, T + 1, d): dy_T / dx_t for every t
norms = torch.linalg.matrix_norm(J.permute(0, 2, 1, 3), ord=2)  # (64, T + 1)
attention_norms = norms.mean(dim=0).flip(0)  # (T + 1,): averaged, indexed by distance T - t

fig, ax = plt.subplots(figsize=(8, 4))
for rho, norms in rnn_norms.items():
    ax.plot(norms.numpy(), label=f"RNN, spectral radius {rho}")
ax.plot(attention_norms.numpy(), color="black", linewidth=2, label="attention")
ax.set_yscale("log")
ax.set_xlabel("distance back, T - t (steps)")
ax.set_ylabel("gradient norm, ||d out_T / d in_t||")
ax.set_title("Through an RNN the gradient vanishes or explodes with distance")
ax.legend(fontsize=8)
plt.show()
curves = {f"RNN, rho = {rho}": norms for rho, norms in rnn_norms.items()}
curves["attention"] = attention_norms
ratio = {label: (norms[60] / norms[1]).item() for label, norms in curves.items()}
print("gradient from 60 steps back / gradient from 1 step back, as a power of 10:")
for label, r in ratio.items():
    print(f"  {label:15} 10^{math.log10(r):.1f}")
assert ratio["RNN, rho = 0.5"] < 1e-28 and ratio["RNN, rho = 1.0"] < 1e-12
assert ratio["RNN, rho = 3.0"] > 1e4 and 0.5 < ratio["attention"] < 2

# %% [markdown]
# At spectral radius 0.5 the gradient from 60 steps back is below $10^{-28}$ of the one
# from 1 step back, and even at 1.0 it is below $10^{-12}$: the tanh's slope, at most 1,
# shrinks it a little more at every step. Such a network cannot learn that the speaker
# two turns back, some 200 characters away, matters, because almost no training signal
# reaches that far. With large weights the gradient explodes instead, $10^4$ times at
# radius 3, and a single step of gradient descent can wreck the weights. In between lies
# a narrow band where neither happens, and nothing in training keeps $W$ inside it.
# LSTMs (1997) and gradient clipping soften both failures, but the path from token 1 to
# token 61 stays 60 steps long, and those steps must run one after the other, which
# makes RNNs slow to train on long texts. Attention's gradient does not depend on the
# distance at all: a token 60 steps back gets as much signal as the one before, and all
# positions are computed at once.
#
# ## How did we get from the Transformer to GPT?
#
# - **2017, the Transformer** (Vaswani et al., *Attention Is All You Need*). Built for
#   translation, it has an *encoder*, whose self-attention reads the whole source
#   sentence in both directions, and a *decoder*, which writes the translation one token
#   at a time with *causal* (masked) self-attention over what it has written so far plus
#   cross-attention to the encoder. No recurrence anywhere.
# - **2018, GPT** (Radford et al., *Improving Language Understanding by Generative
#   Pre-Training*). A *decoder-only* Transformer: the decoder's causal self-attention
#   stack, without the encoder or the cross-attention, trained as a language model. It is
#   the architecture of every GPT since, and of this course.
# - **2018, BERT** (Devlin et al.). The opposite choice: *encoder-only*, bidirectional,
#   trained to fill in masked-out words. Excellent at understanding a given text, but not
#   made to generate one left to right.
# - **2019, GPT-2** and **2020, GPT-3**. The same decoder-only design, scaled up (and
#   with each layer norm moved to the input of its sub-block). GPT-2 showed that a large
#   language model does tasks it was never fine-tuned for; GPT-3 that, larger still, it
#   learns a task from a few examples written in its prompt, without any weight update.
#
# ```{important} Two common mistakes
# GPT is often described as "the encoder part of the Transformer". It is the other part:
# GPT keeps the *decoder*'s masked self-attention, which lets a position see only the
# past, exactly what generating text one token at a time requires. BERT is the model
# built from the encoder. And GPT-3 has 175 *billion* parameters (1750亿), not
# 17.5 billion: the table below counts them.
# ```
#
# GPT-1 introduced the recipe that all of them follow, in two stages.
# **Pretraining** trains the model to predict the next token on a large amount of raw
# text (GPT-1: about 7,000 unpublished books). No labels are needed, the text is its own
# target, and whatever helps predict the next token gets learned: spelling, grammar,
# facts, style, the shape of an argument. **Fine-tuning** then trains the pretrained
# model on a small labelled dataset for one task, such as classifying sentences or
# answering multiple-choice questions. GPT-1 added a small output layer, updated *all*
# the weights, and kept the language-modelling loss as an auxiliary term; fine-tuning
# learns the task's format and decision, starting from everything pretraining learned.
# (Freezing the pretrained weights and training only the new layer is one cheaper
# option among several.)
#
# How big are these models? A decoder-only Transformer with $L$ layers, width $d$, a
# vocabulary of $V$ tokens and a context of $n$ positions has a token embedding ($Vd$
# parameters), a position embedding ($nd$), and in each layer the attention's four
# $d \times d$ projections with biases ($4d^2 + 4d$), a feed-forward network from $d$ to
# $4d$ and back ($8d^2 + 5d$) and two layer norms ($4d$). GPT-2 and GPT-3 add a final
# layer norm ($2d$); the output layer reuses the token embedding. In all,
#
# $$
# P = Vd + nd + L\,(12d^2 + 13d) + 2d.
# $$
#
# We check the formula against Hugging Face's `transformers`, which builds GPT-2 small
# from its configuration on the CPU (random weights, nothing downloaded), then count the
# other models from their published configurations. For the billion-parameter ones we
# build the model on PyTorch's `meta` device, which creates every parameter's shape but
# allocates no memory.

# %%
from transformers import GPT2Config, GPT2LMHeadModel, OpenAIGPTConfig, OpenAIGPTLMHeadModel


def gpt_parameters(n_layer: int, d: int, vocab: int, n_ctx: int, final_norm: bool = True) -> int:
    """Parameters of a GPT with tied input and output embeddings."""
    per_layer = 12 * d**2 + 13 * d
    return vocab * d + n_ctx * d + n_layer * per_layer + (2 * d if final_norm else 0)


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


torch.manual_seed(0)
gpt2_small = GPT2LMHeadModel(
    GPT2Config(n_layer=12, n_embd=768, n_head=12, n_positions=1024, vocab_size=50257)
)
assert count(gpt2_small) == gpt_parameters(12, 768, 50257, 1024) == 124_439_808
del gpt2_small

# name, year, layers, width, heads, vocabulary, context, final layer norm, as published
published = [
    ("GPT-1", 2018, 12, 768, 12, 40478, 512, False, "117M"),
    ("GPT-2 small", 2019, 12, 768, 12, 50257, 1024, True, "117M"),
    ("GPT-2 XL", 2019, 48, 1600, 25, 50257, 1024, True, "1542M"),
    ("GPT-3", 2020, 96, 12288, 96, 50257, 2048, True, "175.0B"),
]
sizes = {}
row = "{:12} {:>4} {:>2} {:>7} {:>7} {:>7} {:>15}  {}"
print(row.format("model", "year", "L", "width", "vocab", "context", "parameters", "paper"))
for name, year, L, width, heads, vocab_size, n_ctx, final_norm, paper in published:
    sizes[name] = gpt_parameters(L, width, vocab_size, n_ctx, final_norm)
    Config, Model = (
        (OpenAIGPTConfig, OpenAIGPTLMHeadModel)
        if name == "GPT-1"
        else (GPT2Config, GPT2LMHeadModel)
    )
    config = Config(n_layer=L, n_embd=width, n_head=heads, vocab_size=vocab_size, n_positions=n_ctx)
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        built = Model(config)
    assert count(built) == sizes[name], name
    numbers = [f"{n:,}" for n in (width, vocab_size, n_ctx, sizes[name])]
    print(row.format(name, year, L, *numbers, paper))

# %% [markdown]
# Every count matches what `transformers` builds. They also match the papers, up to how
# the papers counted: GPT-1's 117M is our 116.5M, GPT-3's 175.0B our 174.6B. The GPT-2
# paper's table lists 117M and 1542M for its smallest and largest models, while the
# released models have 124M and 1558M; the numbers above are counted from the
# models themselves. Between GPT-1 and GPT-3, the same recipe grew 1,500-fold:

# %%
fig, ax = plt.subplots(figsize=(8, 3))
names = list(sizes)
ax.barh(names, [sizes[n] for n in names], color=["tab:blue", "tab:orange", "tab:orange", "tab:red"])
ax.set_xscale("log")
ax.invert_yaxis()
for i, n in enumerate(names):
    label = f"{sizes[n] / 1e9:.3g}B" if sizes[n] >= 1e9 else f"{sizes[n] / 1e6:.1f}M"
    ax.text(sizes[n] * 1.15, i, label, va="center")
ax.set_xlim(5e7, 2e12)
ax.set_xlabel("parameters (log scale)")
ax.set_title("Parameters of the GPT family, counted from their configurations")
plt.show()
print(f"GPT-3 / GPT-1: {sizes['GPT-3'] / sizes['GPT-1']:,.0f} times the parameters")

# %% [markdown]
# The bigram table of this chapter has $65 \times 65 = 4{,}225$ parameters. The next
# chapters grow it into a GPT like the ones in this table: first the tokens it reads,
# then attention, then the rest of the Transformer block.
#
# ## Exercises
#
# The exercises for this chapter are in
# {doc}`its exercise notebook <../exercises/solutions/01_language_models>`, and in
# `exercises/01_language_models.ipynb` to work through in JupyterLab.
