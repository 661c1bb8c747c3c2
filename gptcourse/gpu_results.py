"""What ``make gpu`` measured, as the pretraining and fine-tuning chapters show it.

``make gpu`` (:mod:`gptcourse.gpu_runs`) writes small JSON files into ``results/gpu/``,
which are committed with the course. The chapters execute at CPU scale and show the GPU
figures from those files: :func:`load` returns a part's record, or ``None`` while the GPU
run is pending (no file, or a file of another scale: a ``SCALE=tiny`` run on a CPU never
passes for a GPU run), and the ``describe_*`` functions turn a record into the lines a
chapter prints. What they print depends only on the committed files, so that a chapter's
stored output is the same wherever it is validated.

    >>> print(describe(None, "char"))  # doctest: +NORMALIZE_WHITESPACE
    The GPU run is pending: nothing in results/gpu/ yet. Run `make gpu` on a machine with
    an NVIDIA GPU (about 8 minutes on an H200), commit results/gpu/ and re-record this
    chapter to show its figures here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gptcourse.gpu_runs import RESULT_FILES

__all__ = ["RESULTS_DIR", "load", "describe", "PENDING"]

#: Where ``make gpu`` writes, in the course's repository.
RESULTS_DIR = Path(__file__).resolve().parent.parent / "results" / "gpu"

#: The note a chapter prints in place of a GPU result while no GPU run is committed.
PENDING = (
    "The GPU run is pending: nothing in results/gpu/ yet. Run `make gpu` on a machine with "
    "an NVIDIA GPU (about 8 minutes on an H200), commit results/gpu/ and re-record this "
    "chapter to show its figures here."
)


def load(part: str, folder: str | Path | None = None) -> dict[str, Any] | None:
    """The record of ``part`` (``"bench"``, ``"char"``, ``"bpe"``, ``"finetune"``) that a
    GPU run wrote into ``folder`` (:data:`RESULTS_DIR`), or ``None`` when there is none."""
    if part not in RESULT_FILES:
        raise ValueError(f"unknown part {part!r}; the parts are {', '.join(RESULT_FILES)}")
    path = Path(folder if folder is not None else RESULTS_DIR) / RESULT_FILES[part]
    if not path.is_file():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    if record.get("scale") != "gpu":
        return None
    return record


def _hardware(record: dict[str, Any]) -> str:
    env = record.get("environment", {})
    gpu = env.get("gpu") or "no GPU"
    return f"{gpu}, PyTorch {env.get('torch', '?')}"


def _char(record: dict[str, Any]) -> list[str]:
    result = record["result"]
    lines = [
        f"shakespeare-char ({record['parameters'] / 1e6:.1f}M parameters, "
        f"{record['dtype']}) on {_hardware(record)}",
        f"best validation loss {result['best_val_loss']:.4f} at step {result['best_step']}",
    ]
    if record.get("reached"):
        lines.append(
            f"reached {record['target_val_loss']} after {record['wall_time_to_target_s']:.0f} s "
            f"of training"
        )
    else:
        lines.append(f"did not reach {record['target_val_loss']} in its time budget")
    if result.get("tokens_per_s"):
        mfu = f", MFU {100 * result['mfu']:.1f}%" if result.get("mfu") else ""
        lines.append(f"{result['tokens_per_s']:,.0f} tokens/s{mfu}")
    return lines


def _bpe(record: dict[str, Any]) -> list[str]:
    result = record["result"]
    lines = [
        f"shakespeare-gpt2 ({record['parameters'] / 1e6:.1f}M parameters, GPT-2's "
        f"tokenizer) on {_hardware(record)}",
        f"best validation loss {result['best_val_loss']:.4f} at step {result['best_step']}",
    ]
    for sample in record.get("best_samples", []):
        lines += ["", f"--- sample after {sample['prompt']!r} ---", sample["text"]]
    return lines


def _bench(record: dict[str, Any]) -> list[str]:
    return [f"on {_hardware(record)}", *record.get("table", [])]


def _finetune(record: dict[str, Any]) -> list[str]:
    lines = [
        f"SMS spam on {_hardware(record)}: {record['data']['train']} training, "
        f"{record['data']['test']} test messages",
        f"{'starting point':32} {'method':8} {'trainable':>12} {'test accuracy':>14} {'time':>8}",
    ]
    for run in record["runs"]:
        lines.append(
            f"{run['init']:32} {run['method']:8} {run['trainable_parameters']:>12,} "
            f"{100 * run['test_accuracy']:13.1f}% {run['time_s']:7.1f}s"
        )
    return lines + list(record.get("notes", []))


_DESCRIBE = {"char": _char, "bpe": _bpe, "bench": _bench, "finetune": _finetune}


def describe(record: dict[str, Any] | None, part: str) -> str:
    """The lines a chapter prints for ``part``'s ``record`` (:data:`PENDING` for ``None``)."""
    if part not in _DESCRIBE:
        raise ValueError(f"unknown part {part!r}; the parts are {', '.join(_DESCRIBE)}")
    if record is None:
        return PENDING
    return "\n".join(_DESCRIBE[part](record))
