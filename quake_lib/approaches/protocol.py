"""What every registered approach offers, and how a saved run of one of its arms is read back.

An approach module (``Approach.module``, by default ``quake_lib.approaches.<name>``) offers two things:

- ``cross_validate(rec, folds, profile, seed, arms=None, devices=None)``: exactly what the approach's
  notebook runs for ``arms`` (default: every arm the registry lists), each arm saved as a run
  (:class:`quake_lib.evaluation.StagedRun`); returns a result whose ``oof`` holds every arm's rows.
- ``load(dataset, arm, seed, meta) -> SavedRun``: that arm's fold models, rebuilt from the saved run.

``python -m quake_lib train`` and ``submit`` call nothing else, so a new approach needs one module,
one registry entry and its notebook. Every saved run records its approach and arm in its
``meta.json`` (:func:`read_meta`), which is how ``submit`` finds the module that loads it.
"""
from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np
import pandas as pd
import torch

from .. import evaluation
from ..atomic import exclusive_lock
from ..evaluation.intervals import QUANTILE_READOUTS
from ..progress import bar
from ..train.predict import load_module, predict_array
from . import registry


@dataclass
class FoldPrediction:
    """One fold model's time_to_failure for each segment, and its own interval bounds if it has them
    (the quantile readouts of a binned head)."""

    value: np.ndarray
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None


class FoldModel(Protocol):
    def predict(self, inputs) -> FoldPrediction: ...


@dataclass
class RunPrediction:
    per_model: np.ndarray                 # (n_segments, n_models)
    lower: np.ndarray | None = None       # native bounds: the fold models' mean, clipped at 0
    upper: np.ndarray | None = None

    @property
    def value(self) -> np.ndarray:
        """The submission: the mean over the fold models."""
        return self.per_model.mean(axis=1)


@dataclass
class NetworkRuns:
    """What a network approach's ``cross_validate`` returns: each arm's training run (its OOF rows,
    per-epoch metrics and seconds)."""

    runs: dict          # arm -> quake_lib.train.CVResult

    @property
    def oof(self):
        return pd.concat([r.oof for r in self.runs.values()], ignore_index=True)

    @property
    def metrics(self):
        return pd.concat([r.metrics for r in self.runs.values()], ignore_index=True)

    @property
    def seconds(self) -> float:
        return float(sum(r.seconds for r in self.runs.values()))


def _same(x):
    return x


@dataclass
class SavedRun:
    """A saved arm's fold models. ``prepare`` turns raw segments ((n, window_length) int16) into what
    every fold model reads, once for all of them (a feature table, or the raw signal itself)."""

    approach: str
    arm: str
    window_length: int
    models: list
    prepare: Callable = field(default=_same)
    oof: pd.DataFrame | None = None   # the run's out-of-fold rows (what conformal bounds calibrate on)

    def predict(self, x: np.ndarray) -> RunPrediction:
        inputs = self.prepare(x)
        preds = [m.predict(inputs) for m in bar(self.models, desc="predicting", unit="fold model")]
        per_model = np.stack([np.asarray(p.value, dtype=np.float64) for p in preds], axis=1)
        if not all(p.lower is not None and p.upper is not None for p in preds):
            return RunPrediction(per_model)
        lower, upper = (np.mean([getattr(p, side) for p in preds], axis=0).astype(np.float64)
                        for side in ("lower", "upper"))
        return RunPrediction(per_model, np.clip(lower, 0.0, None), np.clip(upper, 0.0, None))


def module(approach: registry.Approach | str):
    """The module that implements ``approach`` (a registry entry or its name)."""
    entry = registry.get(approach) if isinstance(approach, str) else approach
    return importlib.import_module(entry.module_name)


def cross_validate(approach: str, rec, folds, profile, seed: int, arms=None, devices=None):
    """``approach``'s own ``cross_validate`` (see the module docstring); ``arms`` are checked first."""
    entry = registry.get(approach)
    arms = entry.check_arms(arms)
    return module(entry).cross_validate(rec, folds, profile, seed, arms=arms, devices=devices)


