"""How every approach is scored: the same windows, the same folds, one file format, one table.

- Windows: the grid of :data:`EVAL_STRIDE` over the recording, each :data:`WINDOW` samples long (the
  Kaggle segment), without those that straddle a failure; target = time_to_failure at the last sample.
- Folds: whole quake cycles held out (:func:`quake_lib.folds.cycle_folds`), every cycle once, fixed by
  :data:`FOLD_SEED` so that every approach sees exactly the same splits.
- Out-of-fold (OOF) predictions: one CSV per approach, ``data/<dataset>/results/oof_<approach>.csv``,
  with columns :data:`OOF_COLUMNS` and, optionally, ``prediction_<readout>`` columns for the other
  readouts of the same model (e.g. the argmax / expectation / median of a binned head). Files are
  written atomically (tmp + ``os.replace``) so that a crash never leaves a half file that
  :func:`load_all` would read.
- Scores: :func:`mae_table` gives the MAE per fold, the mean and the standard deviation across folds
  (the spread a reader should compare differences against) and the MAE pooled over all windows.
"""
from __future__ import annotations

import os
import re

import numpy as np
import pandas as pd

from . import paths
from .folds import Fold, cycle_folds
from .recording import SEGMENT_LENGTH, Recording, Windows

WINDOW = SEGMENT_LENGTH   # the competition's unit of prediction
EVAL_STRIDE = 150_000     # the one place the evaluation grid is set: every approach is scored on it
N_FOLDS = 5
FOLD_SEED = 0             # folds are fixed by this seed, not by the seed of a model's training run
OOF_COLUMNS = ("approach", "fold", "cycle", "start", "target", "prediction")
READOUT_PREFIX = "prediction_"
_APPROACH_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def eval_windows(rec: Recording, stride: int = EVAL_STRIDE, length: int = WINDOW) -> Windows:
    """The evaluation grid of ``rec`` (every approach is scored on these windows)."""
    return rec.windows(length=length, stride=stride)


def make_folds(rec: Recording, n_folds: int = N_FOLDS, seed: int = FOLD_SEED,
               windows: Windows | None = None) -> list[Fold]:
    """Leave-cycles-out folds over the cycles that hold at least one evaluation window."""
    windows = eval_windows(rec) if windows is None else windows
    if len(windows) == 0:
        raise ValueError(f"recording {rec.name!r} holds no window of {windows.length} samples")
    return cycle_folds(windows.cycles, n_folds=n_folds, seed=seed)


def fold_table(folds: list[Fold], windows: Windows) -> pd.DataFrame:
    """One row per cycle: its fold and how many evaluation windows it holds."""
    rows = []
    for f in folds:
        for c in f.test_cycles:
            rows.append({"cycle": int(c), "fold": f.index, "n_windows": int((windows.cycles == c).sum())})
    return pd.DataFrame(rows).sort_values("cycle", ignore_index=True)


def check_folds(folds: list[Fold], windows: Windows) -> None:
    """Raise if a cycle is held out twice or never, or a cycle is on both sides of a fold."""
    held = np.concatenate([f.test_cycles for f in folds])
    present = np.unique(windows.cycles)
    if len(held) != len(np.unique(held)) or not np.array_equal(np.sort(held), present):
        raise ValueError(f"folds must hold out every cycle of the windows exactly once "
                         f"(held out: {sorted(held.tolist())}, cycles: {present.tolist()})")
    for f in folds:
        if np.intersect1d(f.train_cycles, f.test_cycles).size:
            raise ValueError(f"fold {f.index}: cycles on both sides "
                             f"{np.intersect1d(f.train_cycles, f.test_cycles).tolist()}")


def check_approach(approach: str) -> str:
    if not isinstance(approach, str) or not _APPROACH_RE.match(approach):
        raise ValueError(f"approach {approach!r} is not valid: expected letters, digits, '_', '-' "
                         "or '.', starting with a letter or digit (it becomes a file name)")
    return approach


def oof_frame(approach: str, fold: int, windows: Windows, predictions, **readouts) -> pd.DataFrame:
    """OOF rows for the held-out ``windows`` of one fold. ``readouts`` (name -> array) become
    ``prediction_<name>`` columns beside the main ``prediction``."""
    check_approach(approach)
    n = len(windows)
    predictions = np.asarray(predictions, dtype=np.float64).reshape(-1)
    if len(predictions) != n:
        raise ValueError(f"predictions must have one value per window (expected {n}, got {len(predictions)})")
    df = pd.DataFrame({"approach": approach, "fold": int(fold), "cycle": windows.cycles.astype(np.int64),
                       "start": windows.starts, "target": windows.targets.astype(np.float64),
                       "prediction": predictions})
    for name, values in readouts.items():
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if len(values) != n:
            raise ValueError(f"readout {name!r} must have one value per window (expected {n}, got {len(values)})")
        df[READOUT_PREFIX + name] = values
    return df


