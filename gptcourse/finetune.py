"""Fine-tuning a GPT to classify: a head on the last token, what to train, and the loop.

GPT-1 (Radford et al., 2018) fine-tuned its pretrained model on each task by adding one
linear layer that reads the Transformer's output at the last token of the input: in a
causal model, the only position that has seen the whole text. It trained all the weights
(freezing the model and training the head alone is the cheaper option) and kept the
language-modelling loss as an auxiliary objective, ``loss = task loss + lambda * LM
loss`` with ``lambda = 0.5``, which it found helps larger datasets and speeds up
convergence.

:class:`GPTClassifier` is that model. With padded batches the "last token" is the last
*real* token of each row, wherever the padding is (right or left): the attention mask
says where. Which weights train is chosen with :func:`freeze_all_but_head`,
:func:`~gptcourse.lora.apply_lora` or nothing (all of them), and counted by
:func:`count_trainable`.

    >>> from gptcourse.model import GPT, GPTConfig
    >>> gpt = GPT(GPTConfig.from_preset("gpt-nano", vocab_size=50, block_size=16))
    >>> classifier = GPTClassifier(gpt, num_classes=2)
    >>> idx = torch.tensor([[5, 6, 7], [8, 0, 0]])
    >>> mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    >>> logits, loss = classifier(idx, mask, labels=torch.tensor([1, 0]))
    >>> tuple(logits.shape)
    (2, 2)
    >>> freeze_all_but_head(classifier).count_trainable()
    (98, 88178)
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from gptcourse.model import GPT
from gptcourse.optim import configure_adamw
from gptcourse.precision import Precision
from gptcourse.sms_spam import Batch

__all__ = [
    "last_token_index",
    "GPTClassifier",
    "freeze_all_but_head",
    "count_trainable",
    "accuracy",
    "FinetuneHistory",
    "finetune",
]


def last_token_index(attention_mask: torch.Tensor) -> torch.Tensor:
    """The position of the last real token of each row: ``(B, T)`` -> ``(B,)``.

    Works for right padding, left padding or none.

        >>> last_token_index(torch.tensor([[1, 1, 0], [0, 1, 1], [1, 1, 1]])).tolist()
        [1, 2, 2]
    """
    T = attention_mask.shape[-1]
    return T - 1 - attention_mask.bool().flip(-1).int().argmax(-1)


class GPTClassifier(nn.Module):
    """A GPT with a classification head on the last real token.

    Args:
        gpt: the (pretrained) model; its language-model head stays for the auxiliary loss.
        num_classes: the number of classes, ``K``.

    Attributes:
        head: ``nn.Linear(n_embd, num_classes)``.
    """

    def __init__(self, gpt: GPT, num_classes: int = 2):
        super().__init__()
        self.gpt = gpt
        self.head = nn.Linear(gpt.config.n_embd, num_classes)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def forward(
        self,
        idx: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        *,
        lm_weight: float = 0.0,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Class logits ``(B, K)``, and the loss when ``labels`` ``(B,)`` are given.

        The loss is the cross-entropy of the classes, plus ``lm_weight`` times the
        language-model loss of the inputs (next-token prediction over their real tokens),
        GPT-1's auxiliary objective.
        """
        h = self.gpt.hidden_states(idx, attention_mask=attention_mask)  # (B, T, C)
        if attention_mask is None:
            last = h[:, -1]  # (B, C)
        else:
            rows = torch.arange(idx.shape[0], device=idx.device)
            last = h[rows, last_token_index(attention_mask)]  # (B, C)
        logits = self.head(last)  # (B, K)
        if labels is None:
            return logits, None
        loss = F.cross_entropy(logits, labels)
        if lm_weight:
            targets = idx[:, 1:]
            if attention_mask is not None:  # padding is not a token to predict
                targets = targets.masked_fill(~attention_mask[:, 1:].bool(), -100)
            lm_logits = self.gpt.lm_head(h[:, :-1])  # (B, T - 1, V)
            lm_loss = F.cross_entropy(
                lm_logits.flatten(0, 1).float(), targets.flatten(), ignore_index=-100
            )
            loss = loss + lm_weight * lm_loss
        return logits, loss

    def count_trainable(self) -> tuple[int, int]:
        """See :func:`count_trainable`."""
        return count_trainable(self)


def freeze_all_but_head(classifier: GPTClassifier) -> GPTClassifier:
    """Freeze the GPT; only the classification head trains."""
    classifier.gpt.requires_grad_(False)
    classifier.head.requires_grad_(True)
    return classifier


def count_trainable(model: nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` parameters of ``model`` (a shared tensor counted once)."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


@torch.no_grad()
def accuracy(
    classifier: GPTClassifier,
    batches: Iterable[Batch],
    *,
    device: torch.device | str = "cpu",
    precision: Precision | None = None,
) -> float:
    """The share of examples whose most likely class is their label (eval mode)."""
    precision = precision or Precision(torch.device(device).type)
    was_training = classifier.training
    classifier.eval()
    correct = total = 0
    try:
        for batch in batches:
            batch = batch.to(device)
            with precision.autocast():
                logits, _ = classifier(batch.input_ids, batch.attention_mask)
            correct += (logits.argmax(-1) == batch.labels).sum()
            total += len(batch.labels)
    finally:
        classifier.train(was_training)
    return float(correct) / total if total else float("nan")


@dataclass
class FinetuneHistory:
    """What :func:`finetune` records: the loss of every step, and after each epoch the
    validation accuracy; ``time_s`` is the training time."""

    losses: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    time_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"losses": self.losses, "val_accuracy": self.val_accuracy, "time_s": self.time_s}


def finetune(
    classifier: GPTClassifier,
    train_batches: Iterable[Batch],
    val_batches: Iterable[Batch] | None = None,
    *,
    epochs: int = 3,
    lr: float = 5e-5,
    weight_decay: float = 0.1,
    lm_weight: float = 0.0,
    grad_clip: float = 1.0,
    device: torch.device | str = "cpu",
    dtype: str = "auto",
    progress: bool = False,
) -> FinetuneHistory:
    """Train the classifier's trainable parameters with AdamW for ``epochs`` epochs.

    Args:
        classifier: with its parameters frozen or not as wanted, on ``device``.
        train_batches, val_batches: padded :class:`~gptcourse.sms_spam.Batch` es (e.g.
            from :func:`~gptcourse.sms_spam.make_loader`).
        lm_weight: the weight of the auxiliary language-model loss (GPT-1: 0.5).
        dtype: autocast as in :mod:`gptcourse.precision`.
    """
    device = torch.device(device)
    precision = Precision.for_device(device, dtype)
    scaler = precision.grad_scaler()
    optimizer = configure_adamw(classifier, lr=lr, weight_decay=weight_decay)
    trainable = [p for p in classifier.parameters() if p.requires_grad]
    history = FinetuneHistory()
    losses = []  # on the device until the end of each epoch
    start = time.perf_counter()
    for _ in tqdm(range(epochs), desc="epochs", disable=not progress):
        classifier.train()
        for batch in train_batches:
            batch = batch.to(device)
            with precision.autocast():
                _, loss = classifier(
                    batch.input_ids, batch.attention_mask, batch.labels, lm_weight=lm_weight
                )
            scaler.scale(loss).backward()
            if grad_clip > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(trainable, grad_clip)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.detach())
        history.losses += torch.stack(losses).tolist()
        losses = []
        if val_batches is not None:
            history.val_accuracy.append(
                accuracy(classifier, val_batches, device=device, precision=precision)
            )
    history.time_s = time.perf_counter() - start
    return history
