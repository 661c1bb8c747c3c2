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
# # Generating text
#
# A GPT gives, for every position, a probability to each token that could come next.
# This chapter turns that into text: it trains a small character GPT on Shakespeare,
# then builds the ways of choosing the next token (greedy decoding, temperature, top-k
# and top-p sampling) and compares what they write. It then makes generation fast with a
# key/value cache, measures what the cache saves and what it costs in memory, and ends
# with stopping and with batches of prompts of different lengths.
#
# ```{admonition} What you will be able to do
# - write the loop that generates text from any language model of the course, and
#   explain why greedy decoding repeats itself;
# - compute the distributions that temperature, top-k and top-p sampling draw from, and
#   choose among them;
# - call transformers' `generate` with the arguments that do what you mean;
# - explain why a key/value cache gives the same tokens for far fewer operations, build
#   one step of it, and compute its memory for a GPT-2 size, with and without
#   grouped-query attention;
# - generate for a batch of prompts of different lengths with left padding and an
#   attention mask.
# ```

# %%
import math
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from gptcourse import data, plotting
from gptcourse.attention import KVCache
from gptcourse.batches import get_batch, split_text
from gptcourse.char_tokenizer import CharTokenizer
from gptcourse.generation import generate, pad_prompts, sample_next_token
from gptcourse.glue import glue
from gptcourse.model import GPT, GPTConfig, count_parameters, flops_per_token
from gptcourse.training import estimate_loss, train

# %% [markdown]
# ## Where does a model to sample from come from?
#
# Generation needs a model that has learnt something. The GPT of
# {doc}`chapter 7 <../chapters/07_gpt>` (`gptcourse.model.GPT`), at the size
# `gpt-nano` (3 layers, 3 heads, width 48), trained for a few hundred steps on Tiny
# Shakespeare with the training loop of
# {doc}`chapter 1 <../chapters/01_language_models>` (`gptcourse.training.train`), is
# enough to have learnt how a play looks: speakers' names in capitals, line breaks,
# short words. {doc}`Chapter 9 <../chapters/09_pretraining>` trains for real.
#
# Training adds up rounding differences, and they are not the same on every machine
# (processors round sums in different orders), so the trained weights differ a little
# from one machine to the next, and so does the text sampled from them: the cells that
# print the model's text or loss show what it gave when this page was built, and the
# claims made about them are asserted beside. After training, the model is converted
# to float64 so that the comparisons between two ways of generating (ours and
# transformers', with and without the cache) are exact. A model this small is not
# faster on several CPU threads, so we use one.

# %% tags=["nbval-ignore-output"]
torch.set_num_threads(1)
text = data.load_text("tinyshakespeare")
tokenizer = CharTokenizer.from_text(text)
train_text, val_text = split_text(text, 0.1)
train_ids = torch.tensor(tokenizer.encode(train_text))
val_ids = torch.tensor(tokenizer.encode(val_text))

torch.manual_seed(0)
config = GPTConfig.from_preset("gpt-nano", vocab_size=65, block_size=64)
assert tokenizer.vocab_size == 65
model = GPT(config)
STEPS, LR = 400, 5e-3
optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.1)
schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, STEPS, eta_min=LR / 10)
g = torch.Generator().manual_seed(1)
history = train(
    model,
    optimizer,
    lambda: get_batch(train_ids, 16, 64, generator=g),
    STEPS,
    scheduler=schedule,
)
model = model.double().eval()  # float64 from here on
val_loss = estimate_loss(model, val_ids, batch_size=32, block_size=64, num_batches=8)
uniform = math.log(tokenizer.vocab_size)  # a uniform guess over 65 characters
assert val_loss < 2.7 < uniform
glue("uniform_loss", f"{uniform:.2f}", display=False)
print(f"{model.num_params():,} parameters, {STEPS} steps of 16 x 64 characters")
print(f"validation loss {glue('val_loss', f'{val_loss:.2f}')} nats per character")

# %% [markdown]
# A validation loss of {glue:text}`val_loss` nats per character, against
# {glue:text}`uniform_loss` ($\ln 65$) for a uniform guess: far from good (chapter 9
# trains for much longer), but enough to write something that looks like a play.

# %% [markdown]
# ## How does a model that predicts one token write a text?
#
# By predicting one token, appending it, and starting again: generation is
# {term}`autoregressive`. Each step runs the model on the text so far (at most its last
# `block_size` tokens, all it can read), keeps the logits of the last position, turns
# them into one token and appends it. The simplest rule takes the most likely token,
# the argmax of the logits: {term}`greedy decoding`.


