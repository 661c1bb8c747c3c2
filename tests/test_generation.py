"""Generation: the sampler's rules, the key/value cache (identical tokens with and without),
left-padded batches, stopping, and the errors for bad arguments."""

from __future__ import annotations

import pytest
import torch

from gptcourse.bigram import BigramLanguageModel
from gptcourse.generation import generate, pad_prompts, sample_next_token
from gptcourse.model import GPT, GPTConfig

pytestmark = pytest.mark.usefixtures("one_cpu_thread")

F64 = torch.float64


def _model(positions: str = "learned", block_size: int = 24, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    config = GPTConfig.from_preset(
        "gpt-nano", vocab_size=40, block_size=block_size, positions=positions
    )
    return GPT(config).double()


def _g(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- the sampler ---------------------------------------------------------------------------


def test_temperature_zero_is_the_argmax():
    logits = torch.randn(5, 30, generator=_g())
    assert torch.equal(sample_next_token(logits, temperature=0), logits.argmax(-1))


def test_sampling_draws_from_the_softmax_of_the_scaled_logits():
    logits = torch.randn(3, 20, generator=_g())
    for temperature in (1.0, 0.5, 2.0):
        got = sample_next_token(logits, temperature=temperature, generator=_g(1))
        probs = torch.softmax(logits / temperature, dim=-1)
        assert torch.equal(got, torch.multinomial(probs, 1, generator=_g(1))[:, 0])


def test_frequencies_follow_the_probabilities():
    logits = torch.tensor([[0.0, 1.0, 2.0]]).log_softmax(-1).expand(20000, 3)
    counts = torch.bincount(sample_next_token(logits, generator=_g()), minlength=3)
    expected = torch.softmax(torch.tensor([0.0, 1.0, 2.0]), -1) * 20000
    assert torch.all((counts - expected).abs() < 5 * expected.sqrt())  # 5 standard errors


def test_top_k_samples_only_the_k_most_likely():
    logits = torch.randn(4, 50, generator=_g()).expand(2000, 4, 50).reshape(8000, 50)
    got = sample_next_token(logits, top_k=3, generator=_g(1))
    allowed = logits.topk(3, dim=-1).indices
    assert torch.all((allowed == got[:, None]).any(-1))
    assert len(got.unique()) >= 3  # and it does sample among them
    assert torch.equal(sample_next_token(logits, top_k=1, generator=_g()), logits.argmax(-1))


def test_top_p_keeps_the_smallest_set_that_reaches_p():
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    logits = probs.log().expand(4000, 4)
    for top_p, kept in [(0.5, {0}), (0.6, {0, 1}), (0.8, {0, 1}), (0.81, {0, 1, 2}), (1.0, None)]:
        got = set(sample_next_token(logits, top_p=top_p, generator=_g()).tolist())
        assert got == (kept or {0, 1, 2, 3}), top_p
    # In vocabulary order other than sorted, too:
    shuffled = torch.tensor([0.05, 0.3, 0.5, 0.15]).log().expand(4000, 4)
    assert set(sample_next_token(shuffled, top_p=0.6, generator=_g()).tolist()) == {1, 2}


def test_top_p_renormalises_the_kept_tokens():
    logits = torch.tensor([0.5, 0.3, 0.2]).log().expand(20000, 3)
    counts = torch.bincount(sample_next_token(logits, top_p=0.7, generator=_g()), minlength=3)
    assert counts[2] == 0 and abs(counts[0].item() / 20000 - 0.625) < 0.02  # 0.5 / 0.8


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(temperature=-0.5), ValueError, r"temperature must be >= 0 .* got -0.5"),
        (dict(temperature="hot"), TypeError, r"temperature must be a float, got str 'hot'"),
        (dict(top_k=0), ValueError, r"top_k must be a positive integer, got 0"),
        (dict(top_k=2.5), TypeError, r"top_k must be an integer, got float 2.5"),
        (dict(top_p=0.0), ValueError, r"top_p must be in \(0, 1\], .* got 0.0"),
        (dict(top_p=1.5), ValueError, r"top_p must be in \(0, 1\], .* got 1.5"),
    ],
)
def test_bad_sampling_arguments_are_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        sample_next_token(torch.zeros(1, 5), **kwargs)
    with pytest.raises(error, match=message):
        generate(_model(), torch.zeros(1, 2, dtype=torch.long), 3, **kwargs)


