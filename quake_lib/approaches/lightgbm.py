"""The strong baseline: LightGBM on the Kaggle-style feature table, on the folds of every approach.

The Kaggle feature table (:mod:`quake_lib.features.competition`) and LightGBM with an MAE-type
objective (``l1``, or ``huber``), fitted on the training cycles of each fold. The training windows
may lie on a denser grid than the evaluation grid (``train_stride``): overlapping windows are extra,
correlated samples of the same cycles, never windows of a held-out cycle. The fold models are kept
(text files under ``results/checkpoints/lightgbm/``) for Kaggle submissions; like every training run's,
they appear only when every fold has finished (:class:`quake_lib.evaluation.StagedRun`).

Arms: ``lightgbm`` fits time_to_failure; ``lightgbm_since_failure`` and ``lightgbm_fraction`` fit the
Kaggle winners' cycle targets on the same features, folds and seed (:func:`cross_validate`'s
``targets``), each with its own OOF file and fold models; :func:`predict_ttf` turns any arm's saved
booster into time_to_failure predictions.
"""
from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import evaluation
from ..atomic import atomic_path, write_text
from ..data import cycle_targets, source
from ..data.recording import Recording, Windows
from ..evaluation.folds import Fold
from ..features.competition import kaggle_features

TARGETS = cycle_targets.TARGETS  # what an arm can fit: time_to_failure and the winners' cycle targets


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
    oof: pd.DataFrame          # the OOF frame (common format), the rows of every arm (column approach)
    importance: pd.DataFrame   # gain importance per arm (approach), fold and feature (long format)
    features: pd.DataFrame     # feature table of the evaluation windows


def arm_name(approach: str, target: str) -> str:
    """The arm that fits ``target``: ``lightgbm`` (time_to_failure), ``lightgbm_since_failure``, ..."""
    return approach if cycle_targets.check_target(target) == cycle_targets.TTF else f"{approach}_{target}"


def cross_validate(rec: Recording, folds: list[Fold], config: LgbmConfig | None = None, seed: int = 0,
                   windows: Windows | None = None, approach: str = "lightgbm", save: bool = True,
                   progress: bool = True, targets=(cycle_targets.TTF,),
                   max_train_windows: int | None = None) -> LgbmResult:
    """Fit LightGBM on the Kaggle feature set of each fold's training cycles, predict the held-out.

    ``targets`` (of :data:`TARGETS`): one arm per target (:func:`arm_name`), each with its OOF file and
    fold models, all on the same features (computed once), folds and seed: ``ttf`` (time_to_failure),
    ``since_failure`` (1st place; time_to_failure = max(mean length - prediction, 0)) and ``fraction``
    (3rd place; fraction x mean length), the mean length being that of the fold's *training* cycles
    (:mod:`quake_lib.data.cycle_targets`; saved per fold in ``meta.json`` for :func:`predict_ttf`). The
    cycle targets' fits leave out the training windows of the partial first cycle (unknown length);
    every arm predicts every held-out window, and a cycle target's OOF rows keep its raw prediction in
    ``predicted_<target>``. ``max_train_windows`` (the profile's ``train_grid_windows``): a
    ``train_stride`` grid holding more windows trains on the evaluation grid instead
    (:func:`quake_lib.evaluation.training_grid`), so the feature passes are bounded by the profile."""
    config = LgbmConfig() if config is None else config
    targets = tuple(dict.fromkeys(cycle_targets.check_target(t) for t in targets))
    if not targets:
        raise ValueError(f"targets must name at least one of {', '.join(TARGETS)} (got none)")
    arms = {t: evaluation.check_approach(arm_name(approach, t)) for t in targets}
    windows = evaluation.eval_windows(rec) if windows is None else windows
    evaluation.check_folds(folds, windows)
    x_eval = kaggle_features(rec, windows, progress=progress)
    on_eval_grid = config.train_stride == evaluation.EVAL_STRIDE and windows.length == evaluation.WINDOW
    train_windows = (windows if on_eval_grid
                     else evaluation.training_grid(rec, windows, config.train_stride, max_train_windows))
    x_train = x_eval if train_windows is windows else kaggle_features(rec, train_windows, progress=progress)
    lengths = cycle_targets.cycle_lengths(rec)
    y_train = {t: cycle_targets.target(t, train_windows.targets, lengths[train_windows.cycles]) for t in targets}
    parts, imps = {t: [] for t in targets}, []
    seconds, hashes, means = {t: [] for t in targets}, {t: {} for t in targets}, {}
    with contextlib.ExitStack() as stack:
        stages = {t: stack.enter_context(evaluation.StagedRun(rec.name, arm, seed=seed))
                  for t, arm in arms.items()} if save else {}
        for f in folds:
            tr, _ = f.masks(train_windows)
            _, te = f.masks(windows)
            if not tr.any():
                raise ValueError(f"fold {f.index}: no training window on the train_stride grid")
            if targets != (cycle_targets.TTF,):  # the training cycles' only: a held-out length is unknowable
                means[f.index] = cycle_targets.mean_length(lengths[f.train_cycles])
            for t in targets:
                rows = tr if t == cycle_targets.TTF else tr & ~np.isnan(y_train[t])
                t0 = time.perf_counter()
                model = config.regressor(seed).fit(x_train[rows], y_train[t][rows])
                seconds[t].append(time.perf_counter() - t0)
                if t in stages:
                    path = save_booster(model.booster_, stages[t].checkpoints, f.index)
                    hashes[t][path.name] = source.file_hash(path)
                raw = model.predict(x_eval[te])
                oof = evaluation.oof_frame(arms[t], f.index, windows.subset(te),
                                           cycle_targets.to_ttf(t, raw, means.get(f.index)))
                if t != cycle_targets.TTF:
                    oof[cycle_targets.prediction_column(t)] = raw
                parts[t].append(oof)
                imps.append(pd.DataFrame({"approach": arms[t], "fold": f.index, "feature": x_train.columns,
                                          "gain": model.booster_.feature_importance("gain")}))
        oofs = {t: pd.concat(parts[t], ignore_index=True) for t in targets}
        for t, stage in stages.items():
            meta = {"approach": arms[t], "target": t, "dataset": rec.name, "seed": seed,
                    "window_length": windows.length, "features": list(x_train.columns),
                    "fold_seconds": seconds[t], "config": asdict(config), "file_hashes": hashes[t]}
            if t != cycle_targets.TTF:  # what turns a test segment's prediction into time_to_failure
                meta["mean_train_length_s"] = {str(k): v for k, v in means.items()}
            write_text(stage.checkpoints / "meta.json", json.dumps(meta, indent=1))
            stage.commit(oofs[t])
    return LgbmResult(pd.concat(oofs.values(), ignore_index=True), pd.concat(imps, ignore_index=True), x_eval)


