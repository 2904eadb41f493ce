"""The spectrogram ResNet's own figure: spectrogram images as its network sees them (the learning curves
and the predictions over time come from :mod:`quake_lib.figures.results`)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..constants import SAMPLE_RATE_HZ
from ..models import Spectrogram
from ..train.data import normalize


def pick_by_target(windows, targets=(12.0, 6.0, 0.5)) -> list[int]:
    """Indices of the windows whose time_to_failure is nearest each of ``targets``."""
    return [int(np.argmin(np.abs(windows.targets - t))) for t in targets]


def network_images(rec, windows, picks, spectrogram_config, scale: float) -> np.ndarray:
    """The log-power images (before the per-frequency BatchNorm) of the picked windows, from the same
    normalized input the network gets: ``(n, rows, cols)``."""
    spec = Spectrogram(spectrogram_config).eval()
    raw = torch.from_numpy(rec.read(windows.subset(list(picks))))
    with torch.no_grad():
        p = spec.power(normalize(raw, scale))
        c = spectrogram_config
        if c.time_pool > 1:
            p = torch.nn.functional.avg_pool1d(p, c.time_pool, stride=c.time_pool)
        if c.freq_pool > 1:
            p = torch.nn.functional.avg_pool1d(p.transpose(1, 2), c.freq_pool, stride=c.freq_pool).transpose(1, 2)
        return torch.log(p + c.log_eps).numpy()


def network_images_figure(rec, windows, picks, configs: dict, scale: float):
    """Rows: one per named spectrogram setting; columns: the picked windows. One colour scale per
    row, shared across its windows, so that a louder window looks brighter (loudness is the
    precursor, and the network's normalization is fixed per frequency, not per window)."""
    fig, axes = plt.subplots(len(configs), len(picks), figsize=(4.2 * len(picks), 2.6 * len(configs)),
                             squeeze=False)
    for row, (name, cfg) in enumerate(configs.items()):
        imgs = network_images(rec, windows, picks, cfg, scale)
        lo, hi = np.percentile(imgs, [1, 99.5])
        top_khz = (imgs.shape[1] * cfg.freq_pool) * SAMPLE_RATE_HZ / cfg.n_fft / 1e3
        dur_ms = imgs.shape[2] * cfg.hop * cfg.time_pool / SAMPLE_RATE_HZ * 1e3
        for col, (i, img) in enumerate(zip(picks, imgs)):
            ax = axes[row, col]
            im = ax.imshow(img, origin="lower", aspect="auto", cmap="magma", vmin=lo, vmax=hi,
                           extent=(0, dur_ms, 0, top_khz))
            ax.grid(False)
            if row == 0:
                ax.set_title(f"time_to_failure = {windows.targets[i]:.2f} s")
            if col == 0:
                ax.set_ylabel(f"{name}\nkHz")
            if row == len(configs) - 1:
                ax.set_xlabel("ms")
            ax.text(0.01, 0.97, f"{img.shape[0]} x {img.shape[1]}", transform=ax.transAxes, color="w",
                    fontsize=7, va="top")
        fig.colorbar(im, ax=axes[row, :], pad=0.01, label="log power")
    return fig
