"""What every notebook does first: one call that fixes seeds, plotting, the profile and the data.

>>> s = setup(dataset, profile, seed)     # doctest: +SKIP
>>> s.rec, s.profile, s.savefig(fig, "01_overview")

``QUAKE_QUICK=1`` in the environment (``make test``) forces the quick profile, and the small ``quick``
dataset in place of the default ``synthetic`` one, whatever the notebook's parameters say.
Figures of the default run (synthetic dataset, default profile, seed 0) go to ``images/`` (the README
embeds them); figures of any other run go to ``data/<dataset>/figures/`` (``figures/seed_<s>/`` for a
seed other than 0) so that a quick, real-data or extra-seed run never overwrites the committed ones.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import paths, profiles
from ..data import datasets
from ..figures import style
from ..quiet import quiet


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass
class Session:
    dataset: str
    profile: profiles.Profile
    seed: int
    rec: object
    figure_dir: Path

    def savefig(self, fig, name: str) -> Path:
        """Save ``fig`` as ``<figure_dir>/<name>.png`` (atomically) and return the path."""
        return style.save(fig, self.figure_dir / f"{name}.png", bbox_inches="tight")

    def __repr__(self) -> str:
        return f"Session(dataset={self.dataset!r}, profile={self.profile.name!r}, seed={self.seed}, {self.rec!r})"


def resolve(dataset: str, profile: str) -> tuple[str, str]:
    """Apply ``QUAKE_QUICK=1``: the quick profile, and the ``quick`` dataset instead of ``synthetic``."""
    if profiles.quick_mode():
        profile = "quick"
    if profile == "quick" and dataset == "synthetic":
        dataset = "quick"
    return dataset, profile


def setup(dataset: str = "synthetic", profile: str = "default", seed: int = 0, diagnostics: bool = True) -> Session:
    """``diagnostics=False``: the networks skip their per-epoch held-out diagnostics (learning curves;
    ``validate_every=0``): a notebook run by ``report --seeds`` for a seed other than the first."""
    dataset, profile = resolve(dataset, profile)
    prof = profiles.get(profile) if diagnostics else profiles.get(profile, validate_every=0)
    seed_everything(seed)
    quiet()
    style.configure()
    rec = datasets.prepare(dataset)
    default_run = dataset == "synthetic" and profile == "default" and seed == 0
    figure_dir = paths.dataset_dir(dataset) / "figures" / (f"seed_{seed}" if seed else "")
    figure_dir = paths.IMAGES_DIR if default_run else figure_dir
    return Session(dataset, prof, seed, rec, figure_dir)
