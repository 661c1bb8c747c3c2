"""gptcourse.attention against PyTorch's and GPT-2's attention, its invariants and its errors.

Comparisons run in float64, where two correct implementations of the same formulas
differ by rounding only (~1e-15), so a tolerance of 1e-10 leaves no room for a bug.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from gptcourse.attention import (
    CausalSelfAttention,
    KVCache,
    MultiHeadAttention,
    causal_mask,
    scaled_dot_product_attention,
)
from gptcourse.positions import RotaryEmbedding

pytestmark = pytest.mark.usefixtures("one_cpu_thread")

TOL = {"rtol": 0.0, "atol": 1e-10}
F64 = torch.float64


def _qkv(*batch, T_q=5, T_k=5, d_k=8, d_v=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(*batch, T_q, d_k, generator=g, dtype=F64)
    k = torch.randn(*batch, T_k, d_k, generator=g, dtype=F64)
    v = torch.randn(*batch, T_k, d_v, generator=g, dtype=F64)
    return q, k, v


# --- causal_mask -------------------------------------------------------------------------


def test_causal_mask_is_the_lower_triangle():
    mask = causal_mask(4)
    assert mask.dtype == torch.bool and mask.shape == (4, 4)
    for i in range(4):
        for j in range(4):
            assert bool(mask[i, j]) == (j <= i)
    assert causal_mask(1).tolist() == [[True]]


def test_causal_mask_with_more_keys_is_aligned_to_the_end():
    """T_q new queries after T_k - T_q cached positions: the last T_q rows of the full mask."""
    for T_q, T_k in [(1, 1), (1, 6), (2, 6), (5, 6), (6, 6)]:
        assert torch.equal(causal_mask(T_q, T_k), causal_mask(T_k)[T_k - T_q :])
    assert causal_mask(1, 4).tolist() == [[True, True, True, True]]


@pytest.mark.parametrize("bad", [0, -3])
def test_causal_mask_rejects_bad_lengths(bad):
    with pytest.raises(ValueError, match="T_q must be a positive integer"):
        causal_mask(bad)


@pytest.mark.parametrize(("bad", "got"), [(2.0, "float 2.0"), (True, "bool True"), ("4", "str")])
def test_causal_mask_rejects_lengths_of_the_wrong_type(bad, got):
    with pytest.raises(TypeError, match=f"T_q must be an integer, got {got}"):
        causal_mask(bad)


def test_causal_mask_needs_no_more_queries_than_keys():
    with pytest.raises(ValueError, match="T_q=5 queries .* T_k=3 keys"):
        causal_mask(5, 3)


# --- scaled_dot_product_attention against PyTorch's --------------------------------------


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("batch", [(), (3,), (2, 4)])
def test_equals_pytorch_with_and_without_causal_mask(batch, causal):
    q, k, v = _qkv(*batch, T_q=7, T_k=7)
    out, weights = scaled_dot_product_attention(q, k, v, causal=causal)
    torch.testing.assert_close(
        out, F.scaled_dot_product_attention(q, k, v, is_causal=causal), **TOL
    )
    assert weights.shape == (*batch, 7, 7)


def test_equals_pytorch_with_an_arbitrary_broadcast_bool_mask():
    q, k, v = _qkv(2, 3, T_q=4, T_k=9)
    g = torch.Generator().manual_seed(1)
    mask = torch.rand(2, 1, 4, 9, generator=g) < 0.5  # broadcast over the heads
    mask[..., 0] = True
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), **TOL)
    assert torch.all(weights.masked_select(~mask.expand_as(weights)) == 0)


def test_mask_and_causal_combine():
    q, k, v = _qkv(2, T_q=6, T_k=6)
    mask = torch.ones(6, 6, dtype=torch.bool)
    mask[:, 1] = False  # nobody may look at position 1
    out, _ = scaled_dot_product_attention(q, k, v, mask=mask, causal=True)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask & causal_mask(6))
    torch.testing.assert_close(out, expected, **TOL)


def test_custom_scale_equals_pytorch():
    q, k, v = _qkv(2)
    out, _ = scaled_dot_product_attention(q, k, v, scale=0.3)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, scale=0.3), **TOL)


@settings(max_examples=25, deadline=None)
@given(
    B=st.integers(1, 3),
    T_q=st.integers(1, 9),
    T_k=st.integers(1, 9),
    d_k=st.integers(1, 16),
    d_v=st.integers(1, 16),
    seed=st.integers(0, 2**31 - 1),
)
def test_equals_pytorch_for_any_shapes(B, T_q, T_k, d_k, d_v, seed):
    q, k, v = _qkv(B, T_q=T_q, T_k=T_k, d_k=d_k, d_v=d_v, seed=seed)
    mask = torch.rand(B, T_q, T_k, generator=torch.Generator().manual_seed(seed)) < 0.7
    for m in (None, mask):
        out, weights = scaled_dot_product_attention(q, k, v, mask=m)
        torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=m), **TOL)
        assert out.shape == (B, T_q, d_v) and weights.shape == (B, T_q, T_k)


def test_weights_are_a_softmax_of_the_scaled_scores():
    q, k, v = _qkv(3)
    _, weights = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(weights, torch.softmax(q @ k.mT / 8**0.5, dim=-1), **TOL)


def test_weight_rows_sum_to_one_and_masked_weights_are_zero():
    q, k, v = _qkv(2, 3, T_q=8, T_k=8)
    _, weights = scaled_dot_product_attention(q, k, v, causal=True)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 8, dtype=F64), **TOL)
    assert torch.all(weights >= 0)
    assert torch.all(weights[..., ~causal_mask(8)] == 0)


def test_a_query_with_no_allowed_key_gets_zeros_like_pytorch():
    q, k, v = _qkv(2, T_q=3, T_k=4)
    mask = torch.ones(3, 4, dtype=torch.bool)
    mask[1] = False
    q.requires_grad_(True)
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    assert torch.all(weights[:, 1] == 0) and torch.all(out[:, 1] == 0)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), **TOL)
    out.sum().backward()
    assert torch.isfinite(q.grad).all()


def test_gradcheck():
    q, k, v = (t.requires_grad_(True) for t in _qkv(2, T_q=4, T_k=5, d_k=3, d_v=2))
    mask = torch.tensor([[1, 0, 1, 1, 0]], dtype=torch.bool).expand(4, 5)
    assert torch.autograd.gradcheck(
        lambda q, k, v: scaled_dot_product_attention(q, k, v), (q, k, v)
    )
    assert torch.autograd.gradcheck(
        lambda q, k, v: scaled_dot_product_attention(q, k, v, mask=mask), (q, k, v)
    )
    q, k, v = (t.detach().requires_grad_(True) for t in _qkv(T_q=4, T_k=4, d_k=3, d_v=2))
    assert torch.autograd.gradcheck(
        lambda q, k, v: scaled_dot_product_attention(q, k, v, causal=True), (q, k, v)
    )


# --- invariants --------------------------------------------------------------------------


def test_causality_future_tokens_do_not_change_earlier_outputs():
    torch.manual_seed(0)
    attn = CausalSelfAttention(n_embd=16, n_head=4).double()
    x = torch.randn(2, 10, 16, dtype=F64)
    changed = x.clone()
    changed[:, 6:] = torch.randn(2, 4, 16, dtype=F64)
    before, after = attn(x), attn(changed)
    assert torch.equal(before[:, :6], after[:, :6])
    assert not torch.allclose(before[:, 6:], after[:, 6:])
    before, after = attn.attention_weights(x), attn.attention_weights(changed)  # (B, H, T, T)
    assert torch.equal(before[:, :, :6], after[:, :, :6])
    assert not torch.allclose(before[:, :, 6:], after[:, :, 6:])


def test_causality_by_the_jacobian():
    """Output t depends on input s only when s <= t."""
    torch.manual_seed(1)
    attn = CausalSelfAttention(n_embd=8, n_head=2).double()
    x = torch.randn(1, 6, 8, dtype=F64)
    jac = torch.autograd.functional.jacobian(lambda x: attn(x), x)  # (1, 6, 8, 1, 6, 8)
    depends = jac[0, :, :, 0].abs().sum(dim=(1, 3)) > 0  # (T_out, T_in)
    assert torch.equal(depends, causal_mask(6))


def test_non_causal_attention_is_permutation_equivariant():
    torch.manual_seed(2)
    attn = MultiHeadAttention(n_embd=12, n_head=3).double()
    x = torch.randn(2, 7, 12, dtype=F64)
    perm = torch.randperm(7)
    torch.testing.assert_close(attn(x[:, perm]), attn(x)[:, perm], **TOL)
    q, k, v = _qkv(2, T_q=7, T_k=7)
    torch.testing.assert_close(
        scaled_dot_product_attention(q[:, perm], k[:, perm], v[:, perm])[0],
        scaled_dot_product_attention(q, k, v)[0][:, perm],
        **TOL,
    )


def test_causal_attention_is_not_permutation_equivariant():
    torch.manual_seed(3)
    attn = CausalSelfAttention(n_embd=12, n_head=3).double()
    x = torch.randn(1, 7, 12, dtype=F64)
    perm = torch.tensor([6, 5, 4, 3, 2, 1, 0])
    assert not torch.allclose(attn(x[:, perm]), attn(x)[:, perm])


# --- MultiHeadAttention ------------------------------------------------------------------


def _mha(n_embd=16, n_head=4, causal=False, bias=True, seed=0):
    torch.manual_seed(seed)
    return MultiHeadAttention(n_embd, n_head, causal=causal, bias=bias).double().eval()


def _explicit(attn, x, mask=None):
    """The module's output computed from its attention_weights, by hand."""
    weights = attn.attention_weights(x, mask)  # (B, H, T, T)
    _, _, v = attn.qkv(x)
    return attn.out_proj(attn.merge_heads(weights @ v))


