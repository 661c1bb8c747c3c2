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
# # Neural language models, and why RNNs struggled
#
# {doc}`Chapter 1 <../chapters/01_language_models>` counted its models, and counting hit
# a wall: a context never seen says nothing. This chapter builds the same bigram model
# as a neural network, trained by gradient descent with the course's training loop, and
# proves that it finds the counted table. Then it asks why the first neural models of
# whole contexts, recurrent networks, struggled, what the Transformer changed, and how
# the GPT family grew out of it.
#
# ```{admonition} What you will be able to do
# - read the shapes of a batch through a model, and use autograd, an optimizer step,
#   AdamW and a learning-rate schedule, each checked against its formula;
# - train a neural bigram model with `gptcourse.training.train` and measure it with
#   `estimate_loss`, and explain why its optimum is the counted table;
# - measure how the gradient of a recurrent network vanishes or explodes with distance,
#   and say which remedy answers which failure;
# - compare recurrent, convolutional and self-attention layers by cost, sequential steps
#   and path length, and check the comparison by counting;
# - tell the encoder–decoder, encoder-only (BERT) and decoder-only (GPT) families apart,
#   and count the parameters of the GPTs from their published shapes.
# ```

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from gptcourse import data, plotting
from gptcourse.batches import get_batch, split_text, train_val_split
from gptcourse.bigram import BigramLanguageModel, CountBigramModel, pair_counts
from gptcourse.char_tokenizer import CharTokenizer
from gptcourse.glue import glue

text = data.load_text("tinyshakespeare")
tokenizer = CharTokenizer.from_text(text)
V = tokenizer.vocab_size
train, val = train_val_split(torch.tensor(tokenizer.encode(text)), val_fraction=0.1)
assert tokenizer.decode(val) == split_text(text, 0.1)[1]  # the course's one split
counts = pair_counts(train, V)  # (V, V): how often j follows i, chapter 1's table
print(f"{V} characters; train {len(train):,} characters, validation {len(val):,}")

# %% [markdown]
# ## What does the course assume?
#
# Four tools of PyTorch carry every model of this course: tensors and their shapes,
# automatic differentiation ({term}`autograd`), the training step, and the {term}`AdamW`
# optimizer with a {term}`learning-rate schedule`. This section explains each once, with
# a cell that runs it and an assertion that checks it. If you know them, skim it.
#
# ### Tensors and shapes
#
# A batch of text is a tensor of token ids of shape $(B, T)$: $B$ windows of $T$
# consecutive tokens. A model turns each id into a vector of $C$ numbers, so the batch
# becomes $(B, T, C)$, and at the end into $V$ logits, one per token of the vocabulary:
# $(B, T, V)$. Comments in the course's code give these shapes. An
# {term}`embedding` table, {py:class}`torch.nn.Embedding`, does the first step: it is a
# $V \times C$ matrix, and looking up row $i$ is the same as multiplying the one-hot
# vector of $i$ by the matrix.

# %%
torch.manual_seed(0)
x = torch.randint(V, (4, 8))  # (B, T) = (4, 8): four windows of eight token ids
table = nn.Embedding(V, 16)  # (V, C): one learned vector of C = 16 numbers per token
h = table(x)  # (B, T, C): every id replaced by its row
print(f"ids {tuple(x.shape)} -> vectors {tuple(h.shape)}")
assert torch.equal(h[2, 5], table.weight[x[2, 5]])  # a lookup picks one row
one_hot = F.one_hot(x, V).float()  # (B, T, V)
torch.testing.assert_close(one_hot @ table.weight, h)  # = one-hot times the table
# Broadcasting: a (B, 1, C) tensor is repeated along T to subtract from (B, T, C).
centred = h - h.mean(dim=1, keepdim=True)
assert centred.shape == (4, 8, 16) and centred.mean(dim=1).abs().max() < 1e-6
print("mean over T after centring: below 1e-6 everywhere")

# %% [markdown]
# ### Autograd
#
# Training needs the gradient of the loss with respect to every weight. PyTorch records
# the operations that produce a tensor from tensors marked `requires_grad=True`; calling
# {py:meth}`torch.Tensor.backward` on a scalar result then applies the chain rule
# backwards through them and stores each gradient in the weight's `.grad`. For
# $L = (w \cdot x)^2$ the gradient is $2 (w \cdot x)\, x$; we check autograd against it
# and against finite differences.

# %%
w = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
loss = (w @ x) ** 2
loss.backward()  # fills w.grad with dL/dw
by_hand = 2 * (w @ x).detach() * x
torch.testing.assert_close(w.grad, by_hand)
eps = 1e-6
with torch.no_grad():
    steps = torch.eye(3, dtype=torch.float64) * eps  # one small step along each weight
    numeric = torch.stack([((w + e) @ x) ** 2 - ((w - e) @ x) ** 2 for e in steps])
torch.testing.assert_close(w.grad, numeric / (2 * eps))
print(f"dL/dw = {w.grad.tolist()}: by autograd, by hand, by finite differences")

# %% [markdown]
# ### One training step
#
# A training step computes the loss on a batch, clears the gradients of the previous
# step (PyTorch adds new gradients to old ones), backpropagates, and lets the optimizer
# move the weights. Plain gradient descent, {py:class}`torch.optim.SGD`, moves each
# weight by $-\eta$ times its gradient, with the *learning rate* $\eta$:

# %%
torch.manual_seed(0)
model = nn.Linear(3, 1)
x, y = torch.randn(16, 3), torch.randn(16, 1)  # a batch of 16 inputs and targets
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
before = [p.detach().clone() for p in model.parameters()]

loss = F.mse_loss(model(x), y)
optimizer.zero_grad(set_to_none=True)  # forget the previous step's gradients
loss.backward()  # compute this step's
optimizer.step()  # move the weights

for p, p0 in zip(model.parameters(), before, strict=True):
    torch.testing.assert_close(p.detach(), p0 - 0.1 * p.grad)  # w <- w - lr * grad
with torch.no_grad():
    after = F.mse_loss(model(x), y)
assert after < loss
print(f"loss {loss.item():.3f} -> {after.item():.3f} after one step")

