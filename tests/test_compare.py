"""Chapter 6's comparison: inventory, same-window checks, ensembles (nested selection), tables, cost."""
import matplotlib
import numpy as np
import pandas as pd
import pytest
from tiny_data import LENGTH, TINY_NET, oof_rows

from quake_lib import evaluation as ev
from quake_lib import models
from quake_lib.approaches import constant, lightgbm, registry
from quake_lib.evaluation import compare
from quake_lib.evaluation import seeds as multiseed
from quake_lib.figures import ch06_comparison
from quake_lib.train import cross_validate

matplotlib.use("Agg")


@pytest.fixture
def folds(rec, windows):
    return ev.make_folds(rec, n_folds=3, windows=windows)


def test_inventory_lists_present_missing_and_left_out(rec, windows, folds):
    constant.cross_validate(rec, folds, windows=windows)
    for name in ("spec_study_a", "ensemble", "my_variant"):
        ev.save_oof(oof_rows(windows, folds, name, windows.targets), rec.name)
    inv = compare.inventory(rec.name)
    assert inv.present == ["constant"]
    assert inv.missing == list(registry.arms()[1:])
    assert inv.others == ["my_variant", "spec_study_a"]  # the ensemble file is this chapter's own output
    assert f"missing, their chapter has not run ({len(registry.arms()) - 1})" in str(inv)
    with pytest.raises(FileNotFoundError, match="run the approaches' notebooks"):
        compare.load_main(rec.name, [])


def test_load_main_refuses_approaches_on_other_windows(rec, windows, folds):
    constant.cross_validate(rec, folds, windows=windows)
    other = oof_rows(windows, folds, "lightgbm", windows.targets)
    ev.save_oof(other[other["start"] != other["start"].iloc[0]], rec.name)
    with pytest.raises(ValueError, match="'lightgbm' was scored on other windows"):
        compare.load_main(rec.name, ["constant", "lightgbm"])


def test_ensembles_mean_and_nested_top_k(windows, folds):
    t = windows.targets.astype(float)
    fold_of = np.empty(len(windows), int)
    for f in folds:
        fold_of[f.masks(windows)[1]] = f.index
    rng = np.random.default_rng(0)
    preds = {"constant": np.full(len(t), np.median(t)), "a": t + 1.0, "b": t - 2.0,
             "c": t + 3.0 + rng.normal(0, 0.3, len(t)),
             # perfect on fold 0, 10 s off elsewhere: nested selection must not pick it for fold 0
             "cheat": np.where(fold_of == 0, t, t + 10.0)}
    df = pd.concat([oof_rows(windows, folds, k, v) for k, v in preds.items()], ignore_index=True)
    ens = compare.ensembles(df, top_k=2)
    mean = ens[ens["arm"] == "ensemble"].set_index("start")["prediction"].sort_index()
    want = np.mean([preds[k] for k in ("a", "b", "c", "cheat")], axis=0)  # constant excluded
    np.testing.assert_allclose(mean.to_numpy(), want[np.argsort(windows.starts)])
    top = ens[ens["arm"] == "ensemble_top2"].set_index("start").sort_index()
    order = np.argsort(windows.starts)
    f0 = fold_of[order] == 0
    # fold 0: 'cheat' is worst on folds 1-2, so a and b are chosen: mean = t - 0.5
    np.testing.assert_allclose(top["prediction"].to_numpy()[f0], t[order][f0] - 0.5)
    assert set(ens.columns) >= set(ev.OOF_COLUMNS) and len(ens) == 2 * len(windows)


def test_error_by_ttf(windows, folds):
    t = windows.targets.astype(float)
    df = pd.concat([oof_rows(windows, folds, "lightgbm", t + 1.0), oof_rows(windows, folds, "net", t + 0.5),
                    oof_rows(windows, folds, "late", np.where(t < 2, t + 3.0, t))], ignore_index=True)
    mae, bias, counts = compare.error_by_ttf(df, edges=(0.0, 2.0, 4.0, 7.0))
    assert list(mae.index) == ["lightgbm", "net", "late"]
    assert counts.sum() == len(windows)
    assert mae.loc["late", "0-2"] == pytest.approx(3.0) and mae.loc["late", "2-4"] == 0.0
    assert bias.loc["net"].to_numpy() == pytest.approx(0.5)
    fig = ch06_comparison.error_by_ttf_figure(mae, bias)
    assert len(fig.axes) == 2


def test_cost_table_and_figures_from_a_trained_net(rec, windows, folds):
    net = models.factory("wave_cnn", **TINY_NET.__dict__)
    fast = dict(epochs=2, windows_per_epoch=16, batch_size=8, threads=1)
    cross_validate(rec, net, "binned", folds[:2] + [folds[2]], seed=0, eval_windows=windows,
                   arm="wave_cnn_binned", approach="wave_cnn", verbose=False, **fast)
    constant.cross_validate(rec, folds, windows=windows)
    cfg = lightgbm.LgbmConfig(n_estimators=10, min_child_samples=5, train_stride=LENGTH, n_jobs=1)
    lightgbm.cross_validate(rec, folds, arms=("lightgbm",), config=cfg, windows=windows)
    inv = compare.inventory(rec.name)
    assert inv.present == ["constant", "lightgbm", "wave_cnn_binned"]
    cost = compare.cost_table(rec.name, inv.present)
    metrics = ev.load_metrics(rec.name, "wave_cnn_binned")
    assert cost.loc["wave_cnn_binned", "train_s"] == pytest.approx(metrics["train_seconds"].sum())
    assert cost.loc["wave_cnn_binned", "epochs"] == 2
    n_params = sum(p.numel() for p in net(16).parameters())
    assert cost.loc["wave_cnn_binned", "n_parameters"] == n_params
    assert cost.loc["lightgbm", "train_s"] > 0 and np.isnan(cost.loc["constant", "train_s"])
    df = compare.load_main(rec.name, inv.present)
    table = multiseed.seed_table(df.assign(seed=0))
    assert table.loc["lightgbm", "vs_lightgbm"] == 1.0
    assert len(ch06_comparison.mae_bars(table).axes) == 1
    assert len([a for a in ch06_comparison.predictions_panels(df, table.index).axes if a.get_visible()]) == 3
