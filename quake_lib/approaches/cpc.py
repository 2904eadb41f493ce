"""Contrastive Predictive Coding: the unlabeled data, pre-training, probes on frozen features,
fine-tuning and the same network from scratch.

Honest cross-validation: pre-training only sees unlabeled segments of the *test period*
(:func:`unlabeled_segments`: for the synthetic datasets the later test period of the same
experiment, for an ingested real dataset the Kaggle test segments), which hold no window of any
cross-validation cycle. One pretrained encoder therefore serves every fold without leaking a
held-out cycle, and the probes, fine-tuning and training from scratch use the fixed folds of
:func:`quake_lib.evaluation.make_folds`. Sizes per profile: :class:`quake_lib.profiles.CPCSizes`.

The networks are in :mod:`quake_lib.models.cpc`, pre-training in :mod:`quake_lib.train.contrastive`,
the probes in :mod:`quake_lib.train.probe`; the 2019 study's observations revisited in
:mod:`quake_lib.studies.cpc_design`.
"""
from __future__ import annotations

import shutil
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
from ..evaluation.intervals import QUANTILE_READOUTS
from ..models.cpc import CPCBody, CPCBodyConfig, CPCConfig, save_pretrained
from ..profiles import Profile
from ..train.contrastive import PretrainResult, pretrain
from ..train.data import normalize
from ..train.fit import torch_threads
from ..train.heads import BinnedHead
from ..train.probe import ProbeConfig, ProbeResult, load_readout, locate, pooled_features, probe_cv, save_readout
from . import registry
from .protocol import FoldPrediction, SavedRun, load_networks

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
    evaluation.save_metrics(res.metrics.assign(arm=PRETRAINED_NAME), dataset, PRETRAINED_NAME, seed)
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


PROBE_KINDS = ("linear", "mlp")


def run_probes(feats: FeatureSet, folds: list[Fold], profile: Profile, seed: int = 0,
               prefix: str = "cpc_probe", dataset: str | None = None, kinds=PROBE_KINDS,
               pretrained: Path | None = None, scale: float | None = None) -> dict[str, ProbeResult]:
    """Linear and MLP probes (``<prefix>_linear``, ``<prefix>_mlp``, those of ``kinds``); each saved as a
    run when ``dataset`` is given, with a copy of the ``pretrained`` encoder and the input ``scale``
    that made its features, so that :func:`load` rebuilds it from its own folder."""
    out = {}
    for kind in kinds:
        cfg = ProbeConfig(kind=kind, iterations=profile.cpc.probe_iterations)
        arm = f"{prefix}_{kind}"
        # one thread: tiny full-batch steps gain nothing from two and stall on a busy machine
        with torch_threads(1):
            res = probe_cv(feats.train, feats.train_windows, feats.eval, feats.eval_windows, folds, arm, cfg, seed)
        if dataset is not None:
            _save_probe(res, dataset, arm, seed, cfg, feats, pretrained, scale)
        out[kind] = res
    return out


ENCODER_FILE = "encoder.pt"


def _save_probe(res: ProbeResult, dataset: str, arm: str, seed: int, cfg: ProbeConfig, feats: FeatureSet,
                pretrained: Path, scale: float) -> None:
    with evaluation.StagedRun(dataset, arm, APPROACH.name, seed, feats.eval_windows.length) as stage:
        shutil.copyfile(pretrained, stage.checkpoints / ENCODER_FILE)
        for fold, readout in res.readouts.items():
            save_readout(readout, stage.checkpoints / f"fold_{fold}.pt")
        stage.commit(res.oof, meta={"kind": cfg.kind, "hidden": cfg.hidden, "dropout": cfg.dropout,
                                    "n_features": int(feats.eval.shape[1]), "scale": float(scale)})


class _Probe:
    """A fold's readout on the frozen encoder's pooled features (computed once for every fold)."""

    def __init__(self, readout):
        self.readout, self.head = readout, BinnedHead()

    def predict(self, feats: torch.Tensor) -> FoldPrediction:
        with torch.no_grad():
            reads = {k: v.numpy() for k, v in self.head.readouts(self.readout(feats)).items()}
        lower, upper = (reads.get(name) for name in QUANTILE_READOUTS)
        return FoldPrediction(reads[self.head.default_readout], lower, upper)


