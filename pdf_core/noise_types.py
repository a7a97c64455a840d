"""The declared noise types: names, what each corrupts, at which per-sample rate, which the original code had.

Standard library only, so that validating a configuration (the Snakefile loads :mod:`pdf_core.config`)
imports neither numpy nor torch. :mod:`pdf_core.noise` gives every declaration here its implementation
(and refuses to import when the two disagree); the schema's ``grid.noise_types`` enum, the grid, the
encode stage and the evaluation all read the names from here. docs/noise.md describes every type, level
by level, and what ``parity.noise`` does with it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

SEVERITIES = 5  # ImageNet-C's severities 1..5
MAX_LEVEL = 10.0  # the paper's top level; the families reach severity 5 and the missing rate 1 there


def severity(level: float) -> int:
    """The family severity of a grid level: 0 for level 0, else ceil(level / 2) capped at 5 (5 -> 3, 10 -> 5)."""
    if level <= 0:
        return 0
    return min(SEVERITIES, math.ceil(level / 2))


def half_when_noisy(level: float) -> float:
    """The paper's per-sample rate: every other sample (in expectation) at any level > 0."""
    return 0.5 if level > 0 else 0.0


def level_fraction(level: float) -> float:
    """level / 10, capped at 1: the share of samples that lose a modality."""
    return min(1.0, level / MAX_LEVEL)


def _salt_pepper_rate(level: float) -> float:
    return min(1.0, 0.5 * level / MAX_LEVEL)  # the original's RandomApply(0.5) times uniform < level / 10


@dataclass(frozen=True)
class NoiseDeclaration:
    """What a noise type corrupts and how often; the corruption itself is in :mod:`pdf_core.noise`."""

    seed_code: int  # part of every seed key of this type: never reuse one
    image_rate: Callable[[float], float] | None  # level -> probability that a sample's image is corrupted
    text_rate: Callable[[float], float] | None  # level -> probability that a sample's text is corrupted
    # the original code had it: `parity.noise: original` replays its draws (pdf_core.noise_replay). A type
    # it did not have has nothing to replay and draws per (eval seed, sample) under either choice.
    paper: bool = False

    @property
    def corrupts(self) -> tuple[str, ...]:
        return tuple(m for m, rate in (("image", self.image_rate), ("text", self.text_rate)) if rate is not None)


# In seed-code order. The paper's two corrupt both modalities (text masking comes with either image
# noise); every family of the wider suite corrupts one modality, so its effect can be read alone.
NOISE_DECLARATIONS: dict[str, NoiseDeclaration] = {
    "gaussian": NoiseDeclaration(1, half_when_noisy, half_when_noisy, paper=True),
    "salt_pepper": NoiseDeclaration(2, _salt_pepper_rate, half_when_noisy, paper=True),
    "missing_image": NoiseDeclaration(3, level_fraction, None),
    "missing_text": NoiseDeclaration(4, None, level_fraction),
    "gaussian_blur": NoiseDeclaration(5, half_when_noisy, None),
    "jpeg": NoiseDeclaration(6, half_when_noisy, None),
    "brightness": NoiseDeclaration(7, half_when_noisy, None),
    "contrast": NoiseDeclaration(8, half_when_noisy, None),
    "occlusion": NoiseDeclaration(9, half_when_noisy, None),
    "char_typos": NoiseDeclaration(10, None, half_when_noisy),
    "word_dropout": NoiseDeclaration(11, None, half_when_noisy),
    "word_swap": NoiseDeclaration(12, None, half_when_noisy),
}
NOISE_TYPE_NAMES = tuple(NOISE_DECLARATIONS)
PAPER_NOISE_TYPES = tuple(name for name, declared in NOISE_DECLARATIONS.items() if declared.paper)