# %%
@torch.no_grad()
def generate_greedy(model, idx: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
    """(B, T) prompt ids -> (B, T + max_new_tokens), the most likely token each step."""
    for _ in range(max_new_tokens):
        logits, _ = model(idx[:, -model.block_size :])  # (B, T, V): every position
        next_token = logits[:, -1].argmax(dim=-1)  # (B,): the last position's best
        idx = torch.cat((idx, next_token[:, None]), dim=1)
    return idx


def distinct_4grams(text: str) -> float:
    """The share of a text's 4-character pieces that are distinct: low when it loops."""
    pieces = [text[i : i + 4] for i in range(len(text) - 3)]
    return len(set(pieces)) / len(pieces)


# %% tags=["nbval-ignore-output"]
prompt = torch.tensor([tokenizer.encode("ROMEO:\n")])  # (1, 7)
greedy = generate_greedy(model, prompt, 200)
assert torch.equal(greedy, generate(model, prompt, 200, temperature=0, use_cache=False))
greedy_text = tokenizer.decode(greedy[0, 7:].tolist())
assert distinct_4grams(greedy_text[-100:]) < 0.5  # its end loops
print(tokenizer.decode(greedy[0].tolist()))

# %% [markdown]
# The loop above gives the same 200 characters as the package's
# `gptcourse.generation.generate` with `temperature=0` (asserted), which we use
# from here on. The text looks like a play for a line or two and then goes round in a
# loop. That is not bad luck. Greedy decoding is deterministic, and once the last
# `block_size` characters repeat an earlier state, every later step repeats too; long
# before that, the most likely next character after a common word is often the start
# of another common word, so the likeliest path through a text is a bland, repetitive
# one {cite:p}`holtzman2020curious`. The share of distinct 4-character pieces
# (`distinct_4grams`) measures it: in the last 100 characters, fewer than half of them
# are distinct (asserted).
#
# ## How do we choose the next token at random, and how random?
#
# Sampling draws the next token from the model's distribution,
# $p_i = \mathrm{softmax}(z)_i$ for the logits $z$. Three knobs reshape that
# distribution before the draw:
#
# - the {term}`temperature` $\tau$ divides the logits, $\mathrm{softmax}(z/\tau)$:
#   below 1 it sharpens the distribution towards the argmax (greedy is the limit
#   $\tau \to 0$), above 1 it flattens it towards uniform;
# - {term}`top-k sampling` keeps the $k$ most likely tokens, sets the others to
#   probability 0 and renormalises {cite:p}`fan2018hierarchical`;
# - {term}`top-p sampling` (nucleus sampling) keeps the smallest set of most likely
#   tokens whose probabilities add up to at least $p$ {cite:p}`holtzman2020curious`:
#   few tokens when the model is sure, many when it is not.
#
# Each, written out as the distribution it samples from:


# %%
def next_token_probs(logits, temperature=1.0, top_k=None, top_p=None):
    """(B, V) logits -> (B, V) probabilities to sample the next token from."""
    logits = logits / temperature
    if top_k is not None:  # everything below the k-th largest logit is out
        kth_largest = logits.topk(top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth_largest, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if top_p is not None:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        mass_above = sorted_probs.cumsum(dim=-1) - sorted_probs  # (B, V)
        sorted_probs[mass_above >= top_p] = 0.0  # the nucleus was complete without it
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
        probs = probs / probs.sum(dim=-1, keepdim=True)  # renormalise
    return probs


torch.manual_seed(0)
logits = 3 * torch.randn(2000, 65, dtype=torch.float64)  # many made-up distributions
for settings in [
    {},
    {"temperature": 0.5},
    {"top_k": 5},
    {"top_p": 0.9},
    {"temperature": 1.5, "top_k": 20, "top_p": 0.8},
]:
    mine = torch.multinomial(
        next_token_probs(logits, **settings),
        1,
        generator=torch.Generator().manual_seed(1),
    ).squeeze(-1)
    theirs = sample_next_token(
        logits, generator=torch.Generator().manual_seed(1), **settings
    )
    assert torch.equal(mine, theirs), settings
print("the same 2000 draws as gptcourse.generation.sample_next_token, for 5 settings")

# %% [markdown]
# With the same random generator, drawing from these distributions gives the same 2,000
# tokens as the package's `gptcourse.generation.sample_next_token` for every
# setting. The package filters logits rather than probabilities (a token that is out
# gets the logit $-\infty$), which is the same distribution.
#
# What do these distributions look like for our model? Take the prompt `"ROMEO:\nWhat
# is th"`: a model that knows English puts most of its probability on one letter next.

# %% tags=["nbval-ignore-output"]
context = torch.tensor([tokenizer.encode("ROMEO:\nWhat is th")])
with torch.no_grad():
    last_logits = model(context)[0][:, -1]  # (1, V)
distributions = {
    "temperature 1": next_token_probs(last_logits)[0],
    "temperature 0.5": next_token_probs(last_logits, temperature=0.5)[0],
    "temperature 2": next_token_probs(last_logits, temperature=2.0)[0],
    "top-k, k = 3": next_token_probs(last_logits, top_k=3)[0],
    "top-p, p = 0.9": next_token_probs(last_logits, top_p=0.9)[0],
}
ranked = distributions["temperature 1"].argsort(descending=True)[:12]  # 12 likeliest
for name, probs in distributions.items():
    kept = int((probs > 0).sum())
    print(f"{name:>15}: top token {probs.max():.2f}, {kept:2} tokens possible")

# %% tags=["nbval-ignore-output"] mystnb={"figure": {"caption": "The distributions the next character is drawn from after \"ROMEO:\\nWhat is th\", for the 12 characters the model finds likeliest (␣ is a space). Left: temperature 0.5 sharpens the model's distribution (temperature 1), temperature 2 flattens it. Middle and right: top-k and top-p set the unlikely characters to 0 and scale the others up.", "name": "fig-sampling-distributions"}, "image": {"alt": "Three bar charts of probability against the 12 likeliest next characters, sorted by the model's probability. Left, three bars per character: at temperature 0.5 the first character has most of the probability and the rest almost none; at temperature 1 the bars decrease steadily; at temperature 2 they are flatter. Middle, top-k with k = 3: only the first three characters have bars, taller than the model's. Right, top-p with p = 0.9: the first few characters keep bars, scaled up, the rest are 0."}}
plotting.use_style()
labels = [repr(tokenizer.decode([i]))[1:-1].replace(" ", "\u2423") for i in ranked]
x = torch.arange(len(ranked))
panels = [
    ["temperature 0.5", "temperature 1", "temperature 2"],
    ["temperature 1", "top-k, k = 3"],
    ["temperature 1", "top-p, p = 0.9"],
]
fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.8), sharey=True)
for ax, names in zip(axes, panels, strict=True):
    width = 0.8 / len(names)
    for j, name in enumerate(names):
        offset = (j - (len(names) - 1) / 2) * width
        ax.bar(x + offset, distributions[name][ranked], width, label=name)
    ax.set_xticks(x, labels)
    ax.set_xlabel("next character")
    ax.legend(loc="upper right")
