"""The strong baseline: LightGBM on the Kaggle-style feature table, on the folds of every approach.

The Kaggle feature table (:mod:`quake_lib.features.competition`) and LightGBM with an MAE-type
objective (``l1``, or ``huber``), fitted on the training cycles of each fold. The training windows
may lie on a denser grid than the evaluation grid (``train_stride``): overlapping windows are extra,
correlated samples of the same cycles, never windows of a held-out cycle. The fold models are kept
(text files under ``results/checkpoints/lightgbm/``) for Kaggle submissions; like every training run's,
they appear only when every fold has finished (:class:`quake_lib.evaluation.StagedRun`).
"""
from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from .. import evaluation
from ..atomic import atomic_path, write_text
from ..data import source
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
                   progress: bool = True) -> LgbmResult:
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
    parts, imps, seconds, hashes = [], [], [], {}
    stage = evaluation.StagedRun(rec.name, approach) if save else None
    with stage if stage is not None else contextlib.nullcontext():
        for f in folds:
            tr, _ = f.masks(train_windows)
            _, te = f.masks(windows)
            if not tr.any():
                raise ValueError(f"fold {f.index}: no training window on the train_stride grid")
            t0 = time.perf_counter()
            model = config.regressor(seed).fit(x_train[tr], train_windows.targets[tr])
            seconds.append(time.perf_counter() - t0)
            if stage is not None:
                path = save_booster(model.booster_, stage.checkpoints, f.index)
                hashes[path.name] = source.file_hash(path)
            pred = model.predict(x_eval[te])
            parts.append(evaluation.oof_frame(approach, f.index, windows.subset(te), pred))
            imps.append(pd.DataFrame({"fold": f.index, "feature": x_train.columns,
                                      "gain": model.booster_.feature_importance("gain")}))
        oof = pd.concat(parts, ignore_index=True)
        if stage is not None:
            meta = {"approach": approach, "dataset": rec.name, "seed": seed, "window_length": windows.length,
                    "features": list(x_train.columns), "fold_seconds": seconds, "config": asdict(config),
                    "file_hashes": hashes}
            write_text(stage.checkpoints / "meta.json", json.dumps(meta, indent=1))
            stage.commit(oof)
    return LgbmResult(oof, pd.concat(imps, ignore_index=True), x_eval)


def save_booster(booster, directory: Path, fold: int) -> Path:
    """One fold's model as a LightGBM text file ``directory/fold_<k>.txt`` (text, so loading runs no
    pickle), written atomically; ``lightgbm.Booster(model_file=path)`` reloads it (``quake_lib submit``)."""
    path = Path(directory) / f"fold_{fold}.txt"
    with atomic_path(path) as tmp:
        booster.save_model(str(tmp))
    return path


# What every complete model file of LightGBM 4 holds, in this order; the last line ends the file.
_MODEL_MARKS = ("tree\n", "\nend of trees\n", "\nend of parameters\n", "\npandas_categorical:")


def load_booster(path: Path, expected_hash: str | None = None):
    """A fold model saved by :func:`save_booster`, checked before LightGBM sees it: LightGBM's loader
    does not report a damaged file, it aborts or crashes the whole process (measured with 4.7: files
    truncated at 5% to 97% of their length end in SIGABRT or SIGSEGV). ``expected_hash`` (recorded
    at training, :func:`quake_lib.data.source.file_hash`) catches any change; without it the file
    must at least be complete."""
    import lightgbm as lgb  # imported here: only training and this loader need it

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such LightGBM model file")
    text = path.read_bytes().decode("utf-8", "replace")
    pos = 0
    for mark in _MODEL_MARKS:
        pos = text.find(mark, pos)
        if pos < 0:
            raise ValueError(f"{path}: not a complete LightGBM model (no {mark.strip()!r} section: truncated?); "
                             "train lightgbm again")
    if not text.rstrip().splitlines()[-1].startswith("pandas_categorical:"):
        raise ValueError(f"{path}: not a complete LightGBM model (it does not end with the "
                         "'pandas_categorical:' line: truncated?); train lightgbm again")
    if expected_hash is not None and source.file_hash(path) != expected_hash:
        raise ValueError(f"{path}: damaged: its content differs from what training saved (hash "
                         f"{expected_hash}); train lightgbm again")
    try:
        return lgb.Booster(model_str=text)
    except (lgb.basic.LightGBMError, ValueError) as e:  # ValueError: its pandas_categorical line
        raise ValueError(f"{path}: LightGBM cannot read this model ({str(e).splitlines()[0][:100]}); "
                         "train lightgbm again") from None




def top_features(importance: pd.DataFrame, k: int = 15) -> pd.DataFrame:
    """Mean share of total gain per feature across folds, the ``k`` largest."""
    share = importance.assign(share=importance["gain"] / importance.groupby("fold")["gain"].transform("sum"))
    return (share.groupby("feature")["share"].agg(["mean", "std"]).sort_values("mean", ascending=False)
            .head(k))
