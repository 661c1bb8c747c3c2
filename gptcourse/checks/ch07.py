"""Checks for the exercises of chapter 7: assembling a GPT."""

from __future__ import annotations

import torch
from torch import nn

from gptcourse.checks import CheckFailed, checking, same_as
from gptcourse.model import GPTConfig, count_parameters, flops_per_token
from gptcourse.transformer import Block

#: ``(n_layer, n_embd, vocab_size, block_size)``: GPT-2 small and XL, and small shapes in
#: which the terms of the formula differ from one another.
_SHAPES = ((12, 768, 50257, 1024), (2, 64, 65, 32), (3, 48, 100, 16), (48, 1600, 50257, 1024))


def _exactly(wrong: int):
    """A hint's test: the learner's count is exactly ``wrong``."""
    return same_as(wrong, rtol=0, atol=0.5)


def gpt_parameters(fn) -> None:
    """Exercise: the parameters of a GPT-2-style model, by formula.

    ``fn(n_layer, n_embd, vocab_size, block_size) -> int``: learned positions, biases,
    pre-LN with a final layer norm, and the output layer tied to the token embedding.
    """
    __tracebackhide__ = True
    with checking("gpt_parameters", fn) as c:
        for L, C, V, T in _SHAPES:
            what = f"gpt_parameters({L}, {C}, {V}, {T})"
            got = c.call(L, C, V, T)
            expected = count_parameters(
                GPTConfig(vocab_size=V, block_size=T, n_layer=L, n_head=1, n_embd=C)
            )
            hints = {
                "the output layer is tied to the token embedding: the V x C matrix is "
                "one parameter, counted once.": _exactly(expected + V * C),
                "the linear layers have biases: 3C (queries, keys, values), C (output "
                "projection), 4C and C (the MLP's two layers) per block.": _exactly(
                    expected - 9 * L * C
                ),
                "the layer norms have parameters too: a scale and a shift of C each, two "
                "layer norms per block and a final one.": _exactly(expected - 4 * L * C - 2 * C),
                "every bias and every layer norm is missing: per block that is 12 C^2 + "
                "13 C, not 12 C^2.": _exactly(expected - 13 * L * C - 2 * C),
                "the final layer norm (2C) after the last block is missing.": _exactly(
                    expected - 2 * C
                ),
                "the position embedding, a table of block_size x C, is missing.": _exactly(
                    expected - T * C
                ),
                "the MLP widens to 4C: its two layers have C x 4C and 4C x C weights.": (
                    _exactly(expected - 6 * L * C * C - 3 * L * C)
                ),
                "the attention has four C x C projections (queries, keys, values and the "
                "output), not three.": _exactly(expected - L * (C * C + C)),
            }
            c.that(
                isinstance(got, int) or (hasattr(got, "is_integer") and got.is_integer()),
                f"{what}: expected a whole number of parameters, got {got!r}",
            )
            c.equal(int(got), expected, what, hints=hints)


