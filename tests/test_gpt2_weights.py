"""The GPT against transformers' GPT-2 on the same weights: logits both ways, greedy
generation token for token, saving and loading, and the errors of the conversion."""

from __future__ import annotations

import pytest
import torch

from gptcourse.generation import pad_prompts
from gptcourse.gpt2_weights import (
    WEIGHT_MAP,
    from_pretrained,
    from_transformers,
    gpt2_state_dict,
    load_gpt2_state_dict,
    to_transformers,
    weight_map,
)
from gptcourse.model import GPT, GPTConfig

pytestmark = pytest.mark.usefixtures("one_cpu_thread")

transformers = pytest.importorskip("transformers")

V, BLOCK = 97, 32


def _hf(seed: int = 0, implementation: str = "eager", **changes):
    config = transformers.GPT2Config(
        vocab_size=V,
        n_positions=BLOCK,
        n_embd=48,
        n_layer=3,
        n_head=4,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
        attn_implementation=implementation,
        **changes,
    )
    torch.manual_seed(seed)
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():  # random biases and norms too, so that every weight matters
        for name, p in model.named_parameters():
            if name.endswith("bias") or "ln_" in name:
                p.normal_(mean=1.0 if name.endswith("weight") else 0.0, std=0.1)
    return model


def _ours(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=V, block_size=BLOCK, n_layer=3, n_head=4, n_embd=48))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "ln" in name:
                p.normal_(mean=1.0 if name.endswith("weight") else 0.0, std=0.1)
    return model.eval()


def _ids(B: int = 3, T: int = 20, seed: int = 0) -> torch.Tensor:
    return torch.randint(V, (B, T), generator=torch.Generator().manual_seed(seed))


TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-12}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
def test_logits_equal_gpt2s_from_transformers(dtype, implementation):
    hf = _hf(implementation=implementation).to(dtype)
    ours = from_transformers(hf)
    assert ours.token_embedding.weight.dtype == dtype and not ours.training
    x = _ids()
    with torch.no_grad():
        largest = (ours(x)[0] - hf(x).logits).abs().max().item()
    assert largest < TOLERANCE[dtype]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_logits_equal_ours_converted_to_transformers(dtype):
    ours = _ours().to(dtype)
    hf = to_transformers(ours, attn_implementation="eager")
    assert isinstance(hf, transformers.GPT2LMHeadModel) and hf.dtype == dtype
    x = _ids(seed=1)
    with torch.no_grad():
        largest = (ours(x)[0] - hf(x).logits).abs().max().item()
    assert largest < TOLERANCE[dtype]


def test_the_loss_equals_transformers_loss():
    hf = _hf().double()
    ours = from_transformers(hf)
    x = _ids()
    # transformers shifts the labels itself (and computes the loss in float32); ours takes
    # the targets already shifted.
    their_loss = hf(x, labels=x).loss
    _, our_loss = ours(x[:, :-1], x[:, 1:])
    torch.testing.assert_close(our_loss.float(), their_loss, rtol=0, atol=1e-6)


