"""The Kaggle file layout: writing ``train.csv`` / test segments, reading segments, submissions.

Reading ``train.csv`` itself is :mod:`quake_lib.data.ingest`'s job. Writers are here so that synthetic
data and benchmarks can produce files in exactly the competition's format (``acoustic_data`` as an
integer, ``time_to_failure`` with up to 10 decimals, as in the real file: ``12,1.4690999832``).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numba
import numpy as np
import pandas as pd

from ..atomic import atomic_path, write_csv
from ..constants import SEGMENT_LENGTH
from ..progress import bar
from . import csv_parse, source

_FORMAT_ROWS = 1 << 20


@numba.njit(cache=True)
def _write_uint(v, out, p, digits):  # pragma: no cover - compiled
    """Write the decimal digits of ``v >= 0`` at ``out[p:]``; return the new position."""
    k = 0
    while True:
        digits[k] = 48 + v % 10
        v //= 10
        k += 1
        if v == 0:
            break
    for j in range(k - 1, -1, -1):
        out[p] = digits[j]
        p += 1
    return p


@numba.njit(cache=True, nogil=True)  # nogil: a writer thread formats while the generator renders
def _format_rows(signal, ttf, out):  # pragma: no cover - compiled
    """Write ``signal[i],ttf[i]\\n`` rows (ttf rounded to 10 decimals, trailing zeros dropped) into
    ``out``; with an empty ``ttf`` write ``signal[i]\\n``. Return the number of bytes written."""
    p = 0
    digits = np.empty(20, np.uint8)
    for i in range(len(signal)):
        v = np.int64(signal[i])
        if v < 0:
            out[p] = 45
            p += 1
            v = -v
        p = _write_uint(v, out, p, digits)
        if len(ttf) > 0:
            out[p] = 44
            p += 1
            x = ttf[i]
            if x < 0:
                out[p] = 45
                p += 1
                x = -x
            m = np.int64(x * 1e10 + 0.5)
            whole = m // 10_000_000_000
            frac = m % 10_000_000_000
            p = _write_uint(whole, out, p, digits)
            out[p] = 46
            p += 1
            nd = 10
            while nd > 1 and frac % 10 == 0:
                frac //= 10
                nd -= 1
            for j in range(nd - 1, -1, -1):
                digits[j] = 48 + frac % 10
                frac //= 10
            for j in range(nd):
                out[p] = digits[j]
                p += 1
        out[p] = 10
        p += 1
    return p


# time_to_failure is written from an int64 count of 1e-10 s (and rows get _ROW_BYTES of buffer each):
# a label this large would overflow both, so it is refused before the compiled formatter sees it.
_MAX_TTF = 1e8
_ROW_BYTES = 32


class CsvStreamWriter:
    """Kaggle-format rows appended chunk by chunk to an open binary file: the one formatter of
    train.csv and the test segments, for files of any size (memory: one ~32 MB buffer, reused).

    >>> with open(tmp, "wb") as f:                     # doctest: +SKIP
    ...     w = CsvStreamWriter(f, csv_parse.TRAIN_COLUMNS)
    ...     for x, ttf in chunks:
    ...         w.write(x, ttf)
    """

    def __init__(self, f, columns: tuple[str, ...], rows_per_call: int = _FORMAT_ROWS):
        self.f, self.two_columns = f, len(columns) == 2
        self.rows_per_call = rows_per_call
        self.buf = np.empty(rows_per_call * _ROW_BYTES, np.uint8)
        self.rows = 0
        self.bytes = f.write(",".join(columns).encode() + b"\n")

    def write(self, signal: np.ndarray, ttf: np.ndarray | None = None) -> int:
        """Append rows ``signal[i],ttf[i]`` (or ``signal[i]`` for a one-column file); return the bytes
        written. Arrays may be memory maps: they are read ``rows_per_call`` rows at a time."""
        if self.two_columns != (ttf is not None):
            raise ValueError(f"this file has {2 if self.two_columns else 1} column(s): "
                             f"expected {'a' if self.two_columns else 'no'} time_to_failure array")
        if ttf is not None and len(ttf) != len(signal):
            raise ValueError(f"signal and time_to_failure differ in length ({len(signal)} vs {len(ttf)})")
        none = np.empty(0, np.float64)
        n_bytes = 0
        for i in range(0, len(signal), self.rows_per_call):
            s = np.asarray(signal[i:i + self.rows_per_call], dtype=np.int64)
            t = none if ttf is None else np.asarray(ttf[i:i + self.rows_per_call], dtype=np.float64)
            if len(t) and not np.abs(t).max() < _MAX_TTF:  # also catches NaN
                bad = int(np.flatnonzero(~(np.abs(t) < _MAX_TTF))[0])
                raise ValueError(f"time_to_failure[{self.rows + i + bad}] = {float(t[bad])!r}: expected a finite "
                                 f"number of seconds below {_MAX_TTF:g}")
            n = _format_rows(s, t, self.buf)
            self.f.write(memoryview(self.buf[:n]))
            n_bytes += n
        self.rows += len(signal)
        self.bytes += n_bytes
        return n_bytes


def _write_csv(path: Path, columns: tuple[str, ...], signal: np.ndarray, ttf: np.ndarray | None) -> None:
    rows = max(1, min(_FORMAT_ROWS, len(signal)))  # a 150k-row segment needs no 32 MB buffer
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        CsvStreamWriter(f, columns, rows_per_call=rows).write(signal, ttf)


def write_train_csv(path, signal: np.ndarray, ttf: np.ndarray) -> None:
    """Write a Kaggle-format ``train.csv`` (streamed in chunks; arrays may be memory maps)."""
    _write_csv(path, csv_parse.TRAIN_COLUMNS, signal, ttf)


def write_segment_csv(path, signal: np.ndarray) -> None:
    """Write one Kaggle-format test segment ``seg_*.csv`` (header ``acoustic_data``)."""
    _write_csv(path, csv_parse.TEST_COLUMNS, signal, None)


# The parser's buffers for one segment file: its size, not the 8 MB blocks of a 9 GB train.csv (three
# of those, zero-filled for each of 2,624 files of 0.3 MB, cost more than the parsing itself).
_SEGMENT_MIN_BUFFER = 1 << 16


# The longest a row of a test segment can be: "-32768\r\n"; what a segment file may hold beyond its rows
# (header, blank lines) is bounded by the slack.
_SEGMENT_ROW_BYTES = 8
_SEGMENT_SLACK_BYTES = 4096


def max_segment_bytes(length: int) -> int:
    """The size of a ``length``-row segment file with the widest rows: a larger file is refused unread."""
    return length * _SEGMENT_ROW_BYTES + _SEGMENT_SLACK_BYTES


def read_segment(path, length: int | None = SEGMENT_LENGTH) -> np.ndarray:
    """One test segment as int16; checks the header, every value and (if given) the length. Only a
    regular file is read, and (with ``length``) only one small enough to hold that many rows."""
    size = source.check_regular_file(Path(path), "a Kaggle test segment seg_*.csv").st_size
    if length is not None and size > max_segment_bytes(length):
        raise csv_parse.CSVFormatError(path, None, f"{size:,} bytes; a test segment of {length:,} rows takes at "
                                       f"most {max_segment_bytes(length):,}, so this is not one")
    chunks = [c.signal for c in csv_parse.iter_chunks(path, csv_parse.TEST_COLUMNS,
                                                      chunk_bytes=max(_SEGMENT_MIN_BUFFER, size + 1))]
    x = np.concatenate(chunks)
    if length is not None and len(x) != length:
        raise csv_parse.CSVFormatError(path, None, f"{len(x):,} rows; a test segment has {length:,}")
    return x


def read_segment_files(files, length: int = SEGMENT_LENGTH, threads: int = 2, desc: str | None = None) -> np.ndarray:
    """The segments of ``files``, in that order, as one preallocated ``(n, length)`` int16 array (no list
    of arrays stacked: half the memory), read by ``threads`` threads (the parser releases the GIL). The
    first bad file raises its :class:`~quake_lib.data.csv_parse.CSVFormatError`. ``desc``: a progress
    bar (:func:`quake_lib.progress.bar`) with that label."""
    files = [Path(f) for f in files]
    out = np.empty((len(files), length), np.int16)

    def one(i):
        out[i] = read_segment(files[i], length)
        return i

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        done = pool.map(one, range(len(files)))
        for _ in bar(done, total=len(files), desc=desc, unit="segment") if desc else done:
            pass
    return out


def segment_files(directory) -> list[Path]:
    """The ``seg_*.csv`` files of a Kaggle test/ folder, sorted by seg_id."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such directory; expected the Kaggle test/ folder of seg_*.csv")
    files = sorted(directory.glob("seg_*.csv"))
    if not files:
        raise FileNotFoundError(f"{directory}: no seg_*.csv files in it")
    return files


