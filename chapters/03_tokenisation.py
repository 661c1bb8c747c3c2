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
# # Tokenisation
#
# A language model never sees text: it sees a sequence of integers, the ids of the
# *tokens* the text was cut into. How the text is cut decides how long the sequences
# are, how large the model's vocabulary is, and whether every text can be read at all.
# This chapter compares the ways to cut text on Tiny Shakespeare, builds the tokenizer
# of GPT-2, byte-level BPE, from scratch, proves that with GPT-2's own merge table it
# gives exactly GPT-2's token ids on the whole corpus, measures what that tokenizer
# costs in other languages, in numbers and in spaces, and turns the ids into training
# batches and the vectors a model reads.
#
# ```{admonition} What you will be able to do
# - compare characters, words and subwords by vocabulary size, tokens per character and
#   the share of unseen words they cannot write;
# - train a byte-level {term}`BPE` tokenizer from scratch and explain each merge;
# - read GPT-2's tokenizer files and reproduce its token ids exactly;
# - measure what a tokenizer costs: tokens per character in Chinese and other scripts,
#   how it cuts numbers, and what a trailing space does to a prompt;
# - turn token ids into training batches with `gptcourse.batches`, and into vectors
#   with an {term}`embedding` table, and explain why a lookup equals a one-hot product.
# ```

# %%
import time
from collections import Counter

import matplotlib.pyplot as plt
import regex
import torch
from matplotlib.patches import FancyArrowPatch, Rectangle

from gptcourse import batches, bpe, data, gpt2_tokenizer, plotting
from gptcourse.bpe import BPETokenizer
from gptcourse.char_tokenizer import CharTokenizer
from gptcourse.glue import glue
from gptcourse.words import unknown_word_rate
from gptcourse.words import words as words_of  # chapter 1's words

text = data.load_text("tinyshakespeare")
# the course's one split: the last 10 % of the characters is held out
train_text, val_text = batches.split_text(text, 0.1)
print(f"{len(text):,} characters")
print(f"{len(train_text):,} to learn from, {len(val_text):,} held out")

# %% [markdown]
# ## How should text be cut into tokens?
#
# Three natural answers, from the finest to the coarsest:
#
# - **characters**: a tiny vocabulary (65 symbols for Tiny Shakespeare), but one token
#   per character, so long sequences;
# - **words**: short sequences, but a huge vocabulary, and words that were never seen
#   while building it cannot be written at all;
# - **subwords**: frequent words are one token, rare words are split into frequent
#   pieces. Byte-pair encoding (BPE), which this chapter builds, learns such pieces from
#   a corpus, and its vocabulary size is ours to choose.
#
# The measure that matters is how many characters one token carries on average,
#
# $$
# \bar c = \frac{N_\text{chars}}{N_\text{tokens}},
# $$
#
# because a model with a context of $T$ tokens reads about $T \bar c$ characters at
# once, and the cost of attention grows with $T^2$ (chapter 4). The price is paid in
# the vocabulary: the model holds one embedding vector of $d$ numbers per token, a
# $V \times d$ table. Let us measure both sides on Tiny Shakespeare. Characters first,
# with the character tokenizer of chapter 1, and words, with chapter 1's definition of
# a word: a run of letters and apostrophes, lower-cased (so `Frets,` is the word
# `frets`). That is kind to words: a word tokenizer that could write the text back
# would also need tokens for capitals, punctuation and line breaks.


# %%
chars = CharTokenizer.from_text(text)
char_ids = chars.encode(text)
words = words_of(text)
print(f"characters: vocabulary {chars.vocab_size:>6,}, {len(char_ids):>9,} tokens")
print(f"words:      vocabulary {len(set(words)):>6,}, {len(words):>9,} tokens")

# %% [markdown]
# For subwords, the package already holds the finished BPE tokenizer that the next
# section builds. We train it once on the training text, up to 4,096 tokens. Training
# is greedy, merge after merge, so the first $V - 256$ merges of that run are exactly
# what a training run stopped at vocabulary size $V$ would learn: every smaller
# vocabulary comes for free. GPT-2's own tokenizer, with 50,257 tokens, is loaded
# from its files (section 3 opens them).

# %%
bpe_4096 = BPETokenizer.train(train_text, vocab_size=4096)
gpt2 = gpt2_tokenizer.load_gpt2_tokenizer()

bpe_sizes = [256, 512, 1024, 2048, 4096]
tokenizers = {f"BPE {v:,}": BPETokenizer(bpe_4096.merges[: v - 256]) for v in bpe_sizes}
tokenizers["GPT-2"] = gpt2
n_tokens = {"characters": len(char_ids), "words": len(words)}
vocab_size = {"characters": chars.vocab_size, "words": len(set(words))}
for name, tok in tokenizers.items():
    ids = tok.encode(text)
    assert tok.decode(ids) == text  # nothing is lost
    n_tokens[name], vocab_size[name] = len(ids), tok.vocab_size

d = 768  # the embedding width of the smallest GPT-2
for name in n_tokens:
    table = torch.nn.Embedding(vocab_size[name], d, device="meta")  # no memory used
    assert table.weight.numel() == vocab_size[name] * d
    c_bar = len(text) / n_tokens[name]
    print(
        f"{name:<10}  V = {vocab_size[name]:>6,}  tokens {n_tokens[name]:>9,}  "
        f"c = {c_bar:.2f}  embedding table {table.weight.numel() / 1e6:5.2f} M numbers"
    )
glue("gpt2_c_bar", f"{len(text) / n_tokens['GPT-2']:.1f}")
glue("table_ratio", f"{vocab_size['GPT-2'] / vocab_size['characters']:,.0f}")

# %% [markdown]
# GPT-2's tokens carry {glue:text}`gpt2_c_bar` characters each on Shakespeare, even
# though its vocabulary was learnt on web pages, not plays; its embedding table is also
# {glue:text}`table_ratio` times the size of the character model's. That average
# $\bar c$ is exactly the mean length of the tokens: the tokens' texts, put end to end,
# are the text (Tiny Shakespeare is plain ASCII, one byte per character). We check the
# formula for $\bar c$ that way:

# %%
gpt2_ids = gpt2.encode(text)
token_lengths = [len(gpt2.vocab[i]) for i in gpt2_ids]
assert sum(token_lengths) == len(text)
mean_length = sum(token_lengths) / len(token_lengths)
c_bar = len(text) / len(gpt2_ids)
print(f"mean token length {mean_length:.4f} = N_chars / N_tokens = {c_bar:.4f}")

# %% [markdown]
# The trade-off in one picture ({numref}`fig-vocabulary-length`): each doubling of the
# BPE vocabulary buys fewer tokens than the one before. (BPE with $V = 256$ is one token
# per byte, which for this ASCII text is one per character.)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "How many tokens Tiny Shakespeare takes, against the size $V$ of the vocabulary (log scale). Each doubling of the BPE vocabulary (blue, trained on Shakespeare) shortens the corpus less than the one before. Words (red) give the fewest tokens, GPT-2's vocabulary, learnt on web pages, about as many as our BPE with 4,096 tokens.", "name": "fig-vocabulary-length"}, "image": {"alt": "A chart of tokens for the whole corpus, in thousands, against the vocabulary size on a logarithmic axis from 40 to 200,000. Characters, V = 65, and BPE with 256 tokens both give 1,115 thousand tokens. The BPE curve then falls steeply to 576 thousand at 512 and flattens: 461 at 1,024, 390 at 2,048, 346 at 4,096. GPT-2, V = 50,257, gives 338 thousand; words, V = 12,631, give 204 thousand, the fewest."}}
plotting.use_style()  # the course's figure style: sizes, fonts, sharp images

fig, ax = plt.subplots(figsize=(7.5, 4))
bpe_names = [name for name in n_tokens if name.startswith("BPE")]
ax.plot(
    [vocab_size[name] for name in bpe_names],
    [n_tokens[name] / 1e3 for name in bpe_names],
    "o-",
    color="tab:blue",
    label="BPE trained on Shakespeare",
)
for name in n_tokens:
    if name == "words":
        ax.scatter(
            vocab_size[name],
            n_tokens[name] / 1e3,
            color="tab:red",
            marker="s",
            zorder=3,
        )
    elif not name.startswith("BPE"):
        ax.scatter(vocab_size[name], n_tokens[name] / 1e3, color="tab:green", zorder=3)
    ax.annotate(
        name.removeprefix("BPE "),
        (vocab_size[name], n_tokens[name] / 1e3),
        textcoords="offset points",
        xytext=(6, 6),
        fontsize=9,
    )
ax.set_xscale("log")
ax.set_xlim(40, 2e5)
ax.set_ylim(0, 1300)
ax.set_xlabel("vocabulary size V")
ax.set_ylabel("tokens for the whole corpus (thousands)")
ax.legend(loc="upper right")
plt.show()

# %% [markdown]
# Words look best on this plot: the fewest tokens. But a word vocabulary only knows the
# words it was built from. Built from the training text, how much of the held-out text
# can it write?

# %%
train_vocab = set(words_of(train_text))
val_words = words_of(val_text)
unknown = [w for w in val_words if w not in train_vocab]
unknown_share = glue("unknown_share", f"{len(unknown) / len(val_words):.1%}")
# The same count as the package's, which chapter 1 uses: one definition for the course.
assert len(unknown) / len(val_words) == unknown_word_rate(train_text, val_text)
print(f"word vocabulary from the training text: {len(train_vocab):,} words")
print(
    f"held-out words it cannot write: {len(unknown):,} of {len(val_words):,} "
    f"({unknown_share}), {len(set(unknown)):,} distinct"
)
print("most frequent:", ", ".join(w for w, _ in Counter(unknown).most_common(8)))

# %% [markdown]
# With the course's one split (the last 10 % of the characters, from
# `gptcourse.batches.split_text`) and chapter 1's words, {glue:text}`unknown_share` of
# the held-out words would become an "unknown word" token, the share chapter 1 found:
# the model could neither read nor write them. They are the names of the characters of
# *The Tempest* (the held-out play) and every word form not met before. (Cut at
# whitespace instead, `Frets,` with its comma and `Frets` would be two different words:
# how a word is defined changes the share as much as the corpus does.)
# A subword tokenizer has no such gap. A byte-level BPE, the kind built next, can
# write *every* string, because every string is a sequence of bytes:

# %%
bpe_512 = tokenizers["BPE 512"]
for sample in ["PROSPERO:", "Frets, fumes!", "naïve café, 你好 👋"]:
    ids = bpe_512.encode(sample)
    assert bpe_512.decode(ids) == sample
    print(f"{sample!r:22} -> {len(ids):2} tokens: {[bpe_512.decode([i]) for i in ids]}")

# %% [markdown]
# The unseen name is spelt almost letter by letter (capitals are rare outside the
# speakers' names), and the Chinese characters and the emoji, which never occur in
# Shakespeare, fall back to single bytes (a lone byte of a character is not text, so it
# prints as `�`). Every piece is still a token of the vocabulary, and the round trip
# is exact.
#
# ## How does byte-level BPE learn its vocabulary?
#
# **Bytes first.** Computers store text as bytes, and UTF-8 writes every Unicode
# character with 1 to 4 of them, depending on its code point $u$: one byte for
# $u < 2^7$ (ASCII), two for $u < 2^{11}$, three for $u < 2^{16}$, four beyond.
# Starting from the 256 possible bytes, a tokenizer can represent anything. We check
# the rule on a few characters:


# %%
def utf8_length(u: int) -> int:
    return 1 if u < 2**7 else 2 if u < 2**11 else 3 if u < 2**16 else 4


for ch in ["a", "é", "ß", "—", "你", "👋"]:
    encoded = ch.encode("utf-8")
    assert len(encoded) == utf8_length(ord(ch))
    print(f"{ch!r:5} U+{ord(ch):05X}  {len(encoded)} bytes: {list(encoded)}")

