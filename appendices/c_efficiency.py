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
# # Appendix C: Efficiency: smaller, faster, bigger
#
# A trained model can be made smaller, by teaching a smaller one to imitate it or by
# removing weights; cheaper to store, by keeping its weights in 8 bits; and its cost as
# it grows can be predicted from a formula. This appendix does each of the four to the
# character model of {doc}`../chapters/09_pretraining`, and measures what it gains and
# what it loses.
#
# ```{admonition} What you will be able to do
# - train a small student on a teacher's probabilities with
#   `gptcourse.distill.DistillationObjective`, and compare it with the same student
#   trained on the data alone;
# - prune a model's smallest weights with `gptcourse.prune.magnitude_prune`, and read
#   off how much sparsity it tolerates;
# - quantise a model's weights to int8 with `gptcourse.quantize.quantize_int8`, and
#   compute its size exactly;
# - predict the FLOPs of a GPT layer as the sequence and the width grow, and check the
#   prediction against PyTorch's counter and a clock;
# - explain what FlashAttention changes in a layer's memory, and what it does not
#   change in its arithmetic.
# ```

# %%
import copy
import math
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.ticker import NullLocator
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from gptcourse import plotting
from gptcourse.attention import MultiHeadAttention
from gptcourse.corpus import BatchStream, Corpus
from gptcourse.distill import (
    DistillationObjective,
    distillation_loss,
    with_teacher_logits,
)
from gptcourse.glue import glue
from gptcourse.model import GPT, GPTConfig
from gptcourse.prune import magnitude_prune, prunable_weights, sparsity
from gptcourse.quantize import Int8Linear, model_bytes, quantize_int8
from gptcourse.train_config import get_config
from gptcourse.trainer import Trainer
from gptcourse.training import estimate_loss, train
from gptcourse.transformer import Block

# Models this small train fastest on one thread: more only add synchronisation.
torch.set_num_threads(1)

# %% [markdown]
# ## The teacher
#
# The model of this appendix is chapter 9's run `shakespeare-char-cpu` (3 layers, 4
# heads, width 96, context 64) on Tiny Shakespeare's characters, trained for 300 of its
# 800 steps to keep the page fast. Every loss below is measured the same way, on the
# same 4 batches of 32 windows of the validation text. The training cell's output is
# this machine's: on another CPU the run drifts apart in the last digits.

# %% tags=["nbval-ignore-output"]
corpus = Corpus.load("tinyshakespeare", tokenizer="char")
V = corpus.vocab_size


def val_loss(model: torch.nn.Module) -> float:
    """Mean loss on 4 fixed batches of 32 validation windows of 64 characters."""
    return estimate_loss(model, corpus.val, batch_size=32, block_size=64, num_batches=4)


config = get_config(
    "shakespeare-char-cpu",
    max_steps=300,
    eval_interval=0,
    sample_interval=0,
    sample_tokens=0,
    progress=False,
)
trainer = Trainer(config, corpus=corpus)
result = trainer.fit()
teacher = trainer.model.eval()
teacher_loss = val_loss(teacher)
print(
    f"teacher: {teacher.num_params():,} parameters, validation loss {teacher_loss:.3f}"
)
print(f"{result.time_s:.0f} s on this machine")
glue("teacher_loss", f"{teacher_loss:.2f}")
params = glue("teacher_params", f"{teacher.num_params():,}")

# %% [markdown]
# The teacher has {glue:text}`teacher_params` parameters and a validation loss of
# {glue:text}`teacher_loss` nats per character. What every CPU reproduces:

# %%
assert 2.0 < teacher_loss < 2.6 < math.log(V)
print("teacher's validation loss: between 2.0 and 2.6 nats, far below ln 65 = 4.17")

# %% [markdown]
# ## Can a small model learn more from a teacher than from the data?
#
# The data says, at each position, which character came next; the teacher says how
# likely *every* character was. {term}`Knowledge distillation <knowledge distillation>`
# {cite:p}`hinton2015distilling` trains a smaller student to match the teacher's
# probabilities, both softened by a temperature $\tau$:
#
# $$
# \mathcal{L}_\text{soft} = \frac{\tau^2}{N} \sum_{\text{positions}}
# \mathrm{KL}\big(\mathrm{softmax}(z_t / \tau) \,\big\|\,
# \mathrm{softmax}(z_s / \tau)\big),
# $$
#
# where $z_t$ and $z_s$ are the teacher's and the student's logits; the factor $\tau^2$
# keeps the gradient's size independent of $\tau$. The student minimises
# $\alpha \mathcal{L}_\text{soft} + (1 - \alpha) \mathcal{L}_\text{data}$. The formula,
# written out, against `gptcourse.distill.distillation_loss`:

