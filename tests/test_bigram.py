"""Bigram models: counted and learned tables of the same family, their losses and samples."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gptcourse import data
from gptcourse.batches import get_batch, train_val_split
from gptcourse.bigram import BigramLanguageModel, CountBigramModel, pair_counts
from gptcourse.char_tokenizer import CharTokenizer
from gptcourse.generation import generate
from gptcourse.training import train

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


@pytest.fixture(scope="module")
def shakespeare():
    """Tiny Shakespeare as (vocab_size, train ids, validation ids); skipped when offline."""
    try:
        text = data.load_text("tinyshakespeare")
    except data.DatasetError as e:
        pytest.skip(f"Tiny Shakespeare is not available: {e}")
    tokenizer = CharTokenizer.from_text(text)
    train, val = train_val_split(torch.tensor(tokenizer.encode(text)), val_fraction=0.1)
    return tokenizer.vocab_size, train, val


def _loss(model, ids: torch.Tensor) -> float:
    """The model's mean cross-entropy over every position of ids, through forward()."""
    _, loss = model(ids[None, :-1], ids[None, 1:])
    return loss.item()


def _split_loss(model, ids: torch.Tensor) -> float:
    """The same, from the pair counts of ids (fast on a whole split)."""
    n = pair_counts(ids, model.vocab_size).double()
    return (-torch.where(n > 0, n * model.log_probs().double(), 0.0).sum() / n.sum()).item()