def predict_ttf(booster, x, meta: dict, fold: int) -> np.ndarray:
    """time_to_failure of the rows ``x`` (features named as in ``meta['features']``) from the saved
    booster of fold ``fold`` of an arm whose ``checkpoints/<arm>/meta.json`` is ``meta``: the booster's
    prediction for a ``ttf`` arm (and for a meta older than the cycle targets); for a cycle target's
    arm that prediction turned into time_to_failure with the fold's mean training-cycle length saved
    at training (:func:`quake_lib.data.cycle_targets.to_ttf`). A submission must go through here: a
    ``lightgbm_since_failure`` booster predicts seconds since the last failure, not to the next one."""
    target = meta.get("target", cycle_targets.TTF)
    if target not in TARGETS:
        raise ValueError(f"meta.json: target {target!r} is not known (expected one of {', '.join(TARGETS)}); "
                         "train lightgbm again")
    raw = np.asarray(booster.predict(x), dtype=np.float64)
    if target == cycle_targets.TTF:
        return raw
    means = meta.get("mean_train_length_s")
    if not isinstance(means, dict) or str(fold) not in means:
        raise ValueError(f"meta.json of arm {meta.get('approach')!r}: no mean_train_length_s for fold {fold}, "
                         f"which turns its {target} predictions into time_to_failure; train lightgbm again")
    return cycle_targets.to_ttf(target, raw, float(means[str(fold)]))


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




def top_features(importance: pd.DataFrame, k: int = 15, approach: str | None = None) -> pd.DataFrame:
    """Mean share of total gain per feature across folds, the ``k`` largest, of the arm ``approach``
    (default: the first arm of the table, ``lightgbm`` when it was fitted)."""
    if "approach" in importance.columns:
        approach = importance["approach"].iloc[0] if approach is None else approach
        importance = importance[importance["approach"] == approach]
    share = importance.assign(share=importance["gain"] / importance.groupby("fold")["gain"].transform("sum"))
    return (share.groupby("feature")["share"].agg(["mean", "std"]).sort_values("mean", ascending=False)
            .head(k))
