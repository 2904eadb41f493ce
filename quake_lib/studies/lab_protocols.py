"""Laurenti et al.'s evaluation protocol beside leave-cycles-out, and
transfer between the two lab runs. Every model is trained by :func:`quake_lib.studies.lab_study.fit_arm`,
the one place an arm is trained (see that module for the arms, the folds and the inputs)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score

from .. import progress
from ..data.lab_runs import TARGETS, LabRun
from ..evaluation.folds import cycle_folds
from ..features.lab_history import MinMax, fit_input_scale, full_history, history_features, history_tensor
from ..profiles import RealSizes
from .lab_study import Table, cross_validate_run, fit_arm, fold_seed, gbm_arm, make_table, rows_of

# --- Laurenti et al.'s protocol beside leave-cycles-out ----------------------------------------------
PROTOCOLS = {
    "a": "chronological 70/30, MinMax refitted on the test part (as published)",
    "b": "chronological 70/30, MinMax from the training part",
    "c": "leave cycles out, MinMax from the training cycles",
}
TRAIN_FRACTION = 0.7


def protocol_scalers(train_block: np.ndarray, test_block: np.ndarray, refit_on_test: bool) -> tuple:
    """``(train scaler, test scaler)`` over the columns (variance ch1, ch2, shear stress). Laurenti et al.'s
    notebook scales the training part with a MinMax scaler fitted on it and then calls
    ``sc.fit_transform(test_set)``: the test part (inputs AND target) gets a scaler fitted on itself
    (``refit_on_test=True``), so predictions are read in the test part's own target range. With
    ``refit_on_test=False`` the test part uses the training scaler, and ``test_block`` is not looked at."""
    train = MinMax.fit(train_block)
    return train, (MinMax.fit(test_block) if refit_on_test else train)


def _scaled_table(run: LabRun, scaled: np.ndarray, rows: np.ndarray, sizes: RealSizes) -> Table:
    steps = rows_of(sizes.net_history_s)
    windows = {f"{s:g}s": rows_of(s) for s in sizes.history_s}
    feats = history_features(scaled[:, :2], windows).iloc[rows].reset_index(drop=True)
    return Table(rows, feats, history_tensor(scaled[:, :2], rows, steps), scaled[rows, 2:3], run.cycles[rows])


@dataclass
class ProtocolResult:
    table: pd.DataFrame         # model, protocol -> r2, mae, mae_sd (folds, c only), n, description
    predictions: pd.DataFrame   # model, protocol, fold, row, target, prediction (MPa)


def laurenti_protocol(run: LabRun, sizes: RealSizes, seed: int = 0, models=None) -> ProtocolResult:
    """Shear stress of ``run`` from the variance history, by the LSTM and boosting on the longest history,
    under the three protocols of :data:`PROTOCOLS`. Inputs and target are MinMax-scaled raw values, as in
    the published notebook, in all three, so that only the evaluation changes. (a) and (b) are one
    training each (the same model, two ways of scaling its test part); (c) trains one per fold."""
    models = tuple(models or ("lstm", gbm_arm(max(sizes.history_s))))
    steps = rows_of(sizes.net_history_s)
    raw = np.column_stack([run.inputs(), run.target("ShearStress")])
    rows = np.flatnonzero(run.labeled & full_history(len(run), steps))
    split = int(TRAIN_FRACTION * len(run))
    train_rows, test_rows = rows[rows < split], rows[rows >= split]
    # their test part starts `steps` rows before the split: the first test row's history
    test_block = slice(max(split - steps, 0), len(run))
    preds = []

    def score(model, protocol, fold, rows_, target, prediction):
        preds.append(pd.DataFrame({"model": model, "protocol": protocol, "fold": fold, "row": rows_,
                                   "target": target, "prediction": prediction}))

    for model in models:
        sc_train, sc_a = protocol_scalers(raw[:split], raw[test_block], refit_on_test=True)
        _, sc_b = protocol_scalers(raw[:split], raw[test_block], refit_on_test=False)
        predictor = fit_arm(model, _scaled_table(run, sc_train.transform(raw), train_rows, sizes), sizes, seed)
        for name, sc in (("a", sc_a), ("b", sc_b)):  # one model, its test part scaled two ways
            test = _scaled_table(run, sc.transform(raw), test_rows, sizes)
            score(model, name, -1, test_rows, raw[test_rows, 2], sc.inverse(predictor(test)[:, 0], 2))
        for f in cycle_folds(run.cycles[rows], sizes.lab_folds, seed):
            tr, te = f.masks(run.cycles[rows])
            scaler = MinMax.fit(raw[rows[tr]])  # inputs and target of the training cycles' rows only
            scaled = scaler.transform(raw)
            predictor = fit_arm(model, _scaled_table(run, scaled, rows[tr], sizes), sizes, fold_seed(seed, f.index))
            pred = predictor(_scaled_table(run, scaled, rows[te], sizes))[:, 0]
            score(model, "c", f.index, rows[te], raw[rows[te], 2], scaler.inverse(pred, 2))
    predictions = pd.concat(preds, ignore_index=True)
    table = []
    for (model, protocol), part in predictions.groupby(["model", "protocol"], sort=False):
        err = (part["prediction"] - part["target"]).abs()
        per_fold = err.groupby(part["fold"]).mean()
        table.append({"model": model, "protocol": protocol,
                      "r2": r2_score(part["target"], part["prediction"], force_finite=False),
                      "mae": per_fold.mean(), "mae_sd": per_fold.std(ddof=1) if len(per_fold) > 1 else np.nan,
                      "n": len(part), "description": PROTOCOLS[protocol]})
    return ProtocolResult(pd.DataFrame(table), predictions)


# --- transfer between runs ---------------------------------------------------------------------------
def transfer_arms(sizes: RealSizes) -> tuple:
    """The arms the transfer trains (1-2, for cost): boosting on the longest history and the LSTM."""
    return gbm_arm(max(sizes.history_s)), "lstm"


def transfer(run_a: LabRun, run_b: LabRun, sizes: RealSizes, seed: int = 0, arms=None,
             own: dict | None = None) -> pd.DataFrame:
    """Train on all evaluation rows of one run, score every evaluation row of the other, both ways; each
    run's inputs normalized from its own unlabeled variance. Beside each: the scored run's own
    leave-cycles-out figures for the same arm and target (``own``: run name -> :class:`LabCV` holding
    those arms; computed here when not given, at the cost of that cross-validation). Columns: arm,
    target, trained_on, scored_on, mae, r2, corr (Pearson: does the shape carry over when the level does
    not?), own_mae_mean, own_mae_sd, own_r2."""
    arms = tuple(arms or transfer_arms(sizes))
    tables = {r.name: make_table(r, fit_input_scale(r.inputs()).apply(r.inputs()), sizes) for r in (run_a, run_b)}
    own = dict(own or {})
    for r in (run_a, run_b):
        if r.name not in own:
            own[r.name] = cross_validate_run(r, sizes, seed, arms=arms)
        lacking = [a for a in arms if a not in own[r.name].summary.index.get_level_values("arm")]
        if lacking:
            raise ValueError(f"own[{r.name!r}] holds no leave-cycles-out result of arm(s) {lacking}")
    rows = []
    for src, dst in ((run_a.name, run_b.name), (run_b.name, run_a.name)):
        for arm in arms:
            progress.status(f"lab transfer {src} -> {dst} {arm}")
            pred = fit_arm(arm, tables[src], sizes, seed)(tables[dst])
            for j, t in enumerate(TARGETS):
                y = tables[dst].y[:, j]
                mine = own[dst].summary.loc[(arm, t)]
                rows.append({"arm": arm, "target": t, "trained_on": src, "scored_on": dst,
                             "mae": float(np.abs(pred[:, j] - y).mean()),
                             "r2": r2_score(y, pred[:, j], force_finite=False),
                             "corr": float(np.corrcoef(y, pred[:, j])[0, 1]) if pred[:, j].std() > 0 else np.nan,
                             "own_mae_mean": mine["mae_mean"], "own_mae_sd": mine["mae_sd"], "own_r2": mine["r2"]})
    return pd.DataFrame(rows)