axes[0].set_ylabel("probability")
plt.show()

# %% [markdown]
# Lowering the temperature moves probability to the likeliest character; top-k and top-p
# cut the tail of unlikely characters, where a single unlucky draw derails a word, and
# leave the model's preferences among the rest as they were
# ({numref}`fig-sampling-distributions`).
#
# ## What does each strategy write?
#
# Four continuations of 240 characters for each strategy, from the same prompt and the
# same seed. Two numbers summarise them: how many of their 4-character pieces are
# distinct (a text that loops repeats its pieces), and how many of their words occur
# somewhere in the training text (a text that invents words has few).

# %% tags=["nbval-ignore-output"]
strategies = {
    "greedy": dict(temperature=0),
    "temperature 0.5": dict(temperature=0.5),
    "temperature 1": dict(temperature=1.0),
    "temperature 2": dict(temperature=2.0),
    "top-k, k = 3": dict(top_k=3),
    "top-p, p = 0.9": dict(top_p=0.9),
}
known_words = set(train_text.split())
samples, distinct, known = {}, {}, {}
for name, settings in strategies.items():
    out = generate(
        model,
        prompt.repeat(4, 1),
        240,
        generator=torch.Generator().manual_seed(0),
        **settings,
    )
    samples[name] = [tokenizer.decode(row[prompt.shape[1] :].tolist()) for row in out]
    words = [w for s in samples[name] for w in s.split()]
    distinct[name] = distinct_4grams("\n".join(samples[name]))
    known[name] = sum(w in known_words for w in words) / max(len(words), 1)
    print(f"{name:>15}: distinct 4-grams {distinct[name]:.0%}", end=", ")
    print(f"known words {known[name]:.0%}")
assert min(distinct, key=distinct.get) == "greedy"
assert len(set(samples["greedy"])) == 1  # four times the same text
assert min(known, key=known.get) == "temperature 2"
glue("distinct_greedy", f"{distinct['greedy']:.0%}")
glue("known_hot", f"{known['temperature 2']:.0%}")

# %% [markdown]
# The first continuation of each:

# %% tags=["nbval-ignore-output"]
for name, texts in samples.items():
    print(f"--- {name} ---\n{texts[0][:160]}\n")

# %% [markdown]
# Greedy decoding loops: only {glue:text}`distinct_greedy` of its 4-character pieces
# are distinct, the fewest of all, and its four rows are one and the same text
# (asserted). Temperature 2 is the opposite: it never loops, but only
# {glue:text}`known_hot` of its words are words of the training text (the fewest). The
# others lie between; cutting the unlikely tail (a low temperature, top-k, top-p) keeps
# more real words than sampling from the whole distribution. Which is best depends on
# the use: greedy decoding (or a low temperature) where one most likely answer is
# wanted, sampling with top-p around 0.9 and a temperature near 1 for open-ended text.
#
# ```{admonition} A common mistake: the most likely continuation is the best text
# :class: warning
# It is often assumed that choosing the most probable token at every step (or, with
# beam search, the most probable sequence) gives the best text, and that randomness
# only adds errors. For open-ended text it is the reverse: the likeliest continuation
# is repetitive and bland, because human text is not made of the likeliest words
# {cite:p}`holtzman2020curious`. On this page, greedy decoding has the fewest distinct
# 4-character pieces of all strategies, and its text ends in a loop.
# ```

