"""The pretraining trainer: it learns, it resumes bitwise, each code path does its job, bad
inputs give clear errors."""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import pytest
import torch

from gptcourse import checkpoint as ckpt
from gptcourse.corpus import BatchStream, Corpus
from gptcourse.train_config import CONFIGS, TrainConfig, apply_overrides, get_config
from gptcourse.trainer import Trainer, TrainingDiverged, load_run

TEXT = "First Citizen: Before we proceed any further, hear me speak. All: Speak, speak. " * 40
TINY = dict(n_layer=2, n_head=2, n_embd=32, block_size=16)

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus.from_text(TEXT)


def _config(**changes) -> TrainConfig:
    values = dict(
        max_steps=8,
        warmup_steps=2,
        batch_size=4,
        eval_interval=4,
        eval_iters=2,
        log_interval=1,
        sample_interval=0,
        sample_tokens=0,
        model=dict(TINY),
    )
    values.update(changes)
    return get_config("smoke", **values)


class FixedBatches:
    """Batches given in advance, one list per step (for equivalence tests)."""

    def __init__(self, batches: list[tuple[torch.Tensor, torch.Tensor]]):
        self.batches, self.drawn = batches, 0

    def next(self):
        batch = self.batches[self.drawn]
        self.drawn += 1
        return batch

    def state_dict(self):
        return {"drawn": self.drawn}

    def load_state_dict(self, state):
        self.drawn = state["drawn"]


