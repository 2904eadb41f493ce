"""The calibration figure (``images/calibration.png``): the synthetic generator against the real LANL
statistics per time_to_failure bin, and the two power spectra (:mod:`quake_lib.data.synthetic.calibration`)."""
from __future__ import annotations

import matplotlib.pyplot as plt

from ..data.synthetic.calibration import STATS, Calibration


def calibration_figure(cal: Calibration):
    """Median statistics by time_to_failure bin (real vs synthetic) and the two spectra."""
    t = cal.table
    mids = [float(b.split("-")[0]) for b in t.index]
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5))
    for ax, st in zip(axes.flat, STATS):
        ax.plot(mids, t[f"{st}_real"], "o-", label="real (segment_stats.csv)")
        ax.plot(mids, t[f"{st}_synth"], "s--", label="synthetic (real density)")
        ax.set_title(f"median {st}")
        ax.set_xlabel("time_to_failure bin start (s)")
        ax.invert_xaxis()
    axes[0, 0].legend(fontsize=8)
    ax = axes.flat[5]
    s = cal.spectra
    ax.semilogy(s["frequency_hz"] / 1e3, s["real"], label="real (train head)")
    ax.semilogy(s["frequency_hz"] / 1e3, s["synthetic"], label="synthetic (ttf 1-2 s)", alpha=0.8)
    ax.set_xlabel("frequency (kHz)")
    ax.set_title("power spectrum (normalised)")
    ax.legend(fontsize=8)
    ok = "all targets met" if cal.passed else "SOME TARGETS MISSED"
    fig.suptitle(f"Synthetic vs real LANL: corr(std, ttf) {cal.correlation['synthetic']:.2f} "
                 f"(real {cal.correlation['real']:.2f}); {ok}")
    fig.tight_layout()
    return fig
