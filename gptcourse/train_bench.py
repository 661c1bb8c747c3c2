"""The training speed of the course's GPT beside transformers' GPT-2 (a benchmark, not a test).

    python -m gptcourse.bench train                    # GPT-2 small on a GPU, a small GPT on a CPU
    python -m gptcourse.bench train --device cpu --compile none --repeats 5

Both models get the same configuration, the same weights (the course's, copied into
``GPT2LMHeadModel``), the same batches and the same step: autocast forward, the
cross-entropy of the logits, backward, fused AdamW, gradients set to ``None``. Each is
timed ``torch.compile``'d and eager, and the best of ``repeats`` timings of ``steps``
steps is kept. On a CPU the variants are timed in turn (a busy moment of a shared machine
hits them all); on a GPU one after the other. Tokens per
second and the MFU (against :data:`gptcourse.throughput.PEAK_TFLOPS`, or ``--peak-tflops``)
are printed side by side.

Defaults: on a CUDA GPU, GPT-2 small (124M parameters), context 1024, batch 16, bfloat16;
on the CPU, the ``gpt-mini`` preset (6 layers, 6 heads, width 192) with a 65-token
vocabulary (character-level Shakespeare), context 128, batch 16, float32.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from gptcourse.model import GPT, PRESETS, GPTConfig, count_parameters, flops_per_token
from gptcourse.optim import configure_adamw
from gptcourse.precision import Precision, enable_tf32, pick_device, pick_dtype
from gptcourse.throughput import mfu, peak_tflops

__all__ = ["DEFAULTS", "bench_train", "format_table", "add_arguments", "run", "main"]

#: Per device type: the configuration and batch that ``train`` measures by default.
DEFAULTS: dict[str, dict[str, Any]] = {
    "cuda": dict(preset="gpt2", vocab_size=50257, block_size=1024, batch_size=16, dtype="auto"),
    "cpu": dict(preset="gpt-mini", vocab_size=65, block_size=128, batch_size=16, dtype="float32"),
    "mps": dict(preset="gpt-mini", vocab_size=65, block_size=256, batch_size=16, dtype="float32"),
}


def _step_fn(
    module: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    precision: Precision,
    x: torch.Tensor,
    y: torch.Tensor,
    hf: bool,
) -> Callable[[], None]:
    def step() -> None:
        with precision.autocast():
            if hf:
                logits = module(input_ids=x).logits
            else:
                logits, _ = module(x)
            loss = F.cross_entropy(logits.flatten(0, 1).float(), y.flatten())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def bench_train(
    config: GPTConfig,
    batch_size: int,
    *,
    device: str | torch.device = "cpu",
    dtype: str = "auto",
    compile: str = "both",
    transformers: bool = True,
    steps: int = 10,
    warmup: int = 3,
    repeats: int = 3,
    peak: float | None = None,
    seed: int = 0,
    interleave: bool = False,
    deadline: float | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Tokens per second and MFU of training steps, per implementation and mode.

    Each variant (compiled ones first) is built and warmed up (compilation happens there),
    then timed ``repeats`` times ``steps`` steps; the best time counts. By default the
    variants run one after the other, each freed before the next (a GPU holds one at a
    time); ``interleave`` keeps them all and times them in turn, so that a busy moment of a
    shared machine hits every variant alike.

    Args:
        config: the model's configuration (dropout is set to 0 for both models).
        batch_size: sequences per step; each is ``config.block_size`` tokens.
        compile: ``"none"`` (eager only), ``"both"`` or ``"only"`` (compiled only).
        transformers: also time transformers' ``GPT2LMHeadModel``.
        steps, warmup, repeats: see above.
        peak: the peak TFLOP/s for MFU when the table does not know the device.
        deadline: a ``time.time()`` after which no new variant starts (one after the other).
        on_row: called with the result so far after each variant (to save it at once).

    Returns:
        a dict with the keys ``config``, ``device``, ``dtype``, ``peak_tflops``, ... and
        ``rows``, a list of dicts with the keys ``model``, ``compiled``, ``tokens_per_s``,
        ``mfu``, ``step_ms`` and ``warmup_s``.
    """
    device = pick_device(str(device))
    precision = Precision(device.type, pick_dtype(dtype, device))
    if device.type == "cuda":
        enable_tf32()
    config = config.replace(dropout=0.0)
    modes = {"none": [False], "both": [True, False], "only": [True]}[compile]
    generator = torch.Generator().manual_seed(seed)
    x = torch.randint(config.vocab_size, (batch_size, config.block_size), generator=generator)
    y = torch.randint(config.vocab_size, (batch_size, config.block_size), generator=generator)
    x, y = x.to(device), y.to(device)
    peak_value, peak_source = peak_tflops(device, precision.dtype, peak)
    tokens = batch_size * config.block_size
    per_token = flops_per_token(config)
    result: dict[str, Any] = {
        "config": {**config.__dict__, "batch_size": batch_size},
        "parameters": count_parameters(config),
        "flops_per_token": per_token,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else device.type,
        "dtype": precision.name,
        "threads": torch.get_num_threads() if device.type == "cpu" else None,
        "peak_tflops": peak_value,
        "peak_source": peak_source,
        "steps": steps,
        "repeats": repeats,
        "torch": torch.__version__,
        "rows": [],
        "skipped": [],
    }
    implementations = ["gptcourse"] + (["transformers"] if transformers else [])
    names = [(i, c) for c in modes for i in implementations]

    def build(implementation: str, compiled: bool) -> tuple[Callable[[], None], float]:
        """The variant's step, and the seconds its warm-up took."""
        torch.manual_seed(seed)
        with torch.device(device):
            model = GPT(config)
        if implementation == "transformers":
            from gptcourse.gpt2_weights import to_transformers

            model = to_transformers(model, attn_implementation="sdpa")
        model.train()
        optimizer = configure_adamw(model, lr=1e-4, weight_decay=0.1)
        module = torch.compile(model) if compiled else model
        step = _step_fn(module, optimizer, precision, x, y, implementation == "transformers")
        log(f"warming up {implementation} {'compiled' if compiled else 'eager'} ...")
        began = time.perf_counter()
        for _ in range(warmup):
            step()
        _sync(device)
        return step, time.perf_counter() - began

    def timed(step: Callable[[], None]) -> float:
        _sync(device)
        began = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        return (time.perf_counter() - began) / steps

    def row(implementation: str, compiled: bool, best: float, warmup_s: float) -> dict:
        tokens_per_s = tokens / best
        return {
            "model": implementation,
            "compiled": compiled,
            "tokens_per_s": tokens_per_s,
            "mfu": mfu(tokens_per_s, per_token, peak_value * 1e12) if peak_value else None,
            "step_ms": 1000 * best,
            "warmup_s": warmup_s,
        }

    if interleave:  # every variant alive at once, timed in turn
        built = [(name, *build(*name)) for name in names]
        best = {name: timed(step) for name, step, _ in built}
        for _ in range(repeats - 1):
            for name, step, _ in built:
                best[name] = min(best[name], timed(step))
        result["rows"] = [row(*name, best[name], warmup_s) for name, _, warmup_s in built]
        if on_row is not None:
            on_row(result)
        return result
    for implementation, compiled in names:  # one after the other, each freed after
        if deadline is not None and time.time() > deadline:
            skipped = f"{implementation} {'compiled' if compiled else 'eager'}"
            result["skipped"].append(skipped)
            log(f"out of time: {skipped} skipped")
            continue
        try:
            step, warmup_s = build(implementation, compiled)
            best = min(timed(step) for _ in range(repeats))
        except Exception as e:  # e.g. a compiler failure: the other variants still run
            name = f"{implementation} {'compiled' if compiled else 'eager'}"
            result.setdefault("errors", {})[name] = f"{type(e).__name__}: {e}"[:2000]
            log(f"{name} failed: {type(e).__name__}: {e}")
            continue
        result["rows"].append(row(implementation, compiled, best, warmup_s))
        del step
        if device.type == "cuda":
            torch.cuda.empty_cache()
        if on_row is not None:
            on_row(result)
    return result


