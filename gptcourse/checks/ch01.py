"""Checks for the exercises of chapter 1: what a language model is."""

from __future__ import annotations

import math

import torch

from gptcourse.bigram import CountBigramModel, pair_counts
from gptcourse.checks import checking, same_as

__all__ = [
    "uniform_perplexity",
    "perplexity",
    "bigram_probs",
    "sample_bigram",
    "rnn_jacobian_norms",
]


def uniform_perplexity(fn) -> None:
    """Exercise: the perplexity of a model that is uniform over ``vocab_size`` tokens.

    ``fn(vocab_size: int) -> float``.
    """
    __tracebackhide__ = True
    with checking("uniform_perplexity", fn) as c:
        for vocab_size in (65, 2, 50_257, 1):
            got = c.call(vocab_size)
            c.close(
                got,
                float(vocab_size),
                f"uniform_perplexity({vocab_size})",
                hints={
                    "that is the cross-entropy, log(V); perplexity is exp(cross-entropy).": (
                        lambda g, v=vocab_size: v > 1 and same_as(math.log(v))(g)
                    ),
                    "that is the probability of one token, 1/V; perplexity is its inverse.": (
                        lambda g, v=vocab_size: v > 1 and same_as(1 / v)(g)
                    ),
                },
            )


def _perplexity_cases() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [
        torch.tensor([0.5, 0.25, 0.125]).log(),
        torch.full((10,), 1 / 65).log(),
        torch.tensor([1.0]).log(),
        torch.rand(100, generator=g, dtype=torch.float64).clamp(min=0.01).log(),
    ]


def perplexity(fn) -> None:
    """Exercise: the perplexity of a model from the log-probabilities it gave the true tokens.

    ``fn(log_probs: Tensor of shape (N,)) -> float``, with natural logarithms.
    """
    __tracebackhide__ = True
    with checking("perplexity", fn) as c:
        for log_probs in _perplexity_cases():
            mean = log_probs.double().mean().item()
            got = c.call(log_probs.clone())
            c.close(
                got,
                math.exp(-mean),
                f"perplexity(log of {[round(p, 3) for p in log_probs.exp().tolist()[:3]]}"
                + ("...)" if len(log_probs) > 3 else ")"),
                hints={
                    "that is the cross-entropy, -mean(log p); perplexity is exp of it.": (
                        lambda g, m=mean: m != 0 and same_as(-m)(g)
                    ),
                    "that is 2 ** cross-entropy. The log-probabilities are natural logarithms "
                    "(base e), so the perplexity is e ** cross-entropy, torch.exp or math.exp.": (
                        lambda g, m=mean: m != 0 and same_as(2 ** (-m))(g)
                    ),
                    "that is exp(+mean(log p)), one over the perplexity: the cross-entropy is "
                    "the mean of -log p, with a minus sign.": (
                        lambda g, m=mean: m != 0 and same_as(math.exp(m))(g)
                    ),
                    "that uses the sum of the log-probabilities; the cross-entropy is their "
                    "mean, a cost per token.": (
                        lambda g, lp=log_probs: (
                            len(lp) > 1 and same_as(math.exp(-lp.double().sum()))(g)
                        )
                    ),
                    "that is one over the mean probability; perplexity is one over their "
                    "geometric mean, exp(-mean(log p)).": (
                        lambda g, lp=log_probs: (
                            lp.std() > 0 and same_as(1 / lp.double().exp().mean())(g)
                        )
                    ),
                },
            )


def _bigram_cases() -> list[tuple[torch.Tensor, int, float]]:
    g = torch.Generator().manual_seed(0)
    return [
        (torch.tensor([0, 1, 0, 1, 1]), 2, 1.0),
        (torch.tensor([2, 0, 1, 2, 2, 1, 0]), 4, 0.5),  # token 3 never occurs: a smoothed row
        (torch.tensor([0, 1, 2, 0, 2, 1, 0, 0]), 3, 0.0),  # every token has a successor
        (torch.randint(6, (300,), generator=g), 6, 1.0),
    ]


def _normalise_rows(table: torch.Tensor) -> torch.Tensor:
    return table / table.sum(dim=1, keepdim=True)


