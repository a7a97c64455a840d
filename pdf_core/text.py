"""Word-level text handling shared by GloVe extraction, bag-of-words features and text noise."""

from __future__ import annotations

MASK_TOKEN = "_"  # what text noise puts in place of a word, as the original code did


def words(text: str, lowercase: bool) -> list[str]:
    """Whitespace tokens, as the original bag-of-words and the text-noise code split them."""
    return (text.lower() if lowercase else text).split()
