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
# # Exercises: neural language models, and why RNNs struggled
#
# Each exercise asks for a function and then checks it: the last line of its cell calls
# a check from `gptcourse.checks`, which runs your function on several inputs and says
# what is wrong, if anything. They go from a warm-up to a stretch.

# %%
import math

import torch

from gptcourse import data
from gptcourse.batches import train_val_split
from gptcourse.bigram import BigramLanguageModel, CountBigramModel
from gptcourse.char_tokenizer import CharTokenizer
from gptcourse.checks import ch02 as check

text = data.load_text("tinyshakespeare")
tokenizer = CharTokenizer.from_text(text)
train, val = train_val_split(torch.tensor(tokenizer.encode(text)), val_fraction=0.1)

# %% [markdown]
# ```{exercise} The learning-rate schedule as a formula (warm-up)
# :label: ex-02-schedule
#
# The chapter plotted `gptcourse.optim.warmup_cosine`, which chains two of PyTorch's
# schedulers: {py:class}`torch.optim.lr_scheduler.LinearLR` with
# `start_factor=1 / warmup_steps` over `warmup_steps` steps, then
# {py:class}`torch.optim.lr_scheduler.CosineAnnealingLR` over the remaining
# `max_steps - warmup_steps` steps, down to `min_lr_ratio * max_lr`. Read their
# documentation and write `warmup_cosine_lr(step, max_lr, warmup_steps, max_steps,
# min_lr_ratio)`, the learning rate at `step` (0 to `max_steps`) as a closed formula,
# without any scheduler. The cell then prints the schedule of a GPT-2-like run.
# ```

# %% [markdown]
# ```{solution-start} ex-02-schedule
# :class: dropdown
# ```

# %% [markdown]
# `LinearLR` multiplies the learning rate by a factor that moves in equal steps from
# `start_factor` $= 1/W$ at step 0 to 1 at step $W$: $1/W + (1 - 1/W)\, s / W$. From
# step $W$ on, `CosineAnnealingLR` follows half a cosine from the peak to the minimum
# over $S - W$ steps:
# $\eta_\min + (\eta_\max - \eta_\min)\,(1 + \cos(\pi (s - W) / (S - W))) / 2$.


# %%
def warmup_cosine_lr(
    step: int, max_lr: float, warmup_steps: int, max_steps: int, min_lr_ratio: float
) -> float:
    """The learning rate of warmup_cosine at `step`, from the formula."""
    # BEGIN SOLUTION
    if step < warmup_steps:
        start = 1 / warmup_steps
        return max_lr * (start + (1 - start) * step / warmup_steps)
    progress = (step - warmup_steps) / (max_steps - warmup_steps)  # 0 -> 1
    low = min_lr_ratio * max_lr
    return low + (max_lr - low) * (1 + math.cos(math.pi * progress)) / 2
    # END SOLUTION


check.warmup_cosine_lr(warmup_cosine_lr)

for step in (0, 1_000, 2_000, 300_000, 600_000):
    lr = warmup_cosine_lr(step, 6e-4, 2_000, 600_000, 0.1)
    print(f"step {step:>7,}: learning rate {lr:.2e}")

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} How far a stack of convolutions sees (medium)
# :label: ex-02-receptive-field
#
# A causal convolution of width $k$ and dilation $d$ computes position $t$ from
# positions $t, t - d, \dots, t - (k - 1) d$. Write
# `receptive_field(kernel_sizes, dilations)`, which returns how many consecutive
# inputs the last output of a stack of such layers depends on (layer $l$ has width
# `kernel_sizes[l]` and dilation `dilations[l]`). The check compares it with a
# measurement by autograd. The cell then asks how many layers of width 3 let a model
# see 1,024 tokens back, without and with dilations that double from layer to layer,
# and compares with one layer of self-attention.
# ```

# %% [markdown]
# ```{solution-start} ex-02-receptive-field
# :class: dropdown
# ```

# %% [markdown]
# The output sees its own position, and each layer adds $(k - 1)\, d$ positions further
# back: $1 + \sum_l (k_l - 1)\, d_l$. Without dilation the field grows linearly with
# depth, $O(n/k)$ layers for a context of $n$; with dilations $1, 2, 4, \dots$ it
# doubles per layer, $O(\log n)$ layers; self-attention reaches everything in one.


# %%
def receptive_field(kernel_sizes: list[int], dilations: list[int]) -> int:
    """How many consecutive inputs the last output of the stack depends on."""
    # BEGIN SOLUTION
    return 1 + sum((k - 1) * d for k, d in zip(kernel_sizes, dilations, strict=True))
    # END SOLUTION


check.receptive_field(receptive_field)

