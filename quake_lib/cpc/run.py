"""What the CPC chapter runs: sizes per profile, the unlabeled data, pre-training, probes, fine-tuning.

Sizes are set so that chapter 5's default run (pre-training, two probes, fine-tuning and training from
scratch on 5 folds, the 2019 experiments, figures) fits ~9 minutes on 2 idle CPU cores, and the quick
profile well under a minute. A 150k window through encoder + GRU (586 sequential GRU steps), forward
and backward, is the expensive unit: fine-tuning and training from scratch get ``epochs x
windows_per_epoch`` windows per fold (the same budget for both, so the comparison is fair), far
fewer than approach 1's; the probes reuse features computed once per window.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .. import evaluation, models, paths
from ..folds import Fold
from ..recording import Recording, Windows
from ..train import cross_validate
from ..train.fit import torch_threads
from .downstream import CPCBody, CPCBodyConfig
from .model import CPCConfig, save_pretrained
from .pretrain import PretrainConfig, PretrainResult, pretrain
from .probe import ProbeConfig, ProbeResult, locate, probe_cv, window_features

PRETRAINED_NAME = "cpc_pretrain"
APPROACHES = ("cpc_probe_linear", "cpc_probe_mlp", "cpc_finetune", "cpc_scratch")


@dataclass(frozen=True)
class CPCSizes:
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    probe_stride: int = 50_000         # grid of the probes' training windows (divides 150k)
    probe_iterations: int = 300
    tune_epochs: int = 6               # fine-tuning and from-scratch training, per fold
    tune_windows: int = 128
    tune_batch: int = 16
    finetune_lr: float = 3e-3            # 1e-3 left the readout undertrained in 48 steps (fold 0: MAE 2.48 vs 2.09)
    scratch_lr: float = 3e-3
    # the short runs of the 2019 experiments (4 x 16 steps: past CPC's initial plateau of ~30 steps)
    experiment: PretrainConfig = field(default_factory=lambda: PretrainConfig(epochs=4, crops_per_epoch=512))
    bn_windows: int = 64               # windows for the final BatchNorm recalibration of the readout
    # One torch thread: the GRU runs 586 tiny sequential steps per window, each a multithreaded
    # MKL call ending in an OpenMP barrier; with the other core busy those barriers spin (seen: a
    # 22 s quick run of the chapter took 11 minutes of CPU while another notebook ran).
    threads: int | None = 1


SIZES = {
    "quick": CPCSizes(pretrain=PretrainConfig(crop=16_384, epochs=2, crops_per_epoch=64, batch_size=16,
                                              val_crops=32),
                      probe_stride=150_000, probe_iterations=60, tune_epochs=1, tune_windows=16,
                      tune_batch=8, bn_windows=16,
                      experiment=PretrainConfig(crop=16_384, epochs=1, crops_per_epoch=32, batch_size=16,
                                                val_crops=16)),
    "default": CPCSizes(),
    "full": CPCSizes(pretrain=PretrainConfig(epochs=30, crops_per_epoch=8192, batch_size=64),
                     probe_stride=25_000, probe_iterations=600, tune_epochs=20, tune_windows=2048,
                     tune_batch=32, experiment=PretrainConfig(epochs=8, crops_per_epoch=2048), bn_windows=256,
                     threads=None),
}


def sizes(profile: str) -> CPCSizes:
    name = getattr(profile, "name", profile)
    if name not in SIZES:
        raise ValueError(f"profile {name!r} has no CPC sizes; expected one of: {', '.join(SIZES)}")
    return SIZES[name]


def unlabeled_segments(dataset: str, test_dir=None) -> tuple[np.ndarray, str]:
    """Unlabeled 150k segments disjoint from every CV cycle: ``(int16 (n, 150000), description)``.

    Synthetic presets: the later test period of the same experiment (new cycles, another seed
    stream; :func:`quake_lib.synthetic.kaggle_layout.test_segments`), labels dropped. An ingested
    real dataset: the Kaggle test segments (``test_dir``; default: ``data/<dataset>_test/`` if it
    exists (beside the dataset, not in it: a re-ingest replaces ``data/<dataset>/``), else the ``test/`` folder of the shared LANL material, :func:`quake_lib.paths.shared_lanl_dir`)."""
    from ..synthetic import PRESETS, preset
    from ..synthetic.kaggle_layout import test_segments

    if dataset in PRESETS:
        _, x, _ = test_segments(preset(dataset))
        return x, f"{len(x)} test-period segments of the synthetic preset {dataset!r} (labels unused)"
    from .. import kaggle
    if test_dir is None:
        local = paths.data_dir() / f"{dataset}_test"
        test_dir = local if local.is_dir() else paths.shared_lanl_dir() / "test"
    directory = Path(test_dir)
    if not directory.is_dir():
        raise FileNotFoundError(f"no unlabeled segments for dataset {dataset!r}: {directory} is not a "
                                "folder of Kaggle seg_*.csv files (pass test_dir=)")
    segs = kaggle.read_segments(directory)
    return np.stack(list(segs.values())), f"{len(segs)} Kaggle test segments from {directory}"


def pretrained_path(dataset: str) -> Path:
    return evaluation.checkpoint_dir(dataset, PRETRAINED_NAME) / "pretrained.pt"


def pretrain_dataset(dataset: str, segments: np.ndarray, sz: CPCSizes, seed: int = 0,
                     config: CPCConfig = CPCConfig()) -> tuple[PretrainResult, Path]:
    """Pre-train on ``segments``, save the weights (``pretrained_path``) and the per-epoch metrics
    (``metrics_cpc_pretrain.csv``)."""
    cfg = sz.pretrain if sz.threads is None else PretrainConfig(**{**sz.pretrain.__dict__, "threads": sz.threads})
    res = pretrain(segments, config, cfg, seed=seed, log_dir=paths.results_dir(dataset) / "logs",
                   name=PRETRAINED_NAME)
    meta = {"seed": seed, "scale": res.scale, "segments": int(len(segments)), "epochs": cfg.epochs,
            "crops_per_epoch": cfg.crops_per_epoch, "crop": cfg.crop}
    path = save_pretrained(res.net, pretrained_path(dataset), meta)
    evaluation.save_metrics(res.metrics.assign(approach=PRETRAINED_NAME), dataset, PRETRAINED_NAME)
    return res, path


@dataclass
class FeatureSet:
    train_windows: Windows      # the probes' training grid
    train: np.ndarray
    eval_windows: Windows       # the common evaluation grid
    eval: np.ndarray


def frozen_features(rec: Recording, pretrained: Path | None, scale: float, sz: CPCSizes,
                    seed: int = 0) -> FeatureSet:
    """Pooled features of every window of the probe grid, once; ``pretrained=None``: the same
    architecture with random weights (seeded), the control that says what pre-training adds."""
    torch.manual_seed(seed)
    body = CPCBody(16, CPCBodyConfig(pretrained=None if pretrained is None else str(pretrained), freeze=True))
    grid = rec.windows(evaluation.WINDOW, sz.probe_stride)
    ev = evaluation.eval_windows(rec)
    with torch_threads(sz.threads):
        x = window_features(body, rec, grid, scale)
    return FeatureSet(grid, x, ev, x[locate(grid, ev)])


def run_probes(feats: FeatureSet, folds: list[Fold], sz: CPCSizes, seed: int = 0, prefix: str = "cpc_probe",
               dataset: str | None = None) -> dict[str, ProbeResult]:
    """Linear and MLP probes (``<prefix>_linear``, ``<prefix>_mlp``); saved when ``dataset`` is given."""
    out = {}
    for kind in ("linear", "mlp"):
        cfg = ProbeConfig(kind=kind, iterations=sz.probe_iterations)
        # one thread: tiny full-batch steps gain nothing from two and stall on a busy machine
        with torch_threads(1):
            res = probe_cv(feats.train, feats.train_windows, feats.eval, feats.eval_windows, folds,
                           f"{prefix}_{kind}", cfg, seed)
        if dataset is not None:
            evaluation.save_oof(res.oof, dataset)
        out[kind] = res
    return out


def tune(rec: Recording, folds: list[Fold], sz: CPCSizes, pretrained: Path | None, seed: int = 0,
         profile: str = "default", save: bool = True):
    """Fine-tune (``pretrained`` given: ``cpc_finetune``) or train from scratch (``cpc_scratch``)
    the whole ``"cpc"`` body through :func:`quake_lib.train.cross_validate`, binned head."""
    factory = models.factory("cpc", pretrained=None if pretrained is None else str(pretrained))
    approach = "cpc_scratch" if pretrained is None else "cpc_finetune"
    lr = sz.scratch_lr if pretrained is None else sz.finetune_lr
    return cross_validate(rec, factory, "binned", folds, profile=profile, seed=seed, approach=approach,
                          save=save, epochs=sz.tune_epochs, windows_per_epoch=sz.tune_windows,
                          batch_size=sz.tune_batch, lr=lr, threads=sz.threads, bn_windows=sz.bn_windows,
                          verbose=False)


def mae_summary(oofs: list[pd.DataFrame], reference: str = "constant") -> pd.DataFrame:
    """The MAE table (main readout only) of several OOF frames, with the ratio to ``reference``."""
    df = pd.concat(oofs, ignore_index=True)
    return evaluation.mae_table(df, readouts=False, reference=reference)


OTHER_APPROACHES = ("wave_cnn_binned", "wave_cnn_regression", "wave_cnn_binned_soft", "spec_resnet_binned")


def reference_oofs(rec: Recording, folds: list[Fold], seed: int = 0) -> tuple[list[pd.DataFrame], list[str]]:
    """The baselines and approaches 1 and 2 on the same folds, with a note per source
    (:func:`quake_lib.baselines.reference_oofs`)."""
    from .. import baselines

    return baselines.reference_oofs(rec, folds, seed, OTHER_APPROACHES)
