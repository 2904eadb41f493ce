"""The strong baseline: LightGBM on the Kaggle-style feature table, on the folds of every approach.

The Kaggle feature table (:mod:`quake_lib.features.competition`) and LightGBM with an MAE-type
objective (``l1``, or ``huber``), fitted on the training cycles of each fold. The training windows
may lie on a denser grid than the evaluation grid (``train_stride``): overlapping windows are extra,
correlated samples of the same cycles, never windows of a held-out cycle. The fold models are kept
(text files under ``results/checkpoints/lightgbm/``) for Kaggle submissions.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from .. import evaluation
from ..atomic import atomic_path, write_text
from ..data.recording import Recording, Windows
from ..evaluation.folds import Fold
from ..features.competition import kaggle_features


@dataclass(frozen=True)
class LgbmConfig:
    """LightGBM settings: small trees, strong subsampling (a few hundred correlated windows)."""

    objective: str = "l1"          # 'l1' (MAE) or 'huber'
    n_estimators: int = 600
    learning_rate: float = 0.02
    num_leaves: int = 15
    min_child_samples: int = 20
    subsample: float = 0.8
    subsample_freq: int = 1
    colsample_bytree: float = 0.5
    reg_lambda: float = 1.0
    huber_alpha: float = 1.0       # 'huber' only: where the loss turns from squared to linear
    train_stride: int = 50_000     # grid of the training windows (evaluation stays on EVAL_STRIDE)
    n_jobs: int = 2
    extra: dict = field(default_factory=dict)  # any other LGBMRegressor argument

    def regressor(self, seed: int):
        import lightgbm as lgb

        if self.objective not in ("l1", "huber"):
            raise ValueError(f"objective must be 'l1' or 'huber' (got {self.objective!r})")
        params = {k: v for k, v in asdict(self).items() if k not in ("train_stride", "extra", "huber_alpha")}
        if self.objective == "huber":
            params["alpha"] = self.huber_alpha
        # deterministic=True + force_row_wise: the same seed gives the same trees on any machine
        return lgb.LGBMRegressor(**params, **self.extra, random_state=seed, deterministic=True,
                                 force_row_wise=True, verbose=-1)


@dataclass
class LgbmResult:
    oof: pd.DataFrame          # the OOF frame (common format)
    importance: pd.DataFrame   # gain importance per feature and fold (long format)
    features: pd.DataFrame     # feature table of the evaluation windows


def cross_validate(rec: Recording, folds: list[Fold], config: LgbmConfig | None = None, seed: int = 0,
                   windows: Windows | None = None, approach: str = "lightgbm", save: bool = True,
                   progress: bool = False) -> LgbmResult:
    """Fit LightGBM on the Kaggle feature set of each fold's training cycles, predict the held-out."""
    config = LgbmConfig() if config is None else config
    windows = evaluation.eval_windows(rec) if windows is None else windows
    evaluation.check_folds(folds, windows)
    x_eval = kaggle_features(rec, windows, progress=progress)
    if config.train_stride == evaluation.EVAL_STRIDE and windows.length == evaluation.WINDOW:
        train_windows, x_train = windows, x_eval
    else:
        train_windows = rec.windows(length=windows.length, stride=config.train_stride)
        x_train = kaggle_features(rec, train_windows, progress=progress)
    parts, imps, seconds = [], [], []
    for f in folds:
        tr, _ = f.masks(train_windows)
        _, te = f.masks(windows)
        if not tr.any():
            raise ValueError(f"fold {f.index}: no training window on the train_stride grid")
        t0 = time.perf_counter()
        model = config.regressor(seed).fit(x_train[tr], train_windows.targets[tr])
        seconds.append(time.perf_counter() - t0)
        if save:
            save_booster(model.booster_, rec.name, approach, f.index)
        pred = model.predict(x_eval[te])
        parts.append(evaluation.oof_frame(approach, f.index, windows.subset(te), pred))
        imps.append(pd.DataFrame({"fold": f.index, "feature": x_train.columns,
                                  "gain": model.booster_.feature_importance("gain")}))
    oof = pd.concat(parts, ignore_index=True)
    if save:
        evaluation.save_oof(oof, rec.name)
        meta = {"approach": approach, "dataset": rec.name, "seed": seed, "window_length": windows.length,
                "features": list(x_train.columns), "fold_seconds": seconds, "config": asdict(config)}
        write_text(evaluation.checkpoint_dir(rec.name, approach) / "meta.json", json.dumps(meta, indent=1))
    return LgbmResult(oof, pd.concat(imps, ignore_index=True), x_eval)


def save_booster(booster, dataset: str, approach: str, fold: int) -> Path:
    """One fold's model as a LightGBM text file (``fold_<k>.txt``; text, so loading runs no pickle),
    written atomically; ``lightgbm.Booster(model_file=path)`` reloads it (``quake_lib submit``)."""
    path = evaluation.checkpoint_dir(dataset, approach) / f"fold_{fold}.txt"
    with atomic_path(path) as tmp:
        booster.save_model(str(tmp))
    return path




def top_features(importance: pd.DataFrame, k: int = 15) -> pd.DataFrame:
    """Mean share of total gain per feature across folds, the ``k`` largest."""
    share = importance.assign(share=importance["gain"] / importance.groupby("fold")["gain"].transform("sum"))
    return (share.groupby("feature")["share"].agg(["mean", "std"]).sort_values("mean", ascending=False)
            .head(k))