def test_logits_of_the_wrong_shape_are_refused():
    with pytest.raises(ValueError, match=r"logits must have shape \(B, V\), got \(2, 3, 5\)"):
        sample_next_token(torch.zeros(2, 3, 5))
    with pytest.raises(TypeError, match="logits must be a torch.Tensor, got list"):
        sample_next_token([[0.0, 1.0]])


# --- the cache: the same tokens, faster ----------------------------------------------------


@pytest.mark.parametrize("positions", ["learned", "rotary"])
@pytest.mark.parametrize(
    "sampling", [dict(temperature=0), dict(temperature=0.9, top_k=8, top_p=0.9)]
)
def test_cached_generation_equals_uncached(positions, sampling):
    model = _model(positions)
    prompt = torch.randint(40, (3, 5), generator=_g())
    cached = generate(model, prompt, 15, generator=_g(1), **sampling)
    uncached = generate(model, prompt, 15, generator=_g(1), use_cache=False, **sampling)
    assert cached.shape == (3, 20) and torch.equal(cached, uncached)
    assert torch.equal(cached[:, :5], prompt)


@pytest.mark.parametrize("positions", ["learned", "rotary"])
def test_left_padded_prompts_of_different_lengths(positions):
    """Cached equals uncached, and each row continues as its prompt would alone."""
    model = _model(positions)
    prompts = [[1, 2, 3, 4, 5, 6], [7, 8], [9, 10, 11, 12]]
    idx, mask = pad_prompts(prompts, pad_token_id=0)
    cached = generate(model, idx, 12, temperature=0, attention_mask=mask)
    uncached = generate(model, idx, 12, temperature=0, attention_mask=mask, use_cache=False)
    assert torch.equal(cached, uncached)
    for row, prompt in enumerate(prompts):
        alone = generate(model, torch.tensor([prompt]), 12, temperature=0)
        assert torch.equal(cached[row, 6:], alone[0, len(prompt) :])


def test_beyond_block_size_the_model_reads_the_last_block_size_tokens():
    model = _model(block_size=12)
    prompt = torch.randint(40, (2, 4), generator=_g())
    cached = generate(model, prompt, 20, temperature=0)
    assert cached.shape == (2, 24)
    assert torch.equal(cached, generate(model, prompt, 20, temperature=0, use_cache=False))
    # Token 20 is the greedy continuation of the 12 tokens before it.
    logits, _ = model(cached[:, 8:20])
    assert torch.equal(cached[:, 20], logits[:, -1].argmax(-1))


def test_a_prompt_longer_than_block_size_is_cropped():
    model = _model(block_size=12)
    prompt = torch.randint(40, (1, 15), generator=_g())
    out = generate(model, prompt, 1, temperature=0)
    assert torch.equal(out[:, -1], model(prompt[:, -12:])[0][:, -1].argmax(-1))


def test_generation_is_reproducible_and_restores_the_mode():
    model = _model().train()
    prompt = torch.zeros(2, 1, dtype=torch.long)
    a = generate(model, prompt, 10, generator=_g(3))
    assert model.training  # back in training mode
    assert torch.equal(a, generate(model, prompt, 10, generator=_g(3)))
    assert not torch.equal(a, generate(model, prompt, 10, generator=_g(4)))


# --- stopping ------------------------------------------------------------------------------


def _always(token_for_step: list[int]) -> torch.nn.Module:
    """A fake model that proposes token_for_step[t] at step t, whatever the input."""

    class Scripted(torch.nn.Module):
        vocab_size = 10

        def forward(self, idx, targets=None):
            step = idx.shape[1] - 1
            logits = torch.full((idx.shape[0], idx.shape[1], 10), -1e9)
            logits[..., token_for_step[min(step, len(token_for_step) - 1)]] = 0.0
            return logits, None

    return Scripted()


