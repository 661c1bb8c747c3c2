"""Checks for the exercises of chapter 8: generating text."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from gptcourse.attention import CausalSelfAttention
from gptcourse.checks import checking, same_as

_F64 = torch.float64


def _is(wrong: object) -> Callable[[object], bool]:
    """A hint's test: the learner's answer is (numerically) ``wrong``; NaN counts as 0."""
    return same_as(wrong, rtol=1e-6, atol=1e-9, nan_as_zero=True)


# --- top-p (nucleus) filtering -------------------------------------------------------------


def _nucleus(
    probs: torch.Tensor,
    p: float,
    *,
    keep: str = "before < p",
    descending: bool = True,
    renormalise: bool = True,
    vocabulary_order: bool = True,
) -> torch.Tensor:
    """The nucleus distribution of a 1-D ``probs``, and the usual wrong versions of it."""
    sorted_probs, order = torch.sort(probs, descending=descending)
    cumulative = sorted_probs.cumsum(0)
    before = cumulative - sorted_probs  # the mass of the tokens ranked above
    kept = {
        "before < p": before < p,
        "before <= p": before <= p,
        "cumulative <= p": cumulative <= p,
        "cumulative < p": cumulative < p,
    }[keep]
    filtered = torch.where(kept, sorted_probs, torch.zeros_like(sorted_probs))
    if renormalise:
        filtered = filtered / filtered.sum()  # NaN when nothing is kept
    if not vocabulary_order:
        return filtered
    return torch.zeros_like(probs).scatter(0, order, filtered)


def _top_p_cases() -> list[tuple[torch.Tensor, float]]:
    g = torch.Generator().manual_seed(8)
    random = torch.softmax(torch.randn(12, generator=g, dtype=_F64), 0)
    return [
        # dyadic probabilities: the threshold 0.75 is reached exactly by the first two
        (torch.tensor([0.25, 0.09375, 0.5, 0.15625], dtype=_F64), 0.75),
        (torch.tensor([0.1, 0.6, 0.3], dtype=_F64), 0.7),
        (random, 0.9),
        (random, 0.5),
        (random, 0.05),  # below the largest probability: the most likely token alone
        (random, 1.0),  # everything is kept
    ]


def top_p_filter(fn) -> None:
    """Exercise: the distribution that nucleus (top-p) sampling draws from.

    ``fn(probs: (V,) tensor, p: float) -> (V,) tensor``: the smallest set of most likely
    tokens whose probabilities reach ``p`` keeps its probabilities, renormalised to sum to
    1; every other token gets 0; the result is in the vocabulary's order.
    """
    __tracebackhide__ = True
    with checking("top_p_filter", fn) as c:
        for probs, p in _top_p_cases():
            shown = [round(x, 5) for x in probs.tolist()] if len(probs) <= 4 else "<12 probs>"
            what = f"top_p_filter({shown}, p={p})"
            got = c.tensor(c.call(probs.clone(), p), what, shape=tuple(probs.shape))
            c.close(
                got,
                _nucleus(probs, p),
                what,
                rtol=1e-6,
                atol=1e-9,
                hints={
                    "sort in descending order: the nucleus is made of the most likely "
                    "tokens, and in ascending order you keep the least likely ones.": _is(
                        _nucleus(probs, p, descending=False)
                    ),
                    "renormalise what you keep: the kept probabilities must be divided by "
                    "their sum, so that they add up to 1.": _is(
                        _nucleus(probs, p, renormalise=False)
                    ),
                    "return the probabilities in the vocabulary's order: entry i is token "
                    "i's probability, not the i-th largest (scatter them back through the "
                    "order that sorting gave).": _is(_nucleus(probs, p, vocabulary_order=False)),
                    "off by one at the threshold: keep a token when the mass ranked *above* "
                    "it is still below p, so the token that crosses p is kept (you drop it; "
                    "with a small p you keep nothing at all, yet the most likely token must "
                    "always stay).": _is(_nucleus(probs, p, keep="cumulative <= p")),
                    "off by one at the threshold: the token whose cumulative probability "
                    "reaches p exactly completes the nucleus and is kept (cumulative < p "
                    "drops it).": _is(_nucleus(probs, p, keep="cumulative < p")),
                    "off by one at the threshold: once the tokens above reach p exactly, "
                    "the nucleus is complete; the next token is not kept (that needs the "
                    "mass above it strictly below p).": _is(_nucleus(probs, p, keep="before <= p")),
                },
            )


# --- one step of the key/value cache -------------------------------------------------------


def _attention_step(
    attn: CausalSelfAttention,
    x_new: torch.Tensor,
    past_k: torch.Tensor,
    past_v: torch.Tensor,
    *,
    scale_by: str = "head_dim",
    own: bool = True,
    first_only: bool = False,
    out_proj: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One cached step, written out (the reference), and its usual wrong versions."""
    B, _, C = x_new.shape
    H, D = attn.n_head, attn.head_dim
    q, k, v = attn.qkv_proj(x_new).split(C, dim=-1)  # 3 x (B, 1, C)
    q, k, v = (t.view(B, 1, H, D).transpose(1, 2) for t in (q, k, v))  # (B, H, 1, D)
    keys, values = torch.cat((past_k, k), dim=2), torch.cat((past_v, v), dim=2)
    used_k, used_v = (keys, values) if own else (past_k, past_v)
    if first_only:
        used_k, used_v = used_k[:, :, :1], used_v[:, :, :1]
    scale = {"head_dim": 1 / math.sqrt(D), "n_embd": 1 / math.sqrt(C), "none": 1.0}[scale_by]
    weights = torch.softmax(q @ used_k.transpose(-2, -1) * scale, dim=-1)  # (B, H, 1, t + 1)
    y = (weights @ used_v).transpose(1, 2).reshape(B, 1, C)  # (B, 1, C)
    if out_proj:
        y = attn.out_proj(y)
    return y, keys, values


