"""An MLP on the Kaggle feature table: the representation of the LightGBM baseline, a network's model class.

The best neural entries of the Kaggle competition were small MLPs on hand-made features, not networks
on the waveform. This approach separates the two questions the comparison mixes: LightGBM and this
MLP read the same table of the same windows (:func:`.lightgbm.feature_tables`, from the feature cache)
on the same folds, so their difference is the model class alone; the MLP and the waveform networks
share the binned head and its median readout, so theirs is the representation.

The network is the CPC probes' MLP readout (:mod:`quake_lib.train.probe`: a one-hidden-layer MLP on a
fixed feature table, the binned head's cross-entropy, full-batch AdamW, seeded per fold). The Kaggle
features are heavy-tailed (maxima, kurtosis, rolling-std percentiles), so each fold first clips every
feature to its training rows' central range (``clip_percent`` in each tail) and the readout's BatchNorm
then standardizes with the clipped training rows' statistics: a few extreme windows neither set the
scale nor take a test segment far outside what the network was fitted on, and a feature constant on
the training rows stays at zero whatever a test segment holds.

Saved run (``checkpoints/feature_mlp/``): ``fold_<k>.pt`` per fold, the readout's weights and
standardization (:func:`~quake_lib.train.probe.save_readout`) with the fold's clipping bounds in its
meta; ``meta.json`` names the features in the order the network reads them. :func:`load` rebuilds the
fold models; they compute the table of raw segments with :func:`.lightgbm.segment_features`.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .. import evaluation
from ..data.recording import Recording, Windows
from ..evaluation.folds import Fold
from ..evaluation.intervals import QUANTILE_READOUTS
from ..profiles import Profile
from ..train.fit import torch_threads
from ..train.heads import BinnedHead
from ..train.predict import read_checkpoint
from ..train.probe import ProbeConfig, fit_readout, load_readout, save_readout
from . import registry
from .lightgbm import LgbmConfig, feature_tables, segment_features
from .protocol import FoldPrediction, SavedRun

APPROACH = registry.get("feature_mlp")
ARM = APPROACH.main_arm
KIND = "mlp"


@dataclass(frozen=True)
class FeatureMLPConfig:
    """93 features, a few hundred (synthetic) to a few thousand (real) training rows per fold: one hidden
    layer of 64 (~7,000 weights), held back by dropout and weight decay; the probes' optimizer settings."""

    hidden: int = 64
    dropout: float = 0.2
    iterations: int | None = None   # full-batch steps (None: the profile's probe iterations)
    lr: float = 1e-2
    weight_decay: float = 1e-2
    clip_percent: float = 0.5       # each tail clipped at this percentile of the fold's training rows
    train_stride: int = LgbmConfig().train_stride  # LightGBM's training grid: the same rows

    def probe(self, profile: Profile | None) -> ProbeConfig:
        iterations = self.iterations if self.iterations is not None else (
            ProbeConfig().iterations if profile is None else profile.cpc.probe_iterations)
        return ProbeConfig(kind=KIND, iterations=iterations, lr=self.lr, weight_decay=self.weight_decay,
                           hidden=self.hidden, dropout=self.dropout)


@dataclass
class FeatureMLPResult:
    oof: pd.DataFrame        # the OOF rows of arm feature_mlp (every readout of the binned head)
    curves: pd.DataFrame     # fold, iteration, train_loss, held_out_loss (learning curves only)


class _FoldMLP:
    """One fold's network: its features clipped to the fold's training range, then the readout."""

    def __init__(self, readout, low: np.ndarray, high: np.ndarray, features: list, path: Path | None = None):
        self.readout, self.low, self.high, self.features, self.path = readout, low, high, list(features), path
        self.head = BinnedHead()

    @classmethod
    def read(cls, path: Path, meta: dict) -> "_FoldMLP":
        bounds = read_checkpoint(path).get("meta", {})
        if not {"clip_low", "clip_high"} <= bounds.keys():
            raise ValueError(f"{path}: no clipping bounds beside the weights; train feature_mlp again")
        low, high = (bounds[k].numpy() for k in ("clip_low", "clip_high"))
        if not len(low) == len(high) == len(meta["features"]) == meta["n_features"]:
            raise ValueError(f"{path}: {len(low)} clipping bounds for the {len(meta['features'])} features "
                             "its run names; train feature_mlp again")
        return cls(load_readout(path, meta), low, high, meta["features"], path)

    def inputs(self, feats: pd.DataFrame) -> torch.Tensor:
        missing = [n for n in self.features if n not in feats.columns]
        if missing:
            raise ValueError(f"{self.path or 'feature_mlp'}: the model uses features {missing[:3]} that the "
                             "current feature code does not make; train feature_mlp again")
        return _clipped(feats[self.features].to_numpy(np.float64), self.low, self.high)

    def readouts(self, feats: pd.DataFrame) -> dict[str, np.ndarray]:
        with torch.no_grad():
            return {k: v.numpy() for k, v in self.head.readouts(self.readout(self.inputs(feats))).items()}

    def predict(self, feats: pd.DataFrame) -> FoldPrediction:
        reads = self.readouts(feats)
        lower, upper = (reads[name] for name in QUANTILE_READOUTS)
        return FoldPrediction(reads[self.head.default_readout], lower, upper)


