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
# # Pretraining
#
# A GPT learns everything it knows in one way: it reads a corpus and is scored on
# predicting each next token. This chapter builds the loop that does it, one piece at a
# time (random windows of the corpus, the cross-entropy, AdamW, a learning-rate
# schedule, clipping, accumulation, evaluation), checks each piece against its
# definition, and then trains a character-level GPT on Tiny Shakespeare. It ends with
# what real runs add: speed on a GPU, checkpoints that resume exactly, several GPUs, and
# how loss scales with model size and data.
#
# ```{admonition} What you will be able to do
# - compute the cross-entropy and perplexity of a model, and say what an untrained one
#   should score;
# - write the update of AdamW, say which parameters get weight decay and why, and draw a
#   warmup-then-cosine learning-rate schedule;
# - explain gradient clipping and gradient accumulation, and prove that accumulating
#   micro-batches gives the gradient of the whole batch;
# - use `gptcourse.trainer.Trainer` to train a GPT, watch its losses and samples, and
#   resume a run from a checkpoint bit for bit;
# - estimate the tokens per second, the MFU and the memory of a training run, and say
#   when it needs DDP or FSDP.
# ```

# %%
import math
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from gptcourse import gpu_results, plotting
from gptcourse.checkpoint import find_checkpoint
from gptcourse.corpus import BatchStream, Corpus
from gptcourse.glue import glue
from gptcourse.model import GPT, GPTConfig, count_parameters, flops_per_token
from gptcourse.optim import configure_adamw, parameter_groups, warmup_cosine
from gptcourse.throughput import PEAK_TFLOPS, mfu
from gptcourse.train_config import get_config
from gptcourse.trainer import Trainer

# Models this small train fastest on one thread: more only add synchronisation.
torch.set_num_threads(1)

# %% [markdown]
# ## What does the model learn from?
#
# From a corpus read as one long array of token ids. {term}`Pretraining <pretraining>`
# needs no labels: every position of the text is an example, whose input is the text
# before it and whose label is the token there. The course's corpus is Tiny Shakespeare,
# tokenised into characters as in {doc}`chapter 1 <../chapters/01_language_models>`,
# with the last 10% held out for validation (`gptcourse.batches.split_text`):

# %%
corpus = Corpus.load("tinyshakespeare", tokenizer="char")
tok = corpus.tokenizer
V = corpus.vocab_size
print(f"vocabulary: {V} characters")
print(f"training tokens: {len(corpus.train):,}; validation tokens: {len(corpus.val):,}")
glue("n_train", f"{len(corpus.train):,}")

# %% [markdown]
# A batch is $B$ windows of $T + 1$ consecutive tokens at random places of the training
# ids: the first $T$ are the input `x`, the last $T$ the targets `y`, the same window
# moved on by one token. One window holds $T$ examples, one per position, each with the
# context before it ({doc}`chapter 4 <../chapters/04_self_attention>`'s causal mask sees
# to that). `gptcourse.corpus.BatchStream` draws them with a random generator
# of its own, whose state a checkpoint can save:

# %%
stream = BatchStream(corpus.train, batch_size=4, block_size=24, seed=0)
x, y = stream.next()  # (B, T) = (4, 24) each
for row in range(2):
    print(repr(tok.decode(x[row].tolist())))
    print(repr(tok.decode(y[row].tolist())), "\n")
assert torch.equal(x[:, 1:], y[:, :-1])  # y is x moved on by one token
print(f"windows to draw from: {len(corpus.train) - 24:,}")

# %% [markdown]
# There are no epochs: a run draws windows until its step budget is spent, and what it
# saw is counted in tokens, $B \times T$ per step.
#
# ## How is a prediction scored?
#
# By the {term}`cross-entropy` of chapter 1: the mean, over all $N = BT$ positions, of
# minus the log-probability the model gave the true next token,
#
# $$
# \mathcal{L} = -\frac{1}{BT} \sum_{b=1}^{B} \sum_{t=1}^{T}
# \log p_\theta\left(y_{b,t} \mid x_{b,1}, \dots, x_{b,t}\right),
# \qquad \mathrm{PPL} = e^{\mathcal{L}} .
# $$
#
# The {term}`perplexity` is the number of equally likely choices that would leave a
# model as uncertain. A model that knows nothing spreads its probability evenly over the
# $V$ tokens: $\mathcal{L} = \ln V$ and $\mathrm{PPL} = V$. A freshly initialised GPT is
# that model, since its weights are small (standard deviation 0.02) and so are its
# logits. Here is the model this chapter trains, checked against the formula:

# %%
# this chapter's CPU run: 500 of the named config's 800 steps, to keep the page fast
config = get_config("shakespeare-char-cpu", max_steps=500)
model_config = config.model_config(V)
torch.manual_seed(0)
model = GPT(model_config)
x, y = BatchStream(corpus.train, 16, model_config.block_size, seed=0).next()
logits, loss = model(x, y)  # logits: (B, T, V)