def attention_step(fn) -> None:
    """Exercise: one step of attention with a key/value cache.

    ``fn(attn, x_new, past_k, past_v) -> (y, k, v)`` with ``attn`` a
    :class:`~gptcourse.attention.CausalSelfAttention`, ``x_new`` ``(B, 1, C)``, ``past_k``
    and ``past_v`` ``(B, H, t, D)``; ``y`` ``(B, 1, C)`` is the attention's output at the
    new position, ``k`` and ``v`` ``(B, H, t + 1, D)`` the cache with it appended. Run
    step by step from an empty cache, ``y`` must equal the full pass ``attn(x)``.
    """
    __tracebackhide__ = True
    torch.manual_seed(8)
    B, T, C, H = 2, 6, 12, 3
    attn = CausalSelfAttention(n_embd=C, n_head=H).to(_F64).eval()
    x = torch.randn(B, T, C, dtype=_F64)
    D = C // H
    with torch.no_grad(), checking("attention_step", fn) as c:
        full = attn(x)  # (B, T, C): every position at once, causal
        # One step after three cached positions, where the usual mistakes show.
        t = 3
        _, past_k, past_v = attn.qkv(x[:, :t])  # (B, H, t, D) each
        what = f"attention_step with t={t} cached positions"
        out = c.call(attn, x[:, t : t + 1], past_k.clone(), past_v.clone())
        c.that(
            isinstance(out, tuple) and len(out) == 3,
            f"{what}: expected a tuple (y, k, v), got {type(out).__name__}",
        )
        y, k, v = out
        c.tensor(y, f"{what}: y", shape=(B, 1, C))
        c.tensor(k, f"{what}: k", shape=(B, H, t + 1, D))
        c.tensor(v, f"{what}: v", shape=(B, H, t + 1, D))
        variants = {
            name: _attention_step(attn, x[:, t : t + 1], past_k, past_v, **kw)[0]
            for name, kw in {
                "own": dict(own=False),
                "first": dict(first_only=True),
                "n_embd": dict(scale_by="n_embd"),
                "none": dict(scale_by="none"),
                "proj": dict(out_proj=False),
            }.items()
        }
        c.close(
            y,
            full[:, t : t + 1],
            f"{what}: y",
            hints={
                "the new token attends to itself too: append its key and value to the cache "
                "first, then attend over all t + 1 positions.": _is(variants["own"]),
                "the new query is the last position and may see every key: a causal mask "
                "aligned to the start (torch.tril of a (1, t + 1) matrix, or is_causal=True "
                "when T_q != T_k) lets it see the first key only. One query needs no "
                "mask at all.": _is(variants["first"]),
                "scale the scores by 1/sqrt(head_dim), the width of one head (D = C / H), "
                "not 1/sqrt(n_embd).": _is(variants["n_embd"]),
                "the scores are scaled by 1/sqrt(head_dim) before the softmax.": _is(
                    variants["none"]
                ),
                "after merging the heads, apply the output projection attn.out_proj.": _is(
                    variants["proj"]
                ),
            },
        )
        _, expected_k, expected_v = _attention_step(attn, x[:, t : t + 1], past_k, past_v)
        c.close(k, expected_k, f"{what}: k (the cached keys, then the new one)")
        c.close(v, expected_v, f"{what}: v (the cached values, then the new one)")
        # The proof: from an empty cache, one token at a time, equals the full pass.
        k = v = torch.zeros(B, H, 0, D, dtype=_F64)
        for i in range(T):
            y, k, v = c.call(attn, x[:, i : i + 1], k, v)
            c.close(
                y,
                full[:, i : i + 1],
                f"step {i} from an empty cache (feeding back your own k and v): y against "
                "the full pass attn(x)",
            )


