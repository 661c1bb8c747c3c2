"""Fine-tuning: the classifier reads the last real token, freezing and LoRA train what they
say, GPT-1's auxiliary loss is what it says, and the SMS data is balanced and split."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gptcourse.finetune import (
    GPTClassifier,
    accuracy,
    count_trainable,
    finetune,
    freeze_all_but_head,
    last_token_index,
)
from gptcourse.lora import (
    LoRALinear,
    apply_lora,
    lora_parameters,
    merge_lora,
    unmerge_lora,
)
from gptcourse.model import GPT, GPTConfig
from gptcourse.sms_spam import (
    LABELS,
    SMSDataset,
    balance,
    load_messages,
    load_splits,
    make_loader,
    pad_batch,
    split,
)

V = 40


def _gpt(seed: int = 0, **changes) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig.from_preset("gpt-nano", vocab_size=V, block_size=24, **changes))


def _texts(seed: int = 0) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(1, V, (int(n),), generator=g).tolist() for n in (5, 9, 2, 7)]


# --- the head on the last real token --------------------------------------------------------


def test_last_token_index_for_right_left_and_no_padding():
    mask = torch.tensor([[1, 1, 0, 0], [0, 0, 1, 1], [1, 1, 1, 1], [1, 0, 0, 0]])
    assert last_token_index(mask).tolist() == [1, 3, 3, 0]


def test_hidden_states_are_the_models_own_up_to_its_head():
    gpt = _gpt().eval()
    batch = pad_batch([(t, 0) for t in _texts()], pad_id=0, side="left")
    logits, _ = gpt(batch.input_ids, attention_mask=batch.attention_mask)
    mine = gpt.lm_head(gpt.hidden_states(batch.input_ids, attention_mask=batch.attention_mask))
    torch.testing.assert_close(mine, logits, atol=0, rtol=0)
    torch.testing.assert_close(
        gpt.lm_head(gpt.hidden_states(batch.input_ids)), gpt(batch.input_ids)[0], atol=0, rtol=0
    )


@pytest.mark.parametrize("positions", ["learned", "rotary"])
def test_right_and_left_padding_give_the_logits_of_each_text_alone(positions):
    classifier = GPTClassifier(_gpt(positions=positions)).eval()
    texts = _texts()
    alone = torch.cat([classifier(torch.tensor([t]))[0] for t in texts])  # (4, 2)
    for side in ("right", "left"):
        batch = pad_batch([(t, 0) for t in texts], pad_id=0, side=side)
        logits, _ = classifier(batch.input_ids, batch.attention_mask)
        torch.testing.assert_close(logits, alone, atol=1e-5, rtol=1e-5)
    # Without the mask, the head would read padding: the right-padded logits change.
    right = pad_batch([(t, 0) for t in texts], pad_id=0, side="right")
    assert not torch.allclose(classifier(right.input_ids)[0], alone, atol=1e-3)


def test_the_auxiliary_loss_adds_lambda_times_the_language_model_loss():
    gpt = _gpt().eval()
    classifier = GPTClassifier(gpt).eval()
    text = torch.tensor([_texts()[1]])
    label = torch.tensor([1])
    logits, task = classifier(text, labels=label)
    _, total = classifier(text, labels=label, lm_weight=0.5)
    _, lm = gpt(text[:, :-1], text[:, 1:])  # the model's own next-token loss
    torch.testing.assert_close(task, F.cross_entropy(logits, label))
    torch.testing.assert_close(total, task + 0.5 * lm)
    # Padding is no token to predict: the same text padded has the same losses.
    batch = pad_batch([(_texts()[1], 1), (_texts()[0], 0)], pad_id=0, side="right")
    _, padded = classifier(batch.input_ids[:1], batch.attention_mask[:1], label, lm_weight=0.5)
    torch.testing.assert_close(padded, total, atol=1e-6, rtol=1e-6)


# --- what trains ---------------------------------------------------------------------------


def test_freezing_all_but_the_head_trains_the_head_alone():
    classifier = freeze_all_but_head(GPTClassifier(_gpt()))
    trainable, total = count_trainable(classifier)
    assert trainable == classifier.head.weight.numel() + classifier.head.bias.numel()
    assert total == classifier.gpt.num_params() + trainable
    batch = pad_batch([(t, i % 2) for i, t in enumerate(_texts())], pad_id=0)
    classifier(*batch, lm_weight=0.5)[1].backward()
    assert all(p.grad is None for p in classifier.gpt.parameters())
    assert classifier.head.weight.grad is not None


def test_lora_starts_as_the_base_layer_and_counts_r_times_in_plus_out():
    base = nn.Linear(16, 32)
    layer = LoRALinear(base, r=4, alpha=8)
    x = torch.randn(3, 16)
    assert torch.equal(layer(x), base(x))
    assert count_trainable(layer) == (4 * (16 + 32), 4 * (16 + 32) + 16 * 32 + 32)
    assert not base.weight.requires_grad and layer.scaling == 2.0


def test_lora_trains_only_the_adapters_and_merging_is_the_same_model():
    classifier = GPTClassifier(_gpt())
    names = apply_lora(classifier.gpt, r=2, alpha=4)
    assert names == [f"blocks.{i}.attn.{p}" for i in range(3) for p in ("qkv_proj", "out_proj")]
    trainable = {n for n, p in classifier.named_parameters() if p.requires_grad}
    assert trainable == {n for n, _ in classifier.named_parameters() if "lora_" in n or "head" in n}
    assert count_trainable(classifier)[0] == (
        sum(p.numel() for p in lora_parameters(classifier)) + 48 * 2 + 2
    )
    base = {n: p.clone() for n, p in classifier.gpt.named_parameters() if "lora_" not in n}
    data = [(t, i % 2) for i, t in enumerate(_texts())]
    finetune(classifier, [pad_batch(data, pad_id=0)] * 3, epochs=2, lr=1e-2)
    for name, tensor in classifier.gpt.named_parameters():
        if "lora_" not in name:
            assert torch.equal(tensor, base[name]), name  # bit-identical
    assert any(p.abs().sum() > 0 for n, p in classifier.named_parameters() if "lora_B" in n)

    classifier.eval()
    batch = pad_batch(data, pad_id=0)
    adapted = classifier(batch.input_ids, batch.attention_mask)[0]
    merge_lora(classifier)
    merged = classifier(batch.input_ids, batch.attention_mask)[0]
    torch.testing.assert_close(merged, adapted, atol=1e-5, rtol=1e-5)
    changed = classifier.gpt.blocks[0].attn.qkv_proj.base.weight
    assert not torch.equal(changed, base["blocks.0.attn.qkv_proj.base.weight"])
    unmerge_lora(classifier)
    for name, tensor in classifier.gpt.named_parameters():
        if "lora_" not in name:
            torch.testing.assert_close(tensor, base[name], atol=1e-6, rtol=0)


def test_lora_dropout_acts_on_the_adapter_path_in_training_only():
    layer = LoRALinear(nn.Linear(8, 8), r=2, dropout=0.5)
    nn.init.normal_(layer.lora_B)
    x = torch.randn(4, 8)
    torch.manual_seed(0)
    a, b = layer(x), layer(x)
    assert not torch.equal(a, b)
    layer.eval()
    assert torch.equal(layer(x), layer(x))


def test_apply_lora_names_the_linear_layers_when_nothing_matches():
    with pytest.raises(ValueError, match="no nn.Linear of the model matches.*c_fc, c_proj"):
        apply_lora(_gpt(), targets=("attn.query",))


# --- the loop ------------------------------------------------------------------------------


def test_finetuning_learns_a_toy_task_and_accuracy_counts_it():
    # Class 1 when the text holds token 7: the last token has seen every token.
    g = torch.Generator().manual_seed(0)
    data = []
    for i in range(64):
        ids = torch.randint(8, V, (int(torch.randint(3, 9, (1,), generator=g)),), generator=g)
        if i % 2:
            ids[torch.randint(len(ids), (1,), generator=g)] = 7
        data.append((ids.tolist(), i % 2))
    batches = [pad_batch(data[i : i + 16], pad_id=0) for i in range(0, 64, 16)]
    classifier = GPTClassifier(_gpt())
    before = accuracy(classifier, batches)
    history = finetune(classifier, batches, batches, epochs=15, lr=3e-3)
    assert len(history.losses) == 15 * 4 and len(history.val_accuracy) == 15
    assert before < 0.8 and history.val_accuracy[-1] >= 0.95
    assert accuracy(classifier, batches) == history.val_accuracy[-1]


def test_a_pretrained_gpt2_folder_loads_through_from_pretrained(tmp_path):
    gpt = _gpt().eval()
    gpt.to_transformers().save_pretrained(tmp_path)
    loaded = GPT.from_pretrained(str(tmp_path)).eval()
    torch.manual_seed(1)
    ours = GPTClassifier(gpt).eval()
    torch.manual_seed(1)
    theirs = GPTClassifier(loaded).eval()
    batch = pad_batch([(t, 0) for t in _texts()], pad_id=0)
    torch.testing.assert_close(
        theirs(batch.input_ids, batch.attention_mask)[0],
        ours(batch.input_ids, batch.attention_mask)[0],
    )


# --- the SMS Spam Collection ---------------------------------------------------------------


def test_the_collection_balanced_and_split_70_10_20():
    messages = load_messages()
    assert len(messages) == 5574 and sum(label for _, label in messages) == 747
    splits = load_splits(seed=123)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (1045, 149, 300)
    everything = splits.train + splits.val + splits.test
    assert sum(label for _, label in everything) == 747  # every spam, as many ham
    assert len(everything) == 2 * 747
    assert load_splits(seed=123) == splits
    assert load_splits(seed=124).train != splits.train
    assert LABELS == ("ham", "spam")


def test_balance_and_split_on_a_small_list():
    examples = [(f"ham {i}", 0) for i in range(10)] + [("spam a", 1), ("spam b", 1)]
    kept = balance(examples, seed=0)
    assert sorted(label for _, label in kept) == [0, 0, 1, 1]
    assert split(list(range(10)), (0.5, 0.2, 0.3)) == ([0, 1, 2, 3, 4], [5, 6], [7, 8, 9])
    with pytest.raises(ValueError, match="summing to 1"):
        split(list(range(10)), (0.5, 0.5, 0.5))


def test_dataset_and_loader_cut_and_pad():
    from gptcourse.char_tokenizer import CharTokenizer

    tokenizer = CharTokenizer.from_text("abcdefgh ")
    dataset = SMSDataset([("abc", 0), ("abcdefgh", 1)], tokenizer, max_length=5)
    assert dataset[1] == (tokenizer.encode("abcde"), 1)
    (batch,) = list(make_loader(dataset, 2, pad_id=0, side="left"))
    assert batch.attention_mask.tolist() == [[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]]
    assert batch.labels.tolist() == [0, 1]
    with pytest.raises(ValueError, match="side must be 'right' or 'left'"):
        pad_batch([([1], 0)], pad_id=0, side="middle")
