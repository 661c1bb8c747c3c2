"""Checkpoints: everything a training run needs to stop and go on exactly where it was.

A checkpoint is a folder, ``<run>/checkpoints/step-000250/``, holding

- ``model.safetensors``: the weights (safetensors: no code runs when it is read, unlike a
  pickle; the tied embedding and output layer are stored once);
- ``state.pt``: the rest, tensors and plain values only (read with
  ``torch.load(weights_only=True)``): the optimizer's moments, the learning-rate
  schedule, the gradient scaler, the state of every random generator training uses
  (PyTorch's on the CPU and the GPU, the batches' own; training draws nothing from
  Python's or NumPy's), the step and the position in the data;
- ``config.json``: the configuration that produced it;
- ``manifest.json``, written last: the size and SHA-256 of the three other files.

It is written into a temporary folder that is renamed into place when complete, and
``<run>/checkpoints/latest`` names the newest one (replaced atomically too). A crash while
saving leaves the earlier checkpoints and ``latest`` as they were; a file that was
truncated or altered later fails its manifest check with a clear error, and nothing is
ever deleted on loading. Only the ``keep`` newest checkpoints are kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model
from torch import nn

__all__ = [
    "CheckpointError",
    "save_checkpoint",
    "find_checkpoint",
    "list_checkpoints",
    "read_checkpoint_config",
    "load_checkpoint",
]

FORMAT = "gptcourse-checkpoint"
VERSION = 1
MODEL_FILE, STATE_FILE, CONFIG_FILE, MANIFEST_FILE = (
    "model.safetensors",
    "state.pt",
    "config.json",
    "manifest.json",
)
LATEST = "latest"
_STEP_DIR = re.compile(r"^step-(\d+)$")


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete, corrupt or does not fit the run."""


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    _fsync(tmp)
    os.replace(tmp, path)


