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
# # Appendix A: Your GPT in the Hugging Face ecosystem
#
# The GPT of {doc}`chapter 9 <../chapters/09_pretraining>` is a few hundred lines of
# PyTorch. This appendix saves it in the format of the Hugging Face Hub, loads it back
# with the `transformers` library's `Auto` classes and generates with its `pipeline`,
# token for token as the course does. Then it asks what GPTs are used for, how each task
# is put to a model that only predicts the next token, and what a model this small can
# honestly do, measured on this page.
#
# ```{admonition} What you will be able to do
# - save a course model and its tokenizer with `gptcourse.export.save_pretrained`, and
#   load them with {py:class}`~transformers.AutoModelForCausalLM` and
#   {py:class}`~transformers.AutoTokenizer`;
# - generate with `transformers`' `pipeline("text-generation")` and check that it gives
#   the course's greedy tokens;
# - frame translation, summarisation, classification, sentiment, question answering
#   and similarity as next-token prediction or as fine-tuning, and say what scale each
#   needs;
# - measure few-shot prompting against a fine-tuned classifier, and sentence similarity
#   from hidden states against a bag of words, with `gptcourse.similarity`.
# ```

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline

from gptcourse import data, plotting
from gptcourse.batches import split_text
from gptcourse.char_tokenizer import CharTokenizer
from gptcourse.corpus import Corpus
from gptcourse.export import save_pretrained
from gptcourse.finetune import GPTClassifier, accuracy, finetune
from gptcourse.generation import generate, pad_prompts
from gptcourse.glue import glue
from gptcourse.model import GPT
from gptcourse.similarity import (
    bag_of_words,
    mean_pooled,
    nearest_neighbour_accuracy,
    word_vocabulary,
)
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
transformers.logging.set_verbosity_error()  # no notices in the outputs,
transformers.logging.disable_progress_bar()  # and no progress bars

# %% [markdown]
# ## Which model goes to the Hub?
#
# Chapter 9's CPU run, `shakespeare-char-cpu`: a character-level GPT of 3 layers, 4
# heads, width 96 and a context of 64 characters, trained for 300 steps by
# `gptcourse.trainer.Trainer`, as {doc}`chapter 10 <../chapters/10_fine_tuning>` does.
# Its vocabulary is Shakespeare's characters and those that only text messages use, so
# that the same model can read the messages of the last sections.

# %%
text = data.load_text("tinyshakespeare")
messages = load_messages()
tok = CharTokenizer(set(text) | {ch for message, _ in messages for ch in message})
train_text, val_text = split_text(text, 0.1)
ids = [torch.tensor(tok.encode(t), dtype=torch.int32) for t in (train_text, val_text)]
corpus = Corpus(*ids, tokenizer=tok)
config = get_config(
    "shakespeare-char-cpu",
    max_steps=300,
    warmup_steps=30,
    eval_interval=300,
    sample_tokens=0,
    progress=False,
)
trainer = Trainer(config, corpus=corpus)

# %% tags=["nbval-ignore-output"]
result = trainer.fit()
model = trainer.model.eval()
print(
    f"{model.num_params():,} parameters, trained {result.step} steps in "
    f"{result.time_s:.0f} s on this machine: validation loss {result.val_loss:.2f}"
)
val_loss = glue("val_loss", f"{result.val_loss:.2f}")
n_params = glue("n_params", f"{model.num_params():,}")
seen = result.step * config.batch_size * model.block_size
n_seen = glue("n_seen", f"{seen:,}")

# %%
assert result.val_loss < 2.8
assert seen < len(train_text)
print("validation loss below 2.8 nats a character")
print("characters seen in training: fewer than the training text holds")

# %% [markdown]
# ## How does a model of your own become a Hugging Face model?
#
# A model on the Hugging Face Hub is a folder: a `config.json` that says which
# architecture to build and its shape, the weights in `model.safetensors`, and the
# tokenizer in `tokenizer.json` with its settings. `save_pretrained` writes ours so: the
# weights go across under GPT-2's names (`gptcourse.gpt2_weights`, the architecture
# {doc}`chapter 7 <../chapters/07_gpt>` built), the character tokenizer becomes a
# `tokenizers` model with the same ids. Our model has no biases (nanoGPT's choice) and
# GPT-2 has them, so the export writes zero biases, which compute the same function
# (`gptcourse.export.with_biases`). A folder on disk is what
# {py:meth}`~transformers.PreTrainedModel.from_pretrained` reads, whether it came from
# the Hub or from us; here nothing is downloaded.

