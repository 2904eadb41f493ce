"""A ResNet on spectrograms: the main model, and a small study of STFT settings and of ImageNet-pretrained
against random initialization.

Every run uses the fixed folds of :func:`quake_lib.evaluation.make_folds` and the training code of
:mod:`quake_lib.train`; the networks are :mod:`quake_lib.models.spectrogram` and
:mod:`quake_lib.models.resnet`. The main model is saved as ``spec_resnet_binned`` (binned head, median
readout, like the WaveNet's main arm); the study arms as ``spec_study_*``, which the comparison leaves out.

Why the study is cheap and still fair: every arm gets the SAME training budget as the main model and
an image of about the same size (~3-5k pixels: the cost of a ResNet is proportional to its pixels),
so the main model doubles as the study's n_fft=512 / random-init arm and each other arm changes one
thing. A longer STFT window buys frequency resolution with time resolution; at a fixed pixel budget
the question is which of the two the precursor needs:

- ``spec_study_nfft256``: 256-sample frames (hop 192, the 2019 overlap of 64), 33 bins of 15.6 kHz,
  power averaged over 8 frames (97 columns of 0.38 ms);
- main: 512 / hop 448 (the 2019 setting), 65 bins of 7.8 kHz, 4 frames pooled (83 columns of 0.45 ms);
- ``spec_study_nfft2048``: 2048 / hop 1984, 64 rows of 4 pooled 1.95 kHz bins, 75 columns of 0.5 ms;
- ``spec_study_pretrained``: the main settings, ResNet-18 started from torchvision's ImageNet weights
  (only when the weights file is on this machine: without it the arm would be the main model again).
"""
from __future__ import annotations

import warnings
from dataclasses import replace

import pandas as pd

from .. import evaluation, models, profiles, train
from ..constants import SAMPLE_RATE_HZ
from ..models import SpecResNet, SpecResNetConfig, SpectrogramConfig, factory
from ..models.resnet import default_weights_path
from . import registry
from .protocol import NetworkRuns, SavedRun, load_networks

APPROACH = registry.get("spec_resnet")
MAIN = APPROACH.main_arm
HEAD = "binned"

STUDY_ARMS: dict[str, dict] = {
    "spec_study_nfft256": {"spectrogram": SpectrogramConfig(n_fft=256, hop=192, time_pool=8)},
    "spec_study_nfft2048": {"spectrogram": SpectrogramConfig(n_fft=2048, hop=1984, freq_pool=4)},
    "spec_study_pretrained": {"pretrained": True},
}


def train_overrides(profile: profiles.Profile) -> dict:
    """TrainConfig overrides under ``profile``: it trains on the same budget as the WaveNet (the profile's
    epochs of fresh random windows per fold); only its BatchNorm recalibration has a size of its own
    (``spec_resnet_bn_windows``)."""
    return {"bn_windows": profile.spec_resnet_bn_windows}


def arm_config(overrides: dict) -> SpecResNetConfig:
    return replace(SpecResNetConfig(), **overrides)


def arm_table(length: int = evaluation.WINDOW, arms: dict | None = None) -> pd.DataFrame:
    """The image each run's network sees: rows x columns, their resolution, the initialization."""
    arms = {MAIN: {}, **(STUDY_ARMS if arms is None else arms)}
    rows = []
    for name, overrides in arms.items():
        cfg = arm_config(overrides)
        sp = cfg.spectrogram
        f, t = sp.image_shape(length)
        rows.append({"arm": name, "n_fft": sp.n_fft, "overlap": sp.n_fft - sp.hop,
                     "rows x cols": f"{f} x {t}", "pixels": f * t,
                     "kHz per row": round(SAMPLE_RATE_HZ / sp.n_fft * sp.freq_pool / 1e3, 2),
                     "ms per col": round(sp.hop * sp.time_pool / SAMPLE_RATE_HZ * 1e3, 3),
                     "top kHz": round((f * sp.freq_pool - 1) * SAMPLE_RATE_HZ / sp.n_fft / 1e3, 1),
                     "init": "ImageNet" if cfg.pretrained else "random"})
    return pd.DataFrame(rows).set_index("arm")


