"""Run by ``tests/test_ddp.py`` under ``torchrun`` (or alone): a few steps of the trainer on
fixed global batches, each process taking its share. Writes ``result.pt`` (rank 0)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from gptcourse.corpus import BatchStream, Corpus
from gptcourse.train_config import get_config
from gptcourse.trainer import Trainer

TEXT = "First Citizen: Before we proceed any further, hear me speak. All: Speak, speak. " * 40
TINY = dict(n_layer=2, n_head=2, n_embd=32, block_size=16)
GLOBAL_BATCH, STEPS = 8, 3


class Share:
    """This process's micro-batches of each fixed global batch."""

    def __init__(self, corpus: Corpus, rank: int, world: int, accum: int):
        self.batches = []
        for step in range(STEPS):
            x, y = BatchStream(corpus.train, GLOBAL_BATCH, TINY["block_size"], seed=step).next()
            mine_x, mine_y = x.chunk(world)[rank], y.chunk(world)[rank]
            self.batches += list(zip(mine_x.chunk(accum), mine_y.chunk(accum), strict=True))
        self.drawn = 0

    def next(self):
        self.drawn += 1
        return self.batches[self.drawn - 1]

    def state_dict(self):
        return {"drawn": self.drawn}

    def load_state_dict(self, state):
        self.drawn = state["drawn"]


def run(out: Path, accum: int) -> dict:
    torch.set_num_threads(1)
    corpus = Corpus.from_text(TEXT)
    config = get_config(
        "smoke",
        model=dict(TINY),
        max_steps=STEPS,
        warmup_steps=1,
        eval_interval=0,
        log_interval=1,
        sample_tokens=0,
        grad_accum=accum,
    )
    # The trainer joins the process group; the batch size follows from the world's size.
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    config = config.replace(batch_size=GLOBAL_BATCH // (world * accum))
    trainer = Trainer(
        config, corpus=corpus, batches=Share(corpus, rank, world, accum), out_dir=out / "run"
    )
    calls = []
    if trainer.dist.enabled:
        from torch.distributed.algorithms.ddp_comm_hooks import default_hooks

        def counting_allreduce(state, bucket):
            calls.append(1)
            return default_hooks.allreduce_hook(state, bucket)

        trainer.train_module.register_comm_hook(None, counting_allreduce)
    gradients = []  # what the optimizer sees at each step: after DDP's all-reduce
    trainer.optimizer.register_step_pre_hook(
        lambda optimizer, args, kwargs: gradients.append(
            {name: p.grad.clone() for name, p in trainer.model.named_parameters()}
        )
    )
    trainer.fit()
    result = {
        "gradients": gradients,
        "state": {k: v.clone() for k, v in trainer.model.state_dict().items()},
        "losses": [r["loss"] for r in trainer.history if "loss" in r],
        "allreduce_calls": len(calls),
    }
    if trainer.dist.is_main:
        torch.save(result, out / "result.pt")
    return result


if __name__ == "__main__":
    run(Path(sys.argv[1]), accum=int(sys.argv[2]))
    if dist.is_initialized():
        dist.destroy_process_group()