def _atomic_csv(df: pd.DataFrame, path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    df.to_csv(tmp, index=False, float_format="%.6g")
    os.replace(tmp, path)


def oof_path(dataset: str, approach: str):
    return paths.results_dir(dataset) / f"oof_{check_approach(approach)}.csv"


def checkpoint_dir(dataset: str, approach: str):
    """Where an approach keeps its fold models (``results/checkpoints/<approach>/``): the nets'
    ``fold_<k>.pt``, LightGBM's ``fold_<k>.txt``; ``quake_lib submit`` predicts with them."""
    return paths.results_dir(dataset) / "checkpoints" / check_approach(approach)


def metrics_path(dataset: str, approach: str):
    return paths.results_dir(dataset) / f"metrics_{check_approach(approach)}.csv"


def save_oof(df: pd.DataFrame, dataset: str) -> list:
    """Write OOF rows (one file per approach found in ``df``), atomically; return the paths."""
    missing = [c for c in OOF_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"OOF frame lacks columns {missing}; expected at least {list(OOF_COLUMNS)}")
    out = []
    for approach, part in df.groupby("approach", sort=False):
        path = oof_path(dataset, approach)
        _atomic_csv(part.sort_values(["fold", "start"], ignore_index=True), path)
        out.append(path)
    return out


def save_metrics(df: pd.DataFrame, dataset: str, approach: str):
    """Write a per-epoch metrics table (one row per fold and epoch) beside the OOF file."""
    path = metrics_path(dataset, approach)
    _atomic_csv(df, path)
    return path


def load_oof(dataset: str, approach: str) -> pd.DataFrame:
    path = oof_path(dataset, approach)
    if not path.exists():
        raise FileNotFoundError(f"no OOF predictions for approach {approach!r} at {path}; run it first")
    return pd.read_csv(path)


def load_metrics(dataset: str, approach: str) -> pd.DataFrame:
    path = metrics_path(dataset, approach)
    if not path.exists():
        raise FileNotFoundError(f"no metrics table for approach {approach!r} at {path}; run it first")
    return pd.read_csv(path)


def load_all(dataset: str, approaches=None) -> pd.DataFrame:
    """Every approach's OOF predictions of ``dataset`` in one frame (or only ``approaches``)."""
    directory = paths.results_dir(dataset)
    files = sorted(directory.glob("oof_*.csv")) if directory.exists() else []
    if approaches is not None:
        files = [oof_path(dataset, a) for a in approaches]
    if not files:
        raise FileNotFoundError(f"no OOF predictions under {directory}; run an approach first")
    return pd.concat([pd.read_csv(f) for f in files], ignore_index=True)


def expand_readouts(df: pd.DataFrame) -> pd.DataFrame:
    """One set of rows per readout: approach ``a`` with a ``prediction_expectation`` column gives rows
    of approach ``a[expectation]`` whose prediction is that readout. The readout that fills
    ``prediction`` itself (e.g. ``median`` for a binned head) is not repeated: the main rows are
    renamed ``a[median]`` instead, so every row of the table names its readout once."""
    df = df.reset_index(drop=True)  # rows are renamed by index label: frames concatenated without
    main = df[list(OOF_COLUMNS)].copy()  # ignore_index repeat labels
    parts = []
    for col in [c for c in df.columns if c.startswith(READOUT_PREFIX)]:
        name = col[len(READOUT_PREFIX):]
        for approach, part in df[df[col].notna()].groupby("approach", sort=False):
            if np.allclose(part[col], part["prediction"]):
                main.loc[part.index, "approach"] = f"{approach}[{name}]"
                continue
            extra = part[list(OOF_COLUMNS)].assign(prediction=part[col])
            extra["approach"] = f"{approach}[{name}]"
            parts.append(extra)
    return pd.concat([main, *parts], ignore_index=True)


def fold_mae(df: pd.DataFrame) -> pd.DataFrame:
    """Long table: approach, fold, n windows, MAE."""
    err = (df["prediction"] - df["target"]).abs()
    g = df.assign(abs_err=err).groupby(["approach", "fold"], sort=False)
    return g["abs_err"].agg(n="size", mae="mean").reset_index()


def mae_table(df: pd.DataFrame, readouts: bool = True, reference: str | None = None) -> pd.DataFrame:
    """One row per approach (and per readout if ``readouts``): ``fold_k`` MAE columns, ``mean`` and
    ``std`` (sample sd, ddof=1) across folds, ``pooled`` MAE over all windows and ``n`` windows;
    with ``reference`` (an approach name) also ``ratio`` = mean / that approach's mean. Sorted by mean."""
    if readouts:
        df = expand_readouts(df)
    per_fold = fold_mae(df)
    wide = per_fold.pivot(index="approach", columns="fold", values="mae")
    wide.columns = [f"fold_{int(k)}" for k in wide.columns]
    wide["mean"] = wide.mean(axis=1)
    wide["std"] = wide[[c for c in wide.columns if c.startswith("fold_")]].std(axis=1, ddof=1)
    pooled = (df["prediction"] - df["target"]).abs().groupby(df["approach"]).agg(["mean", "size"])
    wide["pooled"] = pooled["mean"]
    wide["n"] = pooled["size"]
    if reference is not None:
        if reference not in wide.index:
            raise ValueError(f"reference {reference!r} is not among the approaches {list(wide.index)}")
        wide["ratio"] = wide["mean"] / wide.loc[reference, "mean"]
    return wide.sort_values("mean")


def spread_table(df: pd.DataFrame, readouts: bool = True) -> pd.DataFrame:
    """Does an approach collapse to a constant? Per approach (and readout): the sd of its
    predictions within each held-out fold, averaged over folds, beside that of the targets, their
    ratio, and the correlation of prediction and target over all windows. A collapsed head has
    ``sd_ratio`` near 0 and a correlation near 0 (the 2019 regression heads: ~5.85 for everything)."""
    if readouts:
        df = expand_readouts(df)
    g = df.groupby(["approach", "fold"])
    per_fold = pd.DataFrame({"pred_sd": g["prediction"].std(), "target_sd": g["target"].std()})
    out = per_fold.groupby("approach").mean()
    out["sd_ratio"] = out["pred_sd"] / out["target_sd"]
    out["corr"] = df.groupby("approach")[["prediction", "target"]].apply(
        lambda d: d["prediction"].corr(d["target"]))
    out["pred_median"] = df.groupby("approach")["prediction"].median()
    return out.sort_values("sd_ratio")
