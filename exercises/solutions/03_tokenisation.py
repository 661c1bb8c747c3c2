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
# # Exercises: tokenisation
#
# Each exercise asks for a function and then checks it: the last line of its cell calls
# a check from `gptcourse.checks`, which runs your function on several inputs and says
# what is wrong, if anything. They go from a warm-up to a stretch: measure what GPT-2's
# tokenizer costs in Chinese, train your own BPE end to end and measure how much it
# compresses, then add special tokens to an encoder.

# %%
import re

from gptcourse import batches, data
from gptcourse.bpe import BPETokenizer
from gptcourse.checks import ch03 as check
from gptcourse.gpt2_tokenizer import load_gpt2_tokenizer

gpt2 = load_gpt2_tokenizer()

# %% [markdown]
# ```{exercise} Tokens per character in Chinese (warm-up)
# :label: ex-03-tokens-per-char
#
# Write `tokens_per_char(encode, text)`: the number of tokens `encode(text)` returns,
# per character of `text`. Then use it with GPT-2's tokenizer on a Chinese poem and on
# an English translation of it (the cell prints both), and explain the difference:
# why can a Chinese text take *more* than one token per character, when English takes
# far fewer?
# ```

# %% [markdown]
# ```{solution-start} ex-03-tokens-per-char
# :class: dropdown
# ```

# %% [markdown]
# Count the tokens, count the characters (`len` of a `str` counts code points, not
# bytes), divide.


# %%
def tokens_per_char(encode, text: str) -> float:
    """``len(encode(text)) / len(text)``: tokens spent per character."""
    # BEGIN SOLUTION
    return len(encode(text)) / len(text)
    # END SOLUTION


check.tokens_per_char(tokens_per_char)
poem = (
    "床前明月光，疑是地上霜。举头望明月，低头思故乡。"  # Li Bai, Quiet Night Thought
)
english = (
    "Before my bed, the bright moonlight; I wonder if it is frost on the ground. "
    "I raise my head to gaze at the bright moon, and lower it, thinking of home."
)
for name, sample in [("Chinese", poem), ("English", english)]:
    n_bytes = len(sample.encode("utf-8")) / len(sample)
    print(
        f"{name}: {len(sample)} characters, {n_bytes:.1f} bytes per character, "
        f"{tokens_per_char(gpt2.encode, sample):.2f} GPT-2 tokens per character"
    )

# %% [markdown]
# The Chinese characters are each three UTF-8 bytes, and GPT-2's 50,000 merges, learnt
# on English web pages, joined few of those bytes into whole characters: a byte-level
# BPE falls back to single bytes for what it rarely saw, so a character costs one to
# three tokens. English letters are one byte each, and common English words are one
# token with their space: several characters per token. Per character of meaning the
# comparison is harsher still, since one Chinese character carries about as much as a
# short English word. The consequence: GPT-2's 1,024-token context holds a much
# shorter Chinese text than an English one, and each Chinese sentence costs more
# compute.

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Train BPE end to end (core)
# :label: ex-03-train-bpe
#
# Write `train_bpe(text, vocab_size)`, byte-level BPE training without
# pre-tokenisation: start from the UTF-8 bytes of `text`, and learn
# `vocab_size - 256` merges. Each merge counts every adjacent pair of the current
# sequence, takes the most frequent one (when several are equally frequent, the
# smallest pair, so that the result never depends on chance), records it, and
# replaces it in the sequence, from left to right, by the new id `256 + k` for merge
# `k`. Return the list of merged pairs `(a, b)`, in the order learnt. The cell then
# trains on the first 20,000 characters of Shakespeare.
# ```

# %% [markdown]
# ```{solution-start} ex-03-train-bpe
# :class: dropdown
# ```

# %% [markdown]
# Two small steps, repeated: count the pairs with `zip(ids, ids[1:])`, merge the best
# one. `min` over `(-count, pair)` picks the largest count, and among equal counts the
# smallest pair.


# %%
def train_bpe(text: str, vocab_size: int) -> list[tuple[int, int]]:
    """The merges byte-level BPE learns from ``text``; merge k creates id 256 + k."""
    # BEGIN SOLUTION
    ids = list(text.encode("utf-8"))
    merges = []
    for k in range(vocab_size - 256):
        counts: dict[tuple[int, int], int] = {}
        for pair in zip(ids, ids[1:], strict=False):
            counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            break
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        merges.append(best)
        out, i = [], 0
        while i < len(ids):
            if i < len(ids) - 1 and (ids[i], ids[i + 1]) == best:
                out.append(256 + k)
                i += 2
            else:
                out.append(ids[i])
                i += 1
        ids = out
    return merges
    # END SOLUTION


