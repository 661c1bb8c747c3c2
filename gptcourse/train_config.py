"""What a pretraining run does, in one dataclass, and the course's named runs.

A :class:`TrainConfig` names the data and tokenizer, the model (a preset of
:data:`gptcourse.model.PRESETS` with overrides), the batches, the optimizer and its
schedule, how often to evaluate, sample and save, and the machine's settings. The named
configurations in :data:`CONFIGS` are the course's runs::

    >>> config = get_config("shakespeare-char", max_steps=1000)
    >>> config.max_steps, config.model["n_embd"], config.batch_size
    (1000, 384, 64)
    >>> get_config("shakespear-char")  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: unknown config 'shakespear-char'; did you mean 'shakespeare-char'?
        Known configs: shakespeare-char, shakespeare-char-cpu, shakespeare-gpt2, smoke

Command lines give overrides as strings: :func:`apply_overrides` parses them to each
field's type (``--max_steps 100 --model.dropout 0.1 --compile true``).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from gptcourse._validation import check_size
from gptcourse.corpus import TOKENIZERS
from gptcourse.model import GPTConfig
from gptcourse.precision import DTYPES

__all__ = ["TrainConfig", "CONFIGS", "get_config", "apply_overrides", "RESUMABLE_CHANGES"]


@dataclass
class TrainConfig:
    """A pretraining run. Sizes are per process and per micro-batch.

    Attributes:
        name: the run's name (the named configuration it came from).
        dataset: a dataset of :mod:`gptcourse.data` (``"tinyshakespeare"``), or the path of
            a UTF-8 text file.
        tokenizer: ``"char"`` (the dataset's characters) or ``"gpt2"`` (GPT-2's BPE).
        val_fraction: the share of the corpus, at its end, held out for validation.
        preset: a size of :data:`gptcourse.model.PRESETS`.
        model: overrides of the preset's :class:`~gptcourse.model.GPTConfig` fields, e.g.
            ``{"n_layer": 6, "block_size": 256, "dropout": 0.2}``; ``vocab_size`` comes
            from the tokenizer unless given (it may be larger, never smaller).
        batch_size: sequences per micro-batch, ``B``.
        grad_accum: micro-batches whose gradients add up to one optimizer step; the step
            sees ``batch_size * grad_accum * processes`` sequences.
        max_steps: optimizer steps in all; the schedule ends there.
        lr, min_lr: the peak learning rate, and where the cosine decay ends.
        warmup_steps: steps of linear warmup.
        beta1, beta2, weight_decay: AdamW's (decay on matrices only).
        grad_clip: the largest global gradient norm (0: no clipping).
        eval_interval: evaluate (and save a checkpoint) every this many steps, and at the end.
        eval_iters: batches of the training and validation data per evaluation.
        log_interval: log the training loss, learning rate and speed every this many steps
            (the only moments the host waits for the device, besides evaluations).
        sample_interval: print a sample every this many steps (0: at the end only).
        sample_tokens, sample_prompt, temperature, top_k: what to sample.
        checkpoint: save a checkpoint at every evaluation and at the end.
        keep_checkpoints: how many checkpoints to keep; the best one (lowest validation loss)
            is kept apart in ``best/`` when ``keep_best``.
        target_val_loss: stop once the validation loss is at or below it.
        max_time: stop (with a checkpoint) after this many seconds of training.
        seed: seeds the model's initialisation, dropout and the batches.
        device: ``"auto"`` (CUDA, else MPS, else the CPU) or a device name.
        dtype: ``"auto"`` (bfloat16 autocast on a CUDA GPU that has it, float16 with a
            gradient scaler on one that does not, float32 elsewhere) or a dtype name.
        compile: train the ``torch.compile``'d model.
        peak_tflops: the hardware's peak for MFU, when the table does not know it.
        progress: show a progress bar.
    """

    name: str = "custom"
    dataset: str = "tinyshakespeare"
    tokenizer: str = "char"
    val_fraction: float = 0.1
    preset: str = "gpt-mini"
    model: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 64
    grad_accum: int = 1
    max_steps: int = 5000
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup_steps: int = 100
    beta1: float = 0.9
    beta2: float = 0.99
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_interval: int = 250
    eval_iters: int = 200
    log_interval: int = 10
    sample_interval: int = 0
    sample_tokens: int = 200
    sample_prompt: str = "\n"
    temperature: float = 0.8
    top_k: int | None = 200
    checkpoint: bool = True
    keep_checkpoints: int = 2
    keep_best: bool = False
    target_val_loss: float | None = None
    max_time: float | None = None
    seed: int = 1337
    device: str = "auto"
    dtype: str = "auto"
    compile: bool = False
    peak_tflops: float | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("batch_size", "grad_accum", "max_steps", "eval_iters", "log_interval"):
            check_size(name, getattr(self, name))
        for name in ("warmup_steps", "eval_interval", "sample_interval", "sample_tokens"):
            check_size(name, getattr(self, name), minimum=0)
        check_size("keep_checkpoints", self.keep_checkpoints)
        if self.tokenizer not in TOKENIZERS:
            raise ValueError(
                f"unknown tokenizer {self.tokenizer!r}; use one of {', '.join(TOKENIZERS)}"
            )
        if self.dtype != "auto" and self.dtype not in DTYPES:
            known = ", ".join(DTYPES)
            raise ValueError(f"unknown dtype {self.dtype!r}; use 'auto' or one of {known}")
        if self.warmup_steps >= self.max_steps:
            raise ValueError(
                f"warmup_steps={self.warmup_steps} must be below max_steps={self.max_steps}"
            )
        if not 0 < self.lr or not 0 <= self.min_lr <= self.lr:
            raise ValueError(
                f"need lr > 0 and 0 <= min_lr <= lr, got lr={self.lr}, min_lr={self.min_lr}"
            )
        if self.grad_clip < 0:
            raise ValueError(f"grad_clip must be >= 0 (0: no clipping), got {self.grad_clip}")
        if not isinstance(self.model, dict):
            raise TypeError(f"model must be a dict of GPTConfig overrides, got {self.model!r}")
        self.model_config(vocab_size=self.model.get("vocab_size", 1))  # checks the fields

    def model_config(self, vocab_size: int) -> GPTConfig:
        """The :class:`GPTConfig` of this run for a tokenizer of ``vocab_size`` tokens."""
        overrides = {"vocab_size": vocab_size, **self.model}
        if overrides["vocab_size"] < vocab_size:
            raise ValueError(
                f"model vocab_size={overrides['vocab_size']} is smaller than the tokenizer's "
                f"{vocab_size}"
            )
        return GPTConfig.from_preset(self.preset, **overrides)

    @property
    def block_size(self) -> int:
        return self.model_config(self.model.get("vocab_size", 1)).block_size

    def tokens_per_step(self, world_size: int = 1) -> int:
        return self.batch_size * self.block_size * self.grad_accum * world_size

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"TrainConfig has no field {', '.join(map(repr, unknown))}")
        return cls(**values)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def differences(self, other: TrainConfig) -> dict[str, tuple[Any, Any]]:
        """``{field: (self's value, other's value)}`` for every field that differs."""
        mine, theirs = self.to_dict(), other.to_dict()
        return {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k]}


#: Fields that may change when a run is resumed: how it is watched, where and how fast it
#: runs, when it stops early. Everything else must match the checkpoint.
RESUMABLE_CHANGES = frozenset(
    {
        "eval_interval",
        "log_interval",
        "sample_interval",
        "sample_tokens",
        "sample_prompt",
        "temperature",
        "top_k",
        "checkpoint",
        "keep_checkpoints",
        "keep_best",
        "target_val_loss",
        "max_time",
        "device",
        "compile",
        "peak_tflops",
        "progress",
    }
)

_NANOGPT_CHAR = dict(n_layer=6, n_head=6, n_embd=384, block_size=256, dropout=0.2, bias=False)

#: The course's named runs.
CONFIGS: dict[str, TrainConfig] = {
    # nanoGPT's reference character-level Shakespeare (config/train_shakespeare_char.py):
    # 10.7M parameters, validation loss about 1.47 after 5000 steps.
    "shakespeare-char": TrainConfig(
        name="shakespeare-char",
        model=dict(_NANOGPT_CHAR),
        batch_size=64,
        max_steps=5000,
        lr=1e-3,
        min_lr=1e-4,
        warmup_steps=100,
        beta2=0.99,
        eval_interval=250,
        eval_iters=200,
        sample_interval=1000,
    ),
    # A small version for a CPU: about 70 s on one core of a 2-core cloud machine
    # (OMP_NUM_THREADS=1 where other work keeps the cores busy), validation loss about 2.1.
    "shakespeare-char-cpu": TrainConfig(
        name="shakespeare-char-cpu",
        model=dict(n_layer=3, n_head=4, n_embd=96, block_size=64, dropout=0.0, bias=False),
        batch_size=16,
        max_steps=800,
        lr=2e-3,
        min_lr=2e-4,
        warmup_steps=50,
        eval_interval=200,
        eval_iters=10,
        sample_interval=400,
        device="cpu",
    ),
    # The same data through GPT-2's tokenizer: 50257 tokens, about 300k in the training text.
    "shakespeare-gpt2": TrainConfig(
        name="shakespeare-gpt2",
        tokenizer="gpt2",
        model=dict(n_layer=6, n_head=6, n_embd=384, block_size=256, dropout=0.2),
        batch_size=32,
        max_steps=1500,
        lr=6e-4,
        min_lr=6e-5,
        warmup_steps=100,
        beta2=0.99,
        eval_interval=100,
        eval_iters=20,
        sample_interval=500,
        sample_prompt="ROMEO:",
        keep_best=True,
    ),
    # A toy run for tests: seconds on a CPU.
    "smoke": TrainConfig(
        name="smoke",
        preset="gpt-nano",
        model=dict(n_layer=2, n_head=2, n_embd=32, block_size=32),
        batch_size=8,
        max_steps=20,
        lr=3e-3,
        min_lr=3e-4,
        warmup_steps=2,
        eval_interval=10,
        eval_iters=2,
        log_interval=5,
        sample_interval=10,
        sample_tokens=32,
        device="cpu",
        progress=False,
    ),
}


def get_config(name: str, **overrides: Any) -> TrainConfig:
    """A copy of the named configuration ``name`` of :data:`CONFIGS`, with ``overrides``."""
    if name not in CONFIGS:
        close = difflib.get_close_matches(str(name), CONFIGS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown config {name!r}{hint} Known configs: {', '.join(CONFIGS)}")
    base = CONFIGS[name]
    values = base.to_dict()
    values["model"] = dict(values["model"])
    unknown = sorted(set(overrides) - set(values))
    if unknown:
        raise ValueError(
            f"TrainConfig has no field {', '.join(map(repr, unknown))}; its fields are "
            f"{', '.join(values)}"
        )
    values.update(overrides)
    return TrainConfig(**values)


def _parse(text: str, like: Any, key: str) -> Any:
    """``text`` (from a command line) as the type of ``like``, a field's default."""
    if text.lower() in ("none", "null"):
        return None
    if isinstance(like, bool):
        if text.lower() in ("true", "1", "yes", "on"):
            return True
        if text.lower() in ("false", "0", "no", "off"):
            return False
        raise ValueError(f"--{key} takes true or false, got {text!r}")
    if isinstance(like, (int, float)):
        kind = type(like)
        try:
            return kind(text)
        except ValueError:
            raise ValueError(f"--{key} takes {kind.__name__} values, got {text!r}") from None
    if isinstance(like, dict):
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"--{key} takes a JSON object, got {text!r} ({e})") from None
    return text.replace("\\n", "\n").replace("\\t", "\t")  # a typed "\n" is a newline


