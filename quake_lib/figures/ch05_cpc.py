"""CPC's figures: pre-training curves, accuracy per prediction step, learning curves of
the heads, the 2019 experiments, and the learned embeddings."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from ..train.contrastive import step_table


def pretrain_figure(metrics: pd.DataFrame, chance_loss: float, chance_acc: float):
    """Left: InfoNCE loss per epoch (train, held-out segments) against chance; right: held-out
    accuracy per prediction step k, one line per epoch (later epochs darker), against chance."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.6))
    a.plot(metrics["epoch"], metrics["train_loss"], "o-", label="train")
    a.plot(metrics["epoch"], metrics["val_loss"], "s-", label="held-out segments")
    a.axhline(chance_loss, color="k", ls="--", lw=1, label=f"chance: log(n candidates) = {chance_loss:.2f}")
    a.set(xlabel="epoch", ylabel="InfoNCE loss (mean over steps)", title="pre-training loss")
    a.legend(fontsize=8)
    st = step_table(metrics, "val")
    epochs = sorted(st["epoch"].unique())
    cmap = plt.get_cmap("viridis")
    for i, e in enumerate(epochs):
        s = st[st["epoch"] == e]
        b.plot(s["step"], s["accuracy"], "o-", color=cmap(i / max(len(epochs) - 1, 1)), ms=3,
               label=f"epoch {e}" if i in (0, len(epochs) - 1) else None)
    b.axhline(chance_acc, color="k", ls="--", lw=1, label=f"chance = {chance_acc:.3f}")
    b.set(xlabel="prediction step k (x 64 us)", ylabel="held-out contrastive accuracy",
          title="accuracy per prediction step", ylim=(0, None))
    b.legend(fontsize=8)
    fig.tight_layout()
    return fig


def head_curves_figure(probe_curves: dict, tune_metrics: dict):
    """Train vs held-out loss: the probes per iteration (mean over folds) and the fine-tuned and
    from-scratch networks per epoch (mean over folds). The gap is the overfitting."""
    fig, axes = plt.subplots(1, len(probe_curves) + len(tune_metrics), figsize=(12, 3.4), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, (name, c) in zip(axes, probe_curves.items()):
        m = c.groupby("iteration")[["train_loss", "held_out_loss"]].mean()
        ax.plot(m.index, m["train_loss"], label="train")
        ax.plot(m.index, m["held_out_loss"], label="held-out cycles")
        ax.set(title=name, xlabel="iteration")
    for ax, (name, mt) in zip(axes[len(probe_curves):], tune_metrics.items()):
        m = mt.groupby("epoch").mean(numeric_only=True)
        ax.plot(m.index + 1, m["train_loss"], "o-", label="train")
        if "val_loss" in m:  # absent when the held-out diagnostics were off (validate_every=0)
            ax.plot(m.index + 1, m["val_loss"], "s-", label="held-out cycles")
        ax.set(title=name, xlabel="epoch")
    axes[0].set_ylabel("binned cross-entropy")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def experiments_figure(table: pd.DataFrame, chance_acc: float):
    """Held-out contrastive accuracy per prediction step of each experiment run (one line each)."""
    fig, ax = plt.subplots(figsize=(8, 3.4))
    for name, s in table.groupby("run", sort=False):
        ax.plot(s["step"], s["accuracy"], "o-", ms=3, label=name)
    ax.axhline(chance_acc, color="k", ls="--", lw=1, label="chance")
    ax.set(xlabel="prediction step k (x 64 us)", ylabel="held-out contrastive accuracy", ylim=(0, None),
           title="last epoch of each short run")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def pca_2d(x: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First two principal components of standardized ``x`` and their shares of the variance. A
    component's sign is arbitrary; each is turned to correlate negatively with ``target``, so that with
    time to failure it grows toward failure, and two panels read the same way."""
    z = (x - x.mean(0)) / (x.std(0) + 1e-8)
    pca = PCA(n_components=2, svd_solver="full")  # exact SVD: "auto" may pick a randomized or covariance solver
    pc = pca.fit_transform(z)
    covariance = pc.T @ (target - target.mean())  # the components are centered
    return pc * np.where(covariance > 0, -1.0, 1.0), pca.explained_variance_ratio_


def embedding_figure(features: dict, targets: np.ndarray):
    """PCA of the pooled window features, one panel per encoder, coloured by time_to_failure."""
    fig, axes = plt.subplots(1, len(features), figsize=(5.5 * len(features), 4.2))
    axes = np.atleast_1d(axes)
    for ax, (name, x) in zip(axes, features.items()):
        pc, share = pca_2d(np.asarray(x, np.float64), np.asarray(targets, np.float64))
        sc = ax.scatter(pc[:, 0], pc[:, 1], c=targets, cmap="viridis_r", s=10)
        r = np.corrcoef(pc[:, 0], targets)[0, 1]
        ax.set(title=f"{name}: corr(PC1, ttf) = {r:+.2f}", xlabel=f"PC1 ({share[0]:.0%} of variance)",
               ylabel=f"PC2 ({share[1]:.0%})")
    fig.colorbar(sc, ax=axes.tolist(), label="time_to_failure (s)")
    return fig
