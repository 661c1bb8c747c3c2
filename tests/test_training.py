"""The training loop and the loss estimate: equal to the loop written out, no side effects."""

from __future__ import annotations

import pytest
import torch

from gptcourse.batches import get_batch
from gptcourse.model import GPT, GPTConfig
from gptcourse.training import History, estimate_loss, train

pytestmark = pytest.mark.usefixtures("one_cpu_thread")

IDS = torch.randint(30, (2000,), generator=torch.Generator().manual_seed(0))


def _model(seed: int = 0, dropout: float = 0.0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig.from_preset("gpt-nano", vocab_size=30, block_size=16, dropout=dropout))


def test_estimate_loss_is_the_mean_loss_on_fixed_windows():
    model = _model()
    g = torch.Generator().manual_seed(5)
    batches = [get_batch(IDS, 8, 16, generator=g) for _ in range(3)]
    with torch.no_grad():
        expected = sum(model(x, y)[1].item() for x, y in batches) / 3
    got = estimate_loss(model, IDS, batch_size=8, block_size=16, num_batches=3, seed=5)
    assert abs(got - expected) < 1e-6
    assert got == estimate_loss(model, IDS, batch_size=8, block_size=16, num_batches=3, seed=5)
    assert abs(estimate_loss(model, batches) - expected) < 1e-6  # the batches themselves
    assert estimate_loss(model, batches[0]) == pytest.approx(model(*batches[0])[1].item())


@pytest.mark.parametrize("training", [True, False])
def test_estimate_loss_restores_the_mode_and_uses_eval_and_no_grad(training):
    model = _model(dropout=0.5).train(training)
    x, y = get_batch(IDS, 8, 16, generator=torch.Generator().manual_seed(0))
    first = estimate_loss(model, (x, y))
    assert model.training == training
    assert first == estimate_loss(model, (x, y))  # eval mode: no dropout noise
    assert all(p.grad is None for p in model.parameters())


def test_estimate_loss_errors():
    model = _model()
    with pytest.raises(ValueError, match="needs batch_size and block_size"):
        estimate_loss(model, IDS)
    with pytest.raises(ValueError, match=r"got a tensor of shape \(2, 3\)"):
        estimate_loss(model, torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="got no batches"):
        estimate_loss(model, [])


def test_train_is_the_loop_of_chapter_1():
    """Same model, same batches: the package's loop and the loop written out agree exactly."""
    mine, theirs = _model(), _model()
    steps = 12

    def setup(model):
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
        return optimizer, scheduler, torch.Generator().manual_seed(1)

    optimizer, scheduler, g = setup(mine)
    losses = []
    for _ in range(steps):
        x, y = get_batch(IDS, 4, 16, generator=g)
        _, loss = mine(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())

    optimizer, scheduler, g = setup(theirs)
    history = train(
        theirs, optimizer, lambda: get_batch(IDS, 4, 16, generator=g), steps, scheduler=scheduler
    )
    assert history.losses == losses
    for a, b in zip(mine.parameters(), theirs.parameters(), strict=True):
        assert torch.equal(a, b)


def test_train_evaluates_every_n_steps_and_after_the_last():
    model = _model()
    calls = []

    def evaluate(m):
        calls.append(m.training)
        return estimate_loss(m, IDS, batch_size=4, block_size=16)

    g = torch.Generator().manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    history = train(
        model,
        optimizer,
        lambda: get_batch(IDS, 4, 16, generator=g),
        10,
        evaluate=evaluate,
        eval_every=4,
    )
    assert isinstance(history, History) and len(history.losses) == 10
    assert history.eval_steps == [4, 8, 10] and len(history.eval_losses) == 3
    assert model.training  # back to training after each evaluation


def test_train_errors():
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="eval_every needs an evaluate function"):
        train(model, optimizer, lambda: None, 3, eval_every=2)
    with pytest.raises(TypeError, match="steps must be an integer, got float"):
        train(model, optimizer, lambda: None, 3.0)


def test_train_minimises_the_loss_fn_on_what_next_batch_returns():
    """With ``loss_fn``, the loop backpropagates its value on the whole batch, extras too."""
    mine, theirs = _model(), _model()
    g1, g2 = torch.Generator().manual_seed(2), torch.Generator().manual_seed(2)
    seen = []

    def doubled(model, batch):  # twice the model's loss, times an extra element of the batch
        x, y, factor = batch
        seen.append(factor)
        return factor * model(x, y)[1]

    history = train(
        mine,
        torch.optim.SGD(mine.parameters(), lr=0.05),
        lambda: (*get_batch(IDS, 4, 16, generator=g1), 2.0),
        5,
        loss_fn=doubled,
    )
    reference = train(
        theirs,
        torch.optim.SGD(theirs.parameters(), lr=0.1),  # twice the loss = twice the rate
        lambda: get_batch(IDS, 4, 16, generator=g2),
        5,
    )
    assert seen == [2.0] * 5
    assert history.losses[0] == pytest.approx(2 * reference.losses[0], rel=1e-6)
    for a, b in zip(mine.parameters(), theirs.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
