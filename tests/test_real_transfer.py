"""Chapter 7, sections 1-2: the real segment table's statistics, reader, cycles, folds, the transfer from
synthetic windows, and the target tricks (the oracle reads only the held-out cycle's length)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import scipy.stats  # noqa: E402
from tiny_data import loud_recording  # noqa: E402

from quake_lib import evaluation, profiles  # noqa: E402
from quake_lib.constants import SEGMENT_LENGTH  # noqa: E402
from quake_lib.data import lanl_stats  # noqa: E402
from quake_lib.features.segment_stats import MODEL_FEATURES, SEGMENT_STATS, segment_stats  # noqa: E402
from quake_lib.figures import ch07_transfer  # noqa: E402
from quake_lib.profiles import RealSizes  # noqa: E402
from quake_lib.studies import real_transfer as rt  # noqa: E402

# from the shared README: the 16 failure rows of train.csv and the 15 full cycle lengths (s)
FAILURE_ROWS = (5656573, 50085877, 104677355, 138772452, 187641819, 218652629, 245829584, 307838916, 338276286,
                375377847, 419368879, 461811622, 495800224, 528777114, 585568143, 621985672)
README_LENGTHS = (11.54, 14.18, 8.856, 12.693, 8.054, 7.059, 16.107, 7.905, 9.637, 11.426, 11.024, 8.828, 8.565,
                  14.752, 9.459)
QUICK = profiles.get("quick").real


def tiny_table(lengths=(9.0, 4.0, 14.0, 6.0, 11.0, 5.0, 12.0, 7.0), seg_s=0.25, head_s=1.1, seed=0):
    """A segment table with the real file's layout and labelling: consecutive segments of ``seg_s``
    seconds, target = time to the next failure at the segment's end, cycle id = the cycle the segment
    starts in (so a segment holding a failure has the old id and the new cycle's target), a partial head.
    The statistics encode the *elapsed share* of the cycle (plus noise), not the time to failure: a
    model that knew the cycle's length would be nearly exact."""
    rng = np.random.default_rng(seed)
    failures = np.cumsum([head_s, *lengths])          # failure times; the last ends the table
    ends = np.arange(seg_s, failures[-1] - 1e-9, seg_s)  # segment end times
    starts = ends - seg_s
    nxt = np.searchsorted(failures, ends, side="left")
    ttf = failures[nxt] - ends
    cycle = np.searchsorted(failures, starts, side="right")
    length = np.r_[np.nan, lengths][np.minimum(nxt, len(lengths))]
    frac = np.where(np.isnan(length), 0.9, 1.0 - ttf / np.where(np.isnan(length), 1.0, length))
    n = len(ends)
    sd = 3.0 + 6.0 * frac + 0.1 * rng.standard_normal(n)
    df = pd.DataFrame({"segment": np.arange(n), "row_start": np.arange(n) * SEGMENT_LENGTH, "cycle": cycle,
                       "time_to_failure": np.round(ttf, 6), "min": -10 * sd, "max": 6 + 10 * sd,
                       "mean": 4.5 + 0.1 * rng.standard_normal(n), "std": sd, "q01": 3 - 2.5 * sd,
                       "q25": 3 - 0.6 * sd, "q75": 6 + 0.6 * sd, "q99": 6 + 2.5 * sd, "kurtosis": 20 + 5 * frac,
                       "skew": 0.01 * frac})
    df["iqr"] = df["q75"] - df["q25"]
    return df[list(lanl_stats.COLUMNS)]


# ---------------------------------------------------------------- statistics

def test_segment_stats_follow_pandas_and_numpy_linear_quantiles():
    rng = np.random.default_rng(3)
    x = np.round(4.5 + 6 * rng.standard_t(3, size=(3, SEGMENT_LENGTH))).astype(np.int16)
    got = segment_stats(x)
    assert tuple(got.columns) == SEGMENT_STATS and len(got) == 3
    for i, row in enumerate(x):
        s = pd.Series(row.astype(np.float64))
        np.testing.assert_allclose(got.loc[i, ["mean", "std", "kurtosis", "skew"]],
                                   [s.mean(), s.std(ddof=1), s.kurt(), s.skew()], rtol=1e-9)
        q = np.quantile(row, [0.01, 0.25, 0.75, 0.99], method="linear")
        np.testing.assert_allclose(got.loc[i, ["q01", "q25", "q75", "q99"]], q, rtol=0, atol=1e-9)
        assert got.loc[i, "iqr"] == pytest.approx(q[2] - q[1])
        assert (got.loc[i, "min"], got.loc[i, "max"]) == (row.min(), row.max())
    assert set(MODEL_FEATURES) == set(SEGMENT_STATS) - {"mean"} and len(MODEL_FEATURES) == 10
    with pytest.raises(TypeError, match="integer"):
        segment_stats(x.astype(np.float32))


def test_segment_0_of_the_real_table_is_reproduced(shared_lanl):
    table = lanl_stats.read_segment_stats(shared_lanl / "segment_stats.csv")
    head = pd.read_csv(shared_lanl / "train_head_150k.csv")  # starts with an empty line: pandas skips it
    x = head["acoustic_data"].to_numpy(np.int64)
    assert len(x) == SEGMENT_LENGTH - 1
    # the missing 150,000th sample, pinned by the table's mean (printed to 6 decimals: +-0.075 counts)
    missing = table.loc[0, "mean"] * SEGMENT_LENGTH - x.sum()
    assert abs(missing - round(missing)) < 0.1
    x = np.append(x, round(missing)).astype(np.int16)
    got = segment_stats(x[None]).iloc[0]
    for col in SEGMENT_STATS:
        assert got[col] == pytest.approx(table.loc[0, col], abs=1.5e-6), col
    # the check can tell the conventions apart: the biased kurtosis misses by 1e-3
    assert abs(scipy.stats.kurtosis(x.astype(float), bias=True) - table.loc[0, "kurtosis"]) > 1e-4


# ---------------------------------------------------------------- reader and cycles

def test_real_table_cycles_match_the_shared_readme(shared_lanl):
    s = lanl_stats.read_segment_stats()  # the default path: QUAKE_SHARED_DIR
    assert len(s) == 4194 and tuple(s.columns) == lanl_stats.COLUMNS
    held = np.flatnonzero(lanl_stats.straddling(s))
    # the segments found to hold a failure are exactly those holding the README's failure rows ...
    np.testing.assert_array_equal(held, np.asarray(FAILURE_ROWS) // SEGMENT_LENGTH)
    # ... they keep the id of the cycle they start in; the id changes at the next segment, and only there
    changes = np.flatnonzero(np.diff(s["cycle"].to_numpy()) != 0) + 1
    np.testing.assert_array_equal(changes, held + 1)
    lengths = lanl_stats.cycle_lengths(s)
    assert lengths["n_segments"].sum() == len(s) and list(lengths.index) == list(range(17))
    assert np.isnan(lengths.loc[0, "length_s"]) and lengths.loc[0, "head"] and lengths.loc[16, "tail"]
    assert lengths.loc[16, "length_known"]
    # the largest target of a cycle falls short of its true length by less than one segment (0.039 s)
    short = np.asarray(README_LENGTHS) - lengths.loc[1:15, "length_s"].to_numpy()
    assert (short > -0.001).all() and (short < 0.04).all()


def _write(path, df, blank_first=False):
    text = df.to_csv(index=False, float_format="%.6f")
    path.write_text(("\n" if blank_first else "") + text)
    return path


def test_reader_reads_a_valid_table_and_tolerates_a_leading_empty_line(tmp_path):
    df = tiny_table()
    got = lanl_stats.read_segment_stats(_write(tmp_path / "ok.csv", df, blank_first=True))
    assert tuple(got.columns) == lanl_stats.COLUMNS and len(got) == len(df)
    assert got["cycle"].dtype == np.int64 and got["std"].dtype == np.float64
    np.testing.assert_allclose(got["time_to_failure"], df["time_to_failure"], atol=1e-6)


def _edit(text: str, line: int, column: str, value: str) -> str:
    """``text`` with the field ``column`` of file line ``line`` (1 = the header) set to ``value``."""
    lines = text.split("\n")
    fields = lines[line - 1].split(",")
    fields[lanl_stats.COLUMNS.index(column)] = value
    lines[line - 1] = ",".join(fields)
    return "\n".join(lines)


def _drop_line(text: str, line: int) -> str:
    return "\n".join(ln for i, ln in enumerate(text.split("\n")) if i != line - 1)


@pytest.mark.parametrize("damage, match", [
    (lambda t: t.replace("kurtosis", "kurt", 1), r"line 1: header .*missing: \['kurtosis'\]"),
    (lambda t: _edit(t, 5, "row_start", "x450000"), r"line 5, column 'row_start': expected an integer, got 'x450000'"),
    (lambda t: _edit(t, 6, "cycle", "0.5"), r"line 6, column 'cycle': expected an integer"),
    (lambda t: _edit(t, 4, "skew", "0.1,7"), r"line 4: 16 fields, expected 15"),
    (lambda t: _edit(t, 7, "std", "nan"), r"line 7, column 'std': expected a finite number, got 'nan'"),
    (lambda t: _edit(t, 8, "time_to_failure", "-1.0"), r"line 8, column 'time_to_failure': expected a non-neg"),
    (lambda t: _drop_line(t, 4), r"line 4, column 'segment': expected consecutive"),
    (lambda t: _edit(t, 200, "cycle", "0"), r"line 200, column 'cycle': expected .* stays or grows by one"),
    (lambda t: _edit(t, 200, "cycle", "9"), r"line 200, column 'cycle'"),
    (lambda t: t.split("\n")[0] + "\n", r"a header but no data rows"),
    (lambda t: "\n\n", r"empty file"),
])
def test_reader_names_the_file_line_and_column_of_a_bad_table(tmp_path, damage, match):
    good = tiny_table().to_csv(index=False, float_format="%.6f")
    path = tmp_path / "bad_stats.csv"
    path.write_text(damage(good))
    with pytest.raises(ValueError, match=match) as err:
        lanl_stats.read_segment_stats(path)
    assert str(path) in str(err.value)


def test_reader_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.csv.*QUAKE_SHARED_DIR"):
        lanl_stats.read_segment_stats(tmp_path / "nowhere.csv")


def test_reader_refuses_unordered_quantiles(tmp_path):
    df = tiny_table()
    df.loc[5, "q99"] = df.loc[5, "max"] + 1
    with pytest.raises(ValueError, match=r"line 7, column 'max': expected a value >= q99"):
        lanl_stats.read_segment_stats(_write(tmp_path / "q.csv", df))


# ---------------------------------------------------------------- folds and references

def test_leave_one_cycle_out_never_shares_a_cycle():
    df = tiny_table()
    folds = rt.real_folds(df["cycle"])
    cycles = np.unique(df["cycle"])
    assert len(folds) == len(cycles)
    assert sorted(int(c) for f in folds for c in f.test_cycles) == cycles.tolist()
    for f in folds:
        assert len(f.test_cycles) == 1 and not np.intersect1d(f.train_cycles, f.test_cycles).size
        assert len(f.train_cycles) == len(cycles) - 1
    oof = rt.real_references(df, RealSizes(gbm_estimators=20), std_only=True)
    assert set(oof["arm"]) == {"real_constant", "real_lgbm", "real_lgbm_std"}
    for _, part in oof.groupby("arm"):
        assert sorted(part["start"]) == sorted(df["row_start"])  # every segment predicted once
        assert (part.groupby("fold")["cycle"].nunique() == 1).all()  # a fold holds out one cycle
    table = evaluation.mae_table(oof, readouts=False)
    assert {"mean", "std", "pooled"} <= set(table.columns) and table["n"].eq(len(df)).all()
    # the constant is the median of the *other* cycles' targets
    f0 = folds[0]
    expected = np.median(df.loc[df["cycle"].isin(f0.train_cycles), "time_to_failure"])
    got = oof[(oof["arm"] == "real_constant") & (oof["fold"] == 0)]["prediction"]
    np.testing.assert_allclose(got, expected)


def test_real_references_and_tricks_on_the_real_table(shared_lanl):
    s = lanl_stats.read_segment_stats()
    table = evaluation.mae_table(rt.real_references(s, QUICK), readouts=False)
    # the shared README's references: constant 3.06 pooled; LightGBM 2.34 pooled, 2.26 per fold
    assert table.loc["real_constant", "pooled"] == pytest.approx(3.06, abs=0.01)
    assert table.loc["real_lgbm", "pooled"] == pytest.approx(2.34, abs=0.05)
    assert table.loc["real_lgbm", "mean"] == pytest.approx(2.26, abs=0.05)
    tricks = rt.target_tricks(s, QUICK)
    t = evaluation.mae_table(tricks.oof, readouts=False)
    assert t["n"].eq(4194 - 38 - 15).all()  # no head cycle, no segment holding a failure
    assert len(tricks.folds) == 16
    # knowing the held-out cycle's length is worth much: the oracle is far ahead of every reachable arm
    assert t.loc["real_lgbm_fraction_oracle", "pooled"] < 0.8 * t.loc["real_lgbm_plain", "pooled"]


# ---------------------------------------------------------------- target tricks

def test_oracle_reads_only_the_held_out_length_and_the_fraction_model_never_sees_held_out_rows():
    df = tiny_table()
    sizes = RealSizes(gbm_estimators=150)
    a = rt.target_tricks(df, sizes)
    lengths = a.lengths["length_s"]
    assert np.isnan(lengths.iloc[0]) and a.lengths["length_known"].iloc[1:].all()
    wide = a.oof.pivot_table(index=["fold", "start"], columns="arm", values="prediction")
    for _, r in a.folds.iterrows():
        others = lengths.drop(index=[0, r["cycle"]])  # the training cycles: known lengths, not held out
        assert r["mean_train_length_s"] == pytest.approx(others.mean())
        part = wide.loc[r["fold"]]  # oracle / fraction = held-out length / mean training length
        np.testing.assert_allclose(part["real_lgbm_fraction_oracle"] * others.mean(),
                                   part["real_lgbm_fraction"] * lengths[r["cycle"]], rtol=1e-9, atol=1e-12)

    # stretch one cycle's time axis by 1.5 (its targets, hence its length); the statistics stay
    k = int(a.folds["cycle"].iloc[0])
    fold = int(a.folds["fold"].iloc[0])
    stretched = df.copy()
    mine = lanl_stats.target_cycles(df) == k
    stretched.loc[mine, "time_to_failure"] *= 1.5
    b = rt.target_tricks(stretched, sizes)

    def preds(res, approach, in_fold):
        p = res.oof[res.oof["arm"] == approach]
        return p[(p["fold"] == fold) == in_fold].sort_values(["fold", "start"])["prediction"].to_numpy()

    # the held-out cycle's own predictions do not move: nothing of it was trained on or averaged ...
    for name in ("real_lgbm_plain", "real_lgbm_fraction", "real_lgbm_since_failure"):
        np.testing.assert_array_equal(preds(a, name, True), preds(b, name, True))
    # ... except the oracle's, by exactly the stretch of its length
    np.testing.assert_allclose(preds(b, "real_lgbm_fraction_oracle", True),
                               1.5 * preds(a, "real_lgbm_fraction_oracle", True), rtol=1e-9)
    # while the other folds, which train on that cycle, do move
    assert not np.array_equal(preds(a, "real_lgbm_plain", False), preds(b, "real_lgbm_plain", False))
    assert not np.array_equal(preds(a, "real_lgbm_fraction", False), preds(b, "real_lgbm_fraction", False))

    # the statistics here encode the share of the cycle elapsed, so knowing the length nearly solves it
    t = evaluation.mae_table(a.oof, readouts=False)
    assert t.loc["real_lgbm_fraction_oracle", "pooled"] < 0.5 * t.loc["real_lgbm_plain", "pooled"]
    pos = a.by_position
    assert pos["n"].sum() == t["n"].iloc[0] and len(pos) == 3
    first = a.oof.assign(share=1 - a.oof["target"] / lengths.reindex(a.oof["cycle"]).to_numpy())
    first = first[(first["share"] <= 1 / 3) & (first["arm"] == "real_lgbm_plain")]
    assert pos["real_lgbm_plain"].iloc[0] == pytest.approx((first["prediction"] - first["target"]).abs().mean())


def test_by_ttf_bin_counts_and_averages_per_bin():
    oof = pd.DataFrame({"arm": ["a"] * 4 + ["b"] * 4, "fold": 0, "cycle": 1, "start": [0, 1, 2, 3] * 2,
                        "target": [0.5, 1.5, 1.7, 9.0] * 2, "prediction": [1.5, 1.5, 1.0, 9.0, 0.5, 0.5, 1.7, 5.0]})
    t = rt.by_ttf_bin(oof, edges=(0, 1, 2, 10))
    assert list(t.columns) == ["n", "a", "b"] and t["n"].tolist() == [1, 2, 1]
    np.testing.assert_allclose(t["a"], [1.0, 0.35, 0.0])
    np.testing.assert_allclose(t["b"], [0.0, 0.5, 4.0])


# ---------------------------------------------------------------- synthetic -> real

def _table_of(rec) -> pd.DataFrame:
    """A recording's consecutive 150,000-sample segments in the real table's format."""
    w = rec.windows(length=SEGMENT_LENGTH, stride=SEGMENT_LENGTH)
    assert np.array_equal(w.starts, np.arange(len(w)) * SEGMENT_LENGTH)  # no window lost to a failure
    st = segment_stats(rec.read(w))
    df = pd.DataFrame({"segment": np.arange(len(w)), "row_start": w.starts, "cycle": w.cycles,
                       "time_to_failure": w.targets.astype(np.float64)})
    return pd.concat([df, st], axis=1)[list(lanl_stats.COLUMNS)]


def test_synthetic_to_real_learns_a_transferable_precursor(data_dir):
    # cycles of 12 s, 4 segments each; the sd grows tenfold towards failure, in both recordings
    source = loud_recording(data_dir / "src", n_cycles=6, cycle_len=4 * SEGMENT_LENGTH, rows_per_second=50_000)
    target = loud_recording(data_dir / "tgt", n_cycles=5, cycle_len=4 * SEGMENT_LENGTH, rows_per_second=50_000,
                            seed=1)
    real = _table_of(target)
    sizes = RealSizes(transfer_stride=SEGMENT_LENGTH // 4, gbm_estimators=150)
    res = rt.synthetic_to_real(source, real, sizes, progress=False)
    n_train = len(source.windows(length=SEGMENT_LENGTH, stride=sizes.transfer_stride))
    assert len(res.train_stats) == n_train and set(MODEL_FEATURES) <= set(res.train_stats.columns)
    # every real segment once per approach, its fold the leave-one-cycle-out fold of its cycle
    fold_of = {int(f.test_cycles[0]): f.index for f in rt.real_folds(real["cycle"])}
    for _, part in res.real.groupby("arm"):
        assert sorted(part["start"]) == sorted(real["row_start"])
        assert (part["fold"] == part["cycle"].map(fold_of)).all()
    real_t = evaluation.mae_table(res.real, readouts=False)
    assert real_t.loc["synthetic_lgbm", "pooled"] < 0.6 * real_t.loc["synthetic_constant", "pooled"]
    # in domain: the synthetic folds, whole cycles held out, every evaluation window once
    eval_w = evaluation.eval_windows(source)
    folds = evaluation.make_folds(source, windows=eval_w)
    for _, part in res.synthetic.groupby("arm"):
        assert sorted(part["start"]) == sorted(eval_w.starts)
        for f in folds:
            assert set(part.loc[part["fold"] == f.index, "cycle"]) <= set(f.test_cycles.tolist())
    own_t = evaluation.mae_table(res.synthetic, readouts=False)
    assert own_t.loc["synthetic_lgbm", "pooled"] < 0.6 * own_t.loc["synthetic_constant", "pooled"]
    # the statistics of the evaluation windows, taken from the denser training grid, are theirs
    pick = res.train_stats.set_index("start").loc[eval_w.starts[:3], list(SEGMENT_STATS)].to_numpy()
    np.testing.assert_allclose(pick, segment_stats(source.read(eval_w.subset(slice(0, 3)))).to_numpy())

    for fig in (ch07_transfer.transfer_predictions(res.real, ("synthetic_lgbm", "synthetic_constant")),
                ch07_transfer.ttf_bin_bars(rt.by_ttf_bin(res.real)),
                ch07_transfer.stat_distributions(real, res.train_stats)):
        assert len(fig.axes) >= 1
        plt.close(fig)


def test_figures_draw_every_approach_of_their_table():
    tricks = rt.target_tricks(tiny_table(), RealSizes(gbm_estimators=20))
    fig = ch07_transfer.position_bars(tricks.by_position)
    assert [t.get_label() for t in fig.axes[0].containers] == list(rt.TRICKS)
    plt.close(fig)
    fig = ch07_transfer.transfer_predictions(tricks.oof, ("real_lgbm_plain", "real_lgbm_fraction_oracle"))
    assert len(fig.axes) == 2 and fig.axes[0].get_title().startswith("real_lgbm_plain: pooled MAE")
    plt.close(fig)
    with pytest.raises(ValueError, match="none of the arms"):
        ch07_transfer.transfer_predictions(tricks.oof, ("nope",))


def test_synthetic_to_real_refuses_an_ingested_recording_and_chapter_7_trains_on_synthetic(data_dir, monkeypatch):
    from quake_lib.data import ingest
    rec = loud_recording(data_dir / "src", n_cycles=3, cycle_len=4 * SEGMENT_LENGTH, rows_per_second=50_000)
    assert rt.synthetic_recording(rec) is rec                      # not ingested: trained on as it is
    rec.meta["source"] = {"kind": ingest.SOURCE_KIND}              # as `ingest train.csv` writes it
    with pytest.raises(ValueError, match="scored on the segments it saw"):
        rt.synthetic_to_real(rec, _table_of(rec), RealSizes(), progress=False)
    monkeypatch.setattr(rt.datasets, "prepare", lambda name: f"prepared {name}")
    assert rt.synthetic_recording(rec) == "prepared synthetic"
