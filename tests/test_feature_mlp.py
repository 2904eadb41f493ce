"""The feature MLP: OOF rows, determinism, the saved run predicts its OOF rows from raw segments,
``train`` reaches it through the protocol, and a run fitted on other features is refused by name."""
import json

import numpy as np
import pandas as pd
import pytest
from tiny_data import LENGTH, loud_recording

from quake_lib import evaluation as ev
from quake_lib import paths, profiles
from quake_lib.approaches import constant, feature_mlp, protocol, registry
from quake_lib.cli import main
from quake_lib.data.recording import Recording
from quake_lib.evaluation import compare
from quake_lib.features.cache import cached_kaggle_features

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

QUICK = profiles.get("quick")
# a training grid twice as dense as the tiny evaluation grid, as LightGBM's is on the real one
TINY_CFG = feature_mlp.FeatureMLPConfig(train_stride=LENGTH // 2)


@pytest.fixture
def folds(rec, windows):
    return ev.make_folds(rec, n_folds=3, windows=windows)


def run(rec, windows, folds, seed=0, save=False):
    return feature_mlp.cross_validate(rec, folds, QUICK, seed, config=TINY_CFG, windows=windows, save=save,
                                      progress=False)


def test_every_window_predicted_once_better_than_the_constant_and_deterministic(rec, windows, folds):
    a, b = run(rec, windows, folds), run(rec, windows, folds)
    oof = a.oof.sort_values("start", ignore_index=True)
    assert set(oof["arm"]) == {"feature_mlp"}
    np.testing.assert_array_equal(oof["start"], windows.starts)  # every evaluation window, once
    readouts = ["prediction", "prediction_median", "prediction_q10", "prediction_q90"]
    assert np.isfinite(oof[readouts].to_numpy()).all()
    assert (oof["prediction"] == oof["prediction_median"]).all()
    assert (oof["prediction_q10"] <= oof["prediction_q90"]).all()
    pd.testing.assert_frame_equal(a.oof, b.oof)                  # same seed, same rows
    assert set(a.curves["fold"]) == {f.index for f in folds}
    other = run(rec, windows, folds, seed=1)
    assert not np.allclose(other.oof["prediction"], a.oof["prediction"])  # the seed is used
    mae = (a.oof["prediction"] - a.oof["target"]).abs().mean()
    base = constant.cross_validate(rec, folds, windows=windows, save=False).oof
    assert mae < 0.7 * (base["prediction"] - base["target"]).abs().mean()


def test_the_saved_run_predicts_its_oof_rows_from_raw_segments(rec, windows, folds):
    res = run(rec, windows, folds, save=True)
    saved = protocol.load(rec.name, "feature_mlp")
    meta = protocol.read_meta(rec.name, "feature_mlp")
    assert (meta["approach"], meta["kind"], meta["hidden"], meta["n_features"]) == (
        "feature_mlp", "mlp", 64, len(meta["features"]))
    assert len(saved.models) == len(folds)
    table = cached_kaggle_features(rec, windows, progress=False)  # the table cross_validate read
    for f, model in zip(folds, saved.models):
        _, te = f.masks(windows)
        rows = res.oof[res.oof["fold"] == f.index].sort_values("start")
        exact = model.predict(table[te])  # the same features: the same numbers, bit for bit
        for side, column in (("value", "prediction"), ("lower", "prediction_q10"), ("upper", "prediction_q90")):
            np.testing.assert_array_equal(getattr(exact, side), rows[column])
        # from raw segments: librosa's float32 MFCCs differ by ~1e-6 with the batch a window is computed in
        pred = model.predict(saved.prepare(rec.read(windows.subset(te))))
        for side, column in (("value", "prediction"), ("lower", "prediction_q10"), ("upper", "prediction_q90")):
            np.testing.assert_allclose(getattr(pred, side), rows[column], rtol=1e-5, atol=1e-5)
    # what the comparison's cost table reads: fit seconds (run meta), parameters (a fold checkpoint)
    cost = compare.cost_table(rec.name, ["feature_mlp"]).loc["feature_mlp"]
    n = meta["n_features"]
    assert cost["n_parameters"] == n * 64 + 64 + 64 * 16 + 16 and cost["train_s"] > 0


def test_a_run_fitted_on_other_features_is_refused_naming_its_file(rec, windows, folds):
    run(rec, windows, folds, save=True)
    path = ev.checkpoint_dir(rec.name, "feature_mlp") / ev.RUN_META
    meta = json.loads(path.read_text())
    meta["features"][0] = "no_such_feature"  # a run of an older feature code
    path.write_text(json.dumps(meta))
    saved = protocol.load(rec.name, "feature_mlp")
    with pytest.raises(ValueError, match=r"fold_0\.pt: the model uses features \['no_such_feature'\] that the "
                                         "current feature code does not make; train feature_mlp again"):
        saved.predict(rec.read(windows.subset(slice(0, 2))))


def test_train_reaches_it_through_the_protocol(data_dir, capsys):
    loud_recording(paths.dataset_dir("mlprec"), n_cycles=6, cycle_len=300_000, rows_per_second=40_000.0)
    assert main(["train", "--approach", "feature_mlp", "--dataset", "mlprec", "--folds", "2", "--profile", "quick",
                 "--no-progress"]) == 0
    assert "feature_mlp" in capsys.readouterr().out  # the MAE table of its arm
    meta = protocol.read_meta("mlprec", "feature_mlp")
    assert (meta["approach"], meta["window_length"], meta["iterations"]) == ("feature_mlp", ev.WINDOW,
                                                                             QUICK.cpc.probe_iterations)
    oof = ev.load_oof("mlprec", "feature_mlp")
    assert sorted(oof["start"]) == list(ev.eval_windows(Recording(paths.dataset_dir("mlprec"))).starts)


def test_registry_entry():
    entry = registry.get("feature_mlp")
    assert (entry.kind, entry.model, entry.main_result) == ("network", None, "feature_mlp[median]")
    assert "feature_mlp" in registry.arms(before_chapter=4)  # trained by chapter 3, beside LightGBM
    assert "feature_mlp" not in registry.arms(before_chapter=3)
    assert registry.baselines() == ("constant", "lightgbm")
