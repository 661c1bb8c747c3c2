"""The GPT: configuration, presets, parameter and FLOP counts, initialisation, the forward
contract, dropout sites, layer-norm placement and errors.

Equality with transformers' GPT-2 is in test_gpt2_weights.py, generation in
test_generation.py.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from gptcourse.model import GPT, PRESETS, GPTConfig, count_parameters, flops_per_token

pytestmark = pytest.mark.usefixtures("one_cpu_thread")

F64 = torch.float64


def _config(**changes) -> GPTConfig:
    return GPTConfig.from_preset("gpt-nano", **{"vocab_size": 50, "block_size": 16, **changes})


def _model(seed: int = 0, **changes) -> GPT:
    torch.manual_seed(seed)
    return GPT(_config(**changes)).double().eval()


def _ids(B: int, T: int, V: int = 50, seed: int = 0) -> torch.Tensor:
    return torch.randint(V, (B, T), generator=torch.Generator().manual_seed(seed))


# --- configuration and presets -------------------------------------------------------------


def test_presets_have_the_published_sizes():
    sizes = {name: count_parameters(GPTConfig.from_preset(name)) for name in PRESETS}
    assert sizes["gpt2"] == 124_439_808
    assert sizes["gpt2-medium"] == 354_823_168
    assert sizes["gpt2-large"] == 774_030_080
    assert sizes["gpt2-xl"] == 1_557_611_200
    assert GPTConfig() == GPTConfig.from_preset("gpt2")


@pytest.mark.parametrize("name", list(PRESETS))
@pytest.mark.parametrize("bias", [True, False])
def test_parameter_count_formula_equals_the_model_for_every_preset(name, bias):
    config = GPTConfig.from_preset(name, bias=bias)
    with torch.device("meta"):  # shapes only: GPT-2 XL in no time and no memory
        model = GPT(config)
    assert model.num_params() == count_parameters(config)
    assert model.num_params(embeddings=False) == count_parameters(config, embeddings=False)


@pytest.mark.parametrize(
    "changes", [dict(positions="rotary"), dict(norm_first=False), dict(bias=False)]
)
def test_parameter_count_formula_follows_the_options(changes):
    config = _config(**changes)
    assert GPT(config).num_params() == count_parameters(config)
    assert GPT(config).num_params(embeddings=False) == count_parameters(config, embeddings=False)


def test_on_the_meta_device_the_initialisation_draws_nothing(monkeypatch):
    """Shapes only: GPT's own init is skipped on meta (a GPT-3 is counted in no time)."""
    drawn = []
    normal = torch.nn.init.normal_

    def spy(*args, **kwargs):
        if kwargs.get("std", 1.0) != 1.0:  # GPT.reset_parameters' (nn.Embedding's: std 1)
            drawn.append((args[0] if args else kwargs["tensor"]).device.type)
        return normal(*args, **kwargs)

    monkeypatch.setattr(torch.nn.init, "normal_", spy)
    with torch.device("meta"):
        model = GPT(_config())
    assert drawn == [] and model.num_params() == count_parameters(_config())
    GPT(_config())
    assert drawn and set(drawn) == {"cpu"}


def test_unknown_preset_suggests_the_closest_and_lists_them_all():
    with pytest.raises(
        ValueError, match=r"'gpt2-medum'; did you mean 'gpt2-medium'\? Known presets: "
    ):
        GPTConfig.from_preset("gpt2-medum")
    with pytest.raises(ValueError, match=r"unknown preset 'llama'\. Known .*gpt-nano.*gpt2-xl"):
        GPTConfig.from_preset("llama")
    with pytest.raises(TypeError, match="GPTConfig has no field 'n_heads'"):
        GPTConfig.from_preset("gpt2", n_heads=4)


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        (dict(n_embd=50, n_head=3), ValueError, r"n_embd=50 is not divisible by n_head=3"),
        (dict(n_layer=0), ValueError, r"n_layer must be a positive integer, got 0"),
        (dict(block_size=64.0), TypeError, r"block_size must be an integer, got float 64.0"),
        (dict(vocab_size="50"), TypeError, r"vocab_size must be an integer, got str '50'"),
        (dict(dropout=1.0), ValueError, r"dropout must be in \[0, 1\), got 1.0"),
        (dict(dropout="0.1"), TypeError, r"dropout must be a float, got str"),
        (dict(positions="sinusoidal"), ValueError, r"positions must be one of .*'sinusoidal'"),
        (
            dict(n_embd=30, n_head=2, positions="rotary"),
            ValueError,
            r"30 / 2 = 15 wide \(odd\)",
        ),
        (dict(layer_norm_eps=0.0), ValueError, "layer_norm_eps must be positive"),
    ],
)
def test_bad_configurations_are_refused_with_the_values(changes, error, message):
    with pytest.raises(error, match=message):
        GPTConfig(**changes)


