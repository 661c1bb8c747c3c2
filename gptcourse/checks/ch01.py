"""Checks for the exercises of chapter 1: language models by counting."""

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
    "interpolated_loss",
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


def _interpolated(train: torch.Tensor, val: torch.Tensor, V: int, lam: float, *, variant=""):
    """Validation cross-entropy of ``lam * p(j | i) + (1 - lam) * p(j)``, both counted on
    ``train`` without smoothing; ``variant`` reproduces a usual mistake."""
    counts = pair_counts(train, V).double()
    bigram = counts / counts.sum(dim=1, keepdim=True)  # (V, V)
    unigram = torch.bincount(val if variant == "val unigram" else train, minlength=V).double()
    unigram = unigram / unigram.sum()  # (V,)
    if variant == "swapped":
        lam = 1 - lam
    probs = lam * bigram + (1 - lam) * unigram[None, :]
    log_p = probs[val[:-1], val[1:]].log()
    if variant == "log2":
        return (-log_p / math.log(2)).mean().item()
    if variant == "sum":
        return (-log_p.sum()).item()
    return (-log_p.mean()).item()


def _interpolation_cases() -> list[tuple[torch.Tensor, torch.Tensor, int, float]]:
    g = torch.Generator().manual_seed(1)
    return [
        (torch.tensor([0, 1, 0, 1, 1, 2, 0]), torch.tensor([1, 0, 2, 2, 1]), 3, 0.5),
        (torch.tensor([0, 1, 2, 3, 0, 2, 1, 3, 0]), torch.tensor([3, 3, 1, 0, 2]), 4, 0.9),
        (torch.randint(5, (400,), generator=g), torch.randint(5, (60,), generator=g), 5, 0.7),
    ]


def interpolated_loss(fn) -> None:
    """Exercise: the held-out loss of a bigram model interpolated with a unigram model.

    ``fn(train_ids: Tensor (N,), val_ids: Tensor (M,), vocab_size: int, lam: float) ->
    float``: the mean of ``-log(lam * p(j | i) + (1 - lam) * p(j))`` over the pairs of
    ``val_ids``, with both distributions counted on ``train_ids`` (no smoothing).
    """
    __tracebackhide__ = True
    with checking("interpolated_loss", fn) as c:
        for train, val, V, lam in _interpolation_cases():
            got = c.call(train.clone(), val.clone(), V, lam)
            wrong = {
                v: _interpolated(train, val, V, lam, variant=v)
                for v in ("swapped", "val unigram", "log2", "sum")
            }
            c.close(
                got,
                _interpolated(train, val, V, lam),
                f"interpolated_loss({_short_ids(train)}, {_short_ids(val)}, vocab_size={V}, "
                f"lam={lam})",
                rtol=1e-6,
                hints={
                    "lam weighs the bigram, 1 - lam the unigram: the two are swapped.": (
                        same_as(wrong["swapped"])
                    ),
                    "the unigram probabilities are counted on the validation ids; count them "
                    "on the training ids, like the bigram table: the model may not peek at "
                    "the text it is measured on.": same_as(wrong["val unigram"]),
                    "that is in bits (log base 2); the course measures in nats, natural "
                    "logarithms.": same_as(wrong["log2"]),
                    "that is the sum over the pairs; the cross-entropy is their mean.": (
                        same_as(wrong["sum"])
                    ),
                },
            )
