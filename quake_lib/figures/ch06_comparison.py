"""The comparison's figures, drawn from the saved OOF predictions and the tables of
:mod:`quake_lib.evaluation.compare`."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..approaches.registry import baselines
from .style import BASELINE_STYLE, cycle_boundaries, label_panels


def mae_bars(table: pd.DataFrame):
    """Mean MAE (bar) with the sd across folds (error bar) and dots; the baselines' means as horizontal
    lines. ``table``: :func:`quake_lib.evaluation.seeds.seed_table` (dots: each seed's MAE), or a table of
    ``fold_<k>`` columns without ``seed_sd`` (dots: each fold's MAE)."""
    by_seed = "seed_sd" in table.columns
    dots = [c for c in table.columns if c.startswith("seed_" if by_seed else "fold_") and c != "seed_sd"]
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(table) + 2), 3.8))
    x = np.arange(len(table))
    colors = ["0.55" if a in baselines() else ("C2" if a.startswith("ensemble") else "C0") for a in table.index]
    ax.bar(x, table["mean"], yerr=table["fold_sd" if by_seed else "std"], color=colors, alpha=0.8, capsize=4,
           width=0.65)
    for i, (_, r) in enumerate(table.iterrows()):
        ax.plot(np.full(len(dots), i) + np.linspace(-0.18, 0.18, len(dots)), r[dots].to_numpy(float),
                "o", color="k", ms=3, alpha=0.6)
    for base in baselines():
        if base in table.index:
            ax.axhline(table.loc[base, "mean"], lw=1, label=f"{base} (mean)", **BASELINE_STYLE[base])
    ax.set_xticks(x, table.index, rotation=30, ha="right")
    ax.set_ylabel("MAE (s), held-out cycles")
    if by_seed:
        ax.set_title(f"mean over {len(dots)} training seeds x the leave-cycles-out folds; bar: +- sd across folds; "
                     "dots: each seed", fontsize=9)
    else:
        ax.set_title(f"mean over {len(dots)} leave-cycles-out folds; bar: +- sd across folds; dots: each fold")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def predictions_panels(df: pd.DataFrame, arms, ncols: int = 2):
    """One panel per arm: true time_to_failure (black) and its held-out prediction (dots) for
    every evaluation window in recording order; dotted lines separate cycles."""
    arms = list(arms)
    n = len(arms)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(6 * ncols, 2.3 * nrows), sharex=True, sharey=True,
                             squeeze=False)
    for ax, (i, name) in zip(axes.flat, enumerate(arms)):
        part = df[df["arm"] == name].sort_values("start")
        x = np.arange(len(part))
        ax.plot(x, part["target"].to_numpy(), color="k", lw=1.2)
        ax.plot(x, part["prediction"].to_numpy(), ".", ms=3, color=f"C{i % 10}")
        cycle_boundaries(ax, part["cycle"])
        mae = (part["prediction"] - part["target"]).abs().mean()
        ax.set_title(f"{name}: pooled MAE {mae:.2f} s", fontsize=9)
    label_panels(axes, n, "evaluation window, recording order")
    fig.tight_layout()
    return fig


def error_by_ttf_figure(mae: pd.DataFrame, bias: pd.DataFrame):
    """MAE and mean signed error per time_to_failure bin, one line per arm (baselines grey)."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), sharex=True)
    x = np.arange(mae.shape[1])
    for i, name in enumerate(mae.index):
        style = BASELINE_STYLE.get(name, dict(color=f"C{i % 10}", ls="-"))
        axes[0].plot(x, mae.loc[name].to_numpy(float), marker="o", ms=3, label=name, **style)
        axes[1].plot(x, bias.loc[name].reindex(mae.columns).to_numpy(float), marker="o", ms=3, **style)
    axes[1].axhline(0, color="k", lw=0.8)
    axes[0].set_ylabel("MAE (s)")
    axes[1].set_ylabel("mean(prediction - true) (s)")
    for ax in axes:
        ax.set_xticks(x, [str(c) for c in mae.columns], rotation=30)
        ax.set_xlabel("true time_to_failure bin (s): left = just before a quake, right = just after one")
    axes[0].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig
