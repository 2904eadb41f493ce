"""The lab runs p4581 and p5198, their arms and leave-cycles-out cross-validation
(Laurenti et al.'s protocol and the transfer between runs: :mod:`quake_lib.studies.lab_protocols`).

Targets: time to start of failure, time to end of failure, shear stress (:data:`TARGETS`). Every arm is
scored on the same rows: those with the networks' full history (``sizes.net_history_s``, 70 rows), so
the partial head cycle of each run is input history only (see :mod:`quake_lib.data.lab_runs`).

Folds: :func:`~quake_lib.evaluation.folds.cycle_folds` over the cycles of those rows; a fold trains on
the rows of its training cycles and predicts the rows of its held-out cycles. A row's history may
reach back into the previous cycle, held out or not: as INPUT only, which is what a real-time
predictor sees; no target of a held-out row ever reaches training.

Inputs are normalized per run from its unlabeled AE variance (:func:`~quake_lib.features.lab_history.fit_input_scale`,
no target), the same way in cross-validation and in the transfer, so the two are comparable: the
held-out rows' variance enters the two numbers per channel (median and IQR over the ~3,000 rows of the
run), no label does. CPC is pre-trained in each fold on the variance of the rows outside the held-out
cycles only (crops never reach into them; ``cpc_pretrain="run"`` pre-trains once on the whole run
instead, ~1/5 of the cost, transductive: the held-out cycles' inputs, not their labels, shape the
encoder), like the CPC approach, whose unlabeled segments are disjoint from every held-out cycle.

:func:`fit_arm` is the one place an arm is trained, shared by cross-validation, the protocol study and
the transfer.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score

from .. import progress
from ..approaches.lightgbm import LgbmConfig
from ..data.lab_runs import ROW_SECONDS, TARGETS, LabRun
from ..evaluation.folds import cycle_folds
from ..features.lab_history import InputScale, fit_input_scale, full_history, history_features, history_tensor
from ..models.lab_nets import CausalCNN, CausalCNNConfig, LabCPC, LabCPCConfig, LaurentiLSTM
from ..profiles import RealSizes
from ..train.sequence_fit import SequenceFitConfig, encode, fit_ridge, fit_sequence_model, pretrain_contrastive

RIDGE_ALPHA = 1e-2        # per row, on standardized features: the same probe for CPC and the raw history
CPC_CROPS_PER_EPOCH = 256


def gbm_arm(seconds: float) -> str:
    return f"gbm_{seconds:g}s"


def arm_names(sizes: RealSizes) -> tuple:
    """Every arm for ``sizes``: the constant, boosting on the current variance and on the history of
    each length in ``sizes.history_s``, the causal CNN, the LSTM, CPC + linear probe, and the same
    linear probe on the raw history (what the CPC features must beat)."""
    return ("constant", "gbm_now", *(gbm_arm(s) for s in sizes.history_s), "cnn", "lstm", "cpc_probe",
            "ridge_history")


ARMS = arm_names(RealSizes())


def rows_of(seconds: float) -> int:
    return int(round(seconds / ROW_SECONDS))


@dataclass
class Table:
    """What the arms see of a set of rows: history features, history tensor, targets, CPC codes."""

    rows: np.ndarray
    features: pd.DataFrame
    history: np.ndarray
    y: np.ndarray
    cycles: np.ndarray
    codes: np.ndarray | None = None

    def take(self, mask) -> "Table":
        return Table(self.rows[mask], self.features[mask].reset_index(drop=True), self.history[mask],
                     self.y[mask], self.cycles[mask], None if self.codes is None else self.codes[mask])


def make_table(run: LabRun, z: np.ndarray, sizes: RealSizes, targets=TARGETS) -> Table:
    """The evaluation rows of ``run`` (labeled, full network history) with inputs from the normalized
    variance ``z`` (``(n_rows, 2)``, all rows: histories reach back before the first evaluated row)."""
    steps = rows_of(sizes.net_history_s)
    windows = {f"{s:g}s": rows_of(s) for s in sizes.history_s}
    if max(windows.values()) > steps:
        raise ValueError(f"history_s {sizes.history_s} reaches further back than net_history_s "
                         f"{sizes.net_history_s}: every arm must be scored on the same rows")
    rows = np.flatnonzero(run.labeled & full_history(len(run), steps))
    feats = history_features(z, windows).iloc[rows].reset_index(drop=True)
    y = np.stack([run.target(t) for t in targets], axis=1)[rows]
    return Table(rows, feats, history_tensor(z, rows, steps), y, run.cycles[rows])


def feature_columns(arm: str, columns) -> list:
    """``gbm_now``: the current variance; ``gbm_<w>s``: it and the features of every window up to w s
    (nested: a longer history adds to a shorter one)."""
    if arm == "gbm_now":
        return [c for c in columns if c.startswith("now_")]
    w = float(arm[len("gbm_"):-1])
    keep = []
    for c in columns:
        parts = c.split("_")
        if parts[0] == "now" or float(parts[1][:-1]) <= w:
            keep.append(c)
    return keep


def fold_seed(seed: int, fold: int) -> int:
    return int(np.random.SeedSequence([seed, fold]).generate_state(1)[0] % 2**31)


def cnn_config(sizes: RealSizes) -> CausalCNNConfig:
    """Half of ``net_hidden`` channels, five blocks (receptive field 63 rows; the readout's mean over the
    70 steps covers the rest): at 32 channels and six blocks a CPU training step cost several times the
    LSTM's, and the chapter's budget is set by such steps."""
    half = max(sizes.net_hidden // 2, 4)
    return CausalCNNConfig(channels=half, skip_channels=half, hidden=sizes.net_hidden, dilations=(1, 2, 4, 8, 16))


def fit_arm(arm: str, train: Table, sizes: RealSizes, seed: int):
    """Train ``arm`` on ``train`` (all its target columns); returns ``predict(table) -> (n, n_targets)``."""
    k = train.y.shape[1]
    if arm == "constant":
        median = np.median(train.y, axis=0)
        return lambda t: np.tile(median, (len(t.rows), 1))
    if arm.startswith("gbm_"):
        cols = feature_columns(arm, train.features.columns)
        cfg = LgbmConfig(n_estimators=sizes.gbm_estimators, n_jobs=2)
        models = [cfg.regressor(seed).fit(train.features[cols], train.y[:, j]) for j in range(k)]
        return lambda t: np.stack([m.predict(t.features[cols]) for m in models], axis=1)
    if arm in ("cnn", "lstm"):
        steps, n_in = train.history.shape[1:]
        make = ((lambda n: CausalCNN(n_in, n, cnn_config(sizes))) if arm == "cnn"
                else (lambda n: LaurentiLSTM(n_in, n, steps, sizes.net_hidden)))
        fit = fit_sequence_model(make, train.history, train.y, SequenceFitConfig.from_sizes(sizes), seed)
        return lambda t: fit.predict(t.history)
    if arm == "ridge_history":
        ridge = fit_ridge(train.history.reshape(len(train.rows), -1), train.y, RIDGE_ALPHA)
        return lambda t: ridge.predict(t.history.reshape(len(t.rows), -1))
    if arm == "cpc_probe":
        if train.codes is None:
            raise ValueError("cpc_probe needs the CPC codes of the rows (pretrain_cpc, then Table.codes)")
        ridge = fit_ridge(train.codes, train.y, RIDGE_ALPHA)
        return lambda t: ridge.predict(t.codes)
    raise ValueError(f"arm {arm!r} is not known; expected one of {ARMS} (or gbm_<seconds>s)")


def pretrain_cpc(z: np.ndarray, sizes: RealSizes, seed: int, allowed: np.ndarray | None = None):
    """CPC on the unlabeled normalized variance of a run (crops within ``allowed`` rows): ``(model,
    curve)``; crops of the networks' history length, so a code summarizes exactly the history the
    other networks see."""
    cfg = SequenceFitConfig.from_sizes(sizes, epochs=sizes.cpc_epochs)
    config = LabCPCConfig(hidden=sizes.net_hidden)
    return pretrain_contrastive(lambda: LabCPC(z.shape[1], config), z, rows_of(sizes.net_history_s), cfg, seed,
                                crops_per_epoch=CPC_CROPS_PER_EPOCH, allowed=allowed)


def oof_rows(arm: str, fold: int, table: Table, pred: np.ndarray, targets=TARGETS) -> pd.DataFrame:
    """Rows in the project's OOF format (``start`` = row index) plus ``target_name``."""
    parts = [pd.DataFrame({"arm": arm, "fold": fold, "cycle": table.cycles, "start": table.rows,
                           "target": table.y[:, j], "prediction": pred[:, j], "target_name": t})
             for j, t in enumerate(targets)]
    return pd.concat(parts, ignore_index=True)


def summary_table(oof: pd.DataFrame) -> pd.DataFrame:
    """Per arm and target: MAE per fold (mean, sd), pooled MAE, R^2 pooled over held-out rows, rows."""
    out = []
    for (arm, target), part in oof.groupby(["arm", "target_name"], sort=False):
        per_fold = (part["prediction"] - part["target"]).abs().groupby(part["fold"]).mean()
        out.append({"arm": arm, "target": target, "mae_mean": per_fold.mean(), "mae_sd": per_fold.std(ddof=1),
                    "mae_pooled": (part["prediction"] - part["target"]).abs().mean(),
                    # force_finite=False: R^2 of a constant target is undefined (nan or -inf), not 0 or 1
                    "r2": r2_score(part["target"], part["prediction"], force_finite=False), "n": len(part)})
    return pd.DataFrame(out).set_index(["arm", "target"])


SHORT_TARGETS = {"TimeToStartFailure": "TTsF (s)", "TimeToEndFailure": "TTeF (s)", "ShearStress": "stress (MPa)"}


def wide(summary: pd.DataFrame, value: str = "r2") -> pd.DataFrame:
    """``summary`` (of one run, or several stacked under a ``run`` level) as one row per arm and one
    column per (run,) target: the chapter's compact tables."""
    table = summary[value].unstack("target")[list(TARGETS)].rename(columns=SHORT_TARGETS)
    if "run" in table.index.names:
        table = table.unstack("run").swaplevel(axis=1).sort_index(axis=1, level=0, sort_remaining=False)
    arms = list(dict.fromkeys(summary.index.get_level_values("arm")))
    return table.loc[arms]


