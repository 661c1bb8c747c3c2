"""Checks for the exercises of chapter 2: neural language models, and why RNNs struggled."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from gptcourse.bigram import pair_counts
from gptcourse.checks import checking, same_as
from gptcourse.optim import warmup_cosine

__all__ = [
    "warmup_cosine_lr",
    "receptive_field",
    "optimal_bigram_logits",
    "rnn_jacobian_norms",
]


def _schedule(lr: float, warmup: int, max_steps: int, min_ratio: float) -> list[float]:
    """The learning rate of ``gptcourse.optim.warmup_cosine`` at steps 0 .. max_steps."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    schedule = warmup_cosine(
        optimizer, warmup_steps=warmup, max_steps=max_steps, min_lr_ratio=min_ratio
    )
    lrs = []
    for _ in range(max_steps + 1):
        lrs.append(schedule.get_last_lr()[0])
        optimizer.step()
        schedule.step()
    return lrs


def _schedule_variant(lr, warmup, max_steps, min_ratio, variant) -> list[float]:
    """A usual mistake in the closed form of the schedule, at steps 0 .. max_steps."""
    low = lr * (0.0 if variant == "to zero" else min_ratio)
    out = []
    for s in range(max_steps + 1):
        if s < warmup:
            out.append(lr * (s if variant == "from zero" else s + 1) / warmup)
            continue
        if variant == "whole period":
            progress = s / max_steps
        else:
            progress = (s - warmup) / (max_steps - warmup)
        out.append(low + (lr - low) * (1 + math.cos(math.pi * progress)) / 2)
    return out


def warmup_cosine_lr(fn) -> None:
    """Exercise: the learning rate of the warmup and cosine schedule at one step.

    ``fn(step, max_lr, warmup_steps, max_steps, min_lr_ratio) -> float``, equal to what
    :func:`gptcourse.optim.warmup_cosine` gives at every step from 0 to ``max_steps``.
    """
    __tracebackhide__ = True
    with checking("warmup_cosine_lr", fn) as c:
        for lr, warmup, max_steps, ratio in (
            (1.0, 4, 12, 0.1),
            (3e-4, 10, 40, 0.0),
            (0.5, 0, 8, 0.2),
        ):
            got = [c.call(s, lr, warmup, max_steps, ratio) for s in range(max_steps + 1)]
            wrong = {
                v: _schedule_variant(lr, warmup, max_steps, ratio, v)
                for v in ("from zero", "plus one", "to zero", "whole period")
            }
            hints = {
                "the warmup starts at 0; PyTorch's LinearLR (start_factor=1/warmup_steps) "
                "starts at max_lr / warmup_steps and reaches max_lr at step warmup_steps.": (
                    same_as(wrong["from zero"])
                ),
                "the warmup is (step + 1) / warmup_steps; LinearLR rises from "
                "1 / warmup_steps to 1 in warmup_steps equal steps: "
                "1/W + (1 - 1/W) * step / W.": same_as(wrong["plus one"]),
            }
            if ratio > 0:
                hints["the decay ends at 0; it ends at min_lr_ratio * max_lr."] = same_as(
                    wrong["to zero"]
                )
            if warmup > 0:
                hints[
                    "the cosine runs over all max_steps steps; it starts after the warmup and "
                    "runs over max_steps - warmup_steps steps."
                ] = same_as(wrong["whole period"])
            c.close(
                got,
                _schedule(lr, warmup, max_steps, ratio),
                f"warmup_cosine_lr(step, max_lr={lr}, warmup_steps={warmup}, "
                f"max_steps={max_steps}, min_lr_ratio={ratio}) for step = 0 .. {max_steps}",
                rtol=1e-6,
                atol=1e-12,
                hints=hints,
            )


def _measured_field(kernel_sizes: list[int], dilations: list[int]) -> int:
    """How many inputs the last output of a stack of causal convolutions depends on,
    measured with autograd (weights of ones, so that no gradient cancels)."""
    n = 1 + sum((k - 1) * d for k, d in zip(kernel_sizes, dilations, strict=True)) + 5
    x = torch.ones(1, 1, n, dtype=torch.float64, requires_grad=True)
    h = x
    for k, d in zip(kernel_sizes, dilations, strict=True):
        weight = torch.ones(1, 1, k, dtype=torch.float64)
        h = F.conv1d(F.pad(h, ((k - 1) * d, 0)), weight, dilation=d)
    (grad,) = torch.autograd.grad(h[0, 0, -1], x)
    return int((grad[0, 0] != 0).sum())


