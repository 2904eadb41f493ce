"""The strong baseline: LightGBM on the Kaggle-style feature table, on the folds of every approach.

The Kaggle feature table (:mod:`quake_lib.features.competition`) and LightGBM with an MAE-type
objective (``l1``, or ``huber``), fitted on the training cycles of each fold. The training windows
may lie on a denser grid than the evaluation grid (``train_stride``): overlapping windows are extra,
correlated samples of the same cycles, never windows of a held-out cycle. The fold models are kept
(text files under ``results/checkpoints/<arm>/``) for Kaggle submissions (:func:`load`); like every run's,
they appear only when every fold has finished (:class:`quake_lib.evaluation.StagedRun`).

Arms: ``lightgbm`` fits time_to_failure; ``lightgbm_since_failure`` and ``lightgbm_fraction`` fit the
Kaggle winners' cycle targets on the same features, folds and seed, each with its own OOF file and
fold models; :func:`predict_ttf` turns any arm's saved booster into time_to_failure predictions.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import evaluation, profiles
from ..atomic import NoSpaceError, atomic_path, free_bytes
from ..data import cycle_targets, source
from ..data.recording import Recording, Windows
from ..evaluation.folds import Fold
from ..features.cache import cached_kaggle_features
from ..features.competition import kaggle_array_features
from ..progress import bar
from . import registry
from .protocol import FoldPrediction, SavedRun

APPROACH = registry.get("lightgbm")
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


def arm_name(target: str) -> str:
    """The arm that fits ``target``: ``lightgbm`` (time_to_failure), ``lightgbm_since_failure``, ..."""
    name = APPROACH.name
    return name if cycle_targets.check_target(target) == cycle_targets.TTF else f"{name}_{target}"


def cross_validate(rec: Recording, folds: list[Fold], profile: profiles.Profile | None = None, seed: int = 0,
                   arms=None, devices=None, config: LgbmConfig | None = None, windows: Windows | None = None,
                   save: bool = True, progress: bool = True) -> LgbmResult:
    """Fit LightGBM on the Kaggle feature set of each fold's training cycles, predict the held-out.

    ``arms`` (default: all three): one per target (:func:`arm_name`), each with its OOF file and fold
    models, all on the same features (computed once), folds and seed: ``lightgbm`` (time_to_failure),
    ``lightgbm_since_failure`` (1st place; time_to_failure = max(mean length - prediction, 0)) and
    ``lightgbm_fraction`` (3rd place; fraction x mean length), the mean length being that of the fold's
    *training* cycles (:mod:`quake_lib.data.cycle_targets`; saved per fold in the run's meta for
    :func:`predict_ttf`). The cycle targets' fits leave out the training windows of the partial first
    cycle (unknown length); every arm predicts every held-out window, and a cycle target's OOF rows
    keep its raw prediction in ``predicted_<target>``. A ``train_stride`` grid holding more windows
    than ``profile.train_grid_windows`` trains on the evaluation grid instead
    (:func:`quake_lib.evaluation.training_grid`), so the feature passes are bounded by the profile
    (no profile: no bound). ``devices``: LightGBM runs on the CPU."""
    config = LgbmConfig() if config is None else config
    arms = APPROACH.check_arms(arms)
    targets = tuple(t for t in TARGETS if arm_name(t) in arms)
    max_train_windows = None if profile is None else profile.train_grid_windows
    windows = evaluation.eval_windows(rec) if windows is None else windows
    evaluation.check_folds(folds, windows)
    x_eval, train_windows, x_train = feature_tables(rec, windows, config.train_stride, max_train_windows, progress)
    lengths = cycle_targets.cycle_lengths(rec)
    y_train = {t: cycle_targets.target(t, train_windows.targets, lengths[train_windows.cycles]) for t in targets}
    parts, imps = {t: [] for t in targets}, []
    seconds, hashes, means = {t: [] for t in targets}, {t: {} for t in targets}, {}
    with contextlib.ExitStack() as stack:
        stages = {t: stack.enter_context(evaluation.StagedRun(rec.name, arm_name(t), APPROACH.name, seed,
                                                              windows.length))
                  for t in targets} if save else {}
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
                oof = evaluation.oof_frame(arm_name(t), f.index, windows.subset(te),
                                           cycle_targets.to_ttf(t, raw, means.get(f.index)))
                if t != cycle_targets.TTF:
                    oof[cycle_targets.prediction_column(t)] = raw
                parts[t].append(oof)
                imps.append(pd.DataFrame({"arm": arm_name(t), "fold": f.index, "feature": x_train.columns,
                                          "gain": model.booster_.feature_importance("gain")}))
        oofs = {t: pd.concat(parts[t], ignore_index=True) for t in targets}
        for t, stage in stages.items():
            meta = {"target": t, "features": list(x_train.columns), "fold_seconds": seconds[t],
                    "config": asdict(config), "file_hashes": hashes[t]}
            if t != cycle_targets.TTF:  # what turns a test segment's prediction into time_to_failure
                meta["mean_train_length_s"] = {str(k): v for k, v in means.items()}
            stage.commit(oofs[t], meta=meta)
    return LgbmResult(pd.concat(oofs.values(), ignore_index=True), pd.concat(imps, ignore_index=True), x_eval)


def feature_tables(rec: Recording, windows: Windows, train_stride: int, max_train_windows: int | None = None,
                   progress: bool = True) -> tuple[pd.DataFrame, Windows, pd.DataFrame]:
    """``(x_eval, train_windows, x_train)``: the Kaggle feature tables of the evaluation ``windows`` and of
    the training grid of ``train_stride`` (:func:`quake_lib.evaluation.training_grid`; the evaluation
    grid itself when that one is the same or holds more than ``max_train_windows``), from the feature
    cache (:mod:`quake_lib.features.cache`): every model on the Kaggle features reads these."""
    x_eval = cached_kaggle_features(rec, windows, progress=progress)
    on_eval_grid = train_stride == evaluation.EVAL_STRIDE and windows.length == evaluation.WINDOW
    train_windows = windows if on_eval_grid else evaluation.training_grid(rec, windows, train_stride,
                                                                          max_train_windows)
    x_train = x_eval if train_windows is windows else cached_kaggle_features(rec, train_windows, progress=progress)
    return x_eval, train_windows, x_train


class _Booster:
    """One fold's booster, reading the Kaggle feature table of the segments."""

    def __init__(self, path: Path, booster, meta: dict):
        self.path, self.booster, self.meta = path, booster, meta
        self.fold = int(path.stem.split("_")[1])

    def predict(self, feats: pd.DataFrame) -> FoldPrediction:
        names = self.booster.feature_name()
        missing = [n for n in names if n not in feats.columns]
        if missing:
            raise ValueError(f"{self.path}: the model uses features {missing[:3]} that the current feature "
                             "code does not make; train lightgbm again")
        return FoldPrediction(predict_ttf(self.booster, feats[names].to_numpy(), self.meta, self.fold))