log_probs = F.log_softmax(logits, dim=-1)  # (B, T, V)
by_hand = -log_probs.gather(-1, y.long().unsqueeze(-1)).mean()
torch.testing.assert_close(by_hand, loss)
assert abs(loss.item() - math.log(V)) < 0.05
print(f"{model.num_params():,} parameters")
print(f"untrained: loss {loss.item():.2f} nats, perplexity {loss.exp().item():.0f}")
print(f"uniform:   ln V = {math.log(V):.2f} nats, perplexity {V}")
glue("ln_v", f"{math.log(V):.2f}")

# %% [markdown]
# The untrained model scores $\ln V =$ {glue:text}`ln_v` nats, as it should. A loss far
# above $\ln V$ at the first step means a bug (logits too large, labels misaligned with
# the inputs), and a loss far below it a leak (the model sees the token it predicts).
#
# ## How does AdamW move the weights?
#
# Training lowers $\mathcal{L}$ by following its gradient $g_t$ at each step $t$. Adam
# {cite:p}`kingma2015adam` keeps running averages of the gradient and of its square, and
# divides one by the square root of the other, so that each weight moves by about the
# learning rate $\eta$, whatever the scale of its gradient. AdamW
# {cite:p}`loshchilov2019decoupled` adds *decoupled* {term}`weight decay`, a pull of
# every decayed weight towards zero:
#
# $$
# \begin{aligned}
# m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g_t, &
# v_t &= \beta_2 v_{t-1} + (1 - \beta_2) g_t^2, \\
# \hat m_t &= \frac{m_t}{1 - \beta_1^t}, &
# \hat v_t &= \frac{v_t}{1 - \beta_2^t}, \\
# \theta_t &= \theta_{t-1} - \eta \left(\frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}
# + \lambda\, \theta_{t-1}\right). &&
# \end{aligned}
# $$
#
# The hats undo the bias of averages that start at zero. Three steps by the formula,
# against {py:class}`torch.optim.AdamW`:

# %%
torch.manual_seed(0)
w = torch.randn(3, 4, requires_grad=True)
grads = [torch.randn(3, 4) for _ in range(3)]
lr, (b1, b2), eps, wd = 1e-2, (0.9, 0.99), 1e-8, 0.1
opt = torch.optim.AdamW([w], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)

mine, m, v = w.detach().clone(), torch.zeros(3, 4), torch.zeros(3, 4)
for t, g in enumerate(grads, start=1):
    w.grad = g.clone()
    opt.step()
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g**2
    m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
    mine = mine - lr * (m_hat / (v_hat.sqrt() + eps) + wd * mine)

largest = (mine - w.detach()).abs().max().item()
assert largest < 1e-6
print("AdamW by the formula equals torch.optim.AdamW: largest difference below 1e-6")

# %% [markdown]
# ```{admonition} A common mistake: "weight decay is L2 regularisation"
# :class: warning
# With plain gradient descent, shrinking the weights by $\eta\lambda\theta$ each step is
# the same as adding $\frac{\lambda}{2}\lVert\theta\rVert^2$ to the loss. With Adam it
# is not: an L2 term enters the gradient, and Adam then divides it by $\sqrt{\hat v_t}$,
# so weights with large gradients are barely decayed. That is why
# {cite:t}`loshchilov2019decoupled` *decouple* the decay from the gradient, and why
# `torch.optim.Adam(weight_decay=...)` (L2) and `torch.optim.AdamW(weight_decay=...)`
# are different optimizers, as the next cell shows.
# ```

# %%
torch.manual_seed(0)
start, g = torch.randn(3, 4), torch.randn(3, 4)
after = {}
for name, Optimizer in [("Adam + L2", torch.optim.Adam), ("AdamW", torch.optim.AdamW)]:
    p = start.clone().requires_grad_()
    opt = Optimizer([p], lr=0.1, weight_decay=0.5)
    for _ in range(3):
        p.grad = g.clone()
        opt.step()
    after[name] = p.detach()
gap = (after["Adam + L2"] - after["AdamW"]).abs().max().item()
assert gap > 1e-2
print("after three steps, Adam + L2 and AdamW differ by more than 0.01")

# %% [markdown]
# Which weights decay? GPT-2 and nanoGPT {cite:p}`karpathy2022nanogpt` decay the
# matrices (the linear layers' weights and the embeddings) and not the biases and
# layer-norm gains, which are few and whose scale is their job. The rule is "two or more
# dimensions"; `gptcourse.optim.parameter_groups` applies it, and
# `gptcourse.optim.configure_adamw` builds AdamW on its two groups:

