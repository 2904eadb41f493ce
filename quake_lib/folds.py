"""Leave-whole-cycles-out cross-validation.

Neighbouring windows of one quake cycle share its loading history, its cycle length and the slow
drift of the signal's mean; a model validated on windows from cycles it was trained on learns to
recognise the cycle rather than the precursor, and its score is optimistic. Every fold therefore
holds out whole cycles. :meth:`Recording.windows` already drops windows that straddle a failure,
so no window belongs to two cycles and holding out whole cycles is leak-free.

Cycles are dealt to folds after a seeded shuffle, round-robin, so fold sizes (in cycles) differ by
at most one and the same seed always gives the same folds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Fold:
    """One split: the cycles trained on and the cycles held out."""

    index: int
    train_cycles: np.ndarray
    test_cycles: np.ndarray

    def masks(self, windows_or_cycles) -> tuple[np.ndarray, np.ndarray]:
        """(train, test) boolean masks over a :class:`~quake_lib.recording.Windows` (or an array of
        cycle ids). Windows of cycles in neither set (none with :func:`cycle_folds`) are in neither."""
        cycles = np.asarray(getattr(windows_or_cycles, "cycles", windows_or_cycles))
        return np.isin(cycles, self.train_cycles), np.isin(cycles, self.test_cycles)

    def split(self, windows):
        """(train windows, test windows) of a :class:`~quake_lib.recording.Windows`."""
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
