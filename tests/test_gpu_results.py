"""What the chapters print of `make gpu`'s results: the figures of a GPU run, a clear note
while it is pending, and never a CPU run's figures passed off as a GPU run's."""

from __future__ import annotations

import json

import pytest

from gptcourse import gpu_results
from gptcourse.gpu_runs import RESULT_FILES

ENV = {"gpu": "NVIDIA H200", "torch": "2.13.0"}
RECORDS = {
    "char": {
        "scale": "gpu",
        "parameters": 10_745_088,
        "dtype": "bfloat16",
        "result": {"best_val_loss": 1.4612, "best_step": 3750, "tokens_per_s": 1.5e6, "mfu": 0.2},
        "target_val_loss": 1.47,
        "reached": True,
        "wall_time_to_target_s": 61.4,
        "environment": ENV,
    },
    "bpe": {
        "scale": "gpu",
        "parameters": 30_000_000,
        "result": {"best_val_loss": 4.81, "best_step": 700},
        "best_samples": [{"prompt": "ROMEO:", "text": "ROMEO: what say you"}],
        "environment": ENV,
    },
    "bench": {"scale": "gpu", "table": ["a line", "another"], "environment": ENV},
    "finetune": {
        "scale": "gpu",
        "data": {"train": 1045, "val": 149, "test": 300},
        "runs": [
            {
                "init": "random init",
                "method": "lora",
                "trainable_parameters": 1234,
                "test_accuracy": 0.9567,
                "time_s": 12.34,
            }
        ],
        "notes": ["a note"],
        "environment": ENV,
    },
}


def test_a_missing_result_is_pending(tmp_path):
    for part in RESULT_FILES:
        assert gpu_results.load(part, tmp_path) is None
        assert gpu_results.describe(None, part) == gpu_results.PENDING
    assert "make gpu" in gpu_results.PENDING


def test_a_tiny_cpu_run_never_passes_for_a_gpu_run(tmp_path):
    record = {**RECORDS["char"], "scale": "tiny"}
    (tmp_path / RESULT_FILES["char"]).write_text(json.dumps(record))
    assert gpu_results.load("char", tmp_path) is None


@pytest.mark.parametrize(
    ("part", "expected"),
    [
        ("char", ["10.7M parameters", "NVIDIA H200", "1.4612 at step 3750", "after 61 s", "20.0%"]),
        ("bpe", ["best validation loss 4.8100", "--- sample after 'ROMEO:' ---"]),
        ("bench", ["on NVIDIA H200, PyTorch 2.13.0", "another"]),
        ("finetune", ["1045 training, 300 test", "random init", "95.7%", "12.3s", "a note"]),
    ],
)
def test_a_gpu_result_is_described(tmp_path, part, expected):
    (tmp_path / RESULT_FILES[part]).write_text(json.dumps(RECORDS[part]))
    text = gpu_results.describe(gpu_results.load(part, tmp_path), part)
    for piece in expected:
        assert piece in text, (piece, text)


def test_a_run_that_missed_its_target_says_so():
    record = {**RECORDS["char"], "reached": False, "wall_time_to_target_s": None}
    assert "did not reach 1.47" in gpu_results.describe(record, "char")


def test_unknown_parts_are_named():
    with pytest.raises(ValueError, match="unknown part 'chars'"):
        gpu_results.load("chars")
    with pytest.raises(ValueError, match="unknown part 'chars'"):
        gpu_results.describe(None, "chars")