def test_pair_counts_match_a_plain_loop():
    ids = torch.randint(7, (500,), generator=torch.Generator().manual_seed(0))
    expected = torch.zeros(7, 7, dtype=torch.long)
    for a, b in zip(ids[:-1].tolist(), ids[1:].tolist(), strict=True):
        expected[a, b] += 1
    counts = pair_counts(ids, 7)
    assert torch.equal(counts, expected)
    assert counts.sum() == len(ids) - 1


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_count_model_rows_are_distributions_given_by_the_smoothing_formula(alpha):
    ids = torch.randint(9, (2000,), generator=torch.Generator().manual_seed(1))
    model = CountBigramModel.from_ids(ids, 9, alpha=alpha)
    counts = pair_counts(ids, 9).double()
    expected = (counts + alpha) / (counts.sum(dim=1, keepdim=True) + alpha * 9)
    torch.testing.assert_close(model.probs.double(), expected, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(model.probs.sum(dim=1), torch.ones(9))
    torch.testing.assert_close(model.log_probs().exp(), model.probs)


def test_count_model_loss_equals_cross_entropy_by_hand():
    # Pairs of [0, 1, 0, 1, 1]: (0,1) twice, (1,0) once, (1,1) once. With add-one smoothing
    # p(.|0) = (0+1, 2+1) / 4 = (1/4, 3/4) and p(.|1) = (1+1, 1+1) / 4 = (1/2, 1/2).
    model = CountBigramModel.from_ids(torch.tensor([0, 1, 0, 1, 1]), 2, alpha=1.0)
    torch.testing.assert_close(model.probs, torch.tensor([[0.25, 0.75], [0.5, 0.5]]))
    # The text [0, 1, 1, 0] has the pairs (0,1), (1,1), (1,0).
    by_hand = -(math.log(0.75) + math.log(0.5) + math.log(0.5)) / 3
    text = torch.tensor([0, 1, 1, 0])
    assert math.isclose(_loss(model, text), by_hand, rel_tol=1e-6)
    assert math.isclose(_split_loss(model, text), by_hand, rel_tol=1e-6)


def test_unsmoothed_model_gives_an_unseen_pair_infinite_loss():
    model = CountBigramModel.from_ids(torch.tensor([0, 1, 0, 1]), 2, alpha=0.0)
    assert _loss(model, torch.tensor([0, 1])) == 0.0  # certain and right
    assert _loss(model, torch.tensor([0, 0])) == math.inf


def test_neural_model_starts_uniform_and_reproduces_any_table():
    model = BigramLanguageModel(5)
    ids = torch.tensor([[0, 3, 4, 1]])
    logits, loss = model(ids, torch.tensor([[3, 4, 1, 2]]))
    assert logits.shape == (1, 4, 5)
    assert math.isclose(loss.item(), math.log(5), rel_tol=1e-6)
    # The same family: given a count model's log-probabilities as logits, it is that model.
    count_model = CountBigramModel.from_ids(torch.randint(5, (300,)), 5, alpha=0.5)
    with torch.no_grad():
        model.token_logits.weight.copy_(count_model.log_probs())
    text = torch.randint(5, (100,), generator=torch.Generator().manual_seed(2))
    assert math.isclose(_loss(model, text), _loss(count_model, text), rel_tol=1e-6)


def test_forward_matches_cross_entropy_on_flattened_logits():
    torch.manual_seed(0)
    model = BigramLanguageModel(11)
    torch.nn.init.normal_(model.token_logits.weight)
    x = torch.randint(11, (4, 7))
    y = torch.randint(11, (4, 7))
    logits, loss = model(x, y)
    torch.testing.assert_close(logits, model.token_logits.weight[x])
    torch.testing.assert_close(loss, F.cross_entropy(logits.reshape(28, 11), y.reshape(28)))
    logits_only, no_loss = model(x)
    assert no_loss is None and torch.equal(logits_only, logits)


def test_bigram_beats_uniform_and_unigram_on_validation(shakespeare):
    V, train_ids, val = shakespeare
    model = CountBigramModel.from_ids(train_ids, V, alpha=1.0)
    unigram = torch.bincount(train_ids, minlength=V).double() / len(train_ids)
    h_unigram = -unigram[val].log().mean().item()
    h_bigram = _loss(model, val)
    assert h_bigram < h_unigram < math.log(V)
    assert h_bigram < math.log(V) - 1.5  # 2.48 nats against log 65 = 4.17


def test_neural_bigram_trained_briefly_approaches_the_count_model(shakespeare):
    V, train_ids, val = shakespeare
    torch.manual_seed(0)
    model = BigramLanguageModel(V)
    steps = 150
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.3, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    g = torch.Generator().manual_seed(0)
    history = train(
        model,
        optimizer,
        lambda: get_batch(train_ids, batch_size=32, block_size=128, generator=g),
        steps,
        scheduler=schedule,
    )
    assert len(history.losses) == steps and history.losses[-1] < history.losses[0]
    best = CountBigramModel.from_ids(train_ids, V, alpha=0.0)  # the best table for the train split
    smoothed = CountBigramModel.from_ids(train_ids, V, alpha=1.0)
    gap = _split_loss(model, train_ids) - _split_loss(best, train_ids)
    assert 0 <= gap < 0.02  # never below the maximum-likelihood table, and close to it
    assert abs(_split_loss(model, val) - _split_loss(smoothed, val)) < 0.03
    assert math.isclose(_split_loss(model, val), _loss(model, val), rel_tol=1e-5)


@pytest.mark.parametrize("make", [lambda: BigramLanguageModel(6), lambda: _count_model(6)])
def test_generation_is_reproducible_with_a_seeded_generator(make):
    model = make()
    start = torch.tensor([[0], [3]])
    a = model.generate(start, 50, generator=torch.Generator().manual_seed(7))
    b = model.generate(start, 50, generator=torch.Generator().manual_seed(7))
    c = model.generate(start, 50, generator=torch.Generator().manual_seed(8))
    assert a.shape == (2, 51) and a.dtype == torch.long
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(a[:, :1], start)
    assert torch.equal(generate(model, start, 50, generator=torch.Generator().manual_seed(7)), a)


def test_sampling_is_the_multinomial_draw_of_the_softmax_of_the_last_logits():
    """The shared sampler draws exactly what torch.multinomial draws from the table's row."""
    model = _count_model(6)
    start = torch.tensor([[0], [3]])
    out = model.generate(start, 1, generator=torch.Generator().manual_seed(5))
    probs = torch.softmax(model(start)[0][:, -1], dim=-1)
    expected = torch.multinomial(probs, 1, generator=torch.Generator().manual_seed(5))
    assert torch.equal(out[:, 1:], expected)


def test_targets_marked_minus_100_do_not_count():
    torch.manual_seed(0)
    model = BigramLanguageModel(7)
    torch.nn.init.normal_(model.token_logits.weight)
    x, y = torch.randint(7, (2, 6)), torch.randint(7, (2, 6))
    ignored = y.clone()
    ignored[:, 3:] = -100
    _, loss = model(x, ignored)
    _, expected = model(x[:, :3], y[:, :3])
    torch.testing.assert_close(loss, expected)
    with pytest.raises(ValueError, match=r"token id -5, outside .*-100 marks ignored positions"):
        model(x, torch.full_like(y, -5))


def test_generation_follows_the_table():
    # A deterministic cycle 0 -> 1 -> 2 -> 0: sampling has no choice.
    counts = torch.tensor([[0, 5, 0], [0, 0, 5], [5, 0, 0]])
    model = CountBigramModel(counts, alpha=0.0)
    out = model.generate(torch.tensor([[1]]), 6)
    assert out.tolist() == [[1, 2, 0, 1, 2, 0, 1]]


def test_generated_frequencies_match_the_probabilities():
    model = CountBigramModel(torch.tensor([[1, 3], [1, 1]]), alpha=0.0)  # p(1 | 0) = 0.75
    out = model.generate(
        torch.zeros(4000, 1, dtype=torch.long), 1, torch.Generator().manual_seed(0)
    )
    assert abs(out[:, 1].double().mean().item() - 0.75) < 0.03  # 5 standard errors


def _count_model(V: int) -> CountBigramModel:
    ids = torch.randint(V, (200,), generator=torch.Generator().manual_seed(3))
    return CountBigramModel.from_ids(ids, V, alpha=1.0)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda m: m(torch.tensor([1, 2])), ValueError, r"idx must be 2-D, got shape \(2,\)"),
        (lambda m: m(torch.tensor([[1, 7]])), ValueError, r"token id 7, outside .* 0 \.\. 5"),
        (lambda m: m(torch.tensor([[-1, 2]])), ValueError, r"token id -1, outside"),
        (lambda m: m(torch.tensor([[0.0, 1.0]])), ValueError, "integer token ids, got dtype"),
        (lambda m: m([[0, 1]]), TypeError, "must be a torch.Tensor"),
        (
            lambda m: m(torch.tensor([[0, 1]]), torch.tensor([[1, 2, 3]])),
            ValueError,
            r"targets must have the shape of idx, \(1, 2\), got \(1, 3\)",
        ),
        (
            lambda m: m.generate(torch.tensor([[0]]), -1),
            ValueError,
            "max_new_tokens must be an integer >= 0, got -1",
        ),
        (lambda m: m.generate(torch.zeros(2, 0, dtype=torch.long), 3), ValueError, "at least one"),
    ],
)
def test_bad_input_raises_clear_errors(call, error, message):
    for model in (BigramLanguageModel(6), _count_model(6)):
        with pytest.raises(error, match=message):
            call(model)


def test_bad_construction_raises_clear_errors():
    with pytest.raises(ValueError, match="vocab_size must be positive, got 0"):
        BigramLanguageModel(0)
    with pytest.raises(ValueError, match=r"square \(V, V\) table, got \(2, 3\)"):
        CountBigramModel(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="alpha must be >= 0, got -1"):
        CountBigramModel(torch.ones(2, 2), alpha=-1)
    with pytest.raises(ValueError, match="token 1 is never followed by anything"):
        CountBigramModel(torch.tensor([[1, 1], [0, 0]]), alpha=0.0)
    with pytest.raises(ValueError, match=r"ids holds token id 4, outside the vocabulary 0 \.\. 3"):
        pair_counts(torch.tensor([0, 4]), 4)
