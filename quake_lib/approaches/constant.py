"""The constant baseline: for each held-out cycle, the median target of the training cycles' windows
(the MAE-optimal constant). Every approach's ratio "x constant" is measured against it.

Saved: the OOF predictions and ``checkpoints/<approach>/meta.json`` with the window length, so that a
submission checks the test segments' length as it does for every other approach."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from .. import evaluation
from ..atomic import write_text
from ..data.recording import Recording, Windows
from ..evaluation.folds import Fold


def cross_validate(rec: Recording, folds: list[Fold], windows: Windows | None = None,
                   approach: str = "constant", save: bool = True, seed: int = 0) -> pd.DataFrame:
    """Predict, for each held-out cycle, the median target of the training cycles' windows; saves
    ``oof_<approach>.csv`` when ``save`` (among the results of ``seed``: the constant is the same for
    every seed, but each seed's comparison has its own copy)."""
    windows = evaluation.eval_windows(rec) if windows is None else windows
    evaluation.check_folds(folds, windows)
    parts = []
    for f in folds:
        train, test = f.split(windows)
        value = float(np.median(train.targets))
        parts.append(evaluation.oof_frame(approach, f.index, test, np.full(len(test), value)))
    oof = pd.concat(parts, ignore_index=True)
    if save:
        with evaluation.StagedRun(rec.name, approach, seed=seed) as stage:
            meta = {"approach": approach, "dataset": rec.name, "window_length": int(windows.length)}
            write_text(stage.checkpoints / "meta.json", json.dumps(meta, indent=1))
            stage.commit(oof)
    return oof
