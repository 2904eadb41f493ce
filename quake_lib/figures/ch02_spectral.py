"""The spectral inspection's figures: a window and its spectrogram, mean spectra per time_to_failure bin, the
cumulative power behind a frequency cutoff."""
from __future__ import annotations

import librosa.display
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..constants import SAMPLE_RATE_HZ
from ..features.spectral import cumulative_power, power_cutoffs, spectrogram_db


def window_spectrogram_figure(rec, windows, picks, n_fft: int = 512, hop: int = 448,
                              cutoff_hz: float = 500_000, fmax_hz: float = 1_000_000):
    """Waveform (top) and log-power spectrogram (bottom) of the picked windows, side by side."""
    fig, axes = plt.subplots(2, len(picks), figsize=(6 * len(picks), 5.5), sharex="col", squeeze=False)
    img = None
    for col, i in enumerate(picks):
        x = rec.read(windows.subset([i]))[0]
        axes[0, col].plot(np.arange(len(x)) / SAMPLE_RATE_HZ, x, lw=0.3)
        axes[0, col].set_title(f"time_to_failure = {windows.targets[i]:.2f} s")
        axes[0, col].set_ylabel("acoustic_data")
        S_db, _ = spectrogram_db(x, n_fft=n_fft, hop=hop)
        img = librosa.display.specshow(S_db, sr=SAMPLE_RATE_HZ, hop_length=hop, n_fft=n_fft, x_axis="s", y_axis="hz",
                                       ax=axes[1, col], cmap="magma")
        axes[1, col].set_ylim(0, fmax_hz)
        axes[1, col].axhline(cutoff_hz, color="w", ls="--", lw=1)
    fig.colorbar(img, ax=axes[1, :], format="%+.0f dB", pad=0.01)
    return fig


def spectra_figure(freqs, table: pd.DataFrame, counts: pd.Series, cutoff_hz: float = 500_000,
                   fmax_hz: float = 2_000_000):
    """Mean power spectrum per target bin (from :func:`spectra_by_bin`)."""
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
