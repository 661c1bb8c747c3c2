"""`make gpu`'s orchestration: each part in its own process, a failure loses nothing else, the
offline assets are complete (the parts themselves ran once at SCALE=tiny; see the report)."""

from __future__ import annotations

import json

from gptcourse import gpu_runs


def test_a_failing_part_leaves_the_others_and_says_why(tmp_path, monkeypatch):
    # No corpus anywhere: the fine-tuning part fails; the benchmark needs none and runs.
    monkeypatch.setenv("GPTCOURSE_DATA", str(tmp_path / "no-data"))
    out, work = tmp_path / "out", tmp_path / "work"
    (out).mkdir()
    (out / "sms_finetune.json").write_text("{}")  # an earlier run's: must not pass for this one
    summary = gpu_runs.run_all(
        "tiny", out, work, ["bench", "finetune"], budget=600, assets=None, extra={}
    )
    assert summary["parts"]["bench"]["status"] == "ok"
    assert summary["parts"]["finetune"]["status"] == "failed"
    assert "DatasetError" in summary["parts"]["finetune"]["error"]
    assert summary["parts"]["finetune"]["file"] is None
    bench = json.loads((out / "train_bench.json").read_text())
    assert [r["model"] for r in bench["rows"]] == ["gptcourse", "transformers"]
    assert bench["environment"]["torch"] and bench["scale"] == "tiny"
    assert json.loads((out / "summary.json").read_text()) == summary


def test_a_killed_training_part_keeps_its_metrics_log(tmp_path):
    run = tmp_path / "shakespeare-char"
    run.mkdir()
    records = [
        {"step": 0, "train_loss": 4.2, "val_loss": 4.2, "time_s": 0.1},
        {"step": 10, "loss": 3.0, "lr": 1e-3, "tokens_per_s": 100.0, "mfu": None, "time_s": 1.0},
        {"step": 10, "sample": "hello"},
    ]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    gpu_runs._salvage("char", run, tmp_path / "char.json", "tiny")
    saved = json.loads((tmp_path / "char.json").read_text())
    assert saved["evals"] == [[0, 4.2, 4.2, 0.1]]
    assert saved["train_log"] == [[10, 3.0, 1e-3, 100.0, None]] and "incomplete" in saved


def test_prepared_assets_hold_the_corpora_and_gpt2s_files(tmp_path, monkeypatch):
    gpu_runs.prepare_assets(tmp_path)
    env = gpu_runs._asset_env(tmp_path)
    monkeypatch.setenv("GPTCOURSE_DATA", env["GPTCOURSE_DATA"])
    from gptcourse import data
    from gptcourse.gpt2_tokenizer import gpt2_files

    for name in gpu_runs.ASSET_DATASETS:
        assert data.path(name, download=False).is_relative_to(tmp_path)
    vocab, encoder = gpt2_files()  # checked against GPT-2's SHA-256 on the way
    assert vocab.is_relative_to(tmp_path) and encoder.is_relative_to(tmp_path)
