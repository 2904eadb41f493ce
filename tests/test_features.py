"""Per-window statistics: agreement with pandas (the convention of segment_stats.csv), batching,
registry of groups, and the real segment 0."""
import numpy as np
import pandas as pd
import pytest

from quake_lib.data import store
from quake_lib.data.recording import Recording
from quake_lib.features import window_stats as features


def heavy_tailed(n_rows, length, seed=0):
    rng = np.random.default_rng(seed)
    x = 4.5 + 3 * rng.standard_normal((n_rows, length)) + rng.standard_t(2, (n_rows, length)) * 5
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def test_matches_pandas_and_numpy():
    x = heavy_tailed(5, 3001)
    f = features.array_features(x)
    for i, row in enumerate(x):
        s = pd.Series(row.astype(np.float64))
        assert f.loc[i, "mean"] == pytest.approx(s.mean(), rel=1e-12)
        assert f.loc[i, "std"] == pytest.approx(s.std(), rel=1e-12)  # ddof=1
        assert f.loc[i, "skew"] == pytest.approx(s.skew(), rel=1e-9)
        assert f.loc[i, "kurtosis"] == pytest.approx(s.kurtosis(), rel=1e-9)  # unbiased excess
        for name, q in features.QUANTILES.items():
            assert f.loc[i, name] == pytest.approx(s.quantile(q), abs=1e-9)
        assert f.loc[i, "min"] == row.min() and f.loc[i, "max"] == row.max()
        assert f.loc[i, "abs_max"] == np.abs(row.astype(int)).max()
        assert f.loc[i, "iqr"] == pytest.approx(s.quantile(0.75) - s.quantile(0.25))


def test_column_names_match_segment_stats():
    cols = set(features.array_features(heavy_tailed(1, 100)).columns)
    assert {"min", "max", "mean", "std", "q01", "q25", "q75", "q99", "iqr", "kurtosis", "skew"} <= cols


def test_peak_and_exceedance_counts():
    x = np.zeros((1, 1000), np.int16)
    x[0, 100] = 30       # one peak above 20
    x[0, 500:503] = [60, 120, 60]  # one peak above 20, 50 and 100; three samples above 50
    f = features.array_features(x, groups=("peaks",)).iloc[0]
    assert (f["count_gt_20"], f["count_gt_50"], f["count_gt_100"]) == (4, 3, 1)
    assert (f["peaks_gt_20"], f["peaks_gt_50"], f["peaks_gt_100"]) == (2, 1, 1)


def test_constant_window_and_errors():
    f = features.array_features(np.full((2, 50), 7, np.int16)).iloc[0]
    assert f["std"] == 0 and f["kurtosis"] == 0 and f["skew"] == 0
    with pytest.raises(KeyError, match="unknown feature group"):
        features.array_features(np.zeros((1, 50), np.int16), groups=("nope",))
    with pytest.raises(ValueError, match="too short"):
        features.array_features(np.zeros((1, 3), np.int16))


def test_window_features_batches_agree_and_keep_order(tmp_path):
    x = heavy_tailed(1, 60_000, seed=1)[0]
    ttf = np.linspace(6, 0, len(x)).astype(np.float32)
    store.write_recording(tmp_path / "r", x, ttf, {"source": {"kind": "test"}})
    rec = Recording(tmp_path / "r")
    w = rec.windows(length=5_000, stride=3_000)
    a = features.window_features(rec, w, batch=1)
    b = features.window_features(rec, w, batch=7)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == len(w)
    direct = features.array_features(rec.read(w.subset(slice(4, 5))))
    pd.testing.assert_frame_equal(a.iloc[[4]].reset_index(drop=True), direct)
    empty = features.window_features(rec, w.subset(np.zeros(len(w), bool)))
    assert len(empty) == 0 and list(empty.columns) == list(a.columns)


def test_real_segment_zero(shared_lanl):
    """The real head (149,999 of segment 0's 150,000 rows) reproduces segment_stats.csv row 0."""
    head = pd.read_csv(shared_lanl / "train_head_150k.csv", skip_blank_lines=True)
    f = features.array_features(head["acoustic_data"].to_numpy(np.int16)[None]).iloc[0]
    real = pd.read_csv(shared_lanl / "segment_stats.csv").iloc[0]
    for col in ("mean", "std", "kurtosis", "skew", "q01", "q25", "q75", "q99", "min", "max"):
        assert f[col] == pytest.approx(real[col], rel=2e-3, abs=2e-3), col