@pytest.mark.parametrize("causal", [False, True])
def test_fused_path_equals_the_explicit_one(causal):
    attn = _mha(causal=causal)
    x = torch.randn(3, 9, 16, dtype=F64)
    weights = attn.attention_weights(x)
    assert weights.shape == (3, 4, 9, 9)
    torch.testing.assert_close(attn(x), _explicit(attn, x), **TOL)
    mask = torch.rand(3, 1, 1, 9) < 0.7
    mask[..., 0] = True
    torch.testing.assert_close(attn(x, mask=mask), _explicit(attn, x, mask), **TOL)


def test_heads_equal_separate_attentions_on_slices_of_the_projections():
    attn = _mha(n_embd=12, n_head=3, causal=True)
    x = torch.randn(2, 5, 12, dtype=F64)
    W, b = attn.qkv_proj.weight, attn.qkv_proj.bias  # (3C, C), (3C,)
    heads = []
    for h in range(3):
        rows = slice(4 * h, 4 * h + 4)
        q = x @ W[:12][rows].T + b[:12][rows]
        k = x @ W[12:24][rows].T + b[12:24][rows]
        v = x @ W[24:][rows].T + b[24:][rows]
        heads.append(F.scaled_dot_product_attention(q, k, v, is_causal=True))
    expected = attn.out_proj(torch.cat(heads, dim=-1))
    torch.testing.assert_close(attn(x), expected, **TOL)