def _rows(corpus: Corpus, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    stream = BatchStream(corpus.train, n, TINY["block_size"], seed=seed)
    return stream.next()


def _losses(trainer: Trainer) -> list[float]:
    return [r["loss"] for r in trainer.history if "loss" in r]


# --- it learns ------------------------------------------------------------------------------


def test_a_tiny_model_overfits_one_batch(corpus):
    x, y = _rows(corpus, 4)
    config = _config(max_steps=60, lr=1e-2, min_lr=1e-2, eval_interval=0)
    trainer = Trainer(config, corpus=corpus, batches=FixedBatches([(x, y)] * 60))
    trainer.fit()
    losses = _losses(trainer)
    assert losses[0] > 3.0 and losses[-1] < 0.05, losses  # from ln(29) = 3.37 to memorised


# --- resuming -------------------------------------------------------------------------------


def _state_equal(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for k in a:
        if isinstance(a[k], torch.Tensor):
            if not torch.equal(a[k], b[k]):
                return False
        elif isinstance(a[k], dict):
            if not _state_equal(a[k], b[k]):
                return False
        elif a[k] != b[k]:
            return False
    return True


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_n_steps_equal_half_checkpoint_resume_half_bitwise(corpus, tmp_path, dtype):
    # Dropout and the random batches make every random state matter.
    config = _config(model={**TINY, "dropout": 0.1}, dtype=dtype, grad_accum=2)
    straight = Trainer(config, corpus=corpus, out_dir=tmp_path / "a")
    straight.fit()
    first = Trainer(config, corpus=corpus, out_dir=tmp_path / "b")
    assert first.fit(until=4).stopped == "until"
    second = Trainer(config, corpus=corpus, out_dir=tmp_path / "b", resume=tmp_path / "b")
    assert second.step == 4
    result = second.fit()
    assert result.step == 8
    assert _losses(straight) == _losses(first) + _losses(second)
    for name, tensor in straight.model.state_dict().items():
        assert torch.equal(tensor, second.model.state_dict()[name]), name
    assert _state_equal(
        straight.optimizer.state_dict()["state"], second.optimizer.state_dict()["state"]
    )
    assert straight.scheduler.get_last_lr() == second.scheduler.get_last_lr()
    assert _state_equal(straight.scaler.state_dict(), second.scaler.state_dict())
    # The log of the resumed run reads as one run.
    log = [json.loads(line) for line in (tmp_path / "b" / "metrics.jsonl").open()]
    assert [r["step"] for r in log if "loss" in r] == list(range(1, 9))


def test_resuming_drops_what_an_interrupted_session_logged_after_the_checkpoint(corpus, tmp_path):
    config = _config()
    Trainer(config, corpus=corpus, out_dir=tmp_path).fit(until=4)
    with open(tmp_path / "metrics.jsonl", "a") as f:  # a session that died at step 6
        f.write(json.dumps({"step": 5, "loss": 1.0}) + "\n")
        f.write(json.dumps({"step": 6, "loss": 1.0}) + "\n")
    Trainer(config, corpus=corpus, out_dir=tmp_path, resume=tmp_path)
    steps = [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").open()]
    assert max(steps) == 4


def test_load_run_gives_the_trained_model_and_its_tokenizer(corpus, tmp_path):
    trainer = Trainer(_config(), corpus=corpus, out_dir=tmp_path)
    trainer.fit()
    model, tokenizer = load_run(tmp_path)
    assert tokenizer.chars == corpus.tokenizer.chars
    for name, tensor in trainer.model.state_dict().items():
        assert torch.equal(tensor, model.state_dict()[name]), name


# --- each code path -------------------------------------------------------------------------


def _gradients(trainer: Trainer) -> list[list[torch.Tensor]]:
    """The gradients the optimizer sees at each step (before clipping: there is none)."""
    seen = []
    trainer.optimizer.register_step_pre_hook(
        lambda optimizer, args, kwargs: seen.append(
            [p.grad.clone() for p in trainer.model.parameters()]
        )
    )
    return seen


def test_gradient_accumulation_equals_one_large_batch(corpus):
    steps = 3
    rows = [_rows(corpus, 4, seed=s) for s in range(steps)]
    halves = [(x[i : i + 2], y[i : i + 2]) for x, y in rows for i in (0, 2)]
    config = _config(max_steps=steps, eval_interval=0, grad_clip=0.0)
    big = Trainer(config, corpus=corpus, batches=FixedBatches(rows))
    big_grads = _gradients(big)
    big.fit()
    small = Trainer(
        config.replace(batch_size=2, grad_accum=2), corpus=corpus, batches=FixedBatches(halves)
    )
    small_grads = _gradients(small)
    small.fit()
    assert _losses(big) == pytest.approx(_losses(small), abs=1e-6)
    for big_step, small_step in zip(big_grads, small_grads, strict=True):
        for a, b in zip(big_step, small_step, strict=True):
            torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def _linear_output_dtypes(trainer: Trainer) -> set[torch.dtype]:
    seen = set()
    hook = trainer.model.blocks[0].mlp.c_fc.register_forward_hook(
        lambda module, args, out: seen.add(out.dtype)
    )
    trainer.train_step()
    hook.remove()
    return seen


@pytest.mark.parametrize(
    "dtype, expected", [("float32", torch.float32), ("bfloat16", torch.bfloat16)]
)
def test_autocast_runs_the_matrix_products_in_the_chosen_dtype(corpus, dtype, expected):
    trainer = Trainer(_config(dtype=dtype), corpus=corpus)
    assert _linear_output_dtypes(trainer) == {expected}
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())  # mixed precision


def test_float16_steps_go_through_the_gradient_scaler(corpus):
    trainer = Trainer(_config(dtype="float16"), corpus=corpus)
    assert trainer.scaler.is_enabled()
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    scale = trainer.scaler.get_scale()
    # An infinite gradient (loss still finite): the scaler skips the step, halves the scale.
    weight = trainer.model.blocks[0].mlp.c_fc.weight
    hook = weight.register_hook(lambda grad: grad * math.inf)
    loss = trainer.train_step()
    hook.remove()
    assert math.isfinite(loss.item())
    assert trainer.scaler.get_scale() == scale / 2
    for name, tensor in trainer.model.state_dict().items():
        assert torch.equal(tensor, before[name]), name
    trainer.train_step()  # a normal step changes the weights
    assert not torch.equal(
        trainer.model.blocks[0].mlp.c_fc.weight, before["blocks.0.mlp.c_fc.weight"]
    )


def test_the_gradient_scaler_state_is_checkpointed(corpus, tmp_path):
    config = _config(dtype="float16")
    trainer = Trainer(config, corpus=corpus, out_dir=tmp_path)
    trainer.fit(until=2)
    trainer.scaler.update(new_scale=1024.0)
    trainer._save(start=0.0)
    resumed = Trainer(config, corpus=corpus, out_dir=tmp_path, resume=tmp_path)
    assert resumed.scaler.get_scale() == 1024.0
    assert not Trainer(_config(), corpus=corpus).scaler.is_enabled()  # float32: no scaler


def test_the_compile_flag_trains_the_compiled_model(corpus, monkeypatch):
    # Dynamo traces the model; the "eager" backend skips Inductor's slow C++ compilation.
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="eager"))
    compiled = Trainer(_config(compile=True, max_steps=3), corpus=corpus)
    assert isinstance(compiled.train_module, torch._dynamo.eval_frame.OptimizedModule)
    compiled.fit()
    eager = Trainer(_config(max_steps=3), corpus=corpus)
    assert eager.train_module is eager.model
    eager.fit()
    assert _losses(compiled) == pytest.approx(_losses(eager), abs=1e-5)


