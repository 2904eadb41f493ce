"""How the comparison of approaches changes with the amount of data: the tables of chapter 8.

The scaling runner (:mod:`quake_lib.studies.scaling`) trains every arm on synthetic recordings of one
generator at growing size, each a *point*: along the *density* axis (more evaluation windows per cycle,
the same cycles) and the *cycles* axis (more cycles at one density); the smallest point belongs to both.
Every arm of a point is trained with the same leave-cycles-out folds and several seeds. This module only
reads what the runner measured; it trains nothing, reads no file and draws nothing.

Input frames (the runner's loader produces exactly these):

``scores``: one row per (point, seed, arm, fold)
    ``point`` (str, e.g. ``"synthetic"``, ``"scale_d030"``); ``axis`` (str: ``"density"``, ``"cycles"``,
    or ``"both"`` for the point shared by the two axes); ``density`` (float), ``n_cycles`` (int) and
    ``n_windows`` (int: evaluation windows of the point's recording), constant within a point;
    ``seed`` (int); ``arm`` (str); ``fold`` (int); ``mae`` (float: the fold's held-out MAE);
    ``train_mae`` (float or NaN: the fold model's MAE on a sample of its own training windows).
``costs``: one row per job, a (point, seed, approach) trained in one process
    ``point``, ``seed``, ``approach`` (str), ``arms`` (str, comma-joined), ``seconds`` (float: the job's
    wall time), ``peak_rss_gb`` (float: its peak resident memory). Also read: one row per arm of a job,
    ``arm`` in place of ``arms``, the job's seconds shared among its arms. A job of growing-budget arms
    (``*_budget``) counts as its own approach, ``<approach>_budget``.

A seed's MAE at a point is its mean over the folds; an arm's MAE is the mean over seeds of that.
Comparisons with the reference (LightGBM by default) are paired by (fold, seed): the same held-out cycles
and the same seed number, which removes the fold-to-fold variation both share (see
:func:`quake_lib.evaluation.seeds.paired_pairs`, whose tables are reused here on each point's folds).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..approaches import registry
from ..evaluation.seeds import SEED, meets_aim, paired_pairs, seed_table

SCORE_COLUMNS = ("point", "axis", "density", "n_cycles", "n_windows", "seed", "arm", "fold", "mae", "train_mae")
COST_COLUMNS = ("point", "seed", "approach", "seconds", "peak_rss_gb")   # and ``arms`` or ``arm``
AXES = ("density", "cycles")
SHARED = "both"
POINT_COLUMNS = ("axis", "density", "n_cycles", "n_windows")
BUDGET_SUFFIX = "_budget"


def _require(df: pd.DataFrame, columns, name: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{name} frame lacks columns {missing}; expected {list(columns)} (see "
                         "quake_lib.studies.scaling_tables)")


def check_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """``scores`` if it holds the contract: the columns, one row per (point, seed, arm, fold), a measured
    held-out MAE on every row, one axis / density / n_cycles / n_windows per point."""
    _require(scores, SCORE_COLUMNS, "scores")
    if scores.empty:
        raise ValueError("scores frame is empty")
    dup = scores.duplicated(["point", SEED, "arm", "fold"])
    if dup.any():
        raise ValueError(f"scores repeat (point, seed, arm, fold) rows, e.g. "
                         f"{scores.loc[dup, ['point', SEED, 'arm', 'fold']].iloc[0].tolist()}")
    if not np.isfinite(scores["mae"].to_numpy(float)).all():
        raise ValueError("scores hold a missing held-out MAE; every fold's mae must be measured")
    ragged = [c for c in POINT_COLUMNS if (scores.groupby("point")[c].nunique() > 1).any()]
    if ragged:
        raise ValueError(f"{ragged} differ within a point; each point is one recording")
    bad = sorted(set(scores["axis"]) - {*AXES, SHARED})
    if bad:
        raise ValueError(f"unknown axis {bad}; expected {[*AXES, SHARED]}")
    return scores


def points(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per point (its axis, density, n_cycles, n_windows), ordered for display: the density axis
    (the shared point first) by size, then the points of the cycles axis only, by size."""
    pts = scores.groupby("point")[list(POINT_COLUMNS)].first()
    rank = pts["axis"].map({SHARED: 0, "density": 0, "cycles": 1})
    return pts.assign(_rank=rank).sort_values(["_rank", "n_windows"]).drop(columns="_rank")


