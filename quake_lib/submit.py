"""Kaggle submission from a trained approach: ``python -m quake_lib submit --approach NAME --test-dir DIR``.

Nothing is trained here; the models are the ones cross-validation saved:

- a network (any approach trained by :func:`quake_lib.train.cross_validate`): every fold's module is
  rebuilt from ``results/checkpoints/<approach>/fold_<k>.pt`` alone
  (:func:`quake_lib.train.predict.load_module`) and the segment's prediction is the **mean of the fold
  models' default readouts** (the median of a binned head, the value of a regression head). Averaging
  the K fold models, each trained on (K-1)/K of the cycles, is the common Kaggle practice; no model
  is refitted on all the data, so the submission uses exactly the models whose held-out MAE the
  report shows.
- ``lightgbm``: the fold boosters :func:`quake_lib.approaches.lightgbm.cross_validate` saved as LightGBM text files,
  on the same Kaggle feature table, averaged the same way.
- ``constant``: the median target of all evaluation windows (every cycle's; the MAE-optimal constant).

Every test segment must have the length the approach was evaluated on (the constant's too, although
it ignores the signal: a short file is a broken download, not a segment); a saved model that is
damaged, truncated or not this library's is refused with its file named, before anything is written.

Labels are never required. When a labels file is given, or ``test_labels.csv`` lies beside the test
folder (as ``python -m quake_lib prepare synthetic --kaggle-dir DIR`` writes it), the submission is
scored and the MAE printed: on the synthetic default the whole path is tested end to end.

Intervals (``--intervals``): ``<output stem>_intervals.csv`` beside the submission (seg_id, time_to_failure,
lower, upper; the central 80% of :mod:`quake_lib.evaluation.intervals`), Kaggle's file unchanged. A binned
net: the fold models' mean ``q10`` / ``q90`` readouts; any other approach: the prediction plus the residual
quantiles of all its OOF rows (each held out from its model; :func:`~quake_lib.evaluation.intervals.calibrate`
without a held-out fold). The fold models' mean beats one fold model: these bounds err on the wide side.

Missing segments: Kaggle only accepts a file with every seg_id of ``sample_submission.csv``. If the
test folder lacks some, that is an error; ``allow_missing=True`` (``--allow-missing``) writes the
segments that are present, in the sample's order, and says the file is partial (useful to check the
path on the 4 real segments in ``../shared/lanl/test``); it never fills gaps with made-up values.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import evaluation
from .approaches.lightgbm import load_booster, predict_ttf
from .atomic import write_csv
from .data import kaggle
from .evaluation import intervals as iv
from .features.competition import kaggle_array_features
from .progress import bar
from .train.predict import load_module, predict_array

LABELS_FILE = "test_labels.csv"
SAMPLE_FILE = "sample_submission.csv"


@dataclass
class Submission:
    approach: str
    kind: str                    # 'net', 'lightgbm' or 'constant'
    frame: pd.DataFrame          # seg_id, time_to_failure in sample_submission order (what was written)
    per_model: pd.DataFrame      # one column per fold model (index seg_id); empty for 'constant'
    path: Path | None
    n_expected: int              # seg_ids in sample_submission.csv
    mae: float | None = None     # against the labels, when there are labels
    n_scored: int = 0
    labels_path: Path | None = None
    intervals: pd.DataFrame | None = None   # seg_id, time_to_failure, lower, upper (with intervals=True)
    intervals_path: Path | None = None

    @property
    def partial(self) -> bool:
        return len(self.frame) < self.n_expected

    def summary(self) -> str:
        models = f"mean of {self.per_model.shape[1]} fold models" if self.per_model.shape[1] else "one value"
        lines = [f"{self.approach} ({self.kind}, {models}): {len(self.frame)} segments -> {self.path}"]
        if self.partial:
            lines.append(f"PARTIAL submission: {len(self.frame)} of the {self.n_expected} seg_ids of the sample; "
                         "Kaggle rejects a file with missing ids")
        if self.intervals_path is not None:
            lines.append(f"{iv.LEVEL:.0%} intervals -> {self.intervals_path}")
        if self.mae is not None:
            lines.append(f"MAE against {self.labels_path} on {self.n_scored} segments: {self.mae:.4f}")
        return "\n".join(lines)


def approach_kind(dataset: str, approach: str) -> str:
    """'constant', 'lightgbm' (fold boosters saved) or 'net' (fold checkpoints saved); else an error."""
    if approach == "constant":
        if not evaluation.oof_path(dataset, "constant").exists():
            raise FileNotFoundError(f"no results of approach 'constant' for dataset {dataset!r}: run "
                                    f"`python -m quake_lib train --approach constant --dataset {dataset}` first")
        return "constant"
    d = evaluation.checkpoint_dir(dataset, approach)
    if sorted(d.glob("fold_*.txt")):
        return "lightgbm"
    if sorted(d.glob("fold_*.pt")):
        return "net"
    raise FileNotFoundError(f"no saved fold models of approach {approach!r} for dataset {dataset!r} in {d}: "
                            f"run `python -m quake_lib train --approach ... --dataset {dataset}` first "
                            "(networks save fold_<k>.pt, lightgbm fold_<k>.txt)")


def fold_files(dataset: str, approach: str, suffix: str) -> list[Path]:
    """The fold models of the approach's latest run: one per fold of its OOF file (a file of a fold
    that run did not have, left by an older run with more folds, is not used)."""
    directory = evaluation.checkpoint_dir(dataset, approach)
    folds = sorted(int(k) for k in evaluation.load_oof(dataset, approach)["fold"].unique())
    files = [directory / f"fold_{k}{suffix}" for k in folds]
    missing = [f.name for f in files if not f.exists()]
    if missing:
        raise FileNotFoundError(f"{directory}: no {', '.join(missing)} although the OOF predictions of "
                                f"{approach!r} have those folds; train the approach again")
    return files


def saved_meta(dataset: str, approach: str) -> dict:
    """``checkpoints/<approach>/meta.json`` of a baseline (window length, file hashes), or {} for
    results saved before it existed."""
    path = evaluation.checkpoint_dir(dataset, approach) / "meta.json"
    if not path.exists():
        return {}
    try:
        meta = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not readable JSON ({e}); train the approach again") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: expected a JSON object, found {type(meta).__name__}; train the approach again")
    return meta


def window_length(meta: dict, dataset: str, approach: str) -> int:
    """The segment length the approach was evaluated on, from its saved ``meta`` (a fold checkpoint's,
    or a baseline's :func:`saved_meta`; Kaggle's 150,000 unless saved otherwise); the constant's too,
    so that a short or long test file is an error naming it."""
    length = meta.get("window_length", evaluation.WINDOW)
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"approach {approach!r} of dataset {dataset!r}: saved window_length {length!r} is "
                         "not a positive integer; train the approach again")
    return length


def net_readouts(modules: list, x: np.ndarray, batch_size: int = 32) -> list[dict[str, np.ndarray]]:
    """Every readout of each fold module (:func:`load_module` of each checkpoint): one dict per module."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    reads = []
    for module in bar(modules, desc="predicting", unit="fold model"):
        module.to(device)
        reads.append(predict_array(module, x, batch_size))
    return reads


