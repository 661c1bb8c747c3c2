"""Training a language model: the loop of chapter 2, and a loss estimate.

Every model of the course is trained the same way: take a batch, compute the loss, clear
the old gradients, backpropagate, let the optimizer take a step::

    for step in range(steps):
        x, y = next_batch()              # (B, T) inputs and targets
        logits, loss = model(x, y)       # forward
        optimizer.zero_grad(set_to_none=True)
        loss.backward()                  # gradients of the loss
        optimizer.step()                 # move the weights down them

:func:`train` is that loop, with an optional learning-rate schedule and an evaluation
every few steps; :func:`estimate_loss` is the evaluation: the mean loss on fixed
batches, without gradients, in eval mode. A loss other than the model's own (a
distillation loss, :mod:`gptcourse.distill`) is passed as ``loss_fn``; the loop stays the
same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

from gptcourse._validation import check_size
from gptcourse.batches import get_batch

__all__ = ["estimate_loss", "train", "History"]

Batch = tuple[torch.Tensor, torch.Tensor]


@torch.no_grad()
def estimate_loss(
    model: nn.Module,
    data: torch.Tensor | Batch | Iterable[Batch],
    *,
    batch_size: int | None = None,
    block_size: int | None = None,
    num_batches: int = 1,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> float:
    """The model's mean loss, in nats per token, without gradients and in eval mode.

    Args:
        model: ``logits, loss = model(x, y)``.
        data: either a 1-D tensor of token ids, from which ``num_batches`` batches of
            ``batch_size`` windows of ``block_size`` tokens are drawn (the same windows
            every call, from ``seed``, so that losses are comparable), or one ``(x, y)``
            batch, or an iterable of them.
        batch_size, block_size: the batches' shape, for token ids.
        num_batches: how many batches to average, for token ids.
        seed: the seed that picks the windows, for token ids.
        device: where to put the drawn batches.

    Returns:
        the average of the batches' losses. The model is back in the mode it was in
        (training or eval).

        >>> from gptcourse.bigram import BigramLanguageModel
        >>> ids = torch.randint(10, (1000,), generator=torch.Generator().manual_seed(0))
        >>> round(estimate_loss(BigramLanguageModel(10), ids, batch_size=4, block_size=8), 4)
        2.3026
    """
    if isinstance(data, torch.Tensor) and data.dim() == 1:
        if batch_size is None or block_size is None:
            raise ValueError("estimating the loss on token ids needs batch_size and block_size")
        check_size("num_batches", num_batches)
        generator = torch.Generator().manual_seed(seed)
        batches: Iterable[Batch] = [
            get_batch(data, batch_size, block_size, generator=generator, device=device)
            for _ in range(num_batches)
        ]
    elif isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], torch.Tensor):
        batches = [data]
    elif isinstance(data, torch.Tensor):
        raise ValueError(
            f"data must be 1-D token ids, an (x, y) batch or batches, got a tensor of shape "
            f"{tuple(data.shape)}"
        )
    else:
        batches = data
    was_training = model.training
    model.eval()
    try:
        losses = [model(x, y)[1] for x, y in batches]
    finally:
        model.train(was_training)
    if not losses:
        raise ValueError("estimate_loss got no batches")
    return torch.stack(losses).mean().item()


@dataclass
class History:
    """What :func:`train` records.

    Attributes:
        losses: the training loss of every step's batch.
        eval_steps: the steps after which the model was evaluated.
        eval_losses: what ``evaluate`` returned at those steps.
    """

    losses: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    eval_losses: list[float] = field(default_factory=list)


def train(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    next_batch: Callable[[], Batch],
    steps: int,
    *,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    evaluate: Callable[[nn.Module], float] | None = None,
    eval_every: int | None = None,
    loss_fn: Callable[[nn.Module, tuple[torch.Tensor, ...]], torch.Tensor] | None = None,
) -> History:
    """Train ``model`` for ``steps`` steps: the loop of chapter 2.

    Args:
        model: ``logits, loss = model(x, y)``; put in training mode.
        optimizer: over the model's parameters.
        next_batch: returns the next ``(x, y)`` batch, e.g.
            ``lambda: get_batch(train_ids, 32, 64, generator=g)``.
        steps: how many optimizer steps.
        scheduler: a learning-rate schedule, stepped after every optimizer step.
        evaluate: ``evaluate(model) -> loss``, e.g. a call of :func:`estimate_loss` on
            the validation ids; run every ``eval_every`` steps and after the last step.
        eval_every: how often to evaluate (needs ``evaluate``).
        loss_fn: ``loss_fn(model, batch) -> loss``, a scalar to minimise, where ``batch``
            is what ``next_batch`` returned (it may hold more than ``(x, y)``, such as a
            teacher's logits). By default the model's own loss, ``model(x, y)[1]``.

    Returns:
        the :class:`History` of the training losses and evaluations.
    """
    check_size("steps", steps, minimum=0)
    if eval_every is not None:
        check_size("eval_every", eval_every)
        if evaluate is None:
            raise ValueError("eval_every needs an evaluate function")
    history = History()
    losses = []  # kept on the device: reading each one would wait for the device
    model.train()
    for step in range(1, steps + 1):
        batch = next_batch()
        loss = _model_loss(model, batch) if loss_fn is None else loss_fn(model, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        losses.append(loss.detach())
        if evaluate is not None and (step == steps or (eval_every and step % eval_every == 0)):
            history.eval_steps.append(step)
            history.eval_losses.append(float(evaluate(model)))
            model.train()
    history.losses = torch.stack(losses).tolist() if losses else []
    return history


def _model_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    x, y = batch
    return model(x, y)[1]
