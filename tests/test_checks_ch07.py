"""The checks of chapter 7's exercises: right answers pass, each named mistake gets its hint."""

from __future__ import annotations

import pytest
from torch import nn

from gptcourse.attention import CausalSelfAttention
from gptcourse.checks import CheckFailed, ch07
from gptcourse.transformer import MLP


def _stub(*args, **kwargs):
    raise NotImplementedError("Exercise 7-1: replace this line with your code.")


# --- gpt_parameters ------------------------------------------------------------------------


def _params(L, C, V, T, *, tied_twice=False, linear_biases=True, norms=True, final=True,
            positions=True, hidden=4, projections=4):  # fmt: skip
    attention = projections * C * C + (projections * C if linear_biases else 0)
    mlp = 2 * hidden * C * C + ((hidden + 1) * C if linear_biases else 0)
    per_block = attention + mlp + (4 * C if norms else 0)
    total = L * per_block + V * C * (2 if tied_twice else 1)
    total += (T * C if positions else 0) + (2 * C if final and norms else 0)
    return total


def test_gpt_parameters_right_answers_pass(capsys):
    ch07.gpt_parameters(_params)
    ch07.gpt_parameters(lambda L, C, V, T: float(_params(L, C, V, T)))  # 1.24e8 is a count
    assert capsys.readouterr().out.count("gpt_parameters: all 8 checks passed") == 2
    assert _params(12, 768, 50257, 1024) == 124_439_808


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(tied_twice=True), "counted once"),
        (dict(linear_biases=False), "the linear layers have biases"),
        (dict(norms=False), "the layer norms have parameters too"),
        (dict(norms=False, linear_biases=False), "every bias and every layer norm"),
        (dict(final=False), "the final layer norm"),
        (dict(positions=False), "the position embedding"),
        (dict(hidden=1), "the MLP widens to 4C"),
        (dict(projections=3), "four C x C projections"),
    ],
)
def test_gpt_parameters_wrong_answers_are_named(changes, message):
    with pytest.raises(CheckFailed, match=message):
        ch07.gpt_parameters(lambda L, C, V, T: _params(L, C, V, T, **changes))


def test_gpt_parameters_stub_and_non_numbers_fail():
    with pytest.raises(CheckFailed, match="not implemented yet"):
        ch07.gpt_parameters(_stub)
    with pytest.raises(CheckFailed, match="expected a whole number"):
        ch07.gpt_parameters(lambda L, C, V, T: _params(L, C, V, T) + 0.5)


# --- forward_flops -------------------------------------------------------------------------


def _flops(L, C, V, T, *, factor=2, attention=4, head=True, embeddings=False, per_token=False,
           training=False, block=12):  # fmt: skip
    weights = block * L * C * C + (V * C if head else 0) + (V * C if embeddings else 0)
    token = factor * weights + factor * (attention // 2) * L * T * C
    total = token if per_token else T * token
    return 3 * total if training else total


def test_forward_flops_right_answer_passes(capsys):
    ch07.forward_flops(_flops)
    assert "forward_flops: all 8 checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(training=True), "training step's count"),
        (dict(per_token=True), "that is per token"),
        (dict(factor=1), "a multiply-add is two FLOPs"),
        (dict(attention=0), "attention also multiplies activations"),
        (dict(attention=2), "not the causal half"),
        (dict(head=False), "the language-model head"),
        (dict(embeddings=True), "the embeddings are lookups"),
        (dict(block=8), "12 C\\^2 per layer"),
    ],
)
def test_forward_flops_wrong_answers_are_named(changes, message):
    with pytest.raises(CheckFailed, match=message):
        ch07.forward_flops(lambda L, C, V, T: _flops(L, C, V, T, **changes))


def test_forward_flops_stub_fails():
    with pytest.raises(CheckFailed, match="not implemented yet"):
        ch07.forward_flops(_stub)


# --- post_ln_block -------------------------------------------------------------------------


def _block_class(forward):
    class Candidate(nn.Module):
        def __init__(self, n_embd, n_head):
            super().__init__()
            self.ln_1 = nn.LayerNorm(n_embd)
            self.attn = CausalSelfAttention(n_embd, n_head)
            self.ln_2 = nn.LayerNorm(n_embd)
            self.mlp = MLP(n_embd)

        def forward(self, x):
            return forward(self, x)

    return Candidate


def _post_ln(m, x):
    x = m.ln_1(x + m.attn(x))
    return m.ln_2(x + m.mlp(x))


def _pre_ln(m, x):
    x = x + m.attn(m.ln_1(x))
    return x + m.mlp(m.ln_2(x))


def _normalised_branches(m, x):
    x = x + m.ln_1(m.attn(x))
    return x + m.ln_2(m.mlp(x))


def _no_residual(m, x):
    return m.ln_2(m.mlp(m.ln_1(m.attn(x))))


def _swapped(m, x):
    x = m.ln_2(x + m.attn(x))
    return m.ln_1(x + m.mlp(x))


def test_post_ln_block_right_answer_passes(capsys):
    ch07.post_ln_block(_block_class(_post_ln))
    assert "PostLNBlock: all 9 checks passed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("forward", "message"),
    [
        (_pre_ln, "that is pre-LN"),
        (_normalised_branches, "normalises the branch before adding it"),
        (_no_residual, "the residual connections are missing"),
        (_swapped, "they are swapped"),
        (lambda m, x: _post_ln(m, x)[:, -1:], "expected shape"),
    ],
)
def test_post_ln_block_wrong_answers_are_named(forward, message):
    with pytest.raises(CheckFailed, match=message):
        ch07.post_ln_block(_block_class(forward))


def test_post_ln_block_stub_and_wrong_arguments_fail():
    def stub(m, x):
        raise NotImplementedError("Exercise 7-3: replace this line with your code.")

    with pytest.raises(CheckFailed, match="not implemented yet"):
        ch07.post_ln_block(_block_class(stub))
    with pytest.raises(CheckFailed, match="expected the class itself"):
        ch07.post_ln_block(_block_class(_post_ln)(16, 2))

    class Renamed(_block_class(_post_ln)):  # parts under other names: weights cannot load
        def __init__(self, n_embd, n_head):
            super().__init__(n_embd, n_head)
            self.norm = self.ln_1
            del self.ln_1

    with pytest.raises(CheckFailed, match="raised RuntimeError"):
        ch07.post_ln_block(Renamed)
