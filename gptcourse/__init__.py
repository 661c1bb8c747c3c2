"""gptcourse: the companion package of *Build a GPT*, an executable course.

Each module holds the finished version of one part that a chapter builds:

- :mod:`gptcourse.data` -- the course's datasets, downloaded once into a cache.
- :mod:`gptcourse.char_tokenizer` -- one token per character.
- :mod:`gptcourse.bpe` -- byte-level BPE: training, encoding, special tokens, files.
- :mod:`gptcourse.gpt2_tokenizer` -- GPT-2's own tokenizer, loaded offline.
- :mod:`gptcourse.tokenizer_file` -- one file format for the tokenizers, one ``load``.
- :mod:`gptcourse.batches` -- token ids to (input, target) training batches.
- :mod:`gptcourse.bigram` -- bigram language models, counted and learned.
- :mod:`gptcourse.training` -- the training loop every model uses, and a loss estimate.
- :mod:`gptcourse.positions` -- where tokens are: sinusoidal, learned and rotary positions.
- :mod:`gptcourse.attention` -- scaled dot-product, multi-head and causal self-attention,
  with a key/value cache.
- :mod:`gptcourse.transformer` -- the Transformer block: attention and an MLP, pre- or post-LN.
- :mod:`gptcourse.model` -- the GPT, its configurations, parameter and FLOP counts.
- :mod:`gptcourse.gpt2_weights` -- to and from transformers' GPT-2, in one weight table.
- :mod:`gptcourse.generation` -- sampling (greedy, temperature, top-k, top-p) and generation.
- :mod:`gptcourse.bench` -- benchmarks: ``python -m gptcourse.bench generate|train``.

Pretraining and fine-tuning (``python -m gptcourse.train --config shakespeare-char``):

- :mod:`gptcourse.corpus` -- a corpus as token ids, and its stream of random batches.
- :mod:`gptcourse.precision` -- the device, mixed precision and the gradient scaler.
- :mod:`gptcourse.optim` -- AdamW with weight-decay groups; warmup and cosine decay.
- :mod:`gptcourse.throughput` -- tokens per second and model FLOPs utilisation (MFU).
- :mod:`gptcourse.checkpoint` -- checkpoints that resume a run exactly, written atomically.
- :mod:`gptcourse.distributed` -- data-parallel training under ``torchrun``.
- :mod:`gptcourse.train_config` -- a run's configuration, and the course's named runs.
- :mod:`gptcourse.trainer` -- the trainer; :mod:`gptcourse.train`, its command line.
- :mod:`gptcourse.sms_spam` -- the SMS Spam Collection: balanced, split, padded batches.
- :mod:`gptcourse.finetune` -- a classification head on the last token, freezing, the loop.
- :mod:`gptcourse.lora` -- low-rank adapters, merged and unmerged.
- :mod:`gptcourse.train_bench` -- training speed beside transformers' GPT-2.
- :mod:`gptcourse.gpu_runs` -- ``make gpu``: the GPU runs of both chapters, in one command.
- :mod:`gptcourse.checks` -- automatic checks for the exercises.
- :mod:`gptcourse.plotting` -- the course's figure style: sizes, fonts, colour bars.
- :mod:`gptcourse.glue` -- numbers computed in a chapter, quoted in its prose.

Every language model of the course is called the same way, ``logits, loss =
model(idx, targets)``, with -100 in ``targets`` at positions that do not count.

Chapters build a part inline to teach it, then assert that it equals the version
here; later chapters import it from here.
"""

__version__ = "0.1.0"
