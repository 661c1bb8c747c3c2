"""Data-parallel training: one process per device, the same model, different batches.

With DistributedDataParallel (DDP) every process holds a copy of the model, draws its own
batches and computes its own gradients; during the backward pass DDP averages the
gradients over the processes (an *all-reduce*), so every copy takes the same optimizer
step. ``torchrun`` starts the processes and tells each one who it is through environment
variables (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``)::

    # one machine, 8 GPUs
    torchrun --standalone --nproc_per_node=8 -m gptcourse.train --config shakespeare-char
    # two machines with 8 GPUs each: run on both, --node_rank 0 on the first, 1 on the other
    torchrun --nnodes=2 --node_rank=0 --nproc_per_node=8 \\
        --master_addr=10.0.0.1 --master_port=29500 -m gptcourse.train --config ...
    # on a CPU (the gloo backend), e.g. to test: 2 processes
    torchrun --standalone --nproc_per_node=2 -m gptcourse.train --config smoke --device cpu

GPUs talk through NCCL, CPUs through gloo. Without ``torchrun`` (no ``WORLD_SIZE``) the
trainer runs as a single process, and nothing here does anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["DistributedContext", "init_distributed", "shutdown_distributed"]


@dataclass(frozen=True)
class DistributedContext:
    """Who this process is: its ``rank`` among ``world_size`` processes, and its
    ``local_rank`` on this machine (which GPU it uses)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 logs, evaluates, samples and writes checkpoints."""
        return self.rank == 0


def init_distributed(device_type: str) -> DistributedContext:
    """Join the process group that ``torchrun`` set up (NCCL on CUDA, gloo elsewhere).

    On CUDA each process takes the GPU ``cuda:LOCAL_RANK``. Returns a single-process
    context when the script was not started by ``torchrun``.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return DistributedContext()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    if device_type == "cuda":
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return DistributedContext(rank, local_rank, world_size)


def shutdown_distributed() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
