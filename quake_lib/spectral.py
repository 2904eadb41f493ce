"""Spectral views of the acoustic signal: power spectra per time_to_failure bin, the cumulative power
that justifies a frequency cutoff, spectrograms, and a comparison of STFT settings.

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

FS = 4_000_000  # samples per second of the acquisition


def welch(x: np.ndarray, nperseg: int = 1024, fs: float = FS):
    """Welch power spectral density of each row of ``x``: (freqs in Hz, psd (n, n_freqs))."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float32))
    return sps.welch(x, fs=fs, nperseg=nperseg, axis=-1, detrend="constant")


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
    freqs = librosa.fft_frequencies(sr=FS, n_fft=n_fft)
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
            "kHz per bin": round(FS / s.n_fft / 1e3, 2),
            "us per frame": round(s.hop / FS * 1e6, 1),
            "rho(mean power)": round(stats.spearmanr(db.mean(axis=(1, 2)), windows.targets)[0], 3),
            "rho(p99 frame power)": round(stats.spearmanr(np.percentile(frame_power, 99, axis=1),
                                                          windows.targets)[0], 3),
        })
    return pd.DataFrame(rows).set_index("n_fft/overlap")


def window_spectrogram_figure(rec, windows, picks, n_fft: int = 512, hop: int = 448,
                              cutoff_hz: float = 500_000, fmax_hz: float = 1_000_000):
    """Waveform (top) and log-power spectrogram (bottom) of the picked windows, side by side."""
    import librosa.display
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, len(picks), figsize=(6 * len(picks), 5.5), sharex="col", squeeze=False)
    img = None
    for col, i in enumerate(picks):
        x = rec.read(windows.subset([i]))[0]
        axes[0, col].plot(np.arange(len(x)) / FS, x, lw=0.3)
        axes[0, col].set_title(f"time_to_failure = {windows.targets[i]:.2f} s")
        axes[0, col].set_ylabel("acoustic_data")
        S_db, _ = spectrogram_db(x, n_fft=n_fft, hop=hop)
        img = librosa.display.specshow(S_db, sr=FS, hop_length=hop, n_fft=n_fft, x_axis="s", y_axis="hz",
                                       ax=axes[1, col], cmap="magma")
        axes[1, col].set_ylim(0, fmax_hz)
        axes[1, col].axhline(cutoff_hz, color="w", ls="--", lw=1)
    fig.colorbar(img, ax=axes[1, :], format="%+.0f dB", pad=0.01)
    return fig


def spectra_figure(freqs, table: pd.DataFrame, counts: pd.Series, cutoff_hz: float = 500_000,
                   fmax_hz: float = 2_000_000):
    """Mean power spectrum per target bin (from :func:`spectra_by_bin`)."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(9, 3.8))
    colors = plt.cm.viridis(np.linspace(0, 1, len(table)))
    for (label, row), c in zip(table.iterrows(), colors):
        if counts[label]:
            ax.semilogy(freqs / 1e3, row.to_numpy(), color=c, lw=1, label=f"ttf {label} s (n={counts[label]})")
    ax.axvline(cutoff_hz / 1e3, color="k", ls="--", lw=1)
    ax.set_xlim(0, fmax_hz / 1e3)
    ax.set_xlabel("frequency (kHz)")
    ax.set_ylabel("power spectral density")
    ax.legend(fontsize=7, ncol=2)
    return fig


def cumulative_power_figure(freqs, curves: dict, cutoff_hz: float = 500_000):
    """Share of power below each frequency for each named mean spectrum; prints where the share
    reaches 50/90/99% and how much lies below the cutoff."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for name, psd in curves.items():
        share = cumulative_power(freqs, psd)
        ax.plot(freqs / 1e3, share, label=name)
        q = power_cutoffs(freqs, psd)
        below = share[min(np.searchsorted(freqs, cutoff_hz), len(share) - 1)]
        print(f"{name}: half the power below {q['50%']} kHz, 90% below {q['90%']} kHz, "
              f"99% below {q['99%']} kHz; {below:.1%} below the {cutoff_hz / 1e3:.0f} kHz cutoff")
    ax.axvline(cutoff_hz / 1e3, color="k", ls="--", lw=1)
    ax.set_xlabel("frequency (kHz)")
    ax.set_ylabel("share of power below")
    ax.legend()
    return fig
