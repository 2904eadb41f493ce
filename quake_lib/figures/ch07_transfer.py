"""The figures of the real segment table, drawn from the OOF frames and tables
of :mod:`quake_lib.studies.real_transfer`."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..constants import SEGMENT_LENGTH


def _color(name: str, i: int) -> str:
    # constants grey, as the baselines of every results figure; the oracle, an unreachable bound, light
    if "constant" in name:
        return "0.55"
    return "0.75" if name.endswith("oracle") else f"C{i % 10}"


def transfer_predictions(oof: pd.DataFrame, arms=("real_lgbm", "synthetic_lgbm")):
    """One panel per arm through all real segments in recording order: the true time_to_failure
    (black) and the held-out prediction (dots); dotted lines where the cycle id changes. Titles give the
    pooled MAE and the mean / sd of the per-cycle MAE."""
    arms = [a for a in arms if a in set(oof["arm"])]
    if not arms:
        raise ValueError(f"none of the arms is in the frame (it holds {sorted(set(oof['arm']))})")
    fig, axes = plt.subplots(len(arms), 1, figsize=(11, 2.4 * len(arms)), sharex=True, sharey=True,
                             squeeze=False)
    for i, (ax, name) in enumerate(zip(axes[:, 0], arms)):
        part = oof[oof["arm"] == name].sort_values("start")
        x = part["start"].to_numpy() / SEGMENT_LENGTH
        ax.plot(x, part["target"].to_numpy(), color="k", lw=1.0, label="true")
        ax.plot(x, part["prediction"].to_numpy(), ".", ms=2.5, color=_color(name, i), label="predicted")
        for b in np.flatnonzero(np.diff(part["cycle"].to_numpy()) != 0):
            ax.axvline((x[b] + x[b + 1]) / 2, color="0.6", lw=0.6, ls=":")
        err = (part["prediction"] - part["target"]).abs()
        per_fold = err.groupby(part["fold"]).mean()
        ax.set_title(f"{name}: pooled MAE {err.mean():.2f} s; per cycle {per_fold.mean():.2f} +- "
                     f"{per_fold.std():.2f} s", fontsize=9)
        ax.set_ylabel("ttf (s)")
    axes[0, 0].legend(fontsize=8, loc="upper right")
    axes[-1, 0].set_xlabel("real segment (150,000 samples each), recording order")
    fig.tight_layout()
    return fig


def _grouped_bars(table: pd.DataFrame, xlabel: str, title: str):
    """Bars of every arm column of ``table`` (all columns but ``n``) per row; ``n`` in the ticks."""
    names = [c for c in table.columns if c != "n"]
    fig, ax = plt.subplots(figsize=(max(7, 1.1 * len(table) * max(1, len(names)) / 2 + 2), 3.8))
    x = np.arange(len(table))
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        ax.bar(x + (i - (len(names) - 1) / 2) * width, table[name].to_numpy(float), width=width,
               color=_color(name, i), label=name, alpha=0.9)
    ticks = [f"{r}\n(n={int(n)})" for r, n in zip(table.index, table["n"])] if "n" in table else \
        [str(r) for r in table.index]
    ax.set_xticks(x, ticks, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("MAE (s), held-out cycles")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def ttf_bin_bars(table: pd.DataFrame):
    """MAE per true time_to_failure bin (``table``: :func:`~quake_lib.studies.real_transfer.by_ttf_bin`)."""
    return _grouped_bars(table, "true time_to_failure bin (s): left = just before a quake, right = just after "
                         "one", "where the errors lie on the real segments")


def position_bars(table: pd.DataFrame):
    """MAE by position in the cycle (``table``: :func:`~quake_lib.studies.real_transfer.by_position`)."""
    return _grouped_bars(table, "elapsed share of the cycle (left: just after a quake)",
                         "the Kaggle target tricks by position in the cycle (oracle: knows the cycle's length)")


def stat_distributions(real: pd.DataFrame, synthetic: pd.DataFrame, columns=("std", "q99", "kurtosis", "iqr")):
    """Histograms of statistics of the real segments and of the synthetic training windows (each
    normalised to a density), log-spaced bins for the positive heavy-tailed ones."""
    fig, axes = plt.subplots(1, len(columns), figsize=(3.2 * len(columns), 2.8))
    for ax, col in zip(np.atleast_1d(axes), columns):
        a, b = real[col].to_numpy(float), synthetic[col].to_numpy(float)
        both = np.concatenate([a, b])
        lo, hi = np.nanpercentile(both, 0.5), np.nanpercentile(both, 99.5)
        log = lo > 0 and hi / lo > 20
        bins = np.geomspace(lo, hi, 40) if log else np.linspace(lo, hi, 40)
        ax.hist(a, bins=bins, density=True, alpha=0.6, color="k", label=f"real ({len(a)})")
        ax.hist(b, bins=bins, density=True, alpha=0.6, color="C0", label=f"synthetic ({len(b)})")
        if log:
            ax.set_xscale("log")
        ax.set_title(col, fontsize=9)
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.tight_layout()
    return fig