def forward_flops(fn) -> None:
    """Exercise: the FLOPs of one forward pass over a sequence.

    ``fn(n_layer, n_embd, vocab_size, seq_len) -> int``: the matrix products' FLOPs (2 per
    multiply-add) of a GPT's forward pass over one sequence of ``seq_len`` tokens, with
    attention's full ``T x T`` products.
    """
    __tracebackhide__ = True
    with checking("forward_flops", fn) as c:
        for L, C, V, T in _SHAPES:
            what = f"forward_flops({L}, {C}, {V}, {T})"
            got = c.call(L, C, V, T)
            config = GPTConfig(vocab_size=V, block_size=T, n_layer=L, n_head=1, n_embd=C)
            expected = T * flops_per_token(config, T, training=False)
            N = 12 * L * C * C + V * C
            hints = {
                "that is the training step's count, forward and backward (3 x the "
                "forward): the exercise asks for the forward pass.": _exactly(3 * expected),
                "that is per token: the exercise asks for the whole sequence of seq_len "
                "tokens.": _exactly(expected // T),
                "a multiply-add is two FLOPs: a product with a C_in x C_out matrix costs "
                "2 C_in C_out per token.": _exactly(expected // 2),
                "attention also multiplies activations by activations: queries by keys and "
                "weights by values, 2 T C each per layer and token.": _exactly(T * 2 * N),
                "the count asked for is the full T x T products that PyTorch runs (4 T C "
                "per layer and token), not the causal half.": _exactly(T * (2 * N + 2 * L * T * C)),
                "the language-model head is a V x C matrix product too, for every token.": _exactly(
                    expected - 2 * T * V * C
                ),
                "the embeddings are lookups (a row is read), not matrix products: count "
                "the V x C matrix once, for the head.": _exactly(expected + 2 * T * V * C),
                "the MLP has 8 C^2 weights and the attention 4 C^2: 12 C^2 per layer.": _exactly(
                    expected - 2 * T * 4 * L * C * C
                ),
            }
            c.that(
                isinstance(got, int) or (hasattr(got, "is_integer") and got.is_integer()),
                f"{what}: expected a whole number of FLOPs, got {got!r}",
            )
            c.equal(int(got), expected, what, hints=hints)


def _post_ln_variants(block: Block, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The usual wrong forward passes, with ``block``'s weights."""
    ln_1, attn, ln_2, mlp = block.ln_1, block.attn, block.ln_2, block.mlp
    pre = x + attn(ln_1(x))
    h = x + ln_1(attn(x))
    unswapped = ln_2(x + attn(x))
    no_res = ln_1(attn(x))
    return {
        "that is pre-LN (GPT-2's block): post-LN normalises after the residual "
        "addition, x = ln_1(x + attn(x)), then x = ln_2(x + mlp(x)).": pre + mlp(ln_2(pre)),
        "that normalises the branch before adding it, x + ln(f(x)); post-LN normalises "
        "the sum, ln(x + f(x)).": h + ln_2(mlp(h)),
        "the residual connections are missing: each sublayer's output is added to its "
        "input before the layer norm, ln(x + f(x)).": ln_2(mlp(no_res)),
        "ln_1 belongs to the attention and ln_2 to the MLP: they are swapped.": ln_1(
            unswapped + mlp(unswapped)
        ),
    }


def post_ln_block(cls) -> None:
    """Exercise: a post-LN Transformer block.

    ``cls(n_embd, n_head)`` is an ``nn.Module`` with the submodules ``ln_1``, ``attn``,
    ``ln_2`` and ``mlp`` of :class:`~gptcourse.transformer.Block`, whose ``forward``
    computes ``x = ln_1(x + attn(x))`` then ``ln_2(x + mlp(x))``. It is given the weights
    of the package's ``Block(norm_first=False)`` and must compute what that computes.
    """
    __tracebackhide__ = True
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise CheckFailed(
            f"post_ln_block: expected the class itself (a subclass of nn.Module), got "
            f"{type(cls).__name__}. Pass the class, check.post_ln_block(PostLNBlock)."
        )

    def run(n_embd: int, n_head: int, state: dict, x: torch.Tensor) -> torch.Tensor:
        block = cls(n_embd, n_head)
        block.load_state_dict(state)
        with torch.no_grad():
            return block(x)

    generator = torch.Generator().manual_seed(0)
    with checking("PostLNBlock", run) as c:
        for C, H, T in ((16, 2, 5), (32, 4, 9), (48, 3, 1)):
            torch.manual_seed(C)
            reference = Block(C, H, norm_first=False)
            with torch.no_grad():  # layer norms that are not the identity
                for ln in (reference.ln_1, reference.ln_2):
                    ln.weight.copy_(1 + 0.5 * torch.randn(C, generator=generator))
                    ln.bias.copy_(0.5 * torch.randn(C, generator=generator))
            x = torch.randn(2, T, C, generator=generator)
            what = f"PostLNBlock({C}, {H}) on x of shape {(2, T, C)}"
            got = c.call(C, H, reference.state_dict(), x.clone())
            c.tensor(got, what, shape=(2, T, C))
            with torch.no_grad():
                expected = reference(x)
                hints = {
                    text: same_as(wrong, rtol=1e-4, atol=1e-5)
                    for text, wrong in _post_ln_variants(reference, x).items()
                }
            c.close(got, expected, what, rtol=1e-4, atol=1e-5, hints=hints)
