"""The figures of chapter 8 (how the comparison changes with the amount of data), drawn from the tables of
:mod:`quake_lib.studies.scaling_tables`: MAE and the ratio to the reference against the number of
evaluation windows, one panel per axis of the grid, and the training cost of each point.

Every arm keeps one colour across the chapter's figures (:func:`arm_colors` over the arms of the table):
the baselines in grey and black with their usual line styles, every other arm its own colour, the
budget-study arms dash-dotted.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import NullLocator

from ..approaches.registry import baselines
from ..studies.scaling_tables import AXES, BUDGET_SUFFIX, Crossover, along, arm_order
from .style import BASELINE_STYLE

# distinct hues for the arms that are not baselines: tab10 without its grey, then Dark2 without its grey
PALETTE = ("C0", "C1", "C2", "C3", "C4", "C5", "C6", "C8", "C9",
           "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d")
BASELINE_COLORS = {"constant": "0.55", "lightgbm": "k"}


def arm_colors(arms) -> dict[str, str]:
    """One colour per arm, no two alike: the baselines grey / black, the others from :data:`PALETTE` in
    the report's order (:func:`~quake_lib.studies.scaling_tables.arm_order`). Computed over every arm of
    a table, so an arm has the same colour in each figure drawn from it."""
    others = [a for a in arm_order(arms) if a not in BASELINE_COLORS]
    if len(others) > len(PALETTE):
        raise ValueError(f"{len(others)} arms but {len(PALETTE)} distinct colours; draw fewer arms at once")
    colors = {a: BASELINE_COLORS[a] for a in arm_order(arms) if a in BASELINE_COLORS}
    colors.update(zip(others, PALETTE))
    return colors


def _line_style(arm: str, color: str) -> dict:
    if arm in BASELINE_STYLE:
        return dict(color=color, ls=BASELINE_STYLE[arm]["ls"], marker="s", ms=4, lw=1.3)
    return dict(color=color, ls="-." if arm.endswith(BUDGET_SUFFIX) else "-", marker="o", ms=4, lw=1.6)


def _axes_present(table: pd.DataFrame) -> list[str]:
    present = [a for a in AXES if len(along(table, a)) > 1]
    if not present:
        raise ValueError("the table holds fewer than two points on every axis; nothing to draw against size")
    return present


def _size_ticks(ax, pts: pd.DataFrame, axis: str) -> None:
    """Log x with one tick per measured size: windows, and the density or cycle count that made it."""
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    labels = [f"{int(r.n_windows):,}\n" + (f"d {r.density:g}" if axis == "density" else f"{int(r.n_cycles)} cyc")
              for r in pts.itertuples()]
    ax.set_xticks(pts["n_windows"].to_numpy(float), labels, fontsize=8)
    ax.set_xlabel("evaluation windows (log scale)")


def _title(pts: pd.DataFrame, axis: str) -> str:
    fixed = f"{int(pts['n_cycles'].iloc[0])} cycles" if axis == "density" else f"density {pts['density'].iloc[0]:g}"
    return f"{axis} axis ({fixed})"


def _panels(n: int):
    return plt.subplots(1, n, figsize=(5.6 * n + 2.4, 4.0), squeeze=False, layout="constrained")


def mae_vs_size(table: pd.DataFrame, arms=None):
    """Held-out MAE against the number of evaluation windows, one line per arm and one panel per axis;
    the band is +- the sd over seeds of the per-seed MAE (none with one seed). ``table``:
    :func:`~quake_lib.studies.scaling_tables.point_table`."""
    colors = arm_colors(table["arm"])
    arms = arm_order(table["arm"]) if arms is None else list(arms)
    axes_names = _axes_present(table)
    fig, axes = _panels(len(axes_names))
    for ax, axis in zip(axes[0], axes_names):
        pts = along(table, axis)
        for arm in arms:
            rows = table[(table["arm"] == arm) & table["point"].isin(pts.index)].sort_values("n_windows")
            if rows.empty:
                continue
            x, y, sd = (rows[c].to_numpy(float) for c in ("n_windows", "mean", "seed_sd"))
            ax.plot(x, y, label=arm, **_line_style(arm, colors[arm]))
            if np.isfinite(sd).any():
                ax.fill_between(x, y - sd, y + sd, color=colors[arm], alpha=0.15, lw=0)
        _size_ticks(ax, pts, axis)
        ax.set_title(_title(pts, axis), fontsize=10)
    axes[0, 0].set_ylabel("MAE (s), held-out cycles")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", fontsize=8)
    fig.suptitle("mean over seeds of the leave-cycles-out fold mean; band: +- sd over seeds", fontsize=9)
    return fig


def ratio_vs_size(table: pd.DataFrame, crossovers=(), arms=None, reference: str = "lightgbm"):
    """Each arm's mean MAE over ``reference``'s at the same size (below 1: better), one panel per axis,
    with the crossings of 1 (:class:`~quake_lib.studies.scaling_tables.Crossover`: diamond at the
    estimate, bar over its bootstrap interval). Default arms: all but the baselines and the reference."""
    colors = arm_colors(table["arm"])
    if arms is None:
        arms = [a for a in arm_order(table["arm"]) if a != reference and a not in baselines()]
    axes_names = _axes_present(table)
    fig, axes = _panels(len(axes_names))
    for ax, axis in zip(axes[0], axes_names):
        pts = along(table, axis)
        ax.axhline(1.0, color="k", lw=1, ls="--", label=f"{reference} (ratio 1)")
        for arm in arms:
            rows = table[(table["arm"] == arm) & table["point"].isin(pts.index)].sort_values("n_windows")
            if not rows.empty:
                ax.plot(rows["n_windows"], rows["ratio"], label=arm, **_line_style(arm, colors[arm]))
        for c in crossovers:
            if not isinstance(c, Crossover) or c.axis != axis or c.n_windows is None:
                continue
            err = None if c.low is None else [[c.n_windows - c.low], [c.high - c.n_windows]]
            ax.errorbar([c.n_windows], [1.0], xerr=err, fmt="D", ms=7, capsize=4, lw=1.5,
                        color=colors.get(c.arm, "k"), mec="k", zorder=5)
        _size_ticks(ax, pts, axis)
        ax.set_title(_title(pts, axis), fontsize=10)
    axes[0, 0].set_ylabel(f"mean MAE / {reference}'s")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", fontsize=8)
    level = next((c.level for c in crossovers if isinstance(c, Crossover)), None)
    note = f"; diamond: crossing of 1, bar: {level:.0%} bootstrap interval" if level is not None else ""
    fig.suptitle(f"ratio to {reference} at each size (below 1: better){note}", fontsize=9)
    return fig


def _unit(seconds: float) -> tuple[float, str]:
    if seconds >= 2 * 3600:
        return 3600.0, "h"
    return (60.0, "min") if seconds >= 120 else (1.0, "s")


def cost_bars(cost: pd.DataFrame):
    """Training time of one seed at each point, stacked by approach (all folds of all its arms), with the
    point's peak memory above its bar. ``cost``: :func:`~quake_lib.studies.scaling_tables.cost_table`."""
    parts = [c for c in cost.columns if c.startswith("s_")]
    if cost.empty or not parts:
        raise ValueError("the cost table has no point or no approach column (s_<approach>)")
    scale, unit = _unit(float(cost["seconds_per_seed"].max()))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.0 * len(cost) + 3.5), 4.0), layout="constrained")
    x = np.arange(len(cost))
    bottom = np.zeros(len(cost))
    for i, col in enumerate(parts):
        name = col[len("s_"):]
        h = cost[col].fillna(0).to_numpy(float) / scale
        color = BASELINE_COLORS.get(name, PALETTE[i % len(PALETTE)])
        ax.bar(x, h, bottom=bottom, width=0.65, color=color, label=name, alpha=0.9)
        bottom += h
    for xi, top, gb in zip(x, bottom, cost["peak_rss_gb"].to_numpy(float)):
        ax.annotate(f"{gb:.1f} GB", (xi, top), xytext=(0, 3), textcoords="offset points", ha="center", fontsize=8)
    ticks = [f"{p}\n{int(n):,} win" for p, n in zip(cost.index, cost["n_windows"])] if "n_windows" in cost \
        else [str(p) for p in cost.index]
    ax.set_xticks(x, ticks, fontsize=8)
    ax.set_ylabel(f"training time per seed ({unit})")
    ax.set_xlabel("point of the grid (evaluation windows)")
    ax.set_title("one seed of every approach, all folds; label: the point's peak memory (resident)", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    return fig