def test_split_and_merge_heads_are_inverse():
    attn = _mha(n_embd=12, n_head=3)
    x = torch.randn(2, 5, 12, dtype=F64)
    heads = attn.split_heads(x)
    assert heads.shape == (2, 3, 5, 4)
    torch.testing.assert_close(heads[:, 1], x[..., 4:8], **TOL)  # head 1 = channels 4..7
    assert torch.equal(attn.merge_heads(heads), x)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_equals_torch_multihead_attention(causal, bias):
    ours = _mha(n_embd=16, n_head=4, causal=causal, bias=bias)
    ref = nn.MultiheadAttention(16, 4, bias=bias, batch_first=True).double().eval()
    with torch.no_grad():
        ref.in_proj_weight.copy_(ours.qkv_proj.weight)
        ref.out_proj.weight.copy_(ours.out_proj.weight)
        if bias:
            ref.in_proj_bias.copy_(ours.qkv_proj.bias)
            ref.out_proj.bias.copy_(ours.out_proj.bias)
    x = torch.randn(2, 7, 16, dtype=F64)
    # nn.MultiheadAttention's bool masks are the other way round: True = may NOT attend.
    forbidden = ~causal_mask(7) if causal else None
    y_ref, w_ref = ref(x, x, x, attn_mask=forbidden, average_attn_weights=False)
    torch.testing.assert_close(ours(x), y_ref, **TOL)
    torch.testing.assert_close(ours.attention_weights(x), w_ref, **TOL)