def read_meta(dataset: str, arm: str, seed: int = 0) -> dict:
    """``meta.json`` of the saved run of ``arm`` (its approach, arm, window length, ...), checked."""
    path = evaluation.checkpoint_dir(dataset, arm, seed) / evaluation.RUN_META
    if not path.is_file():
        raise FileNotFoundError(f"no saved run of arm {arm!r} for dataset {dataset!r}"
                                f"{'' if seed == 0 else f' (seed {seed})'}: {path} does not exist; "
                                f"{train_hint(dataset, arm, seed)}")
    try:
        meta = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not readable JSON ({e}); train the approach again") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: expected a JSON object, found {type(meta).__name__}; train the approach again")
    if meta.get("arm") != arm or not isinstance(meta.get("approach"), str):
        raise ValueError(f"{path}: it does not name its approach and arm {arm!r} (found approach "
                         f"{meta.get('approach')!r}, arm {meta.get('arm')!r}): written by an older version; "
                         "train the approach again")
    length = meta.get("window_length", evaluation.WINDOW)
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"{path}: window_length {length!r} is not a positive integer; train the approach again")
    return meta


def load(dataset: str, arm: str, seed: int = 0) -> SavedRun:
    """The fold models of the saved run of ``arm``, through its approach's ``load``, and its OOF rows, all
    read under the lock a training run commits under: never half of one run and half of the next."""
    with _commit_lock(dataset, arm, seed):
        meta = read_meta(dataset, arm, seed)
        run = module(meta["approach"]).load(dataset, arm, seed, meta)
        run.oof = evaluation.load_oof(dataset, arm, seed)
    return run


@contextlib.contextmanager
def _commit_lock(dataset: str, arm: str, seed: int):
    folder = evaluation.checkpoint_dir(dataset, arm, seed).parent
    if not os.access(folder, os.W_OK):  # results a user may only read: no run can commit there either
        yield
        return
    with exclusive_lock(folder / f".{arm}.lock", what=f"the run of arm {arm!r}", log=_say):
        yield


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def train_hint(dataset: str, arm: str, seed: int = 0) -> str:
    """What to run to get ``arm``: the command of the approach it belongs to, or the trained arms."""
    train = f"python -m quake_lib train --dataset {dataset}{f' --seed {seed}' if seed else ''} --approach"
    owner = next((a for a in registry.APPROACHES.values() if arm in a.arms), None)
    if owner is not None:
        return f"run `{train} {owner.name}` first"
    if arm in registry.APPROACHES:
        trained = [a for a in registry.get(arm).arms
                   if (evaluation.checkpoint_dir(dataset, a, seed) / evaluation.RUN_META).is_file()]
        return (f"{arm!r} is an approach, not an arm: its arms are {', '.join(registry.get(arm).arms)}"
                + (f" (trained: {', '.join(trained)})" if trained else f"; run `{train} {arm}` first"))
    return f"train its approach first (`{train} NAME`); the arms of the comparison: {', '.join(registry.arms())}"


class _Network:
    """A fold's trained module: its default readout, and its quantile readouts as bounds when its head
    has them (a binned head)."""

    def __init__(self, module, batch_size: int):
        self.module, self.batch_size = module, batch_size

    def predict(self, x: np.ndarray) -> FoldPrediction:
        # the device is chosen when predicting: a run trained on a GPU predicts on a CPU too
        self.module.to("cuda" if torch.cuda.is_available() else "cpu")
        reads = predict_array(self.module, x, self.batch_size)
        lower, upper = (reads.get(name) for name in QUANTILE_READOUTS)
        return FoldPrediction(reads[self.module.head.default_readout], lower, upper)


def load_networks(dataset: str, arm: str, seed: int, meta: dict, batch_size: int = 32) -> SavedRun:
    """A network arm's fold modules, each rebuilt from its checkpoint alone (:func:`load_module`): every
    one loads, or the error names its file, before any segment is read."""
    modules = [load_module(path)[0] for path in evaluation.fold_files(dataset, arm, seed, ".pt")]
    return SavedRun(meta["approach"], arm, meta["window_length"], [_Network(m, batch_size) for m in modules])
