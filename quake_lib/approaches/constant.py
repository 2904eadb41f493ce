"""The constant baseline: for each held-out cycle, the median target of the training cycles' windows
(the MAE-optimal constant). Every approach's ratio "x constant" is measured against it.

Saved: the OOF predictions and the run's ``meta.json``; its one model for a submission is the median
target of every evaluation window (all cycles'), and it checks the test segments' length like any
other arm (a short file is a broken download, not a segment)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import evaluation, profiles
from ..data.recording import Recording, Windows
from ..evaluation.folds import Fold
from . import registry
from .protocol import FoldPrediction, SavedRun

APPROACH = registry.get("constant")


def cross_validate(rec: Recording, folds: list[Fold], profile: profiles.Profile | None = None, seed: int = 0,
                   arms=None, devices=None, windows: Windows | None = None, save: bool = True) -> ConstantRun:
    """Predict, for each held-out cycle, the median target of the training cycles' windows; saves the run
    when ``save`` (among the results of ``seed``: the constant is the same for every seed, but each
    seed's comparison has its own copy). ``profile`` and ``devices`` change nothing here."""
    (arm,) = APPROACH.check_arms(arms)
    windows = evaluation.eval_windows(rec) if windows is None else windows
    evaluation.check_folds(folds, windows)
    parts = []
    for f in folds:
        train, test = f.split(windows)
        value = float(np.median(train.targets))
        parts.append(evaluation.oof_frame(arm, f.index, test, np.full(len(test), value)))
    oof = pd.concat(parts, ignore_index=True)
    if save:
        with evaluation.StagedRun(rec.name, arm, APPROACH.name, seed, windows.length) as stage:
            stage.commit(oof, meta={})
    return ConstantRun(oof)


@dataclass
class ConstantRun:
    oof: pd.DataFrame


class _Value:
    def __init__(self, value: float):
        self.value = value

    def predict(self, x) -> FoldPrediction:
        return FoldPrediction(np.full(len(x), self.value))


def load(dataset: str, arm: str, seed: int, meta: dict) -> SavedRun:
    """One model: the median target over every evaluation window of the saved run (the constant fitted
    on all cycles)."""
    value = float(evaluation.load_oof(dataset, arm, seed)["target"].median())
    return SavedRun(APPROACH.name, arm, meta["window_length"], [_Value(value)])