def test_evaluations_and_samples_leave_the_training_unchanged(corpus, capsys):
    config = _config(model={**TINY, "dropout": 0.1})
    watched = Trainer(
        config.replace(eval_interval=1, sample_interval=2, sample_tokens=5, sample_prompt="F"),
        corpus=corpus,
    )
    watched.fit()
    assert "--- sample at step 2 ---" in capsys.readouterr().out
    quiet = Trainer(config.replace(eval_interval=0), corpus=corpus)
    quiet.fit()
    assert _losses(watched) == _losses(quiet)
    assert len([r for r in watched.history if "sample" in r]) == 4


def test_the_log_records_speed_lr_and_mfu_against_the_peak_given(corpus):
    trainer = Trainer(_config(peak_tflops=0.001, log_interval=2), corpus=corpus)
    result = trainer.fit()
    logs = [r for r in trainer.history if "loss" in r]
    assert [r["step"] for r in logs] == [2, 4, 6, 8]
    assert all(r["tokens_per_s"] > 0 and 0 < r["mfu"] and r["peak_tflops"] == 0.001 for r in logs)
    assert logs[0]["lr"] == pytest.approx(0.75 * trainer.config.lr)  # step 2 of 2 warming up
    assert result.mfu is not None and result.peak_source == "given"
    evals = [r for r in trainer.history if "val_loss" in r]
    assert [r["step"] for r in evals] == [0, 4, 8]


def test_target_val_loss_and_max_time_stop_the_run(corpus):
    losses = [
        r["val_loss"] for r in Trainer(_config(), corpus=corpus).fit().history if "val_loss" in r
    ]
    target = (losses[0] + losses[1]) / 2  # reached at the evaluation of step 4, not before
    result = Trainer(_config(target_val_loss=target), corpus=corpus).fit()
    assert (result.stopped, result.step, result.target_reached["step"]) == ("target_val_loss", 4, 4)
    result = Trainer(_config(max_time=0.0), corpus=corpus).fit()
    assert (result.stopped, result.step) == ("max_time", 1)


# --- bad inputs -----------------------------------------------------------------------------