# %% [markdown]
# ## How do we do the same with transformers?
#
# `GPT.to_transformers` copies our weights into transformers' GPT-2 class
# ({doc}`chapter 7 <../chapters/07_gpt>` proves that the two compute the same logits),
# whose {py:meth}`~transformers.GenerationMixin.generate` method implements every
# strategy above. Greedy decoding is its default: it must give exactly our tokens. It
# reads at most the model's `n_positions` tokens (our `block_size`) and does not slide
# a window past them, so we compare up to the context's end.

# %%
hf_model = model.to_transformers().eval()
ones = torch.ones_like(prompt)  # the attention mask: every token is real
max_new = config.block_size - prompt.shape[1]  # 57: up to the end of the context
hf_greedy = hf_model.generate(
    prompt, attention_mask=ones, max_new_tokens=max_new, do_sample=False, pad_token_id=0
)
assert torch.equal(hf_greedy, greedy[:, : config.block_size])
print(f"transformers' greedy generation equals ours: {max_new} of {max_new} characters")

# %% [markdown]
# Three arguments do what a newcomer might not expect. Sampling is off unless
# `do_sample=True` is passed, whatever temperature is given. When sampling, transformers
# applies top-k with $k = 50$ unless told otherwise (its
# {py:class}`~transformers.GenerationConfig` default;
# `top_k=0` turns it off). And several sequences per prompt (`num_return_sequences`)
# need sampling: greedy decoding can only return its one sequence five times, so it is
# refused.

# %% tags=["nbval-ignore-output"]
torch.manual_seed(0)  # transformers draws from PyTorch's global generator
five = hf_model.generate(
    prompt,
    attention_mask=ones,
    max_new_tokens=40,
    do_sample=True,
    temperature=1.0,
    top_k=0,
    top_p=0.9,
    num_return_sequences=5,
    pad_token_id=0,
)
texts = [tokenizer.decode(row[prompt.shape[1] :].tolist()) for row in five]
assert len(set(texts)) == 5
for t in texts:
    print(repr(t))

# %%
try:
    hf_model.generate(
        prompt,
        attention_mask=ones,
        max_new_tokens=40,
        do_sample=False,
        num_return_sequences=5,
        pad_token_id=0,
    )
except ValueError as error:
    print(f"greedy with num_return_sequences=5: ValueError: {error}")

# %% [markdown]
# ## Why is generating one token at a time slow?
#
# Look at what the loop of `generate_greedy` computes. At every step it runs the model
# on the whole text so far, and keeps the logits of the last position only. The keys and
# values of the earlier positions come out the same as at the step before: a position
# attends only to itself and earlier positions (the causal mask), so nothing that comes
# later changes it. All that work is recomputed, at every step.
#
# Count it. A forward pass of $t$ tokens through $L$ layers of width $C$ multiplies each
# token by the layers' weight matrices, $2 \cdot 12 L C^2$ operations per token
# (a multiply and an add count 2; see chapter 7), and the
# attention of $t$ queries over $t$ keys adds $4 L C t^2$; the output layer, for the
# last position only, $2VC$. A step that computes the new token alone, reading the other
# keys and values from memory, costs $2 \cdot 12 L C^2 + 2VC + 4LCt$:
# `gptcourse.model.flops_per_token` with `seq_len=t`. PyTorch's FLOP counter
# (`torch.utils.flop_counter.FlopCounterMode`) counts the linear layers' share exactly
# (it does not see inside the CPU's fused attention kernel, whose share we add):