def segment_features(x: np.ndarray, batch: int = 64) -> pd.DataFrame:
    """The Kaggle feature table of raw segments, in batches: the feature code works in float64, 2,624
    real segments at once would take ~3 GB."""
    starts = range(0, len(x), batch)
    return pd.concat([kaggle_array_features(x[i:i + batch]) for i in bar(starts, desc="features", unit="batch")],
                     ignore_index=True)


def load(dataset: str, arm: str, seed: int, meta: dict) -> SavedRun:
    """The saved fold boosters of ``arm`` (one per fold of its OOF file), each checked against the hash
    recorded at training before LightGBM reads it; their predictions are time_to_failure whatever
    target the arm fitted (:func:`predict_ttf`)."""
    hashes = meta.get("file_hashes") or {}
    boosters = [_Booster(path, load_booster(path, hashes.get(path.name)), meta)
                for path in evaluation.fold_files(dataset, arm, seed, ".txt")]
    return SavedRun(APPROACH.name, arm, meta["window_length"], boosters, prepare=segment_features)


def predict_ttf(booster, x, meta: dict, fold: int) -> np.ndarray:
    """time_to_failure of the rows ``x`` (features named as in ``meta['features']``) from the saved
    booster of fold ``fold`` of an arm whose run meta (``checkpoints/<arm>/meta.json``) is ``meta``: the booster's
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
        raise ValueError(f"meta.json of arm {meta.get('arm')!r}: no mean_train_length_s for fold {fold}, "
                         f"which turns its {target} predictions into time_to_failure; train lightgbm again")
    return cycle_targets.to_ttf(target, raw, float(means[str(fold)]))


def save_booster(booster, directory: Path, fold: int) -> Path:
    """One fold's model as a LightGBM text file ``directory/fold_<k>.txt`` (text, so loading runs no
    pickle), written atomically and checked complete; :func:`load_booster` reloads it. LightGBM reports a
    write that failed for want of space as its own error (or not at all, leaving a cut file): on a full
    disk that is :class:`quake_lib.atomic.NoSpaceError`, naming the file, what it needs and what is free."""
    path = Path(directory) / f"fold_{fold}.txt"
    try:
        with atomic_path(path) as tmp:
            booster.save_model(str(tmp))
            problem = _incomplete(tmp.read_bytes().decode("utf-8", "replace"))
            if problem:
                raise ValueError(f"{path}: LightGBM wrote an incomplete model ({problem})")
    except OSError:
        raise
    except Exception as e:  # lightgbm.basic.LightGBMError, or the check above
        needed = len(booster.model_to_string().encode())
        free = free_bytes(path)
        if free is not None and free < needed + _SPARE_BYTES:
            raise NoSpaceError(path, needed=needed) from None
        raise ValueError(f"{path}: LightGBM could not save the model ({str(e).splitlines()[0][:120]})") from None
    return path


# free space below a model's size plus this is a full disk (the file system keeps some for itself)
_SPARE_BYTES = 1 << 20


def _incomplete(text: str) -> str | None:
    """Why ``text`` is not a complete LightGBM model file, or None."""
    pos = 0
    for mark in _MODEL_MARKS:
        pos = text.find(mark, pos)
        if pos < 0:
            return f"no {mark.strip()!r} section: truncated?"
    if not text.rstrip().splitlines()[-1].startswith("pandas_categorical:"):
        return "it does not end with the 'pandas_categorical:' line: truncated?"
    return None


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
    problem = _incomplete(text)
    if problem:
        raise ValueError(f"{path}: not a complete LightGBM model ({problem}); train lightgbm again")
    if expected_hash is not None and source.file_hash(path) != expected_hash:
        raise ValueError(f"{path}: damaged: its content differs from what training saved (hash "
                         f"{expected_hash}); train lightgbm again")
    try:
        return lgb.Booster(model_str=text)
    except (lgb.basic.LightGBMError, ValueError) as e:  # ValueError: its pandas_categorical line
        raise ValueError(f"{path}: LightGBM cannot read this model ({str(e).splitlines()[0][:100]}); "
                         "train lightgbm again") from None


def top_features(importance: pd.DataFrame, k: int = 15, arm: str | None = None) -> pd.DataFrame:
    """Mean share of total gain per feature across folds, the ``k`` largest, of the arm ``arm``
    (default: the first arm of the table, ``lightgbm`` when it was fitted)."""
    if "arm" in importance.columns:
        arm = importance["arm"].iloc[0] if arm is None else arm
        importance = importance[importance["arm"] == arm]
    share = importance.assign(share=importance["gain"] / importance.groupby("fold")["gain"].transform("sum"))
    return (share.groupby("feature")["share"].agg(["mean", "std"]).sort_values("mean", ascending=False)
            .head(k))
