"""What every notebook does first: one call that fixes seeds, plotting, the profile and the data.

>>> s = setup(dataset, profile, seed)     # doctest: +SKIP
>>> s.rec, s.profile, s.savefig(fig, "01_overview")

``QUAKE_QUICK=1`` in the environment (``make test``) forces the quick profile, and the small ``quick``
dataset in place of the default ``synthetic`` one, whatever the notebook's parameters say.
Figures of the default run go to ``images/`` (the README embeds them); figures of any other run go
to ``data/<dataset>/figures/`` so that a quick or real-data run never overwrites the committed ones.
"""
from __future__ import annotations

import logging
import os
import random
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import paths, profiles


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover
        pass


def _configure_plotting() -> None:
    import matplotlib
    import matplotlib.pyplot as plt
    try:  # PNG, not SVG: nbval would diff SVG text
        from matplotlib_inline.backend_inline import set_matplotlib_formats
        set_matplotlib_formats("png")
    except ImportError:  # pragma: no cover
        pass
    matplotlib.rcParams.update({"figure.dpi": 90, "savefig.dpi": 110, "figure.figsize": (10, 3.5),
                                "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
                                "axes.spines.right": False, "svg.hashsalt": "quake"})
    plt.close("all")


def _quiet() -> None:
    # warnings and chatty loggers write to stderr; keep checked outputs about the science
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm.auto without ipywidgets
    for name in ("lightning", "lightning.pytorch", "pytorch_lightning", "numba", "papermill"):
        logging.getLogger(name).setLevel(logging.ERROR)


@dataclass
class Session:
    dataset: str
    profile: profiles.Profile
    seed: int
    rec: object
    figure_dir: Path

    def savefig(self, fig, name: str) -> Path:
        """Save ``fig`` as ``<figure_dir>/<name>.png`` (atomically) and return the path."""
        self.figure_dir.mkdir(parents=True, exist_ok=True)
        path = self.figure_dir / f"{name}.png"
        tmp = path.with_name(f".{path.stem}.tmp.png")
        fig.savefig(tmp, bbox_inches="tight", metadata={"Software": None})
        os.replace(tmp, path)
        return path

    def __repr__(self) -> str:
        return f"Session(dataset={self.dataset!r}, profile={self.profile.name!r}, seed={self.seed}, {self.rec!r})"


def resolve(dataset: str, profile: str) -> tuple[str, str]:
    """Apply ``QUAKE_QUICK=1``: the quick profile, and the ``quick`` dataset instead of ``synthetic``."""
    if os.environ.get("QUAKE_QUICK", "") not in ("", "0"):
        profile = "quick"
    if profile == "quick" and dataset == "synthetic":
        dataset = "quick"
    return dataset, profile


def setup(dataset: str = "synthetic", profile: str = "default", seed: int = 0) -> Session:
    from . import datasets
    dataset, profile = resolve(dataset, profile)
    prof = profiles.get(profile)
    seed_everything(seed)
    _quiet()
    _configure_plotting()
    rec = datasets.prepare(dataset)
    default_run = dataset == "synthetic" and profile == "default"
    figure_dir = paths.IMAGES_DIR if default_run else paths.dataset_dir(dataset) / "figures"
    return Session(dataset, prof, seed, rec, figure_dir)