# %% [markdown]
# **Then merges.** BPE starts with one token per byte and repeats one step: count
# every pair of adjacent tokens, and give the most frequent pair a new token, id
# $256, 257, \dots$, that replaces it everywhere. Each merge replaces $m_k$
# occurrences of two tokens by one, so the sequence becomes shorter:
#
# $$
# N_{k+1} = N_k - m_k .
# $$
#
# ($m_k$ can be smaller than the pair's count, since occurrences of a pair such as
# `aa` overlap in `aaa`, and only one of them can be merged.) The two operations,
# counting pairs and merging one, are a few lines each:


# %%
def count_pairs(ids, counts=None, weight=1):
    """{(a, b): how often b follows a in ids}, added `weight` times to `counts`."""
    counts = {} if counts is None else counts
    for pair in zip(ids, ids[1:], strict=False):
        counts[pair] = counts.get(pair, 0) + weight
    return counts


def merge(ids, pair, new_id):
    """ids with each occurrence of pair, left to right, replaced by new_id."""
    out, i = [], 0
    while i < len(ids):
        if i < len(ids) - 1 and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


# %% [markdown]
# On the classic small example, `aaabdaaabac`, three merges take 11 tokens down to 5.
# (When two pairs are equally frequent, we take the smallest pair of ids, so that the
# result never depends on chance.) At each step we check $N_{k+1} = N_k - m_k$ and that
# the tokens still spell the text:

# %%
ids = list(b"aaabdaaabac")
vocab = {i: bytes([i]) for i in range(256)}  # id -> the bytes it stands for
for k in range(3):
    counts = count_pairs(ids)
    best = min(counts, key=lambda pair: (-counts[pair], pair))  # most frequent
    new_id = 256 + k
    vocab[new_id] = vocab[best[0]] + vocab[best[1]]
    merged = merge(ids, best, new_id)
    m_k = merged.count(new_id)
    assert len(merged) == len(ids) - m_k
    assert b"".join(vocab[i] for i in merged) == b"aaabdaaabac"
    ids = merged
    a, b = (vocab[i].decode() for i in best)
    tokens = "|".join(vocab[i].decode() for i in ids)
    print(f"merge {k}: {a!r} + {b!r} -> {new_id}, {m_k} times: {tokens}")

# %% [markdown]
# The package's versions of the two functions, `bpe.count_pairs` and `bpe.merge_pair`,
# do the same:

# %%
for example in [list(b"aaabdaaabac"), [5, 5, 5, 5], [1, 2, 3, 1, 2], []]:
    assert count_pairs(example) == bpe.count_pairs(example)
    for pair in count_pairs(example):
        assert merge(example, pair, 999) == bpe.merge_pair(example, pair, 999)

# %% [markdown]
# ### Why cut the text into words before merging?
#
# Run on raw text, BPE happily merges across word boundaries and punctuation. Trained
# on the first 100,000 characters of Shakespeare without any cutting, 256 merges learn
# tokens such as these:

# %%
uncut = BPETokenizer.train(train_text[:100_000], vocab_size=512, pattern=None)
learnt = [uncut.vocab[256 + k].decode() for k in range(256)]
crossing = [t for t in learnt if regex.search(r"\S[ \n]|[,.:;!?]\s", t)]
print(f"{len(crossing)} of 256 learnt tokens run past the end of a word; the longest:")
print(sorted(crossing, key=len, reverse=True)[:10])

# %% [markdown]
# Tokens like `'.\n\nCORIOLANUS:\n'` spend the vocabulary on accidents of the text
# (a speaker's name after a full stop and a blank line), and spaces stick to the end of
# words (`'e '`, `' the '`), so a word's tokens depend on what follows it. The GPT-2
# paper describes the same waste (`dog.`, `dog!`, `dog?`) and its fix: before merging,
# cut the text into chunks with a regular expression, and never merge across chunks.
# GPT-2's pattern, in its `encoder.py`, keeps English contractions, runs of letters, of
# digits, and of other symbols (each with at most one leading space), and whitespace:

# %%
print(bpe.GPT2_PATTERN)
example = "I'll say it's 1,000 times:  Hello!!\n\nThe end."
print(regex.findall(bpe.GPT2_PATTERN, example))

# %% [markdown]
# The space goes with the word that follows it: `" Hello"` is a chunk, and within a run
# of spaces the last one is left for the next word (`' '` then `' Hello'`). And chunks
# repeat a lot:

# %%
train_chunks = Counter(regex.findall(bpe.GPT2_PATTERN, train_text))
print(f"{glue('n_chunks', f'{train_chunks.total():,}')} chunks in the training text")
print(f"{glue('n_distinct_chunks', f'{len(train_chunks):,}')} distinct chunks")
print("most frequent:", [c for c, _ in train_chunks.most_common(10)])

# %% [markdown]
# So training counts the pairs of each distinct chunk once, weighted by how often the
# chunk occurs: at each merge it scans {glue:text}`n_distinct_chunks` chunks instead of
# {glue:text}`n_chunks`.
#
# ### Training on Shakespeare
#
# Everything is in place: cut the training text into chunks, count them, and merge
# 256 times, for a vocabulary of 512 tokens. A chunk is touched by a merge only if it
# holds the pair's first token, a cheap test that saves most of the work.


# %% tags=["nbval-ignore-output"]
def train_bpe(text, num_merges, pattern=bpe.GPT2_PATTERN):
    """The merges BPE learns from text: a list of pairs, merge k creating id 256 + k."""
    chunks = Counter(regex.findall(pattern, text))
    words = {tuple(chunk.encode("utf-8")): n for chunk, n in chunks.items()}
    merges, n_merged = [], 0
    for k in range(num_merges):
        counts = {}
        for word, n in words.items():
            count_pairs(word, counts, weight=n)
        best = min(counts, key=lambda pair: (-counts[pair], pair))  # most frequent
        merges.append(best)
        words = {
            (tuple(merge(word, best, 256 + k)) if best[0] in word else word): n
            for word, n in words.items()
        }
        n_merged += sum(word.count(256 + k) * n for word, n in words.items())  # m_k
    return merges, n_merged


