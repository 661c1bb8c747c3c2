"""The SMS Spam Collection as a classification task: balanced classes, splits, padded batches.

The collection (:mod:`gptcourse.data`, ``"sms_spam"``) holds 5,574 text messages, 4,827
"ham" and 747 "spam". A classifier that always answers "ham" would be right 87% of the
time; to make accuracy mean something, the course keeps every spam message and as many
ham messages drawn at random, 1,494 in all, and splits them into training, validation
and test sets (70/10/20).

Messages have different lengths. A batch pads them to its longest one with a padding
token, and an attention mask says which positions are real (1) and which are padding
(0): on the right (``"right"``, the usual choice for classification) or on the left
(``"left"``, as for generation). The model must never attend to the padding, and the
classifier reads the last real token (see :mod:`gptcourse.finetune`).

    >>> batch = pad_batch([([5, 6, 7], 1), ([8], 0)], pad_id=0)
    >>> batch.input_ids.tolist(), batch.attention_mask.tolist(), batch.labels.tolist()
    ([[5, 6, 7], [8, 0, 0]], [[1, 1, 1], [1, 0, 0]], [1, 0])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import torch
from torch.utils.data import DataLoader, Dataset

from gptcourse import data
from gptcourse._validation import check_size
from gptcourse.corpus import Tokenizer

__all__ = [
    "LABELS",
    "load_messages",
    "balance",
    "split",
    "SMSSplits",
    "load_splits",
    "SMSDataset",
    "Batch",
    "pad_batch",
    "make_loader",
]

#: The classes, in the order of their ids.
LABELS = ("ham", "spam")

Example = tuple[str, int]


def load_messages() -> list[Example]:
    """Every message of the collection as ``(text, label)``, label 0 for ham, 1 for spam."""
    examples = []
    for number, line in enumerate(data.load_text("sms_spam").splitlines(), start=1):
        if not line:
            continue
        label, sep, text = line.partition("\t")
        if not sep or label not in LABELS:
            raise ValueError(f"line {number} of the SMS Spam Collection is not 'label<TAB>text'")
        examples.append((text, LABELS.index(label)))
    return examples


def balance(examples: Sequence[Example], seed: int = 123) -> list[Example]:
    """Every example of the smallest class and as many of each other class, drawn at random
    (seeded), in a random order."""
    generator = torch.Generator().manual_seed(seed)
    by_label: dict[int, list[Example]] = {}
    for example in examples:
        by_label.setdefault(example[1], []).append(example)
    smallest = min(len(group) for group in by_label.values())
    kept = []
    for label in sorted(by_label):
        group = by_label[label]
        order = torch.randperm(len(group), generator=generator)[:smallest]
        kept += [group[i] for i in sorted(order.tolist())]
    order = torch.randperm(len(kept), generator=generator)
    return [kept[i] for i in order.tolist()]


def split(
    examples: Sequence[Example], fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)
) -> tuple[list[Example], list[Example], list[Example]]:
    """Training, validation and test sets, in this order, of the given fractions (the test
    set takes what is left after rounding down)."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError(
            f"fractions must be three non-negative numbers summing to 1, got {fractions}"
        )
    n_train = int(len(examples) * fractions[0])
    n_val = int(len(examples) * fractions[1])
    examples = list(examples)
    return examples[:n_train], examples[n_train : n_train + n_val], examples[n_train + n_val :]


@dataclass
class SMSSplits:
    """The balanced collection's ``train``, ``val`` and ``test`` sets of ``(text, label)``."""

    train: list[Example]
    val: list[Example]
    test: list[Example]


def load_splits(seed: int = 123, fractions=(0.7, 0.1, 0.2), limit: int | None = None) -> SMSSplits:
    """The balanced SMS Spam Collection, shuffled (seeded) and split.

    ``limit`` keeps only that many balanced examples before splitting (for quick runs).

        >>> splits = load_splits()   # doctest: +SKIP
        >>> len(splits.train), len(splits.val), len(splits.test)   # doctest: +SKIP
        (1045, 149, 300)
    """
    examples = balance(load_messages(), seed)
    if limit is not None:
        examples = examples[: check_size("limit", limit)]
    return SMSSplits(*split(examples, fractions))


class SMSDataset(Dataset):
    """Examples as token ids: item ``i`` is ``(ids, label)``, at most ``max_length`` ids
    (longer messages are cut at the end)."""

    def __init__(self, examples: Sequence[Example], tokenizer: Tokenizer, max_length: int):
        check_size("max_length", max_length)
        self.items = [
            (tokenizer.encode(text)[:max_length] or [0], label) for text, label in examples
        ]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[list[int], int]:
        return self.items[i]


class Batch(NamedTuple):
    """Padded inputs ``(B, T)``, their attention mask ``(B, T)`` (1 = token, 0 = padding)
    and the labels ``(B,)``."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    labels: torch.Tensor

    def to(self, device: torch.device | str) -> Batch:
        return Batch(*(t.to(device, non_blocking=True) for t in self))


def pad_batch(
    items: Sequence[tuple[Sequence[int], int]], pad_id: int, side: str = "right"
) -> Batch:
    """Pad every sequence to the longest one, on the ``side`` given."""
    if side not in ("right", "left"):
        raise ValueError(f"side must be 'right' or 'left', got {side!r}")
    T = max(len(ids) for ids, _ in items)
    input_ids = torch.full((len(items), T), pad_id, dtype=torch.long)
    mask = torch.zeros(len(items), T, dtype=torch.long)
    for row, (ids, _) in enumerate(items):
        where = slice(0, len(ids)) if side == "right" else slice(T - len(ids), T)
        input_ids[row, where] = torch.as_tensor(ids, dtype=torch.long)
        mask[row, where] = 1
    labels = torch.tensor([label for _, label in items], dtype=torch.long)
    return Batch(input_ids, mask, labels)


def make_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    pad_id: int,
    side: str = "right",
    shuffle: bool = False,
    seed: int = 0,
) -> DataLoader:
    """A :class:`~torch.utils.data.DataLoader` of padded :class:`Batch` es; shuffled (by a
    seeded generator of its own) for training."""
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        collate_fn=partial(pad_batch, pad_id=pad_id, side=side),
    )
