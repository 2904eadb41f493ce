"""The comparison: every arm side by side, from the results the arms saved (nothing is trained).

- :func:`inventory`: which arms of the main comparison have OOF predictions, which are missing
  (their chapter has not run), and which other results exist (study arms, ensembles: left out);
- :func:`load_main`: their OOF predictions (each arm's default readout), checked to cover the
  same windows, the same folds;
- :func:`ensembles`: two simple ensembles, computed on the same windows, nothing refitted on held-out
  data: ``ensemble`` (the mean of every present arm except the constant, a rule fixed before
  looking at any score) and ``ensemble_top<k>`` (for each fold, the mean of the ``k`` arms with
  the lowest MAE on the *other* folds' windows: nested, the held-out fold's targets never choose);
- :func:`error_by_ttf` (where each fails), :func:`cost_table` (training time, parameters, throughput
  as the training runs logged them); the scores over seeds and folds are in :mod:`.seeds`.

Figures: :mod:`quake_lib.figures.ch06_comparison`. Which arms are compared is the registry's
list (:func:`quake_lib.approaches.registry.arms`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import paths
from ..approaches import registry
from ..constants import TARGET_MAX_S
from .oof import OOF_COLUMNS, checkpoint_dir, load_metrics, load_oof, metrics_path
from .staging import RUN_META

# Everything else found (the STFT study's spec_study_* arms: a design study, not competitors; other
# variants) is listed and left out; the ensembles are made by this chapter, never read as members.
ENSEMBLE = "ensemble"
# time_to_failure bins for "where does each arm fail": right after a quake (large ttf, the
# cycle's start), mid-cycle, right before the next one (small ttf)
TTF_EDGES = (0.0, 1.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, TARGET_MAX_S)


@dataclass
class Inventory:
    present: list[str]   # main arms with OOF predictions, in the registry's order
    missing: list[str]   # main arms without (their chapter has not run on this dataset)
    others: list[str]    # other OOF files found, left out of the comparison

    def __str__(self) -> str:
        return (f"in the comparison ({len(self.present)}): {', '.join(self.present) or '-'}\n"
                f"missing, their chapter has not run ({len(self.missing)}): {', '.join(self.missing) or '-'}\n"
                f"other results, left out ({len(self.others)}): {', '.join(self.others) or '-'}")


def inventory(dataset: str, main=None, seed: int = 0) -> Inventory:
    main = registry.arms() if main is None else main
    directory = paths.results_dir(dataset, seed)
    found = sorted(p.stem[len("oof_"):] for p in directory.glob("oof_*.csv")) if directory.exists() else []
    present = [a for a in main if a in found]
    missing = [a for a in main if a not in found]
    others = [a for a in found if a not in main and not a.startswith(ENSEMBLE)]  # ensembles: made here
    return Inventory(present, missing, others)


def load_main(dataset: str, arms, seed: int = 0, keep=()) -> pd.DataFrame:
    """The OOF rows (common columns; ``prediction`` = each arm's default readout) of ``arms``
    trained with ``seed``, after checking that they all predict the same windows with the same folds.
    ``keep``: further columns to keep where an arm has them (NaN elsewhere)."""
    arms = list(arms)
    if not arms:
        raise FileNotFoundError(f"no OOF predictions of any arm under {paths.results_dir(dataset, seed)}: "
                                "run the approaches' notebooks (or `python -m quake_lib train --approach ...`) first")
    frames = [load_oof(dataset, a, seed) for a in arms]
    df = pd.concat([f[list(OOF_COLUMNS) + [c for c in keep if c in f.columns]] for f in frames],
                   ignore_index=True)
    check_same_windows(df)
    return df


def check_same_windows(df: pd.DataFrame) -> None:
    """Every arm must be scored on the same (start, cycle, fold) rows, or the comparison is void."""
    keys = {a: set(map(tuple, part[["start", "cycle", "fold"]].to_numpy().tolist()))
            for a, part in df.groupby("arm", sort=False)}
    first, ref = next(iter(keys.items()))
    for a, k in keys.items():
        if k != ref:
            raise ValueError(f"arm {a!r} was scored on other windows or folds than {first!r} "
                             f"({len(k ^ ref)} rows differ): rerun it on the fixed evaluation grid and folds")


def _wide(df: pd.DataFrame) -> pd.DataFrame:
    """One row per window (index start; fold, cycle, target), one prediction column per arm."""
    wide = df.pivot(index="start", columns="arm", values="prediction")
    info = df.drop_duplicates("start").set_index("start")[["fold", "cycle", "target"]]
    return info.join(wide)


def _frame(wide: pd.DataFrame, name: str, values) -> pd.DataFrame:
    return pd.DataFrame({"arm": name, "fold": wide["fold"].to_numpy(), "cycle": wide["cycle"].to_numpy(),
                         "start": wide.index.to_numpy(), "target": wide["target"].to_numpy(),
                         "prediction": np.asarray(values, dtype=np.float64)})


def ensembles(df: pd.DataFrame, top_k: int = 3, exclude=("constant",)) -> pd.DataFrame:
    """OOF rows of ``ensemble`` (mean of every arm in ``df`` but ``exclude``) and, if there are
    more than ``top_k`` members, ``ensemble_top<k>`` (per fold, the mean of the ``top_k`` members
    with the lowest MAE on the windows of the other folds)."""
    members = [a for a in dict.fromkeys(df["arm"]) if a not in exclude]
    if not members:
        raise ValueError(f"no ensemble member: every arm in the frame is excluded ({list(exclude)})")
    wide = _wide(df[df["arm"].isin(members)]).sort_values(["fold", "start"])
    parts = [_frame(wide, ENSEMBLE, wide[members].mean(axis=1))]
    if len(members) > top_k:
        err = wide[members].sub(wide["target"], axis=0).abs()
        chosen = []
        for fold in sorted(wide["fold"].unique()):
            rest = wide["fold"] != fold
            best = err[rest].mean().nsmallest(top_k).index.tolist()  # chosen without this fold's targets
            chosen.append(wide.loc[~rest, best].mean(axis=1))
        parts.append(_frame(wide, f"{ENSEMBLE}_top{top_k}", pd.concat(chosen).loc[wide.index]))
    return pd.concat(parts, ignore_index=True)


def ttf_bins(target, edges=TTF_EDGES) -> pd.Categorical:
    """The time_to_failure bin of each target, labelled ``lo-hi`` (seconds)."""
    labels = [f"{lo:g}-{hi:g}" for lo, hi in zip(edges[:-1], edges[1:])]
    return pd.cut(target, bins=list(edges), labels=labels, include_lowest=True)


def error_by_ttf(df: pd.DataFrame, edges=TTF_EDGES) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """MAE and mean signed error (prediction - target) per arm (rows) and time_to_failure bin
    (columns), and the number of windows per bin. Empty bins are dropped."""
    b = ttf_bins(df["target"], edges)
    d = df.assign(ttf_bin=b, err=df["prediction"] - df["target"])
    d = d.dropna(subset=["ttf_bin"])
    g = d.groupby(["arm", "ttf_bin"], observed=True)["err"]
    mae = g.apply(lambda e: e.abs().mean()).unstack("ttf_bin")
    bias = g.mean().unstack("ttf_bin")
    counts = d.drop_duplicates("start").groupby("ttf_bin", observed=True).size().rename("windows")
    order = [a for a in dict.fromkeys(df["arm"]) if a in mae.index]
    return mae.loc[order], bias.loc[order], counts


def _net_meta(dataset: str, arm: str, seed: int = 0) -> dict:
    path = checkpoint_dir(dataset, arm, seed) / "fold_0.pt"
    if not path.exists():
        return {}
    import torch
    return torch.load(path, map_location="cpu", weights_only=True).get("meta", {})


def cost_table(dataset: str, arms, seed: int = 0) -> pd.DataFrame:
    """Per arm, as its training runs logged it: training seconds summed over folds (training
    batches, and with the per-epoch held-out diagnostics), epochs, mean training throughput (windows/s)
    and parameter count (from the fold checkpoints' meta). LightGBM: its fit seconds over folds.
    Times are those of the machine and the load it ran under: indications, not benchmarks."""
    rows = []
    for a in arms:
        row = {"arm": a, "train_s": np.nan, "train_and_eval_s": np.nan, "epochs": np.nan,
               "windows_per_s": np.nan, "n_parameters": np.nan}
        if metrics_path(dataset, a, seed).exists():
            m = load_metrics(dataset, a, seed)
            row["train_s"] = m["train_seconds"].sum() if "train_seconds" in m else np.nan
            row["train_and_eval_s"] = m["epoch_seconds"].sum() if "epoch_seconds" in m else np.nan
            row["epochs"] = m.groupby("fold")["epoch"].max().mean() + 1 if len(m) else np.nan
            if "train_windows_per_s" in m:
                row["windows_per_s"] = m["train_windows_per_s"].mean()
        run_meta = checkpoint_dir(dataset, a, seed) / RUN_META
        fit_seconds = json.loads(run_meta.read_text()).get("fold_seconds") if run_meta.exists() else None
        if fit_seconds is not None:  # an arm without epochs (LightGBM) records its fits' seconds there
            row["train_s"] = float(sum(fit_seconds))
        row["n_parameters"] = _net_meta(dataset, a, seed).get("n_parameters", np.nan)
        rows.append(row)
    return pd.DataFrame(rows).set_index("arm")