start = time.perf_counter()
my_merges, n_merged = train_bpe(train_text, 256)
print(f"256 merges learnt in {time.perf_counter() - start:.0f} s")

# %% [markdown]
# What did it learn? Each merge's token is the concatenation of the two it joins:

# %%
my_vocab = {i: bytes([i]) for i in range(256)}
for k, (a, b) in enumerate(my_merges):
    my_vocab[256 + k] = my_vocab[a] + my_vocab[b]
print("first 12:", [my_vocab[256 + k].decode() for k in range(12)])
print("last 12: ", [my_vocab[500 + k].decode() for k in range(12)])

# %% [markdown]
# The first merges join a space to a frequent letter and build `" the"` within a dozen
# steps; by the 256th merge, whole words such as `" their"`, `" king"` and `" know"` are
# single tokens.
#
# **Encoding** a new text applies the same merges in the same order: cut it into
# chunks, write each as bytes, and merge, as long as possible, the pair that training
# merged *first* (the lowest new id), exactly as training did. **Decoding** looks up
# and joins the tokens' bytes, then reads them as UTF-8.

# %%
merge_id = {pair: 256 + k for k, pair in enumerate(my_merges)}


def encode(text):
    ids = []
    for chunk in regex.findall(bpe.GPT2_PATTERN, text):
        chunk_ids = list(chunk.encode("utf-8"))
        while len(chunk_ids) >= 2:
            pairs = zip(chunk_ids, chunk_ids[1:], strict=False)
            pair = min(pairs, key=lambda p: merge_id.get(p, float("inf")))
            if pair not in merge_id:
                break  # no pair left to merge
            chunk_ids = merge(chunk_ids, pair, merge_id[pair])
        ids += chunk_ids
    return ids


def decode(ids):
    return b"".join(my_vocab[i] for i in ids).decode("utf-8", errors="replace")


# %% [markdown]
# Since encoding replays training, the training text must come out with exactly the
# length that training left it with, $N_{256} = N_0 - \sum_k m_k$, where $N_0$ is its
# number of bytes. And any text, in any script, must come back unchanged:

# %%
train_ids = encode(train_text)
n_bytes = len(train_text.encode("utf-8"))
assert len(train_ids) == n_bytes - n_merged
print(f"{n_bytes:,} bytes - {n_merged:,} merged = {len(train_ids):,} tokens")

for sample in [val_text[:60], "Ünïcödé, naïveté — 東京 🙂👍🏽", ""]:
    assert decode(encode(sample)) == sample
print(f"{len(encode(val_text)):,} tokens for the {len(val_text):,} held-out characters")

# %% [markdown]
# The package's `BPETokenizer.train` does the same work faster: it recounts only the
# chunks that a merge changed and keeps the pair counts in a heap. It learns the same
# merges and encodes to the same ids; from here on we use it. (The two timings, here
# and above, are this machine's.)

# %% tags=["nbval-ignore-output"]
start = time.perf_counter()
tok_512 = BPETokenizer.train(train_text, vocab_size=512)
print(f"the package's trainer: 256 merges in {time.perf_counter() - start:.1f} s")

# %%
assert tok_512.merges == my_merges
assert tok_512.encode(val_text) == encode(val_text)
assert tok_512.merges == bpe_4096.merges[:256]  # the prefix used in the first section
print(tok_512)

# %% [markdown]
# ### What are special tokens for?
#
# Training data is a stream of documents, and the model must be told where one ends
# and the next begins. GPT-2 uses a special token, `<|endoftext|>`, with an id of its
# own after all the merges. It is never produced by a merge: the text
# `"<|endoftext|>"` written inside a document is ordinary text, cut into ordinary
# tokens, and only the program that assembles the training data may insert the real
# separator. Otherwise a user could type it and forge the end of a document. So the
# tokenizer encodes it only when told to. The vocabulary size becomes
#
# $$
# V = 256 + M + S
# $$
#
# for $M$ merges and $S$ special tokens:

# %%
tok_special = BPETokenizer(tok_512.merges, special_tokens={"<|endoftext|>": 512})
assert tok_special.vocab_size == 256 + len(tok_512.merges) + 1 == 513

document = "Farewell.<|endoftext|>ACT I"
print("as a separator:", tok_special.encode(document, allowed_special="all"))
print("as plain text: ", tok_special.encode_ordinary(document))
try:
    tok_special.encode(document)
except ValueError as e:
    print("not allowed:   ", e)

# %% [markdown]
# ## What does GPT-2's real tokenizer look like?
#
# OpenAI published GPT-2's tokenizer as two files: `vocab.bpe`, its 50,000 merges in
# the order they were learnt, and `encoder.json`, its 50,257 tokens with their ids.
# Both write tokens as text, one merge per line as two tokens separated by a space:

# %%
vocab_bpe, encoder_json = gpt2_tokenizer.gpt2_files()
print(vocab_bpe.read_text(encoding="utf-8").splitlines()[:8])

# %% [markdown]
# A token is bytes, and bytes such as the space (32) or the newline (10) cannot be
# written in such a file as they are. So GPT-2 renames every byte with a printable
# character: the 188 bytes that are visible characters on their own keep them, and the
# 68 others (space, control characters, ...) take, in order, the characters
# $\text{chr}(256), \text{chr}(257), \dots$ The space, the 33rd of them, becomes
# $\text{chr}(256 + 32) = $ `Ġ`, so `Ġt` above is the token `" t"`:

# %%
visible = [
    *range(ord("!"), ord("~") + 1),
    *range(ord("¡"), ord("¬") + 1),
    *range(ord("®"), ord("ÿ") + 1),
]
byte_to_char = {b: chr(b) for b in visible}
for n, b in enumerate(b for b in range(256) if b not in byte_to_char):
    byte_to_char[b] = chr(256 + n)

