"""Per-window statistics, computed for many windows at once.

One entry point, :func:`window_features`, reads the windows of a recording in batches (memory stays
at ``batch`` x ``length`` samples whatever the number of windows) and applies *feature groups*. A
group is a function ``(x: (n, length) int16) -> dict[column, (n,) array]``; ``groups`` is a tuple of
names of :data:`GROUPS` or a mapping name -> group (how :mod:`quake_lib.features.competition` adds
its own groups without changing this module). The same groups run on raw segments
(the Kaggle test files) through :func:`array_features`, so training and scoring cannot drift apart.

Conventions follow ``../shared/lanl/segment_stats.csv`` (pandas'), so that synthetic and real
statistics compare directly: ``std`` has ddof=1, ``kurtosis`` is pandas' unbiased excess kurtosis,
``skew`` pandas' unbiased skewness, quantiles interpolate linearly (numpy's default), and the
column names are the same (``q01``, ``q99``, ``iqr`` = q75 - q25, ...).
"""
from __future__ import annotations

from typing import Callable, Mapping

import numba
import numpy as np
import pandas as pd

from ..progress import bar

QUANTILES = {"q01": 0.01, "q05": 0.05, "q25": 0.25, "q50": 0.50, "q75": 0.75, "q95": 0.95, "q99": 0.99}
# |x - median| thresholds (counts) for exceedance and peak counts: background noise rarely passes
# 20; 50 and 100 catch medium and large acoustic events.
THRESHOLDS = (20, 50, 100)


@numba.njit(cache=True, parallel=True)
def _moments(x):  # pragma: no cover - compiled
    """Per row: mean, sum of squared / cubed / fourth-power deviations (two passes, float64)."""
    n_rows, n = x.shape
    out = np.empty((n_rows, 4))
    for i in numba.prange(n_rows):
        s = 0.0
        for j in range(n):
            s += x[i, j]
        mu = s / n
        s2 = 0.0
        s3 = 0.0
        s4 = 0.0
        for j in range(n):
            d = x[i, j] - mu
            d2 = d * d
            s2 += d2
            s3 += d2 * d
            s4 += d2 * d2
        out[i, 0] = mu
        out[i, 1] = s2
        out[i, 2] = s3
        out[i, 3] = s4
    return out


@numba.njit(cache=True, parallel=True)
def _peaks(x, centre, thresholds):  # pragma: no cover - compiled
    """Per row and threshold: samples with |x - centre| > t, and local maxima of |x - centre| > t."""
    n_rows, n = x.shape
    k = len(thresholds)
    out = np.zeros((n_rows, 2 * k), dtype=np.int64)
    for i in numba.prange(n_rows):
        c = centre[i]
        for j in range(n):
            a = abs(x[i, j] - c)
            for t in range(k):
                if a > thresholds[t]:
                    out[i, t] += 1
            if 0 < j < n - 1 and a > abs(x[i, j - 1] - c) and a >= abs(x[i, j + 1] - c):
                for t in range(k):
                    if a > thresholds[t]:
                        out[i, k + t] += 1
    return out


def moment_features(x: np.ndarray) -> dict[str, np.ndarray]:
    """mean, std (ddof=1), skew and excess kurtosis (pandas' unbiased estimators)."""
    n = x.shape[1]
    m = _moments(np.ascontiguousarray(x))
    mean, s2, s3, s4 = m.T
    var = s2 / (n - 1)
    m2, m3, m4 = s2 / n, s3 / n, s4 / n
    with np.errstate(divide="ignore", invalid="ignore"):
        g1 = m3 / m2 ** 1.5
        g2 = m4 / m2 ** 2 - 3.0
    skew = g1 * np.sqrt(n * (n - 1.0)) / (n - 2.0)
    kurt = ((n + 1.0) * g2 + 6.0) * (n - 1.0) / ((n - 2.0) * (n - 3.0))
    flat = m2 == 0  # a constant window: pandas reports 0 for both
    skew[flat], kurt[flat] = 0.0, 0.0
    return {"mean": mean, "std": np.sqrt(var), "skew": skew, "kurtosis": kurt}


