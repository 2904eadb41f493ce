"""The real LANL segment table (:mod:`quake_lib.data.lanl_stats`).

- :func:`real_references`: leave-one-cycle-out constant and LightGBM on the real table (the published
  references of ``../shared/lanl/README.md``: 3.06 and 2.34 pooled / 2.26 averaged per cycle);
- :func:`synthetic_to_real`: LightGBM trained on a synthetic recording's windows (the same ten
  statistics, :mod:`quake_lib.features.segment_stats`), scored on every real segment, and in its own
  domain on the synthetic folds;
- :func:`target_tricks`: the Kaggle winners' targets on the real table (cycle fraction, time since
  failure) and an oracle that knows each held-out cycle's length;
- :func:`by_ttf_bin`, :func:`by_position`: where the errors lie.

Folds: one per real cycle (:func:`real_folds`, :func:`quake_lib.evaluation.cycle_folds` with as many
folds as cycles, :data:`~quake_lib.evaluation.FOLD_SEED`); ``seed`` is LightGBM's, never the folds'.
A segment's statistics describe its own 150,000 samples only, so holding out a cycle's rows holds out
everything about it (no history reaches across cycles here). Results are OOF frames (``start`` = the
segment's first row), so :func:`quake_lib.evaluation.mae_table` scores them; ``fold`` k holds one cycle.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import evaluation
from ..approaches.lightgbm import LgbmConfig
from ..constants import SEGMENT_LENGTH
from ..data import cycle_targets, datasets, ingest
from ..data.lanl_stats import COLUMNS, cycle_lengths, straddling
from ..data.recording import Recording, Windows
from ..evaluation.compare import TTF_EDGES, error_by_ttf
from ..features.segment_stats import MODEL_FEATURES, window_segment_stats
from ..profiles import RealSizes

FEATURES = list(MODEL_FEATURES)


def _check(stats: pd.DataFrame) -> None:
    missing = [c for c in ("row_start", "cycle", "time_to_failure", *FEATURES) if c not in stats.columns]
    if missing:
        raise ValueError(f"segment table lacks columns {missing}; expected those of segment_stats.csv "
                         f"({', '.join(COLUMNS)}): read it with quake_lib.data.lanl_stats.read_segment_stats")


def _model(sizes: RealSizes, seed: int):
    # the project's LightGBM baseline settings (l1 objective, small trees, subsampling, n_jobs=2,
    # deterministic), only the number of trees from the profile
    return LgbmConfig(n_estimators=sizes.gbm_estimators).regressor(seed)


def stats_windows(stats: pd.DataFrame) -> Windows:
    """The table's segments as :class:`Windows` (start row, target, the file's cycle id), so the fold
    machinery and the OOF format of the synthetic chapters apply unchanged."""
    _check(stats)
    return Windows(stats["row_start"].to_numpy(np.int64), stats["time_to_failure"].to_numpy(np.float64),
                   stats["cycle"].to_numpy(np.int32), SEGMENT_LENGTH)


def real_folds(cycle_ids) -> list[evaluation.Fold]:
    """Leave-one-cycle-out: one fold per distinct cycle id, dealt by the fixed fold seed."""
    n = len(np.unique(np.asarray(cycle_ids)))
    return evaluation.cycle_folds(cycle_ids, n_folds=n, seed=evaluation.FOLD_SEED)


def real_references(stats: pd.DataFrame, sizes: RealSizes, seed: int = 0, std_only: bool = False) -> pd.DataFrame:
    """``real_constant`` (the median target of the training cycles) and ``real_lgbm`` (LightGBM on the
    ten statistics without ``mean``), leave-one-cycle-out over the file's 17 cycle ids, every segment
    kept: the protocol of the shared README's references. ``std_only`` adds ``real_lgbm_std`` (its
    2.44 on ``std`` alone). Costs one LightGBM per cycle (two with ``std_only``).

    Kept as in the references: the 16 segments that hold a failure carry their first cycle's id but
    the next cycle's target, so while that next cycle is held out one training row (of ~3,950) has a
    target near its length. The target tricks drop these rows (:func:`target_tricks`)."""
    w = stats_windows(stats)
    x, y = stats[FEATURES], w.targets
    parts = []
    for f in real_folds(w.cycles):
        tr, te = f.masks(w)
        held = w.subset(te)
        parts.append(evaluation.oof_frame("real_constant", f.index, held, np.full(te.sum(), np.median(y[tr]))))
        parts.append(evaluation.oof_frame("real_lgbm", f.index, held,
                                          _model(sizes, seed).fit(x[tr], y[tr]).predict(x[te])))
        if std_only:
            model = _model(sizes, seed).fit(x[["std"]][tr], y[tr])
            parts.append(evaluation.oof_frame("real_lgbm_std", f.index, held, model.predict(x[["std"]][te])))
    return pd.concat(parts, ignore_index=True)


@dataclass
class Transfer:
    real: pd.DataFrame       # OOF on the real segments: synthetic_constant, synthetic_lgbm (fold = real cycle)
    synthetic: pd.DataFrame  # OOF on the synthetic evaluation windows, leave-cycles-out: the same two, in domain
    train_stats: pd.DataFrame  # the synthetic training windows' statistics, target and cycle


def is_ingested(rec: Recording) -> bool:
    """Whether ``rec`` was ingested from a Kaggle-format file (the real train.csv, or any other)."""
    return rec.meta.get("source", {}).get("kind") == ingest.SOURCE_KIND


def synthetic_recording(rec: Recording) -> Recording:
    """What the synthetic -> real section trains on: ``rec`` unless it was ingested, else the default
    synthetic preset. An ingested real recording (``DATASET=lanl``) holds the very segments the real
    table scores: trained on them, "transfer" would be a score on seen data."""
    return datasets.prepare("synthetic") if is_ingested(rec) else rec


def synthetic_to_real(rec: Recording, stats: pd.DataFrame, sizes: RealSizes, seed: int = 0, batch: int = 32,
                      progress: bool = True) -> Transfer:
    """Train on ``rec`` (a synthetic recording), score on the real table.

    Training windows: 150,000 samples (the real segments' length: every statistic depends on it) on the
    ``sizes.transfer_stride`` grid, those straddling a failure left out; their statistics computed as the
    real file's. One LightGBM on all of them predicts every real segment; ``synthetic_constant`` is their
    median target. Nothing real is seen in training, so the real rows carry the leave-one-cycle-out fold
    of their cycle only to give a per-cycle spread comparable with :func:`real_references`.
    In domain: per fold of :func:`quake_lib.evaluation.make_folds` on ``rec``, the same model refitted on
    the training cycles' windows and scored on the held-out cycles' evaluation windows. Costs
    1 + (synthetic folds) LightGBMs and the statistics of every window of the grid."""
    if is_ingested(rec):
        raise ValueError(f"recording {rec.name!r} was ingested from a CSV file (the real train.csv?): trained on "
                         "real segments, the model would be scored on the segments it saw; pass "
                         "synthetic_recording(rec)")
    train_w = rec.windows(length=SEGMENT_LENGTH, stride=sizes.transfer_stride)
    if len(train_w) == 0:
        raise ValueError(f"recording {rec.name!r} holds no window of {SEGMENT_LENGTH:,} samples inside one cycle")
    feats = window_segment_stats(rec, train_w, batch=batch, progress=progress)
    x_train = feats[FEATURES]
    model = _model(sizes, seed).fit(x_train, train_w.targets)
    real_w = stats_windows(stats)
    pred, const = model.predict(stats[FEATURES]), float(np.median(train_w.targets))
    real = []
    for f in real_folds(real_w.cycles):
        te = f.masks(real_w)[1]
        held = real_w.subset(te)
        real.append(evaluation.oof_frame("synthetic_constant", f.index, held, np.full(te.sum(), const)))
        real.append(evaluation.oof_frame("synthetic_lgbm", f.index, held, pred[te]))

    eval_w = evaluation.eval_windows(rec)
    # the evaluation grid's statistics: rows of the training grid when it contains every evaluation start
    pos = pd.Index(train_w.starts).get_indexer(eval_w.starts)
    x_eval = x_train.iloc[pos].reset_index(drop=True) if (pos >= 0).all() else \
        window_segment_stats(rec, eval_w, batch=batch, progress=progress)[FEATURES]
    own = []
    for f in evaluation.make_folds(rec, windows=eval_w):
        tr, te = f.masks(train_w)[0], f.masks(eval_w)[1]
        held = eval_w.subset(te)
        own.append(evaluation.oof_frame("synthetic_constant", f.index, held,
                                        np.full(te.sum(), np.median(train_w.targets[tr]))))
        fitted = _model(sizes, seed).fit(x_train[tr], train_w.targets[tr])
        own.append(evaluation.oof_frame("synthetic_lgbm", f.index, held, fitted.predict(x_eval[te])))
    train_stats = feats.assign(time_to_failure=train_w.targets, cycle=train_w.cycles, start=train_w.starts)
    return Transfer(pd.concat(real, ignore_index=True), pd.concat(own, ignore_index=True), train_stats)


def by_ttf_bin(oof: pd.DataFrame, edges=TTF_EDGES) -> pd.DataFrame:
    """MAE per true time_to_failure bin (rows; small = just before a quake) and approach (columns),
    with ``n`` the segments in each bin. Empty bins are dropped."""
    mae, _, counts = error_by_ttf(oof, edges)
    out = mae.T
    out.insert(0, "n", counts.reindex(out.index).to_numpy())
    out.index.name, out.columns.name = "ttf_bin", None
    return out


TRICKS = ("real_lgbm_plain", "real_lgbm_fraction", "real_lgbm_since_failure", "real_lgbm_fraction_oracle")


@dataclass
class TargetTricks:
    oof: pd.DataFrame          # OOF frame of the four arms of TRICKS
    lengths: pd.DataFrame      # cycle_lengths of the table (cycle -> length_s, ...)
    folds: pd.DataFrame        # per fold: held-out cycle, its length, the mean length of its training cycles
    by_position: pd.DataFrame  # MAE by position in the cycle (by_position(oof, lengths))


def target_tricks(stats: pd.DataFrame, sizes: RealSizes, seed: int = 0) -> TargetTricks:
    """The Kaggle winners' targets, leave-one-cycle-out on the real table, all arms on the same rows:

    - ``real_lgbm_plain``: LightGBM on time_to_failure;
    - ``real_lgbm_fraction`` (3rd place): LightGBM on time_to_failure / the segment's cycle length,
      times the mean length of the fold's *training* cycles;
    - ``real_lgbm_since_failure`` (1st place): LightGBM on the time since the last failure (length -
      time_to_failure), turned into time_to_failure as that mean length minus the prediction, floored
      at 0 (a time to failure cannot be negative; the mean length can fall short of a long cycle);
    - ``real_lgbm_fraction_oracle``: the same fraction predictions times the *held-out* cycle's true
      length, read only at prediction time: unreachable, it bounds how much of the error is the
      unknowable length of the current cycle.

    Rows: segments of cycles whose length is known, without the 16 that hold a failure (their
    statistics describe one cycle, their target the next; :class:`~quake_lib.data.recording.Recording`
    leaves such windows out too). That drops the partial first cycle (its start precedes the recording)
    and keeps the last one (its labels give its length): 16 cycles, 16 folds. Costs three LightGBMs per
    fold (the oracle reuses the fraction model)."""
    _check(stats)
    lengths = cycle_lengths(stats)
    known = lengths.index[lengths["length_known"]]
    keep = ~straddling(stats) & stats["cycle"].isin(known).to_numpy()
    d = stats[keep].reset_index(drop=True)
    w = stats_windows(d)
    length = lengths["length_s"]
    row_len = length.reindex(w.cycles).to_numpy()
    y, x = w.targets, d[FEATURES]
    # arm -> its cycle target (:mod:`quake_lib.data.cycle_targets`: the one definition of the tricks)
    kinds = {"real_lgbm_plain": cycle_targets.TTF, "real_lgbm_fraction": "fraction",
             "real_lgbm_since_failure": "since_failure"}
    targets = {name: cycle_targets.target(kind, y, row_len) for name, kind in kinds.items()}
    parts, fold_rows = [], []
    for f in real_folds(w.cycles):
        tr, te = f.masks(w)
        held = w.subset(te)
        # from the training cycles only: the held-out cycle's length never enters the reachable arms
        mean_len = cycle_targets.mean_length(length.loc[f.train_cycles])
        pred = {name: _model(sizes, seed).fit(x[tr], t[tr]).predict(x[te]) for name, t in targets.items()}
        out = {name: cycle_targets.to_ttf(kinds[name], p, mean_len) for name, p in pred.items()}
        # the oracle: the same conversion with each held-out row's own (true) cycle length
        out["real_lgbm_fraction_oracle"] = cycle_targets.to_ttf("fraction", pred["real_lgbm_fraction"],
                                                                row_len[te])
        parts += [evaluation.oof_frame(name, f.index, held, out[name]) for name in TRICKS]
        fold_rows += [{"fold": f.index, "cycle": int(c), "length_s": float(length.loc[c]),
                       "mean_train_length_s": mean_len} for c in f.test_cycles]
    oof = pd.concat(parts, ignore_index=True)
    return TargetTricks(oof, lengths, pd.DataFrame(fold_rows), by_position(oof, lengths))


def by_position(oof: pd.DataFrame, lengths: pd.DataFrame, parts: int = 3) -> pd.DataFrame:
    """MAE by position in the cycle (rows: the elapsed share of the cycle, 1 - target / cycle length,
    in ``parts`` equal bins; the first = just after a quake) and approach (columns), with ``n`` the
    segments in each bin. Rows of cycles of unknown length (``lengths``: :func:`cycle_lengths`) are
    left out."""
    row_len = lengths["length_s"].reindex(oof["cycle"].to_numpy()).to_numpy()
    elapsed = 1.0 - oof["target"].to_numpy() / row_len
    labels = [f"{100 * k / parts:.0f}-{100 * (k + 1) / parts:.0f}% of the cycle" for k in range(parts)]
    b = pd.cut(elapsed, bins=np.linspace(0.0, 1.0, parts + 1), labels=labels, include_lowest=True)
    d = oof.assign(position=b, err=(oof["prediction"] - oof["target"]).abs()).dropna(subset=["position"])
    out = d.pivot_table(index="position", columns="arm", values="err", aggfunc="mean", observed=False,
                        sort=False)
    out = out[[a for a in dict.fromkeys(oof["arm"]) if a in out.columns]]
    out.insert(0, "n", d.drop_duplicates("start").groupby("position", observed=False).size())
    out.columns.name = None
    return out