# %%
def counted_flops(fn, *args, **kwargs) -> int:
    """The FLOPs PyTorch counts in fn(*args, **kwargs)."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        fn(*args, **kwargs)
    return counter.get_total_flops()


L, C, V = config.n_layer, config.n_embd, config.vocab_size
ids = torch.randint(V, (1, 64), generator=torch.Generator().manual_seed(0))
for t in (16, 32, 64):
    cache = model.new_cache(1)
    with torch.no_grad():
        model(ids[:, : t - 1], cache=cache)  # the cache holds t - 1 positions
    linear_cached = counted_flops(model.decode, ids[:, t - 1 : t], cache)
    linear_full = counted_flops(model, ids[:, :t], last_only=True)
    assert linear_cached == 24 * L * C**2 + 2 * V * C  # one token
    assert linear_full == t * 24 * L * C**2 + 2 * V * C  # t tokens, one output
    step_cached = linear_cached + 4 * L * C * t  # one query over t keys
    step_full = linear_full + 4 * L * C * t**2  # t queries over t keys
    assert step_cached == flops_per_token(config, seq_len=t, training=False)
    print(f"token {t}: {step_full:,} FLOPs recomputing, {step_cached:,} with a cache")

# %% [markdown]
# Recomputing grows with the square of the position, the cached step only linearly
# (through the attention term, small next to the weights). Summed over a whole text, for
# GPT-2 small writing 1024 tokens:

# %%
gpt2 = GPTConfig.from_preset("gpt2")
L2, C2, V2 = gpt2.n_layer, gpt2.n_embd, gpt2.vocab_size
n = range(1, 1025)
recompute = sum(t * 24 * L2 * C2**2 + 2 * V2 * C2 + 4 * L2 * C2 * t**2 for t in n)
cached = sum(flops_per_token(gpt2, seq_len=t, training=False) for t in n)
ratio = glue("flops_ratio", f"{recompute / cached:.0f}")
print(f"recomputing: {recompute / 1e12:.1f} TFLOPs, with a cache: {cached / 1e12:.2f}")
print(f"the cache saves a factor of {ratio}")

# %% [markdown]
# A factor of {glue:text}`flops_ratio` in operations, for the same tokens. Keeping the
# keys and values of every position between steps is the {term}`KV cache`.
#
# ## How does the cache work?
#
# One attention layer, one new token. Its query, key and value come from its input
# $x_t$ alone; its key and value are appended to those of the earlier positions; its
# query attends over all of them. Being the last position, it may attend to every key,
# so no mask is needed. Written out for the first attention layer of our model, with
# the cache held in two tensors that grow by one position per step:

# %%
attn = model.blocks[0].attn  # a CausalSelfAttention with trained weights
H, D = attn.n_head, attn.head_dim


def attention_step(x_new, past_k, past_v):
    """x_new (B, 1, C), past keys and values (B, H, t, D) -> output (B, 1, C), k, v."""
    B = x_new.shape[0]
    q, k, v = attn.qkv_proj(x_new).split(C, dim=-1)  # 3 x (B, 1, C)
    q, k, v = (a.view(B, 1, H, D).transpose(1, 2) for a in (q, k, v))  # (B, H, 1, D)
    k = torch.cat((past_k, k), dim=2)  # (B, H, t + 1, D): the cache, then the new one
    v = torch.cat((past_v, v), dim=2)
    weights = torch.softmax(q @ k.transpose(-2, -1) / D**0.5, dim=-1)  # (B, H, 1, t+1)
    y = (weights @ v).transpose(1, 2).reshape(B, 1, C)  # the heads side by side
    return attn.out_proj(y), k, v


torch.manual_seed(0)
x = torch.randn(2, 10, C, dtype=torch.float64)  # (B, T, C): ten positions' inputs
k = v = torch.zeros(2, H, 0, D, dtype=torch.float64)  # an empty cache
cache = KVCache(batch_size=2, n_head=H, head_dim=D, capacity=10, dtype=torch.float64)
with torch.no_grad():
    full = attn(x)  # all ten positions at once, causally masked
    for t in range(10):
        y, k, v = attention_step(x[:, t : t + 1], k, v)
        y_package = attn(x[:, t : t + 1], cache=cache)  # the package's cached step
        assert (y - full[:, t : t + 1]).abs().max() < 1e-12
        assert (y_package - full[:, t : t + 1]).abs().max() < 1e-12
assert torch.equal(cache.k[:, :, :10], k) and cache.length == 10
print("10 cached steps equal the full pass: largest difference below 1e-12")

# %% [markdown]
# Ten steps, each computing one position, give the outputs of the full causal pass
# (within $10^{-12}$, rounding in float64), and the same keys as the package's
# `gptcourse.attention.KVCache`, which preallocates its tensors for `capacity`
# positions and writes each step in place instead of concatenating. The whole model
# keeps one cache per block (`gptcourse.model.GPT.new_cache`);
# `gptcourse.model.GPT.decode` runs a step: the prompt first, then one token
# at a time. The positions matter: the new token's position embedding is that of
# position `cache.length`, not 0. Cached and uncached generation then choose the same
# tokens, greedily and when sampling with the same seed:

# %%
max_new = config.block_size - prompt.shape[1]  # to the end of the context
for settings in (dict(temperature=0), dict(top_p=0.9)):
    with_cache = generate(
        model, prompt, max_new, generator=torch.Generator().manual_seed(0), **settings
    )
    without = generate(
        model,
        prompt,
        max_new,
        use_cache=False,
        generator=torch.Generator().manual_seed(0),
        **settings,
    )
    assert torch.equal(with_cache, without)
    print(f"{settings}: the same {max_new} tokens with and without the cache")

# %% [markdown]
# Past `block_size` tokens the model can read only the last `block_size`, and every
# cached position would have to move one place to the left, which changes its position
# embedding and so every key and value: there, the package recomputes the window
# instead.
#
# ## How much faster is it, on this machine?
#
# The time of one step at each position, with and without the cache, for an untrained
# GPT of the size `gpt-micro` (4 layers, width 128) with a context of 512 characters
# ({numref}`fig-step-time`). The times are this machine's, measured when this page was
# built (the fastest of three runs); on yours they differ, but not the shapes of the
# curves.


# %% tags=["nbval-ignore-output"] mystnb={"figure": {"caption": "The time of one generation step against the position of the new token, for an untrained gpt-micro (4 layers, width 128, float32) on this machine's CPU. Recomputing the whole prefix (no cache) grows with the position; with the cache, a step costs about the same at every position.", "name": "fig-step-time"}, "image": {"alt": "A line chart of milliseconds per step against the position from 1 to 512. The line without the cache starts near the cached one and rises steadily with the position, to many times the cached step's time at position 512. The line with the cache stays flat near the bottom at every position."}}
def best_time(fn, *args, repeats=3, **kwargs) -> float:
    """The fastest of `repeats` runs of fn(*args, **kwargs), in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def cached_step(model, ids, cache, t):
    """The step of token t, with t - 1 positions in the cache (run again and again)."""
    for layer in cache:
        layer.length = t - 1  # forget the previous run's position t
    model.decode(ids[:, t - 1 : t], cache)


