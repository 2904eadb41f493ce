"""Exploratory tables: the cycle table, statistics against the target, and test segments
against training windows (the figures are in :mod:`quake_lib.figures.ch01_eda`)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..constants import SEGMENT_LENGTH


def cycle_summary(rec, length: int = SEGMENT_LENGTH) -> pd.DataFrame:
    """The cycle table with sizes in words a reader needs: rows, label seconds, windows that fit."""
    c = rec.cycles.copy()
    w = rec.windows(length)
    c["windows"] = np.bincount(w.cycles, minlength=len(c))[: len(c)]
    return c[["cycle", "first_row", "last_row", "n_rows", "start_ttf", "duration_s", "complete", "windows"]]


def correlations(features: pd.DataFrame, target) -> pd.DataFrame:
    """Pearson and Spearman correlation of every feature column with the target, strongest first.
    Constant columns (e.g. a count that is always 0 on a small dataset) have none and are left out."""
    features = features.loc[:, features.nunique() > 1]
    target = pd.Series(np.asarray(target), index=features.index)
    out = pd.DataFrame({"pearson": features.corrwith(target),
                        "spearman": features.corrwith(target, method="spearman")})
    return out.reindex(out["spearman"].abs().sort_values(ascending=False).index).round(3)


def binned_medians(features: pd.DataFrame, target, bins) -> pd.DataFrame:
    """Median of each feature per target bin (rows: bins, labelled by their range)."""
    cut = pd.cut(np.asarray(target), bins)
    return features.groupby(cut, observed=False).median()


def percentile_ranks(train: pd.DataFrame, test: pd.DataFrame, columns) -> pd.DataFrame:
    """Where each test segment's statistic falls in the training windows' distribution (0-100)."""
    out = {c: [float((train[c].to_numpy() < v).mean() * 100) for v in test[c]] for c in columns}
    return pd.DataFrame(out, index=test.index).round(1)


