"""Word-level text handling shared by GloVe extraction, bag-of-words features and text noise."""

from __future__ import annotations


def words(text: str, lowercase: bool) -> list[str]:
    """Whitespace tokens, as the original bag-of-words and the text-noise code split them."""
    return (text.lower() if lowercase else text).split()