# %%
folder = Path(tempfile.mkdtemp()) / "shakespeare-char"
save_pretrained(model, tok, folder)
print(sorted(p.name for p in folder.iterdir()))

hf_model = AutoModelForCausalLM.from_pretrained(folder).eval()
hf_tok = AutoTokenizer.from_pretrained(folder)
print(type(hf_model).__name__)
print(f"context: {hf_model.config.n_positions} tokens, vocabulary: {len(hf_tok)}")
assert hf_model.config.n_positions == model.block_size
assert len(hf_tok) == tok.vocab_size

# %% [markdown]
# `AutoModelForCausalLM` read `config.json`, found `"model_type": "gpt2"` and built a
# {py:class}`~transformers.GPT2LMHeadModel`; `AutoTokenizer` built a tokenizer from
# `tokenizer.json`. Are they the same model and the same tokenizer? The same ids
# for a text, and the same logits for those ids:

# %%
prompt = "ROMEO:\nWhat light"
ids = hf_tok(prompt, return_tensors="pt")["input_ids"]  # (1, T)
assert ids[0].tolist() == tok.encode(prompt)
with torch.no_grad():
    ours, _ = model(ids)  # (1, T, V)
    theirs = hf_model(ids).logits  # (1, T, V)
largest = (ours - theirs).abs().max().item()
assert largest < 1e-4
print(f"{ids.shape[1]} tokens, the same ids; logits: largest difference below 1e-4")

# %% [markdown]
# ## Does the pipeline generate what the course generates?
#
# A {py:func}`~transformers.pipeline` wraps tokenizer, model and decoding behind one
# call. With
# `do_sample=False` it decodes greedily ({term}`greedy decoding`), as the course's
# `gptcourse.generation.generate` does with `temperature=0`
# ({doc}`chapter 8 <../chapters/08_generation>`). The model's context is 64 characters,
# and GPT-2's position table has 64 rows, so prompt and continuation together stay
# within 64 tokens.

# %%
generator = pipeline("text-generation", model=hf_model, tokenizer=hf_tok)
new_tokens = model.block_size - ids.shape[1]
out = generator(prompt, max_new_tokens=new_tokens, do_sample=False)
pipeline_text = out[0]["generated_text"]
course_ids = generate(model, ids, new_tokens, temperature=0)[0].tolist()  # (T + n,)
course_text = tok.decode(course_ids)

# %% tags=["nbval-ignore-output"]
print(pipeline_text)

# %% [markdown]
# That is the greedy continuation of this machine's model (another CPU trains slightly
# different weights); greedy decoding of a model this small soon repeats itself, as
# {doc}`chapter 8 <../chapters/08_generation>` showed. Whatever the weights, the two
# agree token for token:

# %%
pipeline_ids = tok.encode(pipeline_text)
assert pipeline_ids == course_ids, (pipeline_text, course_text)
assert pipeline_text == course_text
print(f"pipeline and generate(temperature=0): the same {len(course_ids)} tokens")