def test_a_nan_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(corpus, tmp_path):
    trainer = Trainer(_config(max_steps=12), corpus=corpus, out_dir=tmp_path)
    trainer.fit(until=4)
    good = ckpt.find_checkpoint(tmp_path)

    original = trainer.model.forward

    def forward(idx, targets=None, **kwargs):
        logits, loss = original(idx, targets, **kwargs)
        return logits, loss * math.nan if trainer.step >= 6 else loss

    trainer.model.forward = forward
    with pytest.raises(TrainingDiverged, match=r"training loss is nan at step 7: .*step-000004"):
        trainer.fit()
    assert ckpt.find_checkpoint(tmp_path) == good
    resumed = Trainer(_config(max_steps=12), corpus=corpus, out_dir=tmp_path, resume=tmp_path)
    assert resumed.step == 4


def test_unknown_config_and_options_name_the_known_ones():
    with pytest.raises(ValueError, match="unknown config 'shakespeare-chars'.*Known configs: "):
        get_config("shakespeare-chars")
    with pytest.raises(ValueError, match=r"unknown option --max_step \(did you mean --max_steps"):
        apply_overrides(CONFIGS["smoke"], {"max_step": "3"})
    with pytest.raises(ValueError, match="--max_steps takes int values, got 'many'"):
        apply_overrides(CONFIGS["smoke"], {"max_steps": "many"})
    with pytest.raises(ValueError, match="GPTConfig has no field 'layers'"):
        apply_overrides(CONFIGS["smoke"], {"model.layers": "3"})
    with pytest.raises(ValueError, match="unknown tokenizer 'bpe'"):
        get_config("smoke", tokenizer="bpe")


def test_overrides_are_parsed_to_each_fields_type():
    config = apply_overrides(
        CONFIGS["smoke"],
        {
            "max_steps": "30",
            "lr": "1e-3",
            "compile": "true",
            "model.dropout": "0.1",
            "target_val_loss": "1.5",
            "top_k": "none",
            "sample_prompt": "ROMEO:\\n",
        },
    )
    assert (config.max_steps, config.lr, config.compile) == (30, 1e-3, True)
    assert (config.model["dropout"], config.target_val_loss, config.top_k) == (0.1, 1.5, None)
    assert config.sample_prompt == "ROMEO:\n"
    assert CONFIGS["smoke"].max_steps == 20  # the named config is not changed


def _saved(corpus, tmp_path) -> Path:
    Trainer(_config(keep_checkpoints=3), corpus=corpus, out_dir=tmp_path).fit()
    return tmp_path


def test_a_truncated_checkpoint_is_refused_and_the_earlier_one_still_loads(corpus, tmp_path):
    run = _saved(corpus, tmp_path)
    latest = ckpt.find_checkpoint(run)
    assert latest.name == "step-000008"
    weights = latest / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(ckpt.CheckpointError, match=r"model.safetensors has .* bytes.*truncated"):
        Trainer(_config(keep_checkpoints=3), corpus=corpus, out_dir=run, resume=run)
    earlier = run / "checkpoints" / "step-000004"
    assert Trainer(_config(keep_checkpoints=3), corpus=corpus, resume=earlier).step == 4


