"""GloVe extraction throughput and peak memory against `cat file > /dev/null` on the same file.

    python bench/glove_extract.py [--size-mb 1024] [--dim 300] [--keep FILE]

Generates a GloVe-format text file (random words and vectors, a few 840B-style tokens with spaces
and malformed lines), then measures, side by side in one run:
  * `cat FILE > /dev/null` — the disk/page-cache read speed floor;
  * `python -m pdf_core`'s extraction (pdf_core.data.glove.extract_glove) in a subprocess, for
    wall time and peak RSS (ru_maxrss of the child).
Prints MB/s of both and their ratio. The file stays cached between the two reads (cat runs first
and again last, to show the cache state did not favour either side).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_glove(path: Path, size_mb: int, dim: int, seed: int = 0) -> int:
    """Rows of formatted random vectors, reused block by block under new words (fast to write)."""
    rng = np.random.default_rng(seed)
    rows = [" ".join(f"{v:.5f}" for v in vec) for vec in rng.normal(size=(997, dim))]
    target = size_mb * 1024 * 1024
    written = lines = 0
    with open(path, "w", encoding="utf-8") as fh:
        while written < target:
            out = []
            for i in range(len(rows)):
                n = lines + i
                word = "at name@domain.com" if n % 50_000 == 7 else f"w{n}"  # 840B has tokens with spaces
                row = rows[i].replace("0.", "x.", 1) if n % 100_000 == 13 else rows[i]  # a malformed number
                out.append(f"{word} {row}\n")
            chunk = "".join(out)
            fh.write(chunk)
            written += len(chunk)
            lines += len(rows)
    return lines


def time_cat(path: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(f"cat {path!s} > /dev/null", shell=True, check=True)  # path is ours, no user input
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--keep", help="reuse/keep the generated file at this path")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="glove-bench-"))
    path = Path(args.keep) if args.keep else work / "glove.bench.txt"
    if not path.exists():
        t0 = time.perf_counter()
        n = write_glove(path, args.size_mb, args.dim)
        print(f"generated {path} ({path.stat().st_size / 2**20:.0f} MB, {n} lines) in {time.perf_counter() - t0:.0f} s")
    size_mb = path.stat().st_size / 2**20
    # a vocabulary of 20k words spread over the file, like a dataset's
    split = work / "train.jsonl"
    n_lines = sum(1 for _ in open(path, "rb"))
    words = [f"w{i}" for i in range(0, n_lines, max(1, n_lines // 20_000))]
    with open(split, "w") as fh:
        for i in range(0, len(words), 20):
            fh.write(json.dumps({"id": str(i), "label": "a", "text": " ".join(words[i : i + 20]), "img": "x"}) + "\n")

    cat_before = time_cat(path)
    code = (
        "import sys, json; from pathlib import Path; from pdf_core.data.glove import extract_glove; "
        "r = extract_glove([Path(sys.argv[1])], sys.argv[2], False, Path(sys.argv[3])); print(json.dumps(r))"
    )
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, str(split), str(path), str(work / "out")],
        capture_output=True,
        text=True,
        check=True,
    )
    extract_s = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    cat_after = time_cat(path)
    cat_s = min(cat_before, cat_after)
    print(
        f"file: {size_mb:.0f} MB, {report['lines']} lines, {report['malformed_lines']} malformed, "
        f"{report['words_found']}/{report['dataset_words']} vocabulary words found"
    )
    print(f"cat > /dev/null : {cat_s:7.2f} s  {size_mb / cat_s:8.1f} MB/s  (runs: {cat_before:.2f}, {cat_after:.2f} s)")
    print(f"glove extract   : {extract_s:7.2f} s  {size_mb / extract_s:8.1f} MB/s  peak RSS {peak_mb:.0f} MB")
    print(f"ratio extract/cat time: {extract_s / cat_s:.1f}x")
    if not args.keep:
        path.unlink()


if __name__ == "__main__":
    main()