# --- FLOPs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("changes", [dict(), dict(bias=False, n_layer=2, n_embd=64, n_head=4)])
def test_flops_per_token_equal_pytorchs_flop_counter(changes):
    config = _config(**changes)
    model = GPT(config)
    B, T = 2, 12
    x, y = _ids(B, T), _ids(B, T, seed=1)
    # The math backend runs attention as matrix products, which the counter sees.
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as forward:
        model(x)
    assert forward.get_total_flops() == B * T * flops_per_token(config, T, training=False)
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as step:
        model(x, y)[1].backward()
    assert step.get_total_flops() == B * T * flops_per_token(config, T)


def test_flops_per_token_are_about_six_n_for_gpt2():
    config = GPTConfig.from_preset("gpt2")
    N = count_parameters(config, embeddings=False) + config.vocab_size * config.n_embd
    ratio = flops_per_token(config) / (6 * N)
    assert 1.0 < ratio < 1.2  # the attention term adds about 15% at T = 1024


# --- initialisation and weight tying -------------------------------------------------------


def test_initialisation_is_gpt2s():
    torch.manual_seed(0)
    config = GPTConfig.from_preset("gpt-micro", n_layer=8)
    model = GPT(config)
    std = lambda t: t.detach().std().item()  # noqa: E731
    assert math.isclose(std(model.token_embedding.weight), 0.02, rel_tol=0.02)
    assert math.isclose(std(model.position_embedding.weight), 0.02, rel_tol=0.05)
    residual = 0.02 / math.sqrt(2 * 8)
    for block in model.blocks:
        assert math.isclose(std(block.attn.qkv_proj.weight), 0.02, rel_tol=0.05)
        assert math.isclose(std(block.mlp.c_fc.weight), 0.02, rel_tol=0.05)
        assert math.isclose(std(block.attn.out_proj.weight), residual, rel_tol=0.05)
        assert math.isclose(std(block.mlp.c_proj.weight), residual, rel_tol=0.05)
        assert torch.all(block.attn.qkv_proj.bias == 0) and torch.all(block.ln_1.weight == 1)


def test_the_output_layer_is_the_token_embedding():
    model = _model()
    assert model.lm_head.weight is model.token_embedding.weight
    x = _ids(1, 5)
    model(x)[0].sum().backward()
    assert model.token_embedding.weight.grad is not None  # gradients from both uses


def test_an_untrained_model_predicts_about_uniformly():
    torch.manual_seed(0)
    model = GPT(GPTConfig.from_preset("gpt-micro", vocab_size=500, block_size=32))
    _, loss = model(_ids(4, 32, V=500), _ids(4, 32, V=500, seed=1))
    assert abs(loss.item() - math.log(500)) < 0.1


# --- forward -------------------------------------------------------------------------------


def test_forward_is_the_embeddings_blocks_final_norm_and_tied_head():
    model = _model()
    x = _ids(2, 7)
    h = model.token_embedding(x) + model.position_embedding(torch.arange(7))
    for block in model.blocks:
        h = h + block.attn(block.ln_1(h))
        h = h + block.mlp(block.ln_2(h))
    expected = model.ln_f(h) @ model.token_embedding.weight.T
    logits, loss = model(x)
    assert loss is None
    torch.testing.assert_close(logits, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("positions", ["learned", "rotary"])
def test_hidden_states_are_forward_before_the_head_with_any_padding(positions):
    """lm_head(hidden_states) is forward's logits, and padding on either side changes
    neither a text's hidden states nor which positions they are computed at."""
    model = _model(positions=positions)
    x = _ids(2, 7)
    h = model.hidden_states(x)  # (B, T, C)
    assert h.shape == (2, 7, model.config.n_embd)
    assert torch.equal(model.lm_head(h), model(x)[0])
    pad = torch.zeros(2, 3, dtype=torch.long)
    ones, zeros = torch.ones_like(x), torch.zeros_like(pad)
    right = model.hidden_states(torch.cat([x, pad], 1), attention_mask=torch.cat([ones, zeros], 1))
    left = model.hidden_states(torch.cat([pad, x], 1), attention_mask=torch.cat([zeros, ones], 1))
    torch.testing.assert_close(right[:, :7], h, **_TIGHT)
    torch.testing.assert_close(left[:, 3:], h, **_TIGHT)
    with pytest.raises(ValueError, match="block_size=16"):
        model.hidden_states(_ids(1, 17))


def test_post_norm_blocks_normalise_after_each_residual_addition():
    model = _model(norm_first=False)
    assert isinstance(model.ln_f, torch.nn.Identity)
    x = _ids(2, 7)
    h = model.token_embedding(x) + model.position_embedding(torch.arange(7))
    for block in model.blocks:
        h = block.ln_1(h + block.attn(h))
        h = block.ln_2(h + block.mlp(h))
    torch.testing.assert_close(model(x)[0], h @ model.lm_head.weight.T, rtol=0, atol=1e-12)


def test_the_mlp_uses_gpt2s_tanh_gelu():
    model = _model()
    mlp = model.blocks[0].mlp
    x = torch.randn(3, 16 * 3, dtype=F64)
    h = mlp.c_fc(x)
    gelu = 0.5 * h * (1 + torch.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h**3)))
    torch.testing.assert_close(mlp(x), mlp.c_proj(gelu), rtol=0, atol=1e-12)


