# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Fine-tuning
#
# A pretrained GPT has learned from raw text what tends to follow what. This chapter
# turns one into a classifier: given a text message, is it spam? It adds a
# classification head to the model's last token, then compares three ways of training it
# (the head alone, every weight, and LoRA), against the same model without pretraining
# and against a classic bag-of-words baseline, and looks at what the classifier gets
# wrong.
#
# ```{admonition} What you will be able to do
# - build a classifier from a GPT with a head on the last real token, with right or left
#   padding;
# - fine-tune it three ways (a frozen backbone and a new head, all the weights with
#   GPT-1's auxiliary language-model loss as an option, and LoRA) and count what each
#   trains;
# - compute how many parameters LoRA trains, and merge its adapters into the weights;
# - measure what pretraining is worth, beside a bag-of-words baseline, with a confusion
#   matrix and the misclassified examples;
# - use `gptcourse.finetune` to fine-tune OpenAI's GPT-2 the same way.
# ```

# %%

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from gptcourse import data, gpu_results, plotting
from gptcourse.batches import split_text
from gptcourse.char_tokenizer import CharTokenizer
from gptcourse.corpus import Corpus
from gptcourse.finetune import (
    GPTClassifier,
    accuracy,
    finetune,
    freeze_all_but_head,
    last_token_index,
)
from gptcourse.glue import glue
from gptcourse.lora import LoRALinear, apply_lora, merge_lora
from gptcourse.model import GPT
from gptcourse.similarity import bag_of_words, message_words, word_vocabulary
from gptcourse.sms_spam import (
    LABELS,
    SMSDataset,
    load_messages,
    load_splits,
    make_loader,
)
from gptcourse.train_config import get_config
from gptcourse.trainer import Trainer

# Models this small train fastest on one thread: more only add synchronisation.
torch.set_num_threads(1)

# %% [markdown]
# ## What is the task?
#
# The SMS Spam Collection {cite:p}`almeida2011contributions` holds 5,574 text messages
# labelled "ham" (wanted) or "spam". Seven in eight are ham, so a classifier that always
# answers "ham" would score 87%. To make accuracy mean something, the course keeps every
# spam message and as many ham messages drawn at random, and splits them 70/10/20 into
# training, validation and test sets (`gptcourse.sms_spam.load_splits`):

# %%
messages = load_messages()
spam_share = sum(label for _, label in messages) / len(messages)
splits = load_splits(seed=123)
print(f"{len(messages):,} messages, {spam_share:.1%} spam")
for name in ("train", "val", "test"):
    part = getattr(splits, name)
    n_spam = sum(label for _, label in part)
    print(f"{name:5}: {len(part):5} messages, {n_spam / len(part):.0%} spam")
for text, label in splits.train[:4]:
    print(f"{LABELS[label]:4}  {text[:80]}")

# %% [markdown]
# The validation set chooses between settings; the test set is read once per method, at
# the end.
#
# ## Which model do we fine-tune?
#
# At the scale of a CPU, a small character-level GPT pretrained briefly on Tiny
# Shakespeare, as in {doc}`chapter 9 <../chapters/09_pretraining>`: 3 layers, 4 heads,
# width 96 and a context of 64 characters, trained for 300 steps. A message is cut to
# its first 64 characters, which hold all of most messages and the opening of every
# spam. Its vocabulary is Shakespeare's characters plus those that only messages use
# (digits other than 3, `£`, `@`, ...); their embeddings stay as initialised during
# pretraining and are learned, if at all, during fine-tuning. The GPU run of the last
# section fine-tunes the GPT-2-tokenised model of chapter 9 and OpenAI's GPT-2 instead.

# %%
text = data.load_text("tinyshakespeare")
message_chars = {ch for message, _ in messages for ch in message}
tok = CharTokenizer(set(text) | message_chars)
train_text, val_text = split_text(text, 0.1)
ids = [torch.tensor(tok.encode(t), dtype=torch.int32) for t in (train_text, val_text)]
corpus = Corpus(*ids, tokenizer=tok)
print(
    f"{len(set(text))} characters in Shakespeare, {tok.vocab_size} with the messages'"
)

