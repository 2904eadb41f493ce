"""A WaveNet-style dilated 1D CNN on the raw waveform, and its head study.

The network is :class:`quake_lib.models.wavenet.WaveNet`; training is :func:`quake_lib.train.cross_validate`
on the fixed folds. The head study trains the same body four ways and saves each as an arm of the
comparison: ``wave_cnn_regression`` (one output, L1), ``wave_cnn_binned`` (16 bins, cross-entropy: the
2019 study's trick against collapsing regression heads; main arm, median readout),
``wave_cnn_binned_soft`` (the same bins with Gaussian soft labels of the profile's ``label_sigma`` s) and
``wave_cnn_aux`` (the regression head plus the Kaggle winners' auxiliary target, the time since the last
failure, :class:`quake_lib.train.heads.AuxHead`; its ``prediction`` stays the regression value, the OOF
file adds ``prediction_from_since_failure`` and ``predicted_since_failure``).
"""
from __future__ import annotations

import pandas as pd

from .. import models, profiles, train
from ..constants import SAMPLE_RATE_HZ
from ..data.recording import Recording
from ..evaluation.folds import Fold
from ..train.heads import AuxHead
from ..train.lr_finder import LrFindResult
from . import registry
from .protocol import NetworkRuns, SavedRun, load_networks

APPROACH = registry.get("wave_cnn")
# weight of the auxiliary L1 term (seconds since failure) beside the L1 on time_to_failure (seconds):
# both in seconds, so 1 weighs them alike; no tuning, which would need the held-out cycles
AUX_WEIGHT = 1.0


def factory(**overrides):
    """``n_outputs -> WaveNet`` (the body of every arm; ``overrides`` change its config)."""
    return models.factory(APPROACH.model, **overrides)


def describe(n_outputs: int = 16) -> str:
    """The config, the parameter count with a ``n_outputs`` head and the receptive field."""
    make = factory()
    rf = models.receptive_field(make.config)
    return (f"{make.config}\n{models.n_parameters(make(n_outputs)):,} parameters with a {n_outputs}-bin head; "
            f"receptive field of one skip output: {rf:,} samples ({rf / SAMPLE_RATE_HZ * 1e6:.0f} us)")


def heads(label_sigma: float) -> dict:
    """The arms and their heads: arm -> head (a name, or a head module for the soft labels)."""
    name = APPROACH.name
    return {f"{name}_regression": "regression", f"{name}_binned": "binned",
            f"{name}_binned_soft": train.BinnedHead(label_sigma=label_sigma),
            f"{name}_aux": AuxHead("regression", aux="since_failure", weight=AUX_WEIGHT)}


def cross_validate(rec: Recording, folds: list[Fold], profile: profiles.Profile, seed: int, arms=None,
                   devices=None, **train_options) -> NetworkRuns:
    """The head study: the same body trained once per arm (default: all four) on ``folds``, each saved
    as a run; the soft labels' sd is the profile's ``label_sigma``. ``train_options``: further
    arguments of :func:`quake_lib.train.cross_validate` (e.g. ``eval_windows``, ``verbose``)."""
    arms = APPROACH.check_arms(arms)
    options = {**train_options, **({} if devices is None else {"devices": devices})}
    return NetworkRuns({arm: train_arm(rec, folds, profile, seed, arm, **options) for arm in arms})


def train_arm(rec: Recording, folds: list[Fold], profile: profiles.Profile, seed: int, arm: str,
              saved_as: str | None = None, **train_options) -> train.CVResult:
    """One arm's head on ``folds``, saved as the run of ``saved_as`` (default: ``arm``; another name keeps a
    variant of the arm, e.g. a longer training, beside it)."""
    head = heads(profile.label_sigma)[APPROACH.check_arms(arm)[0]]
    return train.cross_validate(rec, factory(), head, folds, profile=profile, seed=seed, arm=saved_as or arm,
                                approach=APPROACH.name, **train_options)


def load(dataset: str, arm: str, seed: int, meta: dict) -> SavedRun:
    return load_networks(dataset, arm, seed, meta)


def lr_find(rec: Recording, fold: Fold, profile: profiles.Profile, seed: int) -> LrFindResult:
    """Lightning's learning-rate range test for the main arm's head on ``fold``'s training cycles."""
    return train.lr_find(rec, factory(), "binned", fold, profile=profile, seed=seed)


def lr_summary(finder, profile: profiles.Profile) -> str:
    return (f"Lightning's suggestion: {finder.suggestion:.2g}; the profile trains with a peak of "
            f"{profile.lr:g}")


def summary(scores: pd.DataFrame) -> str:
    """The constant, LightGBM, the main arm and the best head: MAE, ratios to the constant and LightGBM.
    ``scores``: :func:`quake_lib.evaluation.mae_table` with ``reference="constant"`` (readouts named)."""
    best = scores.loc[[a for a in scores.index if a.startswith(APPROACH.name)]].iloc[0]
    lines = []
    for name, row in (("constant", scores.loc["constant"]), ("lightgbm", scores.loc["lightgbm"]),
                      (APPROACH.main_result, scores.loc[APPROACH.main_result]), (f"best head: {best.name}", best)):
        lines.append(f"{name:36s} MAE {row['mean']:.3f} +- {row['std']:.3f}   {row['ratio']:.2f} x constant   "
                     f"{row['mean'] / scores.loc['lightgbm', 'mean']:.2f} x lightgbm")
    return "\n".join(lines)


def cost_table(run: NetworkRuns) -> pd.DataFrame:
    """Training seconds over the folds and the median training throughput of each arm."""
    return pd.DataFrame({r.arm: {"train seconds": r.seconds, "windows/s": r.metrics["train_windows_per_s"].median()}
                         for r in run.runs.values()}).T.round(1)
