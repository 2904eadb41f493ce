"""Learning-rate range test (``lightning.pytorch.tuner.Tuner.lr_find``) on one fold's training data.

The test trains on windows of the training cycles only (its own random draw), so its suggestion
carries no information about the held-out cycles.
"""
from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import lightning as L
import pandas as pd

from .. import evaluation, profiles, progress
from ..data.recording import Recording, Windows
from ..evaluation.folds import Fold
from ..quiet import quiet
from .data import QuakeDataModule
from .fit import TrainConfig, _fresh_head, make_trainer, torch_threads
from .module import QuakeModule

# The range test draws its windows from a stream no training epoch uses.
LR_FIND_EPOCH = 2**31 - 1


@dataclass
class LrFindResult:
    suggestion: float | None   # Lightning's pick: the steepest descent of the smoothed loss
    table: pd.DataFrame        # columns lr, loss


def lr_find(recording: Recording, model_factory, head="binned", fold: Fold | None = None,
            profile: profiles.Profile | None = None, seed: int = 0, min_lr: float = 1e-5,
            max_lr: float = 1.0, num_training: int = 60, windows: Windows | None = None,
            **overrides) -> LrFindResult:
    """Run the LR range test for ``num_training`` steps on ``fold`` (default: fold 0 of the fixed
    folds); ``windows`` (default: the evaluation grid) sets the folds and the window length."""
    from lightning.pytorch.tuner import Tuner, lr_finder

    if num_training < 2:
        raise ValueError(f"num_training must be at least 2 (got {num_training})")
    quiet()
    cfg = TrainConfig.from_profile(profile or profiles.get("default"), **overrides)
    windows = evaluation.eval_windows(recording) if windows is None else windows
    fold = evaluation.make_folds(recording, windows=windows)[0] if fold is None else fold
    L.seed_everything(seed, workers=True, verbose=False)
    # validation is of no use here; one "epoch" must hold all num_training steps
    cfg = replace(cfg, validate_every=0, windows_per_epoch=max(cfg.windows_per_epoch, num_training * cfg.batch_size))
    _, test = fold.split(windows)
    dm = QuakeDataModule(recording, fold.train_cycles, test, cfg.data_config(windows.length), seed=seed)
    dm._epoch_override = LR_FIND_EPOCH
    head_ = _fresh_head(head)
    head_.fit_targets(dm.train_targets())
    module = QuakeModule(model_factory(head_.n_outputs), head_, scale=dm.scale, lr=cfg.lr,
                         weight_decay=cfg.weight_decay, augment=cfg.augment)
    # the range test saves and restores a checkpoint of the module in the trainer's root folder: a
    # temporary one, not the notebook's folder (a run stopped midway left a .lr_find_*.ckpt there)
    tmp = tempfile.TemporaryDirectory(prefix="quake-lr-find-")
    trainer = make_trainer(cfg, None, max_epochs=1, root_dir=Path(tmp.name))
    # Lightning's range test always draws its own tqdm bar; off unless progress bars are wanted here
    # (never under `report`, whose kernels would write it into the notebook)
    original = lr_finder.tqdm
    if progress.mode() != "bar":
        lr_finder.tqdm = functools.partial(original, disable=True)
    try:
        with torch_threads(cfg.threads):
            finder = Tuner(trainer).lr_find(module, datamodule=dm, min_lr=min_lr, max_lr=max_lr,
                                            num_training=num_training, update_attr=False)
    finally:
        lr_finder.tqdm = original
        tmp.cleanup()
    table = pd.DataFrame(finder.results)
    return LrFindResult(finder.suggestion(), table)