# %%
decayed = [n for n, p in model.named_parameters() if p.dim() >= 2]
not_decayed = [n for n, p in model.named_parameters() if p.dim() < 2]
groups = parameter_groups(model, weight_decay=0.1)
assert [len(g["params"]) for g in groups] == [len(decayed), len(not_decayed)]
for group, names in zip(groups, (decayed, not_decayed), strict=True):
    count = sum(p.numel() for p in group["params"])
    print(
        f"weight decay {group['weight_decay']}: {len(names)} tensors, "
        f"{count:,} parameters, e.g. {names[-1]}"
    )

# %% [markdown]
# ## How should the learning rate change during a run?
#
# It rises, then falls. At the start Adam's averages rest on a few gradients and the
# model is far from anywhere good: a full learning rate then can throw it somewhere it
# never recovers from, so the rate *warms up* linearly over the first $W$ steps
# {cite:p}`goyal2017accurate`. Afterwards it decays, along half a cosine
# {cite:p}`loshchilov2017sgdr`, from its peak $\eta_{\max}$ to $\eta_{\min}$ at the last
# step $S$: large steps while the loss falls fast, small ones to settle at the end. For
# $s \ge W$,
#
# $$
# \eta_s = \eta_{\min} + \tfrac{1}{2}\left(\eta_{\max} - \eta_{\min}\right)
# \left(1 + \cos\left(\pi\, \frac{s - W}{S - W}\right)\right).
# $$
#
# `gptcourse.optim.warmup_cosine` chains PyTorch's
# {py:class}`torch.optim.lr_scheduler.LinearLR` (from $\eta_{\max}/W$ at step 0 to
# $\eta_{\max}$ at step $W$) and {py:class}`torch.optim.lr_scheduler.CosineAnnealingLR`.
# Its values at the points the formula makes easy: the peak at $W$, the mean of peak and
# floor halfway through the decay, where the cosine is 0:


# %%
def schedule(config) -> list[float]:
    """The learning rate of every step of a run with ``config``."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=config.lr)
    scheduler = warmup_cosine(
        opt,
        warmup_steps=config.warmup_steps,
        max_steps=config.max_steps,
        min_lr_ratio=config.min_lr / config.lr,
    )
    lrs = []
    for _ in range(config.max_steps):
        lrs.append(scheduler.get_last_lr()[0])
        opt.step()
        scheduler.step()
    return lrs


lrs = schedule(config)
W, S = config.warmup_steps, config.max_steps
assert math.isclose(lrs[0], config.lr / W) and math.isclose(lrs[W], config.lr)
assert math.isclose(lrs[(W + S) // 2], (config.lr + config.min_lr) / 2)
assert max(lrs) == lrs[W] and all(
    a >= b for a, b in zip(lrs[W:-1], lrs[W + 1 :], strict=True)
)
print(
    f"warmup {W} steps to {config.lr:g}, cosine down to {config.min_lr:g} at step {S}"
)

# %% [markdown]
# {numref}`fig-lr-schedule-run` draws it. Exercise 9-1 asks you to write the schedule
# and compare it with this one at every step.

# %% mystnb={"figure": {"caption": "The learning rate of every step of this chapter's run: a linear warmup over the first 50 steps to the peak, then half a cosine down to a tenth of it at step 500.", "name": "fig-lr-schedule-run"}, "image": {"alt": "A line chart of the learning rate against the step, 0 to 500. It rises in a straight line from almost 0 to 0.002 at step 50 (a shaded band), then falls along a smooth S-shaped curve, steeply in the middle, to 0.0002 at step 500."}}
plotting.use_style()
fig, ax = plt.subplots(figsize=(7.5, 2.8))
ax.plot(range(S), lrs)
ax.axvspan(0, W, color="tab:orange", alpha=0.2, label=f"warmup ({W} steps)")
ax.axhline(config.min_lr, color="gray", linestyle=":", label="floor, min_lr")
ax.set_xlabel("step")
ax.set_ylabel("learning rate")
ax.legend()
plt.show()

# %% [markdown]
# ## What stops one bad batch from wrecking the run?
#
# {term}`Gradient clipping <gradient clipping>`. Now and then a batch produces a
# gradient far larger than usual, and one step along it can undo hours of training.
# Clipping by the *global* norm, over all the parameters together, shrinks such a
# gradient to a length of at most $c$ and leaves its direction alone
# {cite:p}`pascanu2013difficulty`:
#
# $$
# \lVert g \rVert = \sqrt{\textstyle\sum_p \lVert g_p \rVert^2}, \qquad
# g \leftarrow g \cdot \min\left(1, \frac{c}{\lVert g \rVert}\right).
# $$
#
# {py:func}`torch.nn.utils.clip_grad_norm_` does it in place and returns the norm it
# found. With $c$ set to a quarter of this batch's norm:

# %%
model.zero_grad()
_, loss = model(x, y)
loss.backward()
before = [p.grad.clone() for p in model.parameters()]
norm = torch.sqrt(sum((g**2).sum() for g in before))  # the global norm, by hand

c = norm.item() / 4
returned = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=c)
after = [p.grad for p in model.parameters()]
torch.testing.assert_close(returned, norm)
torch.testing.assert_close(torch.sqrt(sum((g**2).sum() for g in after)), norm / 4)
for g0, g1 in zip(
    before, after, strict=True
):  # same direction, a quarter of the length
    torch.testing.assert_close(g1, g0 / 4)
print("clipped to a quarter of its norm, every gradient is a quarter of itself")

# %% [markdown]
# ## What if the batch does not fit in memory?
#
# Then it is split. {term}`Gradient accumulation <gradient accumulation>` runs $k$
# micro-batches of $B/k$ windows one after the other, lets their gradients add up in
# `.grad` (PyTorch adds, it never overwrites, until `zero_grad`), and takes one
# optimizer step. Since the loss is a mean, each micro-batch's loss is divided by $k$,
# and the sum of the $k$ gradients is then the gradient of the mean over all $B$
# windows:
#
# $$
# \nabla \mathcal{L}_B = \nabla \frac{1}{k} \sum_{j=1}^{k} \mathcal{L}_{B/k}^{(j)}
# = \sum_{j=1}^{k} \nabla \frac{\mathcal{L}_{B/k}^{(j)}}{k} .
# $$
#
# Two micro-batches of 8 against one batch of 16 (the model has no dropout, so both see
# the same function):


# %%
def gradients(model) -> list[torch.Tensor]:
    return [p.grad.clone() for p in model.parameters()]


model.zero_grad()
_, loss = model(x, y)  # one batch of 16 windows
loss.backward()
whole = gradients(model)

k = 2
model.zero_grad()
for xs, ys in zip(x.chunk(k), y.chunk(k), strict=True):  # two micro-batches of 8
    _, loss = model(xs, ys)
    (loss / k).backward()  # .grad adds up
accumulated = gradients(model)

largest = max(
    (a - b).abs().max().item() for a, b in zip(whole, accumulated, strict=True)
)
assert largest < 1e-6
print(
    "2 micro-batches of 8 give the gradient of one batch of 16: "
    "largest difference below 1e-6"
)

# %% [markdown]
# Forgetting the division by $k$ makes the gradient $k$ times too large, which Adam
# mostly forgives (it divides by the gradient's own scale) and clipping does not (it
# clips a different norm). Exercise 9-2 builds accumulation into a function.
#
# ## The loop, all together
#
# Every piece so far, in the order a training step runs them: draw the micro-batches,
# forward, divide, backward, clip, step, zero the gradients, step the schedule. Written
# out, a whole run is twenty lines:


# %%
def train_by_hand(config, corpus, steps: int) -> tuple[GPT, list[float]]:
    """``steps`` optimizer steps of the run ``config``, written out."""
    mc = config.model_config(corpus.vocab_size)
    torch.manual_seed(config.seed)
    model = GPT(mc)
    betas = (config.beta1, config.beta2)
    opt = configure_adamw(
        model, lr=config.lr, betas=betas, weight_decay=config.weight_decay
    )
    ratio = config.min_lr / config.lr
    scheduler = warmup_cosine(
        opt,
        warmup_steps=config.warmup_steps,
        max_steps=config.max_steps,
        min_lr_ratio=ratio,
    )
    batches = BatchStream(
        corpus.train, config.batch_size, mc.block_size, seed=config.seed
    )
    losses = []
    for _ in range(steps):
        total = torch.zeros(())
        for _ in range(config.grad_accum):
            x, y = batches.next()
            _, loss = model(x, y)
            loss = loss / config.grad_accum
            loss.backward()
            total += loss.detach()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        scheduler.step()
        losses.append(total.item())
    return model, losses


# %% [markdown]
# The course's `gptcourse.trainer.Trainer` is this loop plus what a real run
# needs around it: mixed precision, `torch.compile`, several processes, logging,
# evaluation, samples, checkpoints. Ten steps of each, from the same seed, with two
# micro-batches per step, give the same weights, bit for bit:

# %%
short = get_config(
    "shakespeare-char-cpu",
    max_steps=10,
    batch_size=8,
    warmup_steps=5,
    grad_accum=2,
    eval_interval=0,
    log_interval=1,
    sample_tokens=0,
    progress=False,
)
mine, my_losses = train_by_hand(short, corpus, steps=10)
trainer = Trainer(short, corpus=corpus)
trainer.fit()
their_losses = [r["loss"] for r in trainer.history if "loss" in r]
assert my_losses == their_losses
state = trainer.model.state_dict()
assert all(torch.equal(t, state[name]) for name, t in mine.state_dict().items())
print(f"the same {len(my_losses)} losses and the same weights, bit for bit")

# %% [markdown]
# ## Training a character model on Tiny Shakespeare
#
# The run `shakespeare-char-cpu` is sized for a CPU: 3 layers, 4 heads, width 96,
# context 64, batches of 16, and 800 steps, of which this page runs 500 to stay fast.
# Every 200 steps and at the end the trainer estimates the loss on 10 fixed batches of
# the training and the validation text (in eval mode, without gradients:
# `gptcourse.training.estimate_loss`), and at step 400 and at the end it prints
# a sample. In a notebook or a terminal it also shows a progress bar with the loss and
# the speed; it is turned off here (`progress=False`) to keep the page clean. The losses
# and samples below are this machine's: on another CPU the arithmetic rounds differently
# and the run drifts apart in the last digits.

# %% tags=["nbval-ignore-output"]
trainer = Trainer(config.replace(progress=False), corpus=corpus)
result = trainer.fit()
print(
    f"validation loss {result.val_loss:.3f} "
    f"(perplexity {math.exp(result.val_loss):.1f}) after {result.step} steps, "
    f"{result.time_s:.0f} s on this machine"
)
glue("char_val", f"{result.val_loss:.2f}")
glue("char_ppl", f"{math.exp(result.val_loss):.1f}")
glue("char_time", f"{result.time_s:.0f}")

# %% [markdown]
# The run takes {glue:text}`char_time` seconds here and ends at a validation loss of
# {glue:text}`char_val` nats, a perplexity of {glue:text}`char_ppl`: the model hesitates
# between about that many characters where it began with 65. Its samples have short
# words, line breaks and something of the rhythm of verse, but little English yet.
# What every CPU reproduces:

# %%
history = trainer.history
evals = [r for r in history if "val_loss" in r]
assert evals[0]["val_loss"] > 4.0 and result.val_loss < 2.4
assert all(
    a["val_loss"] > b["val_loss"] for a, b in zip(evals[:-1], evals[1:], strict=True)
)
print(
    f"validation loss: above 4.0 at step 0, below 2.4 at step {result.step}, "
    "lower at every evaluation"
)

# %% [markdown]
# {numref}`fig-char-losses` shows the losses. The training and validation curves lie on
# top of each other: a model this small, after 500 steps, is far from memorising the
# text, so what it learned from the training text holds on the held-out text.

# %% mystnb={"figure": {"caption": "The losses of the CPU run: the training loss averaged over every 10 steps (thin), and the estimates on fixed batches of the training and validation text at steps 0, 200, 400 and 500 (dots). The two estimates agree: the model is not overfitting. The dotted line is the loss of a uniform guess, ln 65.", "name": "fig-char-losses"}, "image": {"alt": "A line chart of the loss in nats against the step, 0 to 500. A thin line for the training loss falls steeply from about 4.2 to 2.6 by step 150, then slowly to about 2.2 at step 500. Dots for the training and the validation estimates at steps 0, 200, 400 and 500 lie on it, in pairs that almost coincide. A dotted horizontal line at 4.17 marks a uniform guess."}}
logged = [r for r in history if "loss" in r]
fig, ax = plt.subplots(figsize=(7.5, 3.2))
ax.plot(
    [r["step"] for r in logged],
    [r["loss"] for r in logged],
    linewidth=1,
    label="training loss (batches)",
)
for key, marker in (("train_loss", "o"), ("val_loss", "s")):
    ax.plot([r["step"] for r in evals], [r[key] for r in evals], marker, label=key)
ax.axhline(math.log(V), color="gray", linestyle=":", label="uniform guess, ln 65")
ax.set_xlabel("step")
ax.set_ylabel("loss (nats per character)")
ax.legend()
plt.show()

# %% [markdown]
# nanoGPT's reference run on the same text, `shakespeare-char` (6 layers, 6 heads, width
# 384, context 256, 5,000 steps of 64 windows: 10.7 million parameters and 300 times
# this run's arithmetic), reaches a validation loss of about 1.47 and writes passable
# pseudo-Shakespeare {cite:p}`karpathy2022nanogpt`. That is a job for a GPU; the last
# section shows what the course's GPU run measured.
#
# ## How is training made fast?
#
# On a GPU, by making every step do less work or do it in cheaper arithmetic, and
# keeping the GPU busy. Each of these is one setting of the trainer:
#
# - **Lower precision.** A GPU's tensor cores multiply 16-bit numbers many times faster
#   than 32-bit ones. {term}`Mixed precision <mixed precision>` keeps the weights,
#   gradients and AdamW's moments in float32 and runs the matrix products in 16 bits
#   inside `torch.autocast` {cite:p}`micikevicius2018mixed`. **bfloat16** keeps
#   float32's exponent range and needs nothing else; **float16**, on GPUs without
#   bfloat16, has so narrow a range that small gradients underflow to zero, and a
#   `torch.amp.GradScaler` multiplies the loss by a large factor before the
#   backward pass and divides the gradients by it afterwards. float32 matrix products
#   may use **TF32**, the tensor cores' 19-bit format
#   (`gptcourse.precision.enable_tf32`). `dtype="auto"` picks bfloat16 where
#   the GPU has it, float16 with a scaler where not, float32 on a CPU.
# - **Fused attention.** {py:func}`torch.nn.functional.scaled_dot_product_attention`,
#   which the course's attention calls, computes attention in tiles without ever writing
#   the $T \times T$ weights to memory {cite:p}`dao2022flashattention`.
# - **`torch.compile`** turns the model into fused kernels: one pass over memory for a
#   layer norm, a GELU and a residual addition instead of one each (`compile=True`).
# - **Fused AdamW** updates all the parameters in one kernel instead of several per
#   tensor (`configure_adamw` uses it where PyTorch has it).
# - **The batch size**: a GPU is only busy with enough work at once; the largest batch
#   that fits, then gradient accumulation for more.
#
# Why the scaler is needed, in numbers: the three formats' ranges, and a gradient of
# $10^{-8}$ in each.

# %%
for dtype in (torch.float32, torch.bfloat16, torch.float16):
    info = torch.finfo(dtype)
    print(
        f"{str(dtype):15} {info.bits} bits: largest {info.max:.3g}, "
        f"smallest normal 2^{math.log2(info.tiny):.0f}, "
        f"relative precision {info.eps:.3g}"
    )
g = torch.tensor(1e-8)
print(f"\n1e-8 in bfloat16: {g.to(torch.bfloat16).item():.3g}")
print(
    f"1e-8 in float16:  {g.to(torch.float16).item():.3g}  "
    "(underflows: the gradient is lost)"
)
scaled = (g * 2.0**16).to(torch.float16)  # what GradScaler does, with a scale of 65536
print(
    f"1e-8 x 65536 in float16, divided back in float32: "
    f"{scaled.float().item() / 2.0**16:.3g}"
)
assert g.to(torch.float16).item() == 0 and g.to(torch.bfloat16).item() > 0

# %% [markdown]
# How fast is fast? Speed is measured in tokens per second, and against the hardware in
# {term}`model FLOPs utilisation` (MFU): the share of the chip's peak arithmetic that
# the model's own matrix products use. A training step costs about $6N$ FLOPs per token
# for $N$ weights (2 for the forward pass, a multiply and an add per weight, and twice
# that backward) plus $12 L T C$ for attention
# (`gptcourse.model.flops_per_token`); so
#
# $$
# \mathrm{MFU} = \frac{\text{tokens/s} \times \text{FLOPs per token}}
# {\text{peak FLOP/s}} .
# $$
#
# For GPT-2 small on an H200, whose dense bfloat16 peak is 989 TFLOP/s, a run at
# 400,000 tokens per second (an example figure) would use:

# %%
gpt2 = GPTConfig.from_preset("gpt2")
per_token = flops_per_token(gpt2)
six_n = 6 * (12 * gpt2.n_layer * gpt2.n_embd**2 + gpt2.vocab_size * gpt2.n_embd)
print(
    f"GPT-2 small: {per_token / 1e6:.0f} MFLOPs per token to train "
    f"({six_n / per_token:.0%} of it the 6N of the weights)"
)
peak = PEAK_TFLOPS["H200"]["bfloat16"]
utilisation = mfu(400_000, per_token, peak * 1e12)
print(f"400,000 tokens/s on a {peak} TFLOP/s peak: MFU {utilisation:.1%}")
assert math.isclose(utilisation, 400_000 * per_token / (peak * 1e12))

# %% [markdown]
# A CPU has no such table of peaks, but the other effects show. The next cell times a
# few training steps of this chapter's model with the trainer's own step at three batch
# sizes, and in bfloat16 autocast. The figures are this machine's (a small, shared cloud
# CPU, one thread): without bfloat16 arithmetic in its hardware, a CPU is slower in
# bfloat16 autocast, not faster, and a larger batch helps only until the core is busy.


# %% tags=["nbval-ignore-output"]
def tokens_per_second(batch_size: int, dtype: str = "float32", steps: int = 4) -> float:
    cfg = get_config(
        "shakespeare-char-cpu", batch_size=batch_size, dtype=dtype, progress=False
    )
    trainer = Trainer(cfg, corpus=corpus)
    trainer.train_step()  # warm-up
    began = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    return steps * cfg.tokens_per_step() / (time.perf_counter() - began)


for batch_size in (4, 16, 64):
    print(
        f"batch {batch_size:3}, float32: {tokens_per_second(batch_size):9,.0f} tokens/s"
    )
print(f"batch  16, bfloat16: {tokens_per_second(16, 'bfloat16'):9,.0f} tokens/s")

# %% [markdown]
# ## How does a run survive an interruption?
#
# With {term}`checkpoint`s that hold *everything* the next step depends on: the weights,
# AdamW's moments, the schedule's position, the gradient scaler, the state of every
# random generator (dropout's, and the batch stream's, so that the same windows come
# next) and the step. `gptcourse.checkpoint` writes them as a folder: the
# weights as safetensors (loading runs no code, unlike a pickle), the rest as plain
# tensors, the configuration, and a manifest with each file's SHA-256, written last. The
# folder is written under a temporary name and renamed when complete, so a crash while
# saving leaves the previous checkpoint intact.
#
# The test of all that is strict: eight steps straight must give the same weights, bit
# for bit, as four steps, a checkpoint, a new `Trainer` that resumes from it, and four
# more. With dropout on and two micro-batches a step, every random state matters:

# %%
tiny = dict(n_layer=2, n_head=2, n_embd=32, block_size=32, dropout=0.1)
cfg = get_config(
    "smoke", model=tiny, max_steps=8, eval_interval=4, grad_accum=2, sample_tokens=0
)
with tempfile.TemporaryDirectory() as tmp:
    straight = Trainer(cfg, corpus=corpus, out_dir=Path(tmp, "straight"))
    straight.fit()
    first = Trainer(cfg, corpus=corpus, out_dir=Path(tmp, "resumed"))
    first.fit(until=4)  # as if interrupted after step 4
    saved = sorted(p.name for p in find_checkpoint(Path(tmp, "resumed")).iterdir())
    second = Trainer(
        cfg, corpus=corpus, out_dir=Path(tmp, "resumed"), resume=Path(tmp, "resumed")
    )
    assert second.step == 4
    second.fit()
state = second.model.state_dict()
same = all(
    torch.equal(t, state[name]) for name, t in straight.model.state_dict().items()
)
assert same
print("a checkpoint holds:", ", ".join(saved))
print("8 steps straight == 4 steps + checkpoint + resume + 4 steps, bitwise:", same)

# %% [markdown]
# From the command line the same is `python -m gptcourse.train --config
# shakespeare-char --out runs/char`, interrupted at any time, then the same command with
# `--resume runs/char`.
#
# ## What changes beyond one GPU?
#
# With **data parallelism** (DDP, `torch.nn.parallel.DistributedDataParallel`)
# every GPU holds a whole copy of the model and draws its own batches; during the
# backward pass the GPUs average their gradients (an *all-reduce*), so every copy takes
# the same step, and the batch of one step is $B \times k \times$ the number of GPUs.
# `torchrun` starts one process per GPU, and the trainer joins them
# (`gptcourse.distributed`):
#
# ```bash
# # one machine with 8 GPUs
# torchrun --standalone --nproc_per_node=8 -m gptcourse.train --config shakespeare-char
# # two machines with 8 GPUs each: the same command on both, node_rank 0 and 1
# torchrun --nnodes=2 --node_rank=0 --nproc_per_node=8 \
#     --master_addr=10.0.0.1 --master_port=29500 -m gptcourse.train --config
#     shakespeare-char
# ```
#
# The course's tests run it with two processes on a CPU (the gloo backend) and check
# that they make the same update as one process over the same global batch.
#
# DDP needs the model, its gradients and AdamW's two moments to fit on every GPU: 4
# bytes each in float32, **16 bytes a parameter**, before any activations. *Sharding*
# removes the copies: ZeRO {cite:p}`rajbhandari2020zero` and PyTorch's FSDP
# {cite:p}`zhao2023pytorch` give each of $n$ GPUs $1/n$ of the weights, gradients and
# moments, and gather each layer's weights just before it runs. The arithmetic:


# %%
def adamw_gib(n_params: float, shards: int = 1) -> float:
    """GiB for float32 weights, gradients and AdamW's two moments (no activations)."""
    return 16 * n_params / shards / 2**30


