"""Texts as vectors, and how far their nearest neighbours agree on a label.

Two ways to turn a text into a vector: a **bag of words** (:func:`bag_of_words`: which
words of a vocabulary the text contains, 1 or 0 each), and a GPT's **mean-pooled hidden
states** (:func:`mean_pooled`: the average of the model's output vectors over the text's
real tokens). Texts are similar when their vectors point the same way (cosine
similarity), and :func:`nearest_neighbour_accuracy` measures how often the labels of a
text's nearest neighbours among labelled examples give its own label: a task-free
measure of how much of the label the vectors carry.

    >>> vocabulary = word_vocabulary(["free prize now", "see you now", "free entry"])
    >>> vocabulary
    {'free': 0, 'now': 1}
    >>> bag_of_words(["Free tickets NOW!"], vocabulary).tolist()
    [[1.0, 1.0]]
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F

from gptcourse.model import GPT

__all__ = [
    "message_words",
    "word_vocabulary",
    "bag_of_words",
    "mean_pooled",
    "nearest_neighbour_accuracy",
]

_WORD = re.compile(r"[a-z0-9£$]+")


def message_words(text: str) -> list[str]:
    """The words of a message: runs of lower-case letters, digits, ``£`` and ``$``.

    Unlike chapter 1's words of prose (:func:`gptcourse.words.words`), numbers and
    currency signs count: in text messages they are much of what says spam.

    >>> message_words("WINNER!! Claim £900 now")
    ['winner', 'claim', '£900', 'now']
    """
    return _WORD.findall(text.lower())


def word_vocabulary(texts: Iterable[str], min_count: int = 2) -> dict[str, int]:
    """The words found in at least ``min_count`` of ``texts``, sorted, as ``{word: index}``."""
    if min_count < 1:
        raise ValueError(f"min_count must be at least 1, got {min_count}")
    counts = Counter(w for text in texts for w in set(message_words(text)))
    kept = sorted(w for w, n in counts.items() if n >= min_count)
    return {w: i for i, w in enumerate(kept)}


def bag_of_words(texts: Sequence[str], vocabulary: dict[str, int]) -> torch.Tensor:
    """Word-presence vectors, ``(N, V)``: 1.0 where text ``n`` contains word ``v``.

    Words outside ``vocabulary`` are ignored; a text without any known word is all zeros.
    """
    X = torch.zeros(len(texts), len(vocabulary))
    for row, text in enumerate(texts):
        columns = [vocabulary[w] for w in message_words(text) if w in vocabulary]
        X[row, columns] = 1.0
    return X


@torch.no_grad()
def mean_pooled(
    gpt: GPT, idx: torch.Tensor, attention_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """The average of the GPT's hidden states over each row's real tokens: ``(B, T)`` ->
    ``(B, C)``.

    The hidden states are :meth:`GPT.hidden_states <gptcourse.model.GPT.hidden_states>`
    (after the final layer norm), so a text gets the same vector with any amount of
    padding on either side. The model is put in eval mode (no dropout), then back in its mode.
    """
    was_training = gpt.training
    gpt.eval()
    try:
        h = gpt.hidden_states(idx, attention_mask=attention_mask)  # (B, T, C)
    finally:
        gpt.train(was_training)
    if attention_mask is None:
        return h.mean(1)
    weights = attention_mask.to(h.dtype)[..., None]  # (B, T, 1): 1 at real tokens
    return (h * weights).sum(1) / weights.sum(1).clamp(min=1)


def nearest_neighbour_accuracy(
    train: torch.Tensor,
    train_labels: torch.Tensor,
    test: torch.Tensor,
    test_labels: torch.Tensor,
    k: int = 5,
) -> float:
    """The share of ``test`` vectors whose ``k`` nearest ``train`` vectors (by cosine
    similarity) vote for their label.

    Args:
        train: ``(N, D)`` vectors with ``train_labels`` ``(N,)``, integer classes.
        test: ``(M, D)`` vectors with ``test_labels`` ``(M,)``.
        k: how many neighbours vote; a tie in the vote goes to the smaller class id.

    Among equally similar training vectors the earlier ones count as nearer. An all-zero
    vector (a text without a known word) is equally similar, 0, to every vector.
    """
    if train.shape[0] != train_labels.shape[0] or test.shape[0] != test_labels.shape[0]:
        raise ValueError(
            f"{train.shape[0]} training vectors with {train_labels.shape[0]} labels, "
            f"{test.shape[0]} test vectors with {test_labels.shape[0]} labels: "
            "they must be as many"
        )
    if not 1 <= k <= train.shape[0]:
        raise ValueError(f"k must be between 1 and the {train.shape[0]} training vectors, got {k}")
    similarity = F.normalize(test.float(), dim=-1) @ F.normalize(train.float(), dim=-1).T
    order = similarity.sort(dim=-1, descending=True, stable=True).indices
    nearest = order[:, :k]  # (M, k): the k most similar, ties to the earlier
    votes = F.one_hot(train_labels[nearest], int(train_labels.max()) + 1).sum(1)  # (M, K)
    predicted = votes.argmax(-1)  # the first maximum: ties go to the smaller id
    return (predicted == test_labels).float().mean().item()
