"""The GPT: token and position embeddings, a stack of Transformer blocks, a language-model head.

The model of GPT-2 (Radford et al., 2019), in the style of nanoGPT: one idea per class,
shapes in comments, the sizes in one dataclass. Every language model of the course is
called the same way::

    logits, loss = model(idx, targets)   # (B, T, vocab_size), scalar (None without targets)

    >>> config = GPTConfig.from_preset("gpt-nano", vocab_size=65, block_size=32)
    >>> model = GPT(config)
    >>> idx = torch.randint(65, (2, 8))
    >>> logits, loss = model(idx, targets=idx)
    >>> tuple(logits.shape)
    (2, 8, 65)
    >>> model.num_params() == count_parameters(config)
    True

Training concerns (the optimizer, mixed precision, compilation) live elsewhere: this
module is the model only. Conversion to and from transformers' GPT-2 is in
:mod:`gptcourse.gpt2_weights`, generation in :mod:`gptcourse.generation`.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from gptcourse._validation import check_size, check_tensor, check_token_ids, values_are_checkable
from gptcourse.attention import KVCache, causal_mask
from gptcourse.positions import RotaryEmbedding
from gptcourse.transformer import Block

if TYPE_CHECKING:
    from transformers import GPT2LMHeadModel

__all__ = ["GPTConfig", "PRESETS", "GPT", "count_parameters", "flops_per_token"]

#: Named sizes, from toys that train on a CPU in seconds to the four GPT-2 models. The
#: small ones are minGPT's; vocab_size and block_size default to GPT-2's (50257, 1024):
#: override them for a character-level model, e.g. ``vocab_size=65, block_size=64``.
PRESETS: dict[str, dict[str, int]] = {
    "gpt-nano": dict(n_layer=3, n_head=3, n_embd=48),
    "gpt-micro": dict(n_layer=4, n_head=4, n_embd=128),
    "gpt-mini": dict(n_layer=6, n_head=6, n_embd=192),
    "gpt2": dict(n_layer=12, n_head=12, n_embd=768),  # 124M parameters
    "gpt2-medium": dict(n_layer=24, n_head=16, n_embd=1024),  # 355M
    "gpt2-large": dict(n_layer=36, n_head=20, n_embd=1280),  # 774M
    "gpt2-xl": dict(n_layer=48, n_head=25, n_embd=1600),  # 1558M
}

POSITIONS = ("learned", "rotary")


@dataclass
class GPTConfig:
    """The sizes and options of a :class:`GPT`; the defaults are GPT-2 small's.

    Attributes:
        vocab_size: the number of token ids, ``V`` (GPT-2: 50257).
        block_size: the context length, the most positions the model reads (GPT-2: 1024).
        n_layer: the number of Transformer blocks, ``L``.
        n_head: the attention heads per block, ``H``; must divide ``n_embd``.
        n_embd: the width of the residual stream, ``C``.
        dropout: dropout probability after the embeddings, on the attention weights and
            on the output of every attention and MLP (GPT-2 trained with 0.1).
        bias: biases in the linear layers and layer norms (GPT-2 has them).
        norm_first: pre-LN as GPT-2 (``True``); ``False`` is the original Transformer's
            post-LN, normalising after each residual addition (and no final layer norm).
        positions: ``"learned"``, a trained table added to the embeddings (GPT-2), or
            ``"rotary"``, RoPE inside every attention.
        layer_norm_eps: the ``eps`` of every layer norm (GPT-2: 1e-5).
    """

    vocab_size: int = 50257
    block_size: int = 1024
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True
    norm_first: bool = True
    positions: str = "learned"
    layer_norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            check_size(name, getattr(self, name))
        if self.n_embd % self.n_head:
            divisors = [h for h in range(1, self.n_embd + 1) if self.n_embd % h == 0]
            raise ValueError(
                f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}: each head "
                f"needs n_embd / n_head dimensions (try n_head in {divisors})"
            )
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)):
            raise TypeError(f"dropout must be a float, got {type(self.dropout).__name__}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.positions not in POSITIONS:
            raise ValueError(f"positions must be one of {POSITIONS}, got {self.positions!r}")
        if self.positions == "rotary" and self.head_dim % 2:
            raise ValueError(
                f"rotary positions turn pairs of dimensions, but the heads are "
                f"n_embd / n_head = {self.n_embd} / {self.n_head} = {self.head_dim} wide (odd)"
            )
        if not self.layer_norm_eps > 0:
            raise ValueError(f"layer_norm_eps must be positive, got {self.layer_norm_eps}")

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> GPTConfig:
        """The configuration of a named size (see :data:`PRESETS`), with ``overrides``.

        >>> GPTConfig.from_preset("gpt2").n_embd
        768
        >>> GPTConfig.from_preset("gpt-nano", vocab_size=65, block_size=64).block_size
        64
        """
        if name not in PRESETS:
            close = difflib.get_close_matches(str(name), PRESETS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else "."
            raise ValueError(f"unknown preset {name!r}{hint} Known presets: {', '.join(PRESETS)}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise TypeError(
                f"GPTConfig has no field {', '.join(map(repr, unknown))}; its fields are "
                f"{', '.join(sorted(known))}"
            )
        return cls(**{**PRESETS[name], **overrides})

    def replace(self, **changes: Any) -> GPTConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


def count_parameters(config: GPTConfig, *, embeddings: bool = True) -> int:
    """The number of parameters of ``GPT(config)``, by formula.

    Per block, with ``C = n_embd``: the attention's projections ``4C^2`` (+ ``4C``
    biases), the MLP's ``8C^2`` (+ ``5C``) and two layer norms ``2C`` (+ ``2C``), in
    all ``12 C^2 + 13 C`` with biases. Then the final layer norm, the token embedding
    ``V C`` (shared with the output layer: weight tying) and, for learned positions, the
    position table ``block_size * C``. ``embeddings=False`` leaves out the two tables
    (the "non-embedding" count of the scaling laws).

    >>> count_parameters(GPTConfig.from_preset("gpt2"))
    124439808
    """
    C, L = config.n_embd, config.n_layer
    per_block = 12 * C * C + (13 * C if config.bias else 2 * C)
    final_norm = (2 * C if config.bias else C) if config.norm_first else 0
    total = L * per_block + final_norm
    if embeddings:
        total += config.vocab_size * C
        if config.positions == "learned":
            total += config.block_size * C
    return total


def flops_per_token(config: GPTConfig, seq_len: int | None = None, *, training: bool = True) -> int:
    """Floating-point operations per token (a multiply and an add count 2).

    The forward pass multiplies every token by every weight matrix once: ``2 N`` with
    ``N = 12 L C^2 + V C`` the weights of the blocks' linear layers and of the output
    layer. Attention adds, per layer, ``2 T C`` for the scores and ``2 T C`` for the
    weighted sum of the values, with ``T = seq_len`` (``block_size`` by default; the full
    ``T x T`` product, as PyTorch's FLOP counter counts it, although a fused causal kernel
    skips about half). Training adds the backward pass, twice the forward: ``3 x``, the
    ``6 N + 12 L T C`` of the scaling-law papers. Biases, layer norms, the softmax and the
    embedding lookups are left out (they are not matrix products).

    >>> flops_per_token(GPTConfig.from_preset("gpt2"), training=False)  # 2N + 4LTC
    284812800
    """
    T = config.block_size if seq_len is None else check_size("seq_len", seq_len)
    C, L = config.n_embd, config.n_layer
    matmul_weights = 12 * L * C * C + config.vocab_size * C
    forward = 2 * matmul_weights + 4 * L * T * C
    return 3 * forward if training else forward


class GPT(nn.Module):
    """A GPT language model: ``(B, T)`` token ids -> ``(B, T, vocab_size)`` next-token logits.

    ``token_embedding`` (GPT-2's ``wte``) and ``position_embedding`` (``wpe``, for learned
    positions) are added, then pass through dropout, the ``blocks``, the final layer norm
    ``ln_f`` and the ``lm_head``, whose weight *is* the token embedding's (weight tying).

    Initialised as GPT-2: every weight normal with std 0.02, biases 0, and the two
    projections that write into the residual stream in each block (``attn.out_proj``
    and ``mlp.c_proj``) with std ``0.02 / sqrt(2 n_layer)``, so that the stream's
    variance does not grow with depth.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"GPT needs a GPTConfig, got {type(config).__name__}")
        self.config = config
        C = config.n_embd
        self.token_embedding = nn.Embedding(config.vocab_size, C)  # (V, C)
        self.position_embedding = (
            nn.Embedding(config.block_size, C) if config.positions == "learned" else None
        )
        rotary = (
            RotaryEmbedding(config.head_dim, config.block_size)
            if config.positions == "rotary"
            else None
        )
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            Block(
                C,
                config.n_head,
                dropout=config.dropout,
                bias=config.bias,
                norm_first=config.norm_first,
                rotary=rotary,  # one module, shared by every block
                layer_norm_eps=config.layer_norm_eps,
            )
            for _ in range(config.n_layer)
        )
        self.ln_f = (
            nn.LayerNorm(C, eps=config.layer_norm_eps, bias=config.bias)
            if config.norm_first
            else nn.Identity()  # post-LN blocks already end with a layer norm
        )
        self.lm_head = nn.Linear(C, config.vocab_size, bias=False)  # (C) -> (V)
        self.lm_head.weight = self.token_embedding.weight  # weight tying: one (V, C) matrix
        self.reset_parameters()

    @property
    def vocab_size(self) -> int:
        return self.config.vocab_size

    @property
    def block_size(self) -> int:
        return self.config.block_size

    def reset_parameters(self) -> None:
        """GPT-2's initialisation (see the class docstring).

        On the ``meta`` device, where a tensor has a shape and no values, there is nothing
        to draw, and nothing is (counting the parameters of a GPT-3 that way is instant).
        """
        if self.token_embedding.weight.is_meta:
            return
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
            if isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        residual_std = 0.02 / math.sqrt(2 * self.config.n_layer)
        for block in self.blocks:
            nn.init.normal_(block.attn.out_proj.weight, mean=0.0, std=residual_std)
            nn.init.normal_(block.mlp.c_proj.weight, mean=0.0, std=residual_std)

    def num_params(self, *, embeddings: bool = True) -> int:
        """The number of parameters (the tied embedding counted once).

        ``embeddings=False`` leaves out the token and position tables; it equals
        :func:`count_parameters` with the same argument.
        """
        total = sum(p.numel() for p in self.parameters())
        if not embeddings:
            total -= self.token_embedding.weight.numel()
            if self.position_embedding is not None:
                total -= self.position_embedding.weight.numel()
        return total

    def new_cache(
        self,
        batch_size: int,
        capacity: int | None = None,
        *,
        dtype: torch.dtype | None = None,
    ) -> list[KVCache]:
        """An empty key/value cache, one :class:`KVCache` per block, for ``capacity``
        positions (``block_size`` by default), on the model's device and in its dtype."""
        capacity = self.block_size if capacity is None else capacity
        weight = self.token_embedding.weight
        H, D = self.config.n_head, self.config.head_dim
        return [
            KVCache(batch_size, H, D, capacity, device=weight.device, dtype=dtype or weight.dtype)
            for _ in self.blocks
        ]

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        *,
        cache: list[KVCache] | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        last_only: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Next-token logits for every position, and the loss if ``targets`` are given.

        Args:
            idx: token ids, ``(B, T)``.
            targets: the next tokens, ``(B, T)``, with -100 at positions that do not count
                (as ``F.cross_entropy``'s ``ignore_index``), or ``None``.
            cache: from :meth:`new_cache`: the keys and values of the positions before
                ``idx`` are read from it, and those of ``idx`` appended to it.
            attention_mask: ``(B, P + T)``, 1 (or ``True``) for tokens and 0 for padding,
                over the ``P`` cached positions and ``idx``; padding is never attended to.
                For left-padded batches of prompts of different lengths.
            position_ids: the positions of ``idx``, ``(B, T)`` or ``(T,)``. By default
                ``P .. P + T - 1``, or, with an ``attention_mask``, the number of tokens
                before each one (so that padding does not move the positions).
            last_only: compute the logits of the last position only, ``(B, 1, V)`` (what
                generation needs; no loss).

        Returns:
            ``(logits, loss)``: logits ``(B, T, V)``; the loss, the mean cross-entropy in
            nats over the positions that count, or ``None`` without ``targets``.
        """
        config = self.config
        past, attention_mask, positions = self._check_inputs(
            idx, cache, attention_mask, position_ids
        )
        if last_only and targets is not None:
            raise ValueError("last_only=True computes no loss: pass targets=None")
        x = self._hidden(idx, past, cache, attention_mask, positions)  # (B, T, C)
        if last_only:
            x = x[:, -1:]  # (B, 1, C): generation needs the last position only
        logits = self.lm_head(x)  # (B, T, V)
        if targets is None:
            return logits, None
        check_token_ids("targets", targets, config.vocab_size, dims=(2,), ignore_index=-100)
        if targets.shape != idx.shape:
            raise ValueError(
                f"targets must have the shape of idx, {tuple(idx.shape)}, "
                f"got {tuple(targets.shape)}"
            )
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten().long(), ignore_index=-100)
        return logits, loss

    def hidden_states(
        self,
        idx: torch.Tensor,
        *,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The model's output before its language-model head: ``(B, T)`` -> ``(B, T, C)``.

        What :meth:`forward` computes up to and including the final layer norm, with the
        same ``attention_mask`` and ``position_ids``: a padding position is never attended
        to, and positions count the real tokens only, so that a text gets the same outputs
        with any amount of padding on either side. ``self.lm_head`` of the result is
        ``forward``'s logits. A classifier puts its own head on these
        (:class:`gptcourse.finetune.GPTClassifier`); sentence similarity averages them.
        """
        _, attention_mask, positions = self._check_inputs(idx, None, attention_mask, position_ids)
        return self._hidden(idx, 0, None, attention_mask, positions)

    def _check_inputs(
        self,
        idx: torch.Tensor,
        cache: list[KVCache] | None,
        attention_mask: torch.Tensor | None,
        position_ids: torch.Tensor | None,
    ) -> tuple[int, torch.Tensor | None, torch.Tensor]:
        """Check :meth:`forward`'s inputs: the cached length, the bool mask, the positions."""
        config = self.config
        check_token_ids("idx", idx, config.vocab_size, dims=(2,))
        B, T = idx.shape
        past = self._cached_length(cache)
        if past + T > config.block_size:
            where = f"the cache holds {past} positions and idx adds {T}: " if past else ""
            raise ValueError(
                f"{where}a sequence of {past + T} tokens is longer than the model's "
                f"block_size={config.block_size}; crop the input to its last "
                f"{config.block_size} tokens (idx[:, -{config.block_size}:])"
            )
        if attention_mask is not None:
            attention_mask = self._check_attention_mask(attention_mask, B, past + T)
        positions = self._positions(position_ids, attention_mask, B, T, past, idx.device)
        return past, attention_mask, positions

    def decode(
        self,
        idx: torch.Tensor,
        cache: list[KVCache],
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One step of generation: the next-token logits ``(B, V)`` after ``idx``.

        ``idx`` ``(B, T)`` continues the sequence whose keys and values ``cache`` holds
        (``T`` is the prompt's length at the first step, then 1), and its own are
        appended; ``attention_mask`` covers the cached positions and ``idx``. Unlike
        :meth:`forward`, nothing is checked: :func:`~gptcourse.generation.generate` checks
        the prompt once, and the tokens it feeds back come from the sampler.
        """
        past = cache[0].length
        mask = None if attention_mask is None else attention_mask.bool()
        positions = self._positions(None, mask, idx.shape[0], idx.shape[1], past, idx.device)
        x = self._hidden(idx, past, cache, mask, positions)  # (B, T, C)
        return self.lm_head(x[:, -1])  # (B, V)

    def _hidden(
        self,
        idx: torch.Tensor,
        past: int,
        cache: list[KVCache] | None,
        attention_mask: torch.Tensor | None,
        positions: torch.Tensor,
    ) -> torch.Tensor:
        """The model itself, on checked inputs: ``(B, T)`` ids -> ``(B, T, C)`` after ``ln_f``."""
        T = idx.shape[1]
        x = self.token_embedding(idx)  # (B, T, C)
        if self.position_embedding is not None:
            x = x + self.position_embedding(positions)  # (T, C) or (B, T, C) broadcasts
        x = self.dropout(x)
        mask = None if attention_mask is None else _padding_mask(attention_mask, T, past)
        for i, block in enumerate(self.blocks):
            layer_cache = None if cache is None else cache[i]
            x = block(x, mask, positions=positions, cache=layer_cache)  # (B, T, C)
        return self.ln_f(x)  # (B, T, C)

    def _cached_length(self, cache: list[KVCache] | None) -> int:
        if cache is None:
            return 0
        if not isinstance(cache, (list, tuple)) or len(cache) != len(self.blocks):
            got = len(cache) if isinstance(cache, (list, tuple)) else type(cache).__name__
            raise ValueError(
                f"cache must be a list of {len(self.blocks)} KVCache (one per block, from "
                f"model.new_cache), got {got}"
            )
        return cache[0].length

    def _check_attention_mask(self, mask: torch.Tensor, B: int, T_k: int) -> torch.Tensor:
        check_tensor("attention_mask", mask)
        if mask.shape != (B, T_k):
            raise ValueError(
                f"attention_mask must have shape (B, cached + T) = ({B}, {T_k}), one entry "
                f"per position, got {tuple(mask.shape)}"
            )
        return mask.bool()

    def _positions(
        self,
        position_ids: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        B: int,
        T: int,
        past: int,
        device: torch.device,
    ) -> torch.Tensor:
        """The positions of the T new tokens: (T,) or (B, T)."""
        if position_ids is None:
            if attention_mask is None:
                return torch.arange(past, past + T, device=device)  # (T,)
            # Count the tokens before each position, so that left padding moves nothing.
            counted = attention_mask.long().cumsum(dim=-1) - 1  # (B, P + T)
            return counted[:, past:].clamp(min=0)  # (B, T)
        check_tensor("position_ids", position_ids)
        if position_ids.shape not in ((B, T), (T,)):
            raise ValueError(
                f"position_ids must have shape (B, T) = ({B}, {T}) or (T,), got "
                f"{tuple(position_ids.shape)}"
            )
        if values_are_checkable(position_ids) and position_ids.numel():
            high = int(position_ids.max())
            if high >= self.block_size or int(position_ids.min()) < 0:
                raise ValueError(
                    f"position_ids must lie in 0 .. {self.block_size - 1} "
                    f"(block_size={self.block_size}), got up to {high}"
                )
        return position_ids

    def generate(self, idx: torch.Tensor, max_new_tokens: int, **kwargs: Any) -> torch.Tensor:
        """``(B, T)`` -> ``(B, T + new)``: see :func:`gptcourse.generation.generate`."""
        from gptcourse.generation import generate

        return generate(self, idx, max_new_tokens, **kwargs)

    # --- transformers' GPT-2 (the mapping is in gptcourse.gpt2_weights) --------------------

    @classmethod
    def from_transformers(cls, hf_model: GPT2LMHeadModel) -> GPT:
        """A GPT with the weights of transformers' ``GPT2LMHeadModel``."""
        from gptcourse.gpt2_weights import from_transformers

        return from_transformers(hf_model)

    @classmethod
    def from_pretrained(cls, name_or_path: str = "gpt2", **kwargs: Any) -> GPT:
        """GPT-2's trained weights ("gpt2", "gpt2-medium", ... or a local folder), through
        transformers (downloaded from the Hugging Face Hub on first use)."""
        from gptcourse.gpt2_weights import from_pretrained

        return from_pretrained(name_or_path, **kwargs)

    def to_transformers(self, **config_kwargs: Any) -> GPT2LMHeadModel:
        """transformers' ``GPT2LMHeadModel`` with this model's weights (``config_kwargs``
        go to its ``GPT2Config``, e.g. ``attn_implementation="eager"``)."""
        from gptcourse.gpt2_weights import to_transformers

        return to_transformers(self, **config_kwargs)


def _padding_mask(attention_mask: torch.Tensor, T: int, past: int) -> torch.Tensor:
    """The bool mask ``(B, 1, T, P + T)`` of what each new position may attend to.

    A token attends to the tokens at or before it (causal, aligned to the end) and never
    to padding. A padding position itself would have nothing to attend to; it attends to
    itself, so that no row of the mask is empty (its output is never used).
    """
    keys = attention_mask[:, None, None, :]  # (B, 1, 1, P + T)
    if T == 1:  # one new token, the last position: the causal mask allows every key
        return keys
    T_k = past + T
    causal = causal_mask(T, T_k, device=attention_mask.device)  # (T, P + T)
    itself = torch.zeros(T, T_k, dtype=torch.bool, device=attention_mask.device)
    itself[:, past:] = torch.eye(T, dtype=torch.bool, device=attention_mask.device)
    return (keys & causal) | itself  # (B, 1, T, P + T)
