"""Knowledge distillation: a student learns from a teacher's whole distribution.

A trained teacher gives, at every position, a probability for every token, not only the
one that came next. Hinton et al. (2015) train a smaller student to match those
probabilities, both softened by a temperature ``T``:

    loss = T^2 * KL(softmax(teacher / T) || softmax(student / T))

averaged over positions. The factor ``T^2`` keeps the gradient's size independent of
``T``: the gradient of the KL term is ``(softmax(s / T) - softmax(t / T)) / T``, which
shrinks like ``1 / T^2`` for large ``T``. The usual recipe mixes this soft loss with the
ordinary cross-entropy on the data, ``alpha * soft + (1 - alpha) * hard``:
:class:`DistillationObjective`, the loss a student is trained on with
:func:`gptcourse.training.train` (``loss_fn=``), on batches that carry the teacher's
logits (:func:`with_teacher_logits` computes them once).

    >>> s = torch.randn(2, 5, 11)
    >>> float(distillation_loss(s, s, temperature=2.0))  # the student equals the teacher
    0.0
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["distillation_loss", "DistillationObjective", "with_teacher_logits"]


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    temperature: float = 1.0,
) -> torch.Tensor:
    """``T^2 * KL(teacher || student)`` on temperature-softened distributions, in nats.

    Args:
        student_logits: ``(..., V)``, e.g. ``(B, T, V)`` from the student's forward pass.
        teacher_logits: the same shape, from the teacher (no gradient flows into it).
        temperature: ``T > 0``; above 1 softens both distributions, so that the student
            also learns which wrong tokens the teacher finds likely.

    Returns:
        the KL divergence summed over the vocabulary, averaged over all positions
        (every index but the last), times ``T^2``, a scalar. Zero when the two agree.
        Computed in float32 at least (float64 stays float64).

    Raises:
        TypeError: an input is not a tensor.
        ValueError: the shapes differ, or ``temperature`` is not a positive finite number.
    """
    for name, value in (("student_logits", student_logits), ("teacher_logits", teacher_logits)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student_logits {tuple(student_logits.shape)} and teacher_logits "
            f"{tuple(teacher_logits.shape)} must have the same shape (..., vocab_size)"
        )
    if student_logits.dim() < 1 or student_logits.shape[-1] < 1:
        raise ValueError(f"logits need a vocabulary dimension, got {tuple(student_logits.shape)}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(f"temperature must be a number, got {type(temperature).__name__}")
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ValueError(f"temperature must be a positive finite number, got {temperature}")
    V = student_logits.shape[-1]
    dtype = torch.promote_types(student_logits.dtype, torch.float32)  # bf16 -> float32
    student = F.log_softmax(student_logits.reshape(-1, V).to(dtype) / temperature, dim=-1)
    teacher = F.log_softmax(teacher_logits.detach().reshape(-1, V).to(dtype) / temperature, dim=-1)
    # kl_div(input=log q, target=log p, log_target=True) = sum p (log p - log q), per row
    kl = F.kl_div(student, teacher, reduction="batchmean", log_target=True)
    return kl * temperature**2


@dataclass(frozen=True)
class DistillationObjective:
    """The student's loss for :func:`gptcourse.training.train`: soft and hard targets mixed.

    ``objective(student, (x, y, teacher_logits))`` returns
    ``alpha * distillation_loss(student_logits, teacher_logits, temperature)
    + (1 - alpha) * cross_entropy(student_logits, y)``, the recipe of Hinton et al.
    (2015); pass it as ``train(..., loss_fn=objective)``. ``alpha = 0`` is training on
    the data alone, ``alpha = 1`` on the teacher alone.

    Attributes:
        temperature: ``T > 0`` of :func:`distillation_loss`.
        alpha: the weight of the teacher's soft targets, in ``[0, 1]``.
    """

    temperature: float = 2.0
    alpha: float = 0.5

    def __post_init__(self):
        if not (self.temperature > 0 and math.isfinite(self.temperature)):
            raise ValueError(
                f"temperature must be a positive finite number, got {self.temperature}"
            )
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")

    def __call__(
        self, student: nn.Module, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        """``batch`` is ``(x, y, teacher_logits)``: ``(B, T)``, ``(B, T)``, ``(B, T, V)``."""
        if len(batch) != 3:
            raise ValueError(
                f"a distillation batch is (x, y, teacher_logits), got {len(batch)} tensors"
            )
        x, y, teacher_logits = batch
        logits, hard = student(x, y)  # (B, T, V), the cross-entropy on the data
        soft = distillation_loss(logits, teacher_logits, self.temperature)
        return self.alpha * soft + (1 - self.alpha) * hard


@torch.no_grad()
def with_teacher_logits(
    teacher: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """``(x, y)`` batches -> ``(x, y, teacher_logits)``, the teacher run once per batch.

    The teacher is run in eval mode without gradients (and left in the mode it was in),
    so that students trained for many steps on these batches never run it again.
    ``teacher_logits`` is ``(B, T, V)`` float32.
    """
    was_training = teacher.training
    teacher.eval()
    try:
        return [(x, y, teacher(x)[0].float()) for x, y in batches]
    finally:
        teacher.train(was_training)