def bigram_probs(fn) -> None:
    """Exercise: bigram probabilities from pair counts with add-``alpha`` smoothing.

    ``fn(ids: Tensor of shape (N,), vocab_size: int, alpha: float) -> Tensor (V, V)``,
    with ``probs[i, j] = (N_ij + alpha) / (sum_k N_ik + alpha * V)``.
    """
    __tracebackhide__ = True
    with checking("bigram_probs", fn) as c:
        for ids, V, alpha in _bigram_cases():
            expected = CountBigramModel.from_ids(ids, V, alpha).probs.double()
            counts = pair_counts(ids, V).double()
            wrapped = counts.clone()
            wrapped[ids[-1], ids[0]] += 1
            short = pair_counts(ids[:-1], V).double()
            got = c.call(ids.clone(), V, alpha)
            shown = f"bigram_probs({_short_ids(ids)}, vocab_size={V}, alpha={alpha})"
            c.close(
                got,
                expected,
                shown,
                rtol=1e-4,
                hints={
                    "the rows are not normalised: divide each row by its sum, so that row i "
                    "is the distribution of the token after i and sums to 1.": (
                        lambda g, n=counts, a=alpha: (
                            same_as(n + a)(g)
                            or same_as(n)(g)
                            or same_as((n + a) / (n + a).sum())(g)
                        )
                    ),
                    "the columns sum to 1 instead of the rows: normalise along dim=1 (each "
                    "row i holds p(next | current = i)).": (
                        lambda g, n=counts, a=alpha: same_as(_normalise_rows((n + a).T).T)(g)
                    ),
                    "the table is transposed: probs[i, j] is the probability that j follows "
                    "i, so the current token (ids[t]) indexes the row and the next token "
                    "(ids[t + 1]) the column.": (
                        lambda g, e=expected, n=counts, a=alpha: (
                            same_as(e.T)(g) or same_as(_normalise_rows((n + a).T))(g)
                        )
                    ),
                    "off by one in the pairs: there is also a pair from the last token back to "
                    "the first. The N - 1 pairs are (ids[t], ids[t + 1]) for t < N - 1 (e.g. "
                    "zip(ids[:-1], ids[1:])), without wrapping around.": (
                        lambda g, n=wrapped, a=alpha: same_as(_normalise_rows(n + a))(g)
                    ),
                    "off by one in the pairs: the last pair, (ids[N - 2], ids[N - 1]), is "
                    "missing. There are N - 1 pairs, e.g. zip(ids[:-1], ids[1:]).": (
                        lambda g, n=short, a=alpha: same_as(_normalise_rows(n + a))(g)
                    ),
                    "the smoothing is missing: add alpha to every count before normalising.": (
                        lambda g, n=counts, a=alpha: a > 0 and same_as(_normalise_rows(n))(g)
                    ),
                    "the rows do not sum to 1: with alpha added to each of the V counts of a "
                    "row, its total grows by alpha * V, not alpha.": (
                        lambda g, n=counts, a=alpha: same_as(
                            (n + a) / (n.sum(dim=1, keepdim=True) + a)
                        )(g)
                    ),
                },
            )


def _short_ids(ids: torch.Tensor) -> str:
    values = ids.tolist()
    return str(values) if len(values) <= 8 else f"<{len(values)} ids>"


def _sample_reference(
    probs: torch.Tensor, start: int, num_tokens: int, seed: int, *, row_of_start: bool = False
) -> list[int]:
    generator = torch.Generator().manual_seed(seed)
    out, current = [], start
    for _ in range(num_tokens):
        row = probs[start if row_of_start else current]
        current = int(torch.multinomial(row, 1, generator=generator))
        out.append(current)
    return out


def _greedy(probs: torch.Tensor, start: int, num_tokens: int) -> list[int]:
    out, current = [], start
    for _ in range(num_tokens):
        current = int(probs[current].argmax())
        out.append(current)
    return out


def sample_bigram(fn) -> None:
    """Exercise: sample a sequence from a bigram table with a given random generator.

    ``fn(probs: Tensor (V, V), start: int, num_tokens: int, generator) -> list[int]``:
    the ``num_tokens`` ids that follow ``start`` (``start`` itself not included), each
    drawn with ``torch.multinomial(probs[current], 1, generator=generator)``.
    """
    __tracebackhide__ = True
    g = torch.Generator().manual_seed(0)
    cycle = torch.eye(5)[[1, 2, 3, 4, 0]]  # deterministic: 0 -> 1 -> 2 -> 3 -> 4 -> 0
    random_table = _normalise_rows(torch.rand(6, 6, generator=g) ** 3 + 0.01)
    cases = [(cycle, 3, 7, 0), (random_table, 0, 25, 1234), (random_table, 5, 25, 7)]
    cases.append((random_table, 2, 0, 0))
    with checking("sample_bigram", fn) as c:
        for probs, start, n, seed in cases:
            expected = _sample_reference(probs, start, n, seed)
            got = c.call(probs.clone(), start, n, torch.Generator().manual_seed(seed))
            shown = f"sample_bigram(<{len(probs)}x{len(probs)} table>, {start}, num_tokens={n})"
            try:
                got = [int(i) for i in got]
            except (TypeError, ValueError):
                c.fail(f"{shown}: expected a list of ints, got {type(got).__name__}")
            if got == expected:
                c.that(True, "")
                continue
            message = f"{shown}: expected {expected}, got {got}"
            if len(got) == n + 1 and got[0] == start:
                hint = "the start token is not part of the result: return the n new tokens."
            elif len(got) != n:
                hint = f"return exactly num_tokens={n} ids."
            elif got == _greedy(probs, start, n):
                hint = (
                    "that is the most probable token at every step (argmax): sample instead, "
                    "with torch.multinomial(probs[current], 1, generator=generator)."
                )
            elif got == _sample_reference(probs, start, n, seed, row_of_start=True):
                hint = "every token is drawn from the row of `start`: after each draw, the "
                hint += "new token becomes the current one, whose row gives the next draw."
            elif got == _sample_reference(probs.T.contiguous(), start, n, seed):
                hint = "that samples from a column, probs[:, current]; the next token's "
                hint += "distribution is the row probs[current]."
            elif all(probs[a, b] > 0 for a, b in zip([start, *got[:-1]], got, strict=True)):
                hint = (
                    "each step is a possible one, but not the draw this generator gives: take "
                    "one draw per token with torch.multinomial(probs[current], 1, "
                    "generator=generator), passing the generator you were given."
                )
            else:
                hint = "some step has probability 0 in the table: is each token drawn from "
                hint += "the row of the token before it?"
            c.that(False, f"{message}\nHint: {hint}")


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