def test_loss_is_the_cross_entropy_and_skips_minus_100():
    model = _model()
    x, y = _ids(2, 9), _ids(2, 9, seed=1)
    logits, loss = model(x, y)
    torch.testing.assert_close(loss, F.cross_entropy(logits.reshape(-1, 50), y.reshape(-1)))
    ignored = y.clone()
    ignored[0, :4] = -100
    keep = ignored != -100
    _, partial = model(x, ignored)
    torch.testing.assert_close(partial, F.cross_entropy(logits[keep], y[keep]))


def test_causality_the_future_does_not_change_the_past():
    model = _model()
    x = _ids(2, 12)
    changed = x.clone()
    changed[:, 8:] = (changed[:, 8:] + 1) % 50
    a, b = model(x)[0], model(changed)[0]
    assert torch.equal(a[:, :8], b[:, :8]) and not torch.allclose(a[:, 8:], b[:, 8:])


@pytest.mark.parametrize("positions", ["learned", "rotary"])
def test_left_padding_with_an_attention_mask_changes_nothing(positions):
    """A left-padded prompt gives the logits of the same prompt alone."""
    model = _model(positions=positions)
    prompt = _ids(1, 6)
    padded = torch.cat([torch.zeros(1, 3, dtype=torch.long), prompt], dim=1)
    mask = torch.tensor([[0, 0, 0, 1, 1, 1, 1, 1, 1]])
    alone = model(prompt)[0]
    torch.testing.assert_close(model(padded, attention_mask=mask)[0][:, 3:], alone, **_TIGHT)


_TIGHT = {"rtol": 0.0, "atol": 1e-12}


@pytest.mark.parametrize("positions", ["learned", "rotary"])
def test_forward_in_pieces_through_the_cache_equals_one_pass(positions):
    model = _model(positions=positions)
    x = _ids(2, 11)
    cache = model.new_cache(2)
    pieces = [model(x[:, :5], cache=cache)[0]]
    pieces += [model(x[:, t : t + 1], cache=cache)[0] for t in range(5, 9)]
    pieces.append(model(x[:, 9:], cache=cache)[0])
    assert cache[0].length == 11 and len(cache) == model.config.n_layer
    torch.testing.assert_close(torch.cat(pieces, dim=1), model(x)[0], **_TIGHT)
    last, _ = model(x, last_only=True)
    torch.testing.assert_close(last, model(x)[0][:, -1:], **_TIGHT)


def test_forward_reads_no_values_off_the_cpu():
    """On the meta device (no values), forward runs with a cache, a mask and targets."""
    with torch.device("meta"):
        model = GPT(_config())
        x = torch.randint(50, (2, 5))
        cache = model.new_cache(2)
        logits, loss = model(x, x, attention_mask=torch.ones(2, 5, dtype=torch.bool))
        model(x, cache=cache)
        model(x[:, :1], cache=cache, attention_mask=torch.ones(2, 6, dtype=torch.bool))
    assert logits.shape == (2, 5, 50) and loss.shape == () and cache[0].length == 6


# --- dropout: every site on its own --------------------------------------------------------


def _capture(module, x_of_call):
    """The input (or output) of a submodule during one forward call."""
    seen = {}
    handle = module.register_forward_hook(lambda m, args, out: seen.update(x=args[0], y=out))
    try:
        x_of_call()
    finally:
        handle.remove()
    return seen