n = 1024
flat = next(L for L in range(1, 2 * n) if receptive_field([3] * L, [1] * L) >= n)
doubling = next(
    L for L in range(1, 64) if receptive_field([3] * L, [2**i for i in range(L)]) >= n
)
print(f"layers of width 3 to see {n:,} tokens: {flat} contiguous, {doubling} dilated")
print("layers of self-attention: 1")

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} The optimum of a neural bigram, without training (medium)
# :label: ex-02-optimal-logits
#
# The chapter trained a neural bigram, a $V \times V$ table of logits, and found that
# its training loss approaches the counted model's but never goes below it. Write
# `optimal_bigram_logits(ids, vocab_size)`, which returns a $V \times V$ table of
# logits whose training loss on `ids` is the smallest possible, with no training at
# all. Rows of tokens that never occur as a current token must still give a
# distribution (their softmax may not be NaN). The cell then puts your logits into the
# package's `BigramLanguageModel` and measures it.
# ```

# %% [markdown]
# ```{solution-start} ex-02-optimal-logits
# :class: dropdown
# ```

# %% [markdown]
# The softmax of a row is its distribution of the next token, and the best
# distribution on the training text is the counted one, $N_{ij} / \sum_k N_{ik}$. Its
# logarithm is a set of logits with exactly that softmax (adding any constant to a row
# changes nothing, so the log of the counts works too). Pairs never seen get
# $\log 0 = -\infty$, a probability of exactly 0, which gradient descent can only
# approach: that is why the trained model stays a little above the counted one. A row
# that is never used gets zeros, the uniform distribution.
#
# The cell's last line shows the price: on the validation text, where some pairs never
# seen in training occur, the loss of these logits is infinite. The best fit to the
# training text is not the best model; smoothing, or a model that generalises, is.


# %%
def optimal_bigram_logits(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """(V, V) logits with the smallest possible training loss on ids (N,)."""
    # BEGIN SOLUTION
    counts = torch.zeros(vocab_size, vocab_size, dtype=torch.float64)
    ones = torch.ones(len(ids) - 1, dtype=torch.float64)
    counts.index_put_((ids[:-1], ids[1:]), ones, accumulate=True)
    logits = counts.log()  # log N_ij: a row constant away from log p(j | i)
    logits[counts.sum(dim=1) == 0] = 0.0  # rows never used: uniform
    return logits
    # END SOLUTION


check.optimal_bigram_logits(optimal_bigram_logits)

V = tokenizer.vocab_size
model = BigramLanguageModel(V)
with torch.no_grad():
    model.token_logits.weight.copy_(optimal_bigram_logits(train, V))
counted = CountBigramModel.from_ids(train, V, alpha=0.0)
xs, ys = train[None, :-1], train[None, 1:]
best, by_counting = model(xs, ys)[1].item(), counted(xs, ys)[1].item()
assert math.isclose(best, by_counting, rel_tol=1e-5)
print(f"training loss of the optimal logits: {best:.4f} = counted (alpha = 0)")
print(f"its validation loss: {model(val[None, :-1], val[None, 1:])[1].item():.4f}")

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Vanishing and exploding gradients in an RNN (stretch)
# :label: ex-02-rnn-gradients
#
# A recurrent network updates its hidden state with $h_s = \tanh(W h_{s-1} + U x_s)$.
# You get its recurrent weights `W`, shape `(H, H)`, and its states `hs`, shape
# `(T + 1, H)`, where `hs[0]` is the initial state and `hs[s]` is $h_s$. Write
# `rnn_jacobian_norms(W, hs)`, which returns a tensor of shape `(T + 1,)` whose entry
# `d` is the spectral norm $\lVert \partial h_T / \partial h_{T-d} \rVert_2$
# (`torch.linalg.matrix_norm(J, ord=2)`), for $d = 0, \dots, T$, by the chain rule,
# without autograd. Work out $J_s = \partial h_s / \partial h_{s-1}$ yourself. The cell
# then compares a small and a large spectral radius of $W$.
# ```

# %% [markdown]
# ```{solution-start} ex-02-rnn-gradients
# :class: dropdown
# ```

# %% [markdown]
# The derivative of $\tanh(z)$ is $1 - \tanh^2(z)$, so
# $J_s = \mathrm{diag}(1 - h_s^2)\, W$, and
# $\partial h_T / \partial h_t = J_T J_{T-1} \cdots J_{t+1}$. Walk back from $h_T$,
# multiplying one Jacobian per step onto the right of the product so far. At distance
# 0 the product is the identity, whose norm is 1. A spectral radius below 1 (with
# tanh's derivative at most 1) makes the norms fall exponentially; a large one makes
# them grow.


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
    print(
        f"spectral radius {rho}: norm 10^{at_1:.1f} at distance 1, 10^{at_40:.1f} at 40"
    )

# %% [markdown]
# ```{solution-end}
# ```