torch.manual_seed(0)
micro = GPT(GPTConfig.from_preset("gpt-micro", vocab_size=65, block_size=512)).eval()
ids = torch.randint(65, (1, 512), generator=torch.Generator().manual_seed(0))
positions = [1, 64, 128, 192, 256, 320, 384, 448, 512]
with_cache, without = [], []
with torch.inference_mode():
    for t in positions:
        cache = micro.new_cache(1)
        if t > 1:
            micro(ids[:, : t - 1], cache=cache)  # t - 1 positions cached
        with_cache.append(best_time(cached_step, micro, ids, cache, t))
        without.append(best_time(micro, ids[:, :t], last_only=True))
fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(positions, without, "o-", label="recomputing the prefix")
ax.plot(positions, with_cache, "o-", label="with the KV cache")
ax.set_xlabel("position of the new token")
ax.set_ylabel("milliseconds per step")
ax.legend()
plt.show()
print(f"at position 512: {without[-1]:.1f} ms without, {with_cache[-1]:.2f} ms with")

# %% [markdown]
# The benchmark `python -m gptcourse.bench generate` measures whole generations of 128,
# 512 and 1024 tokens the same way, with transformers' `generate` beside them.
#
# ## What does the cache cost in memory?
#
# Every position keeps a key and a value in every layer, each of $H$ heads of width
# $D$: per token, in bytes,
#
# $$
# 2 \cdot L \cdot H \cdot D \cdot \text{bytes per number},
# $$
#
# times the number of tokens and the batch size. For the GPT-2 sizes in 16-bit floats
# (2 bytes), checked against the caches that `gptcourse.model.GPT.new_cache`
# allocates (on PyTorch's `meta` device, which records shapes without allocating):


# %%
def kv_bytes_per_token(config: GPTConfig, bytes_per_number: int = 2) -> int:
    return 2 * config.n_layer * config.n_head * config.head_dim * bytes_per_number


print(f"{'model':>12} {'L':>3} {'H':>3} {'D':>3} {'per token':>10} {'1024 tokens':>12}")
for name in ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl"):
    size = GPTConfig.from_preset(name)
    with torch.device("meta"):  # shapes only
        layers = GPT(size).half().new_cache(batch_size=1, capacity=1024)
    allocated = sum(c.k.nbytes + c.v.nbytes for c in layers)
    assert allocated == 1024 * kv_bytes_per_token(size)
    per_token = kv_bytes_per_token(size) / 2**10
    glue(f"kv_{name}", f"{allocated / 2**20:.0f}")
    print(
        f"{name:>12} {size.n_layer:3} {size.n_head:3} {size.head_dim:3} "
        f"{per_token:7.0f} KiB {allocated / 2**20:8.0f} MiB"
    )
xl_weights = count_parameters(GPTConfig.from_preset("gpt2-xl")) * 2  # bytes, float16
xl_batch = math.ceil(xl_weights / allocated)  # allocated: GPT-2 XL's, the last one
glue("xl_weights", f"{xl_weights / 2**30:.1f}")
glue("xl_batch", f"{xl_batch}")
print(f"GPT-2 XL: the caches of {xl_batch} sequences outweigh its weights")