def apply_overrides(config: TrainConfig, overrides: dict[str, str]) -> TrainConfig:
    """``config`` with command-line ``overrides`` (``{"max_steps": "100"}``) parsed to each
    field's type. ``model.X`` keys change the model overrides (``{"model.dropout": "0.1"}``).
    """
    values = config.to_dict()
    defaults = TrainConfig().to_dict()
    gpt_fields = {f.name: f.default for f in fields(GPTConfig)}
    for key, text in overrides.items():
        if key.startswith("model."):
            name = key.removeprefix("model.")
            if name not in gpt_fields:
                raise ValueError(
                    f"--{key}: GPTConfig has no field {name!r}; its fields are "
                    f"{', '.join(gpt_fields)}"
                )
            like = values["model"].get(name, gpt_fields[name])
            values["model"] = {**values["model"], name: _parse(text, like, key)}
            continue
        if key not in values:
            close = difflib.get_close_matches(key, values, n=1)
            hint = f" (did you mean --{close[0]}?)" if close else ""
            raise ValueError(
                f"unknown option --{key}{hint}; the options are the fields of TrainConfig"
            )
        like = values[key] if values[key] is not None else defaults[key]
        if key in ("target_val_loss", "max_time", "peak_tflops"):
            like = 0.0
        values[key] = _parse(text, like, key)
    return TrainConfig(**values)
