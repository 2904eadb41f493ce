"""The two baselines every approach is measured against, on the folds of :mod:`quake_lib.evaluation`.

- ``constant``: the median target of the training folds' windows (the MAE-optimal constant).
- ``lightgbm``: the Kaggle-style feature table (:mod:`quake_lib.features_extra`) and LightGBM with
  an MAE-type objective (``l1``, or ``huber``), fitted on the training cycles of each fold. The
  training windows may lie on a denser grid than the evaluation grid (``train_stride``): overlapping
  windows are extra, correlated samples of the same cycles, never windows of a held-out cycle.

Both return OOF frames in the common format and can save them (``save=True``); LightGBM then also
keeps its fold models (text files under ``results/checkpoints/lightgbm/``) for Kaggle submissions.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import evaluation
from .features_extra import kaggle_features
from .folds import Fold
from .recording import Recording, Windows


def constant_cv(rec: Recording, folds: list[Fold], windows: Windows | None = None,
                approach: str = "constant", save: bool = True) -> pd.DataFrame:
    """Predict, for each held-out cycle, the median target of the training cycles' windows."""
    windows = evaluation.eval_windows(rec) if windows is None else windows
    evaluation.check_folds(folds, windows)
    parts = []
    for f in folds:
        train, test = f.split(windows)
        value = float(np.median(train.targets))
        parts.append(evaluation.oof_frame(approach, f.index, test, np.full(len(test), value)))
    oof = pd.concat(parts, ignore_index=True)
    if save:
        evaluation.save_oof(oof, rec.name)
    return oof


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


def lightgbm_cv(rec: Recording, folds: list[Fold], config: LgbmConfig | None = None, seed: int = 0,
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
        _save_json(evaluation.checkpoint_dir(rec.name, approach) / "meta.json",
                   {"approach": approach, "dataset": rec.name, "seed": seed, "window_length": windows.length,
                    "features": list(x_train.columns), "fold_seconds": seconds, "config": asdict(config)})
    return LgbmResult(oof, pd.concat(imps, ignore_index=True), x_eval)


def save_booster(booster, dataset: str, approach: str, fold: int) -> Path:
    """One fold's model as a LightGBM text file (``fold_<k>.txt``; text, so loading runs no pickle),
    written atomically; ``lightgbm.Booster(model_file=path)`` reloads it (``quake_lib submit``)."""
    path = evaluation.checkpoint_dir(dataset, approach) / f"fold_{fold}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    booster.save_model(str(tmp))
    os.replace(tmp, path)
    return path


def _save_json(path: Path, obj: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def top_features(importance: pd.DataFrame, k: int = 15) -> pd.DataFrame:
    """Mean share of total gain per feature across folds, the ``k`` largest."""
    share = importance.assign(share=importance["gain"] / importance.groupby("fold")["gain"].transform("sum"))
    return (share.groupby("feature")["share"].agg(["mean", "std"]).sort_values("mean", ascending=False)
            .head(k))


BASELINES = ("constant", "lightgbm")


def run(dataset: str, name: str, seed: int = 0, n_folds: int = evaluation.N_FOLDS) -> pd.DataFrame:
    """Prepare ``dataset``, run baseline ``name`` on the fixed folds, save and return its OOF frame
    (what ``python -m quake_lib train --approach constant|lightgbm`` runs)."""
    from . import datasets

    if name not in BASELINES:
        raise ValueError(f"baseline {name!r} is not known; expected one of: {', '.join(BASELINES)}")
    rec = datasets.prepare(dataset)
    folds = evaluation.make_folds(rec, n_folds=n_folds)
    if name == "constant":
        return constant_cv(rec, folds)
    return lightgbm_cv(rec, folds, seed=seed).oof


def reference_oofs(rec: Recording, folds: list[Fold], seed: int = 0,
                   others=()) -> tuple[list[pd.DataFrame], list[str]]:
    """What a chapter compares its approach against, on ``folds``: the two baselines (their saved OOF
    files when they hold out the same cycles per fold, else computed here and not saved: the files
    belong to their own runs), and each approach of ``others`` whose saved file exists on the same
    folds. Returns the frames and one note per name saying where its rows came from."""
    held = {f.index: set(f.test_cycles.tolist()) for f in folds}

    def saved(name):  # a saved file of another run counts only if it holds out the same cycles
        if not evaluation.oof_path(rec.name, name).exists():
            return None
        df = evaluation.load_oof(rec.name, name)
        same = all(set(g["cycle"].unique().tolist()) <= held.get(k, set()) for k, g in df.groupby("fold"))
        return df if same else None

    frames, notes = [], []
    for name in BASELINES:
        df = saved(name)
        if df is not None:
            notes.append(f"{name}: saved OOF file")
        else:
            df = (constant_cv(rec, folds, save=False) if name == "constant"
                  else lightgbm_cv(rec, folds, seed=seed, save=False).oof)
            notes.append(f"{name}: computed here on the same folds (seed {seed})")
        frames.append(df)
    for name in others:
        df = saved(name)
        if df is not None:
            frames.append(df)
            notes.append(f"{name}: saved OOF file")
        else:
            notes.append(f"{name}: not run yet, left out")
    return frames, notes
