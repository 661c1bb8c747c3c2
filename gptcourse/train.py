"""Pretrain a GPT from the command line.

    python -m gptcourse.train --config shakespeare-char
    python -m gptcourse.train --config shakespeare-char --max_steps 2000 --model.dropout 0.1
    python -m gptcourse.train --resume runs/shakespeare-char          # go on where it stopped
    torchrun --standalone --nproc_per_node=4 -m gptcourse.train --config shakespeare-char

Every field of :class:`~gptcourse.train_config.TrainConfig` can be overridden with
``--field value`` (``--model.field value`` for the model's sizes). The run writes
``config.json``, ``metrics.jsonl`` (one JSON object a line) and ``checkpoints/`` into
``--out`` (``runs/<config>`` by default). With ``--resume``, the configuration is the
checkpoint's; overrides may change only how the run is watched and when it stops.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gptcourse.checkpoint import CheckpointError, read_checkpoint_config
from gptcourse.data import DatasetError
from gptcourse.distributed import shutdown_distributed
from gptcourse.train_config import CONFIGS, TrainConfig, apply_overrides, get_config
from gptcourse.trainer import Trainer, TrainingDiverged

__all__ = ["main", "parse_args"]


def _describe(config: TrainConfig) -> str:
    model = config.model_config(vocab_size=config.model.get("vocab_size", 1))
    return (
        f"{config.tokenizer} tokens, {model.n_layer} layers x {model.n_embd} wide, context "
        f"{model.block_size}, batch {config.batch_size}, {config.max_steps} steps"
    )


def _parser() -> argparse.ArgumentParser:
    listed = "\n".join(f"  {name:22} {_describe(c)}" for name, c in CONFIGS.items())
    parser = argparse.ArgumentParser(
        prog="python -m gptcourse.train",
        description="Pretrain a GPT (see gptcourse.trainer).",
        epilog=f"named configs (--config):\n{listed}\n\n"
        "Any field of TrainConfig: --max_steps 100, --lr 3e-4, --device cpu, --compile true,\n"
        "--model.n_layer 4, --model.dropout 0.0 ...",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", help=f"a named config: {', '.join(CONFIGS)}")
    parser.add_argument("--resume", metavar="DIR", help="a run folder or checkpoint to go on from")
    parser.add_argument("--out", metavar="DIR", help="where to write (default: runs/<config>)")
    return parser


def _overrides(rest: list[str], parser: argparse.ArgumentParser) -> dict[str, str]:
    overrides: dict[str, str] = {}
    i = 0
    while i < len(rest):
        arg = rest[i]
        if not arg.startswith("--") or len(arg) == 2:
            parser.error(f"expected --field value, got {arg!r}")
        key, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(rest):
                parser.error(f"--{key} needs a value")
            value = rest[i + 1]
            i += 1
        overrides[key.replace("-", "_") if not key.startswith("model.") else key] = value
        i += 1
    return overrides


def parse_args(argv: list[str] | None = None) -> tuple[TrainConfig, str, str | None]:
    """``(config, out_dir, resume)`` from the command line."""
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    overrides = _overrides(rest, parser)
    try:
        if args.resume:
            saved = read_checkpoint_config(args.resume)
            config = TrainConfig.from_dict(saved["train"])
            if args.config and args.config != config.name:
                parser.error(
                    f"--config {args.config} does not match the checkpoint's run {config.name!r}"
                )
        elif args.config:
            config = get_config(args.config)
        else:
            parser.error(f"give --config NAME (one of {', '.join(CONFIGS)}) or --resume DIR")
        config = apply_overrides(config, overrides)
    except (ValueError, CheckpointError) as e:
        parser.error(str(e))
    out = args.out or args.resume or f"runs/{config.name}"
    if args.resume and not args.out:
        # A checkpoint folder's run folder is two levels up: run/checkpoints/step-N.
        resume = Path(args.resume)
        if (resume / "manifest.json").exists():
            out = str(resume.parent.parent)
    return config, out, args.resume


def main(argv: list[str] | None = None) -> int:
    """The command line, ``python -m gptcourse.train``; returns the exit status."""
    config, out_dir, resume = parse_args(argv)
    try:
        trainer = Trainer(config, out_dir=out_dir, resume=resume)
        result = trainer.fit()
    except (TrainingDiverged, CheckpointError, DatasetError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        shutdown_distributed()
        return 1
    if trainer.dist.is_main:
        summary: dict[str, Any] = result.to_dict()
        print(json.dumps(summary, indent=2))
    shutdown_distributed()
    return 0


if __name__ == "__main__":
    sys.exit(main())
