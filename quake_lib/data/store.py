"""The on-disk layout of one prepared recording, written atomically.

``data/<name>/`` holds
  - ``signal.npy``            int16, the acoustic signal (memory-mappable);
  - ``time_to_failure.npy``   float32, seconds until the next lab quake, one per sample;
  - ``cycles.csv``            one row per quake cycle (see :class:`CycleTracker`);
  - ``meta.json``             source identity, row count, format version.

Real (ingested) and synthetic recordings are written by the same :class:`RecordingWriter`, so that
everything downstream is identical for both. Arrays are streamed to disk chunk by chunk; the whole
directory is built under a temporary name and renamed into place only when complete, so a crash
never leaves a half-written dataset that looks usable.

What else lives in ``data/<name>/`` is never lost when the recording is replaced: the trained models
under ``results/`` move into the new folder, as ``results/`` when the caller knows the data did not
change, else as ``results.replaced-<time>/`` beside it (see :meth:`RecordingWriter.commit`). Writers
of one dataset take :func:`dataset_lock` so that two of them never interleave.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .. import atomic
from ..atomic import write_text

FORMAT_VERSION = 1
SIGNAL_FILE = "signal.npy"
TTF_FILE = "time_to_failure.npy"
CYCLES_FILE = "cycles.csv"
META_FILE = "meta.json"

# time_to_failure only decreases inside a cycle; at a lab quake it jumps back up by seconds.
# Any rise larger than this marks the first row of a new cycle (float32 noise is ~1e-6 s).
FAILURE_JUMP_S = 0.1

RESULTS = "results"                     # paths.results_dir: trained models and OOF predictions
REPLACED_RESULTS = "results.replaced-"  # + time: results of a recording that was since replaced

# npy header reserved up front so that the data can be streamed before the length is known.
_NPY_HEADER_BYTES = 128


class NpyStreamWriter:
    """Write a 1-D ``.npy`` file chunk by chunk without knowing its final length in advance."""

    def __init__(self, path: Path, dtype):
        self.path = Path(path)
        self.dtype = np.dtype(dtype)
        self.length = 0
        self._f = open(self.path, "wb")
        self._f.write(b"\0" * _NPY_HEADER_BYTES)

    def append(self, chunk: np.ndarray) -> None:
        chunk = np.ascontiguousarray(chunk, dtype=self.dtype)
        self._f.write(memoryview(chunk).cast("B"))
        self.length += chunk.size

    def close(self) -> None:
        if self._f.closed:
            return
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                  "shape": (self.length,)}
        text = repr(header).encode("latin1")
        prefix = b"\x93NUMPY\x01\x00"
        body_len = _NPY_HEADER_BYTES - len(prefix) - 2
        text = text + b" " * (body_len - len(text) - 1) + b"\n"
        assert len(text) == body_len, "npy header does not fit its reserved space"
        self._f.seek(0)
        self._f.write(prefix + body_len.to_bytes(2, "little") + text)
        self._f.close()


class CycleTracker:
    """Find quake cycles in a time_to_failure stream fed chunk by chunk.

    A cycle runs from the row after one failure to the row of the next (the row where
    time_to_failure is smallest). The first cycle (before the first failure seen) and the last one
    (cut by the end of the recording) are marked incomplete: their true length is unknown.
    """

    def __init__(self):
        self.starts: list[int] = [0]
        self.start_ttf: list[float] = []
        self.end_ttf: list[float] = []
        self._n = 0
        self._last = None

    def feed(self, ttf: np.ndarray) -> None:
        if ttf.size == 0:
            return
        if self._last is None:
            self.start_ttf.append(float(ttf[0]))
        prev = ttf[0] if self._last is None else self._last
        # np.diff(ttf, prepend=prev) without copying the chunk into a longer array first
        rises = np.flatnonzero(np.diff(ttf) > FAILURE_JUMP_S) + 1
        if ttf[0] - prev > FAILURE_JUMP_S:
            rises = np.concatenate([[0], rises])
        for j in rises:  # a handful per recording
            self.end_ttf.append(float(ttf[j - 1] if j > 0 else prev))
            self.start_ttf.append(float(ttf[j]))
            self.starts.append(self._n + int(j))
        self._n += ttf.size
        self._last = ttf[-1]

    def table(self) -> pd.DataFrame:
        if self._n == 0:
            raise ValueError("no rows: cannot build a cycle table for an empty recording")
        starts = np.array(self.starts, dtype=np.int64)
        last = np.append(starts[1:] - 1, self._n - 1)
        end_ttf = self.end_ttf + [float(self._last)]
        n = len(starts)
        complete = np.ones(n, dtype=bool)
        complete[0] = False
        complete[-1] = False
        df = pd.DataFrame({
            "cycle": np.arange(n),
            "first_row": starts,
            "last_row": last,
            "n_rows": last - starts + 1,
            "start_ttf": np.round(self.start_ttf, 6),
            "end_ttf": np.round(end_ttf, 6),
        })
        df["duration_s"] = np.round(df["start_ttf"] - df["end_ttf"], 6)
        df["complete"] = complete
        return df


def read_meta(directory: Path) -> dict:
    path = Path(directory) / META_FILE
    with open(path) as f:
        meta = json.load(f)
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: format_version {meta.get('format_version')!r} is not supported "
                         f"(expected {FORMAT_VERSION}); prepare the dataset again")
    return meta


def clean_stale(target: Path) -> list[Path]:
    """Remove what a killed writer of ``target`` left (a rerun after a crash just works): exactly
    ``.NAME.partial-PID`` / ``.NAME.old-PID`` of processes that are gone, never another running
    writer's folder nor ``.NAME.v2.partial-PID`` of dataset ``NAME.v2``. Trained models inside a
    dead writer's ``old`` folder (a crash in the middle of :meth:`RecordingWriter.commit`) are moved
    into ``target`` first, as replaced results."""
    target = Path(target)
    if target.exists():
        for _, old in atomic.stale_siblings(target, ("old",)):
            _carry_results(old, target, keep=False)
    return atomic.clean_stale(target)


def results_files(directory: Path) -> list[Path]:
    """The files under ``directory/results/`` (trained models, OOF predictions, logs)."""
    d = Path(directory) / RESULTS
    return sorted(p for p in d.rglob("*") if p.is_file()) if d.is_dir() else []


def _carry_results(old_dir: Path, new_dir: Path, keep: bool) -> Path | None:
    """Move ``old_dir``'s trained models into ``new_dir``: earlier replaced results as they are, and
    ``results/`` as ``results/`` (``keep``: the data is the same) or ``results.replaced-<time>/``.
    Return where ``results/`` went, or None if there was none."""
    for prev in sorted(old_dir.glob(REPLACED_RESULTS + "*")):
        if not (new_dir / prev.name).exists():
            os.rename(prev, new_dir / prev.name)
    results = old_dir / RESULTS
    if not results_files(old_dir):
        return None
    dest = new_dir / RESULTS
    if not keep or dest.exists():
        stamp = time.strftime("%Y%m%d-%H%M%S")
        dest, k = new_dir / f"{REPLACED_RESULTS}{stamp}", 1
        while dest.exists():
            k += 1
            dest = new_dir / f"{REPLACED_RESULTS}{stamp}-{k}"
    os.rename(results, dest)
    return dest


@contextlib.contextmanager
def dataset_lock(directory: Path, wait: bool = True, log=print):
    """Hold the lock of dataset ``directory`` (``data/.NAME.lock``) while writing it: a second writer
    of the same name waits (saying for whom), or with ``wait=False`` refuses."""
    directory = Path(directory)
    with atomic.exclusive_lock(directory.parent / f".{directory.name}.lock", wait=wait, log=log,
                               what=f"dataset {directory.name!r} ({directory})"):
        yield


class RecordingWriter:
    """Stream a recording into ``directory`` atomically.

    >>> with RecordingWriter(dest) as w:      # doctest: +SKIP
    ...     w.append(signal_chunk, ttf_chunk)
    ...     w.commit({"source": ...})
    Without ``commit`` (an exception, a crash), nothing appears at ``dest``.
    """

    def __init__(self, directory: Path):
        self.target = Path(directory)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        clean_stale(self.target)
        self.tmp = atomic.hidden_sibling(self.target, "partial")
        shutil.rmtree(self.tmp, ignore_errors=True)  # this very process's, from an attempt it gave up
        self.tmp.mkdir()
        self.signal = NpyStreamWriter(self.tmp / SIGNAL_FILE, np.int16)
        self.ttf = NpyStreamWriter(self.tmp / TTF_FILE, np.float32)
        self.cycles = CycleTracker()
        self._committed = False
        self.replaced_results: Path | None = None  # where the old results went, if set aside

    @property
    def n_rows(self) -> int:
        return self.signal.length

    def append(self, signal: np.ndarray, ttf: np.ndarray) -> None:
        if len(signal) != len(ttf):
            raise ValueError(f"signal and time_to_failure chunks differ in length ({len(signal)} vs {len(ttf)})")
        self.signal.append(signal)
        self.ttf.append(ttf)
        self.cycles.feed(np.asarray(ttf, dtype=np.float32))

    def commit(self, meta: dict, keep_results: bool = False) -> dict:
        """Put the new recording in place. The old folder's ``results/`` follow it: kept as
        ``results/`` when ``keep_results`` (the caller checked that the data is unchanged), else set
        aside as ``results.replaced-<time>/`` (:attr:`replaced_results`); never deleted."""
        self.signal.close()
        self.ttf.close()
        cycles = self.cycles.table()
        cycles.to_csv(self.tmp / CYCLES_FILE, index=False)
        meta = {"format_version": FORMAT_VERSION, "n_rows": self.n_rows,
                "n_cycles": int(len(cycles)), "n_failures": int(len(cycles) - 1), **meta}
        write_text(self.tmp / META_FILE, json.dumps(meta, indent=2) + "\n")
        # swap first, then move the models out of the old folder: a crash in between leaves them in
        # .NAME.old-PID, which clean_stale() empties into the new folder rather than deleting
        old = atomic.hidden_sibling(self.target, "old")
        if self.target.exists():
            os.rename(self.target, old)
        os.rename(self.tmp, self.target)
        self._committed = True
        if old.exists():
            moved = _carry_results(old, self.target, keep_results)
            self.replaced_results = moved if moved is not None and moved.name != RESULTS else None
            shutil.rmtree(old, ignore_errors=True)
        return meta

    def abort(self) -> None:
        self.signal.close()
        self.ttf.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if not self._committed:
            self.abort()
        return False


def write_recording(directory: Path, signal: np.ndarray, ttf: np.ndarray, meta: dict,
                    chunk: int = 1 << 22) -> dict:
    """Write in-memory (or memory-mapped) arrays as a prepared recording."""
    if len(signal) != len(ttf):
        raise ValueError(f"signal and time_to_failure differ in length ({len(signal)} vs {len(ttf)})")
    with RecordingWriter(directory) as w:
        for i in range(0, len(signal), chunk):
            w.append(signal[i:i + chunk], ttf[i:i + chunk])
        return w.commit(meta)