def receptive_field(fn) -> None:
    """Exercise: the receptive field of a stack of causal convolutions.

    ``fn(kernel_sizes: list[int], dilations: list[int]) -> int``: how many consecutive
    inputs the last output depends on.
    """
    __tracebackhide__ = True
    with checking("receptive_field", fn) as c:
        for ks, ds in (
            ([3], [1]),
            ([3, 3, 3], [1, 1, 1]),
            ([2, 2, 2, 2], [1, 2, 4, 8]),
            ([5, 3], [1, 5]),
            ([3, 3, 3], [1, 3, 9]),
        ):
            pairs = list(zip(ks, ds, strict=True))
            hints = {
                "one short: the output also sees its own position, so the field is "
                "1 + the sum of (k - 1) * d.": same_as(sum((k - 1) * d for k, d in pairs)),
            }
            if any(d > 1 for d in ds):
                hints[
                    "the dilations are ignored: a layer of width k and dilation d reaches "
                    "(k - 1) * d positions further back."
                ] = same_as(1 + sum(k - 1 for k in ks))
            if len(ks) > 1:
                hints[
                    "that multiplies the kernel sizes; stacked layers add their reach, "
                    "(k - 1) * d each."
                ] = same_as(math.prod(ks))
            hints[
                "a layer of width k reaches k - 1 positions back (times d), not k: "
                "it also covers its own position."
            ] = same_as(1 + sum(k * d for k, d in pairs))
            c.equal(
                c.call(list(ks), list(ds)),
                _measured_field(ks, ds),
                f"receptive_field({ks}, {ds})",
                hints=hints,
            )


def _bigram_cases() -> list[tuple[torch.Tensor, int]]:
    g = torch.Generator().manual_seed(0)
    return [
        (torch.tensor([0, 1, 0, 2, 0, 1, 1]), 3),
        (torch.tensor([2, 0, 1, 2, 2, 1, 0]), 4),  # token 3 never occurs
        (torch.randint(6, (300,), generator=g), 6),
    ]


def _loss(logits: torch.Tensor, ids: torch.Tensor) -> float:
    return F.cross_entropy(logits.double()[ids[:-1]], ids[1:]).item()


def optimal_bigram_logits(fn) -> None:
    """Exercise: the logits of a neural bigram model at the optimum of its training loss.

    ``fn(ids: Tensor (N,), vocab_size: int) -> Tensor (V, V)``: logits whose softmax rows
    are the counted distributions (any constant may be added to a row); rows of tokens
    that never occur as a current token must still be distributions (e.g. zeros).
    """
    __tracebackhide__ = True
    with checking("optimal_bigram_logits", fn) as c:
        for ids, V in _bigram_cases():
            got = c.tensor(c.call(ids.clone(), V), "optimal_bigram_logits", shape=(V, V))
            counts = pair_counts(ids, V).double()
            probs = counts / counts.sum(dim=1, keepdim=True)  # NaN rows: never current
            best = _loss(probs.log(), ids)
            shown = f"optimal_bigram_logits({_short(ids)}, vocab_size={V})"
            rows = torch.softmax(got.detach().double(), dim=1)
            c.that(
                not rows.isnan().any(),
                f"{shown}: some rows of the softmax are NaN. A token that never occurs as a "
                "current token has all its logits at -inf (log 0): give such rows zeros, "
                "the uniform distribution.",
            )
            c.close(
                _loss(got.detach(), ids),
                best,
                f"{shown}: the training loss of these logits",
                rtol=1e-6,
                hints={
                    "those logits are the probabilities themselves; the softmax exponentiates, "
                    "so the logits are their logarithms.": same_as(_loss(probs.nan_to_num(), ids)),
                    "those logits are the counts; take the logarithm of the counts (or of "
                    "the probabilities).": same_as(_loss(counts, ids)),
                    "the table is transposed: row i must hold the distribution of the token "
                    "after i.": same_as(_loss(counts.T.log(), ids)),
                },
            )
            seen = counts.sum(dim=1) > 0
            c.close(rows[seen], probs[seen], f"{shown}: softmax of the rows", rtol=1e-6)


def _short(ids: torch.Tensor) -> str:
    values = ids.tolist()
    return str(values) if len(values) <= 8 else f"<{len(values)} ids>"