def test_round_trip_keeps_every_weight():
    ours = _ours()
    back = from_transformers(to_transformers(ours))
    for (name, a), (_, b) in zip(ours.state_dict().items(), back.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_the_map_covers_every_weight_of_both_models():
    hf, ours = _hf(), _ours()
    rows = weight_map(3)
    assert len(rows) == 4 + 12 * 3
    assert {o for o, _, _ in rows} | {"lm_head.weight"} == set(ours.state_dict())
    hf_weights = {n for n in hf.state_dict() if not n.endswith((".attn.bias", "masked_bias"))}
    assert {t for _, t, _ in rows} | {"lm_head.weight"} == hf_weights
    transposed = {o.split(".")[-2] for o, _, t in WEIGHT_MAP if t}
    assert transposed == {"qkv_proj", "out_proj", "c_fc", "c_proj"}  # GPT-2's Conv1D layers


@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
def test_greedy_generation_equals_transformers_generate(implementation):
    hf = _hf(implementation=implementation)
    ours = from_transformers(hf)
    prompt = _ids(2, 5, seed=2)
    theirs = hf.generate(
        prompt,
        attention_mask=torch.ones_like(prompt),
        max_new_tokens=25,
        min_new_tokens=25,
        do_sample=False,
    )
    for use_cache in (True, False):
        mine = ours.generate(prompt, 25, temperature=0, use_cache=use_cache)
        assert torch.equal(mine, theirs)


def test_left_padded_greedy_generation_equals_transformers_generate():
    """Prompts of different lengths in one batch: the same positions and masks as GPT-2's."""
    hf = _hf(seed=4)
    ours = from_transformers(hf)
    idx, mask = pad_prompts([[1, 2, 3, 4, 5, 6], [7, 8], [9, 10, 11, 12]], pad_token_id=0)
    theirs = hf.generate(
        idx, attention_mask=mask.long(), max_new_tokens=15, min_new_tokens=15, do_sample=False
    )
    assert torch.equal(ours.generate(idx, 15, temperature=0, attention_mask=mask), theirs)


def test_save_pretrained_then_from_pretrained(tmp_path):
    hf = _hf(seed=3)
    hf.save_pretrained(tmp_path / "gpt2-small-random")
    ours = from_pretrained(str(tmp_path / "gpt2-small-random"))
    assert ours.config.n_layer == 3 and ours.config.block_size == BLOCK
    x = _ids()
    with torch.no_grad():
        assert (ours(x)[0] - hf(x).logits).abs().max() < 1e-5
    same = GPT.from_pretrained(str(tmp_path / "gpt2-small-random"))
    assert torch.equal(same(x)[0], ours(x)[0])


def test_from_pretrained_offline_fails_clearly():
    with pytest.raises(OSError, match=r"could not load the GPT-2 weights 'gpt2'.*internet"):
        from_pretrained("gpt2", local_files_only=True)


def test_methods_on_the_model_are_the_functions():
    hf = _hf()
    ours = GPT.from_transformers(hf)
    x = _ids()
    assert torch.equal(ours.to_transformers()(x).logits, to_transformers(ours)(x).logits)


# --- errors that name the weight and the shapes --------------------------------------------


def test_a_weight_of_the_wrong_shape_is_named_with_both_shapes():
    state = gpt2_state_dict(_ours())
    state["transformer.h.1.attn.c_attn.weight"] = torch.zeros(48, 100)
    with pytest.raises(
        ValueError,
        match=r"transformer\.h\.1\.attn\.c_attn\.weight has shape \(48, 100\), but "
        r"blocks\.1\.attn\.qkv_proj\.weight needs \(48, 144\) \(a Conv1D weight",
    ):
        load_gpt2_state_dict(_ours(), state)
    state = gpt2_state_dict(_ours())
    state["transformer.wpe.weight"] = torch.zeros(64, 48)
    with pytest.raises(ValueError, match=r"wpe\.weight has shape \(64, 48\), but .* \(32, 48\)"):
        load_gpt2_state_dict(_ours(), state)


def test_missing_weights_are_listed():
    state = gpt2_state_dict(_ours())
    del state["transformer.h.2.mlp.c_fc.bias"]
    with pytest.raises(KeyError, match=r"lacks 1 weights: transformer\.h\.2\.mlp\.c_fc\.bias"):
        load_gpt2_state_dict(_ours(), state)


def test_configurations_gpt2_cannot_express_are_refused():
    for changes, message in [
        (dict(bias=False), "bias=False"),
        (dict(norm_first=False), "norm_first=False"),
        (dict(positions="rotary"), "positions='rotary'"),
    ]:
        model = GPT(GPTConfig.from_preset("gpt-nano", vocab_size=V, block_size=BLOCK, **changes))
        with pytest.raises(ValueError, match=f"GPT-2 cannot express this GPT: {message}"):
            to_transformers(model)
    with pytest.raises(ValueError, match=r"n_inner=100 \(the GPT's MLP is 4 \* n_embd = 192\)"):
        from_transformers(_hf(n_inner=100))
    with pytest.raises(ValueError, match="activation_function='relu'"):
        from_transformers(_hf(activation_function="relu"))
