"""The feature groups the top Kaggle solutions added to the plain statistics, vectorized over windows.

Three groups beside the plain statistics of :mod:`.window_stats` (which run them like its own, through
the mapping :data:`KAGGLE_GROUPS`):

- ``rolling_std``: percentiles of the rolling standard deviation over 10, 100 and 1,000 samples
  (the loudness of short bursts versus the background; one cumulative sum gives every rolling std);
- ``spectral``: log power in frequency bands from one batched rFFT per batch of windows;
- ``mfcc``: mean and standard deviation over frames of librosa's MFCCs (the 2019 Kaggle kernels'
  favourite; librosa computes them for a whole (n, length) batch at once).

:data:`KAGGLE_GROUPS` is the full set the LightGBM baseline uses; :data:`DROP_COLUMNS` lists the
columns it leaves out because they measure the signal's drifting mean rather than its activity.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..constants import SAMPLE_RATE_HZ
from . import window_stats

ROLLING_WINDOWS = (10, 100, 1000)
ROLLING_PERCENTILES = (1, 5, 10, 50, 90, 95, 99)
# Band edges in Hz. Real spectrum: peak near 250 kHz, half the power below ~250 kHz, 90% below
# ~850 kHz, so bands are narrow where the power is and one band covers 1-2 MHz.
BAND_EDGES_HZ = (0, 25e3, 50e3, 100e3, 150e3, 200e3, 250e3, 300e3, 400e3, 500e3, 750e3, 1e6, 2e6)
N_MFCC = 20
MFCC_N_FFT = 2048
MFCC_HOP = 2048
# At 4 MHz an FFT bin is ~2 kHz wide: mel filters below ~20 kHz would be empty (librosa warns).
N_MELS = 32
MEL_FMIN_HZ = 20e3
# Location features: the mean of the counts drifts slowly over the experiment and transfers badly
# between cycles (and to the test set); q50 is the same information.
DROP_COLUMNS = ("mean", "q50")


def _centred(x: np.ndarray) -> np.ndarray:
    """float32 windows minus their median (the mean drifts; activity is what matters)."""
    x = np.asarray(x, dtype=np.float32)
    return x - np.median(x, axis=1, keepdims=True)


def _block_std(x: np.ndarray, w: int, offset: int) -> np.ndarray:
    """std (ddof=0) of consecutive non-overlapping blocks of ``w`` samples from ``offset``."""
    k = (x.shape[1] - offset) // w
    return x[:, offset:offset + k * w].reshape(len(x), k, w).std(axis=2)


def rolling_std_features(x: np.ndarray) -> dict[str, np.ndarray]:
    """Percentiles of the rolling std (ddof=0) of each window, for each of :data:`ROLLING_WINDOWS`.

    The rolling std is taken every ``w // 2`` samples (blocks at offsets 0 and w/2): percentiles of
    it match pandas' every-sample ``rolling(w).std`` closely, and two reshapes cost a fraction of the
    float64 cumulative sums an every-sample version needs (one window's squares reach 1e9).
    """
    xc = _centred(x)
    n = xc.shape[1]
    out = {}
    for w in ROLLING_WINDOWS:
        if w > n:
            raise ValueError(f"rolling window of {w} samples is longer than the window ({n})")
        offsets = (0, w // 2) if w > 1 else (0,)
        sd = np.concatenate([_block_std(xc, w, o) for o in offsets], axis=1)
        qs = np.percentile(sd, ROLLING_PERCENTILES, axis=1)
        for p, q in zip(ROLLING_PERCENTILES, qs):
            out[f"roll{w}_std_p{p:02d}"] = q.astype(np.float64)
    return out


def spectral_features(x: np.ndarray) -> dict[str, np.ndarray]:
    """log10 of the mean power per band of :data:`BAND_EDGES_HZ` and the spectral centroid (Hz)."""
    xc = _centred(x)
    n = xc.shape[1]
    power = np.abs(np.fft.rfft(xc, axis=1)) ** 2 / n
    freqs = np.fft.rfftfreq(n, d=1.0 / SAMPLE_RATE_HZ)
    out = {}
    for lo, hi in zip(BAND_EDGES_HZ[:-1], BAND_EDGES_HZ[1:]):
        band = (freqs >= lo) & (freqs < hi) if hi < BAND_EDGES_HZ[-1] else (freqs >= lo)
        out[f"band_{int(lo / 1e3)}_{int(hi / 1e3)}k"] = np.log10(power[:, band].mean(axis=1) + 1e-12)
    total = power.sum(axis=1)
    out["spectral_centroid"] = (power @ freqs) / np.maximum(total, 1e-12)
    return out


def mfcc_features(x: np.ndarray) -> dict[str, np.ndarray]:
    """Mean and std over frames of :data:`N_MFCC` MFCCs (librosa, batched over windows)."""
    import librosa  # imported here: it is slow to import and only this group needs it

    xc = _centred(x)
    m = librosa.feature.mfcc(y=xc, sr=SAMPLE_RATE_HZ, n_mfcc=N_MFCC, n_fft=MFCC_N_FFT,
                             hop_length=MFCC_HOP, n_mels=N_MELS, fmin=MEL_FMIN_HZ, fmax=SAMPLE_RATE_HZ / 2,
                             center=False)
    out = {}
    for k in range(N_MFCC):
        out[f"mfcc{k:02d}_mean"] = m[:, k].mean(axis=1).astype(np.float64)
    for k in range(N_MFCC):
        out[f"mfcc{k:02d}_std"] = m[:, k].std(axis=1).astype(np.float64)
    return out


KAGGLE_GROUPS = {**window_stats.resolve_groups(window_stats.DEFAULT_GROUPS), "rolling_std": rolling_std_features,
                 "spectral": spectral_features, "mfcc": mfcc_features}


def kaggle_features(recording, windows, batch: int = 32, progress: bool = True) -> pd.DataFrame:
    """The full Kaggle-style feature table of ``windows`` (one row per window, in order), without
    the location columns of :data:`DROP_COLUMNS`."""
    df = window_stats.window_features(recording, windows, batch=batch, groups=KAGGLE_GROUPS, progress=progress)
    return df.drop(columns=[c for c in DROP_COLUMNS if c in df.columns])


def kaggle_array_features(x: np.ndarray) -> pd.DataFrame:
    """The same table for raw segments, e.g. Kaggle test files (an (n, length) array)."""
    df = window_stats.array_features(x, KAGGLE_GROUPS)
    return df.drop(columns=[c for c in DROP_COLUMNS if c in df.columns])
