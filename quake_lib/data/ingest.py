"""Ingest a Kaggle-format ``train.csv`` (plain, ``.zip`` or ``.gz``) into ``data/<name>/``.

Streaming: the file is parsed chunk by chunk (:mod:`quake_lib.data.csv_parse`) and appended to the
``.npy`` files as it goes, so peak memory does not depend on the file size (the 2019 study's
pandas + concat + ``savez_compressed`` route needed well over 10 GB for the real 9 GB file). The
output appears atomically (:class:`quake_lib.data.store.RecordingWriter`), and a second run against an
unchanged source does nothing.
"""
from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

from tqdm.auto import tqdm

from .. import paths
from . import csv_parse, store

DEFAULT_NAME = "lanl"


def source_identity(path: Path) -> dict:
    """What makes a source file 'the same' for the no-op rerun: name, size, mtime and the hash of its
    first and last MiB (cheap even for 9 GB, and catches an in-place edit that kept size and mtime)."""
    path = Path(path).resolve()
    st = path.stat()
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read(1 << 20))
        if st.st_size > 2 << 20:
            f.seek(-(1 << 20), 2)
            h.update(f.read())
    return {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "sha256_head_tail": h.hexdigest()}


def is_up_to_date(directory: Path, identity: dict) -> bool:
    try:
        meta = store.read_meta(directory)
    except (OSError, ValueError):
        return False
    files_ok = all((directory / f).exists() for f in (store.SIGNAL_FILE, store.TTF_FILE, store.CYCLES_FILE))
    return files_ok and meta.get("source") == {"kind": "kaggle_csv", **identity}


def ingest(path, name: str = DEFAULT_NAME, force: bool = False, progress: bool | None = None,
           chunk_bytes: int = csv_parse.CHUNK_BYTES, log=print) -> dict:
    """Parse ``path`` into ``data/<name>/``; return the dataset's meta (with ``skipped`` if up to date)."""
    path = Path(path)
    dest = paths.dataset_dir(name)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file; expected the Kaggle train.csv (or .zip / .gz)")
    identity = source_identity(path)
    if not force and is_up_to_date(dest, identity):
        meta = store.read_meta(dest)
        log(f"{dest} is up to date with {path} ({meta['n_rows']:,} rows); nothing to do "
            "(use --force to ingest again)")
        return {**meta, "skipped": True}

    _, total = csv_parse.open_source(path)
    t0 = time.perf_counter()
    bar = tqdm(total=total, unit="B", unit_scale=True, desc=f"ingest {path.name}",
               disable=progress is False or (progress is None and not sys.stderr.isatty()),
               file=sys.stderr, mininterval=0.5)
    with RecordingWriterWithBar(dest, bar) as w:
        for chunk in csv_parse.iter_chunks(path, csv_parse.TRAIN_COLUMNS, chunk_bytes):
            w.append(chunk.signal, chunk.ttf)
            w.advance(chunk.bytes_read, time.perf_counter() - t0)
        seconds = time.perf_counter() - t0
        meta = w.commit({"source": {"kind": "kaggle_csv", **identity},
                         "ingest_seconds": round(seconds, 3)})
    log(f"ingested {meta['n_rows']:,} rows, {meta['n_failures']} failures, in {seconds:.1f} s "
        f"({meta['n_rows'] / max(seconds, 1e-9) / 1e6:.1f} M rows/s) -> {dest}")
    return meta


class RecordingWriterWithBar(store.RecordingWriter):
    """A RecordingWriter that drives a progress bar in bytes with the row rate as postfix."""

    def __init__(self, directory, bar):
        super().__init__(directory)
        self.bar = bar

    def advance(self, bytes_read: int, seconds: float) -> None:
        self.bar.update(bytes_read - self.bar.n)
        self.bar.set_postfix_str(f"{self.n_rows:,} rows, {self.n_rows / max(seconds, 1e-9):,.0f} rows/s",
                                 refresh=False)

    def __exit__(self, *exc):
        self.bar.close()
        return super().__exit__(*exc)
