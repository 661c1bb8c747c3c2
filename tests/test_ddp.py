"""Data-parallel training on the CPU: 2 processes under torchrun (gloo) make the same update as
1 process over the same global batch, and accumulate gradients without all-reducing each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.ddp_worker import STEPS, run

ROOT = Path(__file__).resolve().parent.parent


def _torchrun(out: Path, accum: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    done = subprocess.run(
        [*command, str(ROOT / "tests" / "ddp_worker.py"), str(out), str(accum)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return torch.load(out / "result.pt", weights_only=True)


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> dict:
    return run(tmp_path_factory.mktemp("single"), accum=1)


@pytest.mark.parametrize("accum", [1, 2])
def test_two_processes_make_the_update_of_one_over_the_global_batch(single, tmp_path, accum):
    both = _torchrun(tmp_path, accum)
    assert both["losses"] == pytest.approx(single["losses"], abs=1e-6)
    for theirs, ours in zip(both["gradients"], single["gradients"], strict=True):
        for name, grad in ours.items():
            torch.testing.assert_close(theirs[name], grad, atol=1e-7, rtol=1e-5)
    for name, tensor in single["state"].items():
        other = both["state"][name]
        if name.endswith("qkv_proj.bias"):
            # The keys' bias has gradient 0 (q.(k + b) adds q.b to every score of a query,
            # which the softmax ignores); Adam turns its rounding noise into full-size steps.
            C = tensor.shape[0] // 3
            tensor, other = (
                torch.cat([tensor[:C], tensor[2 * C :]]),
                torch.cat([other[:C], other[2 * C :]]),
            )
        torch.testing.assert_close(other, tensor, atol=1e-6, rtol=1e-5)
    # The gradients of this small model travel in one bucket: one all-reduce per optimizer
    # step, also with accumulation (the first micro-batch runs under no_sync()).
    assert both["allreduce_calls"] == STEPS
    # Rank 0 alone logs and saves; the checkpoint holds both processes' random states.
    log = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert [r["step"] for r in log if "loss" in r] == list(range(1, STEPS + 1))
    state = torch.load(
        tmp_path / "run" / "checkpoints" / f"step-{STEPS:06d}" / "state.pt", weights_only=True
    )
    assert state["world_size"] == 2 and len(state["rng"]) == 2
    assert not torch.equal(state["rng"][0]["torch"], state["rng"][1]["torch"])