pretrain = get_config(
    "shakespeare-char-cpu",
    max_steps=300,
    warmup_steps=30,
    eval_interval=300,
    sample_tokens=0,
    progress=False,
)
pretrainer = Trainer(pretrain, corpus=corpus)

# %% tags=["nbval-ignore-output"]
result = pretrainer.fit()
pretrained_state = {k: v.clone() for k, v in pretrainer.model.state_dict().items()}
model_config = pretrainer.model_config
print(
    f"pretrained {result.step} steps in {result.time_s:.0f} s on this machine: "
    f"validation loss {result.val_loss:.2f}"
)
glue("pretrain_val", f"{result.val_loss:.2f}")

# %%
assert result.val_loss < 2.8
print(f"{pretrainer.model.num_params():,} parameters; validation loss below 2.8 nats")

# %% [markdown]
# Three hundred steps bring the model to {glue:text}`pretrain_val` nats a character on
# held-out Shakespeare: it knows spelling and the shape of words, which is all a model
# this size learns in a minute.
#
# ## Where does a GPT put its answer?
#
# In its last token. A GPT is causal: the output vector at position $t$ has seen the
# tokens up to $t$ only, so the one vector that has read the whole message is the last
# one. GPT-1 {cite:p}`radford2018improving` classified with a single linear layer on it;
# `gptcourse.finetune.GPTClassifier` is that model, a new
# {term}`classification head` `nn.Linear(n_embd, 2)` on the last *real* token.
#
# "Real" because messages differ in length, and a batch pads the short ones to the
# longest with a padding token, on the right or on the left, with an attention mask that
# marks real tokens 1 and padding 0 (`gptcourse.sms_spam.pad_batch`). The last
# real token is then not at position $T - 1$ for every row; the mask says where it is:

# %%
ids = [tok.encode("Free entry!"), tok.encode("ok")]
for side in ("right", "left"):
    T = max(map(len, ids))
    rows = [
        i + [0] * (T - len(i)) if side == "right" else [0] * (T - len(i)) + i
        for i in ids
    ]
    mask = torch.tensor(
        [
            [
                int(p < len(i)) if side == "right" else int(p >= T - len(i))
                for p in range(T)
            ]
            for i in ids
        ]
    )
    print(
        f"{side:5} padding: mask {mask[1].tolist()}, "
        f"last real tokens at {last_token_index(mask).tolist()}"
    )
    assert last_token_index(mask).tolist() == [10, 1 if side == "right" else 10]

# %% [markdown]
# Padding must also leave the real tokens' vectors alone: the attention mask keeps every
# token from attending to padding, and positions count real tokens only, so that a
# message gets the same logits alone and in a padded batch, on either side. Reading
# position $T-1$ regardless is the classic bug: with right padding it classifies a
# padding token.

# %%
torch.manual_seed(0)
classifier = GPTClassifier(GPT(model_config), num_classes=2).eval()
message = torch.tensor([tok.encode("WINNER!! Call now")])
pad = torch.zeros(1, 5, dtype=torch.long)
ones, zeros = torch.ones_like(message), torch.zeros_like(pad)
with torch.no_grad():
    alone, _ = classifier(message)
    right, _ = classifier(torch.cat([message, pad], 1), torch.cat([ones, zeros], 1))
    left, _ = classifier(torch.cat([pad, message], 1), torch.cat([zeros, ones], 1))
    h = classifier.gpt.hidden_states(torch.cat([message, pad], 1))  # no mask: (1, T, C)
    naive = classifier.head(h[:, -1])  # position T - 1, a padding token
torch.testing.assert_close(right, alone, atol=1e-5, rtol=1e-5)
torch.testing.assert_close(left, alone, atol=1e-5, rtol=1e-5)
assert not torch.allclose(naive, alone, atol=1e-3)
print("right- and left-padded: the logits of the message alone (to 1e-5)")
print("position T - 1 without the mask: other logits")