def list_checkpoints(root: str | Path) -> list[Path]:
    """The complete-looking checkpoint folders ``step-NNNNNN`` under ``root``, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [(int(m[1]), p) for p in root.iterdir() if (m := _STEP_DIR.match(p.name))]
    return [p for _, p in sorted(found)]


def save_checkpoint(
    root: str | Path,
    step: int,
    model: nn.Module,
    state: dict[str, Any],
    config: dict[str, Any],
    *,
    keep: int = 2,
) -> Path:
    """Write the checkpoint of ``step`` under ``root`` and point ``root/latest`` at it.

    Args:
        root: the run's checkpoint folder (created if missing).
        step: the number of optimizer steps taken.
        model: its ``state_dict`` is saved as safetensors (shared tensors once).
        state: the rest (optimizer, scheduler, RNG states, ...): tensors and plain values.
        config: JSON-serialisable, e.g. ``{"train": ..., "model": ...}``.
        keep: how many checkpoints to keep; older ones are deleted once this one is
            complete.

    Returns:
        the checkpoint's folder.
    """
    if keep < 1:
        raise ValueError(f"keep must be at least 1, got {keep}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:06d}"
    tmp = root / f".tmp-{name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        # The weights go to a temporary name first, like every file here.
        weights = tmp / f"{MODEL_FILE}.tmp"
        save_model(model, str(weights), metadata={"format": "pt", "step": str(step)})
        os.replace(weights, tmp / MODEL_FILE)
        torch.save({"format": FORMAT, "version": VERSION, "step": step, **state}, tmp / STATE_FILE)
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        files = {}
        for file in (MODEL_FILE, STATE_FILE, CONFIG_FILE):
            _fsync(tmp / file)
            files[file] = {"size": (tmp / file).stat().st_size, "sha256": _sha256(tmp / file)}
        manifest = {"format": FORMAT, "version": VERSION, "step": step, "files": files}
        _write_atomic(tmp / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
        final = root / name
        if final.exists():  # the same step saved again (a resumed run): swap it out
            old = root / f".old-{name}-{os.getpid()}"
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _write_atomic(root / LATEST, name + "\n")
    for old in list_checkpoints(root)[:-keep]:
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def find_checkpoint(path: str | Path) -> Path:
    """The checkpoint folder that ``path`` means: a checkpoint folder itself, or a run's
    folder (or its ``checkpoints/``) whose ``latest`` names one."""
    path = Path(path)
    if (path / MANIFEST_FILE).exists() or _STEP_DIR.match(path.name):
        return path
    for root in (path / "checkpoints", path):
        latest = root / LATEST
        if latest.is_file():
            name = latest.read_text(encoding="utf-8").strip()
            return root / name
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}: the folder does not exist")
    raise CheckpointError(
        f"no checkpoint at {path}: expected a checkpoint folder (with {MANIFEST_FILE}) or a "
        f"run folder whose checkpoints/{LATEST} names one"
    )


def _others(folder: Path) -> str:
    earlier = [p.name for p in list_checkpoints(folder.parent) if p != folder]
    return f" Other checkpoints in {folder.parent}: {', '.join(earlier)}." if earlier else ""


def verify_checkpoint(folder: Path) -> dict[str, Any]:
    """Check ``folder`` against its manifest; return the manifest."""
    if not folder.is_dir():
        raise CheckpointError(f"checkpoint {folder} does not exist.{_others(folder)}")
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(
            f"checkpoint {folder} is incomplete: it has no {MANIFEST_FILE} (its writing was "
            f"interrupted?).{_others(folder)}"
        ) from None
    except json.JSONDecodeError as e:
        raise CheckpointError(f"checkpoint {folder}: {MANIFEST_FILE} is corrupt ({e})") from e
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise CheckpointError(
            f"{folder} is not a {FORMAT} checkpoint of version {VERSION} "
            f"(its manifest says {manifest.get('format')!r}, version {manifest.get('version')!r})"
        )
    for file, expected in manifest["files"].items():
        path = folder / file
        if not path.is_file():
            raise CheckpointError(f"checkpoint {folder} is missing {file}.{_others(folder)}")
        size = path.stat().st_size
        if size != expected["size"]:
            raise CheckpointError(
                f"checkpoint {folder} is corrupt: {file} has {size:,} bytes, the manifest says "
                f"{expected['size']:,} (truncated?).{_others(folder)}"
            )
        if _sha256(path) != expected["sha256"]:
            raise CheckpointError(
                f"checkpoint {folder} is corrupt: the SHA-256 of {file} does not match its "
                f"manifest.{_others(folder)}"
            )
    return manifest


def _mismatch(error: RuntimeError) -> str:
    """The first problem of ``load_state_dict``'s long message, and how many more there are."""
    problems = [line.strip() for line in str(error).splitlines()[1:] if line.strip()]
    if not problems:
        return str(error)
    first = re.sub(
        r"copying a param with shape torch.Size\((\[.*?\])\) from checkpoint, the shape in "
        r"current model is torch.Size\((\[.*?\])\)\.?",
        lambda m: f"{_shape(m[1])} in the checkpoint, {_shape(m[2])} in the model",
        problems[0],
    )
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return first + more


def _shape(listed: str) -> str:
    return "(" + listed.strip("[]") + ")"


def read_checkpoint_config(path: str | Path) -> dict[str, Any]:
    """The configuration saved with the checkpoint at ``path`` (verified first)."""
    folder = find_checkpoint(path)
    verify_checkpoint(folder)
    return json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))


def load_checkpoint(
    path: str | Path, model: nn.Module, *, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Verify the checkpoint at ``path``, load its weights into ``model``, return the rest.

    Returns:
        the saved ``state`` (with ``"step"``), plus ``"config"`` and ``"path"``.

    Raises:
        CheckpointError: the checkpoint is missing, incomplete or corrupt, or its weights do
            not fit ``model`` (the message names the tensors).
    """
    folder = find_checkpoint(path)
    verify_checkpoint(folder)
    try:
        load_model(model, str(folder / MODEL_FILE), strict=True)
    except SafetensorError as e:
        raise CheckpointError(f"checkpoint {folder}: {MODEL_FILE} is unreadable ({e})") from e
    except RuntimeError as e:
        raise CheckpointError(
            f"the weights of checkpoint {folder} do not fit this model: {_mismatch(e)}"
        ) from e
    try:
        state = torch.load(folder / STATE_FILE, map_location=map_location, weights_only=True)
    except Exception as e:  # a pickle error, a zip error, ...: all mean a bad file
        raise CheckpointError(f"checkpoint {folder}: {STATE_FILE} is unreadable ({e})") from e
    state["config"] = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    state["path"] = str(folder)
    return state
