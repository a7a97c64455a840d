"""The ``parity`` switches: one vocabulary for every behaviour where this project departs from the
original code (QMF's first commit and the PDF code built on it). Each switch is ``project`` (this
project's behaviour) or ``original`` (the original code's, reproduced); the paper preset sets all of them
to ``original``. docs/fidelity.md lists every difference and why the project's version exists.

Standard library only: validating a configuration (the Snakefile loads :mod:`pdf_core.config`) imports it.
"""

from __future__ import annotations

PARITY_CHOICES = ("project", "original")  # the schema's $defs.parityChoice is filled from this

# switch -> what `original` reproduces (the schema's `parity` block lists the same keys: tests/test_config.py)
PARITY_SWITCHES = {
    "heads": "bare Linear classifier heads, the text heads initialised as BERT's",
    "token_layout": "[CLS] + wordpieces[:max_length-1], no [SEP] (MMBT: [CLS] image [SEP] text)",
    "bag_of_words": "the first max_length-1 words, the mask `_` looked up in GloVe like any word",
    "noise": "the original evaluation's random draws for gaussian and salt_pepper, replayed",
}
RUN_PARITY_KEYS = ("heads", "token_layout")  # the switches a model reads (RunSettings); the others act on data
