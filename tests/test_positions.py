"""Positional encodings: the formulas, their relative-position properties, clear errors."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gptcourse.attention import MultiHeadAttention, scaled_dot_product_attention
from gptcourse.positions import (
    LearnedPositionalEmbedding,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    frequencies,
    rotate_pairs,
    sinusoidal_encoding,
    sinusoidal_shift_matrix,
)

pytestmark = pytest.mark.usefixtures("one_cpu_thread")

F64 = torch.float64


def _sinusoidal_loops(block_size: int, n_embd: int, base: float = 10000.0) -> torch.Tensor:
    pe = torch.zeros(block_size, n_embd, dtype=F64)
    for p in range(block_size):
        for i in range(n_embd // 2):
            pe[p, 2 * i] = math.sin(p / base ** (2 * i / n_embd))
            pe[p, 2 * i + 1] = math.cos(p / base ** (2 * i / n_embd))
    return pe


def _rotation(angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, -s], [s, c]], dtype=F64)


# --- sinusoidal --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("block_size", "n_embd", "base"), [(50, 16, 10000.0), (7, 2, 10000.0), (20, 10, 100.0)]
)
def test_sinusoidal_is_the_formula(block_size, n_embd, base):
    pe = sinusoidal_encoding(block_size, n_embd, base, dtype=F64)
    assert pe.shape == (block_size, n_embd) and pe.dtype == F64
    torch.testing.assert_close(pe, _sinusoidal_loops(block_size, n_embd, base), rtol=0, atol=1e-12)


def test_sinusoidal_known_values():
    pe = sinusoidal_encoding(3, 8, dtype=F64)
    assert pe[0].tolist() == [0.0, 1.0] * 4  # sin 0, cos 0
    assert pe[1, 0] == math.sin(1.0) and pe[1, 1] == math.cos(1.0)  # pair 0: frequency 1
    assert math.isclose(pe[2, 6], math.sin(2 / 10000 ** (6 / 8)), rel_tol=1e-12)
    default = sinusoidal_encoding(3, 8)
    assert default.dtype == torch.float32
    torch.testing.assert_close(default, pe.float())


def test_wavelengths_are_a_geometric_progression_from_2pi():
    d = 64
    wavelengths = 2 * math.pi / frequencies(d, dtype=F64)
    assert math.isclose(wavelengths[0], 2 * math.pi)
    ratios = wavelengths[1:] / wavelengths[:-1]
    torch.testing.assert_close(ratios, torch.full_like(ratios, 10000 ** (2 / d)))
    assert wavelengths[-1] < 10000 * 2 * math.pi


@pytest.mark.parametrize("k", [1, 3, 17, 250, -5, 0])
def test_shifting_by_k_is_one_fixed_linear_map(k):
    d, T = 32, 600
    pe = sinusoidal_encoding(T, d, dtype=F64)
    M = sinusoidal_shift_matrix(k, d, dtype=F64)
    lo, hi = max(0, -k), T - max(0, k)
    torch.testing.assert_close(pe[lo + k : hi + k], pe[lo:hi] @ M.T, rtol=0, atol=1e-12)
    torch.testing.assert_close(M @ M.T, torch.eye(d, dtype=F64), rtol=0, atol=1e-12)
    # Block-diagonal: nothing outside the 2x2 blocks of the pairs.
    blocks = torch.block_diag(*[torch.ones(2, 2)] * (d // 2)).bool()
    assert torch.all(M[~blocks] == 0)


def test_shift_matrices_compose_by_adding_offsets():
    M = lambda k: sinusoidal_shift_matrix(k, 16, dtype=F64)  # noqa: E731
    torch.testing.assert_close(M(3) @ M(4), M(7))
    torch.testing.assert_close(M(5) @ M(-5), torch.eye(16, dtype=F64), rtol=0, atol=1e-12)


def test_dot_products_depend_only_on_the_offset():
    pe = sinusoidal_encoding(200, 32, dtype=F64)
    gram = pe @ pe.T
    offsets = torch.arange(200)[:, None] - torch.arange(200)[None, :]
    expected = torch.cos(offsets[..., None] * frequencies(32, dtype=F64)).sum(-1)
    torch.testing.assert_close(gram, expected, rtol=0, atol=1e-10)
    torch.testing.assert_close(gram, gram.T)  # symmetric in the offset's sign


def test_sinusoidal_module_adds_the_table_and_is_not_trained():
    module = SinusoidalPositionalEncoding(block_size=32, n_embd=8)
    x = torch.randn(3, 10, 8)
    torch.testing.assert_close(module(x), x + sinusoidal_encoding(10, 8))
    torch.testing.assert_close(module(x[0]), x[0] + sinusoidal_encoding(10, 8))  # (T, d)
    assert list(module.parameters()) == [] and module.state_dict() == {}
    assert module.double()(x.double()).dtype == F64


# --- learned -----------------------------------------------------------------------------


def test_learned_adds_one_trained_row_per_position():
    torch.manual_seed(0)
    module = LearnedPositionalEmbedding(block_size=16, n_embd=8)
    assert module.table.weight.shape == (16, 8)
    assert 0.01 < float(module.table.weight.detach().std()) < 0.03  # GPT-2's init, std 0.02
    x = torch.randn(2, 5, 8)
    torch.testing.assert_close(module(x), x + module.table.weight[:5])
    module(x).sum().backward()
    grad = module.table.weight.grad
    torch.testing.assert_close(grad[:5], torch.full((5, 8), 2.0))  # once per batch element
    assert torch.all(grad[5:] == 0)  # rows of unseen positions get no gradient


def test_learned_gradcheck():
    torch.manual_seed(0)
    module = LearnedPositionalEmbedding(block_size=6, n_embd=4).double()
    x = torch.randn(2, 6, 4, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(module, (x,))


# --- rotary ------------------------------------------------------------------------------


def test_rope_is_a_rotation_of_each_pair_by_position_times_frequency():
    torch.manual_seed(0)
    T, d, base = 12, 8, 500.0
    x = torch.randn(T, d, dtype=F64)
    got = RotaryEmbedding(d, T, base)(x)
    theta = [base ** (-2 * i / d) for i in range(d // 2)]
    for t in range(T):
        R = torch.block_diag(*[_rotation(t * th) for th in theta])
        torch.testing.assert_close(got[t], R @ x[t], rtol=0, atol=1e-12)


def test_rope_scores_depend_only_on_the_offset():
    torch.manual_seed(0)
    T, d = 128, 16
    rope = RotaryEmbedding(d, T)
    q, k = torch.randn(d, dtype=F64), torch.randn(d, dtype=F64)
    Q, K = rope(q.expand(1, 1, T, d)), rope(k.expand(1, 1, T, d))  # q and k at every position
    scores = (Q @ K.transpose(-2, -1))[0, 0]  # (T, T), scores[m, n]
    for offset in range(-(T - 1), T):
        diagonal = scores.diagonal(offset)  # all pairs (m, m + offset)
        torch.testing.assert_close(diagonal, diagonal[:1].expand_as(diagonal), rtol=0, atol=1e-12)
    # ...and the offset does matter:
    assert (scores.diagonal(0)[0] - scores.diagonal(5)[0]).abs() > 1e-3


@settings(max_examples=30, deadline=None)
@given(
    m=st.integers(0, 5000),
    n=st.integers(0, 5000),
    shift=st.integers(-5000, 5000),
    seed=st.integers(0, 2**31 - 1),
)
def test_rope_score_is_unchanged_by_moving_both_positions(m, n, shift, seed):
    if min(m, n) + shift < 0:
        shift = -min(m, n)
    g = torch.Generator().manual_seed(seed)
    q, k = torch.randn(2, 1, 32, dtype=F64, generator=g)
    rope = RotaryEmbedding(32, 10_001)

    def score(a, b):
        return float(rope(q, torch.tensor([a])) @ rope(k, torch.tensor([b])).T)

    assert math.isclose(score(m, n), score(m + shift, n + shift), rel_tol=1e-9, abs_tol=1e-9)


def test_rope_preserves_norms_and_is_invertible():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 40, 16, dtype=F64)
    rope = RotaryEmbedding(16, 40)
    y = rope(x)
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1), rtol=0, atol=1e-12)
    angles = rope.angles(torch.arange(40), F64)
    torch.testing.assert_close(rotate_pairs(y, -angles), x, rtol=0, atol=1e-12)


def test_rope_explicit_positions_continue_a_sequence():
    torch.manual_seed(0)
    x = torch.randn(1, 2, 10, 8)
    rope = RotaryEmbedding(8, 10)
    torch.testing.assert_close(rope(x), rope(x, torch.arange(10)))
    torch.testing.assert_close(rope(x)[..., 6:, :], rope(x[..., 6:, :], torch.arange(6, 10)))


def test_rope_attention_weights_are_unchanged_by_a_shift_of_all_positions():
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 4, 9, 16, dtype=F64)
    rope = RotaryEmbedding(16, 1000)
    weights = []
    for start in (0, 37, 990):
        p = torch.arange(start, start + 9)
        weights.append(scaled_dot_product_attention(rope(q, p), rope(k, p), v, causal=True)[1])
    torch.testing.assert_close(weights[0], weights[1], rtol=0, atol=1e-12)
    torch.testing.assert_close(weights[0], weights[2], rtol=0, atol=1e-12)


def test_rope_keeps_low_precision_dtypes_and_agrees_with_float64():
    torch.manual_seed(0)
    x = torch.randn(1, 1, 64, 32, dtype=F64)
    rope = RotaryEmbedding(32, 64)
    for dtype, tol in [(torch.float32, 1e-5), (torch.bfloat16, 5e-2), (torch.float16, 5e-3)]:
        y = rope(x.to(dtype))
        assert y.dtype == dtype
        torch.testing.assert_close(y.double(), rope(x), rtol=tol, atol=tol)


def test_rope_gradcheck():
    torch.manual_seed(0)
    rope = RotaryEmbedding(8, 6)
    x = torch.randn(1, 2, 6, 8, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(rope, (x,))
    angles = torch.randn(6, 4, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(rotate_pairs, (x, angles))


def test_rope_equals_transformers_llama_up_to_the_pairing():
    pytest.importorskip("transformers")
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import (
        LlamaRotaryEmbedding,
        apply_rotary_pos_emb,
    )

    head_dim, T = 16, 40
    config = LlamaConfig(
        hidden_size=64, num_attention_heads=4, head_dim=head_dim, max_position_embeddings=T
    )
    torch.manual_seed(0)
    q, k = torch.randn(2, 2, 4, T, head_dim)  # (B, H, T, head_dim)
    halves = torch.cat([torch.arange(0, head_dim, 2), torch.arange(1, head_dim, 2)])
    cos, sin = LlamaRotaryEmbedding(config)(q, torch.arange(T)[None])
    q_hf, k_hf = apply_rotary_pos_emb(q[..., halves], k[..., halves], cos, sin)
    rope = RotaryEmbedding(head_dim, T)
    torch.testing.assert_close(q_hf, rope(q)[..., halves], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(k_hf, rope(k)[..., halves], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(
        q_hf @ k_hf.transpose(-2, -1), rope(q) @ rope(k).transpose(-2, -1), rtol=1e-4, atol=1e-4
    )


# --- permutation equivariance -------------------------------------------------------------


def _attention(n_embd=16):
    torch.manual_seed(0)
    return MultiHeadAttention(n_embd, n_head=4).double().eval()


def test_attention_without_positions_is_permutation_equivariant():
    attn = _attention()
    x = torch.randn(3, 7, 16, dtype=F64)
    for seed in range(5):
        perm = torch.randperm(7, generator=torch.Generator().manual_seed(seed))
        torch.testing.assert_close(attn(x[:, perm]), attn(x)[:, perm], rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["sinusoidal", "learned"])
def test_added_positions_break_permutation_equivariance(kind):
    attn = _attention()
    torch.manual_seed(1)
    if kind == "sinusoidal":
        add = SinusoidalPositionalEncoding(7, 16).double()
    else:
        add = LearnedPositionalEmbedding(7, 16).double()
        torch.nn.init.normal_(add.table.weight)  # rows as large as trained ones, not std 0.02
    x = torch.randn(1, 7, 16, dtype=F64)
    perm = torch.tensor([6, 0, 5, 1, 4, 2, 3])
    with torch.no_grad():
        gap = (attn(add(x[:, perm])) - attn(add(x))[:, perm]).abs().max()
    assert gap > 1e-2


def test_rotary_attention_is_not_permutation_equivariant():
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 1, 1, 7, 16, dtype=F64)
    rope = RotaryEmbedding(16, 7)
    perm = torch.tensor([6, 0, 5, 1, 4, 2, 3])

    def attend(q, k, v):
        return scaled_dot_product_attention(rope(q), rope(k), v)[0]

    plain = scaled_dot_product_attention(q[..., perm, :], k[..., perm, :], v[..., perm, :])[0]
    torch.testing.assert_close(plain, scaled_dot_product_attention(q, k, v)[0][..., perm, :])
    gap = attend(q[..., perm, :], k[..., perm, :], v[..., perm, :]) - attend(q, k, v)[..., perm, :]
    assert gap.abs().max() > 1e-2


# --- bad arguments -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: sinusoidal_encoding(10, 7),
        lambda: SinusoidalPositionalEncoding(10, 7),
        lambda: frequencies(7),
        lambda: sinusoidal_shift_matrix(1, 7),
    ],
)
def test_odd_d_model_is_refused(make):
    with pytest.raises(ValueError, match=r"n_embd=7 is odd"):
        make()


def test_odd_head_dim_is_refused():
    with pytest.raises(ValueError, match=r"head_dim=9 is odd"):
        RotaryEmbedding(9, 16)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: sinusoidal_encoding(0, 8), r"block_size must be a positive integer, got 0"),
        (lambda: sinusoidal_encoding(4, -2), r"n_embd must be a positive integer, got -2"),
        (lambda: sinusoidal_encoding(4, 8, base=1.0), r"base must be greater than 1, got 1.0"),
        (lambda: LearnedPositionalEmbedding(0, 8), r"block_size must be a positive integer, got 0"),
        (lambda: RotaryEmbedding(8, 0), r"block_size must be a positive integer, got 0"),
        (lambda: RotaryEmbedding(8, 16, base=0.5), r"base must be greater than 1, got 0.5"),
    ],
)
def test_bad_sizes_are_refused_with_the_numbers(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: LearnedPositionalEmbedding(4, 2.5), r"n_embd must be an integer, got float 2.5"),
        (lambda: sinusoidal_encoding("8", 4), r"block_size must be an integer, got str '8'"),
        (lambda: RotaryEmbedding(8.0, 16), r"head_dim must be an integer, got float 8.0"),
        (lambda: SinusoidalPositionalEncoding(True, 4), r"block_size must be an integer, got bool"),
    ],
)
def test_sizes_of_the_wrong_type_are_refused_with_a_type_error(make, message):
    with pytest.raises(TypeError, match=message):
        make()


@pytest.mark.parametrize(
    "module",
    [
        SinusoidalPositionalEncoding(8, 4),
        LearnedPositionalEmbedding(8, 4),
        RotaryEmbedding(4, 8),
    ],
    ids=["sinusoidal", "learned", "rotary"],
)
def test_sequence_longer_than_block_size_is_refused_with_the_numbers(module):
    with pytest.raises(ValueError, match=r"T=10 positions is longer than block_size=8.*0 \.\. 7"):
        module(torch.zeros(2, 10, 4))
    module(torch.zeros(2, 8, 4))  # exactly block_size is fine


@pytest.mark.parametrize(
    ("module", "name"),
    [
        (SinusoidalPositionalEncoding(8, 4), "n_embd"),
        (LearnedPositionalEmbedding(8, 4), "n_embd"),
        (RotaryEmbedding(4, 8), "head_dim"),
    ],
)
def test_wrong_width_is_refused_with_the_shapes(module, name):
    with pytest.raises(ValueError, match=rf"\(\.\.\., T, {name}=4\), got shape \(2, 5, 6\)"):
        module(torch.zeros(2, 5, 6))
    with pytest.raises(ValueError, match=r"got shape \(4,\)"):
        module(torch.zeros(4))


def test_rope_bad_positions_are_refused():
    rope = RotaryEmbedding(4, 8)
    x = torch.zeros(1, 1, 3, 4)
    with pytest.raises(ValueError, match=r"shape \(T,\) = \(3,\).*got shape \(4,\)"):
        rope(x, torch.arange(4))
    with pytest.raises(ValueError, match=r"0 \.\. 7 \(block_size=8\), got values from 6 to 8"):
        rope(x, torch.arange(6, 9))
    with pytest.raises(ValueError, match=r"got values from -1 to 1"):
        rope(x, torch.arange(-1, 2))
    with pytest.raises(ValueError, match=r"must be integers, got dtype torch.float32"):
        rope(x, torch.arange(3.0))


def test_rotate_pairs_refuses_an_odd_width():
    with pytest.raises(ValueError, match=r"odd last dimension, 5"):
        rotate_pairs(torch.zeros(3, 5), torch.zeros(3, 2))


# --- inputs that are not what a module takes ------------------------------------------------


@pytest.mark.parametrize(
    "module",
    [SinusoidalPositionalEncoding(8, 4), LearnedPositionalEmbedding(8, 4)],
    ids=["sinusoidal", "learned"],
)
def test_token_ids_instead_of_embeddings_are_refused(module):
    ids = torch.zeros(2, 5, 4, dtype=torch.long)  # integer input would truncate the table
    with pytest.raises(TypeError, match=r"floating-point .* got dtype torch.int64.*embed"):
        module(ids)


@pytest.mark.parametrize(
    "module",
    [SinusoidalPositionalEncoding(8, 4), LearnedPositionalEmbedding(8, 4), RotaryEmbedding(4, 8)],
    ids=["sinusoidal", "learned", "rotary"],
)
def test_a_list_instead_of_a_tensor_is_refused(module):
    with pytest.raises(TypeError, match=r"x must be a torch.Tensor .* got list"):
        module([[0.0] * 4] * 3)


# --- the rotary tables ------------------------------------------------------------------------


def test_rotary_tables_are_buffers_computed_once_and_not_saved():
    rope = RotaryEmbedding(8, 16, base=100.0)
    angles = torch.arange(16, dtype=F64)[:, None] * frequencies(8, 100.0, dtype=F64)
    assert rope.cos.shape == (16, 4) and rope.cos.dtype == torch.float32
    torch.testing.assert_close(rope.cos, angles.cos().float(), rtol=0, atol=1e-7)
    torch.testing.assert_close(rope.sin, angles.sin().float(), rtol=0, atol=1e-7)
    assert rope.state_dict() == {} and list(rope.parameters()) == []
    assert {name for name, _ in rope.named_buffers()} == {"cos", "sin"}


def test_rotary_float32_path_reads_the_tables_and_agrees_with_float64():
    torch.manual_seed(0)
    rope = RotaryEmbedding(16, 32)
    x = torch.randn(2, 3, 32, 16, dtype=F64)
    torch.testing.assert_close(rope(x.float()).double(), rope(x), rtol=0, atol=1e-5)
    # A planted table changes the float32 result: the tables are what it reads.
    rope.cos.fill_(1.0)
    rope.sin.zero_()
    assert torch.equal(rope(x.float()), x.float())


def test_rotary_positions_per_sequence_equal_a_loop_over_the_batch():
    torch.manual_seed(0)
    rope = RotaryEmbedding(8, 20)
    x = torch.randn(3, 2, 5, 8, dtype=F64)  # (B, H, T, D)
    positions = torch.tensor([[0, 1, 2, 3, 4], [3, 4, 5, 6, 7], [0, 0, 0, 1, 2]])  # (B, T)
    expected = torch.stack([rope(x[b], positions[b]) for b in range(3)])
    torch.testing.assert_close(rope(x, positions), expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(rope(x.float(), positions), expected.float())
    with pytest.raises(ValueError, match=r"\(T,\) = \(5,\) or \(B, T\) = \(3, 5\).*got shape"):
        rope(x, positions[:2])


def test_rotary_forward_reads_no_values_off_the_cpu():
    """On the meta device (no values at all), forward runs: no .item(), no min()/max()."""
    with torch.device("meta"):
        rope = RotaryEmbedding(8, 16)
        x = torch.randn(2, 2, 5, 8)
        out = rope(x, torch.arange(10, 15))  # out of range: unchecked where it would cost
    assert out.shape == (2, 2, 5, 8) and out.device.type == "meta"