# --- the memory of the cache ---------------------------------------------------------------


def kv_cache_bytes(fn) -> None:
    """Exercise: the bytes that a key/value cache takes.

    ``fn(n_layer, n_kv_head, head_dim, n_tokens, batch_size, bytes_per_element) -> int``:
    a key and a value of ``n_kv_head * head_dim`` numbers per layer, per token and per
    sequence of the batch.
    """
    __tracebackhide__ = True
    cases = [
        # n_layer, n_kv_head, head_dim, n_tokens, batch_size, bytes_per_element
        (12, 12, 64, 1024, 3, 4),  # GPT-2 small, float32, a batch of 3
        (48, 25, 64, 1024, 1, 2),  # GPT-2 XL, float16
        (80, 8, 128, 4096, 2, 2),  # grouped-query attention: 8 key/value heads
        (2, 1, 16, 10, 5, 1),  # multi-query attention, one byte per number
    ]
    with checking("kv_cache_bytes", fn) as c:
        for L, H_kv, D, n, B, nbytes in cases:
            what = f"kv_cache_bytes({L}, {H_kv}, {D}, {n}, {B}, {nbytes})"
            expected = 2 * L * H_kv * D * n * B * nbytes
            got = c.call(L, H_kv, D, n, B, nbytes)
            c.that(
                isinstance(got, (int, float)) and not isinstance(got, bool),
                f"{what}: expected a number, got {type(got).__name__}",
            )
            c.close(
                got,
                expected,
                what,
                rtol=0,
                atol=0.5,
                hints={
                    "the cache holds a key *and* a value for every position: the factor 2 "
                    "is missing.": same_as(expected / 2),
                    f"that is the number of elements; each takes {nbytes} bytes "
                    "(bytes_per_element).": same_as(expected / nbytes),
                    "that is in bits: a float16 number is 2 bytes (16 bits), a float32 "
                    "4 bytes.": same_as(expected * 8),
                    f"every one of the {B} sequences of the batch has its own cache: "
                    "multiply by batch_size.": same_as(expected / B),
                    f"each of the {L} layers has its own cache: multiply by n_layer.": (
                        same_as(expected / L)
                    ),
                },
            )