@dataclass
class LabCV:
    run: str
    oof: pd.DataFrame                 # OOF format + target_name
    summary: pd.DataFrame             # (arm, target) -> mae_mean, mae_sd, mae_pooled, r2, n
    folds: list
    pretrain: pd.DataFrame | None = None   # CPC: fold (-1: whole run), epoch, loss, accuracy, chance
    scale: InputScale | None = None   # the run's input normalization (unlabeled)
    arms: tuple = field(default_factory=tuple)


def cross_validate_run(run: LabRun, sizes: RealSizes, seed: int = 0, arms=None, cpc_pretrain: str = "fold") -> LabCV:
    """Leave-cycles-out cross-validation of ``arms`` (default: all of :func:`arm_names`) on one run.
    ``cpc_pretrain``: ``"fold"`` (strict, default) or ``"run"`` (see the module docstring)."""
    arms = tuple(arm_names(sizes) if arms is None else arms)
    if cpc_pretrain not in ("fold", "run"):
        raise ValueError(f"cpc_pretrain must be 'fold' or 'run' (got {cpc_pretrain!r})")
    scale = fit_input_scale(run.inputs())       # unlabeled inputs only (see the module docstring)
    z = scale.apply(run.inputs())
    table = make_table(run, z, sizes)
    folds = cycle_folds(table.cycles, sizes.lab_folds, seed)
    cpc = "cpc_probe" in arms
    curves, parts = [], []
    if cpc and cpc_pretrain == "run":
        progress.status(f"lab {run.name}: CPC pre-training")
        model, curve = pretrain_cpc(z, sizes, seed)
        curves.append(curve.assign(fold=-1))
        table.codes = encode(model, table.history)
    for f in folds:
        tr, te = f.masks(table.cycles)
        train, test = table.take(tr), table.take(te)
        if cpc and cpc_pretrain == "fold":
            progress.status(f"lab {run.name} fold {f.index + 1}/{len(folds)}: CPC pre-training")
            held_out = np.isin(run.cycles, f.test_cycles)  # crops stay out of the held-out cycles
            model, curve = pretrain_cpc(z, sizes, fold_seed(seed, f.index), allowed=~held_out)
            curves.append(curve.assign(fold=f.index))
            train.codes, test.codes = encode(model, train.history), encode(model, test.history)
        for arm in arms:
            progress.status(f"lab {run.name} fold {f.index + 1}/{len(folds)} {arm}")
            pred = fit_arm(arm, train, sizes, fold_seed(seed, f.index))(test)
            parts.append(oof_rows(arm, f.index, test, pred))
    oof = pd.concat(parts, ignore_index=True)
    pretrain = pd.concat(curves, ignore_index=True) if curves else None
    return LabCV(run.name, oof, summary_table(oof), folds, pretrain, scale, arms)
