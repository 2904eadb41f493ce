"""Approach 3, Contrastive Predictive Coding (chapter 5): the unlabeled data, pre-training, probes on
frozen features, fine-tuning and the same network from scratch.

Honest cross-validation: pre-training only sees unlabeled segments of the *test period*
(:func:`unlabeled_segments`: for the synthetic datasets the later test period of the same
experiment, for an ingested real dataset the Kaggle test segments), which hold no window of any
cross-validation cycle. One pretrained encoder therefore serves every fold without leaking a
held-out cycle, and the probes, fine-tuning and training from scratch use the fixed folds of
:func:`quake_lib.evaluation.make_folds`. Sizes per profile: :class:`quake_lib.profiles.CPCSizes`.

The networks are in :mod:`quake_lib.models.cpc`, pre-training in :mod:`quake_lib.train.contrastive`,
the probes in :mod:`quake_lib.train.probe`; the 2019 study's observations revisited in
:mod:`quake_lib.approaches.cpc_experiments`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .. import evaluation, models, paths, train
from ..data import kaggle
from ..data.recording import Recording, Windows
from ..data.synthetic import PRESETS, preset
from ..data.synthetic.kaggle_layout import test_segments
from ..evaluation.folds import Fold
from ..models.cpc import CPCBody, CPCBodyConfig, CPCConfig, save_pretrained
from ..profiles import Profile
from ..train.contrastive import PretrainResult, pretrain
from ..train.fit import torch_threads
from ..train.probe import ProbeConfig, ProbeResult, locate, pooled_features, probe_cv
from . import references, registry

APPROACH = registry.get("cpc")
PRETRAINED_NAME = "cpc_pretrain"


def unlabeled_segments(dataset: str, test_dir=None) -> tuple[np.ndarray, str]:
    """Unlabeled 150k segments disjoint from every CV cycle: ``(int16 (n, 150000), description)``.

    Synthetic presets: the later test period of the same experiment (new cycles, another seed
    stream; :func:`quake_lib.data.synthetic.kaggle_layout.test_segments`), labels dropped. An ingested
    real dataset: the Kaggle test segments (``test_dir``; default: ``data/<dataset>_test/`` if it
    exists (beside the dataset, not in it: a re-ingest replaces ``data/<dataset>/``), else the
    ``test/`` folder of the shared LANL material, :func:`quake_lib.paths.shared_lanl_dir`)."""
    if dataset in PRESETS:
        _, x, _ = test_segments(preset(dataset))
        return x, f"{len(x)} test-period segments of the synthetic preset {dataset!r} (labels unused)"
    if test_dir is None:
        local = paths.data_dir() / f"{dataset}_test"
        test_dir = local if local.is_dir() else paths.shared_lanl_dir() / "test"
    directory = Path(test_dir)
    if not directory.is_dir():
        raise FileNotFoundError(f"no unlabeled segments for dataset {dataset!r}: {directory} is not a "
                                "folder of Kaggle seg_*.csv files (pass test_dir=)")
    x = kaggle.read_segment_files(kaggle.segment_files(directory))
    return x, f"{len(x)} Kaggle test segments from {directory}"


def pretrained_path(dataset: str, seed: int = 0) -> Path:
    return evaluation.checkpoint_dir(dataset, PRETRAINED_NAME, seed) / "pretrained.pt"


def pretrain_dataset(dataset: str, segments: np.ndarray, profile: Profile, seed: int = 0,
                     config: CPCConfig = CPCConfig()) -> tuple[PretrainResult, Path]:
    """Pre-train on ``segments``, save the weights (``pretrained_path``) and the per-epoch metrics
    (``metrics_cpc_pretrain.csv``)."""
    sz = profile.cpc
    cfg = sz.pretrain if sz.threads is None else replace(sz.pretrain, threads=sz.threads)
    res = pretrain(segments, config, cfg, seed=seed, log_dir=paths.results_dir(dataset, seed) / "logs",
                   name=PRETRAINED_NAME)
    meta = {"seed": seed, "scale": res.scale, "segments": int(len(segments)), "epochs": cfg.epochs,
            "crops_per_epoch": cfg.crops_per_epoch, "crop": cfg.crop}
    path = save_pretrained(res.net, pretrained_path(dataset, seed), meta)
    evaluation.save_metrics(res.metrics.assign(approach=PRETRAINED_NAME), dataset, PRETRAINED_NAME, seed)
    return res, path


@dataclass
class FeatureSet:
    train_windows: Windows      # the probes' training grid
    train: np.ndarray
    eval_windows: Windows       # the common evaluation grid
    eval: np.ndarray


def frozen_features(rec: Recording, pretrained: Path | None, scale: float, profile: Profile,
                    seed: int = 0) -> FeatureSet:
    """Pooled features of every window of the probe grid, once; ``pretrained=None``: the same
    architecture with random weights (seeded), the control that says what pre-training adds."""
    sz = profile.cpc
    torch.manual_seed(seed)
    body = CPCBody(16, CPCBodyConfig(pretrained=None if pretrained is None else str(pretrained), freeze=True))
    ev = evaluation.eval_windows(rec)
    grid = evaluation.training_grid(rec, ev, sz.probe_stride, profile.train_grid_windows)
    with torch_threads(sz.threads):
        x = pooled_features(body, rec, grid, scale)
    return FeatureSet(grid, x, ev, x[locate(grid, ev)])


def run_probes(feats: FeatureSet, folds: list[Fold], profile: Profile, seed: int = 0,
               prefix: str = "cpc_probe", dataset: str | None = None) -> dict[str, ProbeResult]:
    """Linear and MLP probes (``<prefix>_linear``, ``<prefix>_mlp``); saved when ``dataset`` is given."""
    out = {}
    for kind in ("linear", "mlp"):
        cfg = ProbeConfig(kind=kind, iterations=profile.cpc.probe_iterations)
        # one thread: tiny full-batch steps gain nothing from two and stall on a busy machine
        with torch_threads(1):
            res = probe_cv(feats.train, feats.train_windows, feats.eval, feats.eval_windows, folds,
                           f"{prefix}_{kind}", cfg, seed)
        if dataset is not None:
            evaluation.save_oof(res.oof, dataset, seed)
        out[kind] = res
    return out


def train_network(rec: Recording, folds: list[Fold], profile: Profile, pretrained: Path | None, seed: int = 0,
                  save: bool = True, **train_options) -> train.CVResult:
    """Fine-tune (``pretrained`` given: ``cpc_finetune``) or train from scratch (``cpc_scratch``)
    the whole ``"cpc"`` body through :func:`quake_lib.train.cross_validate`, binned head; both on the
    same budget (``profile.cpc``), so the comparison says what pre-training adds. ``train_options``: any
    other argument of :func:`quake_lib.train.cross_validate` (``eval_windows``, ``config``, ...)."""
    sz = profile.cpc
    factory = models.factory(APPROACH.model, pretrained=None if pretrained is None else str(pretrained))
    approach = "cpc_scratch" if pretrained is None else "cpc_finetune"
    lr = sz.scratch_lr if pretrained is None else sz.finetune_lr
    return train.cross_validate(rec, factory, "binned", folds, profile=profile, seed=seed, approach=approach,
                                save=save, epochs=sz.tune_epochs, windows_per_epoch=sz.tune_windows,
                                batch_size=sz.tune_batch, lr=lr, threads=sz.threads, bn_windows=sz.bn_windows,
                                verbose=False, **train_options)


def mae_summary(oofs: list[pd.DataFrame], reference: str = "constant") -> pd.DataFrame:
    """The MAE table (main readout only) of several OOF frames, with the ratio to ``reference``."""
    df = pd.concat(oofs, ignore_index=True)
    return evaluation.mae_table(df, readouts=False, reference=reference)


def reference_oofs(rec: Recording, folds: list[Fold], seed: int = 0) -> tuple[list[pd.DataFrame], list[str]]:
    """The baselines and every arm of approaches 1 and 2 on the same folds, with a note per source
    (:func:`quake_lib.approaches.references.reference_oofs`)."""
    others = [a for a in registry.arms(before_chapter=APPROACH.chapter) if a not in registry.baselines()]
    return references.reference_oofs(rec, folds, seed, others)