assert byte_to_char == gpt2_tokenizer.bytes_to_unicode()
# tiktoken decodes the same files with its own rule: printable, and not a space.
assert set(visible) == {b for b in range(256) if chr(b).isprintable() and chr(b) != " "}
print(
    len(visible),
    "bytes keep their character; space ->",
    byte_to_char[32],
    " newline ->",
    byte_to_char[10],
)

# %% [markdown]
# `gptcourse.gpt2_tokenizer.load_gpt2_tokenizer` reads the two files with this mapping
# and builds the course's `BPETokenizer` from them: merge $k$ of `vocab.bpe` creates
# token $256 + k$, as in our own training. (GPT-2 numbers its 256 single bytes in its
# own order, printable ones first; `byte_order` records it.) Its pattern is GPT-2's, and
# `<|endoftext|>` is token 50256, the last one:

# %%
print(gpt2)
print([gpt2.vocab[256 + k] for k in range(6)], gpt2.vocab[50255])
hello = gpt2.encode("Hello world, once upon a time")
print(hello)
assert hello == [15496, 995, 11, 1752, 2402, 257, 640]  # GPT-2's ids for this sentence

# %% [markdown]
# The last line is GPT-2's real encoding of that sentence. To be sure that every
# token matches, not only seven, we compare with three independent implementations,
# built from the same two files:
#
# - **tiktoken**, OpenAI's tokenizer (Rust), with its GPT-2 encoding
#   (`gpt2_tokenizer.load_tiktoken` passes the files to
#   `tiktoken.load.data_gym_to_mergeable_bpe_ranks`);
# - Hugging Face **tokenizers** (Rust), a byte-level BPE model;
# - Hugging Face **transformers**' `GPT2Tokenizer(vocab=..., merges=...)`.
#
# tiktoken writes GPT-2's pattern differently (possessive quantifiers, an explicit
# rule for trailing whitespace), so we first check that both patterns cut the whole
# corpus into the same chunks, then compare the ids of the whole corpus:

# %%
from tiktoken_ext.openai_public import r50k_pat_str  # tiktoken's GPT-2 pattern

enc = gpt2_tokenizer.load_tiktoken()
hf = gpt2_tokenizer.load_hf_tokenizer()
hf_transformers = gpt2_tokenizer.load_transformers_tokenizer()

print(r50k_pat_str)
assert regex.findall(bpe.GPT2_PATTERN, text) == regex.findall(r50k_pat_str, text)
reference = {
    "tiktoken": enc.encode_ordinary(text),
    "tokenizers": hf.encode(text).ids,
    "transformers": hf_transformers(text)["input_ids"],
}
for name, ids in reference.items():
    assert ids == gpt2_ids, name
    print(f"{name:<12}: {len(ids):,} ids, all equal to the course's")
assert gpt2.decode(gpt2_ids) == text
glue("n_gpt2_ids", f"{len(gpt2_ids):,}")

# %% [markdown]
# {glue:text}`n_gpt2_ids` identical ids. As a last cross-check, nanoGPT's data
# preparation encodes the first 90 % and the last 10 % of the characters separately and
# reports 301,966 and 36,059 tokens. (Its boundary, `int(0.9 * N)`, is one character
# earlier than the course's split, which holds out `int(0.1 * N)` characters.)

# %%
nano_train, nano_val = text[: int(0.9 * len(text))], text[int(0.9 * len(text)) :]
n_nano = len(gpt2.encode(nano_train)), len(gpt2.encode(nano_val))
print(f"{n_nano[0]:,} + {n_nano[1]:,}")
assert n_nano == (301_966, 36_059)

# %% [markdown]
# How does GPT-2 cut a line of Shakespeare, compared with characters and our 512-token
# BPE? Each box of {numref}`fig-token-boxes` is one token (`␣` is a space):


# %% tags=["hide-input"] mystnb={"figure": {"caption": "A line of Shakespeare cut into tokens three ways, one box per token (`␣` is a space). Characters take 45 tokens; our BPE with 512 tokens, 23, mostly pieces of words; GPT-2, 10: each word with the space before it is one token.", "name": "fig-token-boxes"}, "image": {"alt": "Three rows of coloured boxes spelling Before we proceed any further, hear me speak. The first row, characters: 45 tokens, one box per letter, space and punctuation mark. The second row, our BPE with 512 tokens: 23 tokens, such as B, e, f, ore, space-we, space-p, ro, ce, ed. The third row, GPT-2: 10 tokens, Before, space-we, space-proceed, space-any, space-further, comma, space-hear, space-me, space-speak, full stop."}}
def draw_tokens(ax, pieces, y, label):
    """One row of boxes, one per token, under a label."""
    x = 0
    for j, piece in enumerate(pieces):
        shown = piece.replace(" ", "␣").replace("\n", "↵")
        box = Rectangle(
            (x + 0.05, y), len(shown) - 0.1, 0.8, color=f"C{j % 8}", alpha=0.3
        )
        ax.add_patch(box)
        centre = (x + len(shown) / 2, y + 0.4)
        ax.text(
            *centre, shown, ha="center", va="center", family="monospace", fontsize=12
        )
        x += len(shown)
    ax.text(0, y + 0.95, f"{label}: {len(pieces)} tokens", va="bottom", fontsize=10)


line = "Before we proceed any further, hear me speak."
rows = {
    "characters": list(line),
    "our BPE, 512 tokens": [tok_512.decode([i]) for i in tok_512.encode(line)],
    "GPT-2": [gpt2.decode([i]) for i in gpt2.encode(line)],
}
fig, ax = plt.subplots(figsize=(7.5, 2.8))
for r, (label, pieces) in enumerate(rows.items()):
    assert "".join(pieces) == line
    draw_tokens(ax, pieces, 1.6 * (len(rows) - 1 - r), label)
ax.set_xlim(-0.2, len(line) + 0.2)
ax.set_ylim(-0.1, 1.6 * len(rows))
ax.axis("off")
plt.show()


