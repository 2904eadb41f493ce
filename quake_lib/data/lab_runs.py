"""Reader of the Penn State lab runs p4581 and p5198 (Laurenti et al. 2022): one row per 0.1 s.

The files (``lab_<run>_ae_variance.csv`` in the shared material) have a first unnamed index column,
then ``LPDisp, NormStress, ShearStress, Time, Var_Ch1, Var_Ch2, TimeToStartFailure, TimeToEndFailure``.
:func:`read_lab_run` checks them and cuts the rows into quake cycles:

- **Cycles** start where ``TimeToStartFailure`` jumps up (a failure starts: the countdown, which
  reached 0 on the row before, restarts at the next cycle's length). Cycle ``k`` holds the rows from
  the ``k``-th reset up to the row before the next one; the last cycle runs to the end of the file.
- **The head** (cycle 0): the rows before the first reset. Its start lies before the file, so it is a
  partial cycle (``LabRun.complete`` is False for it); its labels are valid (they count down to a
  failure inside the file). Whether a row is evaluated is the caller's choice; the approaches evaluate
  only rows with a full 7 s history, which the short heads of both files (12 and 55 rows) never have,
  so the head serves as input history only. The tail is complete when its countdown reaches 0 on the
  last row (it does in both files: they were cut at failures).
- **The first row's labels** are 0.0 for both targets in both files, while the countdown of the next
  rows says they should be 1.1 / 2.2 s (p4581) and 5.4 / 0.3 s (p5198): zero-filled, not a failure.
  Such a first row (both targets 0, followed by a jump of more than one row's step) is marked
  unlabeled (``LabRun.labeled``), and its jump is not counted as a reset; its AE variance is kept.
- **The time step**: the labels count down by exactly 0.1 s per row everywhere, but the ``Time``
  column shows short steps at the authors' realignments of the clock (p4581: 29 steps of 0.054 or
  0.091 s, one every ~10 s; p5198: 5 of 0.098 s). So a step is accepted between 0.5 and 1.5 rows
  (0.05-0.15 s) with the median within 1% of 0.1 s; anything else (a gap, a repeated or reversed
  row) is an error naming the file and line. The labels' own countdown is checked too.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths

LAB_RUNS = {"p4581": "lab_p4581_ae_variance.csv", "p5198": "lab_p5198_ae_variance.csv"}
COLUMNS = ("LPDisp", "NormStress", "ShearStress", "Time", "Var_Ch1", "Var_Ch2", "TimeToStartFailure",
           "TimeToEndFailure")
INPUTS = ("Var_Ch1", "Var_Ch2")                                        # AE variance of the two channels
TARGETS = ("TimeToStartFailure", "TimeToEndFailure", "ShearStress")
ROW_SECONDS = 0.1
STEP_RANGE = (0.5, 1.5)          # accepted Time step, in rows
MEDIAN_TOLERANCE = 0.01          # relative tolerance of the median Time step
LABEL_TOLERANCE = 1e-3           # s: a countdown step is -0.1 s within this


@dataclass(frozen=True)
class LabRun:
    """One lab run: its table, the quake cycle of every row, which rows carry labels."""

    name: str
    path: Path
    frame: pd.DataFrame          # the file's columns, index = row number (0..n-1)
    cycles: np.ndarray           # int64 cycle id per row: 0 = the head, then one per failure
    labeled: np.ndarray          # bool per row: its targets are usable
    complete: np.ndarray         # bool per cycle id: start and end of the cycle lie inside the file

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def n_cycles(self) -> int:
        return int(self.cycles.max()) + 1

    @property
    def n_resets(self) -> int:
        """Failures that start inside the file (jumps of ``TimeToStartFailure``)."""
        return self.n_cycles - 1

    def inputs(self) -> np.ndarray:
        """``(n_rows, 2)`` float64 AE variance of both channels."""
        return self.frame[list(INPUTS)].to_numpy(np.float64)

    def target(self, name: str) -> np.ndarray:
        if name not in TARGETS:
            raise ValueError(f"target {name!r} is not one of {TARGETS}")
        return self.frame[name].to_numpy(np.float64)

    def __repr__(self) -> str:  # no machine path and no table dump in a notebook's output
        cycles = self.cycle_table()
        full = cycles[cycles["complete"]]
        return (f"LabRun({self.name!r}: {len(self):,} rows of {ROW_SECONDS:g} s, {self.n_resets} failures, "
                f"{len(full)} complete cycles of {full['seconds'].mean():.2f} s on average "
                f"({full['seconds'].min():.1f}-{full['seconds'].max():.1f} s), "
                f"{int(self.labeled.sum()):,} labeled rows)")

    def cycle_table(self) -> pd.DataFrame:
        """One row per cycle: first row, rows, seconds, complete."""
        ids, first, n = np.unique(self.cycles, return_index=True, return_counts=True)
        return pd.DataFrame({"cycle": ids, "first_row": first, "n_rows": n, "seconds": n * ROW_SECONDS,
                             "complete": self.complete[ids]})


def resolve(name_or_path) -> tuple[str, Path]:
    """``("p4581", <shared>/lab_p4581_ae_variance.csv)`` for a run name, ``(stem, path)`` for a path."""
    if isinstance(name_or_path, str) and name_or_path in LAB_RUNS:
        return name_or_path, paths.shared_lanl_dir() / LAB_RUNS[name_or_path]
    path = Path(name_or_path)
    if path.suffix != ".csv" and not path.exists():
        raise ValueError(f"{name_or_path!r} is neither a lab run ({', '.join(LAB_RUNS)}) nor a CSV file")
    stem = path.stem
    return (stem[len("lab_"):].split("_")[0] if stem.startswith("lab_") else stem), path


def _line(row: int) -> int:
    return row + 2  # line 1 is the header


def _numbers(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Every column as finite float64, or an error naming the first bad cell."""
    out = {}
    for col in COLUMNS:
        values = pd.to_numeric(raw[col], errors="coerce").to_numpy(np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            r = int(bad[0])
            raise ValueError(f"{path}: line {_line(r)}, column {col!r}: expected a finite number "
                             f"(got {raw[col].iloc[r]!r})")
        out[col] = values
    return pd.DataFrame(out)


def _check_time(time: np.ndarray, path: Path) -> None:
    if len(time) < 2:
        raise ValueError(f"{path}: expected rows every {ROW_SECONDS} s, found {len(time)} row(s)")
    step = np.diff(time)
    median = float(np.median(step))
    if abs(median - ROW_SECONDS) > MEDIAN_TOLERANCE * ROW_SECONDS:
        raise ValueError(f"{path}: column 'Time': expected rows every {ROW_SECONDS} s (median step "
                         f"{median:.4g} s)")
    lo, hi = STEP_RANGE[0] * ROW_SECONDS, STEP_RANGE[1] * ROW_SECONDS
    bad = np.flatnonzero((step < lo) | (step > hi))
    if bad.size:
        r = int(bad[0]) + 1
        raise ValueError(f"{path}: line {_line(r)}, column 'Time': step {step[r - 1]:.4g} s from the row "
                         f"before; expected {ROW_SECONDS} s (accepted {lo:.3g}-{hi:.3g} s): a gap, a "
                         "repeated or a reversed row")


def _zero_filled_first_row(frame: pd.DataFrame) -> bool:
    t, e = frame["TimeToStartFailure"].to_numpy(), frame["TimeToEndFailure"].to_numpy()
    jump = ROW_SECONDS + LABEL_TOLERANCE
    return len(t) > 1 and t[0] == 0.0 and e[0] == 0.0 and (t[1] > jump or e[1] > jump)


def _check_countdown(values: np.ndarray, col: str, first: int, path: Path) -> np.ndarray:
    """Rows (from ``first + 1`` on) where ``values`` jumps up; every other step must be -0.1 s."""
    step = np.diff(values[first:])
    up = step > LABEL_TOLERANCE
    bad = np.flatnonzero(~up & (np.abs(step + ROW_SECONDS) > LABEL_TOLERANCE))
    if bad.size:
        r = first + int(bad[0]) + 1
        raise ValueError(f"{path}: line {_line(r)}, column {col!r}: expected a countdown of {ROW_SECONDS} s "
                         f"per row or a reset (got {values[r - 1]:.4g} -> {values[r]:.4g})")
    return first + np.flatnonzero(up) + 1


def read_lab_run(name_or_path) -> LabRun:
    """Read and check a lab run: ``"p4581"`` / ``"p5198"`` (from ``QUAKE_SHARED_DIR``) or a CSV path."""
    name, path = resolve(name_or_path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such lab-run file (the real material lives in "
                                f"{paths.shared_lanl_dir()}; set QUAKE_SHARED_DIR to point at it)")
    try:
        raw = pd.read_csv(path, index_col=0, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as e:
        raise ValueError(f"{path}: not a lab-run CSV table ({str(e).splitlines()[0][:120]})") from None
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; expected the columns {list(COLUMNS)} "
                         f"after the index (found {list(raw.columns)})")
    frame = _numbers(raw, path)
    _check_time(frame["Time"].to_numpy(), path)
    for col in INPUTS:  # the approaches take its logarithm
        bad = np.flatnonzero(frame[col].to_numpy() <= 0)
        if bad.size:
            raise ValueError(f"{path}: line {_line(int(bad[0]))}, column {col!r}: expected a positive "
                             f"variance (got {frame[col].iloc[int(bad[0])]!r})")
    first = 1 if _zero_filled_first_row(frame) else 0
    resets = _check_countdown(frame["TimeToStartFailure"].to_numpy(), "TimeToStartFailure", first, path)
    _check_countdown(frame["TimeToEndFailure"].to_numpy(), "TimeToEndFailure", first, path)
    marks = np.zeros(len(frame), np.int64)
    marks[resets] = 1
    cycles = np.cumsum(marks)
    labeled = np.ones(len(frame), bool)
    labeled[:first] = False
    complete = np.ones(int(cycles[-1]) + 1, bool)
    complete[0] = False  # the head's start lies before the file
    last = frame["TimeToStartFailure"].to_numpy()[-1]
    complete[-1] = complete[-1] and last <= LABEL_TOLERANCE  # the tail ends where its countdown reaches 0
    return LabRun(name, path, frame, cycles, labeled, complete)
