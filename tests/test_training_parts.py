"""The parts of the trainer on their own: AdamW's groups, the schedule, precision, throughput,
the corpus and its batch stream."""

from __future__ import annotations

import math

import pytest
import torch

from gptcourse import optim, precision, throughput
from gptcourse.corpus import BatchStream, Corpus, load_tokenizer
from gptcourse.model import GPT, GPTConfig

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def _gpt() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig.from_preset("gpt-nano", vocab_size=20, block_size=8))


# --- AdamW and the schedule -----------------------------------------------------------------


def test_matrices_decay_and_biases_and_norms_do_not():
    model = _gpt()
    decay, no_decay = optim.parameter_groups(model, weight_decay=0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decay["params"])
    assert {names[id(p)].rsplit(".", 1)[-1] for p in no_decay["params"]} == {"weight", "bias"}
    assert all(p.dim() == 1 for p in no_decay["params"])  # the norms' weights, the biases
    # The tied embedding is one parameter, once: every parameter is in exactly one group.
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))
    model.blocks.requires_grad_(False)
    frozen = optim.parameter_groups(model, weight_decay=0.1)
    assert sum(len(g["params"]) for g in frozen) == 4  # the two embeddings, ln_f (2)


def test_configure_adamw_uses_the_fused_kernel_and_falls_back(monkeypatch):
    optimizer = optim.configure_adamw(_gpt(), lr=1e-3, betas=(0.9, 0.99))
    assert optimizer.defaults["fused"] is True and optimizer.defaults["betas"] == (0.9, 0.99)
    real = torch.optim.AdamW

    def no_fused_kernel(*args, fused=None, **kwargs):
        if fused:
            raise RuntimeError("`fused=True` requires all the params to be ... supported devices")
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.optim, "AdamW", no_fused_kernel)
    assert not optim.configure_adamw(_gpt(), lr=1e-3).defaults["fused"]
    model = _gpt().requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        optim.configure_adamw(model, lr=1e-3)


def _lrs(scheduler, optimizer, steps):
    lrs = []
    for _ in range(steps):
        lrs.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    return lrs


@pytest.mark.parametrize("warmup", [0, 10])
def test_warmup_then_cosine_is_the_formula(warmup):
    lr, min_ratio, max_steps = 1e-3, 0.1, 100
    optimizer = torch.optim.AdamW([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = optim.warmup_cosine(
        optimizer, warmup_steps=warmup, max_steps=max_steps, min_lr_ratio=min_ratio
    )
    for step, got in enumerate(_lrs(scheduler, optimizer, max_steps)):
        if step < warmup:  # linear from lr / warmup
            expected = lr * (1 / warmup + (1 - 1 / warmup) * step / warmup)
        else:
            progress = (step - warmup) / (max_steps - warmup)
            expected = lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))
        assert got == pytest.approx(expected, rel=1e-6), step


def test_warmup_cosine_refuses_what_it_cannot_do():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    with pytest.raises(ValueError, match="warmup_steps=5 leaves no steps to decay in max_steps=5"):
        optim.warmup_cosine(optimizer, warmup_steps=5, max_steps=5)
    with pytest.raises(ValueError, match="min_lr_ratio must be in"):
        optim.warmup_cosine(optimizer, warmup_steps=1, max_steps=5, min_lr_ratio=2.0)


# --- precision and throughput ---------------------------------------------------------------


def test_pick_dtype_auto_and_names():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert precision.pick_dtype("auto", cpu) == torch.float32
    assert precision.pick_dtype("auto", cuda, bf16_supported=True) == torch.bfloat16
    assert precision.pick_dtype("auto", cuda, bf16_supported=False) == torch.float16
    assert precision.pick_dtype("auto", torch.device("mps")) == torch.float32
    assert precision.pick_dtype("bf16", cpu) == torch.bfloat16
    with pytest.raises(ValueError, match="unknown dtype 'half'"):
        precision.pick_dtype("half", cpu)


def test_precision_scales_float16_only():
    fp16, bf16, fp32 = (
        precision.Precision("cpu", d) for d in (torch.float16, torch.bfloat16, torch.float32)
    )
    assert fp16.needs_scaler and fp16.grad_scaler().is_enabled()
    assert not bf16.grad_scaler().is_enabled() and not fp32.grad_scaler().is_enabled()
    with fp32.autocast():
        assert not torch.is_autocast_enabled("cpu")
    with bf16.autocast():
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16
    assert bf16.name == "bfloat16"


def test_pick_device_checks_what_is_there(monkeypatch):
    assert precision.pick_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        precision.pick_device("gpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        precision.pick_device("cuda:0")


def test_peak_tflops_from_the_table_or_given(monkeypatch):
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H200")
    assert throughput.peak_tflops(cuda, torch.bfloat16) == (
        989.4,
        "H200 bfloat16 dense (datasheet)",
    )
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100 PCIe")
    assert throughput.peak_tflops(cuda, torch.float16)[0] == 756.0
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Quantum GPU 9000")
    peak, why = throughput.peak_tflops(cuda, torch.bfloat16)
    assert peak is None and "no known peak for Quantum GPU 9000" in why
    assert throughput.peak_tflops(cuda, torch.bfloat16, override=100.0) == (100.0, "given")
    with pytest.raises(ValueError, match="peak_tflops must be positive"):
        throughput.peak_tflops(cuda, torch.bfloat16, override=0.0)


def test_mfu_is_achieved_over_peak_flops():
    config = GPTConfig.from_preset("gpt2")
    per_token = 6 * (12 * 12 * 768**2 + 50257 * 768) + 12 * 12 * 1024 * 768
    assert throughput.mfu(478_000, per_token, 989.4e12) == pytest.approx(
        478_000 * per_token / 989.4e12
    )
    from gptcourse.model import flops_per_token

    assert flops_per_token(config) == per_token


# --- the corpus -----------------------------------------------------------------------------


def test_gpt2_tokenizer_is_gpt2s_bpe_and_char_needs_its_text():
    from gptcourse.gpt2_tokenizer import load_gpt2_tokenizer

    text = "ROMEO:\nBut, soft! what light through yonder window breaks?"
    assert load_tokenizer("gpt2").encode(text) == load_gpt2_tokenizer().encode(text)
    assert load_tokenizer("gpt2").vocab_size == 50257
    with pytest.raises(ValueError, match="needs the text"):
        load_tokenizer("char")
    with pytest.raises(ValueError, match="unknown tokenizer 'words'"):
        load_tokenizer("words")


def test_batch_stream_state_continues_the_same_batches():
    corpus = Corpus.from_text("abcdefghij" * 30, val_fraction=0.2)
    assert (len(corpus.train), len(corpus.val)) == (240, 60)
    stream = BatchStream(corpus.train, 4, 8, seed=3)
    stream.next()
    state = stream.state_dict()
    expected = [stream.next() for _ in range(3)]
    again = BatchStream(corpus.train, 4, 8, seed=99)
    again.load_state_dict(state)
    for (x, y), (x2, y2) in zip(expected, [again.next() for _ in range(3)], strict=True):
        assert torch.equal(x, x2) and torch.equal(y, y2)
    assert again.drawn == 4 and x.dtype == torch.long
    with pytest.raises(ValueError, match="needs windows of 301 tokens"):
        BatchStream(corpus.train, 4, 300)