# %% [markdown]
# ## What does a tokenizer cost?
#
# A tokenizer is learnt once, from one corpus, and every text pays for that choice
# afterwards. GPT-2's merges were learnt from English web pages; three costs follow
# from it, each measured below with the same tokenizer.
#
# **Other languages pay more.** Here is the same sentence, the first article of the
# Universal Declaration of Human Rights, in ten languages, with the number of GPT-2
# tokens it takes, the tokens per character, and how many times English's count that
# is:

# %%
article_1 = {
    "English": "All human beings are born free and equal in dignity and rights.",
    "French": "Tous les êtres humains naissent libres et égaux en dignité et en "
    "droits.",
    "German": "Alle Menschen sind frei und gleich an Würde und Rechten geboren.",
    "Russian": "Все люди рождаются свободными и равными в своем достоинстве и правах.",
    "Greek": "Όλοι οι άνθρωποι γεννιούνται ελεύθεροι και ίσοι στην αξιοπρέπεια και "
    "τα δικαιώματα.",
    "Arabic": "يولد جميع الناس أحرارًا متساوين في الكرامة والحقوق.",
    # Devanagari is wider on screen than its count of code points: two lines.
    "Hindi": "सभी मनुष्यों को गौरव और अधिकारों के मामले में "
    + "जन्मजात स्वतन्त्रता और समानता प्राप्त है।",
    "Chinese": "人人生而自由，在尊严和权利上一律平等。",
    "Japanese": "すべての人間は、生まれながらにして自由であり、"
    "かつ、尊厳と権利とについて平等である。",
    "Korean": "모든 인간은 태어날 때부터 자유로우며 그 존엄과 권리에 있어 동등하다.",
}
n_english = len(gpt2.encode(article_1["English"]))
print("language  characters  UTF-8 bytes  tokens  tokens/char  x English")
for language, sentence in article_1.items():
    n = len(gpt2.encode(sentence))
    ratio = n / n_english
    print(
        f"{language:<9} {len(sentence):10} {len(sentence.encode()):12} {n:7}"
        f" {n / len(sentence):12.2f} {ratio:10.1f}"
    )
    assert language == "English" or ratio > 1.5  # every other language pays more
zh = article_1["Chinese"]
glue("zh_per_char", f"{len(gpt2.encode(zh)) / len(zh):.2f}")
glue("en_per_char", f"{n_english / len(article_1['English']):.2f}")
glue("zh_ratio", f"{len(gpt2.encode(zh)) / n_english:.1f}")

# %% [markdown]
# English needs {glue:text}`en_per_char` tokens per character, Chinese
# {glue:text}`zh_per_char`: more than one token per character, because each Chinese
# character is three UTF-8 bytes and GPT-2 learnt few merges for them, and the same
# meaning costs {glue:text}`zh_ratio` times the tokens of English. French and German,
# in the same Latin script, take about twice as many tokens as English; the other
# scripts, several times as many. For a model that reads text as tokens, that
# is a shorter context (GPT-2's 1,024 tokens hold far less Chinese than English), more
# compute per sentence, and, for a paid service, a higher price for the same text
# {cite:p}`petrov2023language`. Tokenizers trained on many languages shrink the gap;
# they do not remove it.
#
# **Numbers are cut irregularly.** Digits are chunked by GPT-2's pattern into runs of
# digits, and BPE then splits each run with whatever merges it learnt:

# %%
for number in ["2023", "1234567", "12345 + 67890 = 80235", "3.14159"]:
    print(f"{number!r:25} -> {[gpt2.decode([i]) for i in gpt2.encode(number)]}")

print("numbers   tokens: how many numbers take 1, 2, 3 tokens")
for low, high in [(0, 1_000), (1_000, 10_000), (10_000, 100_000)]:
    lengths = Counter(len(gpt2.encode(str(n))) for n in range(low, high))
    print(f"{low:>6}-{high - 1:<6} {dict(sorted(lengths.items()))}")

# %% [markdown]
# `1234567` is read as `123|45|67`, so the digit 4 is the first of a two-digit token
# here and the middle of a three-digit token elsewhere; whether a four-digit number is
# one, two or three tokens depends on which merges the web pages happened to teach.
# Adding two numbers means adding tokens whose boundaries do not line up with units,
# tens and hundreds. Later tokenizers fix the cut: LLaMA splits every number into
# single digits {cite:p}`touvron2023llama`.
#
# **A trailing space changes the prompt.** GPT-2's pattern puts a space at the start
# of the word that follows it, so `" Paris"` is one token. A prompt that ends with a
# space ends with the token `" "` instead, and the model must continue with a word
# without its leading space:

# %%
for prompt in ["The capital of France is", "The capital of France is "]:
    ids_ = gpt2.encode(prompt)
    print(f"{prompt!r:28} -> {ids_} {[gpt2.decode([i]) for i in ids_]}")
print("' Paris' ->", gpt2.encode(" Paris"))
space = gpt2.encode(" ")[0]
pairs = zip(gpt2_ids, gpt2_ids[1:], strict=False)
after_space = sum(1 for a, b in pairs if a == space and gpt2.vocab[b][:1].isalpha())
glue("space_then_word", f"{after_space:,}")
print(
    f"in Shakespeare, ' ' then a word: {after_space} times in {len(gpt2_ids):,} tokens"
)

# %% [markdown]
# In the whole corpus, the token `" "` is followed by a word
# {glue:text}`space_then_word` times in {glue:text}`n_gpt2_ids` tokens: a model
# trained on text cut this way has almost never seen what a prompt with a trailing
# space asks it to continue, so whatever it predicts there rests on a handful of
# examples. Prompts are best given without that space. The same rule makes
# indentation costly in code: four spaces before `return` are three `" "` tokens and
# `" return"`.


# %% [markdown]
# ## How fast is each tokenizer?
#
# The course's encoder is plain Python; tiktoken and tokenizers are Rust. Below, each
# encodes the whole corpus, and then a text made of each distinct chunk of the corpus
# once (so that no chunk repeats). The numbers are this machine's, on one thread, and
# vary from run to run; your machine will give others.

