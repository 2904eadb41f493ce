"""One file format for every approach's out-of-fold (OOF) predictions, and where results live.

- OOF predictions: one CSV per approach, ``data/<dataset>/results/oof_<approach>.csv`` (seed 0; seed
  ``s`` under ``results/seed_<s>/``, see :func:`quake_lib.paths.results_dir`), with columns
  :data:`OOF_COLUMNS` and, optionally, ``prediction_<readout>`` columns for the other readouts of the
  same model (e.g. the argmax / expectation / median of a binned head). Files are written atomically
  so that a crash never leaves a half file that :func:`load_all` would read.
- Per-epoch metrics: ``metrics_<approach>.csv``; fold models: ``checkpoints/<approach>/``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import paths
from ..atomic import write_csv
from ..data.recording import Windows

OOF_COLUMNS = ("approach", "fold", "cycle", "start", "target", "prediction")
READOUT_PREFIX = "prediction_"
# Central prediction intervals (quake_lib.evaluation.intervals): their level, and every name follows from it
LEVEL = 0.8
QUANTILES = (round(0.5 - LEVEL / 2, 6), round(0.5 + LEVEL / 2, 6))        # (0.1, 0.9)
QUANTILE_READOUTS = tuple(f"q{round(100 * q):d}" for q in QUANTILES)      # ("q10", "q90"): binned heads' readouts
QUANTILE_COLUMNS = tuple(READOUT_PREFIX + r for r in QUANTILE_READOUTS)   # their OOF columns (bounds, not
                                                                          # point predictions)


def check_approach(approach: str) -> str:
    return paths.check_name(approach, "approach")


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


def oof_path(dataset: str, approach: str, seed: int = 0):
    return paths.results_dir(dataset, seed) / f"oof_{check_approach(approach)}.csv"


def checkpoint_dir(dataset: str, approach: str, seed: int = 0):
    """Where an approach keeps its fold models (``results/checkpoints/<approach>/``): the nets'
    ``fold_<k>.pt``, LightGBM's ``fold_<k>.txt``; ``quake_lib submit`` predicts with them."""
    return paths.results_dir(dataset, seed) / "checkpoints" / check_approach(approach)


def metrics_path(dataset: str, approach: str, seed: int = 0):
    return paths.results_dir(dataset, seed) / f"metrics_{check_approach(approach)}.csv"


def save_oof(df: pd.DataFrame, dataset: str, seed: int = 0) -> list:
    """Write OOF rows (one file per approach found in ``df``), atomically; return the paths."""
    missing = [c for c in OOF_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"OOF frame lacks columns {missing}; expected at least {list(OOF_COLUMNS)}")
    out = []
    for approach, part in df.groupby("approach", sort=False):
        path = oof_path(dataset, approach, seed)
        write_csv(part.sort_values(["fold", "start"], ignore_index=True), path, float_format="%.6g")
        out.append(path)
    return out


def save_metrics(df: pd.DataFrame, dataset: str, approach: str, seed: int = 0):
    """Write a per-epoch metrics table (one row per fold and epoch) beside the OOF file."""
    path = metrics_path(dataset, approach, seed)
    write_csv(df, path, float_format="%.6g")
    return path


def load_oof(dataset: str, approach: str, seed: int = 0) -> pd.DataFrame:
    path = oof_path(dataset, approach, seed)
    if not path.exists():
        raise FileNotFoundError(f"no OOF predictions for approach {approach!r} at {path}; run it first")
    return pd.read_csv(path)


def load_metrics(dataset: str, approach: str, seed: int = 0) -> pd.DataFrame:
    path = metrics_path(dataset, approach, seed)
    if not path.exists():
        raise FileNotFoundError(f"no metrics table for approach {approach!r} at {path}; run it first")
    return pd.read_csv(path)


def load_all(dataset: str, approaches=None, seed: int = 0) -> pd.DataFrame:
    """Every approach's OOF predictions of ``dataset`` in one frame (or only ``approaches``)."""
    directory = paths.results_dir(dataset, seed)
    files = sorted(directory.glob("oof_*.csv")) if directory.exists() else []
    if approaches is not None:
        files = [oof_path(dataset, a, seed) for a in approaches]
    if not files:
        raise FileNotFoundError(f"no OOF predictions under {directory}; run an approach first")
    return pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