# %%
g = torch.Generator().manual_seed(0)
z_s, z_t = torch.randn(4, 10, V, generator=g), torch.randn(4, 10, V, generator=g)
for tau in (1.0, 2.0, 4.0):
    p_t = F.softmax(z_t / tau, dim=-1)  # (4, 10, V)
    kl = (p_t * (p_t.log() - F.log_softmax(z_s / tau, dim=-1))).sum(-1).mean()
    torch.testing.assert_close(distillation_loss(z_s, z_t, tau), tau**2 * kl)
print(
    "tau^2 KL(teacher || student), by hand and by the package: equal for tau = 1, 2, 4"
)

# %% [markdown]
# The students are GPTs of one layer and two heads, of width 16, 32 and 48: from 10 to
# 64 times smaller than the teacher (counted below). Each is trained twice, from the
# same initialisation, for the same 150 steps on the same 40 batches of 16 windows: once
# on the data alone ($\alpha = 0$, the ordinary cross-entropy), once on the teacher's
# probabilities alone ($\alpha = 1$, $\tau = 1$). The teacher runs once per batch,
# before any student trains (`gptcourse.distill.with_teacher_logits`), and the course's
# one training loop takes the objective as its `loss_fn`. The losses are this
# machine's.

# %% tags=["nbval-ignore-output"]
stream = BatchStream(corpus.train, 16, 64, seed=1)
batches = with_teacher_logits(teacher, [stream.next() for _ in range(40)])


def train_student(width: int, objective: DistillationObjective) -> tuple[int, float]:
    """A fresh 1-layer student trained for 150 steps; its parameters and loss."""
    torch.manual_seed(0)
    student = GPT(
        GPTConfig(vocab_size=V, block_size=64, n_layer=1, n_head=2, n_embd=width)
    )
    optimizer = torch.optim.AdamW(student.parameters(), lr=3e-3)
    steps = iter(range(150))
    next_batch = lambda: batches[next(steps) % len(batches)]  # noqa: E731
    train(student, optimizer, next_batch, 150, loss_fn=objective)
    return student.num_params(), val_loss(student)


widths = (16, 32, 48)
on_data = {w: train_student(w, DistillationObjective(alpha=0.0)) for w in widths}
distilled = {
    w: train_student(w, DistillationObjective(temperature=1.0, alpha=1.0))
    for w in widths
}
for w in widths:
    (n, data_loss), (_, soft_loss) = on_data[w], distilled[w]
    print(
        f"width {w}: {n:6,} parameters, data {data_loss:.3f}, teacher {soft_loss:.3f}"
    )
gains = [on_data[w][1] - distilled[w][1] for w in widths]
glue("distill_gain_small", f"{gains[0]:.2f}")
gain_large = glue("distill_gain_large", f"{gains[-1]:.2f}")

# %% [markdown]
# {numref}`fig-distillation` plots the six students against their size. What every CPU
# reproduces: at every width, the student taught by the teacher is better than the
# same student taught by the data, by at least 0.02 nats, and wider students are
# better.

# %%
assert min(gains) > 0.02
for results in (on_data, distilled):
    assert all(
        results[a][1] > results[b][1] for a, b in zip(widths, widths[1:], strict=False)
    )
print("the teacher's student is better at every width, by more than 0.02 nats")
ratios = [teacher.num_params() / on_data[w][0] for w in widths]
assert 9 < min(ratios) and max(ratios) < 70
print(f"students {min(ratios):.0f} to {max(ratios):.0f} times smaller than the teacher")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Validation loss of one-layer students of width 16, 32 and 48 against their number of parameters, trained for the same 150 steps on the same batches, on the data alone or on the teacher's probabilities. The dotted line is the teacher (345,000 parameters). The teacher's students are better at every size.", "name": "fig-distillation"}, "image": {"alt": "A plot of validation loss, about 2.5 to 2.8 nats, against the number of parameters on a logarithmic axis, 5,000 to 34,000. Two falling lines of three points each: the line for students trained on the data lies above the line for students trained on the teacher at every size. A dotted horizontal line near 2.36 marks the teacher."}}
plotting.use_style()
fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
for results, label in [(on_data, "on the data"), (distilled, "on the teacher")]:
    sizes, losses = zip(*results.values(), strict=True)
    ax.semilogx(sizes, losses, "o-", label=label)
