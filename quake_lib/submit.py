"""Kaggle submission from a trained arm: ``python -m quake_lib submit --arm NAME --test-dir DIR``.

Nothing is trained here, and nothing here depends on what the arm is: its saved run names its approach,
whose module loads the fold models (:func:`quake_lib.approaches.protocol.load`), and a segment's
prediction is the **mean of the fold models' predictions**. Averaging the K fold models, each trained
on (K-1)/K of the cycles, is the common Kaggle practice; no model is refitted on all the data, so the
submission uses exactly the models whose held-out MAE the report shows (an approach with one model
for all the data says so, e.g. the constant: the median target of every evaluation window).

Every test segment must have the length the arm was evaluated on (the constant's too, although
it ignores the signal: a short file is a broken download, not a segment); a saved model that is
damaged, truncated or not this library's is refused with its file named, before anything is written.

Labels are never required. When a labels file is given, or ``test_labels.csv`` lies beside the test
folder (as ``python -m quake_lib prepare synthetic --kaggle-dir DIR`` writes it), the submission is
scored and the MAE printed: on the synthetic default the whole path is tested end to end.

Intervals (``--intervals``): ``<output stem>_intervals.csv`` beside the submission (seg_id, time_to_failure,
lower, upper; the central 80% of :mod:`quake_lib.evaluation.intervals`), Kaggle's file unchanged. Fold
models with bounds of their own (a binned head's ``q10`` / ``q90`` readouts): their mean; any other arm:
the prediction plus the residual quantiles of all its OOF rows (each held out from its model;
:func:`~quake_lib.evaluation.intervals.calibrate` without a held-out fold). The fold models' mean beats
one fold model: these bounds err on the wide side.

Missing segments: Kaggle only accepts a file with every seg_id of ``sample_submission.csv``. If the
test folder lacks some, that is an error; ``allow_missing=True`` (``--allow-missing``) writes the
segments that are present, in the sample's order, and says the file is partial (useful to check the
path on the 4 real segments in ``../shared/lanl/test``); it never fills gaps with made-up values.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .approaches import protocol
from .atomic import write_csv
from .data import kaggle
from .evaluation import intervals as iv

LABELS_FILE = "test_labels.csv"
SAMPLE_FILE = "sample_submission.csv"


@dataclass
class Submission:
    arm: str
    approach: str
    frame: pd.DataFrame          # seg_id, time_to_failure in sample_submission order (what was written)
    per_model: pd.DataFrame      # one column per fold model (index seg_id)
    path: Path | None
    n_expected: int              # seg_ids in sample_submission.csv
    mae: float | None = None     # against the labels, when there are labels
    n_scored: int = 0
    labels_path: Path | None = None
    intervals: pd.DataFrame | None = None   # seg_id, time_to_failure, lower, upper (with intervals=True)
    intervals_path: Path | None = None
    native_intervals: bool = False

    @property
    def partial(self) -> bool:
        return len(self.frame) < self.n_expected

    def summary(self) -> str:
        k = self.per_model.shape[1]
        models = "its one model" if k == 1 else f"mean of {k} fold models"
        lines = [f"{self.arm} (approach {self.approach}, {models}): {len(self.frame)} segments -> {self.path}"]
        if self.partial:
            lines.append(f"PARTIAL submission: {len(self.frame)} of the {self.n_expected} seg_ids of the sample; "
                         "Kaggle rejects a file with missing ids")
        if self.intervals_path is not None:
            how = "the fold models' own quantiles" if self.native_intervals else "conformal, from the OOF residuals"
            lines.append(f"{iv.LEVEL:.0%} intervals ({how}) -> {self.intervals_path}")
        if self.mae is not None:
            lines.append(f"MAE against {self.labels_path} on {self.n_scored} segments: {self.mae:.4f}")
        return "\n".join(lines)


def find_labels(test_dir: Path, labels=None) -> Path | None:
    if labels is not None:
        if not Path(labels).exists():
            raise FileNotFoundError(f"{labels}: no such labels file; expected seg_id,time_to_failure")
        return Path(labels)
    guess = Path(test_dir).parent / LABELS_FILE
    return guess if guess.exists() else None


def score(frame: pd.DataFrame, labels_path: Path) -> tuple[float, int]:
    """MAE of ``frame`` (seg_id, time_to_failure) against a labels file of the same columns."""
    truth = pd.read_csv(labels_path)
    if not {"seg_id", "time_to_failure"} <= set(truth.columns):
        raise ValueError(f"{labels_path}: expected the columns seg_id,time_to_failure, "
                         f"found {','.join(map(str, truth.columns))}")
    merged = frame.merge(truth, on="seg_id", suffixes=("", "_true"))
    if merged.empty:
        raise ValueError(f"{labels_path}: none of its seg_ids is among the {len(frame)} predicted segments")
    return float((merged["time_to_failure"] - merged["time_to_failure_true"]).abs().mean()), len(merged)


def _check_ids(test_dir: Path, sample: pd.DataFrame, sample_path: Path, allow_missing: bool) -> list[str]:
    """The sample's seg_ids that have a file in ``test_dir``, in the sample's order."""
    if not test_dir.is_dir():
        raise FileNotFoundError(f"{test_dir}: no such directory; expected the Kaggle test/ folder of seg_*.csv")
    present = {p.stem for p in test_dir.glob("seg_*.csv")}
    if not present:
        raise FileNotFoundError(f"{test_dir}: no seg_*.csv files in it")
    ids = sample["seg_id"].astype(str)
    extra = sorted(present - set(ids))
    if extra:
        raise ValueError(f"{test_dir} holds {len(extra)} segment(s) that {sample_path} does not list, "
                         f"e.g. {extra[0]!r}: wrong sample_submission.csv for this folder?")
    missing = ids[~ids.isin(present)]
    if len(missing) and not allow_missing:
        raise ValueError(f"{len(missing)} of the {len(ids)} seg_ids of {sample_path} have no file in {test_dir}, "
                         f"e.g. {missing.iloc[0]!r}; Kaggle needs all of them (--allow-missing writes a "
                         "partial file of the present ones, for checking only)")
    return ids[ids.isin(present)].tolist()


def submit(arm: str, test_dir, dataset: str = "synthetic", sample_submission=None, labels=None,
           output="submission.csv", allow_missing: bool = False, intervals: bool = False,
           seed: int = 0) -> Submission:
    """Predict every test segment with the saved fold models of ``arm``'s run of ``seed``
    (:func:`protocol.load`), write ``output`` in ``sample_submission.csv`` order (default sample: beside
    the test folder), score it if labels exist; with ``intervals`` also write the bounds to
    :func:`intervals_path` of ``output``."""
    test_dir = Path(test_dir)
    if not test_dir.is_dir():
        raise FileNotFoundError(f"{test_dir}: no such directory; expected the Kaggle test/ folder of seg_*.csv")
    protocol.read_meta(dataset, arm, seed)  # a missing or damaged run is named before anything else is read
    sample_path = Path(sample_submission) if sample_submission else test_dir.parent / SAMPLE_FILE
    sample = kaggle.read_sample_submission(sample_path)
    ids = _check_ids(test_dir, sample, sample_path, allow_missing)
    labels_path = find_labels(test_dir, labels)
    _check_output(Path(output), intervals, test_dir, sample_path, labels_path)
    # every fold model loads (or the error names its file) before the segments are read, and only once
    run = protocol.load(dataset, arm, seed)
    # read in the sample's order; a segment of another length is an error naming its file
    x = kaggle.read_segment_files([test_dir / f"{sid}.csv" for sid in ids], run.window_length,
                                  desc="reading segments")
    pred = run.predict(x)
    values = pred.value
    per_model = pd.DataFrame(pred.per_model, index=pd.Index(ids, name="seg_id"),
                             columns=[f"fold_{k}" for k in range(pred.per_model.shape[1])])
    if not np.isfinite(values).all():
        raise ValueError(f"arm {arm!r} predicted NaN or infinity for some segment")
    # the bounds before any file is written: a calibration that fails leaves no half result
    native = pred.lower is not None
    bounds = None
    if intervals:
        bounds = ((pred.lower, pred.upper) if native
                  else iv.calibrate(run.oof, held_out_fold=None).apply(values))
    path = Path(output)
    if len(ids) == len(sample):
        frame = kaggle.write_submission(path, dict(zip(ids, values)), sample_path)
    else:  # partial (allow_missing): the present ids, still in the sample's order
        frame = pd.DataFrame({"seg_id": ids, "time_to_failure": values})
        write_csv(frame, path)
    sub = Submission(arm, run.approach, frame, per_model, path, len(sample), labels_path=labels_path,
                     native_intervals=native)
    if bounds is not None:  # frame's rows are ids' rows, both in the sample's order
        sub.intervals = frame.assign(lower=bounds[0], upper=bounds[1])
        sub.intervals_path = write_csv(sub.intervals, intervals_path(path))
    if labels_path is not None:
        sub.mae, sub.n_scored = score(frame, labels_path)
    return sub


def _check_output(output: Path, intervals: bool, test_dir: Path, sample_path: Path, labels_path: Path | None):
    """Refuse to write over what this submission reads: a test segment (or anything in the test folder),
    the sample submission, the labels."""
    read = [p.resolve() for p in (sample_path, labels_path) if p is not None]
    for path in [output, *([intervals_path(output)] if intervals else [])]:
        where = path.resolve()
        if where in read or where.parent == test_dir.resolve() or where == test_dir.resolve():
            what = ("is in the test folder" if where.parent == test_dir.resolve() or where == test_dir.resolve()
                    else "is the sample submission" if where == read[0] else "is the labels file")
            raise ValueError(f"--output {output}: {path} {what} this submission reads; expected a path "
                             "outside the test folder, other than the sample submission and the labels")


def intervals_path(output) -> Path:
    """Where the interval file of submission ``output`` goes: ``<stem>_intervals.csv`` beside it."""
    output = Path(output)
    return output.with_name(f"{output.stem}_intervals.csv")
