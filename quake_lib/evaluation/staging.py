"""A training run's saved results appear whole or not at all.

A run writes its fold models into a hidden sibling of ``results/checkpoints/<arm>/``
(``.<arm>.partial-PID``) and, only once every fold has finished, swaps that folder in and writes
the OOF predictions and the metrics table. A run that fails, is interrupted or is killed leaves the
previous complete results untouched; its staging folder is removed at once, or by the next run once
its process is gone (:func:`quake_lib.atomic.clean_stale`).

>>> with StagedRun("synthetic", "wave_cnn_binned", "wave_cnn") as run:      # doctest: +SKIP
...     save_fold(run.checkpoints / "fold_0.pt"); ...
...     run.commit(oof, metrics, meta={})

The per-epoch CSV logs are staged with the run (under its staging folder) and move to
``results/logs/<arm>/`` when it commits; their durable table is ``metrics_<arm>.csv``, written here with
the OOF predictions. Two runs of one arm never interleave: the second is refused, naming the first's
process. A run whose dataset's ``results/`` was moved away meanwhile (``ingest --force``) stops with
:class:`ResultsReplacedError` and removes what it had staged, wherever the move carried it.
"""
from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import pandas as pd

from .. import atomic
from ..atomic import ResultsReplacedError, write_text
from ..data.store import REPLACED_RESULTS
from ..paths import dataset_dir, results_dir
from .folds import WINDOW
from .oof import check_arm, checkpoint_dir, save_metrics, save_oof

RUN_META = "meta.json"  # beside a run's fold models: what it is and how to load it


class StagedRun:
    """Where one training run of ``arm`` (of the registered ``approach``) on ``dataset`` keeps its fold
    models and per-epoch logs until it commits; :data:`RUN_META` records the approach, the arm, the
    dataset, the seed and the window length beside them (and whatever else the approach needs to load
    them). One run of an arm at a time: a second one is refused, naming the first one's process."""

    def __init__(self, dataset: str, arm: str, approach: str, seed: int = 0, window_length: int = WINDOW):
        self.dataset, self.seed, self.window_length = dataset, seed, int(window_length)
        self.arm, self.approach = check_arm(arm), approach
        self.target = checkpoint_dir(dataset, arm, seed)                  # where the models end up
        self.checkpoints = atomic.hidden_sibling(self.target, "partial")  # where the run writes them
        self.logs = self.checkpoints / ".logs"                            # its per-epoch CSV logs
        self.committed = False
        self._identity = None
        self._locks = contextlib.ExitStack()

    def __enter__(self) -> "StagedRun":
        self._locks.enter_context(atomic.exclusive_lock(
            self.target.parent / f".{self.arm}.run.lock", wait=False,
            what=f"arm {self.arm!r} of dataset {self.dataset!r} (seed {self.seed})"))
        try:
            atomic.clean_stale(self.target)  # a killed earlier run's folder, never a running one's
            shutil.rmtree(self.checkpoints, ignore_errors=True)
            self.checkpoints.mkdir(parents=True)
            self._identity = _identity(self.checkpoints)
        except BaseException:
            self._locks.close()
            raise
        return self

    def final_path(self, staged: Path | None) -> Path | None:
        """Where a file written under :attr:`checkpoints` lives after :meth:`commit`."""
        return None if staged is None else self.target / Path(staged).name

    def meta(self, **extra) -> dict:
        return {"approach": self.approach, "arm": self.arm, "dataset": self.dataset, "seed": self.seed,
                "window_length": self.window_length, **extra}

    def check_in_place(self) -> None:
        """Raise :class:`ResultsReplacedError` if the staging folder was moved away with ``results/`` (a
        writer that creates missing folders, such as Lightning's logger, may have made a new one there)."""
        if _identity(self.checkpoints) != self._identity:
            raise ResultsReplacedError(
                f"the results of dataset {self.dataset!r} were moved away while arm {self.arm!r} trained (the "
                "dataset was ingested again?): this run stopped and kept nothing; train it again on the new data")

    def commit(self, oof: pd.DataFrame | None, metrics: pd.DataFrame | None = None,
               meta: dict | None = None) -> None:
        """Every fold finished: write :data:`RUN_META` (``meta``: the approach's own entries beside
        :meth:`meta`'s), swap the fold models in, write the OOF predictions, the metrics and the logs.

        A run that saves neither a fold model nor ``meta`` (a network with ``save_checkpoints=False``)
        leaves the folder of models as it was. Two runs of one arm commit one after the other (a lock),
        so the models and the OOF file on disk always come from the same run."""
        self.check_in_place()
        if meta is not None:
            write_text(self.checkpoints / RUN_META, json.dumps(self.meta(**meta), indent=1))
        with atomic.exclusive_lock(self.target.parent / f".{self.arm}.lock",
                                   what=f"the run of arm {self.arm!r}"):
            if self.logs.is_dir():
                for run_logs in self.logs.iterdir():  # <name>/<version>/metrics.csv, as Lightning writes them
                    atomic.replace_dir(run_logs, results_dir(self.dataset, self.seed) / "logs" / run_logs.name)
                self.logs.rmdir()
            if any(self.checkpoints.iterdir()):
                atomic.replace_dir(self.checkpoints, self.target)
            else:
                self.checkpoints.rmdir()
            if oof is not None:
                save_oof(oof, self.dataset, self.seed)
            if metrics is not None:
                save_metrics(metrics, self.dataset, self.arm, self.seed)
        self.committed = True

    def __exit__(self, exc_type, exc, tb) -> bool:
        moved = _identity(self.checkpoints) != self._identity
        try:
            if not self.committed:
                shutil.rmtree(self.checkpoints, ignore_errors=True)
                if moved:
                    self._remove_moved_stage()
        finally:
            self._locks.close()
        if exc is not None and moved and not isinstance(exc, ResultsReplacedError):
            # the failure (a log file that vanished, ...) came from the move: say that instead
            try:
                self.check_in_place()
            except ResultsReplacedError as replaced:
                raise replaced from exc
        return False

    def _remove_moved_stage(self) -> None:
        """What this run had where ``results/`` was moved to (its staging folder, its run lock) is removed
        there, and so are the empty folders a writer made again at the old place."""
        for name in (self.checkpoints.name, f".{self.arm}.run.lock"):
            for moved in dataset_dir(self.dataset).glob(f"{REPLACED_RESULTS}*/**/{name}"):
                if moved.is_dir():
                    shutil.rmtree(moved, ignore_errors=True)
                else:
                    moved.unlink(missing_ok=True)
        results = results_dir(self.dataset, 0)
        for folder in (self.checkpoints.parent, *self.checkpoints.parent.parents):
            if folder == results.parent:
                break
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty


def _identity(folder: Path) -> tuple | None:
    try:
        st = folder.stat()
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino)