def _only(model: GPT, site: str) -> GPT:
    """Switch every dropout site off but ``site``."""
    if site != "embedding":
        model.dropout.p = 0.0
    for block in model.blocks:
        if site != "attention weights":
            block.attn.attn_dropout = 0.0
        if site != "attention output":
            block.attn.out_dropout.p = 0.0
        if site != "mlp output":
            block.mlp.dropout.p = 0.0
    return model


def test_dropout_after_the_embeddings():
    torch.manual_seed(0)
    model = _only(GPT(_config(dropout=0.5)), "embedding").train()
    x = _ids(8, 16)
    seen = _capture(model.blocks[0], lambda: model(x))
    embedded = model.token_embedding(x) + model.position_embedding(torch.arange(16))
    zeroed = seen["x"] == 0
    assert 0.45 < zeroed.float().mean() < 0.55
    torch.testing.assert_close(seen["x"][~zeroed], 2 * embedded[~zeroed])


def test_dropout_on_the_mlp_output():
    torch.manual_seed(0)
    model = _only(GPT(_config(dropout=0.5)), "mlp output").train()
    x = _ids(8, 16)
    seen = _capture(model.blocks[1].mlp, lambda: model(x))
    zeroed = seen["y"] == 0
    assert 0.45 < zeroed.float().mean() < 0.55
    expected = model.blocks[1].mlp.eval()(seen["x"])
    torch.testing.assert_close(seen["y"][~zeroed], 2 * expected[~zeroed])


@pytest.mark.parametrize("site", ["attention weights", "attention output"])
def test_the_attention_dropout_sites_act_in_the_model(site):
    torch.manual_seed(0)
    model = _only(GPT(_config(dropout=0.5)), site).train()
    x = _ids(4, 16)
    assert not torch.equal(model(x)[0], model(x)[0])
    model.eval()
    assert torch.equal(model(x)[0], model(x)[0])


def test_no_dropout_in_eval_mode_or_with_dropout_zero():
    model = GPT(_config(dropout=0.0)).train()
    x = _ids(2, 8)
    assert torch.equal(model(x)[0], model(x)[0])


# --- errors that name the values -----------------------------------------------------------


def test_a_prompt_longer_than_block_size_is_refused_with_both_numbers():
    model = _model()
    with pytest.raises(ValueError, match=r"17 tokens is longer than .* block_size=16.*\[:, -16:\]"):
        model(_ids(1, 17))
    cache = model.new_cache(1)
    model(_ids(1, 10), cache=cache)
    with pytest.raises(ValueError, match=r"cache holds 10 positions and idx adds 7: .* 17 tokens"):
        model(_ids(1, 7), cache=cache)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda m: m(torch.tensor([1, 2])), ValueError, r"idx must be 2-D, got shape \(2,\)"),
        (lambda m: m(torch.tensor([[1, 50]])), ValueError, r"token id 50, outside .* 0 \.\. 49"),
        (lambda m: m([[1, 2]]), TypeError, r"idx must be a torch.Tensor of token ids, got list"),
        (lambda m: m(torch.ones(1, 3)), ValueError, "integer token ids, got dtype torch.float32"),
        (
            lambda m: m(torch.ones(1, 3, dtype=torch.long), torch.ones(1, 4, dtype=torch.long)),
            ValueError,
            r"targets must have the shape of idx, \(1, 3\), got \(1, 4\)",
        ),
        (
            lambda m: m(torch.ones(1, 3, dtype=torch.long), attention_mask=torch.ones(1, 4)),
            ValueError,
            r"attention_mask must have shape \(B, cached \+ T\) = \(1, 3\).*got \(1, 4\)",
        ),
        (
            lambda m: m(torch.ones(1, 3, dtype=torch.long), position_ids=torch.tensor([0, 1])),
            ValueError,
            r"position_ids must have shape \(B, T\) = \(1, 3\) or \(T,\), got \(2,\)",
        ),
        (
            lambda m: m(torch.ones(1, 3, dtype=torch.long), position_ids=torch.tensor([0, 1, 16])),
            ValueError,
            r"position_ids must lie in 0 \.\. 15 \(block_size=16\), got up to 16",
        ),
        (
            lambda m: m(torch.ones(1, 3, dtype=torch.long), cache=[]),
            ValueError,
            r"cache must be a list of 3 KVCache .* got 0",
        ),
        (
            lambda m: m(
                torch.ones(1, 3, dtype=torch.long),
                torch.ones(1, 3, dtype=torch.long),
                last_only=True,
            ),
            ValueError,
            "last_only=True computes no loss",
        ),
        (lambda m: GPT({"n_layer": 2}), TypeError, "GPT needs a GPTConfig, got dict"),
    ],
)
def test_bad_input_raises_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(_model())
