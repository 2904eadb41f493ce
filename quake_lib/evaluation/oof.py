"""One file format for every arm's out-of-fold (OOF) predictions, and where results live.

- OOF predictions: one CSV per arm, ``data/<dataset>/results/oof_<arm>.csv`` (seed 0; seed
  ``s`` under ``results/seed_<s>/``, see :func:`quake_lib.paths.results_dir`), with columns
  :data:`OOF_COLUMNS` and, optionally, ``prediction_<readout>`` columns for the other readouts of the
  same model (e.g. the argmax / expectation / median of a binned head). Files are written atomically
  so that a crash never leaves a half file that :func:`load_all` would read.
- Per-epoch metrics: ``metrics_<arm>.csv``; fold models: ``checkpoints/<arm>/``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import paths
from ..atomic import write_csv
from ..data.recording import Windows

OOF_COLUMNS = ("arm", "fold", "cycle", "start", "target", "prediction")
READOUT_PREFIX = "prediction_"
# Central prediction intervals (quake_lib.evaluation.intervals): their level, and every name follows from it
LEVEL = 0.8
QUANTILES = (round(0.5 - LEVEL / 2, 6), round(0.5 + LEVEL / 2, 6))        # (0.1, 0.9)
QUANTILE_READOUTS = tuple(f"q{round(100 * q):d}" for q in QUANTILES)      # ("q10", "q90"): binned heads' readouts
QUANTILE_COLUMNS = tuple(READOUT_PREFIX + r for r in QUANTILE_READOUTS)   # their OOF columns (bounds, not
                                                                          # point predictions)


def check_arm(arm: str) -> str:
    return paths.check_name(arm, "arm")


def oof_frame(arm: str, fold: int, windows: Windows, predictions, **readouts) -> pd.DataFrame:
    """OOF rows for the held-out ``windows`` of one fold. ``readouts`` (name -> array) become
    ``prediction_<name>`` columns beside the main ``prediction``."""
    check_arm(arm)
    n = len(windows)
    predictions = np.asarray(predictions, dtype=np.float64).reshape(-1)
    if len(predictions) != n:
        raise ValueError(f"predictions must have one value per window (expected {n}, got {len(predictions)})")
    df = pd.DataFrame({"arm": arm, "fold": int(fold), "cycle": windows.cycles.astype(np.int64),
                       "start": windows.starts, "target": windows.targets.astype(np.float64),
                       "prediction": predictions})
    for name, values in readouts.items():
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if len(values) != n:
            raise ValueError(f"readout {name!r} must have one value per window (expected {n}, got {len(values)})")
        df[READOUT_PREFIX + name] = values
    return df


def oof_path(dataset: str, arm: str, seed: int = 0):
    return paths.results_dir(dataset, seed) / f"oof_{check_arm(arm)}.csv"


def checkpoint_dir(dataset: str, arm: str, seed: int = 0):
    """Where an arm keeps its fold models (``results/checkpoints/<arm>/``): the nets'
    ``fold_<k>.pt``, LightGBM's ``fold_<k>.txt``; ``quake_lib submit`` predicts with them."""
    return paths.results_dir(dataset, seed) / "checkpoints" / check_arm(arm)


def fold_files(dataset: str, arm: str, seed: int, suffix: str) -> list:
    """The fold models (``fold_<k><suffix>``) of ``arm``'s saved run: one per fold of its OOF file (a
    file of a fold that run did not have, left by an older run with more folds, is not used)."""
    directory = checkpoint_dir(dataset, arm, seed)
    folds = sorted(int(k) for k in load_oof(dataset, arm, seed)["fold"].unique())
    files = [directory / f"fold_{k}{suffix}" for k in folds]
    missing = [f.name for f in files if not f.exists()]
    if missing:
        raise FileNotFoundError(f"{directory}: no {', '.join(missing)} although the OOF predictions of "
                                f"{arm!r} have those folds; train the arm again")
    return files


def metrics_path(dataset: str, arm: str, seed: int = 0):
    return paths.results_dir(dataset, seed) / f"metrics_{check_arm(arm)}.csv"


def save_oof(df: pd.DataFrame, dataset: str, seed: int = 0) -> list:
    """Write OOF rows (one file per arm found in ``df``), atomically; return the paths."""
    missing = [c for c in OOF_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"OOF frame lacks columns {missing}; expected at least {list(OOF_COLUMNS)}")
    out = []
    for arm, part in df.groupby("arm", sort=False):
        path = oof_path(dataset, arm, seed)
        write_csv(part.sort_values(["fold", "start"], ignore_index=True), path, float_format="%.6g")
        out.append(path)
    return out


def save_metrics(df: pd.DataFrame, dataset: str, arm: str, seed: int = 0):
    """Write a per-epoch metrics table (one row per fold and epoch) beside the OOF file."""
    path = metrics_path(dataset, arm, seed)
    write_csv(df, path, float_format="%.6g")
    return path


def load_oof(dataset: str, arm: str, seed: int = 0) -> pd.DataFrame:
    path = oof_path(dataset, arm, seed)
    if not path.exists():
        raise FileNotFoundError(f"no OOF predictions for arm {arm!r} at {path}; run it first")
    return pd.read_csv(path)


def load_metrics(dataset: str, arm: str, seed: int = 0) -> pd.DataFrame:
    path = metrics_path(dataset, arm, seed)
    if not path.exists():
        raise FileNotFoundError(f"no metrics table for arm {arm!r} at {path}; run it first")
    return pd.read_csv(path)


def load_all(dataset: str, arms=None, seed: int = 0) -> pd.DataFrame:
    """Every arm's OOF predictions of ``dataset`` in one frame (or only ``arms``)."""
    directory = paths.results_dir(dataset, seed)
    files = sorted(directory.glob("oof_*.csv")) if directory.exists() else []
    if arms is not None:
        files = [oof_path(dataset, a, seed) for a in arms]
    if not files:
        raise FileNotFoundError(f"no OOF predictions under {directory}; run an arm first")
    return pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