# %%
chunks = gpt2.split(text)
distinct_text = "".join(dict.fromkeys(chunks))
print(f"{len(chunks):,} chunks in the corpus, {len(set(chunks)):,} distinct")
glue("chunks_per_distinct", f"{len(chunks) / len(set(chunks)):.0f}")
print(f"the distinct chunks, once each: a text of {len(distinct_text):,} characters")


# %% tags=["nbval-ignore-output"]
def seconds(fn, *args):
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


fresh = gpt2_tokenizer.load_gpt2_tokenizer()  # an empty cache
timings = {
    "course, without its cache": seconds(
        lambda: [fresh.encode_chunk(c.encode("utf-8")) for c in chunks]
    ),
    "course, filling its cache": seconds(fresh.encode, text),
    "course, cache already full": seconds(fresh.encode, text),
    "course, the regex split only": seconds(fresh.split, text),
    "tiktoken (Rust)": seconds(enc.encode_ordinary, text),
    "tokenizers (Rust)": seconds(hf.encode, text),
}
distinct = {
    "course": seconds(gpt2_tokenizer.load_gpt2_tokenizer().encode, distinct_text),
    "tiktoken": seconds(enc.encode_ordinary, distinct_text),
    "tokenizers": seconds(hf.encode, distinct_text),
}
print("the whole corpus, 1.1 MB:")
for name, s in timings.items():
    print(f"  {name:<29} {s:6.3f} s  {len(text) / s / 1e6:5.1f} MB/s")
print(f"only distinct chunks, {len(distinct_text) / 1e3:.0f} kB:")
for name, s in distinct.items():
    print(f"  {name:<29} {s:6.3f} s  {len(distinct_text) / s / 1e6:5.1f} MB/s")

# %% [markdown]
# What the figures say:
#
# - **Merging in Python is slow; caching makes it rare.** Applying 50,000 merges, one
#   chunk at a time, is where the Python encoder spends its time when every chunk is
#   new: on the text of distinct chunks, Rust (tiktoken) is typically more than ten
#   times faster. But text repeats itself: only about one chunk in
#   {glue:text}`chunks_per_distinct` of the corpus is new, so the course's encoder
#   keeps the ids of every chunk it has seen in a dictionary, and merges each distinct
#   chunk once. With that cache, the course's encoder is within a small factor of
#   tiktoken on the whole corpus.
# - **The regular expression is the floor.** Both cut the text with a regular
#   expression first (the `regex` module, written in C, for the course; Rust's
#   `fancy-regex` for tiktoken), and with a full cache, the split takes most of the
#   course encoder's time.
# - **tokenizers does more per token.** It records, for every token, where it comes
#   from in the text (offsets, for tasks that label spans), and it is built to encode
#   batches of many texts in parallel: `encode_batch` spreads them over threads. The
#   course's notebooks turn that parallelism off (`TOKENIZERS_PARALLELISM=false`) so
#   that every run is the same; tiktoken's `encode_batch` also uses threads.
#
# For a course, and for a corpus of a few megabytes, the Python encoder is fast
# enough; for the billions of tokens of a real pretraining corpus, one uses tiktoken
# or tokenizers, and now knows what they compute.
#
# ## How do token ids become training batches?
#
# The whole corpus is now one long sequence of GPT-2 ids. Training needs two things
# from it. First, a split: the last 10 % of the tokens is held out for validation,
# text the model will never learn from (a contiguous tail, not scattered tokens, so
# that validation sentences are really unseen). Then, batches: $B$ windows of
# $T + 1$ consecutive tokens, each starting at a random position $s_b$. The first $T$
# tokens of a window are the input, and the same window moved one step on is the
# target, because at every position the model predicts the next token:
#
# $$
# x_{b,t} = \text{ids}[s_b + t], \qquad y_{b,t} = \text{ids}[s_b + t + 1] = x_{b,t+1} .
# $$
#
# Built inline, then compared with `gptcourse.batches`:

# %%
ids = torch.tensor(gpt2_ids)  # (N,)
n_val = int(len(ids) * 0.1)
train_ids, val_ids = ids[: len(ids) - n_val], ids[len(ids) - n_val :]
pkg_train, pkg_val = batches.train_val_split(ids, val_fraction=0.1)
assert torch.equal(train_ids, pkg_train) and torch.equal(val_ids, pkg_val)
print(f"train: {len(train_ids):,} tokens, validation: {len(val_ids):,} tokens")

B, T = 4, 8
generator = torch.Generator().manual_seed(1337)
starts = torch.randint(len(train_ids) - T, (B,), generator=generator)  # s_b
x = torch.stack([train_ids[s : s + T] for s in starts])  # (B, T)
y = torch.stack([train_ids[s + 1 : s + T + 1] for s in starts])  # (B, T)
assert torch.equal(y[:, :-1], x[:, 1:])  # y_{b,t} = x_{b,t+1}

generator = torch.Generator().manual_seed(1337)  # the same seed: the same windows
x_pkg, y_pkg = batches.get_batch(train_ids, B, T, generator=generator)
assert torch.equal(x, x_pkg) and torch.equal(y, y_pkg)
print("x =", x.tolist())
print("y =", y.tolist())

# %% [markdown]
# One row of the batch, read as text ({numref}`fig-batch-window`): each input token,
# and below it, the token the model must predict at that position.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The first row of the batch as text: the eight input tokens $x$ (blue) and, under each, the token the model must predict there, $y$ (orange). The arrows join equal tokens: each target is the next input.", "name": "fig-batch-window"}, "image": {"alt": "Two rows of eight boxes. The top row, input x, holds the GPT-2 tokens comma, line break, Come, space-I, space-appellant, space-to, space-this, space-prince. The bottom row, target y, holds the same tokens moved one place to the left, ending with ly. Grey double arrows join each target box to the input box after the one above it, showing they hold the same token."}}
fig, ax = plt.subplots(figsize=(7.5, 2.4))
centred = {"ha": "center", "va": "center"}
for name, tensor, top, color in [
    ("x", x, 1.3, "tab:blue"),
    ("y", y, 0.0, "tab:orange"),
]:
    for t in range(T):
        left = 1.5 * t
        piece = gpt2.decode([tensor[0, t].item()]).replace(" ", "␣").replace("\n", "↵")
        ax.add_patch(Rectangle((left, top), 1.42, 0.8, color=color, alpha=0.25))
        ax.text(left + 0.71, top + 0.4, piece, size=9, family="monospace", **centred)
        label_y = top + 0.95 if name == "x" else top - 0.2
        ax.text(
            left + 0.71, label_y, f"{name}[0, {t}]", size=9, color="gray", **centred
        )
