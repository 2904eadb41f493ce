"""Ingest a Kaggle-format ``train.csv`` (plain, ``.zip`` or ``.gz``) into ``data/<name>/``.

Streaming: the file is parsed chunk by chunk (:mod:`quake_lib.data.csv_parse`) and appended to the
``.npy`` files as it goes, so peak memory does not depend on the file size (the 2019 study's
pandas + concat + ``savez_compressed`` route needed well over 10 GB for the real 9 GB file). The
output appears atomically (:class:`quake_lib.data.store.RecordingWriter`), and a second run against an
unchanged source does nothing.

Safe against the careless and the unlucky:

- the source's identity is the hash of its whole content (:mod:`quake_lib.data.source`), computed
  while parsing and stored in ``meta.json``: an in-place edit that keeps size and mtime is seen;
- a dataset with trained models (``results/``) is not replaced by different data without
  ``force``; with it, the old models are kept beside the new data as ``results.replaced-<time>/``;
- one writer per dataset name at a time (:func:`quake_lib.data.store.dataset_lock`): a second
  ingest of the same name waits for the first, then finds the data up to date.
"""
from __future__ import annotations

import errno
import json
import time
from pathlib import Path

from .. import paths
from ..atomic import NoSpaceError, write_text
from ..progress import bar as progress_bar
from . import csv_parse, source, store

DEFAULT_NAME = "lanl"
SOURCE_KIND = "kaggle_csv"


