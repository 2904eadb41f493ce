"""Spectral measures of the acoustic signal: power spectra per time_to_failure bin, the cumulative power
that justifies a frequency cutoff, spectrograms, and a comparison of STFT settings (the
figures are in :mod:`quake_lib.figures.ch02_spectral`).

The sampling rate is 4 MHz; the spectrum of the real signal peaks near 250 kHz with half the power
below ~250 kHz and 90% below ~850 kHz (``../shared/lanl/README.md``), which is why a cutoff well under
the 2 MHz Nyquist frequency loses little.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import signal as sps
from scipy import stats

from ..constants import SAMPLE_RATE_HZ


def welch(x: np.ndarray, nperseg: int = 1024, dtype=np.float32):
    """Welch power spectral density of each row of ``x`` (mean of each segment removed): (freqs in
    Hz, psd (n, n_freqs)). float32 halves the memory of large batches; float64 for exact checks."""
    x = np.atleast_2d(np.asarray(x, dtype=dtype))
    return sps.welch(x, fs=SAMPLE_RATE_HZ, nperseg=nperseg, axis=-1, detrend="constant")


def sample_per_bin(windows, bins, per_bin: int, seed: int = 0) -> np.ndarray:
    """Indices of at most ``per_bin`` windows drawn (without replacement) from each target bin."""
    rng = np.random.default_rng(seed)
    which = np.digitize(windows.targets, bins) - 1
    picks = []
    for b in range(len(bins) - 1):
        idx = np.flatnonzero(which == b)
        picks.append(np.sort(rng.choice(idx, size=min(per_bin, len(idx)), replace=False)))
    return np.concatenate(picks)


def spectra_by_bin(rec, windows, bins, per_bin: int, seed: int = 0, nperseg: int = 1024):
    """Mean power spectrum of the windows in each target bin: (freqs, DataFrame bins x freqs, counts)."""
    idx = sample_per_bin(windows, bins, per_bin, seed)
    sub = windows.subset(idx)
    freqs, psd = None, []
    for i in range(0, len(sub), 32):
        freqs, p = welch(rec.read(sub.subset(slice(i, i + 32))), nperseg)
        psd.append(p)
    psd = np.concatenate(psd)
    cut = pd.cut(sub.targets, bins)
    table = pd.DataFrame(psd, columns=freqs).groupby(cut, observed=False).mean()
    counts = pd.Series(cut).value_counts(sort=False)
    return freqs, table, counts


def cumulative_power(freqs: np.ndarray, psd: np.ndarray) -> np.ndarray:
    """Fraction of the total power below each frequency."""
    c = np.cumsum(np.asarray(psd, dtype=np.float64))
    return c / c[-1]


def power_cutoffs(freqs, psd, fractions=(0.5, 0.9, 0.95, 0.99)) -> pd.Series:
    """The frequency (kHz) below which each fraction of the power lies."""
    c = cumulative_power(freqs, psd)
    return pd.Series({f"{int(f * 100)}%": round(float(freqs[np.searchsorted(c, f)]) / 1e3, 1) for f in fractions},
                     name="kHz")


def band_powers(freqs, table: pd.DataFrame, edges_khz=(0, 100, 200, 300, 500, 1000, 2000)) -> pd.DataFrame:
    """Power per frequency band (rows: target bins), relative to the far-from-failure (last) bin."""
    edges = np.asarray(edges_khz) * 1e3
    cols = {}
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (freqs >= lo) & (freqs < hi)
        cols[f"{lo / 1e3:.0f}-{hi / 1e3:.0f} kHz"] = table.loc[:, m].sum(axis=1)
    bands = pd.DataFrame(cols)
    return (bands / bands.iloc[-1]).round(2)


def spectrogram_db(x: np.ndarray, n_fft: int = 512, hop: int = 448, cutoff_hz: float | None = None):
    """Log-power spectrogram (dB) of one window via librosa's STFT (Hann window): (S_db, freqs)."""
    import librosa
    S = np.abs(librosa.stft(np.asarray(x, dtype=np.float32) - np.median(x), n_fft=n_fft,
                            hop_length=hop, window="hann", center=False)) ** 2
    freqs = librosa.fft_frequencies(sr=SAMPLE_RATE_HZ, n_fft=n_fft)
    if cutoff_hz is not None:
        keep = freqs <= cutoff_hz
        S, freqs = S[keep], freqs[keep]
    return librosa.power_to_db(S, ref=1.0, top_db=None), freqs


@dataclass(frozen=True)
class StftSetting:
    n_fft: int
    hop: int

    @property
    def label(self) -> str:
        return f"{self.n_fft}/{self.n_fft - self.hop}"


DEFAULT_SETTINGS = (StftSetting(256, 192), StftSetting(512, 448), StftSetting(512, 256),
                    StftSetting(2048, 1536), StftSetting(2048, 1024))


def compare_stft_settings(rec, windows, settings=DEFAULT_SETTINGS, cutoff_hz: float = 500_000) -> pd.DataFrame:
    """What each STFT setting gives the downstream image model, on the same windows.

    Columns: the image size below the cutoff (frequency bins x frames), the resolution in kHz per bin
    and microseconds per frame, and how visible the precursor stays: Spearman correlation with the
    target of (a) the window's mean log power and (b) its 99th-percentile frame power (bursts).
    """
    x = rec.read(windows).astype(np.float32)
    rows = []
    for s in settings:
        db, freqs = zip(*(spectrogram_db(w, s.n_fft, s.hop, cutoff_hz) for w in x))
        db = np.stack(db)  # (n, f, t)
        frame_power = np.log10(np.mean(10 ** (db / 10), axis=1))  # per frame, below the cutoff
        rows.append({
            "n_fft/overlap": s.label,
            "freq bins": db.shape[1],
            "frames": db.shape[2],
            "pixels": db.shape[1] * db.shape[2],
            "kHz per bin": round(SAMPLE_RATE_HZ / s.n_fft / 1e3, 2),
            "us per frame": round(s.hop / SAMPLE_RATE_HZ * 1e6, 1),
            "rho(mean power)": round(stats.spearmanr(db.mean(axis=(1, 2)), windows.targets)[0], 3),
            "rho(p99 frame power)": round(stats.spearmanr(np.percentile(frame_power, 99, axis=1),
                                                          windows.targets)[0], 3),
        })
    return pd.DataFrame(rows).set_index("n_fft/overlap")