def test_padding_mask_equals_torch_key_padding_mask():
    ours = _mha()
    ref = nn.MultiheadAttention(16, 4, batch_first=True).double().eval()
    with torch.no_grad():
        ref.in_proj_weight.copy_(ours.qkv_proj.weight)
        ref.in_proj_bias.copy_(ours.qkv_proj.bias)
        ref.out_proj.load_state_dict(ours.out_proj.state_dict())
    x = torch.randn(2, 6, 16, dtype=F64)
    is_token = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]], dtype=torch.bool)
    y_ref, _ = ref(x, x, x, key_padding_mask=~is_token)
    torch.testing.assert_close(ours(x, mask=is_token[:, None, None, :]), y_ref, **TOL)


@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
def test_equals_gpt2_attention_in_transformers(implementation):
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(
        vocab_size=50,
        n_positions=16,
        n_embd=32,
        n_layer=1,
        n_head=4,
        bos_token_id=0,
        eos_token_id=0,
        attn_implementation=implementation,
    )
    torch.manual_seed(0)
    gpt2 = transformers.GPT2Model(config).double().eval()
    theirs = gpt2.h[0].attn
    ours = CausalSelfAttention(n_embd=32, n_head=4).double().eval()
    with torch.no_grad():  # GPT-2's Conv1D stores weights as (in, out): transpose them
        ours.qkv_proj.weight.copy_(theirs.c_attn.weight.T)
        ours.qkv_proj.bias.copy_(theirs.c_attn.bias)
        ours.out_proj.weight.copy_(theirs.c_proj.weight.T)
        ours.out_proj.bias.copy_(theirs.c_proj.bias)
    seen = {}

    def record(module, args, kwargs, output):
        seen["x"] = args[0] if args else kwargs["hidden_states"]
        seen["y"] = output[0]

    handle = theirs.register_forward_hook(record, with_kwargs=True)
    try:
        gpt2(torch.randint(0, 50, (2, 11), generator=torch.Generator().manual_seed(0)))
    finally:
        handle.remove()
    assert seen["x"].shape == (2, 11, 32)
    torch.testing.assert_close(ours(seen["x"]), seen["y"], **TOL)


def test_causal_self_attention_is_the_causal_case():
    attn = CausalSelfAttention(8, 2, bias=False)
    assert isinstance(attn, MultiHeadAttention) and attn.causal
    assert attn.qkv_proj.bias is None and attn.head_dim == 4
    assert "causal=True" in repr(attn)


def test_parameter_count_does_not_depend_on_the_number_of_heads():
    for n_head in (1, 2, 4, 8):
        attn = MultiHeadAttention(64, n_head)
        assert sum(p.numel() for p in attn.parameters()) == 4 * 64 * 64 + 4 * 64


def test_dropout_acts_in_training_only():
    torch.manual_seed(4)
    attn = CausalSelfAttention(16, 4, dropout=0.5)
    x = torch.randn(2, 5, 16)
    attn.eval()
    torch.testing.assert_close(attn(x), attn(x))
    attn.train()
    assert not torch.allclose(attn(x), attn(x))


def _one_hot_attention(dropout: float) -> tuple[MultiHeadAttention, torch.Tensor]:
    """One causal head whose output shows its weights: query i puts 1 / (i + 1) on each
    key j <= i (queries and keys are 0), and key j's value is the unit vector e_j."""
    attn = CausalSelfAttention(n_embd=8, n_head=1, bias=False, dropout=dropout)
    with torch.no_grad():
        attn.qkv_proj.weight.zero_()
        attn.qkv_proj.weight[16:].copy_(torch.eye(8))  # v = x
        attn.out_proj.weight.copy_(torch.eye(8))
    x = torch.eye(8)[None].repeat(64, 1, 1)  # (B=64, T=8, 8): position j is e_j
    return attn, x


def test_dropout_on_the_attention_weights():
    """With only the weights' dropout: each weight 1 / (i + 1) is 0 or 2 / (i + 1)."""
    torch.manual_seed(0)
    attn, x = _one_hot_attention(dropout=0.5)
    attn.out_dropout.p = 0.0  # only the attention-weight site
    attn.eval()
    even = attn(x)  # (B, T, T): row i holds query i's weights
    torch.testing.assert_close(even[0], causal_mask(8) / torch.arange(1, 9)[:, None])
    attn.train()
    y = attn(x)
    allowed = causal_mask(8).expand_as(y)
    kept = y[allowed] != 0
    torch.testing.assert_close(y[allowed][kept], 2 * even[allowed][kept])  # scaled by 1/(1-p)
    assert 0.4 < kept.float().mean() < 0.6
    assert torch.all(y[~allowed] == 0)


