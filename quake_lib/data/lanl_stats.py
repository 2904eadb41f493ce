"""The real segment table ``../shared/lanl/segment_stats.csv``: reading it, and its quake cycles.

The file has one row per consecutive, non-overlapping 150,000-sample segment of the real ``train.csv``
(4,194 rows): ``segment``, ``row_start``, ``cycle`` (quake-cycle id, 0..16), ``time_to_failure`` (the
target: at the segment's last row) and the eleven statistics of
:data:`quake_lib.features.segment_stats.SEGMENT_STATS`.

How its cycles are labelled (checked against the 16 failure rows of the shared README): the 16
segments that *hold* a failure carry the id of the cycle they start in, but their target is read
after the failure, so it belongs to the next cycle (e.g. segment 37: cycle 0, target 11.53 s, the
length of cycle 1). :func:`straddling` finds them (the only places where the target rises from one
segment to the next) and :func:`target_cycles` gives each segment the cycle of its target.

The first and the last cycle are partial: the recording starts 1.47 s before the first failure (cycle
0: its start, hence its length, is unknown) and ends 9.77 s before a failure that lies beyond it
(cycle 16: only its first ~1.8 s are recorded, but its labels count down to that failure, so its
length is known from its first target). :func:`cycle_lengths` says which lengths are known.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths
from ..constants import SEGMENT_LENGTH
from ..features.segment_stats import SEGMENT_STATS

FILE_NAME = "segment_stats.csv"
INT_COLUMNS = ("segment", "row_start", "cycle")
FLOAT_COLUMNS = ("time_to_failure", *SEGMENT_STATS)
COLUMNS = (*INT_COLUMNS, *FLOAT_COLUMNS)
# statistics that order the samples: min <= q01 <= q25 <= q75 <= q99 <= max in every valid row
_ORDERED = ("min", "q01", "q25", "q75", "q99", "max")


def default_path() -> Path:
    return paths.shared_lanl_dir() / FILE_NAME


def read_segment_stats(path=None) -> pd.DataFrame:
    """The segment table (default ``<QUAKE_SHARED_DIR>/segment_stats.csv``), checked: the columns of
    :data:`COLUMNS` in that order, integer ids, finite numbers, consecutive segments of 150,000 rows,
    cycle ids that never decrease, non-negative targets, ordered quantiles. A bad file raises a
    ValueError naming the file, the line and the column, and what was expected."""
    path = Path(default_path() if path is None else path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (the real segment table; set QUAKE_SHARED_DIR to the "
                                f"folder holding {FILE_NAME}, or pass its path)")
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        lines = list(csv.reader(fh))
    # leading empty lines are tolerated (the shared train head starts with one); the header follows
    first = next((i for i, row in enumerate(lines) if row and any(f.strip() for f in row)), None)
    if first is None:
        raise ValueError(f"{path}: empty file; expected a header {','.join(COLUMNS)} and one row per segment")
    header = [h.strip() for h in lines[first]]
    if tuple(header) != COLUMNS:
        missing = [c for c in COLUMNS if c not in header]
        extra = [c for c in header if c not in COLUMNS]
        raise ValueError(f"{path}, line {first + 1}: header {','.join(header)!r} is not the expected "
                         f"{','.join(COLUMNS)!r} (missing: {missing or 'none'}; unexpected: {extra or 'none'}; "
                         "same columns in the same order required)")
    body = lines[first + 1:]
    while body and not any(f.strip() for f in body[-1]):  # trailing empty lines
        body.pop()
    if not body:
        raise ValueError(f"{path}: a header but no data rows")
    values = {c: np.empty(len(body), np.int64 if c in INT_COLUMNS else np.float64) for c in COLUMNS}
    for i, row in enumerate(body):
        line = first + 2 + i
        if len(row) != len(COLUMNS):
            raise ValueError(f"{path}, line {line}: {len(row)} fields, expected {len(COLUMNS)} ({','.join(COLUMNS)})")
        for c, text in zip(COLUMNS, row):
            values[c][i] = _parse(text, c, path, line)
    df = pd.DataFrame(values)
    _check_rows(df, path, first + 2)
    return df


def _parse(text: str, column: str, path: Path, line: int):
    text = text.strip()
    try:
        if column in INT_COLUMNS:
            return int(text)
        v = float(text)
    except ValueError:
        kind = "an integer" if column in INT_COLUMNS else "a number"
        raise ValueError(f"{path}, line {line}, column {column!r}: expected {kind}, got {text!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{path}, line {line}, column {column!r}: expected a finite number, got {text!r}")
    return v


def _check_rows(df: pd.DataFrame, path: Path, first_line: int) -> None:
    """Row-level facts of the table; the first offending row is named by its line in the file."""
    def fail(mask, column, expected):
        i = int(np.flatnonzero(np.asarray(mask))[0])
        raise ValueError(f"{path}, line {first_line + i}, column {column!r}: expected {expected}, "
                         f"got {df[column].to_numpy()[i].item()!r}")

    n = len(df)
    bad = df["segment"].to_numpy() != np.arange(n)
    if bad.any():
        fail(bad, "segment", "consecutive segment numbers 0, 1, 2, ... (one row per segment, in order)")
    bad = df["row_start"].to_numpy() != df["segment"].to_numpy() * SEGMENT_LENGTH
    if bad.any():
        fail(bad, "row_start", f"segment x {SEGMENT_LENGTH:,} (consecutive non-overlapping segments)")
    step = np.diff(df["cycle"].to_numpy(), prepend=df["cycle"].iloc[0])
    bad = (step < 0) | (step > 1) | (df["cycle"].to_numpy() < 0)
    if bad.any():
        fail(bad, "cycle", "a non-negative cycle id that stays or grows by one from the previous row")
    if (df["time_to_failure"] < 0).any():
        fail(df["time_to_failure"] < 0, "time_to_failure", "a non-negative time in seconds")
    if (df["std"] < 0).any():
        fail(df["std"] < 0, "std", "a non-negative standard deviation")
    for lo, hi in zip(_ORDERED[:-1], _ORDERED[1:]):
        bad = df[lo] > df[hi]
        if bad.any():
            fail(bad, hi, f"a value >= {lo} ({' <= '.join(_ORDERED)})")


def straddling(stats: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the segments that hold a failure. Inside a cycle the target (time_to_failure at
    the segment's last row) counts down from one segment to the next; it rises only after a failure.
    Where it rises while the cycle id stays (the file's labelling: the id changes one segment later),
    the failure lies inside the segment; where both change together, it fell on the boundary."""
    ttf = stats["time_to_failure"].to_numpy()
    ids = stats["cycle"].to_numpy()
    return np.r_[False, (np.diff(ttf) > 0) & (np.diff(ids) == 0)]


