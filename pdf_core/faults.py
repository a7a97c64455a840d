"""Failpoints: a test hook to kill the process at a named place in the code.

Code calls ``failpoint("name")`` at places where a crash matters (between writing a temp file and
renaming it, after a checkpoint, inside the training loop, between evaluation outputs). Normally
it does nothing. When the environment variable ``PDF_CORE_FAILPOINT`` is set:

* ``PDF_CORE_FAILPOINT=name``    — the first time ``failpoint("name")`` is reached, the process
  sends itself SIGKILL (no cleanup, no ``finally``, no flushing: like a power cut or the OOM killer);
* ``PDF_CORE_FAILPOINT=name:N``  — the same on the N-th hit of that failpoint, counted per process.

Only the kill-and-resume tests (``tests/test_reliability.py``) set this variable; never set it in a
real run. Names in use: ``before_rename`` (``io_utils.atomic_path``), ``epoch_end`` and
``micro_batch`` (``train.py``), ``eval_condition`` (``evaluate.py``).
"""

from __future__ import annotations

import os
import signal

ENV_VAR = "PDF_CORE_FAILPOINT"

_hits: dict[str, int] = {}


def _parse(spec: str) -> tuple[str, int]:
    name, sep, count = spec.partition(":")
    if not sep:
        return name, 1
    try:
        return name, int(count)
    except ValueError:
        raise ValueError(f"{ENV_VAR}={spec!r}: expected NAME or NAME:N with N an integer") from None


def failpoint(name: str) -> None:
    """SIGKILL this process if ``PDF_CORE_FAILPOINT`` selects this failpoint (and hit); else nothing."""
    spec = os.environ.get(ENV_VAR)
    if not spec:
        return
    target, nth = _parse(spec)
    if target != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] == nth:
        os.kill(os.getpid(), signal.SIGKILL)