def test_dropout_on_the_output():
    """With only the output's dropout: whole output entries are 0, the others doubled."""
    torch.manual_seed(0)
    attn = CausalSelfAttention(16, 4, dropout=0.5)
    attn.attn_dropout = 0.0  # only the output site
    x = torch.randn(32, 6, 16)
    attn.eval()
    expected = attn(x)
    attn.train()
    y = attn(x)
    zeroed = y == 0
    assert 0.45 < zeroed.float().mean() < 0.55
    torch.testing.assert_close(y[~zeroed], 2 * expected[~zeroed])


def test_attention_weights_are_taken_before_dropout():
    torch.manual_seed(0)
    attn = CausalSelfAttention(16, 4, dropout=0.5)
    x = torch.randn(2, 6, 16)
    attn.train()
    weights = attn.attention_weights(x)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 6))
    torch.testing.assert_close(weights, attn.eval().attention_weights(x))


# --- the key/value cache -------------------------------------------------------------------


@pytest.mark.parametrize("rotary", [False, True])
@pytest.mark.parametrize("chunks", [[9], [1] * 9, [4, 1, 1, 3], [2, 7]])
def test_cached_attention_equals_one_pass_over_the_whole_sequence(chunks, rotary):
    """Feeding a sequence in pieces through a cache gives what one full pass gives."""
    torch.manual_seed(0)
    rope = RotaryEmbedding(4, 16) if rotary else None
    attn = CausalSelfAttention(16, 4, rotary=rope).double().eval()
    x = torch.randn(2, 9, 16, dtype=F64)
    cache = KVCache(2, 4, 4, capacity=12, dtype=F64)
    pieces, start = [], 0
    for n in chunks:
        pieces.append(attn(x[:, start : start + n], cache=cache))
        start += n
    assert cache.length == 9
    torch.testing.assert_close(torch.cat(pieces, dim=1), attn(x), **TOL)


def test_cached_attention_with_a_padding_mask_equals_the_full_pass():
    torch.manual_seed(0)
    attn = CausalSelfAttention(16, 4).double().eval()
    x = torch.randn(2, 7, 16, dtype=F64)
    is_token = torch.tensor([[1, 1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1, 1]], dtype=torch.bool)
    full = attn(x, mask=is_token[:, None, None, :] | torch.eye(7, dtype=torch.bool))
    cache = KVCache(2, 4, 4, capacity=7, dtype=F64)
    first = attn(
        x[:, :4], mask=is_token[:, None, None, :4] | torch.eye(4, dtype=torch.bool), cache=cache
    )
    rest = [
        attn(x[:, t : t + 1], mask=is_token[:, None, None, : t + 1], cache=cache)
        for t in range(4, 7)
    ]
    torch.testing.assert_close(torch.cat([first, *rest], dim=1)[:, 2:], full[:, 2:], **TOL)


def test_the_cache_is_written_in_place_and_reports_overflow():
    cache = KVCache(1, 2, 3, capacity=4)
    k_before = cache.k
    k = torch.ones(1, 2, 3, 3)
    keys, values = cache.append(k, 2 * k)
    assert cache.k is k_before and keys.shape == (1, 2, 3, 3) and cache.length == 3
    assert torch.equal(cache.v[:, :, :3], 2 * k) and torch.all(cache.k[:, :, 3:] == 0)
    with pytest.raises(ValueError, match="room for 4 positions; 3 are filled and 2 more"):
        cache.append(torch.ones(1, 2, 2, 3), torch.ones(1, 2, 2, 3))
    with pytest.raises(ValueError, match=r"\(B=1, H=2, T, D=3\), got keys \(1, 2, 1, 5\)"):
        cache.append(torch.ones(1, 2, 1, 5), torch.ones(1, 2, 1, 5))
    cache.reset()
    assert cache.length == 0 and "capacity=4" in repr(cache)


def test_rotary_in_the_module_equals_rotating_queries_and_keys_by_hand():
    torch.manual_seed(0)
    rope = RotaryEmbedding(4, 32)
    attn = CausalSelfAttention(16, 4, rotary=rope).double().eval()
    x = torch.randn(2, 6, 16, dtype=F64)
    q, k, v = (attn.split_heads(t) for t in attn.qkv_proj(x).split(16, dim=-1))
    positions = torch.arange(10, 16)
    out, weights = scaled_dot_product_attention(
        rope(q, positions), rope(k, positions), v, causal=True
    )
    torch.testing.assert_close(
        attn(x, positions=positions), attn.out_proj(attn.merge_heads(out)), **TOL
    )
    torch.testing.assert_close(attn.attention_weights(x, positions=positions), weights, **TOL)
    with pytest.raises(ValueError, match="rotary has head_dim=8, but the heads .* are 4 wide"):
        CausalSelfAttention(16, 4, rotary=RotaryEmbedding(8, 32))


