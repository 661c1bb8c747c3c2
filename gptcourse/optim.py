"""The optimizer and the learning-rate schedule of GPT training: AdamW, warmup, cosine decay.

**AdamW with two groups.** Weight decay pulls weights towards zero; GPT-2 and nanoGPT
apply it to the matrices (every parameter with two or more dimensions: the linear
layers' weights and the embeddings) and not to the biases and the layer norms' gains,
which are few and whose scale should not shrink.

**Warmup, then cosine decay.** The learning rate rises linearly for ``warmup_steps``
steps (Adam's early moment estimates are noisy), then follows half a cosine from ``lr``
down to ``min_lr`` at ``max_steps``. Both pieces are PyTorch's schedulers
(:class:`~torch.optim.lr_scheduler.LinearLR`, then
:class:`~torch.optim.lr_scheduler.CosineAnnealingLR`, chained by
:class:`~torch.optim.lr_scheduler.SequentialLR`); the scheduler is stepped once after
every optimizer step.

    >>> from gptcourse.model import GPT, GPTConfig
    >>> model = GPT(GPTConfig.from_preset("gpt-nano", vocab_size=65, block_size=16))
    >>> optimizer = configure_adamw(model, lr=1e-3, weight_decay=0.1)
    >>> [len(group["params"]) for group in optimizer.param_groups]  # decayed, not decayed
    [14, 26]
"""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, LRScheduler, SequentialLR

from gptcourse._validation import check_size

__all__ = ["parameter_groups", "configure_adamw", "warmup_cosine"]


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """The trainable parameters in two groups: matrices with ``weight_decay``, the rest
    (biases, layer-norm gains: one dimension) without. Frozen parameters are left out.

    A parameter shared by two modules (the tied embedding and output layer) appears once.
    """
    params = [p for p in model.parameters() if p.requires_grad]  # parameters() dedupes
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def configure_adamw(
    model: nn.Module,
    *,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.95),
    weight_decay: float = 0.1,
    eps: float = 1e-8,
    fused: bool | None = None,
) -> torch.optim.AdamW:
    """:class:`torch.optim.AdamW` over :func:`parameter_groups`.

    ``fused`` (one kernel for the whole update instead of a few per parameter) is used by
    default wherever PyTorch has it for the parameters' device (CUDA, the CPU, ...).
    """
    groups = parameter_groups(model, weight_decay)
    if not any(group["params"] for group in groups):
        raise ValueError("the model has no trainable parameters (are they all frozen?)")
    groups = [group for group in groups if group["params"]]
    if fused is not None:
        return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps, fused=fused)
    try:
        return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps, fused=True)
    except RuntimeError:  # this device (or dtype) has no fused kernel
        return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps)


def warmup_cosine(
    optimizer: torch.optim.Optimizer,
    *,
    warmup_steps: int,
    max_steps: int,
    min_lr_ratio: float = 0.1,
) -> LRScheduler:
    """Linear warmup over ``warmup_steps`` steps, then cosine decay to ``min_lr_ratio``
    times each group's learning rate at ``max_steps``.

    Warmup starts at ``lr / warmup_steps`` and reaches ``lr`` after ``warmup_steps``
    scheduler steps; ``warmup_steps=0`` starts at ``lr`` and decays at once.

        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = warmup_cosine(opt, warmup_steps=2, max_steps=6, min_lr_ratio=0.0)
        >>> lrs = []
        >>> for _ in range(6):
        ...     lrs.append(round(sched.get_last_lr()[0], 3)); opt.step(); sched.step()
        >>> lrs
        [0.5, 0.75, 1.0, 0.854, 0.5, 0.146]
    """
    check_size("warmup_steps", warmup_steps, minimum=0)
    check_size("max_steps", max_steps)
    if warmup_steps >= max_steps:
        raise ValueError(
            f"warmup_steps={warmup_steps} leaves no steps to decay in max_steps={max_steps}"
        )
    if not 0.0 <= min_lr_ratio <= 1.0:
        raise ValueError(f"min_lr_ratio must be in [0, 1], got {min_lr_ratio}")
    # CosineAnnealingLR's eta_min is one number; as a ratio it must follow each group.
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    if len(set(base_lrs)) > 1:
        raise ValueError(f"warmup_cosine needs one learning rate for every group, got {base_lrs}")
    cosine = CosineAnnealingLR(
        optimizer, T_max=max_steps - warmup_steps, eta_min=base_lrs[0] * min_lr_ratio
    )
    if warmup_steps == 0:
        return cosine
    warmup = LinearLR(optimizer, start_factor=1.0 / warmup_steps, total_iters=warmup_steps)
    return SequentialLR(optimizer, [warmup, cosine], milestones=[warmup_steps])
