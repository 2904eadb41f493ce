"""Inputs of the lab-run approaches, each row's built only from that row and the rows before it.

A row is one 0.1 s step of a lab run; its inputs are the AE variance of the two channels. Three kinds:

- **the current variance** (Rouet-Leduc et al. 2017: the present window's statistics alone);
- **history features** over the last ``w`` rows (the row itself and the ``w - 1`` before it): mean,
  sd, min, max and least-squares slope per channel;
- **the history tensor** ``(n_rows, steps, channels)``: the last ``steps`` rows, oldest first, the
  networks' input (Laurenti et al.: 70 rows = 7 s).

A row without a full history is NaN in the history features, and the tensor refuses it: the
approaches evaluate only rows with the full history of their longest input (rows are dropped, never
padded), so every arm is scored on the same rows. The history may reach back into the previous cycle:
that is what a real-time predictor sees.

**Per-run normalization** (:func:`fit_input_scale`): the variance spans orders of magnitude and its
level differs between runs (p4581: median ~3,000; p5198: ~13), so inputs are ``log10`` of the
variance, centred on its median and divided by its interquartile range, per channel. The two numbers
come from a run's inputs alone, never from a target: a new run can be calibrated from its unlabeled
recording before any failure is labeled. :class:`MinMax` is the published notebook's scaler, for the
study of its protocol (:func:`quake_lib.studies.lab_protocols.laurenti_protocol`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

STATS = ("mean", "sd", "min", "max", "slope")


@dataclass(frozen=True)
class InputScale:
    """``(log10(variance) - median) / iqr`` per channel."""

    median: np.ndarray
    iqr: np.ndarray

    def apply(self, variance: np.ndarray) -> np.ndarray:
        variance = _two_d(variance)
        if variance.shape[1] != len(self.median):
            raise ValueError(f"expected {len(self.median)} channels (got {variance.shape[1]})")
        if not (variance > 0).all():
            raise ValueError("AE variance must be positive to take its logarithm")
        return ((np.log10(variance) - self.median) / self.iqr).astype(np.float32)


def fit_input_scale(variance: np.ndarray) -> InputScale:
    """Median and IQR of ``log10(variance)`` per channel, from unlabeled inputs only."""
    variance = _two_d(variance)
    if len(variance) < 2 or not (variance > 0).all():
        raise ValueError("fit_input_scale needs at least 2 rows of positive AE variance")
    logv = np.log10(variance)
    q25, q50, q75 = np.percentile(logv, [25, 50, 75], axis=0)
    iqr = np.where(q75 - q25 > 0, q75 - q25, 1.0)  # a constant channel: centre only
    return InputScale(q50, iqr)


def _two_d(x) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x[:, None] if x.ndim == 1 else x


def current_features(z: np.ndarray) -> pd.DataFrame:
    """The row's own (normalized) variance per channel: ``now_ch1``, ``now_ch2``."""
    z = _two_d(z)
    return pd.DataFrame({f"now_ch{c + 1}": z[:, c] for c in range(z.shape[1])})


def history_features(z: np.ndarray, windows: dict[str, int]) -> pd.DataFrame:
    """Per row, per window (name -> rows, the row itself included) and channel: mean, sd, min, max and
    slope (per row) of ``z`` over the window; the current value too. NaN where a window reaches
    before the first row. Column names ``<stat>_<window>_ch<c>``."""
    z = _two_d(z)
    n = len(z)
    out = current_features(z)
    for label, w in windows.items():
        if w < 2:
            raise ValueError(f"window {label!r}: a history needs at least 2 rows (got {w})")
        t = np.arange(w) - (w - 1) / 2
        for c in range(z.shape[1]):
            cols = {s: np.full(n, np.nan) for s in STATS}
            if n >= w:
                v = sliding_window_view(z[:, c], w)  # v[j] = rows j .. j + w - 1, ends at row j + w - 1
                cols["mean"][w - 1:] = v.mean(1)
                cols["sd"][w - 1:] = v.std(1)
                cols["min"][w - 1:] = v.min(1)
                cols["max"][w - 1:] = v.max(1)
                cols["slope"][w - 1:] = (v - v.mean(1, keepdims=True)) @ t / (t @ t)
            for s in STATS:
                out[f"{s}_{label}_ch{c + 1}"] = cols[s]
    return out


@dataclass(frozen=True)
class MinMax:
    """Scikit-learn's MinMaxScaler per column (the published notebook's scaler): ``(x - min) / (max - min)``."""

    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> "MinMax":
        x = np.asarray(x, np.float64)
        return cls(x.min(0), x.max(0))

    def transform(self, x: np.ndarray) -> np.ndarray:
        span = np.where(self.hi > self.lo, self.hi - self.lo, 1.0)
        return (np.asarray(x, np.float64) - self.lo) / span

    def inverse(self, x: np.ndarray, columns=slice(None)) -> np.ndarray:
        span = np.where(self.hi > self.lo, self.hi - self.lo, 1.0)
        return np.asarray(x, np.float64) * span[columns] + self.lo[columns]


def full_history(n_rows: int, steps: int) -> np.ndarray:
    """Bool per row: the row has ``steps`` rows of history (itself included)."""
    return np.arange(n_rows) >= steps - 1


def history_tensor(z: np.ndarray, rows, steps: int) -> np.ndarray:
    """``(len(rows), steps, channels)`` float32: for each row the ``steps`` rows ending with it, oldest
    first. A row with less history is refused (the approaches drop such rows, they do not pad)."""
    z = _two_d(z).astype(np.float32)
    rows = np.asarray(rows, np.int64)
    if rows.size and (rows.min() < steps - 1 or rows.max() >= len(z)):
        raise ValueError(f"rows must have {steps} rows of history inside the {len(z)} rows "
                         f"(got rows {rows.min()}..{rows.max()})")
    if not rows.size:
        return np.empty((0, steps, z.shape[1]), np.float32)
    v = sliding_window_view(z, steps, axis=0)  # (n - steps + 1, channels, steps)
    return np.ascontiguousarray(v[rows - steps + 1].transpose(0, 2, 1))
