"""Windows for training: random windows from the memory map each epoch, a fixed grid to evaluate.

- Training: every epoch draws ``windows_per_epoch`` fresh windows uniformly among all valid starts
  of the training cycles (:meth:`Recording.random_windows`), not only the 150k grid, so a few
  hundred overlapping positions per cycle become many distinct samples. The draw is seeded by
  (seed, epoch): reproducible, and different every epoch.
- Evaluation: the held-out cycles' windows on the evaluation grid (:mod:`quake_lib.evaluation.folds`).
- Batches leave the loader as raw int16 ``(batch, length)`` tensors (half the bytes of float32 to
  copy to a GPU); :func:`normalize` runs inside the model's module, on its device. Their targets are
  time_to_failure, ``(batch,)``; for a head with an auxiliary cycle target (``aux``, e.g.
  ``since_failure``: :class:`quake_lib.train.heads.AuxHead`) ``(batch, 2)``: [time_to_failure, aux].

Normalization: subtract each window's median (the signal's mean drifts over the experiment and is
no precursor) and divide by ONE fixed robust scale estimated on training windows. A per-window
std would erase loudness, which is exactly what rises as failure approaches.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..constants import SEGMENT_LENGTH
from ..data import cycle_targets
from ..data.recording import Recording, Windows

MAD_TO_SD = 1.4826  # MAD of a Gaussian times this is its sd
# The median is taken over every MEDIAN_STEP-th sample: 18,750 of 150k samples put it within
# ~0.03 counts of the full median (background sd ~3), at an eighth of the cost.
MEDIAN_STEP = 8
BN_STREAM = 2**31 - 2  # seed-stream id of the BatchNorm recalibration windows (epochs use 0, 1, ...)


@dataclass(frozen=True)
class DataConfig:
    length: int = SEGMENT_LENGTH
    windows_per_epoch: int = 256
    batch_size: int = 32
    eval_batch_size: int = 64
    scale_windows: int = 64   # training windows drawn to estimate the fixed scale
    num_workers: int = 0      # 0 on CPU: the two cores are busier computing than reading
    val_windows: int = 0      # held-out windows of the per-epoch diagnostics, evenly spaced (0: all of them)


def robust_scale(x: np.ndarray, step: int = 1, what: str = "the training windows") -> float:
    """The one robust scale of a set of windows (rows of ``x``): the median over rows of each row's MAD
    around its median (every ``step``-th sample), times 1.4826: the background noise's sd, not the
    events'. Every approach divides its input by such a fixed scale."""
    x = np.asarray(x[:, ::step], dtype=np.float32)
    mad = np.median(np.abs(x - np.median(x, axis=1, keepdims=True)), axis=1)
    scale = float(np.median(mad) * MAD_TO_SD)
    if not scale > 0:
        raise ValueError(f"robust scale of {what} is {scale}: the signal looks constant")
    return scale


def training_scale(rec: Recording, cycles, n: int, seed: int, length: int = SEGMENT_LENGTH) -> float:
    """:func:`robust_scale` of ``n`` random windows of the training ``cycles`` (seeded)."""
    if n < 1:
        raise ValueError(f"scale_windows must be positive (got {n})")
    w = rec.random_windows(n, np.random.default_rng(seed), length, cycles)
    return robust_scale(rec.read(w))


def normalize(x: torch.Tensor, scale: torch.Tensor | float) -> torch.Tensor:
    """``(batch, length)`` raw samples -> ``(batch, 1, length)`` float32, median-centred, / scale."""
    x = x.float()
    centre = x[:, ::MEDIAN_STEP].median(dim=-1, keepdim=True).values
    return ((x - centre) / scale).unsqueeze(1)


def batch_targets(rec: Recording, windows: Windows, aux: str | None = None) -> np.ndarray:
    """float32 targets of ``windows``: time_to_failure ``(n,)``, or with ``aux`` (a cycle target of
    :mod:`quake_lib.data.cycle_targets`) ``(n, 2)`` [time_to_failure, aux], aux NaN where unknown."""
    if aux is None:
        return windows.targets.astype(np.float32)
    cycle_targets.check_target(aux, cycle_targets.AUX_TARGETS)
    return np.column_stack([windows.targets, cycle_targets.window_targets(rec, windows, aux)]).astype(np.float32)


