"""Central prediction intervals (level :data:`LEVEL`) for every arm, and how well they cover held-out cycles.

Two ways to get the interval ``[lo, hi]`` of a window's time_to_failure, both on OOF frames (columns
``arm, fold, cycle, start, target, prediction`` and, for binned heads, :data:`QUANTILE_COLUMNS`):

- :func:`native`: the model's own quantiles, the 0.1 and 0.9 quantiles of a binned head's predicted
  distribution (:func:`quake_lib.train.heads.readouts_from_probs`). Nothing is fitted here: whether
  the net's probabilities are calibrated is exactly what the coverage then measures.
- :func:`conformal`: split conformal with cross-fitted residuals. For held-out fold ``k`` the 0.1 and
  0.9 quantiles of the signed residuals ``target - prediction`` of the *other* folds' OOF rows (each
  predicted by a model that never trained on it) are added to fold ``k``'s predictions. Fold ``k``'s
  targets never enter its own interval; the models that predicted the calibration rows did train on
  fold ``k``'s cycles, a second-order link that only nested cross-validation (retraining) would cut.

Every conformal path goes through :func:`calibrate`, which refuses calibration rows of the held-out
fold or of its cycles: coverage measured with such an interval would be a score on seen data.

Coverage is exchangeable only at the level of cycles (windows of one cycle are strongly correlated,
folds hold whole cycles), so a fold's coverage can miss the nominal level by more than its window
count suggests; the spread over folds in :func:`interval_table` is the honest yardstick.

With a ``seed`` column, each (arm, seed) is a separate run: calibrated on its own residuals only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .compare import TTF_EDGES, ttf_bins
from .oof import LEVEL, QUANTILE_COLUMNS, QUANTILE_READOUTS, QUANTILES  # noqa: F401 (this module's API too)

NATIVE, CONFORMAL = "native", "conformal"
# One global calibration per fold by default: Mondrian by predicted-value tertiles (bins=3) gives each
# bin a third of the rows (noisier quantiles) and on the synthetic default results (seed 0, 305
# windows) it moved the coverage per time_to_failure bin towards 80% for some arms and away
# for others (further from it in the 0-1 s bin for all but the constant): no clear gain.
DEFAULT_BINS = 1


def _min_rows() -> int:
    """Fewest calibration residuals for which both finite-sample-corrected ranks exist (9 at 80%)."""
    return math.ceil(1.0 / min(QUANTILES[0], 1.0 - QUANTILES[1]) - 1e-9) - 1


MIN_ROWS = _min_rows()


def residual_quantiles(residuals) -> tuple[float, float]:
    """The lower and upper :data:`QUANTILES` of ``residuals`` with the split-conformal finite-sample
    correction: the ``floor((n+1) q_lo)``-th and ``ceil((n+1) q_hi)``-th smallest, so that each tail of a
    new exchangeable residual is missed with probability at most ``q_lo`` (resp. ``1 - q_hi``)."""
    r = np.sort(np.asarray(residuals, dtype=np.float64).reshape(-1))
    n = len(r)
    if n < MIN_ROWS:
        raise ValueError(f"residuals: need at least {MIN_ROWS} calibration rows for a {LEVEL:.0%} interval "
                         f"(got {n})")
    if not np.isfinite(r).all():
        raise ValueError("residuals must be finite; found NaN or infinity (a target or prediction is missing)")
    k_lo = math.floor((n + 1) * QUANTILES[0] + 1e-9)   # 1-based ranks; the epsilon absorbs 10 * 0.9 = 8.999..
    k_hi = math.ceil((n + 1) * QUANTILES[1] - 1e-9)
    return float(r[k_lo - 1]), float(r[k_hi - 1])


@dataclass(frozen=True)
class Calibration:
    """Residual quantiles to add to a prediction, per bin of the predicted value (one bin: global)."""
    held_out_fold: int | None     # the fold it may be applied to (None: rows outside the OOF frame)
    edges: tuple[float, ...]      # inner edges on the predicted value; () = one global bin
    lo: tuple[float, ...]         # per bin: quantile QUANTILES[0] of target - prediction (s)
    hi: tuple[float, ...]         # per bin: quantile QUANTILES[1] (s)
    n: tuple[int, ...]            # calibration rows per bin

    def apply(self, prediction) -> tuple[np.ndarray, np.ndarray]:
        """``(lo, hi)`` for ``prediction``, both clipped at 0 (time_to_failure is never negative)."""
        p = np.asarray(prediction, dtype=np.float64).reshape(-1)
        b = np.searchsorted(np.asarray(self.edges, dtype=np.float64), p, side="right")
        lo = np.clip(p + np.asarray(self.lo)[b], 0.0, None)
        hi = np.clip(p + np.asarray(self.hi)[b], 0.0, None)
        return lo, hi


def calibrate(calibration_rows: pd.DataFrame, held_out_fold: int | None, held_out_cycles=(),
              bins: int = DEFAULT_BINS) -> Calibration:
    """The one way to a conformal :class:`Calibration`: from ``calibration_rows`` (OOF rows of one run,
    i.e. one arm and seed) for predictions of ``held_out_fold`` whose windows lie in
    ``held_out_cycles``. ``held_out_fold=None``: the predicted rows are outside the OOF frame (Kaggle
    test segments), every OOF row may calibrate.

    Refused (ValueError): a calibration row of the held-out fold or of one of its cycles (the interval
    would be calibrated on the targets it is then scored on), rows of several arms or seeds
    (residuals of another model say nothing of this one's), fewer than :data:`MIN_ROWS` rows.
    ``bins`` > 1: Mondrian, a calibration per quantile bin of the calibration rows' predictions; a
    bin with fewer than :data:`MIN_ROWS` rows makes the whole calibration global."""
    missing = [c for c in ("fold", "cycle", "target", "prediction") if c not in calibration_rows.columns]
    if missing:
        raise ValueError(f"calibration_rows lack columns {missing}; expected OOF rows "
                         "(fold, cycle, target, prediction)")
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive integer (got {bins!r})")
    for col in ("arm", "seed"):
        if col in calibration_rows.columns and calibration_rows[col].nunique(dropna=False) > 1:
            raise ValueError(f"calibration_rows mix {calibration_rows[col].nunique()} values of {col!r} "
                             f"({sorted(map(str, calibration_rows[col].unique()))[:4]}); calibrate each run "
                             "on its own residuals")
    if held_out_fold is not None:
        peek = calibration_rows["fold"] == held_out_fold
        if peek.any():
            cycles = sorted(int(c) for c in calibration_rows.loc[peek, "cycle"].unique())
            raise ValueError(f"calibration_rows hold {int(peek.sum())} rows of the held-out fold {held_out_fold} "
                             f"(cycles {cycles}): an interval calibrated on the held-out fold is refused; "
                             "calibrate on the other folds' rows")
    shared = sorted(set(calibration_rows["cycle"].astype(int)) & {int(c) for c in held_out_cycles})
    if shared:
        raise ValueError(f"calibration_rows share cycles {shared} with the held-out fold {held_out_fold}: "
                         "an interval calibrated on held-out cycles is refused")
    if len(calibration_rows) < MIN_ROWS:
        raise ValueError(f"calibration_rows: need at least {MIN_ROWS} rows for a {LEVEL:.0%} interval for "
                         f"held-out fold {held_out_fold} (got {len(calibration_rows)}); is there only one fold?")
    pred = calibration_rows["prediction"].to_numpy(np.float64)
    resid = calibration_rows["target"].to_numpy(np.float64) - pred
    edges = np.unique(np.quantile(pred, np.arange(1, bins) / bins)) if bins > 1 else np.empty(0)
    which = np.searchsorted(edges, pred, side="right")
    counts = np.bincount(which, minlength=len(edges) + 1)
    if len(edges) and counts.min() < MIN_ROWS:
        edges, which, counts = np.empty(0), np.zeros(len(pred), dtype=int), np.array([len(pred)])
    qs = [residual_quantiles(resid[which == b]) for b in range(len(edges) + 1)]
    return Calibration(held_out_fold, tuple(map(float, edges)), tuple(q[0] for q in qs),
                       tuple(q[1] for q in qs), tuple(int(c) for c in counts))


def _runs(df: pd.DataFrame) -> list[str]:
    """The columns that name one run: the arm, and the seed when the frame has several."""
    return ["arm", "seed"] if "seed" in df.columns else ["arm"]


def native(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` (index reset) with ``lo``, ``hi`` from the model's own :data:`QUANTILE_COLUMNS` (clipped at 0)
    and ``interval`` = 'native'; an error if a row lacks them."""
    df = df.reset_index(drop=True)
    absent = [c for c in QUANTILE_COLUMNS if c not in df.columns]
    bad = df[list(QUANTILE_COLUMNS)].isna().any(axis=1) if not absent else pd.Series(True, index=df.index)
    if bad.any():
        raise ValueError(f"native intervals need the columns {list(QUANTILE_COLUMNS)} (a binned head's "
                         f"quantile readouts); arms {sorted(df.loc[bad, 'arm'].unique())} lack them: "
                         "use conformal()")
    lo = df[QUANTILE_COLUMNS[0]].to_numpy(np.float64)
    hi = df[QUANTILE_COLUMNS[1]].to_numpy(np.float64)
    if (lo > hi).any():
        raise ValueError(f"{QUANTILE_COLUMNS[0]} exceeds {QUANTILE_COLUMNS[1]} in {int((lo > hi).sum())} rows; "
                         "expected the lower quantile first")
    return df.assign(lo=np.clip(lo, 0.0, None), hi=np.clip(hi, 0.0, None), interval=NATIVE)


def conformal(df: pd.DataFrame, bins: int = DEFAULT_BINS) -> pd.DataFrame:
    """``df`` (index reset) with ``lo``, ``hi`` and ``interval`` = 'conformal': each run's held-out fold
    ``k`` gets its predictions plus the residual quantiles of that run's other folds
    (:func:`calibrate`), clipped at 0."""
    df = df.reset_index(drop=True)
    lo = np.full(len(df), np.nan)
    hi = np.full(len(df), np.nan)
    for _, run in df.groupby(_runs(df), sort=False):
        for fold, held in run.groupby("fold", sort=False):
            cal = calibrate(run[run["fold"] != fold], fold, held_out_cycles=held["cycle"].unique(), bins=bins)
            lo[held.index], hi[held.index] = cal.apply(held["prediction"])
    return df.assign(lo=lo, hi=hi, interval=CONFORMAL)


def has_native(df: pd.DataFrame) -> bool:
    """Whether every row of ``df`` carries the model's own quantiles."""
    return all(c in df.columns for c in QUANTILE_COLUMNS) and bool(df[list(QUANTILE_COLUMNS)].notna().all().all())


def with_intervals(df: pd.DataFrame, method: str = "auto", bins: int = DEFAULT_BINS) -> pd.DataFrame:
    """Every arm's rows with ``lo``, ``hi`` and ``interval`` (the method): ``auto`` = native where
    the run (arm, seed) has its own quantiles, else conformal; ``native`` or ``conformal`` for all.
    Load the OOF rows with ``keep=QUANTILE_COLUMNS`` (:func:`~quake_lib.evaluation.compare.load_main`,
    :func:`~quake_lib.evaluation.seeds.load_seeds`), or every binned head falls back to conformal."""
    if method not in ("auto", NATIVE, CONFORMAL):
        raise ValueError(f"method must be 'auto', {NATIVE!r} or {CONFORMAL!r} (got {method!r})")
    df = df.reset_index(drop=True)
    parts = []
    for _, part in df.groupby(_runs(df), sort=False):
        use = method if method != "auto" else (NATIVE if has_native(part) else CONFORMAL)
        done = native(part) if use == NATIVE else conformal(part, bins=bins)
        parts.append(done.set_axis(part.index))
    return pd.concat(parts).sort_index()


# ------------------------------------------------------------------------------------------- scores


def _ensure(df: pd.DataFrame) -> pd.DataFrame:
    return df if {"lo", "hi", "interval"} <= set(df.columns) else with_intervals(df)


def pinball(target, lo, hi) -> np.ndarray:
    """Per row, the mean of the two quantile (pinball) losses, in seconds: of ``lo`` as the
    QUANTILES[0] quantile and of ``hi`` as the QUANTILES[1] quantile. Lower is better; it rewards
    narrow intervals and charges each miss by its distance, unlike coverage alone."""
    y = np.asarray(target, dtype=np.float64)
    out = np.zeros_like(y)
    for q, f in zip(QUANTILES, (lo, hi)):
        u = y - np.asarray(f, dtype=np.float64)
        out += np.maximum(q * u, (q - 1.0) * u)
    return out / len(QUANTILES)


def _scored(df: pd.DataFrame) -> pd.DataFrame:
    df = _ensure(df)
    return df.assign(inside=((df["target"] >= df["lo"]) & (df["target"] <= df["hi"])).astype(np.float64),
                     width=df["hi"] - df["lo"], pinball=pinball(df["target"], df["lo"], df["hi"]))


def coverage(df: pd.DataFrame) -> pd.Series:
    """Per arm, the share of held-out targets inside ``[lo, hi]`` (intervals made by
    :func:`with_intervals` if ``df`` has none)."""
    return _scored(df).groupby("arm", sort=False)["inside"].mean().rename("coverage")


def coverage_by_fold(df: pd.DataFrame) -> pd.DataFrame:
    """Coverage per run (arm; and seed, with a seed column) and held-out fold: columns ``fold_k``."""
    d = _scored(df)
    wide = d.groupby([*_runs(d), "fold"], sort=False)["inside"].mean().unstack("fold")
    wide.columns = [f"fold_{int(k)}" for k in wide.columns]
    return wide


def coverage_by_ttf(df: pd.DataFrame, edges=TTF_EDGES) -> pd.DataFrame:
    """Coverage per arm (rows) and true time_to_failure bin (columns; empty bins dropped). The
    windows per bin are :func:`quake_lib.evaluation.compare.error_by_ttf`'s counts."""
    d = _scored(df)
    d = d.assign(ttf_bin=ttf_bins(d["target"], edges)).dropna(subset=["ttf_bin"])
    out = d.groupby(["arm", "ttf_bin"], observed=True, sort=False)["inside"].mean().unstack("ttf_bin")
    order = [a for a in dict.fromkeys(d["arm"]) if a in out.index]
    return out.loc[order, [c for c in out.columns.categories if c in out.columns]]


def interval_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per arm: ``method`` (native / conformal), pooled ``coverage`` of the held-out targets,
    ``coverage_sd`` (sample sd over folds; over each seed's folds with a seed column) and
    ``coverage_min`` (the worst fold), mean ``width`` (s), mean ``pinball`` loss (s, :func:`pinball`),
    ``n`` windows. Sorted by pinball loss."""
    d = _scored(df)
    folds = d.groupby([*_runs(d), "fold"], sort=False)["inside"].mean().groupby(level="arm", sort=False)
    g = d.groupby("arm", sort=False)
    table = pd.DataFrame({"method": g["interval"].agg(lambda s: "/".join(dict.fromkeys(s))),
                          "coverage": g["inside"].mean(), "coverage_sd": folds.std(ddof=1),
                          "coverage_min": folds.min(), "width": g["width"].mean(),
                          "pinball": g["pinball"].mean(), "n": g.size()})
    return table.sort_values("pinball")
