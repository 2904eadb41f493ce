"""Tiny recordings for the evaluation / baseline / training tests (seconds, not minutes)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from quake_lib import evaluation as ev
from quake_lib import models, paths
from quake_lib.approaches import constant, lightgbm
from quake_lib.data import store
from quake_lib.data.recording import Recording
from quake_lib.models import WaveNetConfig
from quake_lib.train import cross_validate

LENGTH = 4096  # window length of the tiny tests (long enough for every Kaggle feature group)

# A WaveNet small enough to train in a second or two on 4,096-sample windows.
TINY_NET = WaveNetConfig(decimate=2, lowpass_taps=15, stem_channels=8, stem_kernel=8, stem_stride=4,
                         channels=8, dilations=(1, 2), skip_channels=8, energy_window=8, hidden=16,
                         dropout=0.0)


def loud_recording(directory, n_cycles: int = 7, cycle_len: int = 24_576, seed: int = 0,
                   rows_per_second: float = 4096.0) -> Recording:
    """Gaussian noise whose sd grows tenfold as time_to_failure falls: trivially learnable."""
    rng = np.random.default_rng(seed)
    ttf = np.concatenate([(np.arange(cycle_len, 0, -1) - 1) / rows_per_second + 1e-3
                          for _ in range(n_cycles)]).astype(np.float32)
    top = cycle_len / rows_per_second
    sd = 2.0 + 18.0 * (1.0 - ttf / top)
    signal = np.round(4.5 + sd * rng.standard_normal(len(ttf))).astype(np.int16)
    store.write_recording(directory, signal, ttf, {"source": {"kind": "test"}})
    return Recording(directory)


# The tiny WaveNet and a one-epoch budget: enough to save fold models that a submission can load.
TINY = models.factory("wave_cnn", **TINY_NET.__dict__)
ONE_EPOCH = dict(epochs=1, windows_per_epoch=16, batch_size=8, eval_batch_size=64, threads=1, lr=1e-2)


def trained_tiny(nets: dict):
    """The tiny recording as dataset ``tiny`` (under the caller's ``QUAKE_DATA_DIR``), its evaluation
    windows, 2 folds, and every kind of fold model a submission reads (:func:`train_for_submission`).
    Returns ``(rec, windows, folds)``."""
    rec = loud_recording(paths.dataset_dir("tiny"))
    windows = ev.eval_windows(rec, stride=LENGTH, length=LENGTH)
    folds = ev.make_folds(rec, n_folds=2, windows=windows)
    train_for_submission(rec, windows, folds, nets)
    return rec, windows, folds


def train_for_submission(rec, windows, folds, nets: dict) -> None:
    """Save every kind of fold model a submission reads: the tiny WaveNet per ``nets`` (approach name ->
    head), LightGBM's boosters and the constant, on ``folds``."""
    for approach, head in nets.items():
        cross_validate(rec, TINY, head, folds, seed=0, eval_windows=windows, arm=approach, verbose=False,
                       **ONE_EPOCH)
    cfg = lightgbm.LgbmConfig(n_estimators=20, learning_rate=0.1, min_child_samples=5, train_stride=LENGTH,
                              n_jobs=1)
    lightgbm.cross_validate(rec, folds, seed=0, arms=("lightgbm",), config=cfg, windows=windows)
    constant.cross_validate(rec, folds, windows=windows)


def oof_rows(windows, folds, name, pred):
    """OOF rows of approach ``name`` predicting ``pred`` (one value per window of ``windows``), fold by fold."""
    parts = []
    for f in folds:
        _, te = f.masks(windows)
        parts.append(ev.oof_frame(name, f.index, windows.subset(te), np.asarray(pred)[te]))
    return pd.concat(parts, ignore_index=True)


def one_line_error(capsys) -> str:
    """What a command printed on stderr, checked to be the one-line error the command line promises."""
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err