def along(scores: pd.DataFrame, axis: str) -> pd.DataFrame:
    """The points of ``axis`` (with the shared one), ordered by size."""
    if axis not in AXES:
        raise ValueError(f"axis must be one of {AXES}, not {axis!r}")
    pts = points(scores)
    return pts[pts["axis"].isin([axis, SHARED])].sort_values("n_windows")


def arm_order(arms) -> list[str]:
    """``arms`` in the report's order (the registry's, a budget arm after its base), then the others
    (e.g. the ensembles) by name."""
    known = registry.arms()

    def key(a):
        base = a[:-len(BUDGET_SUFFIX)] if a.endswith(BUDGET_SUFFIX) else a
        return (known.index(base) if base in known else len(known), base, a != base)

    return sorted(set(arms), key=key)


def _as_oof(part: pd.DataFrame) -> pd.DataFrame:
    # one row per fold whose absolute error is that fold's MAE: the seed tables of the main comparison
    # (fold_mae -> seed_table, paired_pairs) then read per-fold scores unchanged
    return pd.DataFrame({"arm": part["arm"].to_numpy(), "fold": part["fold"].to_numpy(),
                         SEED: part[SEED].to_numpy(), "prediction": part["mae"].to_numpy(float), "target": 0.0})


def point_table(scores: pd.DataFrame, reference: str = "lightgbm") -> pd.DataFrame:
    """One row per (point, arm): the point's columns, ``mean`` (MAE: mean over seeds of the per-seed fold
    mean), ``seed_sd`` (sd over seeds of that mean; NaN with one seed), ``fold_sd`` (sd over folds of the
    seed-averaged per-fold MAE), ``n_seeds``, ``ratio`` (mean / the reference's mean at the point), the
    paired (fold, seed) comparison with the reference on the pairs both have (``mean_diff``, ``sd_diff``:
    arm minus reference, negative = better; ``better`` / ``worse``: pairs favouring the arm / the reference;
    ``n_pairs``; NaN on the reference's own row), and ``gap`` (held-out MAE minus training MAE on the folds
    that measured both: the generalization gap; NaN where train_mae was not measured)."""
    check_scores(scores)
    pts = points(scores)
    rows = []
    for point in pts.index:
        part = scores[scores["point"] == point]
        if reference not in set(part["arm"]):
            raise ValueError(f"point {point!r} has no scores of the reference {reference!r}; "
                             f"arms there: {arm_order(part['arm'])}")
        oof = _as_oof(part)
        st = seed_table(oof)[["mean", "seed_sd", "fold_sd", "n_seeds"]]
        st["ratio"] = st["mean"] / st.loc[reference, "mean"]
        pairs = paired_pairs(oof, reference)[["mean_diff", "sd_diff", "better", "worse", "n_pairs"]]
        both = part.dropna(subset=["train_mae"])
        gap = (both["mae"] - both["train_mae"]).groupby(both["arm"]).mean()
        out = st.join(pairs.astype(float)).assign(gap=gap.reindex(st.index))
        out = out.reindex(pd.Index(arm_order(out.index), name="arm"))
        for c in POINT_COLUMNS:
            out[c] = pts.loc[point, c]
        rows.append(out.reset_index().assign(point=point))
    table = pd.concat(rows, ignore_index=True)
    table["n_seeds"] = table["n_seeds"].astype(int)
    return table[["point", *POINT_COLUMNS, "arm", "mean", "seed_sd", "fold_sd", "n_seeds", "ratio", "mean_diff",
                  "sd_diff", "better", "worse", "n_pairs", "gap"]]


def wide(table: pd.DataFrame, value: str = "mean") -> pd.DataFrame:
    """Point x arm view of one column of :func:`point_table` (rows in :func:`points` order, arms in
    :func:`arm_order`); an arm missing at a point (a budget arm) is NaN there."""
    order = points(table).index
    out = table.pivot(index="point", columns="arm", values=value).reindex(index=order)
    out = out[arm_order(out.columns)]
    out.columns.name = None
    return out


