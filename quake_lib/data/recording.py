"""A prepared recording, memory-mapped, and the windows it is cut into.

Opening a recording reads only ``meta.json``, ``cycles.csv`` and the two ``.npy`` headers: the signal
(1.2 GB for the real train.csv) and time_to_failure (2.5 GB) stay on disk until a window touches them.

A *window* is ``length`` consecutive samples (150,000 by default: the Kaggle test-segment size). Its
target is time_to_failure at the window's last sample, and it belongs to the quake cycle it lies in.
Windows that straddle a failure are excluded: their target would describe the next cycle while most
of their samples describe the previous one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import paths
from ..constants import SEGMENT_LENGTH
from . import store


@dataclass(frozen=True)
class Windows:
    """A set of windows of one recording: where they start, their targets and their cycles."""

    starts: np.ndarray   # int64, first sample of each window
    targets: np.ndarray  # float32, time_to_failure at the last sample
    cycles: np.ndarray   # int32, quake cycle id
    length: int

    def __len__(self) -> int:
        return len(self.starts)

    def subset(self, mask_or_index) -> "Windows":
        return Windows(self.starts[mask_or_index], self.targets[mask_or_index],
                       self.cycles[mask_or_index], self.length)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"start": self.starts, "target": self.targets, "cycle": self.cycles})


class Recording:
    """One prepared recording under ``data/<name>/`` (see :mod:`quake_lib.data.store`)."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        if not (self.directory / store.META_FILE).exists():
            raise FileNotFoundError(
                f"{self.directory}: no prepared recording here (missing {store.META_FILE}); "
                "run `python -m quake_lib ingest train.csv` or `python -m quake_lib generate`")
        self.meta = store.read_meta(self.directory)
        self.signal = np.load(self.directory / store.SIGNAL_FILE, mmap_mode="r")
        self.ttf = np.load(self.directory / store.TTF_FILE, mmap_mode="r")
        self.cycles = pd.read_csv(self.directory / store.CYCLES_FILE)
        n = self.meta["n_rows"]
        if len(self.signal) != n or len(self.ttf) != n:
            raise ValueError(f"{self.directory}: arrays hold {len(self.signal)} / {len(self.ttf)} rows, "
                             f"meta.json says {n}; prepare the dataset again")
        self._first = self.cycles["first_row"].to_numpy(np.int64)
        self._last = self.cycles["last_row"].to_numpy(np.int64)

    @classmethod
    def open(cls, name: str) -> "Recording":
        return cls(paths.dataset_dir(name))

    @property
    def name(self) -> str:
        return self.directory.name

    def __len__(self) -> int:
        return len(self.signal)

    def __repr__(self) -> str:
        return (f"Recording({self.name!r}: {len(self):,} samples, {len(self.cycles)} cycles, "
                f"{int(self.cycles['complete'].sum())} complete)")

    def cycle_of(self, rows) -> np.ndarray:
        """The cycle id of each row index."""
        return (np.searchsorted(self._first, np.asarray(rows), side="right") - 1).astype(np.int32)

    def _make(self, starts: np.ndarray, length: int) -> Windows:
        starts = np.asarray(starts, dtype=np.int64)
        ends = starts + length - 1
        return Windows(starts, np.asarray(self.ttf[ends], dtype=np.float32), self.cycle_of(starts), length)

    def windows(self, length: int = SEGMENT_LENGTH, stride: int | None = None,
                cycles=None) -> Windows:
        """A regular grid of windows from row 0 (stride = length gives Kaggle's consecutive segments),
        without those that straddle a failure; optionally only those of the given cycles."""
        stride = length if stride is None else stride
        if length <= 0 or stride <= 0:
            raise ValueError(f"length and stride must be positive (got length={length}, stride={stride})")
        starts = np.arange(0, len(self) - length + 1, stride, dtype=np.int64)
        keep = self.cycle_of(starts) == self.cycle_of(starts + length - 1)
        w = self._make(starts[keep], length)
        if cycles is not None:
            w = w.subset(np.isin(w.cycles, np.asarray(cycles)))
        return w

    def random_windows(self, n: int, rng: np.random.Generator, length: int = SEGMENT_LENGTH,
                       cycles=None) -> Windows:
        """``n`` windows drawn uniformly among every valid start (any offset, not only the grid)."""
        ids = np.arange(len(self.cycles)) if cycles is None else np.asarray(cycles)
        counts = np.maximum(self._last[ids] - self._first[ids] - length + 2, 0)
        if counts.sum() == 0:
            raise ValueError(f"no window of length {length} fits inside cycles {ids.tolist()}")
        k = rng.integers(0, counts.sum(), size=n)
        edges = np.cumsum(counts)
        which = np.searchsorted(edges, k, side="right")
        offset = k - (edges[which] - counts[which])
        return self._make(self._first[ids][which] + offset, length)

    def read(self, windows: Windows | np.ndarray, length: int | None = None) -> np.ndarray:
        """Samples of the given windows as an ``(n, length)`` int16 array."""
        if isinstance(windows, Windows):
            starts, length = windows.starts, windows.length
        else:
            starts = np.asarray(windows, dtype=np.int64)
            if length is None:
                raise ValueError("length is required when windows are given as start indices")
        out = np.empty((len(starts), length), dtype=np.int16)
        for i, s in enumerate(starts):
            out[i] = self.signal[s:s + length]
        return out
