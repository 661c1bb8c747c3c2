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
# what is wrong, if anything.

# %%
import math

from gptcourse.checks import ch01 as check

# %% [markdown]
# ```{exercise} Perplexity of a uniform model
# :label: ex-01-uniform-perplexity
#
# A model that knows nothing gives each of the $V$ tokens of its vocabulary the same
# probability, $1/V$, at every step. Write `uniform_perplexity(vocab_size)`, which
# returns the perplexity of such a model on any text, as a float. Then use it to say how
# many choices a model that knows nothing faces with GPT-2's vocabulary of 50,257 tokens.
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
    """Perplexity of a model that gives each of ``vocab_size`` tokens probability 1/V."""
    # BEGIN SOLUTION
    cross_entropy = -math.log(1 / vocab_size)
    return math.exp(cross_entropy)
    # END SOLUTION


check.uniform_perplexity(uniform_perplexity)
print(f"GPT-2's vocabulary: {uniform_perplexity(50_257):,.0f} choices per token")

# %% [markdown]
# ```{solution-end}
# ```