# %% [markdown]
# ### AdamW and a learning-rate schedule
#
# The course trains with AdamW {cite:p}`kingma2015adam,loshchilov2019decoupled`
# ({py:class}`torch.optim.AdamW`). It keeps two running averages per weight, of the
# gradient $g$ and of its square, corrects them for starting at zero, and divides one
# by the square root of the other, so that every weight moves by about $\eta$ whatever
# the scale of its gradient; *weight decay* $\lambda$ shrinks every weight a little at
# each step. At step $t$:
#
# $$
# m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad v_t = \beta_2 v_{t-1} + (1 - \beta_2)
# g_t^2, \quad \theta_t = \theta_{t-1} - \eta \Big(\frac{m_t / (1 -
# \beta_1^t)}{\sqrt{v_t / (1 - \beta_2^t)} + \epsilon} + \lambda\, \theta_{t-1}\Big).
# $$

# %%
torch.manual_seed(0)
theta = torch.randn(5, dtype=torch.float64, requires_grad=True)
grads = torch.randn(3, 5, dtype=torch.float64)  # the gradients of three steps
lr, (b1, b2), eps, wd = 0.1, (0.9, 0.999), 1e-8, 0.01
optimizer = torch.optim.AdamW([theta], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)

mine = theta.detach().clone()
m, v = torch.zeros(5, dtype=torch.float64), torch.zeros(5, dtype=torch.float64)
for t, g in enumerate(grads, start=1):
    theta.grad = g.clone()
    optimizer.step()  # PyTorch's step
    m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g**2  # the formula's
    update = (m / (1 - b1**t)) / ((v / (1 - b2**t)).sqrt() + eps)
    mine = mine - lr * (update + wd * mine)
largest = (theta.detach() - mine).abs().max().item()
assert largest < 1e-12
print("three AdamW steps equal the formula: largest difference below 1e-12")

# %% [markdown]
# The learning rate need not stay fixed. The course's models warm up, raising $\eta$
# linearly over the first steps while AdamW's averages are still noisy, then decay it
# along a cosine {cite:p}`loshchilov2017sgdr` to a small fraction at the last step.
# `gptcourse.optim.warmup_cosine` builds that schedule from PyTorch's schedulers
# ({numref}`fig-lr-schedule`); a scheduler's `step()` follows each optimizer step.

# %% mystnb={"figure": {"caption": "The learning rate of `warmup_cosine` over 100 steps with 10 warmup steps: linear warmup to the peak, then a cosine decay to a tenth of it.", "name": "fig-lr-schedule"}, "image": {"alt": "A line chart of the learning rate against the step, from 0 to 100. It rises in a straight line from 0.1 to 1.0 over the first 10 steps, then falls along a half cosine, steeply in the middle, to 0.1 at step 100."}}
from gptcourse.optim import warmup_cosine

optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
schedule = warmup_cosine(optimizer, warmup_steps=10, max_steps=100, min_lr_ratio=0.1)
lrs = []
for _ in range(101):
    lrs.append(schedule.get_last_lr()[0])
    optimizer.step()
    schedule.step()
assert math.isclose(lrs[0], 0.1) and math.isclose(
    lrs[10], 1.0
)  # lr / 10, then the peak
assert all(a < b for a, b in zip(lrs[:10], lrs[1:11], strict=True))  # rising
assert all(a > b for a, b in zip(lrs[10:100], lrs[11:], strict=True))  # then falling
assert math.isclose(lrs[100], 0.1)  # to min_lr_ratio times the peak

plotting.use_style()
fig, ax = plt.subplots(figsize=(7.5, 2.6))
ax.plot(lrs, color="tab:blue")
ax.set_xlabel("step")
ax.set_ylabel("learning rate / peak")
plt.show()

# %% [markdown]
# ## Can a neural network learn the same table?
#
# Counting works for one character of context, but it does not scale to more, as
# chapter 1's last section showed. Neural networks do, so let us build the same model as
# a neural network and train it by gradient descent, the way every model in this course
# is trained. The network is a learned $V \times V$ table of {term}`logits`
# (unnormalised log-probabilities): the row of the current token, passed through a
# {term}`softmax`, is the distribution of the next one. An embedding table of width $V$
# is such a table with a row lookup. We start it at zero, which is the uniform model.
#
# Like every language model of the course, it is called as
# `logits, loss = model(idx, targets)`: ids of shape $(B, T)$ in, logits of shape
# $(B, T, V)$ out, and, when the targets (the next tokens) are given, the
# {term}`cross-entropy` of the logits against them
# ({py:func}`torch.nn.functional.cross_entropy`).


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
x, y = train[None, :1000], train[None, 1:1001]  # (1, 1000): text and its next tokens
_, loss = mine(x, y)
print(f"loss at initialisation: {loss.item():.4f}, log V = {math.log(V):.4f}")
assert math.isclose(loss.item(), math.log(V), rel_tol=1e-6)

# %% [markdown]
# The package's `BigramLanguageModel` is the same model: given the same weights, it
# gives the same logits and the same loss. From here on we use the package's.

# %%
theirs = BigramLanguageModel(V)
torch.manual_seed(0)
nn.init.normal_(mine.table.weight)
with torch.no_grad():
    theirs.token_logits.weight.copy_(mine.table.weight)
logits_mine, loss_mine = mine(x, y)
logits_theirs, loss_theirs = theirs(x, y)
torch.testing.assert_close(logits_mine, logits_theirs)
torch.testing.assert_close(loss_mine, loss_theirs)
print("same weights: same logits, same loss")

# %% [markdown]
# To compare, we need chapter 1's counted models and its shortcut for the cross-entropy
# of a bigram table on a split, from the split's pair counts $M_{ij}$:
# $H = -\sum_{ij} M_{ij} \log p(j \mid i) / \sum_{ij} M_{ij}$.


# %%
def split_loss(log_probs: torch.Tensor, pair_counts_of_split: torch.Tensor) -> float:
    """Cross-entropy of a bigram table (V, V) on a split, from its pair counts."""
    n = pair_counts_of_split.double()
    terms = torch.where(n > 0, n * log_probs.double(), 0.0)  # 0 * log 0 counts as 0
    return (-terms.sum() / n.sum()).item()


