"""The training benchmark runs both models on the same step (no timings are asserted)."""

from __future__ import annotations

import json

import pytest
import torch

from gptcourse import bench
from gptcourse.model import GPT, GPTConfig
from gptcourse.precision import Precision
from gptcourse.train_bench import _step_fn

pytestmark = pytest.mark.usefixtures("one_cpu_thread")

pytest.importorskip("transformers")


def test_train_benchmark_runs_and_prints_both_models(capsys, tmp_path):
    out = tmp_path / "bench.json"
    args = ["train", "--device", "cpu", "--preset", "gpt-nano", "--vocab-size", "65"]
    args += ["--block-size", "16", "--batch-size", "2", "--compile", "none", "--steps", "1"]
    bench.main(args + ["--warmup", "1", "--repeats", "1", "--json", str(out)])
    printed = capsys.readouterr().out
    assert "gptcourse / transformers, eager:" in printed
    result = json.loads(out.read_text())
    assert [(r["model"], r["compiled"]) for r in result["rows"]] == [
        ("gptcourse", False),
        ("transformers", False),
    ]
    assert result["config"]["n_layer"] == 3 and result["dtype"] == "float32"


def test_both_models_take_the_same_step_from_the_same_weights():
    from gptcourse.gpt2_weights import to_transformers

    torch.manual_seed(0)
    config = GPTConfig.from_preset("gpt-nano", vocab_size=65, block_size=16)
    ours = GPT(config)
    theirs = to_transformers(ours, attn_implementation="sdpa")
    x, y = torch.randint(65, (2, 16)), torch.randint(65, (2, 16))
    for model, hf in ((ours, False), (theirs, True)):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        _step_fn(model, optimizer, Precision("cpu"), x, y, hf)()
    after = GPT.from_transformers(theirs)
    for name, tensor in ours.state_dict().items():
        torch.testing.assert_close(after.state_dict()[name], tensor, atol=1e-5, rtol=1e-4)
