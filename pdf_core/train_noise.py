"""Train-time corruption (``train.noise``): which test conditions a run trains on, and the checks on them.

``train.noise: {types, levels, probability}``: in every epoch each training sample is, with
``probability``, replaced by its version under one (type, level) of ``types`` x ``levels``, drawn
uniformly; that version is what the test-time noise (:class:`pdf_core.noise.TestNoiser`) makes of the
train split under that condition, seeded by :data:`TRAIN_NOISE_KEY` instead of an eval seed. The
per-epoch draw is :func:`pdf_core.inputs.epoch_sources`; docs/training.md, "Train-time corruption".

Standard library only: the configuration's validation (:mod:`pdf_core.config`) reads it.
"""

from __future__ import annotations

# Stands where the eval seed stands in the test noise's seed keys ([key, sample, stream]); 2^32 is above
# every 32-bit eval seed, so the train split's corruption shares no generator with a test condition's.
TRAIN_NOISE_KEY = 2**32
# Whose draws corrupt the train split: the project's, the only ones that are the train split's own.
TRAIN_NOISE_PARITY = "project"
# The trainer's per-epoch draw of which samples are corrupted comes from [train seed, epoch, this]; the
# epoch's order comes from [train seed, epoch], so the two streams differ (nonzero: see pdf_core/noise.py).
TRAIN_NOISE_STREAM = 5


def train_conditions(noise: dict) -> list[tuple[str, float]]:
    """The (type, level) versions a run trains on, type-major in config order; none when it trains clean."""
    if noise["probability"] == 0:
        return []
    return [(noise_type, level) for noise_type in noise["types"] for level in noise["levels"]]


def _noise_blocks(params: dict) -> list[tuple[str, dict]]:
    """Every ``noise`` block of the configuration, by key: ``train`` and each model override layer."""
    layers = [("models", params.get("models"))]
    layers += [(f"datasets.{ds}.models", block.get("models")) for ds, block in params["datasets"].items()]
    blocks = [("train.noise", params["train"]["noise"])]
    for where, overrides in layers:
        for model, values in (overrides or {}).items():
            if "noise" in (values or {}):
                blocks.append((f"{where}.{model}.noise", values["noise"]))
    return blocks


def config_problems(params: dict) -> list[str]:
    """What is wrong with the configuration's train-time corruption, each naming its key and the fix."""
    problems = []
    for where, noise in _noise_blocks(params):
        if noise["probability"] == 0:
            continue
        empty = [key for key in ("types", "levels") if not noise[key]]
        if empty:
            problems.append(
                f"'{where}': probability {noise['probability']} needs {' and '.join(empty)} to draw from; "
                "list them or set probability: 0"
            )
        problem = parity_problem(params["parity"]["noise"])
        if problem is not None:
            problems.append(f"'{where}': {problem}; set parity.noise: project or probability: 0")
    return problems


def parity_problem(noise_parity: str) -> str | None:
    """Why the train split cannot be corrupted under ``parity.noise: noise_parity``, or None when it can."""
    if noise_parity != TRAIN_NOISE_PARITY:
        return (
            "train-time corruption needs parity.noise project: original replays the original evaluation's "
            "draws, whose Gaussian pattern is one fixed pattern per image size, so training on it would learn "
            "the test's own pattern"
        )
    return None