train_counts, val_counts = counts, pair_counts(val, V)
mle = counts.double() / counts.sum(dim=1, keepdim=True)  # alpha = 0: chapter 1's table
count_model = CountBigramModel.from_ids(train, V, alpha=1.0)  # add-one smoothing
H_count_train = split_loss(mle.log(), train_counts)
H_count_val = split_loss(count_model.log_probs(), val_counts)
_, by_model = count_model(val[None, :-1], val[None, 1:])  # the model's own loss
assert math.isclose(H_count_val, by_model.item(), rel_tol=1e-5)
print(f"counted, alpha = 0: train H = {H_count_train:.4f}")
print(f"counted, alpha = 1: validation H = {H_count_val:.4f}")

# %% [markdown]
# Training is the step of the primer, repeated: draw random windows of the training
# text (`get_batch` from the package), compute the loss, and move the table a step
# down its gradient. We use AdamW without weight decay (which would pull every logit
# towards zero, a smoothing of its own), and a cosine learning rate that decays to zero.
# Every model of the course is trained with this loop; the package has it as
# `gptcourse.training.train`, which we check is the same loop and use from then on.


# %%
def fresh(steps: int):
    """A zero bigram, its AdamW, a cosine schedule over `steps`, seeded batches."""
    torch.manual_seed(0)
    model = BigramLanguageModel(V)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.3, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    g = torch.Generator().manual_seed(0)

    def next_batch() -> tuple[torch.Tensor, torch.Tensor]:
        return get_batch(train, batch_size=32, block_size=128, generator=g)

    return model, optimizer, schedule, next_batch