def format_table(result: dict[str, Any]) -> str:
    """The result as the lines ``train`` prints."""
    c = result["config"]
    peak = result["peak_tflops"]
    lines = [
        f"{result['device']}, {result['dtype']}"
        + (f", {result['threads']} threads" if result["threads"] else "")
        + f"; n_layer={c['n_layer']}, n_head={c['n_head']}, n_embd={c['n_embd']}, "
        f"vocab_size={c['vocab_size']}, context {c['block_size']}, batch {c['batch_size']} "
        f"({result['parameters'] / 1e6:.1f}M parameters); best of {result['repeats']} x "
        f"{result['steps']} steps",
        f"MFU against {peak} TFLOP/s ({result['peak_source']})"
        if peak
        else f"MFU: {result['peak_source']}",
        f"{'model':14} {'mode':9} {'tokens/s':>12} {'MFU':>7} {'ms/step':>9} {'warm-up s':>10}",
    ]
    for row in result["rows"]:
        utilisation = f"{100 * row['mfu']:6.1f}%" if row["mfu"] is not None else f"{'-':>7}"
        lines.append(
            f"{row['model']:14} {'compiled' if row['compiled'] else 'eager':9} "
            f"{row['tokens_per_s']:12,.0f} {utilisation} {row['step_ms']:9.1f} "
            f"{row['warmup_s']:10.1f}"
        )
    for name, error in result.get("errors", {}).items():
        lines.append(f"{name} failed: {error.splitlines()[0] if error else ''}")
    if result.get("skipped"):
        lines.append(f"out of time, not measured: {', '.join(result['skipped'])}")
    by = {(r["model"], r["compiled"]): r["tokens_per_s"] for r in result["rows"]}
    for compiled in (False, True):
        if ("gptcourse", compiled) in by and ("transformers", compiled) in by:
            ratio = by["gptcourse", compiled] / by["transformers", compiled]
            mode = "compiled" if compiled else "eager"
            lines.append(f"gptcourse / transformers, {mode}: {ratio:.2f}x")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the benchmark's options to ``parser`` (shared with ``gptcourse.bench train``)."""
    parser.add_argument("--device", default="auto", help="auto (a GPU if any), cpu, cuda, mps")
    parser.add_argument("--preset", choices=list(PRESETS), help="the model's size")
    parser.add_argument("--vocab-size", type=int)
    parser.add_argument("--block-size", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--dtype", help="auto, float32, bfloat16, float16")
    parser.add_argument("--compile", choices=["none", "both", "only"], default="both")
    parser.add_argument("--no-transformers", action="store_true", help="time the course's GPT only")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (default: torch's)")
    parser.add_argument("--peak-tflops", type=float, help="the device's peak, for MFU")
    parser.add_argument("--json", type=Path, help="also write the result to this file")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark that ``args`` describe, print the table, return the result."""
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    defaults = DEFAULTS[device.type]
    preset = args.preset or defaults["preset"]
    config = GPTConfig.from_preset(
        preset,
        vocab_size=args.vocab_size or defaults["vocab_size"],
        block_size=args.block_size or defaults["block_size"],
    )
    with torch.inference_mode(False):  # `python -m gptcourse.bench` runs in inference mode
        result = bench_train(
            config,
            args.batch_size or defaults["batch_size"],
            device=device,
            dtype=args.dtype or defaults["dtype"],
            compile=args.compile,
            transformers=not args.no_transformers,
            steps=args.steps,
            warmup=args.warmup,
            repeats=args.repeats,
            peak=args.peak_tflops,
            interleave=device.type == "cpu",
        )
    result["preset"] = preset
    print(format_table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def main(argv: list[str] | None = None) -> None:
    """The command line, ``python -m gptcourse.train_bench``."""
    parser = argparse.ArgumentParser(prog="python -m gptcourse.train_bench", description=__doc__)
    add_arguments(parser)
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
