"""Scores: one MAE table for every arm (per fold, mean, spread across folds, pooled), and
whether a head collapsed to a constant."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .oof import OOF_COLUMNS, QUANTILE_COLUMNS, READOUT_PREFIX


def expand_readouts(df: pd.DataFrame) -> pd.DataFrame:
    """One set of rows per readout: arm ``a`` with a ``prediction_expectation`` column gives rows
    of arm ``a[expectation]`` whose prediction is that readout. The readout that fills
    ``prediction`` itself (e.g. ``median`` for a binned head) is not repeated: the main rows are
    renamed ``a[median]`` instead, so every row of the table names its readout once."""
    df = df.reset_index(drop=True)  # rows are renamed by index label: frames concatenated without
    main = df[list(OOF_COLUMNS)].copy()  # ignore_index repeat labels
    parts = []
    # interval bounds (QUANTILE_COLUMNS) are readouts of a head but not point predictions: not scored
    for col in [c for c in df.columns if c.startswith(READOUT_PREFIX) and c not in QUANTILE_COLUMNS]:
        name = col[len(READOUT_PREFIX):]
        for arm, part in df[df[col].notna()].groupby("arm", sort=False):
            if np.allclose(part[col], part["prediction"]):
                main.loc[part.index, "arm"] = f"{arm}[{name}]"
                continue
            extra = part[list(OOF_COLUMNS)].assign(prediction=part[col])
            extra["arm"] = f"{arm}[{name}]"
            parts.append(extra)
    return pd.concat([main, *parts], ignore_index=True)


def fold_mae(df: pd.DataFrame) -> pd.DataFrame:
    """Long table: arm, fold, n windows, MAE."""
    err = (df["prediction"] - df["target"]).abs()
    g = df.assign(abs_err=err).groupby(["arm", "fold"], sort=False)
    return g["abs_err"].agg(n="size", mae="mean").reset_index()


def mae_table(df: pd.DataFrame, readouts: bool = True, reference: str | None = None) -> pd.DataFrame:
    """One row per arm (and per readout if ``readouts``): ``fold_k`` MAE columns, ``mean`` and
    ``std`` (sample sd, ddof=1) across folds, ``pooled`` MAE over all windows and ``n`` windows;
    with ``reference`` (an arm name) also ``ratio`` = mean / that arm's mean. Sorted by mean."""
    if readouts:
        df = expand_readouts(df)
    per_fold = fold_mae(df)
    wide = per_fold.pivot(index="arm", columns="fold", values="mae")
    wide.columns = [f"fold_{int(k)}" for k in wide.columns]
    wide["mean"] = wide.mean(axis=1)
    wide["std"] = wide[[c for c in wide.columns if c.startswith("fold_")]].std(axis=1, ddof=1)
    pooled = (df["prediction"] - df["target"]).abs().groupby(df["arm"]).agg(["mean", "size"])
    wide["pooled"] = pooled["mean"]
    wide["n"] = pooled["size"]
    if reference is not None:
        if reference not in wide.index:
            raise ValueError(f"reference {reference!r} is not among the arms {list(wide.index)}")
        wide["ratio"] = wide["mean"] / wide.loc[reference, "mean"]
    return wide.sort_values("mean")


def spread_table(df: pd.DataFrame, readouts: bool = True) -> pd.DataFrame:
    """Does an arm collapse to a constant? Per arm (and readout): the sd of its
    predictions within each held-out fold, averaged over folds, beside that of the targets, their
    ratio, and the correlation of prediction and target over all windows. A collapsed head has
    ``sd_ratio`` near 0 and a correlation near 0 (the 2019 regression heads: ~5.85 for everything)."""
    if readouts:
        df = expand_readouts(df)
    g = df.groupby(["arm", "fold"])
    per_fold = pd.DataFrame({"pred_sd": g["prediction"].std(), "target_sd": g["target"].std()})
    out = per_fold.groupby("arm").mean()
    out["sd_ratio"] = out["pred_sd"] / out["target_sd"]
    out["corr"] = df.groupby("arm")[["prediction", "target"]].apply(
        lambda d: d["prediction"].corr(d["target"]))
    out["pred_median"] = df.groupby("arm")["prediction"].median()
    return out.sort_values("sd_ratio")