def _clipped(x: np.ndarray, low: np.ndarray, high: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.clip(x, low, high)).float()


def cross_validate(rec: Recording, folds: list[Fold], profile: Profile | None = None, seed: int = 0, arms=None,
                   devices=None, config: FeatureMLPConfig | None = None, windows: Windows | None = None,
                   save: bool = True, progress: bool = True) -> FeatureMLPResult:
    """Fit the MLP on the Kaggle features of each fold's training cycles (LightGBM's training grid,
    capped by ``profile.train_grid_windows``), predict the held-out windows of ``windows`` (default:
    the evaluation grid); saved as the run of arm ``feature_mlp`` unless ``save`` is false. Seeded per
    fold and fitted on one CPU thread: the same seed gives the same OOF rows. ``devices`` is ignored (a
    few thousand rows: full-batch steps on the CPU take milliseconds)."""
    config = FeatureMLPConfig() if config is None else config
    APPROACH.check_arms(arms)
    cfg = config.probe(profile)
    windows = evaluation.eval_windows(rec) if windows is None else windows
    evaluation.check_folds(folds, windows)
    x_eval, train_windows, x_train = feature_tables(rec, windows, config.train_stride,
                                                    None if profile is None else profile.train_grid_windows,
                                                    progress)
    names, head = list(x_train.columns), BinnedHead()
    x_fit, x_all = x_train.to_numpy(np.float64), x_eval[names].to_numpy(np.float64)
    bad = [n for n, ok in zip(names, np.isfinite(x_fit).all(0) & np.isfinite(x_all).all(0)) if not ok]
    if bad:  # LightGBM routes a NaN down a branch; a network would predict NaN
        raise ValueError(f"features {bad[:3]} are not finite on some windows of {rec.name!r}")
    parts, curves, models, seconds = [], [], {}, []
    for f in folds:
        tr, _ = f.masks(train_windows)
        _, te = f.masks(windows)
        if not tr.any():
            raise ValueError(f"fold {f.index}: no training window on the train_stride grid")
        low, high = np.percentile(x_fit[tr], [config.clip_percent, 100 - config.clip_percent], axis=0)
        held = windows.subset(te)
        y, y_held = (torch.as_tensor(w.targets, dtype=torch.float32) for w in (train_windows.subset(tr), held))
        fold_seed = int(np.random.SeedSequence([seed, f.index]).generate_state(1)[0])
        t0 = time.perf_counter()
        # one thread: tiny full-batch steps gain nothing from two, and it fixes the reduction order
        with torch_threads(1):
            readout, rows = fit_readout(_clipped(x_fit[tr], low, high), y, head, cfg, fold_seed,
                                        _clipped(x_all[te], low, high), y_held)
        seconds.append(time.perf_counter() - t0)
        # the held-out rows go through the class load() rebuilds: a saved run predicts exactly these
        models[f.index] = _FoldMLP(readout, low, high, names)
        reads = models[f.index].readouts(x_eval[te])
        main = reads.pop(head.default_readout)
        parts.append(evaluation.oof_frame(ARM, f.index, held, main, **reads, **{head.default_readout: main}))
        curves += [{"fold": f.index, **r} for r in rows]
    oof = pd.concat(parts, ignore_index=True)
    if save:
        _save(rec.name, seed, windows.length, oof, models, cfg, config, seconds, len(train_windows))
    return FeatureMLPResult(oof, pd.DataFrame(curves))


def _save(dataset: str, seed: int, window_length: int, oof: pd.DataFrame, models: dict, cfg: ProbeConfig,
          config: FeatureMLPConfig, seconds: list, n_train: int) -> None:
    with evaluation.StagedRun(dataset, ARM, APPROACH.name, seed, window_length) as stage:
        for fold, m in models.items():
            n_parameters = sum(p.numel() for p in m.readout.parameters())
            save_readout(m.readout, stage.checkpoints / f"fold_{fold}.pt",
                         meta={"clip_low": torch.from_numpy(m.low), "clip_high": torch.from_numpy(m.high),
                               "n_parameters": n_parameters})
        names = next(iter(models.values())).features
        stage.commit(oof, meta={"kind": cfg.kind, "hidden": cfg.hidden, "dropout": cfg.dropout,
                                "n_features": len(names), "features": names, "iterations": cfg.iterations,
                                "train_windows": n_train, "config": asdict(config), "fold_seconds": seconds})


def load(dataset: str, arm: str, seed: int, meta: dict) -> SavedRun:
    """The saved fold networks of ``arm``; they read the Kaggle feature table of raw segments, each
    checking that the current feature code makes the features it was fitted on."""
    models = [_FoldMLP.read(path, meta) for path in evaluation.fold_files(dataset, arm, seed, ".pt")]
    return SavedRun(APPROACH.name, arm, meta["window_length"], models, prepare=segment_features)