def quantile_features(x: np.ndarray) -> dict[str, np.ndarray]:
    """min, max, abs_max, the quantiles of :data:`QUANTILES` (linear interpolation) and iqr."""
    s = np.sort(x, axis=1)  # int16 sorts are radix/SIMD fast; one sort serves every quantile
    n = x.shape[1]
    out = {"min": s[:, 0].astype(np.float64), "max": s[:, -1].astype(np.float64)}
    out["abs_max"] = np.maximum(np.abs(out["min"]), np.abs(out["max"]))
    for name, p in QUANTILES.items():
        h = (n - 1) * p
        lo = int(np.floor(h))
        hi = min(lo + 1, n - 1)
        a = s[:, lo].astype(np.float64)
        out[name] = a + (h - lo) * (s[:, hi] - a)
    out["iqr"] = out["q75"] - out["q25"]
    return out


def peak_features(x: np.ndarray) -> dict[str, np.ndarray]:
    """Exceedance counts and peak counts of |x - median| over :data:`THRESHOLDS` (event activity)."""
    centre = np.median(x, axis=1).astype(np.float64)
    c = _peaks(np.ascontiguousarray(x), centre, np.asarray(THRESHOLDS, dtype=np.float64))
    k = len(THRESHOLDS)
    out = {f"count_gt_{t}": c[:, i].astype(np.float64) for i, t in enumerate(THRESHOLDS)}
    out.update({f"peaks_gt_{t}": c[:, k + i].astype(np.float64) for i, t in enumerate(THRESHOLDS)})
    return out


GROUPS: dict[str, Callable[[np.ndarray], dict[str, np.ndarray]]] = {
    "moments": moment_features,
    "quantiles": quantile_features,
    "peaks": peak_features,
}
DEFAULT_GROUPS = ("moments", "quantiles", "peaks")


def array_features(x: np.ndarray, groups=DEFAULT_GROUPS) -> pd.DataFrame:
    """Features of the rows of an ``(n, length)`` array of samples (e.g. Kaggle test segments)."""
    x = np.atleast_2d(np.asarray(x))
    if x.shape[1] < 4:
        raise ValueError(f"windows of {x.shape[1]} samples are too short for these statistics")
    cols: dict[str, np.ndarray] = {}
    for group in resolve_groups(groups).values():
        cols.update(group(x))
    return pd.DataFrame(cols)


def resolve_groups(groups) -> Mapping[str, Callable]:
    """``groups`` as a mapping name -> group: a mapping is kept, names are looked up in :data:`GROUPS`."""
    if isinstance(groups, Mapping):
        return groups
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise KeyError(f"unknown feature group {unknown[0]!r}; groups: {', '.join(GROUPS)}")
    return {g: GROUPS[g] for g in groups}


def window_features(recording, windows, batch: int = 32, groups=DEFAULT_GROUPS,
                    progress: bool = True) -> pd.DataFrame:
    """Features of every window of ``windows`` (a :class:`quake_lib.data.recording.Windows`), one row
    each in the windows' order, computed ``batch`` windows at a time (``progress``: counted where
    :mod:`quake_lib.progress` shows it)."""
    if batch < 1:
        raise ValueError(f"batch must be positive (got {batch})")
    frames = []
    n = len(windows)
    with bar(total=n, desc="features", unit="window", disable=not progress) as pbar:
        for i in range(0, n, batch):
            x = recording.read(windows.subset(slice(i, i + batch)))
            frames.append(array_features(x, groups))
            pbar.update(min(batch, n - i))
    if not frames:
        return array_features(np.zeros((1, windows.length), np.int16), groups).iloc[:0]
    return pd.concat(frames, ignore_index=True)