# %% [markdown]
# GPT-2 XL keeps {glue:text}`kv_gpt2-xl` MiB for one sequence of 1024 tokens, and from
# {glue:text}`xl_batch` such sequences in a batch on, the cache outweighs the model's
# weights ({glue:text}`xl_weights` GiB in 16 bits). At large batch sizes and long
# contexts it is the cache, not the weights, that fills the accelerator's memory, and
# reading it at every step that limits speed {cite:p}`pope2023efficiently`.
#
# ### How do multi-query and grouped-query attention shrink it?
#
# By giving the heads fewer keys and values than queries. In **multi-query attention**
# all $H$ query heads share one head of keys and values {cite:p}`shazeer2019fast`; in
# **grouped-query attention** the query heads form $G$ groups and each group shares
# one {cite:p}`ainslie2023gqa`. The cache then holds $G$ heads instead of $H$:
# $H / G$ times less memory. The attention itself is unchanged once each key/value head
# is repeated for the query heads of its group, which is what PyTorch's
# {py:func}`~torch.nn.functional.scaled_dot_product_attention` does with
# `enable_gqa=True`:

# %%
torch.manual_seed(0)
B, H_q, G, T, D_h = 1, 8, 2, 5, 16  # 8 query heads in 2 groups
q = torch.randn(B, H_q, T, D_h, dtype=torch.float64)
k, v = torch.randn(
    2, B, G, T, D_h, dtype=torch.float64
)  # G heads only: a smaller cache
repeated = [a.repeat_interleave(H_q // G, dim=1) for a in (k, v)]  # (B, H_q, T, D_h)
by_hand = F.scaled_dot_product_attention(q, *repeated, is_causal=True)
fused = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
assert (by_hand - fused).abs().max() < 1e-12
print("grouped-query attention = repeated key/value heads: difference below 1e-12")

xl = GPTConfig.from_preset("gpt2-xl")
for label, kv_heads in (
    ("multi-head, G = 25", 25),
    ("grouped, G = 5", 5),
    ("multi-query, G = 1", 1),
):
    per_token = 2 * xl.n_layer * kv_heads * xl.head_dim * 2  # bytes, float16
    print(f"GPT-2 XL, {label:>18}: {per_token * 1024 / 2**20:4.0f} MiB per 1024 tokens")

# %% [markdown]
# Both are choices made before training: a model trained with $H$ key/value heads cannot
# simply drop some, although {cite:t}`ainslie2023gqa` show that a multi-head checkpoint
# can be converted by averaging the heads of each group and training a little more.
#
# ## When does generation stop?
#
# So far, after `max_new_tokens`: the one criterion that always holds. A model trained
# on documents separated by an end-of-text token (GPT-2's `<|endoftext|>`, id 50256)
# also says when it is done, by generating that token: generation stops there. Our
# character model has no such token, but a line break ends each line of a play; with
# `eos_token_id` set to it, each row of a batch ends at its first line break, gets
# padding after it, and generation stops when every row has ended.

# %% tags=["nbval-ignore-output"]
newline = tokenizer.encode("\n")[0]
rows = generate(
    model,
    prompt.repeat(3, 1),
    100,
    top_p=0.9,
    eos_token_id=newline,
    generator=torch.Generator().manual_seed(3),
)
print(f"stopped after {rows.shape[1] - prompt.shape[1]} of at most 100 new tokens")
for row in rows[:, prompt.shape[1] :].tolist():
    line = row[: row.index(newline) + 1] if newline in row else row  # up to its end
    print(f"{len(line):3} tokens: {tokenizer.decode(line)!r}")

# %% [markdown]
# A stop *string*, such as the blank line that ends a speech (two line breaks), spans
# several tokens; generation continues until the text so far ends with it (the
# `stop_strings` argument of transformers' `generate` does this, given a tokenizer):


# %%
def generate_until(model, prompt_text: str, stop: str, max_new_tokens: int, seed: int):
    ids = torch.tensor([tokenizer.encode(prompt_text)])
    generator = torch.Generator().manual_seed(seed)
    new = ""
    for _ in range(max_new_tokens):
        ids = generate(model, ids, 1, top_p=0.9, generator=generator)
        new += tokenizer.decode(ids[0, -1:].tolist())
        if new.endswith(stop):
            break
    return new


# %% tags=["nbval-ignore-output"]
speech = generate_until(model, "ROMEO:\n", "\n\n", max_new_tokens=600, seed=0)
assert "\n\n" not in speech[:-2]  # it stopped at the first blank line, if any
print(speech)

# %% [markdown]
# ## How do we generate for several prompts of different lengths at once?
#
# A batch is a rectangle: prompts of different lengths must be padded to the longest.
# Generation appends every new token at the right end of every row at once, so the
# padding goes on the **left**, where it is out of the way; an attention mask marks it
# (1 for tokens, 0 for padding), so that no token attends to padding, and the positions
# are counted from each row's first real token, so that padding does not move them.
# `gptcourse.generation.pad_prompts` builds both:

# %%
starts = ["ROMEO:\n", "KING HENRY VI:\nWhat", "First Citizen:\nWe are"]
idx, mask = pad_prompts([tokenizer.encode(t) for t in starts], pad_token_id=0)
print(f"{len(starts)} prompts padded to {idx.shape[1]} tokens; the mask:")
print(mask.int())

# %% [markdown]
# The padded batch must give every row the tokens that its prompt gives alone, and it
# does, with and without the cache and in transformers (whose `generate` takes the same
# mask). Without the mask, the padded prompts read the padding as text (and their
# positions shift), and the model predicts something else:

# %%
batch = generate(model, idx, 30, temperature=0, attention_mask=mask)
for b, start in enumerate(starts):
    alone = generate(model, torch.tensor([tokenizer.encode(start)]), 30, temperature=0)
    assert torch.equal(batch[b, -alone.shape[1] :], alone[0])
uncached = generate(model, idx, 30, temperature=0, attention_mask=mask, use_cache=False)
theirs = hf_model.generate(
    idx, attention_mask=mask.long(), max_new_tokens=30, do_sample=False, pad_token_id=0
)
assert torch.equal(batch, uncached) and torch.equal(batch, theirs)
print("padded batch = one prompt at a time = without the cache = transformers")
with torch.no_grad():  # the next-token probabilities, with and without the mask
    p_mask = model(idx, attention_mask=mask)[0][:, -1].softmax(-1)  # (3, V)
    p_none = model(idx)[0][:, -1].softmax(-1)
change = (p_mask - p_none).abs().max(dim=-1).values  # (3,)
assert change[0] > 1e-3 and change[1] > 1e-3  # the padded prompts
assert change[2] < 1e-12  # the longest prompt has no padding
print("without the mask, the padded prompts' next-token probabilities change by more")
print("than 0.001; the unpadded prompt's by less than 1e-12")

# %% tags=["nbval-ignore-output"]
for row in batch:
    print(repr(tokenizer.decode(row[mask.shape[1] :].tolist())))

# %% [markdown]
# ## Summary
#
# - A language model writes by predicting one token, appending it and predicting again
#   ({term}`autoregressive` generation); `gptcourse.generation.generate` does it for
#   every model of the course.
# - {term}`Greedy decoding` takes the likeliest token and loops; sampling draws from the
#   distribution, reshaped by the {term}`temperature` (sharper or flatter), top-k (the
#   $k$ likeliest) and top-p (the smallest set holding probability $p$).
# - transformers' `generate` gives our tokens on our weights; sampling needs
#   `do_sample=True`, has top-k 50 by default, and several sequences per prompt need
#   sampling.
# - The {term}`KV cache` keeps every position's keys and values, so that each step
#   computes one position: the same tokens for about {glue:text}`flops_ratio` times
#   fewer operations for GPT-2 small at 1024 tokens, and a step time that hardly grows
#   with the position.
# - It costs $2 \cdot L \cdot H \cdot D$ numbers per token, {glue:text}`kv_gpt2-xl` MiB
#   for 1024 tokens of GPT-2 XL in 16 bits; multi-query and grouped-query attention
#   divide it by $H / G$.
# - Generation stops at `max_new_tokens`, an end token or a stop string; prompts of
#   different lengths go in one batch left-padded, with an attention mask and positions
#   counted from each row's first token.
#
# ## Exercises
#
# The exercises are in {doc}`the chapter's exercise page
# <../exercises/solutions/08_generation>` (and in `exercises/08_generation.ipynb` to
# work through in JupyterLab):
#
# - Exercise 8-1, the memory of a KV cache (warm-up): compute it for any configuration,
#   with grouped-query attention.
# - Exercise 8-2, top-p filtering (medium): the distribution nucleus sampling draws
#   from, checked on several distributions.
# - Exercise 8-3, one step of the KV cache (medium): build it from the layer's weights
#   and prove that it gives the full pass.
# - Exercise 8-4, why greedy decoding loops (written, stretch): prove that it must, and
#   from when.
#
# ## Further reading
#
# - {cite:t}`holtzman2020curious` show why the likeliest text is degenerate and
#   introduce nucleus (top-p) sampling, with the measurements behind it.
# - {cite:t}`fan2018hierarchical` use top-k sampling for story generation, one of its
#   first uses in neural text generation.
# - {cite:t}`shazeer2019fast` introduces multi-query attention to make decoding fast;
#   {cite:t}`ainslie2023gqa` the grouped-query middle ground and how to convert a
#   multi-head model.
# - {cite:t}`pope2023efficiently` work out where the time and memory of generation go
#   for large models, and how to split them across accelerators.
# - {cite:t}`kwon2023efficient` (vLLM) store the cache in pages, like an operating
#   system's virtual memory, so that many requests share one accelerator.
