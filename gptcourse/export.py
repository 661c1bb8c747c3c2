"""Your GPT in Hugging Face's format: a folder that transformers' ``Auto`` classes load.

:func:`save_pretrained` writes a :class:`~gptcourse.model.GPT` and the course's tokenizer
(a :class:`~gptcourse.char_tokenizer.CharTokenizer` or a :class:`~gptcourse.bpe.BPETokenizer`)
into one folder, the way ``save_pretrained`` does for any model on the Hugging Face Hub::

    save_pretrained(model, tokenizer, "my-gpt")
    model = transformers.AutoModelForCausalLM.from_pretrained("my-gpt")   # a GPT2LMHeadModel
    tokenizer = transformers.AutoTokenizer.from_pretrained("my-gpt")

The model goes across through :mod:`gptcourse.gpt2_weights` (the same weights under
GPT-2's names, with zero biases where the model has none, :func:`with_biases`); the
tokenizer is rebuilt in Hugging Face's ``tokenizers`` library by :func:`to_hf_tokenizer`,
with the same ids for every text. Nothing is downloaded.

transformers and tokenizers are optional dependencies (``pip install gptcourse[interop]``),
imported when a function here is called.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from gptcourse.bpe import BPETokenizer
from gptcourse.char_tokenizer import CharTokenizer
from gptcourse.model import GPT

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

__all__ = ["to_hf_tokenizer", "with_biases", "save_pretrained"]

_INSTALL = "pip install gptcourse[interop]"


def _hf_libraries():
    try:
        import tokenizers
        import transformers
    except ImportError as e:
        raise ImportError(
            f"exporting to Hugging Face's format needs transformers: {_INSTALL}"
        ) from e
    return tokenizers, transformers


def _char_tokenizer(tokenizer: CharTokenizer, tokenizers):
    """One token per character: a BPE model without merges splits a text into characters."""
    vocab = {ch: i for i, ch in enumerate(tokenizer.chars)}
    hf = tokenizers.Tokenizer(tokenizers.models.BPE(vocab=vocab, merges=[]))
    hf.decoder = tokenizers.decoders.Fuse()  # join the characters, no spaces between
    return hf, {}


def _bpe_tokenizer(tokenizer: BPETokenizer, tokenizers):
    """Byte-level BPE: the same bytes, merges, pattern and special tokens."""
    from gptcourse.gpt2_tokenizer import bytes_to_unicode

    printable = bytes_to_unicode()  # tokenizers' byte-level vocabularies are written so

    def token(i: int) -> str:
        return "".join(printable[b] for b in tokenizer.vocab[i])

    vocab = {token(i): i for i in range(256 + len(tokenizer.merges))}
    if len(vocab) != 256 + len(tokenizer.merges):
        raise ValueError(
            f"two of the tokenizer's {256 + len(tokenizer.merges)} tokens have the same bytes: "
            "Hugging Face's BPE needs one id per byte string"
        )
    merges = [(token(a), token(b)) for a, b in tokenizer.merges]
    vocab.update(tokenizer.special_tokens)
    hf = tokenizers.Tokenizer(tokenizers.models.BPE(vocab=vocab, merges=merges))
    pre = tokenizers.pre_tokenizers
    byte_level = pre.ByteLevel(add_prefix_space=False, use_regex=False)
    if tokenizer.pattern is None:
        hf.pre_tokenizer = byte_level
    else:
        split = pre.Split(tokenizers.Regex(tokenizer.pattern), behavior="isolated")
        hf.pre_tokenizer = pre.Sequence([split, byte_level])
    hf.decoder = tokenizers.decoders.ByteLevel()
    specials = [tokenizers.AddedToken(s, special=True) for s in tokenizer.special_tokens]
    hf.add_special_tokens(specials)
    return hf, {"eos_token": next(iter(tokenizer.special_tokens), None)}


def to_hf_tokenizer(tokenizer: CharTokenizer | BPETokenizer) -> PreTrainedTokenizerFast:
    """The course's tokenizer as transformers' ``PreTrainedTokenizerFast``, with the same ids.

    A :class:`~gptcourse.char_tokenizer.CharTokenizer` becomes a BPE model without merges
    (every character one token), a :class:`~gptcourse.bpe.BPETokenizer` a byte-level BPE
    with its merges, its pre-tokenisation pattern and its special tokens (the first one is
    the end-of-text token, ``eos_token``).

    Raises:
        TypeError: ``tokenizer`` is neither of the course's tokenizers.
        ImportError: transformers or tokenizers is not installed.
    """
    tokenizers, transformers = _hf_libraries()
    if isinstance(tokenizer, CharTokenizer):
        hf, specials = _char_tokenizer(tokenizer, tokenizers)
    elif isinstance(tokenizer, BPETokenizer):
        hf, specials = _bpe_tokenizer(tokenizer, tokenizers)
    else:
        raise TypeError(
            f"tokenizer must be a CharTokenizer or a BPETokenizer, got {type(tokenizer).__name__}"
        )
    specials = {k: v for k, v in specials.items() if v is not None}
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=hf, clean_up_tokenization_spaces=False, **specials
    )


def with_biases(model: GPT) -> GPT:
    """``model`` itself if it has biases; otherwise a copy with zero biases, the same function.

    GPT-2 has a bias in every linear layer and layer norm. A GPT built with ``bias=False``
    (nanoGPT's choice, and the course's character-level runs') computes exactly what the
    same GPT with every bias zero computes, which GPT-2 can express.
    """
    if model.config.bias:
        return model
    copy = GPT(dataclasses.replace(model.config, bias=True))
    copy.to(model.token_embedding.weight.device, model.token_embedding.weight.dtype)
    missing, unexpected = copy.load_state_dict(model.state_dict(), strict=False)
    if unexpected or any(not name.endswith(".bias") for name in missing):
        raise ValueError(
            f"cannot add biases to this GPT: missing {missing}, unexpected {unexpected}"
        )
    with torch.no_grad():
        for name in missing:
            copy.get_parameter(name).zero_()
    return copy.train(model.training)


def save_pretrained(model: GPT, tokenizer: CharTokenizer | BPETokenizer, path: str | Path) -> Path:
    """Write ``model`` and ``tokenizer`` into the folder ``path``, in transformers' format.

    The folder holds ``config.json`` and ``model.safetensors`` (a ``GPT2LMHeadModel``),
    ``generation_config.json``, and ``tokenizer.json`` with ``tokenizer_config.json``:
    ``AutoModelForCausalLM.from_pretrained(path)`` and ``AutoTokenizer.from_pretrained(path)``
    load them, and greedy generation gives the same tokens as
    :func:`gptcourse.generation.generate` with ``temperature=0``.

    Args:
        model: the GPT (learned positions, pre-LN: what GPT-2 can express; a model
            without biases is saved with zero biases, see :func:`with_biases`).
        tokenizer: the tokenizer that made the model's token ids.
        path: the folder; created if missing, its files of the same names overwritten.

    Returns:
        The folder, as a :class:`~pathlib.Path`.

    Raises:
        TypeError: ``model`` is not a GPT, or ``tokenizer`` not one of the course's.
        ValueError: the tokenizer's ``vocab_size`` differs from the model's, or GPT-2
            cannot express the model (the message says why).
    """
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a gptcourse GPT, got {type(model).__name__}")
    hf_tokenizer = to_hf_tokenizer(tokenizer)
    if tokenizer.vocab_size != model.vocab_size:
        raise ValueError(
            f"the tokenizer has vocab_size={tokenizer.vocab_size} but the model "
            f"vocab_size={model.vocab_size}: save the tokenizer that the model was trained with"
        )
    eos = hf_tokenizer.eos_token_id
    hf_model = with_biases(model).to_transformers(bos_token_id=eos, eos_token_id=eos).eval()
    hf_model.generation_config.pad_token_id = eos
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    hf_model.save_pretrained(path)
    hf_tokenizer.save_pretrained(path)
    return path
