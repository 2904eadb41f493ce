"""The interval figures: the 80% bands through the held-out cycles, and their coverage per
time_to_failure bin, from :mod:`quake_lib.evaluation.intervals`."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..evaluation.intervals import LEVEL, with_intervals
from .style import BASELINE_STYLE, cycle_boundaries, label_panels


def bands_figure(df: pd.DataFrame, arms, ncols: int = 1):
    """One panel per arm: the true time_to_failure (black), the held-out prediction (line) and its
    central interval (band) for every evaluation window in recording order; dotted lines separate
    cycles. ``df``: OOF rows, with ``lo`` / ``hi`` or without (then :func:`with_intervals` makes
    them); with a ``seed`` column the first seed's run is drawn (one run, not a blend of several)."""
    arms = list(arms)
    if not arms:
        raise ValueError("arms must name at least one arm of the frame")
    absent = [a for a in arms if a not in set(df["arm"])]
    if absent:
        raise ValueError(f"arms {absent} have no rows in the frame; present: {sorted(df['arm'].unique())}")
    d = df[df["arm"].isin(arms)]
    if not {"lo", "hi"} <= set(d.columns):
        d = with_intervals(d)
    if "seed" in d.columns:
        d = d[d["seed"] == d["seed"].min()]
    n = len(arms)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(11 if ncols == 1 else 6 * ncols, 2.4 * nrows), sharex=True,
                             sharey=True, squeeze=False)
    for ax, (i, name) in zip(axes.flat, enumerate(arms)):
        part = d[d["arm"] == name].sort_values("start")
        x = np.arange(len(part))
        color = f"C{i % 10}"
        ax.fill_between(x, part["lo"].to_numpy(float), part["hi"].to_numpy(float), color=color, alpha=0.25,
                        lw=0, step="mid", label=f"{LEVEL:.0%} interval")
        ax.plot(x, part["prediction"].to_numpy(float), color=color, lw=0.9, label="prediction")
        ax.plot(x, part["target"].to_numpy(float), color="k", lw=1.1, label="true")
        cycle_boundaries(ax, part["cycle"])
        inside = ((part["target"] >= part["lo"]) & (part["target"] <= part["hi"])).mean()
        width = (part["hi"] - part["lo"]).mean()
        method = "/".join(dict.fromkeys(part["interval"])) if "interval" in part else "?"
        ax.set_title(f"{name} ({method}): coverage {inside:.0%}, mean width {width:.2f} s", fontsize=9)
    label_panels(axes, n, "evaluation window, recording order (each held out from its fold's model)")
    axes.flat[0].legend(fontsize=7, loc="upper right", ncol=3)
    fig.tight_layout()
    return fig


def coverage_figure(by_ttf: pd.DataFrame):
    """Coverage of the central interval per true time_to_failure bin, one line per arm (baselines
    grey), with the nominal level as a horizontal line. ``by_ttf``:
    :func:`quake_lib.evaluation.intervals.coverage_by_ttf`."""
    fig, ax = plt.subplots(figsize=(8, 3.8))
    x = np.arange(by_ttf.shape[1])
    for i, name in enumerate(by_ttf.index):
        style = BASELINE_STYLE.get(name, dict(color=f"C{i % 10}", ls="-"))
        ax.plot(x, by_ttf.loc[name].to_numpy(float), marker="o", ms=3, label=name, **style)
    ax.axhline(LEVEL, color="k", lw=1.0, label=f"nominal {LEVEL:.0%}")
    ax.set_ylim(0, 1.02)
    ax.set_xticks(x, [str(c) for c in by_ttf.columns], rotation=30)
    ax.set_xlabel("true time_to_failure bin (s): left = just before a quake, right = just after one")
    ax.set_ylabel("share of held-out targets inside")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig
