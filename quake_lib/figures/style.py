"""The look of every figure of the report, in one place: matplotlib settings, shared styles, saving.

Figures are functions that take data and return a ``Figure``; a notebook shows them with
``plt.show()`` and keeps them with :func:`save` (the notebook session's ``savefig``).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from ..atomic import atomic_path

RC = {"figure.dpi": 90, "savefig.dpi": 110, "figure.figsize": (10, 3.5), "axes.grid": True, "grid.alpha": 0.3,
      "axes.spines.top": False, "axes.spines.right": False, "svg.hashsalt": "quake"}
# the two baselines every results figure draws as reference lines
BASELINE_STYLE = {"constant": dict(color="0.3", ls=":"), "lightgbm": dict(color="0.3", ls="--")}


def configure() -> None:
    """Report style for matplotlib; inline figures as PNG, not SVG (nbval would diff SVG text)."""
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats
        set_matplotlib_formats("png")
    except ImportError:  # pragma: no cover - outside IPython
        pass
    matplotlib.rcParams.update(RC)
    plt.close("all")


def symlog_counts(ax) -> None:
    """Background (tens of counts) and bursts (thousands) of the signal on one readable axis."""
    ax.set_yscale("symlog", linthresh=100, linscale=0.5)
    ax.set_yticks([-1000, -100, 0, 100, 1000])
    ax.set_yticklabels(["-1000", "-100", "0", "100", "1000"])


def cycle_boundaries(ax, cycles) -> None:
    """Dotted lines between consecutive windows of different cycles, on an axis whose x is the window's
    position in ``cycles`` (recording order)."""
    for b in np.flatnonzero(np.diff(np.asarray(cycles)) != 0):
        ax.axvline(b + 0.5, color="0.6", lw=0.6, ls=":")


def label_panels(axes, n: int, xlabel: str, ylabel: str = "ttf (s)") -> None:
    """A grid of ``n`` used panels (``axes``: 2-D, as ``plt.subplots(squeeze=False)`` gives): the unused
    ones hidden, ``ylabel`` on the first column, ``xlabel`` on the last row."""
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    for ax in axes[-1]:
        ax.set_xlabel(xlabel)


def save(fig, path, **savefig) -> Path:
    """``fig.savefig(path)`` atomically, without the matplotlib version in the PNG metadata (so a
    rerun with another matplotlib changes no committed image that did not change)."""
    with atomic_path(path, suffix=Path(path).suffix) as tmp:
        fig.savefig(tmp, metadata={"Software": None}, **savefig)
    return Path(path)
