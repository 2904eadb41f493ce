"""Run profiles: how much data and compute every notebook and approach spends, in one place: every
size and training default lives here and nowhere else.

- ``quick``: for ``make test`` / nbval (``QUAKE_QUICK=1``): the small ``quick`` dataset, a few windows,
  seconds per notebook.
- ``default``: what ``make report`` runs on the ``synthetic`` dataset on 2 CPU cores (its measured wall
  time: benchmarks/README.md).
- ``full``: for the real recording on a GPU machine (more windows, longer training).

A :class:`Profile` carries the sizes of every notebook and approach; a name is resolved once
(:func:`get`, in the notebook session or the command line) and the :class:`Profile` is passed on.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from .constants import SEGMENT_LENGTH


@dataclass(frozen=True)
class PretrainConfig:
    """Contrastive pre-training of the CPC approach (:mod:`quake_lib.train.contrastive`)."""

    crop: int = 32_768          # samples per training sequence (128 latent steps of 256)
    epochs: int = 8
    crops_per_epoch: int = 1024
    batch_size: int = 32
    lr: float = 1e-2            # CPC sits on its chance plateau for long at 2e-3
    weight_decay: float = 1e-4
    val_fraction: float = 0.1   # segments held back for the validation curves
    val_crops: int = 128
    threads: int | None = 1     # see CPCSizes.threads


@dataclass(frozen=True)
class CPCSizes:
    """The CPC approach. Set so that its default run (pre-training, two probes, fine-tuning and training
    from scratch on 5 folds, the 2019 experiments, figures) fits minutes on 2 CPU cores. A 150k window
    through encoder + GRU (586 sequential GRU steps), forward and backward, is the expensive unit:
    fine-tuning and training from scratch get ``tune_epochs x tune_windows`` windows per fold (the same
    budget for both, so the comparison is fair), far fewer than the WaveNet's; the probes reuse features
    computed once per window."""

    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    probe_stride: int = 50_000         # grid of the probes' training windows (divides 150k)
    probe_iterations: int = 300
    tune_epochs: int = 6               # fine-tuning and from-scratch training, per fold
    tune_windows: int = 128
    tune_batch: int = 16
    finetune_lr: float = 3e-3          # 1e-3 left the readout undertrained in the default's 48 steps
    scratch_lr: float = 3e-3
    # the short runs of the 2019 experiments (4 x 16 steps: past CPC's initial plateau of ~30 steps)
    experiment: PretrainConfig = field(default_factory=lambda: PretrainConfig(epochs=4, crops_per_epoch=512))
    bn_windows: int = 64               # windows for the final BatchNorm recalibration of the readout
    # One torch thread: the GRU runs 586 tiny sequential steps per window, each a multithreaded
    # MKL call ending in an OpenMP barrier; with the other core busy those barriers spin, and a short run
    # takes many times its CPU time.
    threads: int | None = 1


@dataclass(frozen=True)
class RealSizes:
    """The real-data studies. Their default run must fit 5 minutes on 2 CPU cores, the quick one 1 minute:
    the real tables are small (4,194 segment statistics; ~3,000 rows of 0.1 s per lab run), so the cost
    is the number of models trained, set here."""

    # 1. synthetic -> real: LightGBM trained on windows of the synthetic dataset on this grid
    transfer_stride: int = 37_500
    # gradient boosting on the real tables (segment statistics, lab runs)
    gbm_estimators: int = 400
    # 3. lab runs p4581 / p5198: leave-cycles-out folds, history windows, the small networks
    lab_folds: int = 5
    history_s: tuple = (1.0, 3.0, 7.0)  # seconds of AE-variance history for the boosting arms
    net_history_s: float = 7.0          # the networks' input: the last 7 s (70 rows), as Laurenti et al.
    # the networks' epochs: 30 took more than the studies' 5 minutes on 2 cores; 16 and 20 fit them
    net_epochs: int = 16
    net_batch: int = 64
    net_hidden: int = 32
    net_lr: float = 3e-3
    cpc_epochs: int = 20                # contrastive pre-training on the unlabeled variance sequence


@dataclass(frozen=True)
class Profile:
    name: str
    # the exploration and the spectral inspection
    stats_stride: int = SEGMENT_LENGTH  # grid stride of the windows whose statistics the EDA tabulates
    spectra_per_bin: int = 40        # windows per time_to_failure bin for mean power spectra
    stft_windows: int = 120          # windows used to compare STFT settings
    envelope_bins: int = 4_000       # min/max bins for whole-recording plots
    # The networks (quake_lib.train: the WaveNet, the spectrogram ResNet). One fold's run costs
    # epochs x windows_per_epoch windows forward + backward.
    epochs: int = 8                  # passes, each over freshly drawn random training windows
    windows_per_epoch: int = 320     # random training windows drawn per epoch
    batch_size: int = 32
    lr: float = 3e-3                 # peak learning rate of the one-cycle schedule
    label_sigma: float = 1.0         # the WaveNet's soft-label arm: sd (s) of the Gaussian spread over the bins
    bn_windows: int = 256            # training windows for each fold's final BatchNorm recalibration
    # Held-out windows of the per-epoch diagnostics (learning curves), evenly spaced; the out-of-fold
    # predictions cover every held-out window. Bounds their cost by the profile, not the recording: a
    # fold of Kaggle's full recording holds ~840 windows, the default synthetic dataset's largest 86.
    val_windows: int = 96
    # Those diagnostics every n epochs (0: none). `report --seeds` turns them off for every seed but the
    # first (session.setup(diagnostics=False)): its other seeds feed the comparison, not the curves.
    validate_every: int = 1
    # The most windows of a training grid denser than the evaluation grid (LightGBM's train_stride, the
    # CPC probes' probe_stride); a denser grid holding more trains on the evaluation grid instead
    # (evaluation.training_grid). The synthetic default holds 915 windows at a stride of 50,000, Kaggle's
    # full recording 12,532 (and 25,064 for the probes' grid): on 2 cores their features would cost
    # minutes per notebook for correlated copies of the same cycles.
    train_grid_windows: int = 6_000
    # The spectrogram ResNet: on the quick profile (64 training windows per fold) recalibrating on 256 windows
    # would cost four times the training itself.
    spec_resnet_bn_windows: int = 256
    # The data-size study (quake_lib.studies.scaling.GRIDS): the grid its chapter trains when it runs (a
    # bounded one: `make report`), and the grid it shows (what `python -m quake_lib study scaling` trains)
    scaling_run_grid: str = "report"
    scaling_show_grid: str = "full"
    # The CPC approach
    cpc: CPCSizes = field(default_factory=CPCSizes)
    # The real-data studies
    real: RealSizes = field(default_factory=RealSizes)


PROFILES = {
    "quick": Profile("quick", stats_stride=SEGMENT_LENGTH, spectra_per_bin=8, stft_windows=24, envelope_bins=1_000,
                     epochs=2, windows_per_epoch=32, batch_size=16, spec_resnet_bn_windows=32,
                     scaling_run_grid="quick", scaling_show_grid="quick",
                     cpc=CPCSizes(pretrain=PretrainConfig(crop=16_384, epochs=2, crops_per_epoch=64,
                                                          batch_size=16, val_crops=32),
                                  probe_stride=SEGMENT_LENGTH, probe_iterations=60, tune_epochs=1, tune_windows=16,
                                  tune_batch=8, bn_windows=16,
                                  experiment=PretrainConfig(crop=16_384, epochs=1, crops_per_epoch=32,
                                                            batch_size=16, val_crops=16)),
                     real=RealSizes(gbm_estimators=100, lab_folds=3, net_epochs=3,
                                    net_hidden=16, cpc_epochs=3)),
    "default": Profile("default"),
    "full": Profile("full", stats_stride=75_000, spectra_per_bin=200, stft_windows=600, envelope_bins=8_000,
                    train_grid_windows=60_000, epochs=30, windows_per_epoch=4096, batch_size=64,
                    cpc=CPCSizes(pretrain=PretrainConfig(epochs=30, crops_per_epoch=8192, batch_size=64),
                                 probe_stride=25_000, probe_iterations=600, tune_epochs=20, tune_windows=2048,
                                 tune_batch=32, experiment=PretrainConfig(epochs=8, crops_per_epoch=2048),
                                 bn_windows=256, threads=None)),
}


def get(name: str, **overrides) -> Profile:
    """The profile called ``name``, with fields replaced by ``overrides``."""
    if name not in PROFILES:
        raise ValueError(f"profile {name!r} is not known; expected one of: {', '.join(PROFILES)}")
    return replace(PROFILES[name], **overrides)


def quick_mode() -> bool:
    """``QUAKE_QUICK=1`` in the environment (``make test``): the quick profile on the ``quick`` dataset,
    whatever a notebook's parameters say."""
    return os.environ.get("QUAKE_QUICK", "") not in ("", "0")