def read_segments(directory, length: int | None = SEGMENT_LENGTH) -> dict[str, np.ndarray]:
    """Every ``seg_*.csv`` of a directory, by seg_id (the file name without ``.csv``), sorted by id."""
    return {f.stem: read_segment(f, length) for f in segment_files(directory)}


def read_sample_submission(path) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file; expected Kaggle's sample_submission.csv")
    df = pd.read_csv(path, skip_blank_lines=True)
    if list(df.columns) != ["seg_id", "time_to_failure"]:
        raise csv_parse.CSVFormatError(path, 1, "expected the header 'seg_id,time_to_failure', "
                                       f"found {','.join(map(str, df.columns))!r}")
    dup = df["seg_id"].duplicated()
    if dup.any():
        raise csv_parse.CSVFormatError(path, int(np.flatnonzero(dup)[0]) + 2,
                                       f"seg_id {df['seg_id'][dup].iloc[0]!r} appears twice")
    return df


def write_submission(path, predictions, sample_submission) -> pd.DataFrame:
    """Write ``submission.csv`` with the seg_ids in ``sample_submission.csv`` order.

    ``predictions`` maps seg_id to predicted time_to_failure (a dict or a Series indexed by seg_id).
    Every seg_id of the sample must have a finite prediction; extra ones are an error too, since they
    mean the wrong test folder was scored.
    """
    sample = read_sample_submission(sample_submission)
    pred = pd.Series(predictions, dtype=np.float64)
    missing = sample.loc[~sample["seg_id"].isin(pred.index), "seg_id"]
    if len(missing):
        raise ValueError(f"no prediction for {len(missing)} seg_id(s) of {sample_submission}, "
                         f"e.g. {missing.iloc[0]!r}")
    extra = pred.index.difference(sample["seg_id"])
    if len(extra):
        raise ValueError(f"{len(extra)} prediction(s) for seg_id(s) not in {sample_submission}, e.g. {extra[0]!r}")
    values = pred.loc[sample["seg_id"]].to_numpy()
    if not np.isfinite(values).all():
        raise ValueError("predictions must be finite; found NaN or infinity")
    out = pd.DataFrame({"seg_id": sample["seg_id"].to_numpy(), "time_to_failure": values})
    write_csv(out, path)
    return out
