"""Figures of trained arms, shared by the chapters: learning curves and predictions over time.

Both read the saved tables only (the per-epoch metrics of :mod:`quake_lib.train` and the OOF frames of
:mod:`quake_lib.evaluation.oof`), so a chapter can redraw them without training again.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .style import cycle_boundaries

CURVES = (("train_mae", "training windows (random draws)"), ("val_mae", "held-out cycles"))


def learning_curves(metrics: pd.DataFrame, arms=None, columns=CURVES, ncols: int = 3):
    """One panel per arm: each fold's MAE per epoch (thin lines) and the mean over folds (thick),
    for the training windows and the held-out cycles. The held-out curve is a diagnostic drawn after
    the fact; no epoch is chosen with it."""
    arms = list(dict.fromkeys(metrics["arm"])) if arms is None else list(arms)
    if not arms:
        raise ValueError("no arm to draw: the metrics table is empty")
    n = len(arms)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.2 * nrows), sharey=True, squeeze=False)
    for ax, name in zip(axes.flat, arms):
        part = metrics[metrics["arm"] == name]
        if part.empty:
            raise ValueError(f"arm {name!r} has no metrics; present: {sorted(set(metrics['arm']))}")
        for (col, label), color in zip(columns, ("C0", "C3")):
            if col not in part.columns:
                continue
            rows = part.dropna(subset=[col])
            for _, fold in rows.groupby("fold"):
                ax.plot(fold["epoch"] + 1, fold[col], color=color, alpha=0.25, lw=0.8)
            mean = rows.groupby("epoch")[col].mean()
            ax.plot(mean.index + 1, mean.to_numpy(), color=color, lw=2, label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    axes[0, 0].set_ylabel("MAE (s)")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def predictions_over_time(oof: pd.DataFrame, arms, max_cycles: int | None = None, ncols: int = 1):
    """Predicted vs true time_to_failure through the held-out cycles, windows in recording order
    (each window was predicted by the fold that held its cycle out). Vertical lines mark failures."""
    arms = list(arms)
    missing = [a for a in arms if a not in set(oof["arm"])]
    if missing:
        raise ValueError(f"no OOF predictions for {missing}; present: {sorted(set(oof['arm']))}")
    ref = oof[oof["arm"] == arms[0]].sort_values("start")
    cycles = ref["cycle"].unique()
    if max_cycles is not None:
        cycles = cycles[:max_cycles]
    ref = ref[ref["cycle"].isin(cycles)]
    x = np.arange(len(ref))
    position = pd.Series(x, index=ref["start"].to_numpy())
    fig, ax = plt.subplots(figsize=(11, 3.6))
    ax.plot(x, ref["target"].to_numpy(), color="k", lw=1.5, label="true")
    for i, name in enumerate(arms):
        part = oof[(oof["arm"] == name) & oof["cycle"].isin(cycles)]
        px = position.reindex(part["start"].to_numpy()).to_numpy()
        ax.plot(px, part["prediction"].to_numpy(), ".", ms=3.5, color=f"C{i}", label=name)
    cycle_boundaries(ax, ref["cycle"])
    ax.set_xlabel("evaluation window, in recording order (held-out predictions of every fold)")
    ax.set_ylabel("time_to_failure (s)")
    ax.legend(fontsize=8, ncol=min(len(arms) + 1, 4), loc="upper right")
    fig.tight_layout()
    return fig
