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
# # Exercises: assembling a GPT
#
# Each exercise asks for a function (or a class) and then checks it: the last line of
# its cell calls a check from `gptcourse.checks`, which runs your code on several inputs
# and says what is wrong, if anything.

# %%
import torch
from torch import nn

from gptcourse.attention import CausalSelfAttention
from gptcourse.checks import ch07 as check
from gptcourse.transformer import MLP

# %% [markdown]
# ```{exercise} Count the parameters by hand (warm-up)
# :label: ex-07-parameters
#
# Write `gpt_parameters(n_layer, n_embd, vocab_size, block_size)`, the number of
# parameters of a GPT-2-style model: learned position embeddings, biases in every
# linear layer and layer norm, pre-LN blocks with a final layer norm, and the output
# layer tied to the token embedding. Derive it from the shapes of the weights, without
# building a model and without `gptcourse.model.count_parameters`. GPT-2 small
# (`gpt_parameters(12, 768, 50257, 1024)`) has 124,439,808.
# ```

# %% [markdown]
# ```{solution-start} ex-07-parameters
# :class: dropdown
# ```

# %% [markdown]
# Per block: the attention's $C \to 3C$ and $C \to C$ projections ($4C^2 + 4C$), the
# MLP's $C \to 4C \to C$ ($8C^2 + 5C$) and two layer norms ($4C$): $12C^2 + 13C$. Then
# the token table $VC$ (once, being tied), the position table and the final layer norm.


# %%
def gpt_parameters(
    n_layer: int, n_embd: int, vocab_size: int, block_size: int
) -> int:
    """The parameters of a GPT-2-style model with these sizes."""
    # BEGIN SOLUTION
    C = n_embd
    attention = (C * 3 * C + 3 * C) + (C * C + C)
    mlp = (C * 4 * C + 4 * C) + (4 * C * C + C)
    layer_norms = 2 * (2 * C)
    per_block = attention + mlp + layer_norms  # 12 C^2 + 13 C
    embeddings = (vocab_size + block_size) * C  # the head is tied: counted once
    return n_layer * per_block + embeddings + 2 * C  # + the final layer norm
    # END SOLUTION


check.gpt_parameters(gpt_parameters)
print(f"GPT-2 small: {gpt_parameters(12, 768, 50257, 1024):,}")

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} The FLOPs of a forward pass (medium)
# :label: ex-07-flops
#
# Write `forward_flops(n_layer, n_embd, vocab_size, seq_len)`: the floating-point
# operations of the matrix products in one forward pass of a GPT over one sequence of
# `seq_len` tokens, counting a multiply-add as 2 and attention's products over the full
# $T \times T$ scores (as PyTorch's `FlopCounterMode` counts them). Leave out biases,
# layer norms, softmax and the embedding lookups. Then check your formula, not only
# against the check, but against `FlopCounterMode` on a small `GPT` of your own.
# ```

# %% [markdown]
# ```{solution-start} ex-07-flops
# :class: dropdown
# ```

# %% [markdown]
# Each token meets every weight matrix once: $2(12LC^2 + VC)$ FLOPs, the $VC$ being the
# head. Attention multiplies a query by $T$ keys and $T$ weights by values: $4TC$ per
# layer and token. The sequence has $T$ tokens.


# %%
def forward_flops(n_layer: int, n_embd: int, vocab_size: int, seq_len: int) -> int:
    """FLOPs of the matrix products of one forward pass over seq_len tokens."""
    # BEGIN SOLUTION
    L, C, T = n_layer, n_embd, seq_len
    weights = 12 * L * C * C + vocab_size * C  # the blocks' matrices and the head
    per_token = 2 * weights + 4 * L * T * C  # + scores and weighted sums
    return T * per_token
    # END SOLUTION


check.forward_flops(forward_flops)

# %% [markdown]
# Against PyTorch's counter, with attention run as plain matrix products so that the
# counter sees them:

# %%
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from gptcourse.model import GPT, GPTConfig

config = GPTConfig(vocab_size=65, block_size=16, n_layer=2, n_head=2, n_embd=32)
idx = torch.randint(65, (1, 16), generator=torch.Generator().manual_seed(0))
with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
    GPT(config)(idx)
assert counter.get_total_flops() == forward_flops(2, 32, 65, 16)
print(f"{counter.get_total_flops():,} FLOPs, as counted by PyTorch")

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} A post-LN block (medium)
# :label: ex-07-post-ln
#
# Complete `PostLNBlock`, the block of the original Transformer: it normalises *after*
# each residual addition, $x \leftarrow \mathrm{LN}_1(x + \mathrm{Attn}(x))$, then
# $x \leftarrow \mathrm{LN}_2(x + \mathrm{MLP}(x))$. Its parts have the names of
# `gptcourse.transformer.Block`, so the check loads the weights of the package's
# `Block(norm_first=False)` into yours and compares the outputs.
# ```

# %% [markdown]
# ```{solution-start} ex-07-post-ln
# :class: dropdown
# ```

# %% [markdown]
# Each sublayer reads the (already normalised) stream itself, its output is added, and
# the sum is normalised.


# %%
class PostLNBlock(nn.Module):
    def __init__(self, n_embd: int, n_head: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = MLP(n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, T, C)."""
        # BEGIN SOLUTION
        x = self.ln_1(x + self.attn(x))
        return self.ln_2(x + self.mlp(x))
        # END SOLUTION


check.post_ln_block(PostLNBlock)

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Why 2L? (stretch)
# :label: ex-07-two-l
#
# GPT-2 initialises the two projections that write into the residual stream with
# standard deviation $0.02/\sqrt{2L}$ for $L$ blocks. Where does the factor 2 come from?
# What would the variance that the branches add to the stream be, after $L$ blocks,
# with $0.02/\sqrt{L}$ instead, and with no scaling? Check your answer by measuring, as
# the chapter does, the residual stream's standard deviation after the last block of
# models of 12 and 48 layers.
# ```

# %% [markdown]
# ```{solution} ex-07-two-l
# :class: dropdown
#
# Each block has *two* residual branches, the attention and the MLP, each ending with
# one of those projections: $L$ blocks add $2L$ terms to the stream. If each adds
# variance $s^2$ when unscaled, scaling its last weight by $a$ scales its variance by
# $a^2$, so the branches add $2L s^2$ with no scaling (growing with depth),
# $2L s^2 / (2L) = s^2$ with $1/\sqrt{2L}$ (independent of depth), and
# $2L s^2 / L = 2 s^2$ with $1/\sqrt{L}$: also independent of depth, only twice as
# large. What matters is the $1/\sqrt{\text{depth}}$; the 2 makes the total equal one
# branch's. (The terms are only roughly independent, and the layer norms see the
# growing stream, so the measured numbers follow these ratios approximately.)
# ```