def test_forward_reads_no_values_off_the_cpu():
    """On the meta device (no values at all), attention with a cache and a mask runs."""
    with torch.device("meta"):
        attn = CausalSelfAttention(16, 4, rotary=RotaryEmbedding(4, 8))
        cache = KVCache(2, 4, 4, capacity=8)
        y = attn(torch.randn(2, 3, 16), mask=torch.ones(2, 1, 1, 3, dtype=torch.bool), cache=cache)
        y = attn(torch.randn(2, 1, 16), cache=cache)
    assert y.shape == (2, 1, 16) and cache.length == 4


# --- errors that name the numbers --------------------------------------------------------


def test_d_model_not_divisible_by_n_heads():
    with pytest.raises(
        ValueError, match=r"n_embd=10 is not divisible by n_head=3.*\[1, 2, 5, 10\]"
    ):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="n_embd must be a positive integer, got 0"):
        MultiHeadAttention(0, 2)
    with pytest.raises(TypeError, match="n_head must be an integer, got float 2.0"):
        MultiHeadAttention(8, 2.0)
    with pytest.raises(TypeError, match="n_embd must be an integer, got str '8'"):
        MultiHeadAttention("8", 2)
    with pytest.raises(ValueError, match="dropout must be in"):
        MultiHeadAttention(8, 2, dropout=1.5)


@pytest.mark.parametrize(
    ("shape", "message"),
    [((2, 5, 12), r"n_embd=16\), got \(2, 5, 12\)"), ((5, 16), r"got \(5, 16\)")],
)
def test_input_of_the_wrong_shape(shape, message):
    with pytest.raises(ValueError, match=message):
        MultiHeadAttention(16, 4)(torch.randn(*shape))


def test_mismatched_queries_keys_and_values():
    q, k, v = _qkv(2, T_q=3, T_k=5, d_k=8, d_v=4)
    with pytest.raises(ValueError, match=r"same size d_k: q has 8 .* k has 7"):
        scaled_dot_product_attention(q, k[..., :7], v)
    with pytest.raises(ValueError, match=r"same length T_k: k has 5 .* v has 4"):
        scaled_dot_product_attention(q, k, v[:, :4])
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        scaled_dot_product_attention(q[0, 0], k, v)
    with pytest.raises(ValueError, match="T_q=5 queries .* T_k=3 keys"):
        scaled_dot_product_attention(k, q, q, causal=True)


def test_lists_and_arrays_are_refused_with_a_type_error():
    q, k, v = _qkv(T_q=3, T_k=3)
    with pytest.raises(TypeError, match=r"q must be a torch.Tensor, got list \(convert it"):
        scaled_dot_product_attention(q.tolist(), k, v)
    with pytest.raises(TypeError, match="v must be a torch.Tensor, got ndarray"):
        scaled_dot_product_attention(q, k, v.numpy())
    with pytest.raises(ValueError, match=r"\(B, T, n_embd=16\), got list"):
        MultiHeadAttention(16, 4)([[0.0] * 16])


def test_masks_of_the_wrong_shape_or_type():
    q, k, v = _qkv(2, T_q=3, T_k=5)
    with pytest.raises(
        ValueError, match=r"mask of shape \(5, 3\) does not broadcast .*\(2, 3, 5\)"
    ):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(5, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"mask of shape \(4, 2, 3, 5\) does not broadcast"):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(4, 2, 3, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="must be a bool tensor.*got torch.float32"):
        scaled_dot_product_attention(q, k, v, mask=torch.ones(3, 5))
    attn = MultiHeadAttention(16, 4)
    x = torch.randn(2, 6, 16)
    with pytest.raises(
        ValueError, match=r"mask of shape \(6, 5\) does not broadcast .*\(2, 4, 6, 6\)"
    ):
        attn(x, mask=torch.ones(6, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"mask of shape \(6, 5\) does not broadcast"):
        attn.attention_weights(x, mask=torch.ones(6, 5, dtype=torch.bool))