# %% [markdown]
# ## Which weights should fine-tuning change?
#
# {term}`Fine-tuning <fine-tuning>` starts from the pretrained weights and trains on the
# task. How much of the model it trains is a choice:
#
# (a) **The head alone**, on a frozen backbone: the GPT is a fixed feature extractor and
#     only $2C + 2$ numbers train. Cheap, and as good as the features are.
#
# (b) **Every weight**, as GPT-1 did {cite:p}`radford2018improving`, optionally keeping
#     the language-model loss on the task's own text as an auxiliary objective,
#     $\mathcal{L} = \mathcal{L}_\text{task} + \lambda\, \mathcal{L}_\text{LM}$ with
#     $\lambda = 0.5$, which GPT-1 found to help larger datasets and speed up
#     convergence.
#
# (c) **LoRA** {cite:p}`hu2021lora`: freeze every weight $W$ and learn a low-rank change
#     $\frac{\alpha}{r} BA$ beside some of them, $r(d_\text{in} + d_\text{out})$ numbers
#     instead of $d_\text{in} d_\text{out}$.
#
# ```{admonition} A common mistake: "fine-tuning freezes the pretrained model"
# :class: warning
# Popular accounts (and this course's first outline) describe fine-tuning as freezing
# the pretrained model and training a new output layer. GPT-1, which introduced
# fine-tuning a generative pretrained Transformer, trained *all* the weights, with an
# auxiliary language-modelling loss {cite:p}`radford2018improving`. Freezing the
# backbone is one option among several, the cheapest and usually the weakest, as the
# comparison below measures: the head alone trains a few hundred numbers, full
# fine-tuning every one.
# ```
#
# All three are one classifier with different parameters frozen, trained by the same
# loop (`gptcourse.finetune.finetune`: AdamW, clipping, an accuracy on the
# validation set after each epoch). Each run starts from the same pretrained weights and
# sees the same batches:

# %%
datasets = {
    name: SMSDataset(getattr(splits, name), tok, max_length=64)
    for name in ("train", "val", "test")
}


def loaders() -> dict:
    """New loaders: every run sees the same batches in the same order."""
    return {
        name: make_loader(d, 32, pad_id=0, shuffle=name == "train", seed=0)
        for name, d in datasets.items()
    }


def classifier_from(state: dict | None, method: str, seed: int = 0) -> GPTClassifier:
    """A classifier on the pretrained weights (or random ones, state=None)."""
    torch.manual_seed(seed)
    gpt = GPT(model_config)
    if state is not None:
        gpt.load_state_dict(state)
    classifier = GPTClassifier(gpt, num_classes=2)
    if method == "head":
        freeze_all_but_head(classifier)
    elif method == "lora":
        apply_lora(classifier.gpt, r=8, alpha=16)
        classifier.head.requires_grad_(True)  # the new head trains too
    return classifier


# %% [markdown]
# How many numbers each trains, and LoRA's count by its formula: every block's attention
# has two adapted layers, $W_{QKV}$ ($C \to 3C$) and the output projection ($C \to C$),
# so $r\,(C + 3C) + r\,(C + C) = 6rC$ per block, plus the head's $2C + 2$:

# %%
C, L, r = model_config.n_embd, model_config.n_layer, 8
counts = {}
for method in ("head", "full", "lora"):
    trainable, total = classifier_from(pretrained_state, method).count_trainable()
    counts[method] = trainable
    print(
        f"{method:5}: {trainable:9,} of {total:,} parameters train "
        f"({trainable / total:.1%})"
    )
assert counts["head"] == 2 * C + 2
assert counts["lora"] == L * 6 * r * C + 2 * C + 2
glue("n_head", f"{counts['head']:,}")
glue("n_lora", f"{counts['lora']:,}")
glue("n_full", f"{counts['full']:,}")

# %% [markdown]
# ## How do the three compare?
#
# Each method trains for 2 epochs with a learning rate suited to it (larger for the few
# parameters of the head and the adapters), and full fine-tuning also runs from random
# weights, to show what pretraining is worth. The accuracies, times and losses below are
# this machine's: training on another CPU rounds differently and ends a message or two
# apart.