# %% [markdown]
# From here on, the model is a Hugging Face model like any other: `push_to_hub` would
# publish the folder, and every tool built on `transformers` (training with `Trainer`,
# quantising, serving) takes it as it takes GPT-2.
#
# ## What are GPT models used for?
#
# A GPT does one thing: given tokens, it scores every possible next token. Every task
# must be put to it in that form, in one of two ways.
#
# - **As next-token prediction.** Write the task as a text whose natural continuation
#   is the answer: a prompt. With no examples in it this is *zero-shot*, with a few
#   worked examples before the question *few-shot*
#   ({term}`in-context learning`): the model's weights do not change
#   {cite:p}`radford2019language,brown2020language`.
# - **As fine-tuning.** Add a head on the last token and train on labelled examples,
#   as GPT-1 did for every task {cite:p}`radford2018improving` and
#   {doc}`chapter 10 <../chapters/10_fine_tuning>` does for spam.
#
# Task by task, the prompt that frames it as next-token prediction, the fine-tuning that
# frames it with labelled data, and the scale at which each has been shown to work:
#
# - **Generation.** *Prompt:* the start of the text; the model continues it
#   ({doc}`chapter 8 <../chapters/08_generation>`). *Fine-tuning:* on texts of the
#   wanted kind. *Scale:* any size writes text; coherent paragraphs took GPT-2's 1.5
#   billion parameters {cite:p}`radford2019language`.
# - **Translation.** *Prompt:* example pairs `english sentence = french sentence`,
#   then `english sentence =`. *Fine-tuning:* an encoder–decoder trained on pairs
#   {cite:p}`vaswani2017attention`. *Scale:* zero-shot GPT-2 reached 5 BLEU from
#   English to French and 11.5 from French to English {cite:p}`radford2019language`;
#   few-shot GPT-3 (175 billion) beat earlier unsupervised systems into English
#   {cite:p}`brown2020language`.
# - **Summarisation.** *Prompt:* the article, then `TL;DR:`. *Fine-tuning:* on
#   article–summary pairs. *Scale:* GPT-2's summaries barely beat three random
#   sentences of the article {cite:p}`radford2019language`.
# - **Classification** (spam, topic). *Prompt:* labelled examples, then the text; the
#   label whose first token is more probable wins. *Fine-tuning:* a
#   {term}`classification head` on the last token
#   ({doc}`chapter 10 <../chapters/10_fine_tuning>`). *Scale:* fine-tuning works at
#   any size; few-shot prompting improves steeply with size and approaches fine-tuned
#   models only at the largest, on some tasks {cite:p}`brown2020language`, as the next
#   section measures at the small end.
# - **Sentiment.** *Prompt:* `Review: ... Sentiment:`, then compare `positive` and
#   `negative`. *Fine-tuning:* a head on the last token; GPT-1 reached 91.3% on SST-2
#   {cite:p}`radford2018improving`. *Scale:* as classification.
# - **Question answering.** *Prompt:* the document, then `Q: ... A:`. *Fine-tuning:*
#   context, question and each candidate answer in one sequence, a head's score for
#   each, a softmax over the candidates {cite:p}`radford2018improving`. *Scale:*
#   zero-shot GPT-2 reached 55 F1 on CoQA but answered 4.1% of Natural Questions
#   {cite:p}`radford2019language`.
# - **Similarity.** *Prompt:* none natural. *Fine-tuning:* both orders of the two
#   texts, their last vectors added, a head {cite:p}`radford2018improving`; or vectors
#   read from the hidden states. *Scale:* averaged hidden states are weak sentence
#   vectors until the model is trained for similarity {cite:p}`reimers2019sentence`, as
#   the last section measures.
#
# The pattern: anything trained for the task works at any size, and
# what comes from the prompt alone grows with the model. GPT-2's zero-shot scores rose
# steadily with its size, from 117 million to 1.5 billion parameters
# {cite:p}`radford2019language`; GPT-3's few-shot gains over zero-shot grew with its
# size up to 175 billion {cite:p}`brown2020language`. The next sections measure the two
# routes on a model of {glue:text}`n_params` parameters.
#
# ## Can a small model learn a task from its prompt?
#
# Few-shot classification of the spam messages of chapter 10: each prompt holds $k$
# labelled training messages, `message => ham` or `message => spam` on a line each,
# then the test message and ` => `. The model's answer is whichever of the two labels'
# first characters, `h` or `s`, it finds more probable next. The context is 64
# characters, so every message is cut to the width that lets $k + 1$ of them fit
# (GPT-3's context holds 2,048 tokens, room for dozens of whole examples
# {cite:p}`brown2020language`). A prompt with two examples:

# %%
splits = load_splits(seed=123)
answers = torch.tensor([tok.encode(label[0])[0] for label in LABELS])  # 'h', 's'
widths = {k: (model.block_size - 4 - 10 * k) // (k + 1) for k in (0, 1, 2)}
# 4 characters for " => " after the message, 10 for " => spam\n" after each example


def few_shot_prompt(message: str, examples: list, width: int) -> str:
    lines = [f"{m[:width]} => {LABELS[label]}\n" for m, label in examples]
    return "".join(lines) + f"{message[:width]} => "


def few_shot_predictions(k: int, seed: int = 0) -> torch.Tensor:
    """The label the model prefers for each test message, with k examples: (N,)."""
    width = widths[k]
    g = torch.Generator().manual_seed(seed)
    prompts = []
    for message, _ in splits.test:
        picks = torch.randperm(len(splits.train), generator=g)[:k].tolist()
        examples = [splits.train[i] for i in picks]
        prompts.append(tok.encode(few_shot_prompt(message, examples, width)))
    idx, mask = pad_prompts(prompts)  # left-padded: the last position is real
    assert idx.shape[1] <= model.block_size
    with torch.no_grad():
        logits, _ = model(idx, attention_mask=mask, last_only=True)  # (N, 1, V)
        logits = logits[:, -1, answers]  # (N, 2): 'h' and 's'
    return logits.argmax(-1)


print("message widths for k = 0, 1, 2 examples:", list(widths.values()))
print(few_shot_prompt(splits.test[0][0], splits.train[:2], widths[2]))
n_spam = sum(label for _, label in splits.test)
print(
    f"{len(splits.train):,} training messages; {len(splits.test)} test, {n_spam} spam"
)

# %% [markdown]
# The baseline is chapter 10's classifier: the same pretrained model with a head on its
# last token, every weight fine-tuned for 2 epochs on the 1,045 training messages. Both
# are measured on the same 300 test messages, about half of them spam, where a coin
# scores 50%. The accuracies are this machine's (a model trained on another CPU ends a
# few messages apart).

# %% tags=["nbval-ignore-output"]
truth = torch.tensor([label for _, label in splits.test])
few_shot = {}
for k in (0, 1, 2):
    predicted = few_shot_predictions(k)
    few_shot[k] = (predicted == truth).float().mean().item()
    said_spam = predicted.float().mean().item()
    print(f"{k}-shot: accuracy {few_shot[k]:.1%}, says spam for {said_spam:.0%}")
    glue(f"acc_{k}shot", f"{few_shot[k]:.1%}")
    glue(f"spam_{k}shot", f"{said_spam:.0%}")

sets = {n: SMSDataset(getattr(splits, n), tok, 64) for n in ("train", "val", "test")}
loaders = {
    n: make_loader(d, 32, pad_id=0, shuffle=n == "train") for n, d in sets.items()
}
pretrained_state = {k: v.clone() for k, v in model.state_dict().items()}
torch.manual_seed(0)
gpt = GPT(trainer.model_config)
gpt.load_state_dict(pretrained_state)
classifier = GPTClassifier(gpt, num_classes=2)
history = finetune(classifier, loaders["train"], loaders["val"], epochs=2, lr=1e-3)
fine_tuned = accuracy(classifier, loaders["test"])
print(f"fine-tuned: accuracy {fine_tuned:.1%}, {history.time_s:.0f} s on this machine")
acc_finetuned = glue("acc_finetuned", f"{fine_tuned:.1%}")

# %%
assert all(0.3 < acc < 0.7 for acc in few_shot.values()), few_shot
assert fine_tuned > 0.8 and fine_tuned > max(few_shot.values()) + 0.2
print("few-shot: between 30% and 70%, about a coin's 50%")
print("fine-tuned: above 80%, at least 20 points above every few-shot prompt")

# %% [markdown]
# With zero, one or two examples the small model scores
# {glue:text}`acc_0shot`, {glue:text}`acc_1shot` and {glue:text}`acc_2shot`: a coin's
# accuracy. The share of messages it calls spam shows why: {glue:text}`spam_0shot`
# without examples, {glue:text}`spam_1shot` with one, {glue:text}`spam_2shot` with two.
# Its answer moves with the form of the prompt, not with the message. The same model
# fine-tuned reaches {glue:text}`acc_finetuned`.
# In-context learning is not a trick of the prompt format that a small model lacks by
# accident: it is a capability that language modelling on a vast and varied corpus
# teaches a large model, because such corpora are full of lists, translations and
# question–answer pairs whose pattern must be continued {cite:p}`radford2019language`,
# and Shakespeare's plays have none.
#
# ```{admonition} A common mistake: "any GPT can be prompted to do a task"
# :class: warning
# Prompting is often described as what a GPT does, whatever its size. The evidence says
# otherwise: GPT-2 at 1.5 billion parameters translated at 5 BLEU and summarised little
# better than random sentences {cite:p}`radford2019language`, and GPT-3's few-shot
# ability grew with its size {cite:p}`brown2020language`. Above, a model of
# {glue:text}`n_params` parameters prompted with examples scores as a coin does, while
# the same weights fine-tuned score {glue:text}`acc_finetuned`. For a small model,
# fine-tuning is the way to a task.
# ```
#
# ## Do hidden states say which texts are alike?
#
# A text can be turned into a vector by averaging the GPT's output vectors over its
# tokens, *mean pooling* (`gptcourse.similarity.mean_pooled`); two texts are alike when
# their vectors point the same way, by cosine similarity. One honest test of such
# {term}`sentence embeddings <sentence embedding>` without a similarity data set:
# classify each test message by the labels of its 5 nearest training messages
# (`nearest_neighbour_accuracy`). Vectors that put spam near spam score high; vectors
# blind to it score 50%. The baseline is a bag of words: which of the words seen in
# at least two training messages a message contains, 1 or 0 each, as in chapter 10.


# %%
def pooled(gpt: GPT, name: str) -> torch.Tensor:
    """The mean-pooled hidden states of every message of a split: (N, C)."""
    loader = make_loader(sets[name], 64, pad_id=0)
    return torch.cat([mean_pooled(gpt, b.input_ids, b.attention_mask) for b in loader])


texts = {n: [m for m, _ in getattr(splits, n)] for n in ("train", "test")}
labels = {n: torch.tensor([y for _, y in getattr(splits, n)]) for n in texts}
vocabulary = word_vocabulary(texts["train"], min_count=2)
torch.manual_seed(0)
random_gpt = GPT(trainer.model_config)  # the same shape, never trained
vectors = {
    "bag of words": {n: bag_of_words(texts[n], vocabulary) for n in texts},
    "GPT, random weights": {n: pooled(random_gpt, n) for n in texts},
    "GPT, pretrained": {n: pooled(model, n) for n in texts},
    "GPT, fine-tuned on spam": {n: pooled(classifier.gpt, n) for n in texts},
}
print(f"{len(vocabulary):,} words in the bag; GPT vectors of {model.config.n_embd}")

# %% tags=["nbval-ignore-output"]
knn = {}
for name, v in vectors.items():
    knn[name] = nearest_neighbour_accuracy(
        v["train"], labels["train"], v["test"], labels["test"], k=5
    )
    print(f"{name:24} 5 nearest neighbours: accuracy {knn[name]:.1%}")
for name, key in [
    ("bag of words", "bow"),
    ("GPT, random weights", "random"),
    ("GPT, pretrained", "pretrained"),
    ("GPT, fine-tuned on spam", "tuned"),
]:
    glue(f"knn_{key}", f"{knn[name]:.1%}")

# %%
assert knn["bag of words"] > knn["GPT, pretrained"] + 0.05, knn
assert abs(knn["GPT, pretrained"] - knn["GPT, random weights"]) < 0.1, knn
assert knn["GPT, fine-tuned on spam"] > knn["GPT, pretrained"] + 0.05, knn
print("the bag of words beats the pretrained GPT's vectors by more than 5 points")
print("pretrained and random weights: within 10 points of each other")
print("fine-tuning moves the GPT's vectors more than 5 points towards the labels")

# %% [markdown]
# The bag of words finds the neighbours that share a label {glue:text}`knn_bow` of the
# time; the pretrained GPT's vectors {glue:text}`knn_pretrained`, and the same network
# with random weights about as well, {glue:text}`knn_random`. Three hundred steps on
# plays taught the model nothing about messages that a random mixing of their
# characters does not already carry: the surface of the text (capitals, digits,
# punctuation), which says something about spam, but less than its words do.
# Fine-tuning on the labels moves its vectors to {glue:text}`knn_tuned`: it learns what
# to encode for this task. Large models are no different in kind: averaged BERT vectors
# make poor sentence embeddings, worse than averaged word vectors, until the model is
# trained for similarity {cite:p}`reimers2019sentence`; the embeddings that search
# engines use are trained so. {numref}`fig-hf-accuracies` puts every measurement of this
# page side by side.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Accuracy on the same 300 test messages, about half of them spam, of every way this page tried: the small GPT prompted with 0, 1 or 2 examples, the same GPT fine-tuned, and the 5 nearest neighbours by four kinds of vectors. The dashed line is a coin's 50%. Prompting the small model is no better than the coin; what is trained on the labels, or counts words, is far above it.", "name": "fig-hf-accuracies"}, "image": {"alt": "A horizontal bar chart of accuracy from 0 to 100 percent, with a dashed vertical line at 50 percent. The three few-shot bars (0, 1 and 2 examples) end near the line. The fine-tuned classifier's bar ends far to the right, near 90 percent or above. Of the four nearest-neighbour bars, the bag of words and the fine-tuned GPT end far right, the pretrained and random GPTs closer to the line."}}
rows = [(f"{k}-shot prompt", acc) for k, acc in few_shot.items()]
rows += [("fine-tuned classifier", fine_tuned)]
rows += [(f"5-NN, {name}", acc) for name, acc in knn.items()]
plotting.use_style()
fig, ax = plt.subplots(figsize=(plotting.WIDTH, 3.6), layout="constrained")
colours = ["C0"] * 3 + ["C1"] + ["C2"] * 4
names, values = [r[0] for r in rows][::-1], [100 * r[1] for r in rows][::-1]
ax.barh(names, values, color=colours[::-1])
ax.axvline(50, color="black", linestyle="--", linewidth=1)
ax.set_xlim(0, 100)
ax.set_xlabel("accuracy on the test messages (%)")
plt.show()

# %% [markdown]
# ## What can a small model not do, and why does scale matter?
#
# The model of this page has {glue:text}`n_params` parameters, a context of 64
# characters, and has read {glue:text}`n_seen` characters of plays (300 steps of 16
# sequences of 64), less than one pass over Tiny Shakespeare. It spells like
# Shakespeare and continues a prompt, and it does well on
# a task once trained on the task's labels. It cannot follow an instruction, learn a
# task from examples in its prompt, translate, summarise or answer questions: those need
# a model that has read enough varied text to have met such patterns, and enough
# parameters to store them. Language-model loss falls as a power law of parameters,
# data and compute {cite:p}`kaplan2020scaling`, and abilities that are absent in small
# models appear along the way {cite:p}`radford2019language,brown2020language`. The
# course's code is the same at every scale: chapter 10's last section fine-tunes
# OpenAI's GPT-2 with it, and `save_pretrained` exports any model of the course that
# GPT-2's architecture can express.
#
# ## Summary
#
# - `gptcourse.export.save_pretrained` writes a course GPT and its tokenizer as a
#   Hugging Face folder; `AutoModelForCausalLM` and `AutoTokenizer` load it as GPT-2.
# - `pipeline("text-generation")` with `do_sample=False` gives the course's greedy
#   tokens, one for one.
# - A task reaches a GPT as a prompt whose continuation is the answer (zero- or
#   few-shot) or as a head fine-tuned on labelled examples.
# - Fine-tuning works at any size; learning from the prompt comes with scale: a small
#   model prompted with examples scores as a coin does.
# - Mean-pooled hidden states of a small pretrained model are weaker sentence vectors
#   than a bag of words; training for the task changes that.
#
# ## Further reading
#
# - {cite:t}`wolf2020transformers`: the `transformers` library, its `Auto` classes and
#   pipelines, and the design that lets one interface serve thousands of models.
# - {cite:t}`radford2019language`: GPT-2, and the prompts (`TL;DR:`, `Q: A:`,
#   translation pairs) that turned tasks into next-token prediction, with scores rising
#   with size.
# - {cite:t}`brown2020language`: GPT-3, few-shot in-context learning, and how it grows
#   from 125 million to 175 billion parameters.
# - {cite:t}`radford2018improving`: GPT-1, and how it arranges the inputs of
#   classification, entailment, similarity and multiple choice for one fine-tuned model.
# - {cite:t}`reimers2019sentence`: why averaged Transformer outputs make poor sentence
#   vectors, and how training on pairs fixes it.