def test_an_altered_checkpoint_is_refused(corpus, tmp_path):
    latest = ckpt.find_checkpoint(_saved(corpus, tmp_path))
    state = latest / "state.pt"
    data = bytearray(state.read_bytes())
    data[len(data) // 2] ^= 0xFF
    state.write_bytes(bytes(data))
    with pytest.raises(ckpt.CheckpointError, match="SHA-256 of state.pt does not match"):
        Trainer(_config(keep_checkpoints=3), corpus=corpus, resume=latest)


def test_a_checkpoint_of_another_config_is_refused(corpus, tmp_path):
    run = _saved(corpus, tmp_path)
    other = _config(keep_checkpoints=3, model={**TINY, "n_layer": 3})
    with pytest.raises(
        ckpt.CheckpointError, match=r"model: checkpoint .*'n_layer': 2.*'n_layer': 3"
    ):
        Trainer(other, corpus=corpus, resume=run)
    # A change that resuming allows: how often to evaluate.
    assert (
        Trainer(_config(keep_checkpoints=3, eval_interval=2), corpus=corpus, resume=run).step == 8
    )


def test_weights_of_other_shapes_are_refused_with_the_tensor_named(corpus, tmp_path):
    from gptcourse.model import GPT, GPTConfig

    latest = ckpt.find_checkpoint(_saved(corpus, tmp_path))
    wider = GPT(
        GPTConfig.from_preset("gpt-nano", vocab_size=corpus.vocab_size, **{**TINY, "n_embd": 64})
    )
    with pytest.raises(
        ckpt.CheckpointError,
        match=r"do not fit this model: size mismatch for position_embedding.weight: .*"
        r"\(16, 32\) in the checkpoint, \(16, 64\) in the model \(and 27 more\)",
    ):
        ckpt.load_checkpoint(latest, wider)


def test_an_interrupted_save_leaves_the_earlier_checkpoints(corpus, tmp_path, monkeypatch):
    run = _saved(corpus, tmp_path)
    before = sorted(p.name for p in (run / "checkpoints").iterdir())

    def crash(*args, **kwargs):
        raise OSError("disk full")

    trainer = Trainer(_config(keep_checkpoints=3), corpus=corpus, out_dir=run)  # a new run
    monkeypatch.setattr(ckpt, "save_model", crash)
    with pytest.raises(OSError, match="disk full"):
        trainer.fit()  # dies saving step 4
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == before  # no temp left
    assert ckpt.find_checkpoint(run).name == "step-000008"


def test_a_checkpoint_without_its_manifest_is_incomplete(corpus, tmp_path):
    latest = ckpt.find_checkpoint(_saved(corpus, tmp_path))
    (latest / "manifest.json").unlink()
    with pytest.raises(ckpt.CheckpointError, match="incomplete.*Other checkpoints.*step-000004"):
        ckpt.load_checkpoint(latest, torch.nn.Linear(1, 1))
    with pytest.raises(ckpt.CheckpointError, match="no checkpoint at .*does not exist"):
        ckpt.find_checkpoint(tmp_path / "nowhere")


def test_only_the_newest_checkpoints_are_kept(corpus, tmp_path):
    Trainer(_config(keep_checkpoints=1, eval_interval=2), corpus=corpus, out_dir=tmp_path).fit()
    assert [p.name for p in ckpt.list_checkpoints(tmp_path / "checkpoints")] == ["step-000008"]


def test_keep_best_saves_the_lowest_validation_loss_apart(corpus, tmp_path):
    trainer = Trainer(_config(keep_best=True), corpus=corpus, out_dir=tmp_path)
    result = trainer.fit()
    best = ckpt.find_checkpoint(tmp_path / "best")
    assert best.name == f"step-{result.best_step:06d}"


# --- the command line -----------------------------------------------------------------------


def test_the_command_line_runs_smoke_end_to_end_and_resumes(tmp_path, capsys):
    from gptcourse.train import main

    out = tmp_path / "run"
    args = ["--config", "smoke", "--out", str(out), "--max_steps", "6", "--eval_interval", "3"]
    assert main(args + ["--sample_tokens", "8"]) == 0
    summary = json.loads(capsys.readouterr().out.split("---\n")[-1])
    assert summary["step"] == 6 and summary["stopped"] == "max_steps"
    assert (out / "checkpoints" / "step-000006" / "model.safetensors").is_file()
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["name"] == "smoke" and config["model"]["n_layer"] == 2
    # Resuming a finished run does nothing more; a changed model is refused.
    assert main(["--resume", str(out), "--sample_tokens", "0"]) == 0
    assert main(["--resume", str(out), "--model.n_layer", "3"]) == 1
    assert "another configuration" in capsys.readouterr().err


def test_the_command_line_help_lists_the_configs(capsys):
    from gptcourse.train import main

    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in CONFIGS)
    with pytest.raises(SystemExit):
        main([])
    assert "give --config NAME" in capsys.readouterr().err