def test_generation_stops_when_every_row_has_ended():
    model = _model()
    prompt = torch.randint(40, (3, 4), generator=_g())
    free = generate(model, prompt, 12, temperature=0)
    eos = int(free[0, 6])  # a token that row 0 produces
    out = generate(model, prompt, 12, temperature=0, eos_token_id=eos, pad_token_id=39)
    ends = []
    for row in range(3):  # each row is the free run up to its first eos, then padding
        new_free, new_out = free[row, 4:], out[row, 4:]
        hits = (new_free == eos).nonzero()
        end = int(hits[0]) + 1 if len(hits) else 12
        assert torch.equal(new_out[:end], new_free[:end])
        assert torch.all(new_out[end:] == 39)
        ends.append(end)
    assert out.shape == (3, 4 + max(ends))


def test_several_eos_ids_and_an_early_stop():
    out = generate(
        _always([3, 5, 7, 1, 2]),
        torch.zeros(1, 1, dtype=torch.long),
        10,
        temperature=0,
        eos_token_id=[7, 9],
    )
    assert out.tolist() == [[0, 3, 5, 7]]  # stopped at the first eos, 3 of 10 new tokens


# --- any model of the course ---------------------------------------------------------------


def test_the_bigram_model_uses_the_same_sampler():
    model = BigramLanguageModel(6)
    torch.nn.init.normal_(model.token_logits.weight, generator=_g())
    start = torch.tensor([[0], [3]])
    assert torch.equal(
        model.generate(start, 20, generator=_g(2)), generate(model, start, 20, generator=_g(2))
    )
    assert model.block_size == 1  # it reads the last token only


def test_pad_prompts():
    idx, mask = pad_prompts([torch.tensor([4, 5]), [6, 7, 8]], pad_token_id=9)
    assert idx.tolist() == [[9, 4, 5], [6, 7, 8]]
    assert mask.tolist() == [[False, True, True], [True, True, True]]
    with pytest.raises(ValueError, match="at least one prompt, each of at least one token"):
        pad_prompts([[1], []])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda m: generate(m, torch.zeros(1, 2, dtype=torch.long), -1),
            ValueError,
            "max_new_tokens must be an integer >= 0, got -1",
        ),
        (
            lambda m: generate(m, torch.zeros(1, 2, dtype=torch.long), 2.0),
            TypeError,
            "max_new_tokens must be an integer, got float 2.0",
        ),
        (
            lambda m: generate(m, torch.zeros(1, 0, dtype=torch.long), 2),
            ValueError,
            r"at least one token per row .* \(1, 0\)",
        ),
        (lambda m: generate(m, [[1, 2]], 2), TypeError, "idx must be a torch.Tensor"),
        (
            lambda m: generate(m, torch.tensor([[1, 40]]), 2),
            ValueError,
            r"token id 40, outside the vocabulary 0 \.\. 39",
        ),
        (
            lambda m: generate(
                m, torch.zeros(1, 2, dtype=torch.long), 2, attention_mask=torch.ones(1, 3)
            ),
            ValueError,
            r"attention_mask must have the shape of idx, \(1, 2\), got \(1, 3\)",
        ),
        (
            lambda m: generate(m, torch.zeros(1, 2, dtype=torch.long), 2, eos_token_id=-1),
            ValueError,
            "eos_token_id must be an integer >= 0, got -1",
        ),
        (
            lambda m: generate(
                BigramLanguageModel(40),
                torch.zeros(1, 2, dtype=torch.long),
                2,
                attention_mask=torch.ones(1, 2),
            ),
            ValueError,
            "BigramLanguageModel does not take an attention_mask",
        ),
    ],
)
def test_bad_generation_arguments_are_refused(call, error, message):
    with pytest.raises(error, match=message):
        call(_model())
