"""Export to Hugging Face's format: the folder loads with the Auto classes, the tokenizer
gives the course's ids, and greedy generation gives the course's tokens."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from gptcourse.bpe import BPETokenizer
from gptcourse.char_tokenizer import CharTokenizer
from gptcourse.export import save_pretrained, to_hf_tokenizer, with_biases
from gptcourse.generation import generate
from gptcourse.model import GPT, GPTConfig

pytestmark = pytest.mark.usefixtures("one_cpu_thread")

transformers = pytest.importorskip("transformers")

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak!\n"


def _model(vocab_size: int, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    config = GPTConfig.from_preset("gpt-nano", vocab_size=vocab_size, block_size=32)
    model = GPT(config).eval()
    with torch.no_grad():  # larger weights than at initialisation: sharper, varied predictions
        for p in model.parameters():
            p.mul_(5.0)
    return model


def test_char_tokenizer_gives_the_same_ids_and_text():
    tok = CharTokenizer.from_text(TEXT)
    hf = to_hf_tokenizer(tok)
    assert hf(TEXT)["input_ids"] == tok.encode(TEXT)
    assert hf.decode(tok.encode(TEXT)) == TEXT
    assert len(hf) == tok.vocab_size


def test_bpe_tokenizer_gives_the_same_ids_and_text():
    tok = BPETokenizer.train(TEXT * 3, 300, special_tokens=["<|endoftext|>"])
    hf = to_hf_tokenizer(tok)
    text = TEXT + "<|endoftext|>Speak again, citizen's 12 ans\u00e9s"
    assert hf(text)["input_ids"] == tok.encode(text, allowed_special="all")
    assert hf.decode(tok.encode(text, allowed_special="all")) == text
    assert hf.eos_token == "<|endoftext|>"
    assert hf.eos_token_id == tok.special_tokens["<|endoftext|>"]


@pytest.mark.parametrize("kind", ["char", "bpe"])
def test_exported_folder_loads_and_generates_the_same_greedy_tokens(tmp_path, kind):
    if kind == "char":
        tok = CharTokenizer.from_text(TEXT)
    else:
        tok = BPETokenizer.train(TEXT * 3, 290, special_tokens=["<|endoftext|>"])
    model = _model(tok.vocab_size)
    save_pretrained(model, tok, tmp_path / "my-gpt")
    hf_model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "my-gpt")
    hf_tok = transformers.AutoTokenizer.from_pretrained(tmp_path / "my-gpt")
    assert type(hf_model).__name__ == "GPT2LMHeadModel"

    prompt = "Before we"
    ids = hf_tok(prompt, return_tensors="pt")["input_ids"]
    assert ids[0].tolist() == tok.encode(prompt)
    ours = generate(model, ids, 20, temperature=0)
    with torch.no_grad():
        theirs = hf_model.generate(
            ids, attention_mask=torch.ones_like(ids), max_new_tokens=20, do_sample=False
        )
    n = theirs.shape[1]  # transformers stops early at the end-of-text token
    assert theirs.tolist() == ours[:, :n].tolist()
    assert n == ours.shape[1] or theirs[0, -1].item() == hf_tok.eos_token_id
    assert hf_tok.decode(theirs[0]) == tok.decode(ours[0, :n].tolist())


def test_save_pretrained_refuses_a_tokenizer_of_another_vocabulary(tmp_path):
    tok = CharTokenizer.from_text(TEXT)
    with pytest.raises(
        ValueError, match=rf"vocab_size={tok.vocab_size} but the model vocab_size=50"
    ):
        save_pretrained(_model(50), tok, tmp_path)
    with pytest.raises(TypeError, match="CharTokenizer or a BPETokenizer, got dict"):
        to_hf_tokenizer({"a": 0})
    with pytest.raises(TypeError, match="must be a gptcourse GPT, got Linear"):
        save_pretrained(torch.nn.Linear(2, 2), tok, tmp_path)


def test_a_model_without_biases_exports_with_zero_biases_and_the_same_tokens(tmp_path):
    tok = CharTokenizer.from_text(TEXT)
    torch.manual_seed(0)
    config = GPTConfig.from_preset("gpt-nano", vocab_size=tok.vocab_size, block_size=32)
    model = GPT(dataclasses.replace(config, bias=False)).eval()  # nanoGPT's choice
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(5.0)
    biased = with_biases(model)
    assert biased.config.bias and with_biases(biased) is biased
    ids = torch.tensor([tok.encode("Before we proceed")])
    torch.testing.assert_close(biased(ids)[0], model(ids)[0])
    save_pretrained(model, tok, tmp_path)
    hf_model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path)
    ours = generate(model, ids, 15, temperature=0)
    with torch.no_grad():
        theirs = hf_model.generate(
            ids, attention_mask=torch.ones_like(ids), max_new_tokens=15, do_sample=False
        )
    assert theirs.tolist() == ours.tolist()
    assert all(b.abs().max() == 0 for n, b in hf_model.named_parameters() if n.endswith("bias"))
