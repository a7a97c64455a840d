"""Write one settings stamp (workflow/rules/stamps.smk, pdf_core/stamps.py): delete the outputs it invalidates and the
owner's older stamps, then write the stamp (temp file + rename). Standard library only: it runs in a
fresh interpreter for every stamp, so it must start fast.

usage: write_stamp.py STAMP CONTENT_JSON [STALE_PATH ...]
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path


def _gone_is_fine(func, path, exc_info):
    if not issubclass(exc_info[0], FileNotFoundError):
        raise exc_info[1]


def main(stamp: str, content: str, *stale: str) -> None:
    for path in map(Path, stale):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, onerror=_gone_is_fine)
        else:
            path.unlink(missing_ok=True)
    stamp = Path(stamp)
    owner_family = stamp.name.rsplit(".", 2)[0]  # <owner>.<family>.<key>.json -> <owner>.<family>
    for old in stamp.parent.glob(f"{owner_family}.*.json"):
        old.unlink()
    stamp.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{stamp.name}.", dir=stamp.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(content + "\n")
    os.replace(tmp, stamp)


if __name__ == "__main__":
    main(*sys.argv[1:])
