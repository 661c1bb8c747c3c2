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
# what is wrong, if anything. Together, exercises 2.1 to 2.3 rebuild the heart of a
# byte-level BPE tokenizer; exercise 2.4 adds special tokens to it.

# %%
import re

from gptcourse.bpe import BPETokenizer
from gptcourse.checks import ch03 as check

# %% [markdown]
# ```{exercise} Count the pairs
# :label: ex-03-count-pairs
#
# BPE training starts by counting, in a sequence of token ids, how often each pair of
# adjacent ids occurs. Write `count_pairs(ids)`, which returns a dict that maps each
# pair `(a, b)` (a tuple) to its number of occurrences. Overlapping pairs all count:
# `[5, 5, 5]` holds the pair `(5, 5)` twice.
# ```

# %% [markdown]
# ```{solution-start} ex-03-count-pairs
# :class: dropdown
# ```

# %% [markdown]
# A sequence of $n$ ids has $n - 1$ adjacent pairs, `(ids[i], ids[i + 1])`;
# `zip(ids, ids[1:])` (or `itertools.pairwise(ids)`) walks through them, and a dict
# counts them.


# %%
def count_pairs(ids: list[int]) -> dict[tuple[int, int], int]:
    """How often each pair of adjacent ids occurs in ``ids``."""
    # BEGIN SOLUTION
    counts: dict[tuple[int, int], int] = {}
    for pair in zip(ids, ids[1:], strict=False):
        counts[pair] = counts.get(pair, 0) + 1
    return counts
    # END SOLUTION


check.count_pairs(count_pairs)
counts = count_pairs(list(b"to be or not to be"))
top = max(counts, key=counts.get)
print(f"most frequent pair: {top} = {bytes(top)!r}, {counts[top]} times")

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} One merge step
# :label: ex-03-merge
#
# Write `merge(ids, pair, new_id)`, which returns a new list where every occurrence of
# `pair` in `ids`, read from left to right, is replaced by the single id `new_id`. The
# occurrences do not overlap: `merge([5, 5, 5], (5, 5), 9)` is `[9, 5]`. Leave the
# list you are given unchanged.
# ```

# %% [markdown]
# ```{solution-start} ex-03-merge
# :class: dropdown
# ```

# %% [markdown]
# Walk through the ids with an index: where the pair starts, emit the new id and jump
# two places; elsewhere, copy one id and move one place. The test `i < len(ids) - 1`
# keeps the last id from being read as the start of a pair.


# %%
def merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """``ids`` with each ``pair`` replaced by ``new_id``, from left to right."""
    # BEGIN SOLUTION
    out = []
    i = 0
    while i < len(ids):
        if i < len(ids) - 1 and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out
    # END SOLUTION


check.merge(merge)
print(merge(list(b"aaabdaaabac"), (97, 97), 256))

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Encode with a merge table
# :label: ex-03-encode
#
# A trained BPE tokenizer is a merge table: `merges[(a, b)] = new_id`, where the
# merges learnt first have the lowest new ids. Write `encode_with_merges(text, merges)`,
# which encodes `text` (without pre-tokenisation): start from its UTF-8 bytes, then,
# as long as some adjacent pair is in the table, merge the pair whose new id is the
# lowest. You may use your `merge` from exercise 2.2.
# ```

# %% [markdown]
# ```{solution-start} ex-03-encode
# :class: dropdown
# ```

# %% [markdown]
# The lowest new id is the merge that training learnt first, so it is applied first,
# as during training. Pairs that are not in the table get the rank infinity, so `min`
# picks a pair of the table whenever there is one.


# %%
def encode_with_merges(text: str, merges: dict[tuple[int, int], int]) -> list[int]:
    """``text`` as token ids: its UTF-8 bytes, merged by the table, earliest first."""
    # BEGIN SOLUTION
    ids = list(text.encode("utf-8"))
    while len(ids) >= 2:
        pair = min(
            zip(ids, ids[1:], strict=False), key=lambda p: merges.get(p, float("inf"))
        )
        if pair not in merges:
            break
        ids = merge(ids, pair, merges[pair])
    return ids
    # END SOLUTION


check.encode_with_merges(encode_with_merges)
toy = BPETokenizer.train("the cat sat on the mat " * 10, vocab_size=270, pattern=None)
table = {pair: 256 + k for k, pair in enumerate(toy.merges)}
ids = encode_with_merges("the rat sat on the hat", table)
print(ids)
print([toy.decode([i]) for i in ids])

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Special tokens
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
# ```{exercise} Why a leading space?
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
