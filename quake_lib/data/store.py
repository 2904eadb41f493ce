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
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import write_text

FORMAT_VERSION = 1
SIGNAL_FILE = "signal.npy"
TTF_FILE = "time_to_failure.npy"
CYCLES_FILE = "cycles.csv"
META_FILE = "meta.json"

# time_to_failure only decreases inside a cycle; at a lab quake it jumps back up by seconds.
# Any rise larger than this marks the first row of a new cycle (float32 noise is ~1e-6 s).
FAILURE_JUMP_S = 0.1

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
        rises = np.flatnonzero(np.diff(ttf, prepend=prev) > FAILURE_JUMP_S)
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


def clean_stale(target: Path) -> None:
    """Remove leftovers of an interrupted write of ``target`` (a rerun after a crash just works)."""
    for p in target.parent.glob(f".{target.name}.*"):
        shutil.rmtree(p, ignore_errors=True)


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
        self.tmp = self.target.parent / f".{self.target.name}.partial-{os.getpid()}"
        self.tmp.mkdir()
        self.signal = NpyStreamWriter(self.tmp / SIGNAL_FILE, np.int16)
        self.ttf = NpyStreamWriter(self.tmp / TTF_FILE, np.float32)
        self.cycles = CycleTracker()
        self._committed = False

    @property
    def n_rows(self) -> int:
        return self.signal.length

    def append(self, signal: np.ndarray, ttf: np.ndarray) -> None:
        if len(signal) != len(ttf):
            raise ValueError(f"signal and time_to_failure chunks differ in length ({len(signal)} vs {len(ttf)})")
        self.signal.append(signal)
        self.ttf.append(ttf)
        self.cycles.feed(np.asarray(ttf, dtype=np.float32))

    def commit(self, meta: dict) -> dict:
        self.signal.close()
        self.ttf.close()
        cycles = self.cycles.table()
        cycles.to_csv(self.tmp / CYCLES_FILE, index=False)
        meta = {"format_version": FORMAT_VERSION, "n_rows": self.n_rows,
                "n_cycles": int(len(cycles)), "n_failures": int(len(cycles) - 1), **meta}
        write_text(self.tmp / META_FILE, json.dumps(meta, indent=2) + "\n")
        old = self.target.parent / f".{self.target.name}.old-{os.getpid()}"
        if self.target.exists():
            os.rename(self.target, old)
        os.rename(self.tmp, self.target)
        shutil.rmtree(old, ignore_errors=True)
        self._committed = True
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
