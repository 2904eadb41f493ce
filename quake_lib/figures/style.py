"""The look of every figure of the report, in one place: matplotlib settings, shared styles, saving.

Figures are functions that take data and return a ``Figure``; a notebook shows them with
``plt.show()`` and keeps them with :func:`save` (the notebook session's ``savefig``).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt

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


def save(fig, path, **savefig) -> Path:
    """``fig.savefig(path)`` atomically, without the matplotlib version in the PNG metadata (so a
    rerun with another matplotlib changes no committed image that did not change)."""
    with atomic_path(path, suffix=Path(path).suffix) as tmp:
        fig.savefig(tmp, metadata={"Software": None}, **savefig)
    return Path(path)
