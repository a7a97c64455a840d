"""The embedded default dataset: a small text–image task where fusion matters.

Each class has a shape and colour (image) and a set of keywords (text). Every sample draws a
*quality* per modality, so some samples carry a misleading or empty image, others a misleading or
keyword-free text — the setting in which a quality-aware fusion should beat a static one.

On top of that content, a share of the samples is *corrupted* in capture, in every split: an image
gets Gaussian pixel noise of a per-sample strength, a text has a per-sample share of its words made
unreadable (``_``, the test protocol's mask). The noise is of the same family as the test-time
protocol's (pdf_core.noise), so the training set holds samples of every quality between clean and
ruined — what the dynamic-fusion papers assume a confidence can learn from (docs/default_claim.md).
Corruption draws come from their own generator: with corruption off, or on, the content of each
sample (class shown, shape, position, words) is the same for a given seed.

The output uses the raw layout of a real dataset so the real split and feature code runs on it::

    <raw_dir>/labels.tsv           id<TAB>label (header line), one row per sample
    <raw_dir>/sample_quality.tsv   id, image_quality, text_quality, image_noise_std, text_mask_rate
                                   (tab-separated, for analysis only; 0 = not corrupted)
    <raw_dir>/data/<id>.txt        the text
    <raw_dir>/data/<id>.jpg        the image
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from tqdm import tqdm

from pdf_core.noise import gaussian_image_clipped, mask_text

log = logging.getLogger(__name__)

# name, shape, RGB colour, keywords. Real words, so GloVe and MiniLM embed them meaningfully.
CLASSES = [
    ("fruit", "circle", (215, 40, 40), ["apple", "banana", "orange", "mango", "grape", "cherry", "pear", "lemon"]),
    ("vehicle", "square", (40, 90, 215), ["car", "truck", "bus", "train", "bicycle", "tractor", "van", "motorcycle"]),
    ("animal", "triangle", (40, 165, 60), ["dog", "cat", "horse", "lion", "tiger", "rabbit", "elephant", "wolf"]),
    ("music", "star", (235, 195, 30), ["guitar", "piano", "violin", "drum", "song", "melody", "concert", "singer"]),
    (
        "sport",
        "cross",
        (150, 60, 200),
        ["football", "tennis", "soccer", "basketball", "golf", "hockey", "match", "goal"],
    ),
    ("weather", "diamond", (20, 20, 20), ["rain", "snow", "storm", "cloud", "wind", "sunny", "thunder", "fog"]),
]
DISTRACTORS = [
    "today",
    "really",
    "just",
    "very",
    "people",
    "see",
    "look",
    "time",
    "day",
    "new",
    "good",
    "great",
    "this",
    "that",
    "my",
    "we",
    "here",
    "there",
    "some",
    "got",
    "love",
    "photo",
    "nice",
    "now",
]

# Per-modality quality draws: probabilities of good / weak / misleading / empty.
QUALITY_LEVELS = ("good", "weak", "misleading", "empty")
IMAGE_QUALITY_P = (0.6, 0.15, 0.15, 0.10)
TEXT_QUALITY_P = (0.6, 0.15, 0.15, 0.10)
_CORRUPTION_STREAM = 1  # the corruption generator's key beside the seed (content keeps the bare seed's stream)


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    if shape == "square":
        pts = [
            (math.cos(angle + k * math.pi / 2 + math.pi / 4), math.sin(angle + k * math.pi / 2 + math.pi / 4))
            for k in range(4)
        ]
    elif shape == "triangle":
        pts = [(math.cos(angle + k * 2 * math.pi / 3), math.sin(angle + k * 2 * math.pi / 3)) for k in range(3)]
    elif shape == "diamond":
        pts = [(0.6 * math.cos(angle + k * math.pi / 2), math.sin(angle + k * math.pi / 2)) for k in range(4)]
    elif shape == "star":
        pts = [
            (
                (1.0 if k % 2 == 0 else 0.4) * math.cos(angle + k * math.pi / 5),
                (1.0 if k % 2 == 0 else 0.4) * math.sin(angle + k * math.pi / 5),
            )
            for k in range(10)
        ]
    elif shape == "cross":
        w = 0.33
        base = [
            (-w, -1),
            (w, -1),
            (w, -w),
            (1, -w),
            (1, w),
            (w, w),
            (w, 1),
            (-w, 1),
            (-w, w),
            (-1, w),
            (-1, -w),
            (-w, -w),
        ]
        ca, sa = math.cos(angle), math.sin(angle)
        pts = [(x * ca - y * sa, x * sa + y * ca) for x, y in base]
    else:
        raise ValueError(f"unknown shape {shape!r}")
    return [(cx + r * x, cy + r * y) for x, y in pts]


def _background(rng: np.random.Generator, size: int) -> Image.Image:
    """Muted random texture: stripes or blotches, so the shape is not the only thing in view."""
    base = rng.integers(90, 200, size=3)
    arr = np.empty((size, size, 3), dtype=np.float32)
    arr[:] = base
    yy, xx = np.mgrid[0:size, 0:size]
    if rng.random() < 0.5:
        freq, theta = rng.uniform(0.03, 0.12), rng.uniform(0, math.pi)
        stripes = np.sin(freq * (xx * math.cos(theta) + yy * math.sin(theta)))[..., None]
        arr += 25 * stripes * rng.uniform(0.5, 1.0, size=3)
    else:
        blotch = rng.normal(0, 1, size=(size // 16, size // 16, 3))
        arr += 30 * np.kron(blotch, np.ones((16, 16, 1)))
    arr += rng.normal(0, 6, size=arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _draw_image(rng: np.random.Generator, size: int, cls: int | None, faint: bool) -> Image.Image:
    img = _background(rng, size)
    if cls is not None:
        _, shape, colour, _ = CLASSES[cls]
        r = rng.uniform(0.18, 0.32) * size
        cx, cy = rng.uniform(r, size - r, size=2)
        fill = np.array(colour, dtype=np.float32)
        if faint:  # low contrast: blend the colour towards the background grey
            fill = 0.35 * fill + 0.65 * 140
        ImageDraw.Draw(img).polygon(
            _polygon(shape, cx, cy, r, rng.uniform(0, 2 * math.pi))
            if shape != "circle"
            else [
                (cx + r * math.cos(t), cy + r * math.sin(t)) for t in np.linspace(0, 2 * math.pi, 48, endpoint=False)
            ],
            fill=tuple(int(v) for v in fill),
        )
        if faint:
            img = img.filter(ImageFilter.GaussianBlur(radius=3))
    return img


def _make_text(rng: np.random.Generator, cls: int | None, weak: bool) -> str:
    words = list(rng.choice(DISTRACTORS, size=int(rng.integers(4, 9))))
    if cls is not None:
        keywords = CLASSES[cls][3]
        n_key = 1 if weak else int(rng.integers(1, 4))
        words += list(rng.choice(keywords, size=n_key))
        if weak:
            words += list(rng.choice(DISTRACTORS, size=4))
    rng.shuffle(words)
    return " ".join(words)


def _content_class(rng: np.random.Generator, label: int, quality: str, n_classes: int) -> int | None:
    """Which class a modality shows: its own, another one (misleading) or none (empty)."""
    if quality == "empty":
        return None
    if quality == "misleading":
        return int((label + rng.integers(1, n_classes)) % n_classes)
    return label


def _check_corruption(image_noise_p, image_noise_std_max, text_mask_p, text_mask_rate_max) -> None:
    for key, value, top in (
        ("image_noise_p", image_noise_p, 1.0),
        ("image_noise_std_max", image_noise_std_max, math.inf),
        ("text_mask_p", text_mask_p, 1.0),
        ("text_mask_rate_max", text_mask_rate_max, 1.0),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= top:
            bound = "a number >= 0" if top == math.inf else f"a number in [0, {top:g}]"
            raise ValueError(f"datasets.<synthetic>.generate.{key} must be {bound}, got {value!r}")


def corruption_strength(rng: np.random.Generator, p: float, top: float) -> float:
    """0 with probability 1 - p, else uniform in (0, top]: one draw pair per sample, used or not."""
    hit, u = rng.random(2)
    return float(top * (1.0 - u)) if hit < p else 0.0


def corrupt_image(image: Image.Image, noise_std: float, rng: np.random.Generator) -> Image.Image:
    """Gaussian pixel noise of std ``noise_std`` (0-255 units, same on all channels), clipped; 0 leaves it."""
    if noise_std == 0:
        return image
    # the project's test-time Gaussian noise (parity.noise: project), whose level e has std 10 e
    return Image.fromarray(gaussian_image_clipped(np.asarray(image), noise_std / 10.0, rng))


def generate(
    raw_dir: str | Path,
    seed: int,
    n_samples: int,
    n_classes: int,
    image_size: int,
    image_noise_p: float = 0.0,
    image_noise_std_max: float = 0.0,
    text_mask_p: float = 0.0,
    text_mask_rate_max: float = 0.0,
) -> Path:
    """Write the synthetic dataset to ``raw_dir`` (atomically: built in a temp dir, then renamed).

    Corruption (0 = off): with probability ``image_noise_p`` an image gets pixel noise of std uniform in
    (0, ``image_noise_std_max``]; with probability ``text_mask_p`` each word of a text is masked with a
    probability uniform in (0, ``text_mask_rate_max``] drawn for that text.
    """
    raw_dir = Path(raw_dir)
    if n_classes > len(CLASSES):
        raise ValueError(f"n_classes={n_classes}: the synthetic generator defines {len(CLASSES)} classes at most")
    _check_corruption(image_noise_p, image_noise_std_max, text_mask_p, text_mask_rate_max)
    rng = np.random.default_rng(seed)
    corruption_rng = np.random.default_rng([seed, _CORRUPTION_STREAM])
    raw_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{raw_dir.name}.", dir=raw_dir.parent))
    try:
        (tmp / "data").mkdir()
        labels = ["id\tlabel"]
        qualities = ["id\timage_quality\ttext_quality\timage_noise_std\ttext_mask_rate"]
        for i in tqdm(range(n_samples), desc="synthetic samples", unit="sample", mininterval=2):
            sample_id = f"{i:05d}"
            label = i % n_classes  # balanced classes
            q_img = QUALITY_LEVELS[rng.choice(4, p=IMAGE_QUALITY_P)]
            q_txt = QUALITY_LEVELS[rng.choice(4, p=TEXT_QUALITY_P)]
            if q_img != "good" and q_txt != "good":
                q_txt = "good"  # keep every sample solvable from at least one modality's content
            img = _draw_image(rng, image_size, _content_class(rng, label, q_img, n_classes), faint=q_img == "weak")
            noise_std = corruption_strength(corruption_rng, image_noise_p, image_noise_std_max)
            corrupt_image(img, noise_std, corruption_rng).save(tmp / "data" / f"{sample_id}.jpg", quality=90)
            text = _make_text(rng, _content_class(rng, label, q_txt, n_classes), weak=q_txt == "weak")
            mask_rate = corruption_strength(corruption_rng, text_mask_p, text_mask_rate_max)
            if mask_rate > 0:
                text = mask_text(text, mask_rate, corruption_rng)
            (tmp / "data" / f"{sample_id}.txt").write_text(text + "\n", encoding="utf-8")
            labels.append(f"{sample_id}\t{CLASSES[label][0]}")
            qualities.append(f"{sample_id}\t{q_img}\t{q_txt}\t{noise_std:.3f}\t{mask_rate:.4f}")
        (tmp / "labels.tsv").write_text("\n".join(labels) + "\n", encoding="utf-8")
        (tmp / "sample_quality.tsv").write_text("\n".join(qualities) + "\n", encoding="utf-8")
        if raw_dir.exists():
            shutil.rmtree(raw_dir)
        tmp.rename(raw_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    log.info("wrote %d synthetic samples (%d classes) to %s", n_samples, n_classes, raw_dir)
    return raw_dir


def build_splits(raw_dir: Path, options: dict) -> dict[str, list[dict]]:
    """Seeded 60/20/20 split per class of the synthetic label file."""
    raw_dir = Path(raw_dir)
    label_file = raw_dir / "labels.tsv"
    by_label: dict[str, list[str]] = {}
    with open(label_file, encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n")
        if header != "id\tlabel":
            raise ValueError(f"{label_file}:1: expected header 'id<TAB>label', got {header!r}; regenerate the data")
        for lineno, line in enumerate(fh, start=2):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 2 or not all(parts):
                raise ValueError(f"{label_file}:{lineno}: expected 'id<TAB>label', got {line.rstrip()!r}")
            by_label.setdefault(parts[1], []).append(parts[0])
    rng = np.random.default_rng(options.get("seed", 0))
    splits: dict[str, list[dict]] = {"train": [], "dev": [], "test": []}
    for label in sorted(by_label):
        ids = sorted(by_label[label])
        rng.shuffle(ids)
        n_train, n_dev = int(0.6 * len(ids)), int(0.8 * len(ids))
        for split, chunk in (("train", ids[:n_train]), ("dev", ids[n_train:n_dev]), ("test", ids[n_dev:])):
            for sample_id in chunk:
                text = (raw_dir / "data" / f"{sample_id}.txt").read_text(encoding="utf-8").rstrip("\n")
                splits[split].append({"id": sample_id, "label": label, "text": text, "img": f"data/{sample_id}.jpg"})
    for rows in splits.values():
        rows.sort(key=lambda r: r["id"])
    return splits