# %% tags=["nbval-ignore-output"]
METHODS = {  # name: (starting weights, what trains, learning rate, GPT-1's lambda)
    "head": ("pretrained", "head", 3e-3, 0.0),
    "full": ("pretrained", "full", 1e-3, 0.0),
    "full + LM loss": ("pretrained", "full", 1e-3, 0.5),
    "LoRA": ("pretrained", "lora", 3e-3, 0.0),
    "full, random init": ("random", "full", 1e-3, 0.0),
}
runs = {}
for name, (init, method, lr, lm_weight) in METHODS.items():
    classifier = classifier_from(
        pretrained_state if init == "pretrained" else None, method
    )
    data_ = loaders()
    history = finetune(
        classifier, data_["train"], data_["val"], epochs=2, lr=lr, lm_weight=lm_weight
    )
    test = accuracy(classifier, data_["test"])
    runs[name] = dict(classifier=classifier, history=history, test=test)
    trainable, _ = classifier.count_trainable()
    print(
        f"{name:18} trainable {trainable:7,}  validation {history.val_accuracy[-1]:.1%}"
        f"  test {test:.1%}  {history.time_s:5.1f} s"
    )
KEYS = {
    "head": "head",
    "full": "full",
    "full + LM loss": "full_lm",
    "LoRA": "lora",
    "full, random init": "random",
}
for name, run in runs.items():
    glue(f"acc_{KEYS[name]}", f"{run['test']:.1%}")
best = max(runs, key=lambda n: runs[n]["test"])
glue("best_method", best)

# %% [markdown]
# The best is *{glue:text}`best_method`*. Training every weight reaches
# {glue:text}`acc_full` on the test set, the head alone {glue:text}`acc_head`, LoRA
# {glue:text}`acc_lora` with {glue:text}`n_lora` trained numbers instead of
# {glue:text}`n_full`; GPT-1's auxiliary loss gives {glue:text}`acc_full_lm`. From
# random weights, full fine-tuning reaches {glue:text}`acc_random`. What holds
# on every CPU:

# %%
tests = {name: run["test"] for name, run in runs.items()}
assert all(acc > 0.65 for acc in tests.values()), tests
assert tests["full"] > tests["head"], tests
print(
    "every method above 65% on the balanced test set; "
    "training every weight beats training the head alone"
)

# %% [markdown]
# At this scale, full fine-tuning from random weights does about as well as from the
# pretrained ones: a model this small, pretrained for a minute on plays, carries little
# that helps read text messages, and most of what the classifier knows it learns from
# the 1,045 training messages. The head alone, on features learned from Shakespeare, is
# the weakest. The GPU run of the last section repeats the comparison with a model
# pretrained at full scale.
#
# ## What does LoRA leave behind?
#
# Only the adapters trained; every original weight is unchanged. And the adapters can be
# added into the weights, $W \leftarrow W + \frac{\alpha}{r} BA$
# (`gptcourse.lora.merge_lora`), so that the fine-tuned model runs exactly as
# fast as the original, with the same outputs:

# %%
lora = runs["LoRA"]["classifier"].eval()
adapted = [m for m in lora.modules() if isinstance(m, LoRALinear)]
qkv = lora.gpt.blocks[0].attn.qkv_proj  # a LoRALinear now
same_base = torch.equal(
    qkv.base.weight, pretrained_state["blocks.0.attn.qkv_proj.weight"]
)
batch = next(iter(loaders()["test"]))
with torch.no_grad():
    before, _ = lora(batch.input_ids, batch.attention_mask)
    merge_lora(lora)
    after, _ = lora(batch.input_ids, batch.attention_mask)
largest = (after - before).abs().max().item()
assert same_base and largest < 1e-4
print(f"{len(adapted)} adapted layers; the pretrained weights untouched: {same_base}")
print("merged into the weights: the same logits, largest difference below 1e-4")

# %% [markdown]
# ## Is a GPT needed at all?
#
# A fair comparison needs a simple baseline: a **bag of words** (each message as the set
# of words it contains) and a logistic regression on it. Spam has telltale words
# ("free", "claim", "prize", "txt", numbers), and a linear model on their presence is
# the classic spam filter. scikit-learn is not among the package's dependencies, so
# it is written in PyTorch, on the words and vectors of `gptcourse.similarity`: one
# linear layer and the binary cross-entropy, full batch, with L2 regularisation.