print(f"{'model':12} {'parameters':>14} {'one GPU':>10} {'FSDP, 8 GPUs':>13}")
for name in ("gpt2", "gpt2-xl"):
    n = count_parameters(GPTConfig.from_preset(name))
    print(f"{name:12} {n:14,} {adamw_gib(n):8.1f} GiB {adamw_gib(n, 8):9.1f} GiB")
n = 7e9
print(f"{'7B':12} {n:14,.0f} {adamw_gib(n):8.1f} GiB {adamw_gib(n, 8):9.1f} GiB")
glue("gib_7b", f"{adamw_gib(7e9):.0f}")
glue("gib_7b_fsdp", f"{adamw_gib(7e9, 8):.0f}")

# %% [markdown]
# A model of 7 billion parameters needs {glue:text}`gib_7b` GiB for its training state
# alone, more than any single GPU holds; sharded over 8 GPUs, {glue:text}`gib_7b_fsdp`
# GiB each. Activations come on top, and grow with batch and context; recomputing them
# in the backward pass (activation checkpointing) trades arithmetic for that memory.
#
# ## How much does a larger model or more data help?
#
# Predictably, over many orders of magnitude. {cite:t}`kaplan2020scaling` trained
# hundreds of GPT-style models and found the loss falling as a power law in the number
# of non-embedding parameters $N$, in the tokens $D$ and in the compute $C \approx 6ND$,
# each when the other two do not limit it, for example $L(N) \approx (N_c/N)^{0.076}$.
# {cite:t}`hoffmann2022training` (Chinchilla) asked how to split a compute budget
# between $N$ and $D$ and found that they should grow together, about 20 training tokens
# per parameter; earlier large models had been trained on far too few tokens for their
# size. By that rule:

# %%
n_small = count_parameters(GPTConfig.from_preset("gpt2"), embeddings=False)
print(
    f"GPT-2 small ({n_small / 1e6:.0f}M non-embedding parameters): "
    f"about {20 * n_small / 1e9:.1f}B tokens, {6 * n_small * 20 * n_small:.1e} FLOPs"
)
n_ours = count_parameters(model_config, embeddings=False)
seen = config.max_steps * config.tokens_per_step()
print(
    f"this chapter's run: {n_ours:,} parameters saw {seen:,} tokens, "
    f"{seen / n_ours:.1f} per parameter"
)
assert seen / n_ours < 20
glue("tokens_per_param", f"{seen / n_ours:.1f}")

# %% [markdown]
# The CPU run saw {glue:text}`tokens_per_param` tokens a parameter, far fewer than 20:
# it was stopped to fit a minute, and more steps would still lower its loss, as the
# still falling curves of {numref}`fig-char-losses` say.
#
# ## What does the GPU run reach?
#
# `make gpu` runs this chapter at full scale on a GPU, in one command: nanoGPT's
# `shakespeare-char` until its validation loss reaches 1.47, the same text through
# GPT-2's tokenizer (`shakespeare-gpt2`, whose best checkpoint the next chapter
# fine-tunes), and a benchmark of training speed of the course's GPT beside
# `transformers`' GPT-2, eager and compiled. It writes its figures into `results/gpu/`,
# and the cells below print them:

# %%
records = {part: gpu_results.load(part) for part in ("char", "bpe", "bench")}
if not any(records.values()):
    print(gpu_results.PENDING)
for part, record in records.items():
    if record is not None:
        print(gpu_results.describe(record, part), end="\n\n")

# %% [markdown]
# ## Summary
#
# - Pretraining scores a model on every next token of random windows of a corpus; the
#   cross-entropy of an untrained model is $\ln V$, and the perplexity
#   $e^{\mathcal{L}}$.
# - AdamW normalises each weight's step by its gradient's scale and decays the matrices
#   (not biases and norms), decoupled from the gradient.
# - The learning rate warms up linearly, then decays along a cosine; gradients are
#   clipped to a global norm.
# - Accumulating $k$ micro-batches, each loss divided by $k$, gives the gradient of the
#   whole batch.
# - The `Trainer` is the twenty-line loop plus precision, compilation, processes,
#   evaluation, samples and checkpoints that resume bit for bit.
# - Speed is tokens/s and MFU; mixed precision, fused attention, `torch.compile` and
#   batch size make it; DDP copies the model, FSDP shards its 16 bytes a parameter.
# - Loss falls as a power law in parameters, data and compute; compute-optimal training
#   uses about 20 tokens a parameter.
#
# ## Exercises
#
# In {doc}`the exercise notebook <../exercises/solutions/09_pretraining>` (and
# `exercises/09_pretraining.ipynb` in JupyterLab):
#
# - **Exercise 9-1, warm-up:** the warmup-and-cosine schedule, step by step, against the
#   package's.
# - **Exercise 9-2, medium:** gradient accumulation as a function, checked against the
#   gradient of the whole batch.
# - **Exercise 9-3, medium:** the memory of AdamW training for a GPT configuration, with
#   and without sharding.
# - **Exercise 9-4, stretch (written):** what the loss of the first step says, and the
#   bugs it catches.
#
# ## Further reading
#
# - {cite:t}`loshchilov2019decoupled`: why weight decay must be decoupled from Adam's
#   gradient, with the experiments that made AdamW the default.
# - {cite:t}`micikevicius2018mixed`: mixed-precision training with float16, loss scaling
#   and float32 master weights.
# - {cite:t}`rajbhandari2020zero`: the memory arithmetic of training, and how sharding
#   the optimizer state, the gradients and the weights removes DDP's copies.
# - {cite:t}`kaplan2020scaling` and {cite:t}`hoffmann2022training`: the scaling laws,
#   and how to spend a compute budget between model size and data.
# - {cite:t}`karpathy2022nanogpt`: nanoGPT, a compact and fast GPT training script whose
#   reference runs this chapter reproduces.
