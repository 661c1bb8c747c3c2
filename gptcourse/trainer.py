"""Pretraining a GPT: the training loop of chapter 2, grown up.

The loop is still ``forward, backward, step``; around it, what a real run needs:

- **the same code on every machine**: the CPU, a CUDA GPU or Apple's MPS (``device``),
  in float32 or mixed precision (``dtype``: bfloat16 autocast, or float16 with a
  gradient scaler, see :mod:`gptcourse.precision`), optionally ``torch.compile``'d;
- **larger batches than fit at once**: ``grad_accum`` micro-batches add their gradients
  before each optimizer step (their losses divided by ``grad_accum``, so the sum is the
  mean);
- **several GPUs** (:mod:`gptcourse.distributed`): started by ``torchrun``, each process
  draws its own batches and DDP averages the gradients; during gradient accumulation the
  micro-batches before the last run under ``no_sync()`` so that the gradients travel once
  per step; only rank 0 logs, samples and writes checkpoints;
- **AdamW with a warmup and cosine schedule, gradient clipping** (:mod:`gptcourse.optim`);
- **watching it**: the validation loss every ``eval_interval`` steps, a sample every
  ``sample_interval``, and every ``log_interval`` steps the loss, the learning rate, the
  tokens per second and the MFU (:mod:`gptcourse.throughput`), in a progress bar and in
  ``metrics.jsonl`` (one JSON object a line). The host waits for the device only then;
- **stopping and going on**: checkpoints hold everything (:mod:`gptcourse.checkpoint`),
  so ``Trainer(config, resume=run_dir)`` continues exactly where the run stopped; a loss
  that becomes NaN or infinite stops the run with an error naming the step, and the last
  good checkpoint stays.

    >>> from gptcourse.train_config import get_config
    >>> result = Trainer(get_config("smoke", max_steps=4, eval_interval=0, sample_interval=0,
    ...                             progress=False)).fit()   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from tqdm.auto import tqdm

from gptcourse.char_tokenizer import CharTokenizer
from gptcourse.checkpoint import (
    CheckpointError,
    find_checkpoint,
    load_checkpoint,
    read_checkpoint_config,
    save_checkpoint,
)
from gptcourse.corpus import BatchStream, Corpus, Tokenizer, load_tokenizer
from gptcourse.distributed import init_distributed
from gptcourse.model import GPT, GPTConfig, flops_per_token
from gptcourse.optim import configure_adamw, warmup_cosine
from gptcourse.precision import Precision, enable_tf32, pick_device
from gptcourse.throughput import mfu, peak_tflops
from gptcourse.train_config import RESUMABLE_CHANGES, TrainConfig
from gptcourse.training import estimate_loss

__all__ = ["Trainer", "TrainResult", "TrainingDiverged", "load_corpus", "load_run"]


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite."""


class Batches(Protocol):
    """Where training batches come from (a :class:`~gptcourse.corpus.BatchStream`)."""

    def next(self) -> tuple[torch.Tensor, torch.Tensor]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass
class TrainResult:
    """What a run reached.

    Attributes:
        step: the optimizer steps taken in all.
        stopped: why it stopped: ``"max_steps"``, ``"target_val_loss"``, ``"max_time"`` or
            ``"until"`` (the step :meth:`Trainer.fit` was asked to stop at).
        val_loss, train_loss: the last evaluation's (``None`` without one).
        best_val_loss, best_step: the lowest validation loss and its step.
        target_reached: ``{"step", "time_s"}`` when the validation loss first reached
            ``target_val_loss``.
        time_s: seconds of training (evaluations included, set-up excluded), over every
            session of the run.
        tokens_per_s, mfu: the median over this session's log intervals after the first
            (which holds compilation and warm-up).
        peak_tflops, peak_source: what the MFU was measured against.
        checkpoint: the last checkpoint written, if any.
    """

    step: int = 0
    stopped: str = "max_steps"
    val_loss: float | None = None
    train_loss: float | None = None
    best_val_loss: float | None = None
    best_step: int | None = None
    target_reached: dict[str, float] | None = None
    time_s: float = 0.0
    tokens_per_s: float | None = None
    mfu: float | None = None
    peak_tflops: float | None = None
    peak_source: str = ""
    checkpoint: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "history"}


def load_corpus(config: TrainConfig) -> Corpus:
    """The corpus of ``config``: a dataset of :mod:`gptcourse.data`, or a text file."""
    path = Path(config.dataset)
    if path.suffix and path.is_file():
        text = path.read_text(encoding="utf-8")
        return Corpus.from_text(text, config.tokenizer, config.val_fraction)
    return Corpus.load(config.dataset, config.tokenizer, config.val_fraction)