def net_predictions(modules: list, x: np.ndarray, batch_size: int = 32, reads: list | None = None) -> np.ndarray:
    """(n_segments, n_folds) default readouts of the fold modules (``reads``: their
    :func:`net_readouts`, if already made)."""
    reads = net_readouts(modules, x, batch_size) if reads is None else reads
    return np.stack([r[m.head.default_readout] for m, r in zip(modules, reads)], axis=1).astype(np.float64)


def interval_bounds(dataset: str, approach: str, values: np.ndarray, reads: list | None = None):
    """``(lower, upper)`` of the central interval around ``values``: the mean over fold models of the
    quantile readouts when every module has them (``reads`` of a binned net), else ``values`` plus the
    residual quantiles of the approach's saved OOF rows. Both clipped at 0."""
    names = iv.QUANTILE_READOUTS
    if reads and all(n in r for r in reads for n in names):
        lower, upper = (np.mean([r[n] for r in reads], axis=0).astype(np.float64) for n in names)
        return np.clip(lower, 0.0, None), np.clip(upper, 0.0, None)
    oof = evaluation.load_oof(dataset, approach)
    return iv.calibrate(oof, held_out_fold=None).apply(values)


def lightgbm_predictions(files: list[Path], x: np.ndarray, batch: int = 64, meta: dict | None = None) -> np.ndarray:
    """(n_segments, n_folds) time_to_failure predictions of the saved fold boosters ``files`` on the Kaggle
    features (through :func:`quake_lib.approaches.lightgbm.predict_ttf`: an arm trained on the time since
    failure or the cycle fraction is turned back into time_to_failure); ``meta`` (the arm's meta.json): its
    ``file_hashes`` (file name -> hash recorded at training) check that each file is what was saved."""
    meta = meta or {}
    hashes = meta.get("file_hashes") or {}
    boosters = [load_booster(path, hashes.get(path.name)) for path in files]  # all checked before any work
    # batches: the feature code works in float64, 2,624 real segments at once would take ~3 GB
    starts = range(0, len(x), batch)
    feats = pd.concat([kaggle_array_features(x[i:i + batch]) for i in bar(starts, desc="features", unit="batch")],
                      ignore_index=True)
    cols = []
    for path, booster in zip(files, boosters):
        names = booster.feature_name()
        missing = [n for n in names if n not in feats.columns]
        if missing:
            raise ValueError(f"{path}: the model uses features {missing[:3]} that the current feature "
                             "code does not make; train lightgbm again")
        cols.append(predict_ttf(booster, feats[names].to_numpy(), meta, int(path.stem.split("_")[1])))
    return np.stack(cols, axis=1).astype(np.float64)