for t in range(T - 1):  # y[0, t] is the next input, x[0, t + 1]
    ends = (1.5 * t + 0.91, 0.8), (1.5 * t + 2.01, 1.3)
    ax.add_patch(
        FancyArrowPatch(*ends, arrowstyle="<->", color="gray", mutation_scale=8)
    )
ax.text(-0.3, 1.7, "input x", ha="right", va="center")
ax.text(-0.3, 0.4, "target y", ha="right", va="center")
ax.set_xlim(-1.5, T * 1.5)
ax.set_ylim(-0.5, 2.5)
ax.axis("off")
plt.show()

# %% [markdown]
# The arrows join equal tokens: the target at position $t$ is the input at position
# $t + 1$. A model that reads `x` predicts, at every position at once, the row below
# it, so one window of $T + 1$ tokens gives $T$ training examples.
#
# ## How does a model read a token id?
#
# An id is a name, not a quantity: token 262 is not "more" than token 261. So a model
# never computes with the id itself. The plain way to feed it is a
# {term}`one-hot vector`: a vector of $V$ zeros with a 1 at position $i$, written
# $e_i$. The first layer multiplies it by a $V \times d$ matrix $E$ of learnt numbers,
# and since all but one of the products are zero,
#
# $$
# e_i^\top E = E_{i,:},
# $$
#
# the product is row $i$ of $E$. That row is the token's {term}`embedding`, and
# {py:class}`torch.nn.Embedding` is exactly this matrix, read by indexing instead of by
# a product that would spend $V d$ multiplications to pick one row. We check it on the
# batch above, with GPT-2's vocabulary and a small width:

# %%
torch.manual_seed(0)
embedding = torch.nn.Embedding(gpt2.vocab_size, 16)  # E: (V, d) = (50257, 16)
E = embedding.weight
one_hot = torch.nn.functional.one_hot(x, gpt2.vocab_size).float()  # (B, T, V)
by_product = one_hot @ E  # (B, T, V) @ (V, d) -> (B, T, d)
by_lookup = embedding(x)  # (B, T, d): row x[b, t] of E
assert torch.equal(by_lookup, E[x])
assert torch.allclose(by_product, by_lookup, rtol=0, atol=1e-6)
print("one-hot product and lookup agree to 1e-6; shape", tuple(by_lookup.shape))
print(f"the one-hot input alone: {one_hot.numel():,} numbers for {x.numel()} tokens")

# %% [markdown]
# The same id always gets the same vector, wherever it stands: the two `" the"`s of a
# sentence read the same row. Training moves the rows of the tokens in each batch
# (the gradient of a lookup reaches only the rows it read), so tokens used alike end up
# with similar rows. From the next chapter on, models start with such a table: a token
# id in, a vector of width $d$ out ({doc}`chapter 4 <../chapters/04_self_attention>`
# builds attention over those vectors).
#
# ## Summary
#
# - A tokenizer trades vocabulary size against sequence length: characters need 65
#   symbols and one token per character, words need tens of thousands and still miss
#   {glue:text}`unknown_share` of held-out words; subwords sit in between.
# - Byte-level BPE starts from the 256 bytes, so it can write every string, and merges
#   the most frequent adjacent pair again and again; each merge shortens the training
#   text by the number of pairs it replaced.
# - A regular expression cuts the text into chunks before merging, so tokens do not run
#   across words and punctuation; GPT-2's keeps a word's leading space with it.
# - With GPT-2's two files, the course's tokenizer gives exactly GPT-2's
#   {glue:text}`n_gpt2_ids` ids on Tiny Shakespeare, as tiktoken and Hugging Face do.
# - The tokenizer is a cost paid forever: other scripts take several times as many
#   tokens as English, numbers are cut irregularly, a trailing space leaves the model
#   where it has hardly been.
# - Training batches are random windows of $T + 1$ ids: the input and the same window
#   moved one step on; an embedding table turns each id into a vector, a lookup that
#   equals a one-hot product.
#
# ## Exercises
#
# In {doc}`the exercise notebook <../exercises/solutions/03_tokenisation>` (and
# `exercises/03_tokenisation.ipynb` to work through in JupyterLab):
#
# - **Exercise 3-1** (warm-up): GPT-2's tokens per character for a Chinese poem and
#   its English translation, and why they differ.
# - **Exercise 3-2** (core): train byte-level BPE end to end, from bytes to a merge
#   table.
# - **Exercise 3-3** (core): encode with your merges, lowest rank first, and measure
#   how much they compress text they were learnt from and text they were not.
# - **Exercise 3-4** (stretch): add special tokens to an encoder.
# - **Exercise 3-5** (written): why GPT-2 keeps the space before a word.
#
# ## Further reading
#
# - {cite:t}`gage1994new` invented byte-pair encoding as a compression algorithm;
#   {cite:t}`sennrich2016neural` turned it into a way to cut words for translation.
# - {cite:t}`radford2019language`, section 2.2, explains byte-level BPE and why GPT-2
#   forbids merges across character categories.
# - {cite:t}`kudo2018sentencepiece` describe SentencePiece, which treats the text as a
#   raw stream (spaces included) and is the tokenizer of many multilingual models.
# - {cite:t}`petrov2023language` measure how much more some languages pay for the same
#   text under common tokenizers.
# - {cite:t}`touvron2023llama` list LLaMA's tokenizer choices: BPE with SentencePiece,
#   numbers split into digits, unknown characters decomposed into bytes.
