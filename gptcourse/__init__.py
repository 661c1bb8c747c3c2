"""gptcourse: the companion package of *Build a GPT*, an executable course.

Each module holds the finished version of one part that a chapter builds:

- :mod:`gptcourse.data` -- the course's datasets, downloaded once into a cache.
- :mod:`gptcourse.char_tokenizer` -- one token per character.
- :mod:`gptcourse.bpe` -- byte-level BPE: training, encoding, special tokens, files.
- :mod:`gptcourse.gpt2_tokenizer` -- GPT-2's own tokenizer, loaded offline.
- :mod:`gptcourse.batches` -- token ids to (input, target) training batches.
- :mod:`gptcourse.bigram` -- bigram language models, counted and learned.
- :mod:`gptcourse.attention` -- scaled dot-product, multi-head and causal self-attention.
- :mod:`gptcourse.positions` -- where tokens are: sinusoidal, learned and rotary positions.
- :mod:`gptcourse.checks` -- automatic checks for the exercises.
- :mod:`gptcourse.plotting` -- the course's figure style: sizes, fonts, colour bars.

Chapters build a part inline to teach it, then assert that it equals the version
here; later chapters import it from here.
"""

__version__ = "0.1.0"
