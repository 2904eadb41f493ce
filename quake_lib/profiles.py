"""Run profiles: how much data and compute a notebook spends.

- ``quick``: for ``make test`` / nbval (``QUAKE_QUICK=1``): the small ``quick`` dataset, a few windows,
  seconds per notebook.
- ``default``: what ``make report`` runs on the ``synthetic`` dataset on 2 CPU cores (30 min for all).
- ``full``: for the real recording on a GPU machine (more windows, longer training).

Later chapters add their own fields (epochs, windows per epoch, ...); a field's meaning is documented
where it is declared.
"""
from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Profile:
    name: str
    stats_stride: int = 150_000      # grid stride of the windows whose statistics the EDA tabulates
    spectra_per_bin: int = 40        # windows per time_to_failure bin for mean power spectra
    stft_windows: int = 120          # windows used to compare STFT settings
    envelope_bins: int = 4_000       # min/max bins for whole-recording plots
    # Neural training (quake_lib.train). One fold's run costs epochs x windows_per_epoch windows
    # forward + backward. Measured on 2 CPU cores, idle: approach 1 (wave_cnn) takes ~22-27 s per
    # fold, so 5 folds x 2 heads ~4-4.5 min; the quick profile ~9 s per head on the quick dataset.
    epochs: int = 8                  # passes, each over freshly drawn random training windows
    windows_per_epoch: int = 320     # random training windows drawn per epoch
    batch_size: int = 32
    lr: float = 3e-3                 # peak learning rate of the one-cycle schedule


PROFILES = {
    "quick": Profile("quick", stats_stride=150_000, spectra_per_bin=8, stft_windows=24, envelope_bins=1_000,
                     epochs=2, windows_per_epoch=32, batch_size=16),
    "default": Profile("default"),
    "full": Profile("full", stats_stride=75_000, spectra_per_bin=200, stft_windows=600, envelope_bins=8_000,
                    epochs=30, windows_per_epoch=4096, batch_size=64),
}


def get(name: str, **overrides) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"profile {name!r} is not known; expected one of: {', '.join(PROFILES)}")
    return replace(PROFILES[name], **overrides)
