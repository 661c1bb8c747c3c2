"""The benchmark command runs and its generators agree (no timings are asserted)."""

from __future__ import annotations

import pytest

from gptcourse import bench

pytestmark = pytest.mark.usefixtures("one_cpu_thread")

pytest.importorskip("transformers")


def test_generate_benchmark_runs_and_the_three_generators_agree(capsys):
    bench.main(
        [
            "generate",
            "--preset",
            "gpt-nano",
            "--lengths",
            "3",
            "5",
            "--repeats",
            "1",
            "--prompt-len",
            "4",
            "--cpu-only",
        ]
    )
    out = capsys.readouterr().out
    assert "gpt-nano: n_layer=3, n_head=3, n_embd=48, vocab_size=50257, block_size=9" in out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("3 ", "5 "))]
    assert [row[0] for row in rows] == ["3", "5"] and all(row[-1] == "yes" for row in rows)