def constant_prediction(dataset: str) -> float:
    """The median target over every evaluation window (all cycles): the constant model fitted on all."""
    return float(evaluation.load_oof(dataset, "constant")["target"].median())


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


def submit(approach: str, test_dir, dataset: str = "synthetic", sample_submission=None, labels=None,
           output="submission.csv", allow_missing: bool = False, batch_size: int = 32,
           intervals: bool = False) -> Submission:
    """Predict every test segment with ``approach``'s saved fold models, write ``output`` in
    ``sample_submission.csv`` order (default sample: beside the test folder), score it if labels exist;
    with ``intervals`` also write the bounds to :func:`intervals_path` of ``output``."""
    test_dir = Path(test_dir)
    if not test_dir.is_dir():
        raise FileNotFoundError(f"{test_dir}: no such directory; expected the Kaggle test/ folder of seg_*.csv")
    kind = approach_kind(dataset, approach)
    sample_path = Path(sample_submission) if sample_submission else test_dir.parent / SAMPLE_FILE
    sample = kaggle.read_sample_submission(sample_path)
    ids = _check_ids(test_dir, sample, sample_path, allow_missing)
    labels_path = find_labels(test_dir, labels)
    # every fold model loads (or the error names its file) before the segments are read, and only once
    nets = [load_module(path) for path in fold_files(dataset, approach, ".pt")] if kind == "net" else []
    length = window_length(nets[0][1] if nets else saved_meta(dataset, approach), dataset, approach)
    # read in the sample's order; a segment of another length is an error naming its file
    x = kaggle.read_segment_files([test_dir / f"{sid}.csv" for sid in ids], length, desc="reading segments")
    reads = None
    if kind == "constant":
        per_model = pd.DataFrame(index=pd.Index(ids, name="seg_id"))
        values = np.full(len(ids), constant_prediction(dataset))
    else:
        if kind == "net":
            modules = [module for module, _ in nets]
            reads = net_readouts(modules, x, batch_size)
            cols = net_predictions(modules, x, batch_size, reads=reads)
        else:
            cols = lightgbm_predictions(fold_files(dataset, approach, ".txt"), x, meta=saved_meta(dataset, approach))
        per_model = pd.DataFrame(cols, index=pd.Index(ids, name="seg_id"),
                                 columns=[f"fold_{k}" for k in range(cols.shape[1])])
        values = cols.mean(axis=1)
    if not np.isfinite(values).all():
        raise ValueError(f"approach {approach!r} predicted NaN or infinity for some segment")
    # the bounds before any file is written: a calibration that fails leaves no half result
    bounds = interval_bounds(dataset, approach, values, reads) if intervals else None
    path = Path(output)
    if len(ids) == len(sample):
        frame = kaggle.write_submission(path, dict(zip(ids, values)), sample_path)
    else:  # partial (allow_missing): the present ids, still in the sample's order
        frame = pd.DataFrame({"seg_id": ids, "time_to_failure": values})
        write_csv(frame, path)
    sub = Submission(approach, kind, frame, per_model, path, len(sample), labels_path=labels_path)
    if bounds is not None:  # frame's rows are ids' rows, both in the sample's order
        sub.intervals = frame.assign(lower=bounds[0], upper=bounds[1])
        sub.intervals_path = write_csv(sub.intervals, intervals_path(path))
    if labels_path is not None:
        sub.mae, sub.n_scored = score(frame, labels_path)
    return sub


def intervals_path(output) -> Path:
    """Where the interval file of submission ``output`` goes: ``<stem>_intervals.csv`` beside it."""
    output = Path(output)
    return output.with_name(f"{output.stem}_intervals.csv")