def load(dataset: str, arm: str, seed: int, meta: dict) -> SavedRun:
    """A saved arm: the fine-tuned or from-scratch networks' fold modules, or a probe's fold readouts
    on the encoder saved beside them."""
    if meta.get("kind") not in PROBE_KINDS:
        return load_networks(dataset, arm, seed, meta)
    directory = evaluation.checkpoint_dir(dataset, arm, seed)
    body = CPCBody(BinnedHead().n_outputs, CPCBodyConfig(pretrained=str(directory / ENCODER_FILE), freeze=True))
    readouts = [load_readout(path, meta) for path in evaluation.fold_files(dataset, arm, seed, ".pt")]

    def features(x: np.ndarray) -> torch.Tensor:
        body.eval()
        with torch.inference_mode():
            parts = [body.features(normalize(torch.from_numpy(x[i:i + 32]), meta["scale"]))
                     for i in range(0, len(x), 32)]
        return torch.cat(parts).float()

    return SavedRun(APPROACH.name, arm, meta["window_length"], [_Probe(r) for r in readouts], prepare=features)


def train_network(rec: Recording, folds: list[Fold], profile: Profile, pretrained: Path | None, seed: int = 0,
                  save: bool = True, **train_options) -> train.CVResult:
    """Fine-tune (``pretrained`` given: ``cpc_finetune``) or train from scratch (``cpc_scratch``)
    the whole ``"cpc"`` body through :func:`quake_lib.train.cross_validate`, binned head; both on the
    same budget (``profile.cpc``), so the comparison says what pre-training adds. ``train_options``: any
    other argument of :func:`quake_lib.train.cross_validate` (``eval_windows``, ``config``, ...)."""
    sz = profile.cpc
    factory = models.factory(APPROACH.model, pretrained=None if pretrained is None else str(pretrained))
    arm = "cpc_scratch" if pretrained is None else "cpc_finetune"
    lr = sz.scratch_lr if pretrained is None else sz.finetune_lr
    return train.cross_validate(rec, factory, "binned", folds, profile=profile, seed=seed, arm=arm,
                                approach=APPROACH.name,
                                save=save, epochs=sz.tune_epochs, windows_per_epoch=sz.tune_windows,
                                batch_size=sz.tune_batch, lr=lr, threads=sz.threads, bn_windows=sz.bn_windows,
                                verbose=False, **train_options)


def mae_summary(oofs: list[pd.DataFrame], reference: str = "constant") -> pd.DataFrame:
    """The MAE table (main readout only) of several OOF frames, with the ratio to ``reference``."""
    df = pd.concat(oofs, ignore_index=True)
    return evaluation.mae_table(df, readouts=False, reference=reference)


@dataclass
class CPCRun:
    pretraining: PretrainResult | None     # None when only the from-scratch arm ran
    pretrained: Path | None                # the saved encoder + GRU
    features: FeatureSet | None            # the frozen encoder's pooled features (when a probe ran)
    probes: dict[str, ProbeResult]         # kind -> result
    finetune: train.CVResult | None
    scratch: train.CVResult | None

    @property
    def oof(self) -> pd.DataFrame:
        parts = [p.oof for p in self.probes.values()] + [r.oof for r in (self.finetune, self.scratch) if r]
        return pd.concat(parts, ignore_index=True)


def cross_validate(rec: Recording, folds: list[Fold], profile: Profile, seed: int, arms=None, devices=None,
                   segments: np.ndarray | None = None) -> CPCRun:
    """Pre-training on the unlabeled ``segments`` (default: :func:`unlabeled_segments`), the probes on
    its frozen features, fine-tuning, and the same network from scratch: those of ``arms`` (default:
    all), each saved as a run."""
    arms = APPROACH.check_arms(arms)
    options = {} if devices is None else {"devices": devices}
    pre = pretrained = feats = None
    if any(a != "cpc_scratch" for a in arms):
        segments = unlabeled_segments(rec.name)[0] if segments is None else segments
        pre, pretrained = pretrain_dataset(rec.name, segments, profile, seed)
    kinds = [k for k in PROBE_KINDS if f"cpc_probe_{k}" in arms]
    probes = {}
    if kinds:
        feats = frozen_features(rec, pretrained, pre.scale, profile, seed)
        probes = run_probes(feats, folds, profile, seed, dataset=rec.name, kinds=kinds, pretrained=pretrained,
                            scale=pre.scale)
    finetune = train_network(rec, folds, profile, pretrained, seed, **options) if "cpc_finetune" in arms else None
    scratch = train_network(rec, folds, profile, None, seed, **options) if "cpc_scratch" in arms else None
    return CPCRun(pre, pretrained, feats, probes, finetune, scratch)