def target_cycles(stats: pd.DataFrame) -> np.ndarray:
    """The cycle of each segment's target: the file's id, plus one for a segment that holds a failure
    (its target is read after the failure, in the next cycle)."""
    return stats["cycle"].to_numpy(np.int64) + straddling(stats)


def cycle_lengths(stats: pd.DataFrame) -> pd.DataFrame:
    """One row per cycle id of the file: ``n_segments`` (segments with that id), ``length_s`` (the
    cycle's length in seconds, NaN where unknown), ``head`` / ``tail`` (the partial first and last
    cycles) and ``length_known``.

    A cycle's length is the largest target among the segments whose target lies in it: the first one
    read after the failure that started it, less than one segment (0.039 s) after that failure, so it
    is short of the true length by at most that (on the real file 0.0005-0.032 s against the lengths in
    the shared README). Only the first cycle's start precedes the recording: its length is unknown
    (NaN). The last cycle's failure lies beyond the recording, but its labels give its length."""
    ids = stats["cycle"].to_numpy(np.int64)
    cycles = np.unique(ids)
    longest = stats["time_to_failure"].groupby(target_cycles(stats)).max()
    out = pd.DataFrame({"n_segments": pd.Series(ids).value_counts().reindex(cycles).to_numpy()},
                       index=pd.Index(cycles, name="cycle"))
    out["length_s"] = longest.reindex(cycles).to_numpy(np.float64)
    out.loc[cycles[0], "length_s"] = np.nan  # its start, hence its length, is not in the recording
    out["head"] = out.index == cycles[0]
    out["tail"] = out.index == cycles[-1]
    out["length_known"] = out["length_s"].notna()
    return out
