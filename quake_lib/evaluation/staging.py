"""A training run's saved results appear whole or not at all.

A run writes its fold models into a hidden sibling of ``results/checkpoints/<approach>/``
(``.<approach>.partial-PID``) and, only once every fold has finished, swaps that folder in and writes
the OOF predictions and the metrics table. A run that fails, is interrupted or is killed leaves the
previous complete results untouched; its staging folder is removed at once, or by the next run once
its process is gone (:func:`quake_lib.atomic.clean_stale`).

>>> with StagedRun("synthetic", "wave_cnn_binned") as run:        # doctest: +SKIP
...     save_fold(run.checkpoints / "fold_0.pt"); ...
...     run.commit(oof, metrics)

The per-epoch CSV logs under ``results/logs/`` are not staged: they are the run's scratch (every
process of a multi-GPU run reads rank 0's), rewritten per fold; their durable copy is
``metrics_<approach>.csv``, written here with the OOF predictions.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from .. import atomic
from .oof import check_approach, checkpoint_dir, save_metrics, save_oof


class StagedRun:
    """Where one training run of ``approach`` on ``dataset`` keeps its fold models until it commits."""

    def __init__(self, dataset: str, approach: str, seed: int = 0):
        self.dataset, self.seed = dataset, seed
        self.approach = check_approach(approach)
        self.target = checkpoint_dir(dataset, approach, seed)               # where the models end up
        self.checkpoints = atomic.hidden_sibling(self.target, "partial")  # where the run writes them
        self.committed = False

    def __enter__(self) -> "StagedRun":
        atomic.clean_stale(self.target)  # a killed earlier run's folder, never a running one's
        shutil.rmtree(self.checkpoints, ignore_errors=True)
        self.checkpoints.mkdir(parents=True)
        return self

    def final_path(self, staged: Path | None) -> Path | None:
        """Where a file written under :attr:`checkpoints` lives after :meth:`commit`."""
        return None if staged is None else self.target / Path(staged).name

    def commit(self, oof: pd.DataFrame | None, metrics: pd.DataFrame | None = None) -> None:
        """Every fold finished: swap the fold models in, write the OOF predictions and metrics.

        A run that saved no fold model (``save_checkpoints=False``) leaves the folder of models as
        it was. Two runs of one approach commit one after the other (a lock), so the models and the
        OOF file on disk always come from the same run."""
        with atomic.exclusive_lock(self.target.parent / f".{self.approach}.lock",
                                   what=f"the results of approach {self.approach!r}"):
            if any(self.checkpoints.iterdir()):
                atomic.replace_dir(self.checkpoints, self.target)
            else:
                self.checkpoints.rmdir()
            if oof is not None:
                save_oof(oof, self.dataset, self.seed)
            if metrics is not None:
                save_metrics(metrics, self.dataset, self.approach, self.seed)
        self.committed = True

    def __exit__(self, *exc) -> bool:
        if not self.committed:
            shutil.rmtree(self.checkpoints, ignore_errors=True)
        return False
