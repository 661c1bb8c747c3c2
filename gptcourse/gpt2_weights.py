"""The course's GPT and transformers' GPT-2: one table of which weight is which.

Hugging Face's ``GPT2LMHeadModel`` and :class:`~gptcourse.model.GPT` compute the same
function with the same weights under other names. One difference is not a name: GPT-2
was written with a ``Conv1D`` layer that stores its weight as ``(in, out)``, the
transpose of ``nn.Linear``'s ``(out, in)``; those four weights per block are transposed
on the way across. :data:`WEIGHT_MAP` lists every pair, and every function here reads
it, in either direction.

transformers is an optional dependency of the package (``pip install transformers``);
it is imported when one of these functions is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from gptcourse.model import GPT, GPTConfig

if TYPE_CHECKING:
    from transformers import GPT2Config, GPT2LMHeadModel

__all__ = [
    "WEIGHT_MAP",
    "weight_map",
    "config_from_transformers",
    "config_to_transformers",
    "load_gpt2_state_dict",
    "gpt2_state_dict",
    "from_transformers",
    "to_transformers",
    "from_pretrained",
]

#: ``(ours, transformers', transposed)``: ``{i}`` stands for the block's index, and
#: ``transposed`` marks GPT-2's ``Conv1D`` weights, stored as ``(in, out)``.
WEIGHT_MAP: list[tuple[str, str, bool]] = [
    ("token_embedding.weight", "transformer.wte.weight", False),  # (V, C); lm_head is tied
    ("position_embedding.weight", "transformer.wpe.weight", False),  # (block_size, C)
    ("blocks.{i}.ln_1.weight", "transformer.h.{i}.ln_1.weight", False),
    ("blocks.{i}.ln_1.bias", "transformer.h.{i}.ln_1.bias", False),
    ("blocks.{i}.attn.qkv_proj.weight", "transformer.h.{i}.attn.c_attn.weight", True),
    ("blocks.{i}.attn.qkv_proj.bias", "transformer.h.{i}.attn.c_attn.bias", False),
    ("blocks.{i}.attn.out_proj.weight", "transformer.h.{i}.attn.c_proj.weight", True),
    ("blocks.{i}.attn.out_proj.bias", "transformer.h.{i}.attn.c_proj.bias", False),
    ("blocks.{i}.ln_2.weight", "transformer.h.{i}.ln_2.weight", False),
    ("blocks.{i}.ln_2.bias", "transformer.h.{i}.ln_2.bias", False),
    ("blocks.{i}.mlp.c_fc.weight", "transformer.h.{i}.mlp.c_fc.weight", True),
    ("blocks.{i}.mlp.c_fc.bias", "transformer.h.{i}.mlp.c_fc.bias", False),
    ("blocks.{i}.mlp.c_proj.weight", "transformer.h.{i}.mlp.c_proj.weight", True),
    ("blocks.{i}.mlp.c_proj.bias", "transformer.h.{i}.mlp.c_proj.bias", False),
    ("ln_f.weight", "transformer.ln_f.weight", False),
    ("ln_f.bias", "transformer.ln_f.bias", False),
]


def weight_map(n_layer: int) -> list[tuple[str, str, bool]]:
    """:data:`WEIGHT_MAP` with ``{i}`` expanded for ``n_layer`` blocks."""
    rows = []
    for ours, theirs, transposed in WEIGHT_MAP:
        layers = range(n_layer) if "{i}" in ours else [None]
        rows += [(ours.format(i=i), theirs.format(i=i), transposed) for i in layers]
    return rows


def _transformers():
    try:
        import transformers
    except ImportError as error:  # pragma: no cover - transformers is in the dev environment
        raise ImportError(
            "converting to or from GPT-2 needs Hugging Face transformers: pip install transformers"
        ) from error
    return transformers


def config_from_transformers(hf_config: GPT2Config) -> GPTConfig:
    """The :class:`GPTConfig` of a ``GPT2Config``; raises for what the GPT cannot express."""
    C = hf_config.n_embd
    problems = []
    if hf_config.n_inner not in (None, 4 * C):
        problems.append(f"n_inner={hf_config.n_inner} (the GPT's MLP is 4 * n_embd = {4 * C})")
    if hf_config.activation_function not in ("gelu_new", "gelu_pytorch_tanh"):
        problems.append(
            f"activation_function={hf_config.activation_function!r} (the GPT uses GELU with "
            "the tanh approximation, 'gelu_new')"
        )
    if not hf_config.scale_attn_weights or hf_config.scale_attn_by_inverse_layer_idx:
        problems.append("attention scores scaled otherwise than by 1 / sqrt(head_dim)")
    if getattr(hf_config, "add_cross_attention", False):
        problems.append("cross-attention")
    if problems:
        raise ValueError("this GPT-2 configuration differs from the GPT: " + "; ".join(problems))
    return GPTConfig(
        vocab_size=hf_config.vocab_size,
        block_size=hf_config.n_positions,
        n_layer=hf_config.n_layer,
        n_head=hf_config.n_head,
        n_embd=C,
        dropout=float(hf_config.resid_pdrop),
        bias=True,
        layer_norm_eps=float(hf_config.layer_norm_epsilon),
    )


def config_to_transformers(config: GPTConfig, **kwargs: Any) -> GPT2Config:
    """The ``GPT2Config`` of a :class:`GPTConfig` (``kwargs`` are passed on)."""
    problems = []
    if not config.bias:
        problems.append("bias=False (GPT-2 has biases)")
    if not config.norm_first:
        problems.append("norm_first=False (GPT-2 is pre-LN)")
    if config.positions != "learned":
        problems.append(f"positions={config.positions!r} (GPT-2 learns its positions)")
    if problems:
        raise ValueError("GPT-2 cannot express this GPT: " + "; ".join(problems))
    eos = 50256 if config.vocab_size == 50257 else None  # GPT-2's <|endoftext|>
    settings = dict(
        vocab_size=config.vocab_size,
        n_positions=config.block_size,
        n_embd=config.n_embd,
        n_layer=config.n_layer,
        n_head=config.n_head,
        n_inner=None,
        activation_function="gelu_new",
        resid_pdrop=config.dropout,
        embd_pdrop=config.dropout,
        attn_pdrop=config.dropout,
        layer_norm_epsilon=config.layer_norm_eps,
        bos_token_id=eos,
        eos_token_id=eos,
        tie_word_embeddings=True,
    )
    return _transformers().GPT2Config(**{**settings, **kwargs})


def load_gpt2_state_dict(model: GPT, state_dict: dict[str, torch.Tensor]) -> GPT:
    """Copy GPT-2's weights, under transformers' names, into ``model`` (in place).

    Raises:
        KeyError: a weight is missing; the message lists them.
        ValueError: a weight has the wrong shape; the message names it and both shapes.
    """
    ours = dict(model.named_parameters(remove_duplicate=False))
    rows = weight_map(model.config.n_layer)
    missing = [theirs for _, theirs, _ in rows if theirs not in state_dict]
    if missing:
        raise KeyError(f"GPT-2's state dict lacks {len(missing)} weights: {', '.join(missing)}")
    with torch.no_grad():
        for our_name, their_name, transposed in rows:
            target = ours[our_name]
            tensor = state_dict[their_name]
            expected = tuple(target.shape[::-1]) if transposed else tuple(target.shape)
            if tuple(tensor.shape) != expected:
                conv = " (a Conv1D weight, (in, out): the transpose of ours)" if transposed else ""
                raise ValueError(
                    f"{their_name} has shape {tuple(tensor.shape)}, but {our_name} needs "
                    f"{expected}{conv}"
                )
            target.copy_(tensor.t() if transposed else tensor)
    tied = state_dict.get("lm_head.weight")
    if tied is not None and not torch.equal(
        tied.to(ours["token_embedding.weight"]), ours["token_embedding.weight"]
    ):
        raise ValueError(
            "lm_head.weight differs from transformer.wte.weight: the GPT ties the output "
            "layer to the token embedding, and this model does not"
        )
    return model


def gpt2_state_dict(model: GPT) -> dict[str, torch.Tensor]:
    """``model``'s weights under transformers' GPT-2 names (Conv1D weights transposed)."""
    config_to_transformers(model.config)  # raises if GPT-2 cannot express the model
    ours = dict(model.named_parameters(remove_duplicate=False))
    state = {}
    for our_name, their_name, transposed in weight_map(model.config.n_layer):
        tensor = ours[our_name].detach()
        state[their_name] = tensor.t().contiguous() if transposed else tensor.clone()
    state["lm_head.weight"] = state["transformer.wte.weight"]  # tied
    return state


def from_transformers(hf_model: GPT2LMHeadModel) -> GPT:
    """A :class:`GPT` with the configuration and weights of a ``GPT2LMHeadModel``.

    It has the Hugging Face model's dtype and device, and its mode (training or eval).
    """
    config = config_from_transformers(hf_model.config)
    weight = hf_model.transformer.wte.weight
    with torch.device(weight.device):
        model = GPT(config).to(weight.dtype)
    load_gpt2_state_dict(model, hf_model.state_dict())
    return model.train(hf_model.training)


def to_transformers(model: GPT, **config_kwargs: Any) -> GPT2LMHeadModel:
    """transformers' ``GPT2LMHeadModel`` with ``model``'s configuration and weights.

    It has the model's dtype and device, and its mode; ``config_kwargs`` go to its
    ``GPT2Config`` (e.g. ``attn_implementation="eager"``).
    """
    hf_config = config_to_transformers(model.config, **config_kwargs)
    weight = model.token_embedding.weight
    hf_model = _transformers().GPT2LMHeadModel(hf_config).to(weight.device, weight.dtype)
    state = gpt2_state_dict(model)
    theirs = dict(hf_model.named_parameters(remove_duplicate=False))
    with torch.no_grad():
        for name, tensor in state.items():
            theirs[name].copy_(tensor)
    return hf_model.train(model.training)


def from_pretrained(name_or_path: str = "gpt2", **kwargs: Any) -> GPT:
    """GPT-2's trained weights as a :class:`GPT`, through transformers' ``from_pretrained``.

    Args:
        name_or_path: ``"gpt2"`` (124M), ``"gpt2-medium"``, ``"gpt2-large"``,
            ``"gpt2-xl"``, another GPT-2 on the Hugging Face Hub, or a local folder
            written by ``save_pretrained``.
        kwargs: passed to ``GPT2LMHeadModel.from_pretrained`` (e.g. ``local_files_only``).

    The first call downloads the weights (about 500 MB for "gpt2") into Hugging Face's
    cache; later calls, and local folders, need no network.

    Raises:
        OSError: the weights could not be loaded (offline, or no such model); the
            message says what to do.
    """
    transformers = _transformers()
    try:
        hf_model = transformers.GPT2LMHeadModel.from_pretrained(name_or_path, **kwargs)
    except OSError as error:
        raise OSError(
            f"could not load the GPT-2 weights {name_or_path!r}. They come from the Hugging "
            "Face Hub, which needs an internet connection the first time (later they are "
            "read from its cache). Offline, pass the path of a folder written by "
            f"save_pretrained. transformers said: {error}"
        ) from error
    return from_transformers(hf_model)
