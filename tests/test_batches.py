"""Training batches: windows of block_size + 1 tokens, targets shifted by one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gptcourse.batches import get_batch, train_val_split


def test_targets_are_inputs_shifted_by_one_and_windows_are_contiguous():
    ids = torch.arange(1000)
    x, y = get_batch(ids, batch_size=8, block_size=16, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (8, 16)
    assert x.dtype == torch.long
    assert torch.equal(x[:, 1:], y[:, :-1])
    assert torch.equal(y, x + 1)  # with ids = arange, a window is consecutive numbers


def test_every_window_start_is_reachable_and_none_overruns():
    ids = torch.arange(10)
    x, y = get_batch(ids, batch_size=2000, block_size=4, generator=torch.Generator().manual_seed(0))
    assert set(x[:, 0].tolist()) == set(range(6))  # starts 0..5; 5 + 4 = 9 is the last id
    assert int(y.max()) == 9


def test_same_generator_seed_same_batch():
    ids = torch.randint(0, 50, (500,), generator=torch.Generator().manual_seed(1))
    a = get_batch(ids, 4, 8, generator=torch.Generator().manual_seed(7))
    b = get_batch(ids, 4, 8, generator=torch.Generator().manual_seed(7))
    assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))


def test_block_size_longer_than_the_data_is_refused_with_the_numbers():
    with pytest.raises(
        ValueError, match=r"block_size=10 needs windows of 11 tokens, but the data has only 10"
    ):
        get_batch(torch.arange(10), batch_size=1, block_size=10)


@pytest.mark.parametrize(("batch_size", "block_size"), [(0, 4), (4, 0)])
def test_sizes_must_be_positive(batch_size, block_size):
    with pytest.raises(ValueError, match="must be positive"):
        get_batch(torch.arange(100), batch_size, block_size)


def test_split_is_contiguous_head_and_tail():
    train, val = train_val_split(torch.arange(100), val_fraction=0.1)
    assert torch.equal(train, torch.arange(90)) and torch.equal(val, torch.arange(90, 100))
    with pytest.raises(ValueError, match="val_fraction"):
        train_val_split(torch.arange(10), 1.0)
    with pytest.raises(ValueError, match="1-D"):
        train_val_split(torch.zeros(2, 5))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        # Float ids were silently truncated to integers; they are refused.
        (lambda: get_batch(torch.arange(100.0), 2, 4), TypeError, "dtype torch.float32"),
        (
            lambda: get_batch([1, 2, 3, 4, 5], 1, 2),
            TypeError,
            r"got a list of 5 items.*torch\.tensor",
        ),
        (lambda: get_batch(np.arange(10), 1, 2), TypeError, "got a ndarray of shape"),
        (lambda: get_batch(torch.arange(10), 2.0, 4), TypeError, "batch_size must be an int, got"),
        (lambda: get_batch(torch.arange(10), 2, "4"), TypeError, "block_size must be an int, got"),
        (lambda: get_batch(torch.arange(10), 2, 4, generator=0), TypeError, "torch.Generator"),
        (lambda: get_batch(torch.ones(10, dtype=torch.bool), 2, 4), TypeError, "torch.bool"),
        (lambda: train_val_split([1, 2, 3]), TypeError, "ids must be a 1-D torch.Tensor"),
        (lambda: train_val_split(torch.arange(10), "0.1"), TypeError, "val_fraction must be a"),
    ],
)
def test_wrong_kinds_of_arguments_are_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_sizes_may_be_any_integer_type():
    x, y = get_batch(torch.arange(50, dtype=torch.int32), np.int64(3), torch.tensor(5))
    assert x.shape == y.shape == (3, 5) and x.dtype == torch.long
    train, val = train_val_split(torch.arange(10), np.float32(0.2))
    assert (len(train), len(val)) == (8, 2)


def test_split_text_draws_the_boundary_of_train_val_split():
    from gptcourse.batches import split_text

    text = "".join(chr(97 + i % 26) for i in range(1003))
    train_text, val_text = split_text(text, 0.1)
    ids = torch.tensor([ord(c) for c in text])
    train, val = train_val_split(ids, 0.1)
    assert train_text + val_text == text
    assert (len(train_text), len(val_text)) == (len(train), len(val)) == (903, 100)
    with pytest.raises(TypeError, match="text must be a str"):
        split_text(ids)
    with pytest.raises(ValueError, match=r"val_fraction must be in \[0, 1\), got 1.5"):
        split_text(text, 1.5)
