"""Baselines: constant median of the training folds, Kaggle features + LightGBM; feature groups."""
import numpy as np
import pandas as pd
import pytest
from tiny_data import LENGTH

from quake_lib import evaluation as ev
from quake_lib import profiles
from quake_lib.approaches import constant, lightgbm
from quake_lib.features import competition as fx
from quake_lib.features import window_stats as features
from quake_lib.studies import references


@pytest.fixture
def folds(rec, windows):
    return ev.make_folds(rec, n_folds=3, windows=windows)


def test_constant_is_the_training_median(rec, windows, folds):
    oof = constant.cross_validate(rec, folds, windows=windows).oof
    for f in folds:
        train, test = f.split(windows)
        got = oof.loc[oof.fold == f.index, "prediction"].to_numpy()
        assert np.allclose(got, np.median(train.targets))
        assert len(got) == len(test)
    assert (ev.oof_path(rec.name, "constant")).exists()


def test_lightgbm_beats_constant_and_is_deterministic(rec, windows, folds):
    cfg = lightgbm.LgbmConfig(n_estimators=60, learning_rate=0.1, min_child_samples=5,
                               train_stride=LENGTH // 2, n_jobs=1)
    a = lightgbm.cross_validate(rec, folds, seed=0, arms=("lightgbm",), config=cfg, windows=windows, save=False)
    b = lightgbm.cross_validate(rec, folds, seed=0, arms=("lightgbm",), config=cfg, windows=windows, save=False)
    assert np.array_equal(a.oof["prediction"], b.oof["prediction"])
    const = constant.cross_validate(rec, folds, windows=windows, save=False).oof
    table = ev.mae_table(pd.concat([a.oof, const]))
    assert table.loc["lightgbm", "mean"] < 0.7 * table.loc["constant", "mean"]
    assert "mean" not in a.features.columns  # the drifting location is left out
    assert not lightgbm.top_features(a.importance, k=5).empty


def test_lightgbm_rejects_unknown_objective(rec, windows, folds):
    with pytest.raises(ValueError, match="objective"):
        lightgbm.cross_validate(rec, folds, config=lightgbm.LgbmConfig(objective="l2"), windows=windows, save=False)


def test_rolling_std_percentiles_match_pandas():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((1, 20_000)) * np.linspace(1, 30, 20_000)).astype(np.int16)
    got = fx.rolling_std_features(x)
    xc = pd.Series(x[0].astype(float) - np.median(x[0]))
    for w in (100, 1000):
        ref = np.percentile(xc.rolling(w).std(ddof=0).dropna(), [10, 50, 90])
        mine = [got[f"roll{w}_std_p{p:02d}"][0] for p in (10, 50, 90)]
        assert np.allclose(mine, ref, rtol=0.05)


def test_spectral_band_of_a_sine():
    t = np.arange(LENGTH) / fx.SAMPLE_RATE_HZ
    x = np.round(100 * np.sin(2 * np.pi * 260e3 * t))[None, :].astype(np.int16)
    bands = {k: v[0] for k, v in fx.spectral_features(x).items() if k.startswith("band_")}
    assert max(bands, key=bands.get) == "band_250_300k"


def test_kaggle_feature_set_is_complete_and_finite(rec, windows):
    assert {"rolling_std", "spectral", "mfcc"} <= set(fx.KAGGLE_GROUPS)
    assert not {"rolling_std", "spectral", "mfcc"} & set(features.GROUPS)  # the base set is left as it is
    df = fx.kaggle_features(rec, windows.subset(slice(0, 5)))
    assert len(df) == 5 and np.isfinite(df.to_numpy()).all()
    assert df.shape[1] > 80
    assert not set(fx.DROP_COLUMNS) & set(df.columns)


def test_reference_oofs_take_only_saved_files_on_the_same_folds(rec, windows, folds):
    constant.cross_validate(rec, folds, windows=windows)
    parts = [ev.oof_frame(name, f.index, f.split(windows)[1], f.split(windows)[1].targets)
             for name in ("lightgbm", "net_a") for f in folds]
    # net_b: the same windows, but fold 0's cycles labelled as fold 1 (another run's folds)
    parts += [ev.oof_frame("net_b", (f.index + 1) % len(folds), f.split(windows)[1], f.split(windows)[1].targets)
              for f in folds]
    ev.save_oof(pd.concat(parts, ignore_index=True), rec.name)
    frames, notes = references.reference_oofs(rec, folds, others=("net_a", "net_b", "net_c"))
    assert [df["arm"].iloc[0] for df in frames] == ["constant", "lightgbm", "net_a"]
    assert notes == ["constant: saved OOF file", "lightgbm: saved OOF file", "net_a: saved OOF file",
                     "net_b: not run yet, left out", "net_c: not run yet, left out"]


def test_lightgbm_training_grid_capped_by_the_profile(rec, windows, folds):
    """Past ``max_train_windows`` the denser train_stride grid gives way to the evaluation grid: the
    same trees as a config whose train_stride is the evaluation grid's; under the cap, the dense grid."""
    small = dict(n_estimators=20, learning_rate=0.1, min_child_samples=5)
    dense = lightgbm.LgbmConfig(**small, train_stride=windows.length // 2)
    on_eval = lightgbm.LgbmConfig(**small, train_stride=windows.length)
    kw = dict(arms=("lightgbm",), windows=windows, save=False, progress=False)
    capped = lightgbm.cross_validate(rec, folds, profiles.get("quick", train_grid_windows=len(windows)),
                                     config=dense, **kw).oof
    plain = lightgbm.cross_validate(rec, folds, config=on_eval, **kw).oof
    uncapped = lightgbm.cross_validate(rec, folds, profiles.get("quick", train_grid_windows=10 * len(windows)),
                                       config=dense, **kw).oof
    assert np.array_equal(capped["prediction"], plain["prediction"])
    assert not np.array_equal(uncapped["prediction"], plain["prediction"])
