"""Evaluation: leave-cycles-out folds on windows, the OOF file format, the MAE table."""
import numpy as np
import pandas as pd
import pytest

from quake_lib import evaluation as ev
from quake_lib import paths


def test_folds_hold_out_every_cycle_once(rec, windows):
    folds = ev.make_folds(rec, n_folds=3, windows=windows)
    held = np.concatenate([f.test_cycles for f in folds])
    assert sorted(held.tolist()) == sorted(np.unique(windows.cycles).tolist())
    ev.check_folds(folds, windows)
    for f in folds:
        train, test = f.split(windows)
        assert len(test) > 0 and len(train) > 0
        # no cycle contributes windows to both sides
        assert not set(train.cycles.tolist()) & set(test.cycles.tolist())
        assert len(train) + len(test) == len(windows)


def test_folds_fixed_by_seed(rec, windows):
    a = ev.make_folds(rec, n_folds=3, windows=windows)
    b = ev.make_folds(rec, n_folds=3, windows=windows)
    assert all(np.array_equal(x.test_cycles, y.test_cycles) for x, y in zip(a, b))
    table = ev.fold_table(a, windows)
    assert table["n_windows"].sum() == len(windows)


def test_check_folds_rejects_a_cycle_held_out_twice(rec, windows):
    folds = ev.make_folds(rec, n_folds=3, windows=windows)
    bad = [folds[0], folds[0], folds[2]]
    with pytest.raises(ValueError, match="exactly once"):
        ev.check_folds(bad, windows)


def _oof(windows, folds, approach, offset, **extra):
    parts = []
    for f in folds:
        _, test = f.split(windows)
        more = {k: test.targets + v for k, v in extra.items()}
        parts.append(ev.oof_frame(approach, f.index, test, test.targets + offset, **more))
    return pd.concat(parts, ignore_index=True)


def test_oof_files_have_the_common_format(rec, windows, data_dir):
    folds = ev.make_folds(rec, n_folds=3, windows=windows)
    ev.save_oof(_oof(windows, folds, "plus_one", 1.0), rec.name)
    ev.save_oof(_oof(windows, folds, "binned_like", 0.5, median=0.5, argmax=-2.0), rec.name)
    directory = paths.results_dir(rec.name)
    assert sorted(p.name for p in directory.iterdir()) == ["oof_binned_like.csv", "oof_plus_one.csv"]
    df = ev.load_all(rec.name)
    assert list(df.columns[:6]) == list(ev.OOF_COLUMNS)
    assert set(df["arm"]) == {"plus_one", "binned_like"}
    assert len(df) == 2 * len(windows)
    # readout columns present for one approach only (NaN for the other)
    assert df.loc[df.arm == "plus_one", "prediction_median"].isna().all()


def test_mae_table_per_fold_mean_std_pooled(rec, windows, data_dir):
    folds = ev.make_folds(rec, n_folds=3, windows=windows)
    df = pd.concat([_oof(windows, folds, "plus_one", 1.0),
                    _oof(windows, folds, "binned_like", 0.5, argmax=-2.0)], ignore_index=True)
    t = ev.mae_table(df, reference="plus_one")
    assert t.loc["plus_one", "mean"] == pytest.approx(1.0)
    assert t.loc["plus_one", "std"] == pytest.approx(0.0, abs=1e-9)
    assert t.loc["binned_like[argmax]", "pooled"] == pytest.approx(2.0)
    assert t.loc["binned_like", "ratio"] == pytest.approx(0.5)
    # a readout equal to the main prediction names the main rows instead of repeating them
    df2 = _oof(windows, folds, "binned_like", 0.5, median=0.5, argmax=-2.0)
    t2 = ev.mae_table(df2)
    assert sorted(t2.index) == ["binned_like[argmax]", "binned_like[median]"]
    # frames concatenated without ignore_index repeat row labels: other approaches keep their names
    t3 = ev.mae_table(pd.concat([_oof(windows, folds, "plus_one", 1.0), df2]))
    assert sorted(t3.index) == ["binned_like[argmax]", "binned_like[median]", "plus_one"]
    assert {"fold_0", "fold_1", "fold_2", "mean", "std", "pooled", "n"} <= set(t.columns)
    assert list(t.index) == sorted(t.index, key=lambda a: t.loc[a, "mean"])


def test_bad_inputs_name_the_parameter(rec, windows):
    with pytest.raises(ValueError, match="arm"):
        ev.oof_frame("../escape", 0, windows, np.zeros(len(windows)))
    with pytest.raises(ValueError, match="one value per window"):
        ev.oof_frame("ok", 0, windows, np.zeros(len(windows) + 1))
    with pytest.raises(FileNotFoundError, match="no OOF"):
        ev.load_all("nothing_here")


def test_spread_table_flags_a_constant(rec, windows):
    folds = ev.make_folds(rec, n_folds=3, windows=windows)
    good = _oof(windows, folds, "good", 0.1)
    const = good.assign(arm="flat", prediction=1.0)
    t = ev.spread_table(pd.concat([good, const]))
    assert t.loc["flat", "sd_ratio"] == 0.0
    assert t.loc["good", "sd_ratio"] == pytest.approx(1.0) and t.loc["good", "corr"] > 0.99