ax.axhline(teacher_loss, color="gray", linestyle=":", label="teacher")
ax.set_xlabel("student parameters")
ax.set_ylabel("validation loss (nats)")
ax.legend()
plt.show()

# %% [markdown]
# The gain is {glue:text}`distill_gain_small` nats for the smallest student and
# {glue:text}`distill_gain_large` for the largest. Each step of the teacher's student
# learns from a whole distribution at every position, where the data gives one
# character: a richer, less noisy signal from the same batches. Hinton et al. soften
# both distributions with $\tau > 1$ because their teachers were very confident, and
# their wrong answers' small probabilities carried the information; our teacher, after
# 300 steps, is far from confident, and its probabilities at $\tau = 1$ already carry
# it. DistilBERT {cite:p}`sanh2019distilbert` applies the same recipe to BERT, keeping
# 97% of its accuracy with 40% fewer parameters.
#
# ## How many weights can a model lose?
#
# {term}`Magnitude pruning <pruning>` {cite:p}`han2015learning` sets the weights with
# the smallest absolute values to zero: one threshold for all the model's matrices
# (global) or the same fraction of each (per layer). `gptcourse.prune.magnitude_prune`
# does both, on the matrices of the model's linear layers (not the embeddings, which
# are looked up rather than multiplied). We prune copies of the teacher, without any
# retraining, from 0 to 90% sparsity. The losses are this machine's:

# %% tags=["nbval-ignore-output"]
levels = [0.0, 0.3, 0.5, 0.7, 0.8, 0.9]
pruned = {"global": [], "layer": []}
for scope, losses in pruned.items():
    for level in levels:
        model = copy.deepcopy(teacher)
        magnitude_prune(model, level, scope=scope)
        assert abs(sparsity(model) - level) < 1e-3
        losses.append(val_loss(model))
for scope, losses in pruned.items():
    print(f"{scope:6s}", " ".join(f"{loss:.2f}" for loss in losses))
at = dict(zip(levels, pruned["global"], strict=True))
glue("prune_50", f"{at[0.5] - teacher_loss:.2f}")
loss_90 = glue("prune_90", f"{at[0.9] - teacher_loss:.1f}")

# %% [markdown]
# What every CPU reproduces: pruning half the weights costs little, pruning 90% a lot,
# and at 90% the same fraction per layer does better than one global threshold:

# %%
n_prunable = sum(m.weight.numel() for m in prunable_weights(teacher).values())
print(f"{n_prunable:,} prunable weights, of {teacher.num_params():,} parameters")
assert at[0.0] == teacher_loss
assert at[0.5] - teacher_loss < 0.1 < 0.3 < at[0.9] - teacher_loss
assert pruned["layer"][-1] < pruned["global"][-1] - 0.05
print("global pruning raises the loss by less than 0.1 nats at 50%, by more than 0.3")
print("at 90%; per layer, by at least 0.05 nats less than global at 90%")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Validation loss of the teacher with the given fraction of its linear layers' weights set to zero, the smallest first, with one threshold for all layers (global) or the same fraction per layer; no retraining. Half the weights go almost for free; beyond 70% the loss climbs steeply.", "name": "fig-pruning"}, "image": {"alt": "A plot of validation loss against sparsity from 0 to 90%. Two curves, global and per layer, start together at the teacher's loss, stay nearly flat up to about 50%, then rise, steeply beyond 70%. A dotted horizontal line marks the unpruned teacher."}}
fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
for scope, label in [
    ("global", "global threshold"),
    ("layer", "same fraction per layer"),
]:
    ax.plot([100 * s for s in levels], pruned[scope], "o-", label=label)
ax.axhline(teacher_loss, color="gray", linestyle=":", label="unpruned")
ax.set_xlabel("weights set to zero (%)")
ax.set_ylabel("validation loss (nats)")
ax.legend()
plt.show()