check.train_bpe(train_bpe)
text = data.load_text("tinyshakespeare")
train_text, val_text = batches.split_text(text, 0.1)
my_merges = train_bpe(train_text[:20_000], vocab_size=400)
mine = BPETokenizer(my_merges, pattern=None)
print(
    "the last five tokens learnt:", [mine.decode([256 + k]) for k in range(139, 144)]
)

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Encode with your merges, and measure compression (core)
# :label: ex-03-encode
#
# A trained BPE tokenizer is a merge table: `merges[(a, b)] = new_id`, where the
# merges learnt first have the lowest new ids. Write `encode_with_merges(text, merges)`,
# which encodes `text` (without pre-tokenisation): start from its UTF-8 bytes, then,
# as long as some adjacent pair is in the table, merge the pair whose new id is the
# lowest. The cell then encodes text with the merges you learnt in Exercise 3-2 and
# prints how many characters a token carries, on the text the merges were learnt from
# and on the held-out text. Why do the two differ?
# ```

# %% [markdown]
# ```{solution-start} ex-03-encode
# :class: dropdown
# ```

# %% [markdown]
# The lowest new id is the merge that training learnt first, so it is applied first,
# as during training. Pairs that are not in the table get the rank infinity, so `min`
# picks a pair of the table whenever there is one. The held-out text compresses less:
# the merges were chosen to shorten the text they were learnt from, and part of them
# (names, words of that one scene) are rare elsewhere, while the held-out play brings
# words and names that the merges never saw, which fall back to shorter pieces.


# %%
def encode_with_merges(text: str, merges: dict[tuple[int, int], int]) -> list[int]:
    """``text`` as token ids: its UTF-8 bytes, merged by the table, earliest first."""
    # BEGIN SOLUTION
    ids = list(text.encode("utf-8"))
    while len(ids) >= 2:
        pairs = zip(ids, ids[1:], strict=False)
        pair = min(pairs, key=lambda p: merges.get(p, float("inf")))
        if pair not in merges:
            break
        out, i = [], 0  # replace the pair, left to right
        while i < len(ids):
            if i < len(ids) - 1 and (ids[i], ids[i + 1]) == pair:
                out.append(merges[pair])
                i += 2
            else:
                out.append(ids[i])
                i += 1
        ids = out
    return ids
    # END SOLUTION


check.encode_with_merges(encode_with_merges)
table = {pair: 256 + k for k, pair in enumerate(my_merges)}
for name, sample in [
    ("learnt from", train_text[:20_000]),
    ("held out", val_text[:20_000]),
]:
    n_tokens = len(encode_with_merges(sample, table))
    print(f"{name:<11}: {len(sample) / n_tokens:.2f} characters per token")

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Special tokens (stretch)
# :label: ex-03-specials
#
# Special tokens, such as `<|endoftext|>`, are strings that an encoder turns into one
# reserved id instead of encoding them as ordinary text. Write
# `encode_with_specials(text, encode, special_tokens)`: `encode` is a function that
# encodes ordinary text into ids, and `special_tokens` maps each special string to
# its id. Cut `text` at every special string, encode the pieces between them with
# `encode`, and put each special token's id where its string was.
# ```

# %% [markdown]
# ```{solution-start} ex-03-specials
# :class: dropdown
# ```

# %% [markdown]
# `re.split` with a capturing group keeps the separators it cuts at, so the pieces
# alternate between ordinary text and special strings. The special strings are
# escaped (`|` is special in a regular expression) and the longest is tried first,
# in case one special token starts with another.


# %%
def encode_with_specials(
    text: str, encode, special_tokens: dict[str, int]
) -> list[int]:
    """``text`` as ids, with each special-token string replaced by its id."""
    # BEGIN SOLUTION
    longest_first = sorted(special_tokens, key=len, reverse=True)
    pattern = "(" + "|".join(re.escape(s) for s in longest_first) + ")"
    ids = []
    for piece in re.split(pattern, text):
        if piece in special_tokens:
            ids.append(special_tokens[piece])
        elif piece:
            ids.extend(encode(piece))
    return ids
    # END SOLUTION


check.encode_with_specials(encode_with_specials)
tok = BPETokenizer.train("The end. Once upon a time. " * 20, vocab_size=270)
print(
    encode_with_specials(
        "The end.<|endoftext|>Once", tok.encode, {"<|endoftext|>": 270}
    )
)

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Why a leading space? (written)
# :label: ex-03-leading-space
#
# GPT-2's pre-tokenisation keeps the space before a word with the word (`" the"`),
# not after it (`"the "`). Encode `"the"`, `" the"` and `"The"` with GPT-2's tokenizer
# (`gptcourse.gpt2_tokenizer.load_gpt2_tokenizer()`) and explain what this choice means
# for a model that writes text one token at a time.
# ```

# %% [markdown]
# ```{solution} ex-03-leading-space
# :class: dropdown
#
# The three are different tokens (`"the"` is 1169, `" the"` is 262, `"The"` is 464):
# a word inside a sentence is one token that includes its space, so a sentence of
# common words costs about one token per word, not two. When the model writes, the
# decision "a new word starts here" and the choice of the word are one prediction
# (the next token starts with a space), and the end of a word needs no token of its
# own: the model simply continues with a token without a leading space (`"ing"`,
# `","`). The price is that the same word has several tokens (with and without space,
# capitalised or not), which the model must learn to relate.
# ```
