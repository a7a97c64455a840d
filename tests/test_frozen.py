"""Frozen-mode encoding: the stage's chunked, prepared-ahead encoding gives exactly the plain per-chunk result."""

import threading

import numpy as np
import pytest
import torch

from pdf_core.config import dataset_config, load_params
from pdf_core.features.encoders import max_length, tokenize
from pdf_core.features.frozen import FrozenEncoders, bag_of_words, core_to_spare, prepared_ahead
from pdf_core.noise import NoiseCondition, TestNoiser
from pdf_core.noise_types import NOISE_DECLARATIONS
from tests.conftest import PROJECT_ROOT

N, STORE, CROP, BATCH = 11, 40, 32, 4  # three chunks, the last one partial
TEXTS = [
    "apple banana car",
    "the dog and the cat",
    "",
    "guitar piano song today",
    "rain snow storm",
    "tennis match goal",
    "photo of a red apple",
    "bus train van",
    "lion tiger wolf horse",
    "concert singer melody",
    "fog wind cloud",
]


@pytest.fixture(scope="module")
def encoders(tmp_path_factory):
    params = load_params(PROJECT_ROOT / "params.yaml")
    glove = tmp_path_factory.mktemp("glove")
    (glove / "vocab.txt").write_text("<unk>\napple\ncar\ndog\nrain\n", encoding="utf-8")
    np.save(glove / "vectors.npy", np.arange(5 * 3, dtype=np.float32).reshape(5, 3))
    features = dict(params["features"], crop_size=CROP, encode_batch_size=BATCH)
    return FrozenEncoders(dataset_config(params, "synthetic"), features, glove, torch.device("cpu"))


@pytest.fixture(scope="module")
def store():
    return np.random.default_rng(0).integers(0, 256, size=(N, STORE, STORE, 3), dtype=np.uint8)


def plain_encoding(enc: FrozenEncoders, images: np.ndarray, texts: list[str], noiser: TestNoiser | None) -> dict:
    """The stage's definition, one chunk after the other in one thread (as it ran before prepared_ahead)."""
    out = {k: [] for k in ("txt", "img", "bow", "input_ids", "attention_mask")}
    with torch.inference_mode():
        for start in range(0, len(texts), BATCH):
            chunk, chunk_texts = images[start : start + BATCH], texts[start : start + BATCH]
            if noiser is not None:
                chunk, chunk_texts = noiser.images(chunk, start), noiser.texts(chunk_texts, start)
            out["img"].append(enc.image(torch.from_numpy(chunk)).numpy())
            tok = tokenize(enc.tokenizer, chunk_texts, enc.text_spec)
            out["input_ids"].append(tok["input_ids"])
            out["attention_mask"].append(tok["attention_mask"])
            out["txt"].append(
                enc.text(torch.from_numpy(tok["input_ids"]), torch.from_numpy(tok["attention_mask"])).numpy()
            )
            out["bow"].append(
                bag_of_words(chunk_texts, enc.glove_vocab, enc.glove_vectors, enc.glove_spec, max_length(enc.text_spec))
            )
    return {k: np.concatenate(v) for k, v in out.items()}


@pytest.mark.parametrize(
    "cond",
    [
        None,
        NoiseCondition("gaussian", 10, 1, "original"),
        NoiseCondition("salt_pepper", 10, 2, "original"),
        NoiseCondition("gaussian", 5, 1, "project"),
    ],
    ids=lambda c: "clean" if c is None else f"{c.noise_type}-{c.parity}",
)
@pytest.mark.parametrize("overlap", [True, False], ids=["worker-thread", "inline"])
def test_stage_encoding_is_bit_identical_to_plain_chunks(encoders, store, cond, overlap, monkeypatch):
    monkeypatch.setattr("pdf_core.features.frozen.core_to_spare", lambda device: overlap)
    sizes = np.tile([STORE, STORE + 9], (N, 1))  # wider than stored: the paper replay cuts its window
    noiser = None if cond is None else TestNoiser(cond, N, TEXTS, sizes)
    reference = None if cond is None else TestNoiser(cond, N, TEXTS, sizes)
    got = encoders.encode(store, TEXTS, noiser, desc="test")
    want = plain_encoding(encoders, store, TEXTS, reference)
    assert list(got) == ["txt", "img", "bow", "input_ids", "attention_mask"]
    for key in want:
        assert got[key].dtype == want[key].dtype and np.array_equal(got[key], want[key]), key
    if cond is not None:
        assert noiser.image_noised.any() and np.array_equal(noiser.text_masked, reference.text_masked)
    assert got["img"].shape == (N, 3, encoders.image.dim)


@pytest.mark.parametrize("noise_type", ["gaussian_blur", "occlusion", "missing_text", "word_swap"])
def test_a_suite_type_changes_only_its_modalitys_features(encoders, store, noise_type):
    cond = NoiseCondition(noise_type, 10, 1, "project")
    got = encoders.encode(store, TEXTS, TestNoiser(cond, N, TEXTS), desc="test")
    want = plain_encoding(encoders, store, TEXTS, TestNoiser(cond, N, TEXTS))
    assert all(np.array_equal(got[key], want[key]) for key in want)
    clean = encoders.encode(store, TEXTS, None, desc="test")
    unchanged = {key for key in clean if np.array_equal(got[key], clean[key])}
    if NOISE_DECLARATIONS[noise_type].corrupts == ("image",):
        assert unchanged == {"txt", "bow", "input_ids", "attention_mask"}
    else:  # the bag of words may keep its sum: the test GloVe has four words
        assert "img" in unchanged and not {"txt", "input_ids"} & unchanged


def test_prepared_ahead_keeps_order_and_prepares_the_next_chunk_meanwhile():
    starts = [0, 4, 8, 12]
    started = {s: threading.Event() for s in starts}
    threads = []

    def prepare(start):
        threads.append(threading.current_thread().name)
        started[start].set()
        return start * 10

    consumed = []
    for k, (start, value) in enumerate(prepared_ahead(prepare, starts, overlap=True)):
        if k + 1 < len(starts):  # the consumer still holds this chunk: the next one is under way
            assert started[starts[k + 1]].wait(timeout=10)
        consumed.append((start, value))
    assert consumed == [(0, 0), (4, 40), (8, 80), (12, 120)]
    assert len(threads) == 4 and all(name.startswith("encode-prepare") for name in threads)
    assert list(prepared_ahead(prepare, [], overlap=True)) == []


def test_prepared_ahead_raises_the_workers_error():
    def prepare(start):
        if start == 4:
            raise ValueError("chunk 4 is bad")
        return start

    with pytest.raises(ValueError, match="chunk 4 is bad"):
        list(prepared_ahead(prepare, [0, 4, 8], overlap=True))


def test_without_overlap_chunks_are_prepared_in_the_callers_thread_when_asked_for():
    threads = []

    def prepare(start):
        threads.append(threading.current_thread())
        return start

    assert list(prepared_ahead(prepare, [0, 4], overlap=False)) == [(0, 0), (4, 4)]
    assert threads == [threading.current_thread()] * 2


def test_a_worker_thread_only_where_a_core_is_free(monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1}, raising=False)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert core_to_spare(torch.device("cpu"))
        torch.set_num_threads(2)
        assert not core_to_spare(torch.device("cpu"))
        assert core_to_spare(torch.device("cuda"))  # the host idles during a GPU forward
    finally:
        torch.set_num_threads(threads)
