"""Writing files so that a crash never leaves a half-written one: write a hidden sibling, then rename.

``os.replace`` is atomic on one filesystem, so a reader sees the old file or the new one, never a
mix; the temporary name carries the process id, so two processes writing the same file do not
write into each other's temporary file.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write; on success it replaces ``path``, on an error
    it is removed. ``suffix`` keeps an extension for writers that infer the format from the name
    (``fig.savefig``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path, text: str) -> Path:
    """``path.write_text(text)`` (UTF-8), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_csv(df, path, **to_csv) -> Path:
    """``df.to_csv(path, index=False, **to_csv)``, atomically."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, **to_csv)
    return Path(path)