# %%
# A message's words keep digits and currency signs (`£900`): in texts they say spam.
print(message_words("WINNER!! Claim £900 now"))
# The vocabulary: the words of at least two training messages, sorted.
vocab = word_vocabulary((message for message, _ in splits.train), min_count=2)


def bag(examples) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, |vocab|) word-presence features and (N,) labels."""
    X = bag_of_words([message for message, _ in examples], vocab)
    return X, torch.tensor([label for _, label in examples], dtype=torch.float)


# %% tags=["nbval-ignore-output"]
(X, y), (X_test, y_test) = bag(splits.train), bag(splits.test)
torch.manual_seed(0)
logreg = torch.nn.Linear(len(vocab), 1)
opt = torch.optim.LBFGS(
    logreg.parameters(), max_iter=200, line_search_fn="strong_wolfe"
)


def closure():
    opt.zero_grad()
    loss = F.binary_cross_entropy_with_logits(logreg(X).squeeze(1), y)
    loss = loss + 1e-3 * logreg.weight.pow(2).sum()
    loss.backward()
    return loss


opt.step(closure)
with torch.no_grad():
    bow_test = ((logreg(X_test).squeeze(1) > 0).float() == y_test).float().mean().item()
weights = logreg.weight.detach()[0]
spammy = [w for w, i in sorted(vocab.items(), key=lambda kv: -weights[kv[1]].item())][
    :8
]
print(f"{len(vocab):,} words seen twice or more; test accuracy {bow_test:.1%}")
print("the words that most say spam:", ", ".join(spammy))
glue("acc_bow", f"{bow_test:.1%}")
assert bow_test > 0.9 and bow_test >= max(tests.values())

# %% [markdown]
# The bag of words reaches {glue:text}`acc_bow`, as good as or better than every GPT of
# this size: on a task decided by a few words, counting them is hard to beat, and a
# small character-level model must first learn what a word is. What a large pretrained
# model adds shows on tasks where meaning is not in single words, and in the GPU run
# below.
#
# ## What does the classifier get wrong?
#
# The confusion matrix counts, for each true class, how the test messages were
# classified ({numref}`fig-confusion`): the diagonal is right, the corners are the two
# kinds of error. For a spam filter they cost differently: a ham message lost in the
# spam folder is worse than a spam message let through.


# %% tags=["nbval-ignore-output"]
def predictions(classifier, loader) -> torch.Tensor:
    classifier.eval()
    with torch.no_grad():
        return torch.cat(
            [classifier(b.input_ids, b.attention_mask)[0].argmax(-1) for b in loader]
        )


best_classifier = runs[best]["classifier"]
predicted = predictions(best_classifier, loaders()["test"])
truth = torch.tensor([label for _, label in splits.test])
confusion = torch.zeros(2, 2, dtype=torch.long)
for t, p in zip(truth.tolist(), predicted.tolist(), strict=True):
    confusion[t, p] += 1
assert confusion.sum() == len(splits.test)
print(f"{best}: {confusion.trace().item()} of {len(splits.test)} right")

# %% mystnb={"figure": {"caption": "The confusion matrix of the best GPT classifier on the 300 test messages: rows are the true classes, columns the predicted ones. The diagonal holds the messages classified right; the off-diagonal cells the two kinds of error.", "name": "fig-confusion"}, "image": {"alt": "A 2 by 2 grid of counts with a colour bar, true class down the side (ham, spam) and predicted class along the bottom (ham, spam). The two diagonal cells, darker, hold most of the 300 messages; the two off-diagonal cells, paler, hold the errors."}}
plotting.use_style()
fig, ax = plt.subplots(figsize=(4.5, 3.5))
plotting.heatmap(ax, confusion.numpy(), label="messages", cmap="Blues")
for i in range(2):
    for j in range(2):
        n = confusion[i, j].item()
        colour = "white" if n > confusion.max() / 2 else "black"
        ax.text(j, i, str(n), ha="center", va="center", color=colour)
ax.set_xticks([0, 1], LABELS)
ax.set_yticks([0, 1], LABELS)
ax.set_xlabel("predicted")
ax.set_ylabel("true")
plt.show()

# %% [markdown]
# Some of the messages it got wrong (this machine's run):

# %% tags=["nbval-ignore-output"]
wrong = (predicted != truth).nonzero().flatten().tolist()
for i in wrong[:6]:
    message, label = splits.test[i]
    print(f"true {LABELS[label]:4}, said {LABELS[1 - label]:4}: {message[:100]}")

# %% [markdown]
# Reading the errors is the quickest way to see what a classifier has not learned;
# compare them with the words that most say spam to the bag of words, above.
#
# ## Fine-tuning OpenAI's GPT-2
#
# With a network connection, the same classifier and loop fine-tune OpenAI's GPT-2
# {cite:p}`radford2019language`, 124 million parameters pretrained on 40 GB of web text,
# with GPT-2's tokenizer. The loading goes through `transformers`
# (`gptcourse.model.GPT.from_pretrained`; the course's tests load it from a
# locally saved model). It is not run here (no network, and an hour of CPU):
#
# ```python
# from gptcourse.corpus import load_tokenizer
# from gptcourse.gpt2_tokenizer import ENDOFTEXT_ID
#
# gpt2 = GPT.from_pretrained("gpt2")   # downloads 500 MB the first time
# tokenizer = load_tokenizer("gpt2")
# sets = {name: SMSDataset(getattr(splits, name), tokenizer, max_length=256)
#         for name in ("train", "val", "test")}
# data_ = {name: make_loader(d, 16, pad_id=ENDOFTEXT_ID, shuffle=name == "train")
#          for name, d in sets.items()}
# classifier = GPTClassifier(gpt2, num_classes=2).to("cuda")
# history = finetune(classifier, data_["train"], data_["val"], epochs=3, lr=5e-5,
#                    lm_weight=0.5, device="cuda")
# print(accuracy(classifier, data_["test"], device="cuda"))
# ```
#
# ## What does the GPU run reach?
#
# `make gpu` runs the comparison at full scale: each method from the GPT-2-tokenised
# model pretrained in chapter 9's GPU run and from random initialisation (and from
# OpenAI's GPT-2 when its weights are on the machine), for 5 epochs, and records test
# accuracy, trainable parameters and time of each in `results/gpu/`:

# %%
print(gpu_results.describe(gpu_results.load("finetune"), "finetune"))

# %% [markdown]
# ## Summary
#
# - A GPT classifies with a head on its last real token, the only one that has read the
#   whole text; padding on either side must not change it.
# - Fine-tuning can train the head alone, every weight (GPT-1, with an auxiliary
#   language-model loss), or low-rank adapters (LoRA); freezing is one option among
#   several, not what fine-tuning means.
# - LoRA trains $r(d_\text{in} + d_\text{out})$ numbers per adapted layer and merges
#   into the weights with no cost at inference.
# - Pretraining is worth what the pretrained model knows about the task's text; a tiny
#   model pretrained on plays knows little about text messages.
# - A bag-of-words logistic regression is the baseline to beat; a confusion matrix and
#   the misclassified examples say what the errors are.
#
# ## Exercises
#
# In {doc}`the exercise notebook <../exercises/solutions/10_fine_tuning>` (and
# `exercises/10_fine_tuning.ipynb` in JupyterLab):
#
# - **Exercise 10-1, warm-up:** the position of the last real token, with left or right
#   padding.
# - **Exercise 10-2, medium:** how many parameters LoRA trains for a GPT configuration
#   and a choice of layers.
# - **Exercise 10-3, stretch:** a LoRA linear layer of your own, checked against
#   merging.
# - **Exercise 10-4, written:** which fine-tuning method for which situation.
#
# ## Further reading
#
# - {cite:t}`radford2018improving`: GPT-1, generative pretraining then fine-tuning every
#   weight with an auxiliary language-model loss, on twelve tasks.
# - {cite:t}`hu2021lora`: LoRA, with the argument that fine-tuning changes weights along
#   few directions, and its comparison with full fine-tuning on GPT-3.
# - {cite:t}`almeida2011contributions`: the SMS Spam Collection and the classic
#   classifiers' results on it.
# - {cite:t}`devlin2019bert`: BERT, the encoder-only model that made pretrain-then-fine-
#   tune the default for classification.
# - {cite:t}`radford2019language`: GPT-2, the weights the last sections load.
