"""Leave-whole-cycles-out cross-validation.

Neighbouring windows of one quake cycle share its loading history, its cycle length and the slow
drift of the signal's mean; a model validated on windows from cycles it was trained on learns to
recognise the cycle rather than the precursor, and its score is optimistic. Every fold therefore
holds out whole cycles. :meth:`Recording.windows` already drops windows that straddle a failure,
so no window belongs to two cycles and holding out whole cycles is leak-free.

Cycles are dealt to folds after a seeded shuffle, round-robin, so fold sizes (in cycles) differ by
at most one and the same seed always gives the same folds.

Every approach is scored on the same windows with the same folds: the grid of :data:`EVAL_STRIDE`
over the recording, each :data:`WINDOW` samples long (the Kaggle segment), without those that
straddle a failure (target = time_to_failure at the last sample); :data:`N_FOLDS` folds fixed by
:data:`FOLD_SEED`, not by the seed of a model's training run.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..constants import SEGMENT_LENGTH
from ..data.recording import Recording, Windows

WINDOW = SEGMENT_LENGTH   # the competition's unit of prediction
EVAL_STRIDE = SEGMENT_LENGTH  # the one place the evaluation grid is set: non-overlapping segments
N_FOLDS = 5
FOLD_SEED = 0             # folds are fixed by this seed, not by the seed of a model's training run


@dataclass(frozen=True)
class Fold:
    """One split: the cycles trained on and the cycles held out."""

    index: int
    train_cycles: np.ndarray
    test_cycles: np.ndarray

    def masks(self, windows_or_cycles) -> tuple[np.ndarray, np.ndarray]:
        """(train, test) boolean masks over a :class:`~quake_lib.data.recording.Windows` (or an array of
        cycle ids). Windows of cycles in neither set (none with :func:`cycle_folds`) are in neither."""
        cycles = np.asarray(getattr(windows_or_cycles, "cycles", windows_or_cycles))
        return np.isin(cycles, self.train_cycles), np.isin(cycles, self.test_cycles)

    def split(self, windows):
        """(train windows, test windows) of a :class:`~quake_lib.data.recording.Windows`."""
        train, test = self.masks(windows)
        return windows.subset(train), windows.subset(test)


def cycle_folds(cycle_ids, n_folds: int = 5, seed: int = 0) -> list[Fold]:
    """Folds over the distinct cycles in ``cycle_ids`` (e.g. ``windows.cycles``): each cycle is held
    out exactly once; the same ``seed`` gives the same folds."""
    cycles = np.unique(np.asarray(cycle_ids))
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2 (got {n_folds})")
    if len(cycles) < n_folds:
        raise ValueError(f"{len(cycles)} cycles cannot fill {n_folds} folds: every fold needs at "
                         "least one held-out cycle (use fewer folds or a recording with more cycles)")
    order = np.random.default_rng(seed).permutation(cycles)
    folds = []
    for k in range(n_folds):
        test = np.sort(order[k::n_folds])
        folds.append(Fold(k, np.setdiff1d(cycles, test), test))
    return folds


def eval_windows(rec: Recording, stride: int = EVAL_STRIDE, length: int = WINDOW) -> Windows:
    """The evaluation grid of ``rec`` (every approach is scored on these windows)."""
    return rec.windows(length=length, stride=stride)


def training_grid(rec: Recording, windows: Windows, stride: int, max_windows: int | None = None) -> Windows:
    """The windows a model trains on: a grid of ``stride`` denser than the evaluation grid ``windows``
    (its extra windows overlap: more, correlated samples of the same cycles), unless that grid would hold
    more than ``max_windows`` windows; then ``windows`` itself, whose features every approach computes
    anyway. That bounds a training grid by the profile, not by the recording: Kaggle's full recording
    holds 12,532 windows at a stride of 50,000 (4,194 on the evaluation grid), the synthetic default 915."""
    if max_windows is not None and max_windows <= 0:
        raise ValueError(f"max_windows must be positive or None (got {max_windows})")
    grid = rec.windows(length=windows.length, stride=stride)
    return windows if max_windows is not None and len(grid) > max_windows else grid


def make_folds(rec: Recording, n_folds: int = N_FOLDS, seed: int = FOLD_SEED,
               windows: Windows | None = None) -> list[Fold]:
    """Leave-cycles-out folds over the cycles that hold at least one evaluation window."""
    windows = eval_windows(rec) if windows is None else windows
    if len(windows) == 0:
        raise ValueError(f"recording {rec.name!r} holds no window of {windows.length} samples")
    return cycle_folds(windows.cycles, n_folds=n_folds, seed=seed)


def fold_table(folds: list[Fold], windows: Windows) -> pd.DataFrame:
    """One row per cycle: its fold and how many evaluation windows it holds."""
    rows = []
    for f in folds:
        for c in f.test_cycles:
            rows.append({"cycle": int(c), "fold": f.index, "n_windows": int((windows.cycles == c).sum())})
    return pd.DataFrame(rows).sort_values("cycle", ignore_index=True)


def check_folds(folds: list[Fold], windows: Windows) -> None:
    """Raise if a cycle is held out twice or never, or a cycle is on both sides of a fold."""
    held = np.concatenate([f.test_cycles for f in folds])
    present = np.unique(windows.cycles)
    if len(held) != len(np.unique(held)) or not np.array_equal(np.sort(held), present):
        raise ValueError(f"folds must hold out every cycle of the windows exactly once "
                         f"(held out: {sorted(held.tolist())}, cycles: {present.tolist()})")
    for f in folds:
        if np.intersect1d(f.train_cycles, f.test_cycles).size:
            raise ValueError(f"fold {f.index}: cycles on both sides "
                             f"{np.intersect1d(f.train_cycles, f.test_cycles).tolist()}")