@dataclass(frozen=True)
class Crossover:
    """Where an arm's MAE ratio to the reference crosses 1 along an axis, in evaluation windows.

    ``n_windows``: the estimate (None when the measured ratios never cross; ``reason`` says on which
    side they stay); ``direction``: "falls below 1" (the arm overtakes the reference as data grow) or
    "rises above 1"; ``low`` / ``high``: the central ``level`` interval of the crossing over the bootstrap
    resamples that cross within the measured sizes; ``share``: the share of resamples that do.
    ``sizes`` / ``ratios``: the measured points the estimate interpolates."""
    arm: str
    reference: str
    axis: str
    n_windows: float | None
    reason: str | None
    direction: str | None
    low: float | None
    high: float | None
    share: float
    n_boot: int
    level: float
    sizes: tuple[int, ...]
    ratios: tuple[float, ...]


def _last_crossing(log_n: np.ndarray, log_r: np.ndarray) -> np.ndarray:
    """Per row of ``log_r`` (resamples x sizes): log of the size where log(ratio) last changes side of 0,
    linear in log(size) between the two points around it; NaN where it never does. The last crossing
    is the one beyond which the ratio stays on one side up to the largest measured size."""
    above = log_r > 0
    change = above[:, 1:] != above[:, :-1]
    out = np.full(len(log_r), np.nan)
    rows = np.flatnonzero(change.any(axis=1))
    if rows.size:
        i = change.shape[1] - 1 - np.argmax(change[rows, ::-1], axis=1)
        r0, r1 = log_r[rows, i], log_r[rows, i + 1]
        out[rows] = log_n[i] + (0 - r0) * (log_n[i + 1] - log_n[i]) / (r1 - r0)
    return out