def _tokenizer_record(tokenizer: Tokenizer) -> dict[str, Any]:
    if isinstance(tokenizer, CharTokenizer):
        return {"type": "char", "chars": tokenizer.chars}
    return {"type": "gpt2"}


def load_run(path: str | Path, device: str | torch.device = "cpu") -> tuple[GPT, Tokenizer]:
    """The trained model (in eval mode) and its tokenizer from a checkpoint or run folder."""
    config = read_checkpoint_config(path)
    model = GPT(GPTConfig(**config["model"]))
    load_checkpoint(path, model)
    record = config["tokenizer"]
    if record["type"] == "char":
        tokenizer: Tokenizer = CharTokenizer(record["chars"])
    else:
        tokenizer = load_tokenizer(record["type"])
    return model.to(device).eval(), tokenizer


class Trainer:
    """A pretraining run of a :class:`~gptcourse.model.GPT`, configured by a
    :class:`~gptcourse.train_config.TrainConfig`.

    Args:
        config: the run.
        out_dir: where ``metrics.jsonl``, ``config.json`` and ``checkpoints/`` go
            (``None``: nothing is written; the metrics are in :attr:`history`).
        resume: a run folder or checkpoint to continue from. The configuration must match
            the checkpoint's, except the fields of
            :data:`~gptcourse.train_config.RESUMABLE_CHANGES`.
        corpus: the tokenised corpus (by default loaded from ``config.dataset``).
        batches: where training batches come from (by default a
            :class:`~gptcourse.corpus.BatchStream` over the training ids, seeded by
            ``config.seed`` plus the process's rank).

    Attributes:
        model: the :class:`GPT` (the weights the optimizer updates).
        train_module: what the training step calls: the model, compiled and/or wrapped in
            DDP as configured.
        history: every record written to the metrics log, as dicts.
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        out_dir: str | Path | None = None,
        resume: str | Path | None = None,
        corpus: Corpus | None = None,
        batches: Batches | None = None,
    ):
        self.config = config
        device = pick_device(config.device)
        self.dist = init_distributed(device.type)
        if self.dist.enabled and device.type == "cuda":
            device = torch.device("cuda", self.dist.local_rank)
        self.device = device
        self.precision = Precision.for_device(device, config.dtype)
        if device.type == "cuda":
            enable_tf32()
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.history: list[dict[str, Any]] = []

        checkpoint = None
        if resume is not None:
            checkpoint = find_checkpoint(resume)
            self._check_resumable(read_checkpoint_config(checkpoint))

        self.corpus = corpus if corpus is not None else load_corpus(config)
        if config.sample_tokens:
            try:
                self.corpus.tokenizer.encode(config.sample_prompt)
            except ValueError as e:
                raise ValueError(
                    f"sample_prompt {config.sample_prompt!r} cannot be encoded: {e}"
                ) from e
        self.model_config = config.model_config(self.corpus.vocab_size)
        torch.manual_seed(config.seed)  # the same initial weights in every process
        self.model = GPT(self.model_config).to(device)
        self.optimizer = configure_adamw(
            self.model,
            lr=config.lr,
            betas=(config.beta1, config.beta2),
            weight_decay=config.weight_decay,
        )
        self.scheduler = warmup_cosine(
            self.optimizer,
            warmup_steps=config.warmup_steps,
            max_steps=config.max_steps,
            min_lr_ratio=config.min_lr / config.lr,
        )
        self.scaler = self.precision.grad_scaler()
        self.batches: Batches = batches or BatchStream(
            self.corpus.train,
            config.batch_size,
            self.model_config.block_size,
            seed=config.seed + self.dist.rank,
            device=device,
        )
        torch.manual_seed(config.seed + self.dist.rank)  # dropout: a stream per process
        self.step = 0
        self.elapsed = 0.0  # seconds of training in earlier sessions of this run
        self.best_val_loss: float | None = None
        self.best_step: int | None = None
        self.target_reached: dict[str, float] | None = None
        self.last_checkpoint: str | None = None
        if checkpoint is not None:
            self._restore(checkpoint)

        module: torch.nn.Module = self.model
        if config.compile:
            module = torch.compile(module)
        self.eval_module = module
        if self.dist.enabled:
            device_ids = [device.index] if device.type == "cuda" else None
            module = DDP(module, device_ids=device_ids)
        self.train_module = module
        self.flops_per_token = flops_per_token(self.model_config)
        self.peak, self.peak_source = peak_tflops(device, self.precision.dtype, config.peak_tflops)
        if self.out_dir is not None and self.dist.is_main:
            self._prepare_out_dir(resumed=checkpoint is not None)

    # --- the training step ------------------------------------------------------------------

    def train_step(self) -> torch.Tensor:
        """One optimizer step over ``grad_accum`` micro-batches; the mean loss, on the device
        (reading it would make the host wait)."""
        config = self.config
        module = self.train_module
        total = torch.zeros((), device=self.device)
        for micro in range(config.grad_accum):
            x, y = self.batches.next()
            last = micro == config.grad_accum - 1
            # Only the last micro-batch's backward pass all-reduces the gradients.
            sync = contextlib.nullcontext() if last or not self.dist.enabled else module.no_sync()
            with sync:
                with self.precision.autocast():
                    _, loss = module(x, y)
                    loss = loss / config.grad_accum
                self.scaler.scale(loss).backward()
            total += loss.detach()
        if config.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        return total

    # --- the loop ---------------------------------------------------------------------------

    def fit(self, until: int | None = None) -> TrainResult:
        """Train until ``max_steps`` (or the target loss, or ``max_time``); return the result.

        ``until`` stops earlier, after that step, as an interruption would (with an
        evaluation and a checkpoint); ``fit()`` again, or a new trainer resuming from the
        checkpoint, goes on from there on the same schedule.
        """
        config = self.config
        until = config.max_steps if until is None else min(until, config.max_steps)
        main = self.dist.is_main
        bar = tqdm(
            total=config.max_steps,
            initial=self.step,
            desc=config.name,
            unit="step",
            dynamic_ncols=True,
            disable=not (config.progress and main),
        )
        start = time.perf_counter()
        self._paused = 0.0  # seconds spent evaluating, sampling and saving since the last log
        self._log_time, self._log_step = start, self.step
        speeds: list[tuple[float, float | None]] = []
        val_loss = train_loss = None
        stopped = "max_steps"
        if self.step == 0 and config.eval_interval:
            train_loss, val_loss = self._evaluate(start)
        window: list[torch.Tensor] = []
        self.model.train()
        try:
            while self.step < until:
                lr = self.scheduler.get_last_lr()[0]
                window.append(self.train_step())
                self.step += 1
                bar.update(1)
                step = self.step
                stop = "max_steps" if step == config.max_steps else None
                if stop is None and step == until:
                    stop = "until"
                evaluate = bool(config.eval_interval) and step % config.eval_interval == 0
                if step % config.log_interval == 0 or evaluate or stop:
                    speed, out_of_time = self._log(window, lr, start, bar)
                    window = []
                    speeds.append(speed)
                    if out_of_time and stop is None:
                        stop = "max_time"
                if evaluate or stop:
                    train_loss, val_loss = self._evaluate(start)
                    bar.set_postfix(loss=f"{train_loss:.4f}", val=f"{val_loss:.4f}")
                    if stop is None and self.target_reached is not None:
                        stop = "target_val_loss"
                    if config.checkpoint:
                        self._save(start)
                if (config.sample_interval and step % config.sample_interval == 0) or stop:
                    self._sample(bar)
                if stop:
                    stopped = stop
                    break
        finally:
            bar.close()
        self.elapsed += time.perf_counter() - start
        steady = speeds[1:] or speeds
        tokens_per_s = _median([s for s, _ in steady]) if steady else None
        mfus = [m for _, m in steady if m is not None]
        return TrainResult(
            step=self.step,
            stopped=stopped,
            val_loss=val_loss,
            train_loss=train_loss,
            best_val_loss=self.best_val_loss,
            best_step=self.best_step,
            target_reached=self.target_reached,
            time_s=self.elapsed,
            tokens_per_s=tokens_per_s,
            mfu=_median(mfus) if mfus else None,
            peak_tflops=self.peak,
            peak_source=self.peak_source,
            checkpoint=self.last_checkpoint,
            history=self.history,
        )

    def _log(
        self, window: list[torch.Tensor], lr: float, start: float, bar: tqdm
    ) -> tuple[tuple[float, float | None], bool]:
        """Read the window's losses (the host waits here), stop on NaN, record the speed.

        Returns ``((tokens/s, mfu), out_of_time)``; every process gets the same answers.
        """
        config = self.config
        losses = torch.stack(window).float()  # (steps in the window,)
        out_of_time = config.max_time is not None and (
            self.elapsed + time.perf_counter() - start >= config.max_time
        )
        if self.dist.enabled:  # the mean over the processes, and one decision for all
            packed = torch.cat([losses, torch.tensor([float(out_of_time)], device=losses.device)])
            dist.all_reduce(packed)  # a sum: gloo has no average
            losses, out_of_time = packed[:-1] / self.dist.world_size, bool(packed[-1] > 0)
        values = losses.tolist()
        first_step = self.step - len(values) + 1
        for offset, value in enumerate(values):
            if not math.isfinite(value):
                raise TrainingDiverged(
                    f"the training loss is {value} at step {first_step + offset}: training "
                    f"stopped. {self._last_good()}"
                )
        now = time.perf_counter()
        seconds = now - self._log_time - self._paused
        steps = self.step - self._log_step
        self._log_time, self._log_step, self._paused = now, self.step, 0.0
        tokens_per_s = steps * self.config.tokens_per_step(self.dist.world_size) / seconds
        utilisation = None
        if self.peak is not None:
            per_device = tokens_per_s / self.dist.world_size
            utilisation = mfu(per_device, self.flops_per_token, self.peak * 1e12)
        loss = sum(values) / len(values)
        self._record(
            {
                "step": self.step,
                "loss": loss,
                "lr": lr,
                "tokens_per_s": tokens_per_s,
                "mfu": utilisation,
                "peak_tflops": self.peak,
                "time_s": self.elapsed + now - start,
            }
        )
        postfix = {"loss": f"{loss:.4f}", "tok/s": f"{tokens_per_s:,.0f}"}
        if utilisation is not None:
            postfix["mfu"] = f"{100 * utilisation:.1f}%"
        bar.set_postfix(postfix)
        return (tokens_per_s, utilisation), out_of_time

    def _last_good(self) -> str:
        if self.last_checkpoint is None:
            return "No checkpoint was saved in this session."
        return f"The last good checkpoint is {self.last_checkpoint}."

    @torch.no_grad()
    def _evaluate(self, start: float) -> tuple[float, float]:
        """The mean loss on ``eval_iters`` fixed batches of the training and validation data."""
        began = time.perf_counter()
        config = self.config
        losses = []
        for ids in (self.corpus.train, self.corpus.val):
            with self.precision.autocast():
                losses.append(
                    estimate_loss(
                        self.eval_module,
                        ids,
                        batch_size=config.batch_size,
                        block_size=self.model_config.block_size,
                        num_batches=config.eval_iters,
                        seed=config.seed,
                        device=self.device,
                    )
                )
        train_loss, val_loss = losses
        if self.dist.enabled:  # rank 0's figures decide for everyone
            both = torch.tensor([train_loss, val_loss], device=self.device)
            dist.broadcast(both, src=0)
            train_loss, val_loss = both.tolist()
        if not math.isfinite(val_loss):
            raise TrainingDiverged(
                f"the validation loss is {val_loss} at step {self.step}: training stopped. "
                f"{self._last_good()}"
            )
        time_s = self.elapsed + time.perf_counter() - start
        if self.best_val_loss is None or val_loss < self.best_val_loss:
            self.best_val_loss, self.best_step = val_loss, self.step
            if self.config.keep_best and self.step > 0:
                self._save(start, best=True)
        target = self.config.target_val_loss
        if target is not None and self.target_reached is None and val_loss <= target:
            self.target_reached = {"step": self.step, "time_s": time_s}
        self._record(
            {"step": self.step, "train_loss": train_loss, "val_loss": val_loss, "time_s": time_s}
        )
        self._paused += time.perf_counter() - began
        return train_loss, val_loss

    def _sample(self, bar: tqdm) -> None:
        config = self.config
        if not (self.dist.is_main and config.sample_tokens):
            return
        began = time.perf_counter()
        text = self.sample(config.sample_prompt, config.sample_tokens)
        bar.write(f"--- sample at step {self.step} ---\n{text}\n---")
        self._record({"step": self.step, "sample": text})
        self._paused += time.perf_counter() - began

    def sample(self, prompt: str, max_new_tokens: int, *, seed: int | None = None) -> str:
        """A continuation of ``prompt`` from the model (its own random generator: the
        training's random streams are left alone)."""
        config = self.config
        tokenizer = self.corpus.tokenizer
        ids = tokenizer.encode(prompt) or [0]
        idx = torch.tensor([ids], device=self.device)
        generator = torch.Generator(self.device).manual_seed(config.seed if seed is None else seed)
        out = self.model.generate(  # in float32: a sample is short, and the cache is float32
            idx[:, -self.model_config.block_size :],
            max_new_tokens,
            temperature=config.temperature,
            top_k=config.top_k,
            generator=generator,
        )
        return tokenizer.decode(out[0].tolist())

    # --- records, checkpoints, resuming -------------------------------------------------------

    def _prepare_out_dir(self, resumed: bool) -> None:
        assert self.out_dir is not None
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / "config.json").write_text(
            json.dumps(self._saved_config(), indent=2) + "\n", encoding="utf-8"
        )
        metrics = self.out_dir / "metrics.jsonl"
        if resumed and metrics.exists():
            # Drop what an interrupted session logged after the checkpoint it resumes from.
            kept = [
                line
                for line in metrics.read_text(encoding="utf-8").splitlines()
                if line.strip() and json.loads(line)["step"] <= self.step
            ]
            metrics.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        elif metrics.exists():
            metrics.unlink()

    def _record(self, record: dict[str, Any]) -> None:
        if not self.dist.is_main:
            return
        self.history.append(record)
        if self.out_dir is not None:
            with open(self.out_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    def _saved_config(self) -> dict[str, Any]:
        return {
            "train": self.config.to_dict(),
            "model": asdict(self.model_config),
            "tokenizer": _tokenizer_record(self.corpus.tokenizer),
        }

    def _rng_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "torch": torch.get_rng_state(),
            "batches": self.batches.state_dict(),
        }
        if self.device.type == "cuda":
            state["cuda"] = torch.cuda.get_rng_state(self.device)
        elif self.device.type == "mps":
            state["mps"] = torch.mps.get_rng_state()
        return state

    def state_dict(self) -> dict[str, Any]:
        """Everything but the weights: optimizer, schedule, scaler, random states, position.

        Collective under DDP: every process's random states are gathered (one list entry
        per rank).
        """
        rng = [self._rng_state()]
        if self.dist.enabled:
            gathered: list[Any] = [None] * self.dist.world_size
            dist.all_gather_object(gathered, _to_cpu(rng[0]))
            rng = gathered
        return {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else {},
            "rng": rng,
            "world_size": self.dist.world_size,
            "elapsed": self.elapsed,
            "best_val_loss": self.best_val_loss,
            "best_step": self.best_step,
        }

    def _save(self, start: float, best: bool = False) -> None:
        if self.out_dir is None:
            return
        began = time.perf_counter()
        elapsed = self.elapsed
        self.elapsed += began - start  # the checkpoint records the time so far
        try:
            state = self.state_dict()
        finally:
            self.elapsed = elapsed
        if self.dist.is_main:
            root = self.out_dir / ("best" if best else "checkpoints")
            keep = 1 if best else self.config.keep_checkpoints
            path = save_checkpoint(
                root, self.step, self.model, state, self._saved_config(), keep=keep
            )
            if not best:
                self.last_checkpoint = str(path)
        self._paused += time.perf_counter() - began

    def _check_resumable(self, saved: dict[str, Any]) -> None:
        try:
            theirs = TrainConfig.from_dict(saved["train"])
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(
                f"the checkpoint's config.json is not a training config: {e}"
            ) from e
        changed = {
            k: v for k, v in theirs.differences(self.config).items() if k not in RESUMABLE_CHANGES
        }
        if changed:
            listed = "; ".join(f"{k}: checkpoint {a!r}, now {b!r}" for k, (a, b) in changed.items())
            raise CheckpointError(
                f"the checkpoint was written by a run with another configuration ({listed}). "
                f"Resume with the checkpoint's configuration, or start a new run"
            )

    def _restore(self, checkpoint: Path) -> None:
        state = load_checkpoint(checkpoint, self.model, map_location="cpu")
        if state.get("world_size", 1) != self.dist.world_size:
            raise CheckpointError(
                f"checkpoint {checkpoint} was written by {state['world_size']} processes; "
                f"resume it with as many (now {self.dist.world_size}), so that every data "
                "stream continues"
            )
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler.is_enabled() and state["scaler"]:
            self.scaler.load_state_dict(state["scaler"])
        rng = state["rng"][self.dist.rank]
        torch.set_rng_state(rng["torch"])
        if self.device.type == "cuda" and "cuda" in rng:
            torch.cuda.set_rng_state(rng["cuda"], self.device)
        elif self.device.type == "mps" and "mps" in rng:
            torch.mps.set_rng_state(rng["mps"])
        self.batches.load_state_dict(rng["batches"])
        self.step = int(state["step"])
        self.elapsed = float(state["elapsed"])
        self.best_val_loss, self.best_step = state["best_val_loss"], state["best_step"]
        self.last_checkpoint = state["path"]


def _to_cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    return value


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
