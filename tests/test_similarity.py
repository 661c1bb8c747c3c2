"""Texts as vectors: words and their vocabulary, word-presence vectors, mean-pooled hidden
states (padding changes nothing), and nearest-neighbour accuracy against a brute-force
count."""

from __future__ import annotations

import pytest
import torch

from gptcourse.model import GPT, GPTConfig
from gptcourse.similarity import (
    bag_of_words,
    mean_pooled,
    message_words,
    nearest_neighbour_accuracy,
    word_vocabulary,
)

pytestmark = pytest.mark.usefixtures("one_cpu_thread")


def test_words_and_vocabulary():
    assert message_words("Txt STOP to 87121, win $100 or £50!") == [
        "txt",
        "stop",
        "to",
        "87121",
        "win",
        "$100",
        "or",
        "£50",
    ]
    texts = ["a b b c", "b c", "c d", "e"]  # a word counts once per text
    assert word_vocabulary(texts) == {"b": 0, "c": 1}
    assert word_vocabulary(texts, min_count=1) == {w: i for i, w in enumerate("abcde")}
    with pytest.raises(ValueError, match="min_count must be at least 1, got 0"):
        word_vocabulary(texts, min_count=0)


def test_bag_of_words_marks_presence_only():
    vocabulary = {"call": 0, "free": 1, "now": 2}
    X = bag_of_words(["FREE free call", "nothing here", "now"], vocabulary)
    assert X.tolist() == [[1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]]


def _gpt() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig.from_preset("gpt-nano", vocab_size=20, block_size=16))


def test_mean_pooled_is_the_mean_over_real_tokens_whatever_the_padding():
    gpt = _gpt().train()  # mean_pooled must switch dropout off and restore the mode
    text = torch.tensor([[3, 4, 5, 6]])
    with torch.no_grad():
        reference = gpt.eval().hidden_states(text).mean(1)  # (1, C)
    gpt.train()
    ones = torch.ones(1, 4, dtype=torch.long)
    pad, zeros = torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 3, dtype=torch.long)
    alone = mean_pooled(gpt, text)
    right = mean_pooled(gpt, torch.cat([text, pad], 1), torch.cat([ones, zeros], 1))
    left = mean_pooled(gpt, torch.cat([pad, text], 1), torch.cat([zeros, ones], 1))
    assert gpt.training
    assert alone.shape == (1, gpt.config.n_embd)
    for pooled in (alone, right, left):
        torch.testing.assert_close(pooled, reference, atol=1e-5, rtol=1e-5)


def test_nearest_neighbour_accuracy_matches_a_brute_force_vote():
    g = torch.Generator().manual_seed(0)
    train, test = torch.randn(40, 6, generator=g), torch.randn(15, 6, generator=g)
    train_labels = torch.randint(0, 3, (40,), generator=g)
    test_labels = torch.randint(0, 3, (15,), generator=g)
    for k in (1, 3, 5):
        right = 0
        for x, label in zip(test, test_labels, strict=True):
            cosine = [torch.dot(x, t) / (x.norm() * t.norm()) for t in train]
            nearest = sorted(range(len(train)), key=lambda i: -cosine[i])[:k]
            votes = [sum(train_labels[i] == c for i in nearest) for c in range(3)]
            right += int(max(range(3), key=lambda c: (votes[c], -c)) == label)
        got = nearest_neighbour_accuracy(train, train_labels, test, test_labels, k=k)
        assert got == pytest.approx(right / len(test))


def test_nearest_neighbour_accuracy_of_separated_classes_and_ties():
    train = torch.tensor([[1.0, 0.0], [2.0, 0.1], [0.0, 1.0], [0.1, 3.0]])
    labels = torch.tensor([0, 0, 1, 1])
    test = torch.tensor([[5.0, 1.0], [1.0, 4.0]])
    assert nearest_neighbour_accuracy(train, labels, test, torch.tensor([0, 1]), k=1) == 1.0
    assert nearest_neighbour_accuracy(train, labels, test, torch.tensor([1, 0]), k=1) == 0.0
    # k = 4: two votes each, the tie goes to class 0
    assert nearest_neighbour_accuracy(train, labels, test, torch.tensor([0, 0]), k=4) == 1.0


def test_nearest_neighbour_accuracy_refuses_bad_input():
    train, labels = torch.zeros(3, 2), torch.zeros(3, dtype=torch.long)
    with pytest.raises(ValueError, match="3 training vectors with 2 labels"):
        nearest_neighbour_accuracy(train, labels[:2], train, labels)
    with pytest.raises(ValueError, match="k must be between 1 and the 3 training vectors, got 4"):
        nearest_neighbour_accuracy(train, labels, train, labels, k=4)