model, optimizer, schedule, next_batch = fresh(steps=20)
by_hand = []
for _ in range(20):
    x, y = next_batch()  # (32, 128) each: 32 windows of 128 characters
    _, loss = model(x, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    schedule.step()
    by_hand.append(loss.item())
print(f"batch loss: {by_hand[0]:.3f} at the first step, {by_hand[-1]:.3f} at the 20th")

# %% [markdown]
# The package's `train` runs the same loop: with the same seeds it gives the same
# losses and the same table. We then train with it for 300 steps. Its companion
# `estimate_loss` measures a model without gradients, here on the whole validation
# split at once, and agrees with chapter 1's shortcut.

# %%
from gptcourse.training import estimate_loss
from gptcourse.training import train as train_loop

package_model, optimizer, schedule, next_batch = fresh(steps=20)
history = train_loop(package_model, optimizer, next_batch, 20, scheduler=schedule)
assert history.losses == by_hand
assert torch.equal(package_model.token_logits.weight, model.token_logits.weight)
print("train(): the same 20 losses and the same table")

steps = 300
model, optimizer, schedule, next_batch = fresh(steps)
batch_losses = train_loop(
    model, optimizer, next_batch, steps, scheduler=schedule
).losses
H_neural_train = split_loss(model.log_probs(), train_counts)
H_neural_val = estimate_loss(model, (val[None, :-1], val[None, 1:]))  # the whole split
assert math.isclose(
    H_neural_val, split_loss(model.log_probs(), val_counts), rel_tol=1e-5
)
H_count_1_train = split_loss(count_model.log_probs(), train_counts)
print("                          train H   val H")
print(f"neural bigram             {H_neural_train:7.4f}   {H_neural_val:7.4f}")
print(f"count bigram, alpha = 0   {H_count_train:7.4f}       inf")
print(f"count bigram, alpha = 1   {H_count_1_train:7.4f}   {H_count_val:7.4f}")

# %% mystnb={"figure": {"caption": "Training the neural bigram: the loss of each batch (blue) starts at the uniform model's $\\log V$ (dotted) and within a few dozen steps falls onto the training loss of the count model without smoothing (dashed red), which it never goes below on average.", "name": "fig-bigram-training"}, "image": {"alt": "A line chart of cross-entropy in nats against 300 training steps. The blue batch loss starts at 4.17, at the dotted line of the uniform model, drops steeply to about 2.5 within a few dozen steps, then hovers in a narrow band just on the dashed red line of the count model, at 2.45."}}
fig, ax = plt.subplots(figsize=(7.5, 3.5))
ax.plot(
    batch_losses,
    color="tab:blue",
    linewidth=1,
    label="neural bigram, loss of each batch",
)
ax.axhline(math.log(V), color="tab:gray", linestyle=":", label="uniform model, log V")
ax.axhline(
    H_count_train,
    color="tab:red",
    linestyle="--",
    label="count model (alpha = 0), train",
)
ax.set_xlabel("training step")
ax.set_ylabel("cross-entropy (nats)")
ax.set_ylim(2.3, 4.3)
ax.legend()
plt.show()
assert math.isclose(batch_losses[0], math.log(V), rel_tol=1e-6)  # starts uniform
assert sum(batch_losses[-100:]) / 100 > H_count_train - 0.01  # never below, on average

# %% [markdown]
# The neural model's training loss ({numref}`fig-bigram-training`) comes within
# {glue:text}`neural_gap` nats of the unsmoothed count model's, and never below it. That
# is no coincidence. Both models choose a distribution $q(\cdot \mid i)$ for every
# current character $i$, so they belong to the same family, and on the training text the
# gap between any member $q$ and the count model $\hat p$ is a weighted sum of
# *Kullback-Leibler divergences*,
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
kl_rows = torch.where(mle > 0, mle * (mle.log() - log_q), 0.0).sum(
    dim=1
)  # (V,): KL of each row
row_weights = counts.sum(dim=1).double() / counts.sum()
gap = (row_weights * kl_rows).sum().item()
print(f"H(neural) - H(count), train: {H_neural_train - H_count_train:.5f} nats")
print(f"weighted KL divergence:      {gap:.5f} nats")
assert math.isclose(H_neural_train - H_count_train, gap, rel_tol=1e-4, abs_tol=1e-6)
assert gap >= 0
glue("neural_gap", f"{gap:.3f}")

same = BigramLanguageModel(V)
with torch.no_grad():
    same.token_logits.weight.copy_(count_model.log_probs())
xv, yv = val[None, :-1], val[None, 1:]
torch.testing.assert_close(same(xv, yv)[1], count_model(xv, yv)[1])
q, u = tokenizer.stoi["q"], tokenizer.stoi["u"]
counted, learned = mle[q, u].item(), log_q[q, u].exp().item()
print(f"p('u' | 'q'): counted {counted:.4f}, learned {learned:.4f}")

# %% [markdown]
# Its samples are as Shakespearean as the count model's, which is to say, barely. With
# the same seed it writes almost the same text as the count model did: the two tables
# are that close.

# %%
start = torch.tensor([[tokenizer.stoi["\n"]]])  # (B=1, T=1): start after a line break
for name, bigram in [("counted", count_model), ("learned", model)]:
    sample = bigram.generate(
        start, max_new_tokens=120, generator=torch.Generator().manual_seed(0)
    )
    print(f"--- {name}:", tokenizer.decode(sample[0, 1:]), sep="\n")

# %% [markdown]
# ## Why did recurrent networks struggle?
#
# The first neural answer to "use the whole context" was the
# {term}`recurrent neural network` (RNN) {cite:p}`elman1990finding`. It reads the text
# one token at a time and carries what it has read in a hidden state
# $h_t \in \mathbb{R}^H$, updated by the same function at every step:
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
    """Run the RNN from h over the inputs xs (T, D): the states (T + 1, H), h first."""
    states = [h]
    for x in xs:
        states.append(torch.tanh(W @ states[-1] + U @ x))
    return torch.stack(states)


def jacobian_products(W: torch.Tensor, hs: torch.Tensor) -> torch.Tensor:
    """dh_T / dh_{T-d} for d = 0 .. T by the product formula: shape (T + 1, H, H)."""
    J = torch.eye(len(W), dtype=W.dtype)
    products = [J]
    for s in range(len(hs) - 1, 0, -1):  # s = T, T-1, ..., 1: a factor on the right
        J = J @ (torch.diag(1 - hs[s] ** 2) @ W)
        products.append(J)
    return torch.stack(products)


# %% [markdown]
# For four spectral radii we run the RNN, multiply the Jacobians, check two of the
# products against autograd's Jacobian ({py:func}`torch.func.jacrev`), and keep the
# spectral norm of every product: how strongly $h_T$ responds to a change $T - t$ steps
# back.

# %%
rnn_norms = {}
for rho in (0.5, 1.0, 2.0, 3.0):
    W = rho * W_direction
    hs = rnn_states(W, xs, h0)  # (T + 1, H)
    products = jacobian_products(W, hs)  # (T + 1, H, H)
    for t in (0, T // 2):  # autograd's Jacobian of h_T with respect to h_t
        J = jacrev(lambda h, W=W, t=t: rnn_states(W, xs[t:], h)[-1])(hs[t])
        torch.testing.assert_close(J, products[T - t], rtol=1e-9, atol=1e-300)
    rnn_norms[rho] = torch.linalg.matrix_norm(products, ord=2)  # (T + 1,)
print("the product of Jacobians equals autograd's Jacobian for every rho")

# %% [markdown]
# Attention, the Transformer's mechanism that
# {doc}`chapter 4 <../chapters/04_self_attention>` builds, does something different:
# the output at the last position is a weighted average of *all* positions (here, one
# attention head over random inputs $x_0, \dots, x_T$),
#
# $$
# y_T = \sum_{t=0}^{T} a_t\, W_v x_t, \qquad a = \mathrm{softmax}_t\Big(\frac{(W_q
# x_T)^\top (W_k x_t)}{\sqrt{d}}\Big),
# $$
#
# so every position is one step away from the output, however far back it is: a path
# of length one. Its gradients depend on the random inputs, so we average them over 64
# random inputs.

# %%
from torch.func import vmap

d = 32
g = torch.Generator().manual_seed(0)
W_q, W_k, W_v = (
    torch.randn(d, d, generator=g, dtype=torch.float64) / math.sqrt(d) for _ in range(3)
)
Xs = torch.randn(64, T + 1, d, generator=g, dtype=torch.float64)  # 64 inputs (T + 1, d)


def attend_from_last(X: torch.Tensor) -> torch.Tensor:
    """The attention output at the last position, (d,), for inputs X (T + 1, d)."""
    q, K, Vals = X[-1] @ W_q, X @ W_k, X @ W_v  # (d,), (T + 1, d), (T + 1, d)
    a = torch.softmax(K @ q / math.sqrt(d), dim=0)  # (T + 1,): how much each counts
    return a @ Vals


# The formula is what PyTorch's attention computes (it also scales by 1/sqrt(d)):
X = Xs[0]
torch_attention = F.scaled_dot_product_attention(
    X[-1:] @ W_q, X @ W_k, X @ W_v
)  # (1, d)
torch.testing.assert_close(attend_from_last(X), torch_attention[0])

J = vmap(jacrev(attend_from_last))(Xs)  # (64, d, T + 1, d): dy_T / dx_t for every t
norms = torch.linalg.matrix_norm(J.permute(0, 2, 1, 3), ord=2)  # (64, T + 1)
# (T + 1,): averaged over the inputs, indexed by the distance T - t
attention_norms = norms.mean(dim=0).flip(0)

# %% mystnb={"figure": {"caption": "How much of the gradient reaches back $T - t$ steps (log scale). Through an RNN it shrinks or grows exponentially with the distance, depending on the spectral radius $\\rho$ of its recurrent weights. Through this toy attention (black), which has no positions, it is flat by construction.", "name": "fig-gradient-distance"}, "image": {"alt": "A line chart of gradient norm on a logarithmic axis from 10 to the minus 28 up to 10 to the 6, against the distance back from 0 to 60 steps. The RNN curves for spectral radius 0.5 and 1.0 fall in straight lines, to 10 to the minus 28 and 10 to the minus 12 at 60 steps; radius 2.0 stays near 1; radius 3.0 rises to about 10 to the 5. The black attention curve is flat at about 0.03 from the first step on."}}
fig, ax = plt.subplots(figsize=(7.5, 4))
for rho, norms in rnn_norms.items():
    ax.plot(norms.numpy(), label=f"RNN, spectral radius {rho}")
ax.plot(attention_norms.numpy(), color="black", linewidth=2, label="attention (toy)")
ax.set_yscale("log")
ax.set_xlabel("distance back, T - t (steps)")
ax.set_ylabel(r"gradient norm, $\|\partial\, y_T / \partial\, x_t\|$")
ax.legend(ncols=2)
plt.show()
curves = {f"RNN, rho = {rho}": norms for rho, norms in rnn_norms.items()}
curves["attention"] = attention_norms
ratio = {label: (norms[60] / norms[1]).item() for label, norms in curves.items()}
print("gradient from 60 steps back / gradient from 1 step back, as a power of 10:")
for label, r in ratio.items():
    print(f"  {label:15} 10^{math.log10(r):.1f}")
assert ratio["RNN, rho = 0.5"] < 1e-28 and ratio["RNN, rho = 1.0"] < 1e-12
assert ratio["RNN, rho = 3.0"] > 1e4 and 0.5 < ratio["attention"] < 2

for key, label in [
    ("rnn_05", "rho = 0.5"),
    ("rnn_10", "rho = 1.0"),
    ("rnn_30", "rho = 3.0"),
]:
    power = math.log10(ratio[f"RNN, {label}"])
    superscript = f"{power:.0f}".translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    glue(key, f"10{superscript}")  # a power of ten, written as 10⁻²⁸

# %% [markdown]
# At spectral radius 0.5 ({numref}`fig-gradient-distance`), the gradient from 60 steps
# back is about {glue:text}`rnn_05` of the one from 1 step back, and even at 1.0 it is
# about {glue:text}`rnn_10`: the tanh's slope, at most 1, shrinks it a little more at
# every step. Such a network cannot learn that the speaker two turns back, hundreds of
# characters away, matters, because almost no training signal reaches that far: the
# gradient *vanishes* (a {term}`vanishing gradient`). With large weights it *explodes*
# instead ({term}`exploding gradient`), {glue:text}`rnn_30`
# times at radius 3, and a single step of gradient descent can wreck the weights. In
# between lies a narrow band where neither happens, and nothing in training keeps $W$
# inside it {cite:p}`pascanu2013difficulty`.
#
# The two failures have different remedies, and neither cures the other:
#
# - **Exploding gradients** are tamed by {term}`gradient clipping`: when the gradient's
#   norm exceeds a threshold, scale it down to the threshold before the step
#   ({py:func}`torch.nn.utils.clip_grad_norm_`) {cite:p}`pascanu2013difficulty`. That
#   bounds the size of a step; it cannot restore a signal that has vanished.
# - **Vanishing gradients** are answered by *gating*: the {term}`LSTM`
#   {cite:p}`hochreiter1997long` carries its memory in a cell state that is updated by
#   *adding* to it, through gates that the network learns to open and close, so that
#   along that path the gradient is not multiplied by a shrinking factor at every step.
#
# Neither shortens the path: from token 1 to token 61 it is still 60 steps long, and
# those steps must run one after the other, which also makes RNNs slow to train on long
# texts. Attention's path is one step long, and all positions are computed at once.
#
# ```{admonition} A common mistake: "attention's gradient does not depend on distance"
# :class: warning
# The flat black line of {numref}`fig-gradient-distance` is often read as "attention
# gives a token 60 steps back as much signal as the one before". In this toy it is flat
# *by construction*: the attention has no positions (no positional encoding, no mask),
# so a token 60 steps back is, to it, exactly like one 1 step back. And no position gets
# the whole signal: the softmax shares the gradient of one output among all the
# positions it attends to, so each gets about $1/T$ of it, as the next cell measures.
# What is true is structural: every position is one step from the output, a *path of
# length one*, so the gradient never passes through a product of $T$ Jacobians and
# nothing makes it shrink or grow exponentially with the distance. Real models add
# positions ({doc}`chapter 6 <../chapters/06_positional_encoding>`) and learn where to
# attend.
# ```


# %%
def attention_gradient(n: int) -> float:
    """Mean norm of dy / dx_t over t < n - 1 and 16 random inputs of n positions."""
    g = torch.Generator().manual_seed(n)
    X = torch.randn(16, n, d, generator=g, dtype=torch.float64)  # (16, n, d)
    J = vmap(jacrev(attend_from_last))(X)  # (16, d, n, d)
    norms = torch.linalg.matrix_norm(J.permute(0, 2, 1, 3), ord=2)  # (16, n)
    return norms[:, :-1].mean().item()  # the last position is also the query: left out


print("positions n   mean gradient per position   n x gradient")
spread = {}
for n in (16, 61, 241):
    spread[n] = attention_gradient(n)
    print(f"{n:11}   {spread[n]:26.4f}   {n * spread[n]:12.2f}")
assert spread[16] > 3 * spread[61] > 9 * spread[241]  # about 1/n: spread over n inputs
for name, value in [
    ("grad_16", f"{spread[16]:.3f}"),
    ("grad_241", f"{spread[241]:.4f}"),
    ("grad_ratio", f"{spread[16] / spread[241]:.0f}"),
]:
    glue(name, value)  # quoted in the text below

# %% [markdown]
# Fifteen times as many positions (241 against 16), and each gets
# {glue:text}`grad_ratio` times less gradient ({glue:text}`grad_241` against
# {glue:text}`grad_16`): attention does not amplify a distant signal, it reaches it in
# one step and shares it.

# %% [markdown]
# ## What does each kind of layer cost, and how far apart are two tokens?
#
# Three kinds of layer can read a sequence of $n$ vectors of width $d$: a recurrent
# layer, a convolution with kernels of width $k$ {cite:p}`gehring2017convolutional`, and
# self-attention. {cite:t}`vaswani2017attention` (their Table 1) compare them on three
# counts: the computation per layer, the number of *sequential* operations (steps that
# must run one after the other, whatever the hardware), and the
# {term}`maximum path length`, the number of steps a signal takes between the two most
# distant positions.
#
# | Layer | Computation per layer | Sequential operations | Maximum path length |
# |---|---|---|---|
# | Self-attention | $O(n^2 d)$ | $O(1)$ | $O(1)$ |
# | Recurrent | $O(n d^2)$ | $O(n)$ | $O(n)$ |
# | Convolutional | $O(k n d^2)$ | $O(1)$ | $O(n/k)$, dilated $O(\log_k n)$ |
#
# Attention pays $n^2$ to connect every pair of positions in one step; it is cheaper
# than a recurrent layer as long as $n < d$, and the table's last column is what the
# previous section measured. We check the first column by counting the floating-point
# operations that PyTorch performs
# (`torch.utils.flop_counter.FlopCounterMode`; a multiply-add is 2 FLOPs), for
# the core of each layer at $n = 256$, $d = 64$, $k = 3$:

# %%
from torch.utils.flop_counter import FlopCounterMode


def flops(fn, *args) -> int:
    with FlopCounterMode(display=False) as counter:
        fn(*args)
    return counter.get_total_flops()


def recurrent(xs, W, U):  # xs (n, d): one step after the other
    h = torch.zeros(1, xs.shape[1])  # (1, d)
    for x in xs:
        h = torch.tanh(h @ W + x[None] @ U)
    return h


n, d, k = 256, 64, 3
xs = torch.randn(n, d)
W, U = torch.randn(d, d), torch.randn(d, d)
conv = nn.Conv1d(d, d, k, padding=k - 1, bias=False)
counted = {
    "self-attention": flops(
        F.scaled_dot_product_attention, xs[None], xs[None], xs[None]
    ),
    "recurrent": flops(recurrent, xs, W, U),
    "convolutional": flops(conv, xs.T[None]),
}
formula = {"self-attention": 2 * 2 * n * n * d, "recurrent": 2 * 2 * n * d * d}
formula["convolutional"] = 2 * k * (n + k - 1) * d * d  # n + k - 1 outputs with padding
for layer, count in counted.items():
    print(f"{layer:15} {count:>12,} FLOPs = formula {formula[layer]:>12,}")
assert counted == formula

# %% [markdown]
# Attention's count is $QK^\top$ and the weighted sum of the values, $2n^2d$
# multiply-adds (the projections to queries, keys and values add $3nd^2$, as many as a
# convolution of width 3). The last column we can also count, with autograd: stack
# causal convolutions of width $k$ and find the fewest layers whose last output
# depends on the first input. Contiguous kernels widen the view by $k - 1$ positions
# per layer, so $\lceil (n-1)/(k-1) \rceil$ layers; dilated ones (spacing $1, k, k^2,
# \dots$) multiply it by $k$, so $\lceil \log_k n \rceil$. For each formula, autograd
# confirms that its number of layers reaches the first input and one layer fewer does
# not:


# %%
def reaches(n: int, k: int, layers: int, dilated: bool) -> bool:
    """Whether the last output of a stack of `layers` width-k convolutions sees x_0."""
    x = torch.ones(1, 1, n, requires_grad=True)
    h = x
    for layer in range(layers):
        dilation = k**layer if dilated else 1
        pad = (k - 1) * dilation  # on the left only: position t sees t and before
        weight = torch.ones(1, 1, k)  # positive weights: no gradient cancels
        h = F.conv1d(F.pad(h, (pad, 0)), weight, dilation=dilation)
    (grad,) = torch.autograd.grad(h[0, 0, -1], x)
    return bool(grad[0, 0, 0] != 0)


def contiguous(n: int, k: int) -> int:
    return math.ceil((n - 1) / (k - 1))


def dilated(n: int, k: int) -> int:
    return math.ceil(math.log(n) / math.log(k) - 1e-9)  # k ** layers >= n


print("  n   k   layers needed: contiguous  dilated")
for n, k in [(64, 3), (100, 4), (256, 5), (1000, 10)]:
    for dil, L in [(False, contiguous(n, k)), (True, dilated(n, k))]:
        assert reaches(n, k, L, dil) and not reaches(n, k, L - 1, dil)  # no fewer
    print(f"{n:4} {k:3}   {contiguous(n, k):26} {dilated(n, k):8}")
for name, value in [
    ("conv_flat_1000", f"{contiguous(1000, 3)}"),
    ("conv_dil_1000", f"{dilated(1000, 3)}"),
]:
    glue(name, value)  # quoted in the text below

# %% [markdown]
# By these formulas, for the first of a thousand characters to reach the last, a
# convolution of width 3 needs {glue:text}`conv_flat_1000` layers
# ({glue:text}`conv_dil_1000` with dilations); a recurrent layer needs a thousand
# sequential steps; self-attention needs one layer and one step.
#
# ```{admonition} A common mistake: CNNs "suffer from vanishing gradients" like RNNs
# :class: warning
# The outline of this course listed convolutional networks next to RNNs under vanishing
# gradients. Their limit is a different one: a convolution sees only $k$ neighbours, so
# two positions $n$ apart are connected only through a stack of
# $\lceil (n-1)/(k-1) \rceil$ layers ($O(n/k)$, or $O(\log_k n)$ with dilations), as the
# table and the measurement above show. Within that {term}`receptive field` all
# positions are computed in parallel, with no recurrence through time, and so no product
# of one Jacobian per time step. (Very deep networks of any kind can lose gradient
# through depth; residual connections {cite:p}`he2016deep`, which chapter 7 builds into
# the GPT, answer that.)
# ```
#
# ## How did we get from the Transformer to GPT?
#
# - **2017, the Transformer** {cite:p}`vaswani2017attention`. Built for translation, it
#   is an {term}`encoder–decoder`: an *encoder*, whose self-attention reads the whole
#   source sentence in both directions, and a *decoder*, which writes the translation
#   one token at a time with *causal* (masked) self-attention over what it has written
#   so far, plus cross-attention to the encoder's output. No recurrence anywhere.
# - **2018, GPT** {cite:p}`radford2018improving`. A {term}`decoder-only` Transformer:
#   the decoder's causal self-attention stack, without the encoder or the
#   cross-attention, trained as a language model. It is the architecture of every GPT
#   since, and of this course.
# - **2018, BERT** {cite:p}`devlin2019bert`. The opposite choice: {term}`encoder-only`,
#   bidirectional, trained to fill in masked-out words. Excellent at understanding a
#   given text, but not made to generate one left to right.
# - **2019, GPT-2** {cite:p}`radford2019language` and **2020, GPT-3**
#   {cite:p}`brown2020language`. The same decoder-only design, scaled up (and with each
#   {term}`layer normalisation` moved to the input of its sub-block, which chapter 7
#   builds). GPT-2 showed that a large language model does tasks it was never
#   fine-tuned for; GPT-3 that, larger still, it learns a task from a few examples
#   written in its prompt, without any weight update.
#
# {numref}`fig-transformer-families` draws the three families side by side, with what
# each stack's self-attention lets a position see.

# %% mystnb={"figure": {"caption": "The three families of Transformer. The encoder–decoder (left) reads a source with bidirectional self-attention and writes the target with causal self-attention plus cross-attention to the encoder (arrow). BERT keeps only the encoder; GPT only the decoder, without cross-attention. Under each stack, what its self-attention lets each position (a row) see: every position, or only itself and the past.", "name": "fig-transformer-families"}, "image": {"alt": "Three panels. Left, encoder-decoder: a blue encoder box labelled 'sees all' and an orange decoder box labelled 'sees the past', an arrow from encoder to decoder, inputs 'source text' and 'target so far', output 'next target token'. Middle, encoder-only (BERT): one blue encoder box, input 'text with [MASK]s', output 'masked words'. Right, decoder-only (GPT): one orange decoder box, input 'text so far', output 'next token'. Under each box a 5 by 5 grid: fully filled for an encoder, lower triangle filled for a decoder."}}
fig, axes = plt.subplots(1, 3, figsize=(7.5, 3.4))
plotting.transformer_families(axes)  # the drawing lives in the package
plt.show()

# %% [markdown]
# ```{admonition} A common mistake: GPT is "the encoder of the Transformer"
# :class: warning
# GPT is often described as "the encoder part of the Transformer". It is the other part
# ({numref}`fig-transformer-families`): GPT keeps the *decoder*'s masked
# self-attention, which lets a position see only the past, exactly what generating text
# one token at a time requires, and drops the cross-attention, since there is no
# encoder to attend to. BERT is the model built from the encoder, and it cannot
# generate text left to right. Chapter 4 builds the causal mask that makes the
# difference.
# ```
#
# GPT-1 introduced the recipe that all of them follow, in two stages
# {cite:p}`radford2018improving`. **Pretraining** trains the model to predict the next
# token on a large amount of raw text (GPT-1: about 7,000 unpublished books). No labels
# are needed, the text is its own target, and whatever helps predict the next token gets
# learned: spelling, grammar, facts, style, the shape of an argument. **Fine-tuning**
# then trains the pretrained model on a small labelled dataset for one task, such as
# classifying sentences or answering multiple-choice questions. GPT-1 added a small
# output layer, updated *all* the weights, and kept the language-modelling loss as an
# auxiliary term; fine-tuning learns the task's format and decision, starting from
# everything pretraining learned. (Freezing the pretrained weights and training only the
# new layer is one cheaper option among several.)
#
# ## How big are these models?
#
# A decoder-only Transformer with $L$ layers, width $d$, a vocabulary of $V$ tokens and
# a context of $n$ positions has a token embedding ($Vd$ parameters), a position
# embedding ($nd$), and in each layer the attention's four $d \times d$ projections
# with biases ($4d^2 + 4d$), a {term}`feed-forward network` from $d$ to $4d$ and back
# ($8d^2 + 5d$) and two layer norms ($4d$). GPT-2 and GPT-3 add a final layer norm
# ($2d$); the output layer reuses the token embedding (*tied* embeddings). Chapter 7
# builds each of these parts; here we only count them. In all,
#
# $$
# P = Vd + nd + L\,(12d^2 + 13d) + 2d.
# $$
#
# We check the formula against Hugging Face's `transformers`, which builds GPT-2 small
# from its configuration (nothing downloaded), then count the other models from their
# published configurations. We build them on PyTorch's `meta` device, which creates
# every parameter's shape but allocates no memory, so that even GPT-3 fits.

# %%
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    OpenAIGPTConfig,
    OpenAIGPTLMHeadModel,
)


def gpt_parameters(
    n_layer: int, d: int, vocab: int, n_ctx: int, final_norm=True
) -> int:
    """Parameters of a GPT with tied input and output embeddings."""
    per_layer = 12 * d**2 + 13 * d
    return vocab * d + n_ctx * d + n_layer * per_layer + (2 * d if final_norm else 0)


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


config = GPT2Config(
    n_layer=12, n_embd=768, n_head=12, n_positions=1024, vocab_size=50257
)
with torch.device("meta"):  # shapes only: no memory, no initialisation
    gpt2_small = GPT2LMHeadModel(config)
assert count(gpt2_small) == gpt_parameters(12, 768, 50257, 1024) == 124_439_808
print("GPT-2 small, built by transformers: 124,439,808 parameters = the formula")

# %% [markdown]
# Now the family, from the shapes the papers publish. The column "published" is the
# size each paper states; GPT-1's paper gives its shape but no parameter count, and the
# 117M usually quoted for it is from the GPT-2 paper's table of model sizes
# {cite:p}`radford2019language`, whose smallest model has GPT-1's shape.

# %%
# name, year, layers, width, heads, vocabulary, context, final norm, published (where)
published = [
    ("GPT-1", 2018, 12, 768, 12, 40478, 512, False, "117M (GPT-2 paper)"),
    ("GPT-2 small", 2019, 12, 768, 12, 50257, 1024, True, "117M (GPT-2 paper)"),
    ("GPT-2 XL", 2019, 48, 1600, 25, 50257, 1024, True, "1542M (GPT-2 paper)"),
    ("GPT-3", 2020, 96, 12288, 96, 50257, 2048, True, "175.0B (GPT-3 paper)"),
]
sizes = {}
row = "{:11} {:>4} {:>2} {:>6} {:>6} {:>5} {:>15}  {}"
print(
    row.format("model", "year", "L", "width", "vocab", "ctx", "parameters", "published")
)
for name, year, L, width, heads, vocab_size, n_ctx, final_norm, paper in published:
    sizes[name] = gpt_parameters(L, width, vocab_size, n_ctx, final_norm)
    gpt1 = name == "GPT-1"
    Config, Model = (
        (OpenAIGPTConfig, OpenAIGPTLMHeadModel)
        if gpt1
        else (GPT2Config, GPT2LMHeadModel)
    )
    config = Config(
        n_layer=L, n_embd=width, n_head=heads, vocab_size=vocab_size, n_positions=n_ctx
    )
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        assert count(Model(config)) == sizes[name], name
    numbers = [f"{n:,}" for n in (width, vocab_size, n_ctx, sizes[name])]
    print(row.format(name, year, L, *numbers, paper))
for name, value in [
    ("gpt1_size", f"{sizes['GPT-1'] / 1e6:.1f}M"),
    ("gpt3_size", f"{sizes['GPT-3'] / 1e9:.1f}B"),
    ("gpt3_chinese", f"{sizes['GPT-3'] / 1e8:,.0f}亿"),
    ("growth", f"{sizes['GPT-3'] / sizes['GPT-1']:,.0f}"),
]:
    glue(name, value)  # quoted in the text below

# %% [markdown]
# Every count matches what `transformers` builds. They also match the papers, up to how
# the papers counted: GPT-1's 117M is our {glue:text}`gpt1_size`, GPT-3's 175.0B our
# {glue:text}`gpt3_size`. The GPT-2 paper's table lists 117M and 1542M for its smallest
# and largest models, while the released models have 124M and 1558M; the numbers above
# are counted from the models themselves. Between GPT-1 and GPT-3, the same recipe grew
# {glue:text}`growth`-fold ({numref}`fig-gpt-sizes`).
#
# ```{admonition} A common mistake: GPT-3 has "17.5 billion" (175亿) parameters
# :class: warning
# GPT-3 has 175 *billion* parameters {cite:p}`brown2020language`: in Chinese, 1750亿,
# not 175亿, which is 17.5 billion and is sometimes written by mistake. Counted from its
# published shape (96 layers of width 12,288) in the cell above, it has
# {glue:text}`gpt3_size` parameters, that is {glue:text}`gpt3_chinese`.
# ```

# %% mystnb={"figure": {"caption": "Parameters of GPT-1, GPT-2 (its smallest and largest released models) and GPT-3, counted from their configurations (log scale): the same recipe, about 1,500 times larger in two years.", "name": "fig-gpt-sizes"}, "image": {"alt": "Horizontal bars on a logarithmic axis from 10 to the 8 to 10 to the 12: GPT-1 116.5 million, GPT-2 small 124.4 million, GPT-2 XL 1.56 billion, GPT-3 175 billion parameters."}}
fig, ax = plt.subplots(figsize=(7.5, 2.6))
names = list(sizes)
colours = ["tab:blue", "tab:orange", "tab:orange", "tab:red"]
ax.barh(names, [sizes[n] for n in names], color=colours)
ax.set_xscale("log")
ax.invert_yaxis()
for i, n in enumerate(names):
    label = f"{sizes[n] / 1e9:.3g}B" if sizes[n] >= 1e9 else f"{sizes[n] / 1e6:.1f}M"
    ax.text(sizes[n] * 1.15, i, label, va="center")
ax.set_xlim(5e7, 2e12)
ax.set_xlabel("parameters (log scale)")
plt.show()
assert round(sizes["GPT-3"] / sizes["GPT-1"], -2) == 1500  # as the caption says
assert V * V == 4225  # the bigram table of this chapter, for comparison

# %% [markdown]
# The bigram table of this chapter has $65 \times 65 = 4{,}225$ parameters. The next
# chapters grow it into a GPT like the ones in this table: first the tokens it reads
# ({doc}`chapter 3 <../chapters/03_tokenisation>`), then attention
# ({doc}`chapter 4 <../chapters/04_self_attention>`), then the rest of the Transformer
# block.
#
# ## Summary
#
# - A batch is a $(B, T)$ tensor of ids; autograd computes the gradients, an optimizer
#   step moves the weights, and AdamW with a warmup and cosine schedule is how the
#   course trains.
# - A neural bigram model, trained with `gptcourse.training.train`, finds the counted
#   table: the gap between the two is a weighted KL divergence, never negative.
# - Every language model of the course is called `logits, loss = model(idx, targets)`
#   and measured with `estimate_loss`.
# - Through an RNN the gradient is a product of one Jacobian per step: it vanishes or
#   explodes exponentially with distance. Clipping answers explosion, gating (LSTM)
#   answers vanishing; neither shortens the path.
# - Self-attention connects any two positions by a path of length one, at a cost of
#   $n^2 d$ per layer; convolutions need $O(n/k)$ layers, recurrences $n$ sequential
#   steps.
# - GPT is a decoder-only Transformer, BERT encoder-only; the GPTs grew from 117M to
#   175 billion parameters with the same recipe of pretraining and fine-tuning.
#
# ## Exercises
#
# The exercises for this chapter are on
# {doc}`its exercise page <../exercises/solutions/02_neural_language_models>` (the
# notebook `exercises/02_neural_language_models.ipynb` to work through in JupyterLab):
#
# - **Exercise 2-1** (warm-up): the learning rate of the warmup and cosine schedule at
#   any step, as a formula, checked against PyTorch's schedulers.
# - **Exercise 2-2** (medium): the receptive field of a stack of (dilated) causal
#   convolutions, and how many layers reach across a context.
# - **Exercise 2-3** (medium): the logits that minimise a neural bigram's training
#   loss, written down without training.
# - **Exercise 2-4** (stretch): the gradient norms of an RNN through time, by the
#   product of Jacobians.
#
# ## Further reading
#
# - {cite:t}`bengio2003neural`: the first neural language model, learned word vectors
#   against the sparsity of counting.
# - {cite:t}`pascanu2013difficulty` analyse vanishing and exploding gradients in RNNs
#   and propose the gradient clipping used to this day.
# - {cite:t}`hochreiter1997long`: the LSTM, whose gated, additive cell state keeps
#   gradients from vanishing.
# - {cite:t}`vaswani2017attention`: the Transformer; its Table 1 is this chapter's
#   comparison of layers.
# - {cite:t}`radford2018improving` and {cite:t}`brown2020language`: GPT-1's recipe of
#   pretraining and fine-tuning, and what it became at 175 billion parameters.
