"""What the data-size study records beside each point's results: each job's cost, and the fold models'
error on their own training windows (the train/held-out gap).

Both live in the point's ``results/`` folder (``study_costs.csv``, ``study_train_mae.csv``), one row per
arm and seed, and name the OOF file they belong to by its hash: a row whose run was trained again since
(by a chapter, ``train`` or the study) no longer matches and is ignored, so a record never describes
another run than the one saved. Each file is rewritten whole through a temporary file.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import evaluation, paths
from ..approaches import protocol
from ..atomic import atomic_path
from ..data import datasets, source
from ..data.recording import Recording, Windows

COSTS = "study_costs.csv"
TRAIN_MAE = "study_train_mae.csv"
COST_COLUMNS = ["point", "seed", "approach", "arm", "seconds", "peak_rss_gb", "profile", "oof_hash"]
TRAIN_COLUMNS = ["seed", "arm", "fold", "train_mae", "oof_hash"]


def _path(dataset: str, name: str):
    return paths.results_dir(dataset, 0) / name


def _oof_hash(dataset: str, arm: str, seed: int) -> str | None:
    path = evaluation.oof_path(dataset, arm, seed)
    return source.file_hash(path) if path.is_file() else None


def _append(path, rows: pd.DataFrame, replace_keys: list[str]) -> None:
    old = pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=rows.columns)
    if len(old):
        keys = rows[replace_keys].drop_duplicates()
        old = old.merge(keys, on=replace_keys, how="left", indicator=True)
        old = old[old["_merge"] == "left_only"].drop(columns="_merge")
    out = pd.concat([old, rows], ignore_index=True) if len(old) else rows
    with atomic_path(path) as tmp:
        out.to_csv(tmp, index=False)


def _current(df: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """The rows whose OOF file is still the saved one."""
    if not len(df):
        return df
    now = {(int(s), a): _oof_hash(dataset, a, int(s)) for s, a in df[["seed", "arm"]].drop_duplicates().itertuples(
        index=False)}
    keep = [now[(int(s), a)] == h for s, a, h in df[["seed", "arm", "oof_hash"]].itertuples(index=False)]
    return df[np.array(keep, dtype=bool)].reset_index(drop=True)


def record_cost(dataset: str, seed: int, approach: str, arm: str, seconds: float, peak_rss_gb: float,
                profile: str) -> None:
    row = pd.DataFrame([{"point": dataset, "seed": seed, "approach": approach, "arm": arm, "seconds": seconds,
                         "peak_rss_gb": peak_rss_gb, "profile": profile,
                         "oof_hash": _oof_hash(dataset, arm, seed)}], columns=COST_COLUMNS)
    _append(_path(dataset, COSTS), row, ["seed", "arm"])


def costs(dataset: str) -> pd.DataFrame:
    """The recorded cost of each saved run of ``dataset`` (seconds of its job, shared equally by the arms
    trained together; peak resident memory of the job's process)."""
    path = _path(dataset, COSTS)
    df = pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=COST_COLUMNS)
    return _current(df, dataset)


def training_sample(windows: Windows, n: int) -> Windows:
    """``n`` evaluation windows evenly spaced over the recording (all if fewer)."""
    pick = np.unique(np.linspace(0, len(windows) - 1, min(n, len(windows))).round().astype(int))
    return windows.subset(pick)


def record_train_mae(rec: Recording, folds, arms, seed: int, n: int) -> None:
    """Each fold model's MAE on the evenly spaced sample of windows of its own training cycles, for each of
    ``arms`` (an arm with one model for every fold, the constant, has none). The sample is read once, and
    turned once into what each kind of model reads (the Kaggle feature table serves every arm on it)."""
    sample = training_sample(evaluation.eval_windows(rec), n)
    raw = rec.read(sample)
    prepared = {}
    for arm in arms:
        run = protocol.load(rec.name, arm, seed)
        if len(run.models) != len(folds):
            continue
        if run.prepare not in prepared:
            prepared[run.prepare] = run.prepare(raw)
        inputs = prepared[run.prepare]
        rows = []
        for model, fold in zip(run.models, sorted(folds, key=lambda f: f.index)):
            mine = np.isin(sample.cycles, fold.train_cycles)
            pred = np.asarray(model.predict(inputs).value, dtype=np.float64)
            rows.append({"seed": seed, "arm": arm, "fold": fold.index,
                         "train_mae": float(np.abs(pred[mine] - sample.targets[mine]).mean())})
        out = pd.DataFrame(rows).assign(oof_hash=_oof_hash(rec.name, arm, seed))
        _append(_path(rec.name, TRAIN_MAE), out[TRAIN_COLUMNS], ["seed", "arm"])


def train_mae(dataset: str, seed: int) -> pd.DataFrame:
    """``arm, fold, train_mae`` recorded for the saved runs of ``seed``."""
    path = _path(dataset, TRAIN_MAE)
    df = pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=TRAIN_COLUMNS)
    df = _current(df[df["seed"] == seed], dataset)
    return df[["arm", "fold", "train_mae"]]


def fill_train_mae(dataset: str, seed: int, arms, n: int) -> None:
    """Record the training error of the saved runs of ``arms`` that have none (e.g. a chapter's)."""
    done = set(train_mae(dataset, seed)["arm"])
    todo = [a for a in arms if a not in done and a != "constant"
            and (evaluation.checkpoint_dir(dataset, a, seed) / evaluation.RUN_META).is_file()]
    if todo:
        rec = datasets.prepare(dataset)
        record_train_mae(rec, evaluation.make_folds(rec), todo, seed, n)


def estimate_seconds(jobs, profile: str) -> float:
    """Seconds the ``jobs`` (of :mod:`.scaling`) should take, from the costs recorded so far: the mean per
    arm of the same approach at the same point, else at any point, else of any job (0 with no record)."""
    points = {j.dataset for j in jobs}
    frames = [costs(p) for p in points]
    df = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else None
    if df is None:
        return 0.0
    df = df[df["profile"] == profile]
    total = 0.0
    for j in jobs:
        same = df[(df["approach"] == j.approach) & ~df["arm"].str.endswith("_budget")]
        here = same[same["point"] == j.dataset]
        per_arm = (here if len(here) else same if len(same) else df)["seconds"].mean()
        total += (0.0 if np.isnan(per_arm) else per_arm) * len(j.arms) * (j.budget or 1.0)
    return total