def crossover(scores: pd.DataFrame, arm: str, reference: str = "lightgbm", axis: str = "density",
              n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> Crossover:
    """Where along ``axis`` the ratio of ``arm``'s mean MAE to ``reference``'s crosses 1: linear
    interpolation of log(ratio) against log(n_windows) between consecutive points. Each point's ratio is
    taken over the (fold, seed) pairs both arms have; the bootstrap resamples those pairs within each
    point (independently across points), so its spread is what a new draw of folds and seeds would move.
    Deterministic given ``seed``."""
    check_scores(scores)
    pts = along(scores, axis)
    sizes, pairs = [], []
    for point, n in pts["n_windows"].items():
        part = scores[(scores["point"] == point) & scores["arm"].isin([arm, reference])]
        both = part.pivot(index=[SEED, "fold"], columns="arm", values="mae").reindex(columns=[arm, reference])
        both = both.dropna()
        if len(both):
            sizes.append(int(n))
            pairs.append(both.to_numpy(float))
    if len(sizes) < 2:
        raise ValueError(f"{arm!r} and {reference!r} share (fold, seed) pairs at {len(sizes)} point(s) of the "
                         f"{axis} axis; a crossing needs two or more")
    log_n = np.log(np.asarray(sizes, float))
    ratios = np.array([p[:, 0].mean() / p[:, 1].mean() for p in pairs])
    rng = np.random.default_rng(seed)
    boot = np.empty((n_boot, len(pairs)))
    for j, p in enumerate(pairs):
        idx = rng.integers(0, len(p), size=(n_boot, len(p)))
        boot[:, j] = p[idx, 0].mean(axis=1) / p[idx, 1].mean(axis=1)
    crossed = _last_crossing(log_n, np.log(boot))
    hit = crossed[np.isfinite(crossed)]
    tail = (1 - level) / 2
    low, high = (float(v) for v in np.exp(np.quantile(hit, [tail, 1 - tail]))) if hit.size else (None, None)
    est = _last_crossing(log_n, np.log(ratios)[None, :])[0]
    if np.isfinite(est):
        n_est, reason = float(np.exp(est)), None
        direction = "falls below 1" if ratios[-1] < 1 else "rises above 1"
    else:
        n_est, direction = None, None
        reason = "above 1 at every size" if ratios[-1] > 1 else "below 1 at every size"
    return Crossover(arm, reference, axis, n_est, reason, direction, low, high, float(hit.size / n_boot), n_boot,
                     level, tuple(sizes), tuple(float(r) for r in ratios))


def aim(table: pd.DataFrame, ratio: float = 0.95, share: float = 0.8) -> pd.DataFrame:
    """The rows of :func:`point_table` whose arm reaches <= ``ratio`` x the reference's mean MAE at its
    point and is better in >= ``share`` of the pairs (12 of 15 for 5 folds x 3 seeds); the baselines are
    never counted (:func:`quake_lib.evaluation.seeds.meets_aim`, applied point by point)."""
    hits = [meets_aim(part.set_index("arm"), ratio, share).reset_index() for _, part in table.groupby("point")]
    out = pd.concat(hits, ignore_index=True) if hits else table.iloc[:0]
    order = {p: i for i, p in enumerate(points(table).index)}
    return out.sort_values(["point", "ratio"], key=lambda s: s.map(order) if s.name == "point" else s)[table.columns]


def _cost_jobs(costs: pd.DataFrame) -> pd.DataFrame:
    """One row per (point, seed, approach): seconds summed over the rows, the largest peak memory; a job of
    budget arms under ``<approach>_budget``."""
    _require(costs, COST_COLUMNS, "costs")
    per_arm = "arm" in costs.columns
    key = ["point", SEED, "approach", *(["arm"] if per_arm else [])]
    dup = costs.duplicated(key)
    if dup.any():
        raise ValueError(f"costs repeat {tuple(key)} rows, e.g. {costs.loc[dup, key].iloc[0].tolist()}")
    arms = costs["arm"] if per_arm else costs["arms"] if "arms" in costs.columns else pd.Series("", costs.index)
    budget = arms.astype(str).map(lambda a: all(x.strip().endswith(BUDGET_SUFFIX) for x in a.split(",")))
    label = costs["approach"].where(~budget, costs["approach"] + BUDGET_SUFFIX)
    return (costs.assign(approach=label).groupby(["point", SEED, "approach"], sort=False)
            .agg(seconds=("seconds", "sum"), peak_rss_gb=("peak_rss_gb", "max")).reset_index())


def cost_table(costs: pd.DataFrame, scores: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per point: ``seconds`` (all measured training, every seed and approach), ``n_seeds``,
    ``seconds_per_seed`` (the sum over approaches of each one's mean seconds per seed it ran: one seed of
    the whole grid), ``peak_rss_gb`` (the largest of the point), and ``s_<approach>`` (that approach's mean
    seconds per seed). With ``scores``, the point's columns are added and the rows put in :func:`points`
    order. Only what was recorded counts: a run reused from elsewhere, without a cost row, adds nothing."""
    jobs = _cost_jobs(costs)
    g = jobs.groupby("point", sort=False)
    per_approach = jobs.groupby(["point", "approach"], sort=False)["seconds"].mean().unstack("approach")
    per_approach = per_approach[list(dict.fromkeys(jobs["approach"]))]
    out = pd.DataFrame({"seconds": g["seconds"].sum(), "n_seeds": g[SEED].nunique(),
                        "seconds_per_seed": per_approach.sum(axis=1), "peak_rss_gb": g["peak_rss_gb"].max()})
    out = out.join(per_approach.add_prefix("s_"))
    if scores is not None:
        pts = points(scores)
        order = [p for p in pts.index if p in out.index] + [p for p in out.index if p not in pts.index]
        out = pts.join(out, how="right").reindex(order)
    out.index.name = "point"
    return out


def _fmt_ratio(r: float) -> str:
    return f"{r:.2f} x"


def _seeds(n) -> str:
    return f"{int(n)} seed{'s' if n != 1 else ''}"


def _axis_line(table: pd.DataFrame, axis: str, reference: str) -> str | None:
    pts = along(table, axis)
    if len(pts) < 2:
        return None
    first, last = pts.iloc[0], pts.iloc[-1]
    at = table[table["point"] == pts.index[-1]].sort_values("mean")
    ref, best = at[at["arm"] == reference].iloc[0], at.iloc[0]
    fixed = f"{int(first['n_cycles'])} cycles" if axis == "density" else f"density {first['density']:g}"
    head = (f"{axis} axis ({fixed}; {len(pts)} sizes, {int(first['n_windows']):,} to {int(last['n_windows']):,} "
            f"evaluation windows): at the largest size ({pts.index[-1]}) ")
    if best["arm"] == reference:
        rest = at[at["arm"] != reference]
        other = (f"; the closest other arm is {rest.iloc[0]['arm']} at {_fmt_ratio(rest.iloc[0]['ratio'])}"
                 if len(rest) else "")
        return head + f"{reference} is best with MAE {ref['mean']:.3f} s ({_seeds(ref['n_seeds'])}){other}."
    pair = (f", better in {int(best['better'])} of {int(best['n_pairs'])} (fold, seed) pairs"
            if np.isfinite(best["n_pairs"]) else "")
    small = table[(table["point"] == pts.index[0]) & (table["arm"] == best["arm"])]
    then = f" (at the smallest size: {_fmt_ratio(small.iloc[0]['ratio'])})" if len(small) else ""
    return head + (f"the best arm is {best['arm']} with MAE {best['mean']:.3f} s ({_seeds(best['n_seeds'])}), "
                   f"{_fmt_ratio(best['ratio'])} {reference}'s {ref['mean']:.3f} s ({_seeds(ref['n_seeds'])})"
                   f"{pair}{then}.")


def _crossover_line(c: Crossover) -> str:
    sizes = f"{c.sizes[0]:,} to {c.sizes[-1]:,} windows"
    boot = f"{c.share:.0%} of {c.n_boot} bootstrap resamples cross within {sizes}"
    if c.n_windows is None:
        return f"{c.arm} vs {c.reference}, {c.axis} axis: the ratio is {c.reason} ({sizes}); {boot}."
    interval = (f"{c.level:.0%} interval of the crossing resamples {c.low:,.0f} to {c.high:,.0f}; "
                if c.low is not None else "")
    return (f"{c.arm} vs {c.reference}, {c.axis} axis: the ratio {c.direction} near {c.n_windows:,.0f} evaluation "
            f"windows ({interval}{boot}).")


def _aim_line(table: pd.DataFrame, reference: str, ratio: float, share: float) -> str:
    """Per axis, each arm that meets the aim and the smallest size where it first does."""
    hits = aim(table, ratio, share)
    goal = f"aim (<= {ratio:g} x {reference}, better in >= {share:.0%} of the (fold, seed) pairs)"
    parts = []
    for axis in [a for a in AXES if len(along(table, a)) > 1]:
        on = hits[hits["point"].isin(along(table, axis).index)].sort_values("n_windows")
        first = on.drop_duplicates("arm").set_index("arm")
        if len(first):
            parts.append(f"on the {axis} axis by " + ", ".join(
                f"{a} at {int(r['n_windows']):,} windows ({_fmt_ratio(r['ratio'])}, {int(r['better'])}/"
                f"{int(r['n_pairs'])})" for a, r in first.reindex(arm_order(first.index)).iterrows()))
    return f"{goal} first met " + "; ".join(parts) + "." if parts else f"{goal} met by no arm at any size."


def _duration(seconds: float) -> str:
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


def summary_lines(table: pd.DataFrame, crossovers=(), costs: pd.DataFrame | None = None, reference: str = "lightgbm",
                  ratio: float = 0.95, share: float = 0.8, arms=None) -> str:
    """Sentences for the chapter's prose, every number read from the tables: per axis (with two sizes or
    more) the best arm at the largest size and its ratio to the reference; each :class:`Crossover`; which
    arms meet the aim (:func:`aim`) and from which size; with ``costs`` (:func:`cost_table`) the grid's
    training time. ``arms``: only these (and the reference) compete, e.g. leaving out the budget arms."""
    if arms is not None:
        table = table[table["arm"].isin({*arms, reference})]
    lines = [line for axis in AXES if (line := _axis_line(table, axis, reference))]
    lines += [_crossover_line(c) for c in crossovers]
    lines.append(_aim_line(table, reference, ratio, share))
    if costs is not None and len(costs):
        big = costs["seconds_per_seed"].idxmax()
        lines.append(f"training the grid took {_duration(costs['seconds'].sum())} in all; the costliest point, {big}, "
                     f"{_duration(costs.loc[big, 'seconds_per_seed'])} per seed of every approach; peak memory "
                     f"{costs['peak_rss_gb'].max():.1f} GB.")
    return "\n".join(lines)
