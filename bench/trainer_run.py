"""A short paper-recipe finetune run through the project's real trainer, at paper size, offline.

    python bench/trainer_run.py --json OUT [--device cuda|cpu] [--tiny] [--n-train 3840]
        [--n-dev 512] [--epochs 2] [--micro-batch 256] [--compile]

``pdf_core.train.train_run`` trains ``qmf`` (BERT-base + ResNet-152, random weights; tiny shapes with
``--tiny``) on a generated split in the finetune layout (bench/paper_shapes.py) with the paper's
recipe (Adam lr 5e-5, effective batch 640) on the fast path (bf16 on a GPU, micro-batch
``--micro-batch`` x accumulation to 640), in a temporary run directory (paper-size checkpoints are
GBs) removed afterwards. Writes the JSON ``OUT``: per epoch the trainer's own
seconds (its train pass plus the dev prediction, from its per-epoch log record) and samples/s over the
training samples; epoch 1
includes cudnn autotuning (and compilation with ``--compile``), so the later epochs are the figure.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

import paper_shapes

from pdf_core.io_utils import write_json
from pdf_core.train import train_run


class EpochSeconds(logging.Handler):
    """The wall time of each epoch, from the trainer's per-epoch log record (the curves leave it out: a
    resumed run must write the same bytes)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.seconds: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        if hasattr(record, "epoch_seconds"):
            self.seconds.append(record.epoch_seconds)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", type=Path, required=True, help="where the result goes")
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    p.add_argument("--tiny", action="store_true")
    p.add_argument("--n-train", type=int, default=3840)
    p.add_argument("--n-dev", type=int, default=512)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--micro-batch", type=int, default=256)
    p.add_argument("--effective-batch", type=int, default=640)
    p.add_argument("--compile", action="store_true")
    args = p.parse_args(argv)
    shapes = paper_shapes.TINY if args.tiny else paper_shapes.PAPER
    hp = paper_shapes.paper_settings(
        device=args.device,
        max_epochs=args.epochs,
        micro_batch=args.micro_batch,
        grad_accum=max(1, args.effective_batch // args.micro_batch),
        precision="bf16" if args.device == "cuda" else "fp32",
        compile=args.compile,
    )
    train_inputs = paper_shapes.make_inputs(shapes, args.n_train, seed=1)
    dev_inputs = paper_shapes.make_inputs(shapes, args.n_dev, seed=2)
    run_dir = Path(tempfile.mkdtemp(prefix="pdf_core_trainer_run_"))
    timer, train_log = EpochSeconds(), logging.getLogger("pdf_core.train")
    train_log.addHandler(timer)
    train_log.setLevel(logging.INFO)
    t0 = time.perf_counter()
    try:
        metrics = train_run(
            paper_shapes.MODEL,
            hp,
            paper_shapes.dataset_config(shapes, "sdpa"),
            paper_shapes.features_config(shapes),
            shapes.classes,
            1,
            train_inputs,
            dev_inputs,
            run_dir,
            None,  # no curves: GPU images have no DVCLive, and the epoch times come from the log
        )
        wall = time.perf_counter() - t0
    finally:
        train_log.removeHandler(timer)
        shutil.rmtree(run_dir, ignore_errors=True)
    result = {
        "shapes": "tiny" if args.tiny else "paper",
        "settings": hp.as_dict(),
        "n_train": args.n_train,
        "n_dev": args.n_dev,
        "wall_s_incl_model_build_and_checkpoints": wall,
        "epochs": [
            {"epoch": epoch, "seconds": seconds, "train_samples_per_s": args.n_train / seconds}
            for epoch, seconds in enumerate(timer.seconds, start=1)
        ],
        "metrics": metrics,
    }
    write_json(args.json, result)
    for e in result["epochs"]:
        print(f"trainer epoch {e['epoch']}: {e['seconds']:.1f} s, {e['train_samples_per_s']:.1f} train samples/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