def _rnn_norms(W: torch.Tensor, hs: torch.Tensor, *, variant: str = "") -> torch.Tensor:
    """``||dh_T / dh_{T-d}||`` for d = 0 .. T; ``variant`` reproduces a usual mistake."""
    J = torch.eye(len(W), dtype=torch.float64)
    W = W.double()
    hs = hs.double()
    norms = [torch.linalg.matrix_norm(J, ord="fro" if variant == "fro" else 2)]
    for s in range(len(hs) - 1, 0, -1):
        h = hs[s - 1] if variant == "previous state" else hs[s]
        factor = W if variant == "no tanh" else torch.diag(1 - h**2) @ W
        J = factor @ J if variant == "order" else J @ factor
        norms.append(torch.linalg.matrix_norm(J, ord="fro" if variant == "fro" else 2))
    return torch.stack(norms)


def _rnn_case(hidden: int, steps: int, rho: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A random tanh RNN: ``(W, hs)`` with ``W`` of spectral radius ``rho``, shape ``(H, H)``,
    and its states ``hs`` of shape ``(steps + 1, H)``, ``hs[0] = 0`` and
    ``hs[s] = tanh(W hs[s - 1] + U x_s)`` for random ``U`` and inputs ``x_s``."""
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(hidden, hidden, generator=g, dtype=torch.float64)
    W *= rho / torch.linalg.eigvals(W).abs().max()
    U = torch.randn(hidden, 3, generator=g, dtype=torch.float64) / math.sqrt(3)
    hs = [torch.zeros(hidden, dtype=torch.float64)]
    for x in torch.randn(steps, 3, generator=g, dtype=torch.float64):
        hs.append(torch.tanh(W @ hs[-1] + U @ x))
    return W, torch.stack(hs)


def rnn_jacobian_norms(fn) -> None:
    """Exercise: how the gradient of a tanh RNN's last state shrinks or grows with distance.

    ``fn(W: Tensor (H, H), hs: Tensor (T + 1, H)) -> Tensor (T + 1,)`` with
    ``norms[d] = ||dh_T / dh_{T - d}||_2`` (spectral norm), ``norms[0] = 1``.
    """
    __tracebackhide__ = True
    with checking("rnn_jacobian_norms", fn) as c:
        for hidden, steps, rho, seed in ((3, 4, 0.9, 0), (5, 12, 0.5, 1), (6, 15, 3.0, 2)):
            W, hs = _rnn_case(hidden, steps, rho, seed)
            got = c.call(W.clone(), hs.clone())
            c.close(
                got,
                _rnn_norms(W, hs),
                f"rnn_jacobian_norms(W of spectral radius {rho} ({hidden}x{hidden}), "
                f"hs of shape {tuple(hs.shape)})",
                rtol=1e-6,
                hints={
                    "norms[0] is distance 0, the Jacobian of h_T with respect to itself (the "
                    "identity, norm 1): return T + 1 norms.": (lambda g, T=steps: len(g) == T),
                    "the tanh derivative is missing: each step's Jacobian is "
                    "diag(1 - h_s ** 2) @ W, not W alone.": (
                        lambda g, W=W, hs=hs: same_as(_rnn_norms(W, hs, variant="no tanh"))(g)
                    ),
                    "off by one: the Jacobian of h_s = tanh(W h_{s-1} + U x_s) with respect to "
                    "h_{s-1} is diag(1 - h_s ** 2) @ W, with the new state h_s = hs[s], not "
                    "hs[s - 1].": (
                        lambda g, W=W, hs=hs: same_as(_rnn_norms(W, hs, variant="previous state"))(
                            g
                        )
                    ),
                    "the factors are multiplied in the wrong order: dh_T/dh_t = J_T @ J_{T-1} "
                    "@ ... @ J_{t+1}, so going back in time, each new factor goes on the right.": (
                        lambda g, W=W, hs=hs: same_as(_rnn_norms(W, hs, variant="order"))(g)
                    ),
                    "that is the Frobenius norm; use the spectral norm, "
                    "torch.linalg.matrix_norm(J, ord=2).": (
                        lambda g, W=W, hs=hs: same_as(_rnn_norms(W, hs, variant="fro"))(g)
                    ),
                    "the norms are in reverse order: norms[d] is for distance d back from the "
                    "last state, so norms[0] = 1.": (
                        lambda g, W=W, hs=hs: same_as(_rnn_norms(W, hs).flip(0))(g)
                    ),
                },
            )
