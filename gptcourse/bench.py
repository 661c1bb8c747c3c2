"""Benchmarks of the course's code (not tests: the figures depend on the machine).

    python -m gptcourse.bench generate [--preset gpt-micro] [--lengths 128 512 1024]
    python -m gptcourse.bench train [--device cpu] [--compile none|both|only] [--repeats 5]

``generate`` times greedy generation, side by side on the same random weights: the
course's GPT with its key/value cache, without it, and transformers'
``GPT2LMHeadModel.generate``, in tokens per second, on the CPU and on a GPU when there
is one. It also checks that the three produce the same tokens. ``train`` times training
steps of the course's GPT and of transformers' GPT-2 on the same configuration and batch,
eager and compiled, in tokens per second and MFU (see :mod:`gptcourse.train_bench`). More
subcommands go in :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from gptcourse import train_bench
from gptcourse.generation import generate
from gptcourse.model import GPT, PRESETS, GPTConfig, count_parameters

__all__ = ["main", "bench_generate"]


def _timed(run: Callable[[], torch.Tensor], device: torch.device) -> tuple[float, torch.Tensor]:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    out = run()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start, out


def bench_generate(
    preset: str,
    lengths: list[int],
    *,
    prompt_len: int = 16,
    batch_size: int = 1,
    repeats: int = 3,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    uncached_up_to: int = 1024,
    seed: int = 0,
) -> list[dict]:
    """Tokens per second of the three generators at each length.

    With the cache and transformers: the best of ``repeats`` runs, interleaved; without
    the cache (much slower, and only up to ``uncached_up_to`` new tokens): one run.

    The configuration is the preset's, with a context of ``prompt_len + max(lengths)``
    positions so that no generator has to crop. Returns one row per length.
    """
    from gptcourse.gpt2_weights import to_transformers

    dev = torch.device(device)
    config = GPTConfig.from_preset(preset, block_size=prompt_len + max(lengths))
    torch.manual_seed(seed)
    with dev:
        model = GPT(config).to(dtype).eval()
    hf_model = to_transformers(model).eval()
    prompt = torch.randint(
        config.vocab_size, (batch_size, prompt_len), generator=torch.Generator().manual_seed(seed)
    ).to(dev)
    ones = torch.ones_like(prompt)

    def ours(n: int, use_cache: bool) -> Callable[[], torch.Tensor]:
        return lambda: generate(model, prompt, n, temperature=0, use_cache=use_cache)

    def theirs(n: int) -> Callable[[], torch.Tensor]:
        return lambda: hf_model.generate(
            prompt,
            attention_mask=ones,
            max_new_tokens=n,
            min_new_tokens=n,
            do_sample=False,
            pad_token_id=0,
        )

    short = min(8, max(lengths))
    for warm_up in (ours(short, True), ours(short, False), theirs(short)):
        _timed(warm_up, dev)
    rows = []
    for n in lengths:
        runs = {"cache": ours(n, True), "transformers": theirs(n)}
        best: dict[str, float] = {}
        outputs: dict[str, torch.Tensor] = {}
        for _ in range(repeats):  # interleaved, so that a busy moment hits both
            for name, run in runs.items():
                seconds, outputs[name] = _timed(run, dev)
                best[name] = min(best.get(name, float("inf")), seconds)
        if n <= uncached_up_to:  # once: it is the slow reference (quadratic in n)
            best["no cache"], outputs["no cache"] = _timed(ours(n, False), dev)
        same = all(torch.equal(out, outputs["cache"]) for out in outputs.values())
        rows.append(
            {"new tokens": n, "same tokens": same}
            | {name: batch_size * n / seconds for name, seconds in best.items()}
        )
    return rows


def _print_generate(args: argparse.Namespace) -> None:
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() and not args.cpu_only else [])
    if args.threads:
        torch.set_num_threads(args.threads)
    for device in devices:
        config = GPTConfig.from_preset(args.preset, block_size=args.prompt_len + max(args.lengths))
        print(
            f"\n{args.preset}: n_layer={config.n_layer}, n_head={config.n_head}, "
            f"n_embd={config.n_embd}, vocab_size={config.vocab_size}, "
            f"block_size={config.block_size}, {count_parameters(config) / 1e6:.1f}M parameters"
        )
        threads = f", {torch.get_num_threads()} threads" if device == "cpu" else ""
        name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
        print(
            f"{name}{threads}, float32, batch {args.batch_size}, prompt {args.prompt_len} tokens, "
            f"greedy; tokens per second (best of {args.repeats}; without the cache, one run):"
        )
        rows = bench_generate(
            args.preset,
            args.lengths,
            prompt_len=args.prompt_len,
            batch_size=args.batch_size,
            repeats=args.repeats,
            device=device,
            uncached_up_to=args.uncached_up_to,
        )
        print(
            f"{'new tokens':>10} {'cache':>10} {'no cache':>10} {'transformers':>13} "
            f"{'cache / transformers':>21}  same tokens"
        )
        for row in rows:
            no_cache = f"{row['no cache']:10.1f}" if "no cache" in row else f"{'-':>10}"
            ratio = row["cache"] / row["transformers"]
            same = "yes" if row["same tokens"] else "NO"
            print(
                f"{row['new tokens']:>10} {row['cache']:10.1f} {no_cache} "
                f"{row['transformers']:13.1f} {ratio:20.2f}x  {same}"
            )


COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable]] = {}


def _generate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="gpt-micro", choices=list(PRESETS))
    parser.add_argument("--lengths", type=int, nargs="+", default=[128, 512, 1024])
    parser.add_argument("--prompt-len", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (default: torch's)")
    parser.add_argument(
        "--uncached-up-to",
        type=int,
        default=1024,
        help="time generation without the cache only up to this many new tokens",
    )
    parser.add_argument("--cpu-only", action="store_true")


COMMANDS["generate"] = (
    "generation speed: the GPT with and without its cache, and transformers",
    _generate_arguments,
    _print_generate,
)


COMMANDS["train"] = (
    "training speed: the GPT and transformers' GPT-2, eager and compiled, tokens/s and MFU",
    train_bench.add_arguments,
    train_bench.run,
)


def main(argv: list[str] | None = None) -> None:
    """The command line, ``python -m gptcourse.bench generate|train``."""
    parser = argparse.ArgumentParser(prog="python -m gptcourse.bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, add_arguments, _) in COMMANDS.items():
        add_arguments(sub.add_parser(name, help=help_text))
    args = parser.parse_args(argv)
    with torch.inference_mode():
        COMMANDS[args.command][2](args)


if __name__ == "__main__":
    main()