def pretrained_available(overrides: dict) -> bool:
    """Are the ImageNet weights this arm asks for on this machine? (Builds the net once, quietly.)"""
    cfg = arm_config(overrides)
    if not cfg.pretrained:
        return True
    with warnings.catch_warnings():  # run_study says what is missing, without this machine's paths
        warnings.simplefilter("ignore", UserWarning)
        return SpecResNet(1, cfg).loaded_from is not None


def cross_validate(rec, folds, profile: profiles.Profile, seed: int, arms=None, devices=None,
                   **train_options) -> NetworkRuns:
    """The main model (the approach's one arm) on ``folds``, saved as a run. ``train_options``: further
    arguments of :func:`quake_lib.train.cross_validate` (e.g. ``eval_windows``, ``verbose``)."""
    APPROACH.check_arms(arms)
    options = {**train_options, **({} if devices is None else {"devices": devices})}
    return NetworkRuns({MAIN: train_arm(rec, folds, profile, seed, MAIN, {}, **options)})


def train_arm(rec, folds, profile: profiles.Profile, seed: int, arm: str, overrides: dict,
              **train_options) -> train.CVResult:
    """One configuration (``overrides`` of the main model's) on ``folds``, saved as the run of ``arm``."""
    make = factory(APPROACH.model, **overrides)
    return train.cross_validate(rec, make, HEAD, folds, profile=profile, seed=seed, arm=arm, approach=APPROACH.name,
                                **{**train_overrides(profile), **train_options})


def load(dataset: str, arm: str, seed: int, meta: dict) -> SavedRun:
    return load_networks(dataset, arm, seed, meta)


def run_study(rec, folds, profile: profiles.Profile, seed: int, arms: dict | None = None,
              **train_options) -> dict:
    """Run each study arm (skipping, and saying so, a pretrained arm whose weights are missing).
    Returns approach -> CVResult for the arms that ran."""
    results = {}
    for name, overrides in (STUDY_ARMS if arms is None else arms).items():
        if not pretrained_available(overrides):
            path = default_weights_path(arm_config(overrides).arch)
            print(f"{name}: NOT RUN: torchvision's ImageNet weights are not on this machine (looked for "
                  f"{path.name} in the torch hub cache); without them this arm would only repeat the "
                  f"random-init main model, so pretrained vs random cannot be compared here.")
            continue
        results[name] = train_arm(rec, folds, profile, seed, name, overrides, **train_options)
    return results


def results_table(oof: pd.DataFrame) -> pd.DataFrame:
    """MAE per approach (main readouts only), with the ratio to the constant baseline."""
    table = evaluation.mae_table(oof, readouts=False, reference="constant")
    cols = [c for c in table.columns if c.startswith("fold_")] + ["mean", "std", "ratio"]
    return table[cols].round(3)



def image_configs() -> dict[str, SpectrogramConfig]:
    """The three STFT settings of the study, by label, for the figure of the images the network sees."""
    return {name: arm_config(o).spectrogram
            for name, o in {"n_fft 256": STUDY_ARMS["spec_study_nfft256"], "n_fft 512 (main)": {},
                            "n_fft 2048": STUDY_ARMS["spec_study_nfft2048"]}.items()}


def compared_arms(oof: pd.DataFrame) -> list[str]:
    """What the predictions figure shows beside the main model: LightGBM and the WaveNet's main arm,
    those of them present in ``oof``."""
    wanted = (MAIN, "lightgbm", registry.get("wave_cnn").main_arm)
    return [a for a in wanted if a in set(oof["arm"])]


def describe(length: int, profile: profiles.Profile) -> str:
    """The main network's architecture, parameter count with a 16-bin head and image size, and the
    windows its BatchNorm is recalibrated on under ``profile``."""
    net = factory(APPROACH.model)(16)
    rows, cols = net.config.spectrogram.image_shape(length)
    return (f"{net.config.arch}: {models.n_parameters(net):,} parameters, on {rows} x {cols} images\n"
            f"BatchNorm recalibrated on {profile.spec_resnet_bn_windows} training windows per fold")