class WindowBatches(Dataset):
    """Item ``i`` is batch ``i`` of ``windows``: ``(int16 (b, length), float32 targets)``, the targets
    ``(b,)`` or, with ``aux``, ``(b, 2)`` (:func:`batch_targets`).

    Whole batches are read at once (one loop over memory-map slices); use ``DataLoader(...,
    batch_size=None)``. Pickles as the recording's path, so loader workers reopen the memory map
    instead of copying the signal.
    """

    def __init__(self, rec: Recording, windows: Windows, batch_size: int, aux: str | None = None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive (got {batch_size})")
        self.rec, self.windows, self.batch_size = rec, windows, batch_size
        self.targets = batch_targets(rec, windows, aux)  # computed once: the cycle lengths come from rec

    def __len__(self) -> int:
        return -(-len(self.windows) // self.batch_size)

    def __getitem__(self, i: int):
        if not 0 <= i < len(self):
            raise IndexError(f"batch index {i} out of range (0..{len(self) - 1})")
        part = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return torch.from_numpy(self.rec.read(self.windows.subset(part))), torch.from_numpy(self.targets[part])

    def __getstate__(self):
        return {"directory": str(self.rec.directory), "windows": self.windows, "batch_size": self.batch_size,
                "targets": self.targets}

    def __setstate__(self, state):
        self.rec = Recording(Path(state["directory"]))
        self.windows, self.batch_size, self.targets = state["windows"], state["batch_size"], state["targets"]


def loader(rec: Recording, windows: Windows, batch_size: int, num_workers: int = 0,
           aux: str | None = None) -> DataLoader:
    return DataLoader(WindowBatches(rec, windows, batch_size, aux), batch_size=None, shuffle=False,
                      num_workers=num_workers, persistent_workers=False)


class QuakeDataModule(L.LightningDataModule):
    """Random training windows of ``train_cycles`` (new ones each epoch) and fixed ``eval_windows``
    (the held-out grid: validation metrics per epoch and predictions). ``aux``: a cycle target that
    every batch carries beside time_to_failure (the head's ``aux``; None: time_to_failure only)."""

    def __init__(self, rec: Recording, train_cycles, eval_windows: Windows, config: DataConfig,
                 seed: int = 0, aux: str | None = None):
        super().__init__()
        self.rec, self.config, self.seed = rec, config, seed
        self.aux = None if aux is None else cycle_targets.check_target(aux, cycle_targets.AUX_TARGETS)
        self.train_cycles = np.asarray(train_cycles)
        self.eval_windows = eval_windows
        if config.windows_per_epoch < config.batch_size:
            raise ValueError(f"windows_per_epoch ({config.windows_per_epoch}) must be at least "
                             f"batch_size ({config.batch_size})")
        self.scale = training_scale(rec, self.train_cycles, config.scale_windows, seed, config.length)
        self._epoch_override: int | None = None

    def train_targets(self) -> np.ndarray:
        """Targets of a dense grid of training windows (for heads that fit an offset): ``(n,)``, or
        ``(n, 2)`` with the auxiliary target (:func:`batch_targets`)."""
        grid = self.rec.windows(self.config.length, self.config.length // 8, self.train_cycles)
        return grid.targets if self.aux is None else batch_targets(self.rec, grid, self.aux)

    def mean_cycle_length(self) -> float:
        """Mean length (s) of the training cycles of known length: what turns a predicted cycle
        target back into time_to_failure (never a held-out cycle's length)."""
        return cycle_targets.mean_length(cycle_targets.cycle_lengths(self.rec)[self.train_cycles])

    def bn_windows(self, n: int) -> Windows:
        """Training windows for BatchNorm recalibration, from a stream no epoch uses."""
        rng = np.random.default_rng([self.seed, BN_STREAM])
        return self.rec.random_windows(n, rng, self.config.length, self.train_cycles)

    def epoch_windows(self, epoch: int) -> Windows:
        rng = np.random.default_rng([self.seed, epoch])
        return self.rec.random_windows(self.config.windows_per_epoch, rng, self.config.length, self.train_cycles)

    def train_dataloader(self) -> DataLoader:
        # Lightning calls this at every epoch (reload_dataloaders_every_n_epochs=1)
        trainer = getattr(self, "trainer", None)
        epoch = trainer.current_epoch if trainer is not None else 0
        # lr_find runs its own short loop on windows of its own (see quake_lib.train.lr_finder)
        epoch = self._epoch_override if self._epoch_override is not None else epoch
        return loader(self.rec, self.epoch_windows(epoch), self.config.batch_size, self.config.num_workers,
                      self.aux)

    def val_subset(self) -> Windows:
        """The held-out windows of the per-epoch diagnostics: all of them, or ``config.val_windows`` evenly
        spaced in recording order (a profile's bound: on Kaggle's full recording a fold holds ~840
        windows, and the diagnostics only draw learning curves). The out-of-fold predictions always
        cover every held-out window (:meth:`predict_dataloader`)."""
        n, k = len(self.eval_windows), self.config.val_windows
        if not k or n <= k:
            return self.eval_windows
        return self.eval_windows.subset(np.unique(np.linspace(0, n - 1, k).round().astype(np.int64)))

    def val_dataloader(self) -> DataLoader:
        return loader(self.rec, self.val_subset(), self.config.eval_batch_size, self.config.num_workers, self.aux)

    def predict_dataloader(self) -> DataLoader:
        return loader(self.rec, self.eval_windows, self.config.eval_batch_size, self.config.num_workers, self.aux)
