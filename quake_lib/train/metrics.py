"""Per-epoch metrics: wall time and throughput of each epoch, and the CSV logger's file as a table; the
training progress a person sees (never logged)."""
from __future__ import annotations

import time
from pathlib import Path

import lightning as L
import pandas as pd

from .. import progress


class EpochTimer(L.Callback):
    """Logs ``train_seconds`` (the training batches of the epoch), ``train_windows_per_s`` and
    ``epoch_seconds`` (training + held-out validation)."""

    def __init__(self, windows_per_epoch: int):
        self.windows_per_epoch = windows_per_epoch
        self._t0 = self._train_s = None

    def on_train_epoch_start(self, trainer, pl_module):
        self._t0, self._train_s = time.perf_counter(), None

    def on_validation_epoch_start(self, trainer, pl_module):
        if self._t0 is not None and self._train_s is None and not trainer.sanity_checking:
            self._train_s = time.perf_counter() - self._t0

    def on_train_epoch_end(self, trainer, pl_module):
        now = time.perf_counter()
        train_s = self._train_s if self._train_s is not None else now - self._t0
        pl_module.log("train_seconds", train_s, on_epoch=True)
        pl_module.log("train_windows_per_s", self.windows_per_epoch / max(train_s, 1e-9), on_epoch=True)
        pl_module.log("epoch_seconds", now - self._t0, on_epoch=True)


class TrainProgress(L.Callback):
    """Which epoch of which fold, where :mod:`quake_lib.progress` says: a bar over the batches of the
    whole run (stderr at a terminal, a widget in JupyterLab) or one status line per epoch (``report``).
    Replaces Lightning's own bar, which writes to stdout and only at a terminal."""

    def __init__(self, label: str):
        self.label, self._bar = label, None

    def on_train_epoch_start(self, trainer, pl_module):
        epochs = trainer.max_epochs
        where = f"epoch {trainer.current_epoch + 1}/{epochs}"
        progress.status(f"{self.label} {where}")
        if self._bar is None and progress.mode() == "bar":
            self._bar = progress.bar(total=epochs * trainer.num_training_batches, desc=self.label, unit="batch",
                                     leave=False)
        if self._bar is not None:
            self._bar.set_postfix_str(where)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self._bar is not None:
            self._bar.update(1)

    def on_train_end(self, trainer, pl_module):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def read_metrics(log_dir) -> pd.DataFrame:
    """The CSV logger's ``metrics.csv`` as one row per epoch (train and val rows merged)."""
    if log_dir is None or not (Path(log_dir) / "metrics.csv").exists():
        return pd.DataFrame({"epoch": pd.Series(dtype=int)})
    raw = pd.read_csv(Path(log_dir) / "metrics.csv")
    df = raw.drop(columns=[c for c in ("step",) if c in raw.columns]).groupby("epoch", as_index=False).first()
    df["epoch"] = df["epoch"].astype(int)
    first = ["epoch", "train_loss", "train_mae", "val_loss", "val_mae"]
    return df[[c for c in first if c in df.columns] + sorted(c for c in df.columns if c not in first)]