# %% [markdown]
# Setting half the weights to zero raises the loss by {glue:text}`prune_50` nats; 90%
# raises it by {glue:text}`prune_90`. {numref}`fig-pruning` shows both scopes: one
# global threshold takes more from the matrices whose weights are small, and here that
# hurts more than taking the same share of each. Zeros save nothing by themselves: the
# matrices keep their shape, and a dense matrix product multiplies the zeros too.
# Pruning pays when the zeros are stored sparsely, or when whole rows, heads or layers
# are removed (structured pruning), and usually after retraining the pruned model,
# which recovers much of the loss {cite:p}`han2015learning`.
#
# ## What does int8 save, and what does it cost?
#
# {term}`Quantisation <quantisation>` stores each weight in fewer bits.
# `gptcourse.quantize.quantize_int8` keeps each row of a linear layer's weight as 8-bit
# integers $q = \mathrm{round}(w / s)$ in $-127 \dots 127$, with one float32 scale
# $s = \max |w| / 127$ per row; the layer multiplies by $q s$. A float32 matrix of
# $o \times i$ weights takes $4oi$ bytes; quantised, $oi + 4o$. The embeddings (and the
# output layer, which shares its weight with the token embedding) stay in float32. The
# size, computed by the formula and measured:

# %%
quantized = quantize_int8(teacher)
int8_layers = [m for m in quantized.modules() if isinstance(m, Int8Linear)]
saved = sum(
    4 * m.out_features * m.in_features
    - (m.out_features * m.in_features + 4 * m.out_features)
    for m in int8_layers
)
before, after = model_bytes(teacher), model_bytes(quantized)
assert before == 4 * teacher.num_params() and after == before - saved
print(f"float32: {before:,} bytes; int8: {after:,} bytes ({after / before:.0%})")
q_loss = val_loss(quantized)
assert abs(q_loss - teacher_loss) < 0.01
print("the validation loss changes by less than 0.01 nats")
glue("int8_share", f"{after / before:.0%}")
linear_bytes = sum(4 * m.in_features * m.out_features for m in int8_layers)
linear_share = glue("int8_linear_share", f"{linear_bytes / before:.0%}")

# %% [markdown]
# The quantised model takes {glue:text}`int8_share` of the float model's bytes, close to
# a quarter: the quantised matrices held {glue:text}`int8_linear_share` of them, and the
# scales and the float32 embeddings are the rest. The loss barely moves, since each
# weight moves by at most half a step $s/2$, a 254th of its row's largest weight.
#
# Is it faster too? `Int8Linear` turns its weight back into float32 at every call, then
# does the same float matrix product as before: more work, not less. How much more
# depends on how many tokens share that conversion. We time one layer of the size of
# GPT-2 medium's MLP, 1,024 to 4,096, in float32 and in int8, on one token (as when a
# model generates) and on 64; the times, in milliseconds, are this machine's:


# %% tags=["nbval-ignore-output"]
def best_time(fn, x: torch.Tensor, repeats: int = 5) -> float:
    """The fastest of ``repeats`` calls ``fn(x)``, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - start)
    return min(times)


torch.manual_seed(0)
layer = torch.nn.Linear(1024, 4096)
layer_int8 = Int8Linear(layer)
ratios = {}
with torch.no_grad():
    for tokens in (1, 64):
        x = torch.randn(tokens, 1024)
        float_s, int8_s = best_time(layer, x), best_time(layer_int8, x)
        ratios[tokens] = int8_s / float_s
        print(
            f"{tokens:2d} x 1024: float32 {1e3 * float_s:.2f}, int8 {1e3 * int8_s:.2f}"
        )
glue("int8_ratio_1", f"{ratios[1]:.0f}")
ratio = glue("int8_ratio_64", f"{ratios[64]:.1f}")

# %% [markdown]
# Here int8 took {glue:text}`int8_ratio_1` times as long as float32 for one token and
# {glue:text}`int8_ratio_64` times as long for 64: on a CPU, weight-only int8 that
# dequantises on the fly is slower, and the fewer the tokens, the more the conversion
# dominates. Quantisation saves *memory*: the bytes stored, loaded from disk, and held
# in memory. Speed needs kernels that multiply int8 numbers directly, or that convert
# each tile of the weight on the fly inside the product, so that the weights are read
# from memory in 8 bits; that pays where reading the weights, not the arithmetic,
# limits each step, as when a large model generates one token at a time on a GPU.
# LLM.int8() {cite:p}`dettmers2022llmint8` multiplies in int8 in models of billions of
# parameters, and keeps the few large outlier features of their activations in 16 bits.
#
# ## What does a layer cost as the sequence and the width grow?
#
# For $B$ sequences of $n$ tokens of width $d$, one GPT layer's matrix products cost
# $24Bnd^2$ FLOPs with the weights (the attention's four projections, $8Bnd^2$, and the
# MLP, $16Bnd^2$) and $4Bn^2d$ in the attention scores and the weighted sums:
# $O(n^2 d + n d^2)$. {doc}`d_questions` derives it. PyTorch's FLOP counter agrees on
# every shape of a grid. We count under the plain "math" implementation of attention:
# the counter has no formula for the CPU's fused attention kernel, and would leave its
# FLOPs out.


# %%
def layer_flops(B: int, n: int, d: int) -> int:
    """Forward FLOPs of one GPT layer: weights 24 B n d^2, attention 4 B n^2 d."""
    return 24 * B * n * d * d + 4 * B * n * n * d


torch.manual_seed(0)
for d in (32, 64, 128):
    block = Block(d, 4)
    for n in (16, 64, 256):
        with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
            block(torch.randn(2, n, d))
        assert counter.get_total_flops() == layer_flops(2, n, d)
print("24 B n d^2 + 4 B n^2 d: exact for n = 16, 64, 256 and d = 32, 64, 128")

# %% [markdown]
# Does the time follow the FLOPs? We time one layer, for 4 sequences, as $n$ grows at
# $d = 128$ and as $d$ grows at $n = 256$, and compare with the FLOPs divided by one
# rate, the median of the rates measured. {numref}`fig-layer-time` shows it; the
# times are this machine's.

# %% tags=["nbval-ignore-output"]
grows = {"n": [(n, 128) for n in (128, 256, 512, 1024, 2048)]}
grows["d"] = [(256, d) for d in (64, 128, 256, 512)]
seconds = {}
with torch.no_grad():
    for n, d in {shape for shapes in grows.values() for shape in shapes}:
        torch.manual_seed(0)
        block, x = Block(d, 4).eval(), torch.randn(4, n, d)
        seconds[n, d] = best_time(block, x, repeats=3)
rate = sorted(layer_flops(4, n, d) / s for (n, d), s in seconds.items())[
    len(seconds) // 2
]
print(f"median rate: {rate / 1e9:.0f} GFLOP/s on this machine's one thread")

# %% tags=["hide-input", "nbval-ignore-output"] mystnb={"figure": {"caption": "Measured time of one GPT layer's forward pass for 4 sequences (dots), against the FLOPs formula divided by one rate (lines), as the sequence length n grows at width 128 (left) and as the width d grows at length 256 (right). Times are from the machine that recorded this page; both axes are logarithmic.", "name": "fig-layer-time"}, "image": {"alt": "Two log-log plots of milliseconds. Left, against sequence length from 128 to 2048: the dots rise with a slope between 1 and 2, following the predicted line. Right, against width from 64 to 512: the dots rise with a slope near 2, following the predicted line. At the smallest sizes the dots lie above the lines."}}
fig, axes = plt.subplots(1, 2, figsize=(plotting.WIDTH, 3.4), layout="constrained")
for ax, (key, shapes) in zip(axes, grows.items(), strict=True):
    sizes = [shape[0] if key == "n" else shape[1] for shape in shapes]
    ax.loglog(sizes, [1e3 * seconds[s] for s in shapes], "o", label="measured")
    predicted = [1e3 * layer_flops(4, n, d) / rate for n, d in shapes]
    ax.loglog(sizes, predicted, "-", label="FLOPs / rate")
    ax.set_xticks(sizes, [str(size) for size in sizes])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("sequence length n (d = 128)" if key == "n" else "width d (n = 256)")
axes[0].set_ylabel("time per layer (ms)")
axes[0].legend()
plt.show()

# %% [markdown]
# The formula predicts the shape of the growth: linear in $n$ while $n \ll 6d$, then
# quadratic; quadratic in $d$. The small sizes run slower than the formula predicts,
# because a few small matrix products cannot keep a CPU's arithmetic busy. The fused
# kernel behind these timings also skips the blocks of the score matrix that the causal
# mask hides, so at long sequences it does fewer FLOPs than the formula, which counts
# the full products.
#
# ## Where does FlashAttention change the cost?
#
# Attention written out computes the scores $QK^\top/\sqrt{d_k}$ as a matrix of
# $n \times n$ numbers per head and sequence, softmaxes it, and multiplies it by $V$:
# $4BHn^2$ bytes in float32, which grows with the square of the context. For GPT-2
# small ($H = 12$) at $n = 1024$ that is 48 MiB per layer and sequence, kept for the
# backward pass of each of its 12 layers. {term}`FlashAttention`
# {cite:p}`dao2022flashattention` computes the same result in tiles of queries and
# keys, keeping a running maximum and sum for the softmax, so that the score matrix
# never exists in memory: its extra memory is $O(n)$, not $O(n^2)$. It does the same
# multiplications (the backward pass even recomputes the scores), so it changes the
# memory term, not the FLOPs; it is faster on a GPU because it reads and writes memory
# far less. We can see the difference on a CPU: a dispatch mode sees every tensor
# PyTorch's operations produce, and we keep the largest.


# %%
class LargestTensor(TorchDispatchMode):
    """Records the bytes of the largest tensor any operation produces."""

    def __init__(self):
        super().__init__()
        self.bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(t, torch.Tensor):
                self.bytes = max(self.bytes, t.numel() * t.element_size())
        return out


B, n, d, H = 2, 1024, 64, 4
torch.manual_seed(0)
attention, x = MultiHeadAttention(d, H).eval(), torch.randn(B, n, d)
largest = {}
for backend in (SDPBackend.MATH, SDPBackend.FLASH_ATTENTION):
    with torch.no_grad(), sdpa_kernel(backend), LargestTensor() as seen:
        attention(x)
    largest[backend.name] = seen.bytes
assert 4 * 12 * 1024**2 == 48 * 2**20  # GPT-2 small's scores, one layer and sequence
assert largest["MATH"] == 4 * B * H * n * n  # the (B H, n, n) scores
assert largest["FLASH_ATTENTION"] == 4 * B * n * 3 * d  # the (B, n, 3d) q, k, v
for name, size in largest.items():
    print(f"{name:16s} largest tensor {size / 2**20:5.2f} MiB")
glue("math_mib", f"{largest['MATH'] / 2**20:.0f}")
flash_mib = glue("flash_mib", f"{largest['FLASH_ATTENTION'] / 2**20:.2f}")

# %% [markdown]
# For 2 sequences of 1,024 tokens and 4 heads, the written-out attention creates a
# score tensor of {glue:text}`math_mib` MiB, exactly $4BHn^2$ bytes; PyTorch's fused CPU
# kernel, a FlashAttention-style implementation, never does, and its largest tensor is
# the input projection's queries, keys and values, {glue:text}`flash_mib` MiB, which
# grows only linearly with $n$. The FLOPs above are the same either way.
#
# ## Summary
#
# - Distillation trains a student on a teacher's probabilities; here, students 10 to 64
#   times smaller learned more from the teacher than from the data in the same steps.
# - Magnitude pruning zeroes the smallest weights: half of them go almost for free,
#   90% cost a lot, and zeros save nothing until they are stored sparsely or removed.
# - Per-row int8 weights take about a quarter of the bytes at almost the same loss; a
#   layer that dequantises on the fly is not faster on a CPU.
# - A GPT layer costs $24Bnd^2 + 4Bn^2d$ FLOPs, exactly as PyTorch counts them, and its
#   time follows the formula once the matrices are large.
# - FlashAttention removes the $n^2$ score matrix from memory, not from the arithmetic.
#
# ## Further reading
#
# - {cite:t}`hinton2015distilling` introduce distillation with a temperature, and show
#   that soft targets carry information that hard labels do not.
# - {cite:t}`sanh2019distilbert` distil BERT into a model 40% smaller.
# - {cite:t}`han2015learning` prune, retrain and prune again, removing 90% of the
#   weights of image classifiers without losing accuracy.
# - {cite:t}`dettmers2022llmint8` quantise the matrix products of large Transformers to
#   int8, and explain why outlier features need 16 bits.
# - {cite:t}`dao2022flashattention` derive the tiled, exact attention, and count its
#   reads and writes of GPU memory.
