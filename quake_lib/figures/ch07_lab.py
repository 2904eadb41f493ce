"""The figures of the lab runs p4581 and p5198 (:mod:`quake_lib.studies.lab_study`): predictions
through held-out cycles, scores per arm and target, Laurenti's protocol against leave-cycles-out, the
transfer between runs, CPC's contrastive accuracy. Each takes the tables the approach returns and
returns a ``Figure``."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..data.lab_runs import ROW_SECONDS, TARGETS

UNITS = {"TimeToStartFailure": "s", "TimeToEndFailure": "s", "ShearStress": "MPa"}
SHORT = {"TimeToStartFailure": "time to start of failure", "TimeToEndFailure": "time to end of failure",
         "ShearStress": "shear stress"}
ARM_COLOR = {"constant": "0.55", "gbm_now": "C1", "cnn": "C0", "lstm": "C3", "cpc_probe": "C4",
             "ridge_history": "C7"}


def _color(arm: str, i: int) -> str:
    return ARM_COLOR.get(arm, "C2" if arm.startswith("gbm_") else f"C{i % 10}")


def lab_predictions(oof: pd.DataFrame, arms, run: str = "", span_s: tuple | None = (0.0, 60.0)):
    """One panel per target: the truth (black) and the held-out predictions of ``arms`` (2-3) row by row,
    in seconds from the start of the run; dotted lines where a cycle starts. ``span_s``: the stretch
    shown (None: all)."""
    arms = list(arms)
    targets = [t for t in TARGETS if t in set(oof["target_name"])]
    fig, axes = plt.subplots(len(targets), 1, figsize=(11, 2.4 * len(targets)), sharex=True, squeeze=False)
    for ax, t in zip(axes[:, 0], targets):
        part = oof[oof["target_name"] == t]
        first = part[part["arm"] == arms[0]].sort_values("start")
        secs = first["start"].to_numpy() * ROW_SECONDS
        keep = np.ones(len(first), bool) if span_s is None else (secs >= span_s[0]) & (secs <= span_s[1])
        ax.plot(secs[keep], first["target"].to_numpy()[keep], color="k", lw=1.4, label="true")
        for i, arm in enumerate(arms):
            a = part[part["arm"] == arm].sort_values("start")
            s = a["start"].to_numpy() * ROW_SECONDS
            k = np.ones(len(a), bool) if span_s is None else (s >= span_s[0]) & (s <= span_s[1])
            mae = (a["prediction"] - a["target"]).abs().mean()
            ax.plot(s[k], a["prediction"].to_numpy()[k], lw=0.9, color=_color(arm, i),
                    label=f"{arm} (MAE {mae:.3g} {UNITS[t]})")
        for b in np.flatnonzero(np.diff(first["cycle"].to_numpy()) != 0):
            if keep[b + 1]:
                ax.axvline(secs[b + 1], color="0.6", lw=0.6, ls=":")
        ax.set_ylabel(f"{SHORT[t]} ({UNITS[t]})", fontsize=8)
        ax.legend(fontsize=7, loc="upper right", ncol=len(arms) + 1)
    axes[-1, 0].set_xlabel(f"time from the start of run {run} (s); every row predicted by a model that did not "
                           "see its cycle")
    fig.tight_layout()
    return fig


def lab_score_bars(summary: pd.DataFrame, run: str = ""):
    """MAE (mean over folds, bar: +- sd across folds) and R^2 (pooled over held-out rows) per arm, one
    column of panels per target. ``summary``: :attr:`LabCV.summary`."""
    arms = list(dict.fromkeys(summary.index.get_level_values("arm")))
    targets = [t for t in TARGETS if t in set(summary.index.get_level_values("target"))]
    fig, axes = plt.subplots(2, len(targets), figsize=(4.2 * len(targets), 6), squeeze=False)
    x = np.arange(len(arms))
    colors = [_color(a, i) for i, a in enumerate(arms)]
    for j, t in enumerate(targets):
        s = summary.xs(t, level="target").reindex(arms)
        axes[0, j].bar(x, s["mae_mean"], yerr=s["mae_sd"], color=colors, capsize=3, width=0.7)
        axes[0, j].set_title(SHORT[t], fontsize=9)
        axes[0, j].set_ylabel(f"MAE ({UNITS[t]})")
        r2 = s["r2"].clip(lower=-0.2)  # a constant's R^2 is ~0; far below it says nothing more
        axes[1, j].bar(x, r2, color=colors, width=0.7)
        axes[1, j].axhline(0, color="k", lw=0.8)
        axes[1, j].set_ylim(-0.2, 1)
        axes[1, j].set_ylabel("R^2, held-out rows")
        for ax in axes[:, j]:
            ax.set_xticks(x, arms, rotation=40, ha="right", fontsize=8)
    fig.suptitle(f"run {run}: leave-cycles-out, {summary['n'].iloc[0]} held-out rows per arm and target", fontsize=10)
    fig.tight_layout()
    return fig


def protocol_bars(table: pd.DataFrame):
    """R^2 and MAE of each model under protocols a / b / c
    (:func:`~quake_lib.studies.lab_protocols.laurenti_protocol`); c's bar carries the sd across folds."""
    models = list(dict.fromkeys(table["model"]))
    protocols = list(dict.fromkeys(table["protocol"]))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    width = 0.8 / len(protocols)
    for k, p in enumerate(protocols):
        part = table[table["protocol"] == p].set_index("model").reindex(models)
        x = np.arange(len(models)) + (k - (len(protocols) - 1) / 2) * width
        label = f"{p}: {part['description'].iloc[0]}"
        axes[0].bar(x, part["r2"], width, label=label, color=f"C{k}")
        axes[1].bar(x, part["mae"], width, yerr=part["mae_sd"].fillna(0), capsize=3, color=f"C{k}")
        for xi, v in zip(x, part["r2"]):
            axes[0].text(xi, v, f"{v:.3f}", ha="center", va="bottom", fontsize=7)
    axes[0].set_ylabel("R^2, shear stress")
    axes[0].set_ylim(min(0.0, float(table["r2"].min())), 1.08)
    axes[1].set_ylabel("MAE (MPa), shear stress")
    for ax in axes:
        ax.set_xticks(np.arange(len(models)), models)
    axes[0].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def transfer_bars(table: pd.DataFrame):
    """Per target: MAE of each arm scored on a run after training on the other, beside that run's own
    leave-cycles-out MAE (hatched). ``table``: :func:`~quake_lib.studies.lab_protocols.transfer`."""
    targets = [t for t in TARGETS if t in set(table["target"])]
    fig, axes = plt.subplots(1, len(targets), figsize=(4.2 * len(targets), 3.6), squeeze=False)
    for ax, t in zip(axes[0], targets):
        part = table[table["target"] == t].reset_index(drop=True)
        x = np.arange(len(part))
        ax.bar(x - 0.2, part["own_mae_mean"], 0.4, yerr=part["own_mae_sd"], capsize=3, color="0.8", hatch="//",
               label="own run, leave cycles out")
        ax.bar(x + 0.2, part["mae"], 0.4, color=[_color(a, i) for i, a in enumerate(part["arm"])],
               label="trained on the other run")
        ax.set_xticks(x, [f"{a}\n{r.trained_on}->{r.scored_on}" for a, r in zip(part["arm"], part.itertuples())],
                      fontsize=7)
        ax.set_yscale("log")
        ax.set_title(SHORT[t], fontsize=9)
        ax.set_ylabel(f"MAE ({UNITS[t]})")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def cpc_accuracy(curves: dict):
    """Contrastive accuracy per epoch of each run's CPC pre-training (mean over folds, band: the folds'
    range), beside chance. ``curves``: run -> :attr:`LabCV.pretrain`."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for i, (run, c) in enumerate(curves.items()):
        g = c.groupby("epoch")["accuracy"]
        mean, lo, hi = g.mean(), g.min(), g.max()
        ax.plot(mean.index, mean.to_numpy(), marker="o", ms=3, color=f"C{i}", label=f"{run}")
        ax.fill_between(mean.index, lo.to_numpy(), hi.to_numpy(), color=f"C{i}", alpha=0.2, lw=0)
    chance = float(next(iter(curves.values()))["chance"].iloc[0])
    ax.axhline(chance, color="k", ls=":", lw=1, label=f"chance ({chance:.3f})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("InfoNCE accuracy (mean over steps)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