def source_identity(path: Path) -> dict:
    """Where the source is and what it looks like from outside (the content hash is added while
    parsing): path, size and mtime."""
    path = Path(path).resolve()
    st = path.stat()
    return {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _old_meta(directory: Path) -> dict | None:
    try:
        return store.read_meta(directory)
    except (OSError, ValueError):
        return None


def is_up_to_date(directory: Path, path: Path, meta: dict | None = None) -> bool:
    """Whether ``directory`` holds exactly the content of source ``path``.

    Decided by the full content hash, not by size, mtime or a sample of the bytes: those miss a byte
    changed in the middle with the mtime put back. Hashing is one streaming read of the source (xxh3
    runs at memory speed, so this costs the disk read, a fraction of a parse) and is only done when
    the same path with the same size was ingested before; anything else is re-ingested at once.
    """
    meta = _old_meta(directory) if meta is None else meta
    if meta is None:
        return False
    old = meta.get("source", {})
    now = source_identity(path)
    files_ok = all((Path(directory) / f).exists() for f in (store.SIGNAL_FILE, store.TTF_FILE, store.CYCLES_FILE))
    if not files_ok or old.get("kind") != SOURCE_KIND:
        return False
    if (old.get("path"), old.get("size")) != (now["path"], now["size"]):
        return False
    content = source.content_hash(path)
    if "content_hash" not in old:
        # ingested before the hash was recorded: trust path, size and mtime this once, as that version
        # did, and record the hash, so that from now on the content decides (and the models stay)
        if old.get("mtime_ns") != now["mtime_ns"]:
            return False
        meta["source"] = {**old, "content_hash": content}
        write_text(Path(directory) / store.META_FILE, json.dumps(meta, indent=2) + "\n")
        return True
    return content == old["content_hash"]


def ingest(path, name: str = DEFAULT_NAME, force: bool = False, progress: bool = True,
           chunk_bytes: int = csv_parse.CHUNK_BYTES, log=print, wait: bool = True) -> dict:
    """Parse ``path`` into ``data/<name>/``; return the dataset's meta (with ``skipped`` if up to date).

    ``force``: ingest even if up to date, and replace a dataset that has trained models (they are
    kept as ``results.replaced-<time>/``). ``wait``: if another process is writing this dataset, wait
    for it (else refuse). ``progress``: a bar in bytes, shown where :mod:`quake_lib.progress` says."""
    path = Path(path)
    name = paths.check_name(name)
    dest = paths.dataset_dir(name)
    source.check_regular_file(path, "the Kaggle train.csv (or .zip / .gz)")
    with store.dataset_lock(dest, wait=wait, log=log):
        old = _old_meta(dest)
        if not force and is_up_to_date(dest, path, old):
            log(f"{dest} is up to date with {path} ({old['n_rows']:,} rows, same content hash); nothing to do "
                "(use --force to ingest again)")
            return {**old, "skipped": True}
        trained = store.results_files(dest)
        if trained and not force:
            was = (old or {}).get("source", {})
            was = was.get("path") or f"a {was.get('kind', 'unknown')} source"
            n = len(trained)
            raise ValueError(f"{dest / store.RESULTS} holds {n} file{'s' if n != 1 else ''} of trained models and "
                             f"predictions made on the current data (from {was}); {path} has other content, "
                             f"so ingesting it as {name!r} would orphan them. Use another --name, or --force "
                             f"to replace the data (the old results are then kept as "
                             f"{dest / store.REPLACED_RESULTS}<time>/)")
        if not force and old is not None and old.get("source", {}).get("path") == source_identity(path)["path"]:
            log(f"{path} changed since it was ingested into {dest} (its content differs); ingesting it again")
        return _parse_into(path, dest, old, progress, chunk_bytes, log)


def _parse_into(path: Path, dest: Path, old: dict | None, progress: bool, chunk_bytes: int, log) -> dict:
    identity = source_identity(path)
    t0 = time.perf_counter()
    total = source.size_hint(path)
    bar = progress_bar(total=total, desc=f"ingest {path.name}", unit="B",
                       disable=not progress, unit_scale=True, mininterval=0.5)
    hasher = source.new_hasher()
    with RecordingWriterWithBar(dest, bar) as w:
        try:
            for chunk in csv_parse.iter_chunks(path, csv_parse.TRAIN_COLUMNS, chunk_bytes, hasher=hasher,
                                               copy=False):  # each chunk is written before the next is parsed
                w.append(chunk.signal, chunk.ttf)
                w.advance(chunk.bytes_read, time.perf_counter() - t0)
            seconds = time.perf_counter() - t0
            content = source.digest(hasher)
            # models trained on identical content stay valid: keep them in place
            same = (old or {}).get("source", {}).get("content_hash") == content
            meta = w.commit({"source": {"kind": SOURCE_KIND, **identity, "content_hash": content},
                             "ingest_seconds": round(seconds, 3)}, keep_results=same)
        except OSError as e:
            if e.errno not in (errno.ENOSPC, errno.EDQUOT) or isinstance(e, NoSpaceError):
                raise
            raise _disk_full(w, dest, total) from e
    log(f"ingested {meta['n_rows']:,} rows, {meta['n_failures']} failures, in {seconds:.1f} s "
        f"({meta['n_rows'] / max(seconds, 1e-9) / 1e6:.1f} M rows/s) -> {dest}")
    if w.replaced_results is not None:
        log(f"the results of the previous data were kept as {w.replaced_results}")
    return meta


def _disk_full(w: "RecordingWriterWithBar", dest: Path, total: int | None) -> NoSpaceError:
    """The full disk in numbers: what the new recording had taken when the disk filled, and (when the
    source's size is known) about what the whole would take, from the share of the source read."""
    written = sum(a.length * a.dtype.itemsize for a in (w.signal, w.ttf))  # handed to the file system
    read = w.bytes_read
    needed = int(written * total / read) if written and total and read else None
    return NoSpaceError(dest, written=written, needed=needed)


class RecordingWriterWithBar(store.RecordingWriter):
    """A RecordingWriter that drives a progress bar in bytes with the row rate as postfix."""

    def __init__(self, directory, bar):
        super().__init__(directory)
        self.bar = bar
        self.bytes_read = 0  # of the source's CSV text, through the last chunk written

    def advance(self, bytes_read: int, seconds: float) -> None:
        self.bytes_read = bytes_read
        self.bar.update(bytes_read - self.bar.n)
        self.bar.set_postfix_str(f"{self.n_rows:,} rows, {self.n_rows / max(seconds, 1e-9):,.0f} rows/s",
                                 refresh=False)

    def __exit__(self, *exc):
        self.bar.close()
        return super().__exit__(*exc)
