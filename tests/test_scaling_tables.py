"""Chapter 8's tables and figures on per-fold scores built here (no training): the numbers of the point
table by hand, the crossing of ratio 1 where it is put, the aim, the cost table, and the figures."""
import matplotlib

matplotlib.use("Agg")

import dataclasses  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from quake_lib.figures import ch08_scaling as fig8  # noqa: E402
from quake_lib.figures import style  # noqa: E402
from quake_lib.studies import scaling_tables as st  # noqa: E402

POINT = dict(axis="both", density=0.075, n_cycles=15, n_windows=300)


def _rows(point, arm, maes, train=None, **cols):
    """Rows of one (point, arm): ``maes[seed][fold]``; ``train`` the same shape or None (not measured)."""
    return [dict(point=point, **cols, seed=s, arm=arm, fold=f, mae=m,
                 train_mae=np.nan if train is None else train[s][f])
            for s, per_fold in enumerate(maes) for f, m in enumerate(per_fold)]


def _hand():
    rows = _rows("p", "lightgbm", [[2.0, 4.0], [2.0, 4.0]], **POINT)
    rows += _rows("p", "wave_cnn_regression", [[1.0, 3.0], [1.0, 5.0]], train=[[0.5, 0.5], [0.5, np.nan]], **POINT)
    rows += _rows("p", "constant", [[5.0, 5.0], [5.0, 5.0]], **POINT)
    rows += _rows("p", "wave_cnn_regression_budget", [[1.0, 1.0]], **POINT)  # one seed
    big = dict(axis="density", density=0.3, n_cycles=15, n_windows=1200)
    rows += _rows("q", "lightgbm", [[1.0, 1.0], [1.0, 1.0]], **big)
    rows += _rows("q", "wave_cnn_regression", [[2.0, 2.0], [2.0, 2.0]], **big)
    rows += _rows("q", "constant", [[4.0, 4.0], [4.0, 4.0]], **big)
    return pd.DataFrame(rows)


def test_point_table_by_hand():
    t = st.point_table(_hand()).set_index(["point", "arm"])
    net = t.loc[("p", "wave_cnn_regression")]
    # seed means 2.0 and 3.0; seed-averaged folds 1.0 and 4.0
    assert net["mean"] == pytest.approx(2.5)
    assert net["seed_sd"] == pytest.approx(np.std([2.0, 3.0], ddof=1))
    assert net["fold_sd"] == pytest.approx(np.std([1.0, 4.0], ddof=1))
    assert net["n_seeds"] == 2
    assert net["ratio"] == pytest.approx(2.5 / 3.0)
    # pairs (seed, fold): -1, -1, -1, +1
    assert (net["better"], net["worse"], net["n_pairs"]) == (3, 1, 4)
    assert net["mean_diff"] == pytest.approx(-0.5)
    assert net["sd_diff"] == pytest.approx(1.0)
    assert net["gap"] == pytest.approx(np.mean([1.0 - 0.5, 3.0 - 0.5, 1.0 - 0.5]))  # folds with train_mae only
    ref = t.loc[("p", "lightgbm")]
    assert ref["ratio"] == 1.0 and np.isnan(ref["better"]) and np.isnan(ref["gap"])
    budget = t.loc[("p", "wave_cnn_regression_budget")]
    assert budget["n_seeds"] == 1 and np.isnan(budget["seed_sd"]) and budget["n_pairs"] == 2
    assert t.loc[("q", "wave_cnn_regression"), "ratio"] == pytest.approx(2.0)
    assert t.loc[("p", "constant"), "n_windows"] == 300
    w = st.wide(t.reset_index(), "ratio")
    assert list(w.index) == ["p", "q"]
    assert list(w.columns) == ["constant", "lightgbm", "wave_cnn_regression", "wave_cnn_regression_budget"]
    assert np.isnan(w.loc["q", "wave_cnn_regression_budget"])


def test_scores_contract_is_checked():
    df = _hand()
    with pytest.raises(ValueError, match="lacks columns"):
        st.point_table(df.drop(columns="train_mae"))
    with pytest.raises(ValueError, match="repeat"):
        st.point_table(pd.concat([df, df.iloc[:1]]))
    with pytest.raises(ValueError, match="no scores of the reference"):
        st.point_table(df[df["arm"] != "lightgbm"])
    with pytest.raises(ValueError, match="differ within a point"):
        st.point_table(df.assign(n_windows=np.arange(len(df))))


def test_aim_needs_both_the_ratio_and_the_share_of_pairs():
    t = st.point_table(_hand())

    def hits(**kw):
        return list(zip(*st.aim(t, **kw)[["point", "arm"]].to_numpy().T))

    budget = ("p", "wave_cnn_regression_budget")                      # 1/3 x, better in 2 of 2 pairs
    assert hits(ratio=0.9, share=0.8) == [budget]                      # the other net: 3 of 4 pairs only
    assert hits(ratio=0.9, share=0.75) == [budget, ("p", "wave_cnn_regression")]  # by ratio
    assert hits(ratio=0.8, share=0.5) == [budget]                      # 0.83 x is above 0.8 x
    assert "constant" not in {a for _, a in hits(ratio=10, share=0)}   # baselines never count


SIZES = (100, 400, 1600, 6400)


def _grid(ratios, sizes=SIZES, folds=5, seeds=2):
    """The reference with fold-dependent MAEs and an arm at ``ratio`` x it per point, +-0.05 noise that
    sums to zero at each point (so the measured ratio is exact); a cycles axis beside."""
    rng = np.random.default_rng(1)
    rows = []
    for i, (n, r) in enumerate(zip(sizes, ratios)):
        cols = dict(axis="both" if i == 0 else "density", density=0.075 * n / sizes[0], n_cycles=15, n_windows=n)
        ref = 2.0 + rng.random((seeds, folds))
        noise = 0.05 * np.where(rng.permutation(seeds * folds) % 2, 1, -1).reshape(seeds, folds)
        rows += _rows(f"d{n}", "lightgbm", ref.tolist(), **cols)
        rows += _rows(f"d{n}", "net", (r * ref + noise).tolist(), **cols)
    for c in (30, 60):
        cols = dict(axis="cycles", density=0.075, n_cycles=c, n_windows=sizes[0] * c // 15)
        rows += _rows(f"c{c}", "lightgbm", [[2.0] * folds] * seeds, **cols)
        rows += _rows(f"c{c}", "net", [[2.2] * folds] * seeds, **cols)
    return pd.DataFrame(rows)


def test_crossover_lies_between_the_sizes_it_falls_between():
    ratios = (1.2, 1.1, 0.9, 0.8)
    c = st.crossover(_grid(ratios), "net", n_boot=500)
    assert c.sizes == SIZES and c.ratios == pytest.approx(ratios)
    t = np.log(1.1) / (np.log(1.1) - np.log(0.9))
    assert c.n_windows == pytest.approx(400 * 4 ** t)
    assert 400 < c.n_windows < 1600 and c.direction == "falls below 1" and c.reason is None
    assert c.low <= c.n_windows <= c.high and SIZES[0] < c.low and c.high < SIZES[-1]
    assert c.share > 0.9
    assert st.crossover(_grid((0.8, 0.9, 1.1, 1.2)), "net", n_boot=50).direction == "rises above 1"
    twice = st.crossover(_grid((1.2, 0.9, 1.1, 0.8)), "net", n_boot=50)   # the last crossing: the one that holds
    assert 1600 < twice.n_windows < 6400 and twice.direction == "falls below 1"


def test_crossover_that_never_happens_says_on_which_side():
    below = st.crossover(_grid((0.9, 0.8, 0.7, 0.6)), "net", n_boot=200)
    assert below.n_windows is None and below.reason == "below 1 at every size" and below.share == 0
    above = st.crossover(_grid((1.3, 1.2, 1.25, 1.1)), "net", n_boot=200)
    assert above.n_windows is None and above.reason == "above 1 at every size"
    cyc = st.crossover(_grid((1.3, 1.2, 1.25, 1.1)), "net", axis="cycles", n_boot=50)
    assert cyc.sizes == (100, 200, 400) and cyc.reason == "above 1 at every size"


def test_crossover_bootstrap_is_deterministic_given_its_seed():
    df = _grid((1.05, 1.02, 0.98, 0.95))
    a, b = (st.crossover(df, "net", n_boot=300, seed=3) for _ in range(2))
    assert a == b
    other = st.crossover(df, "net", n_boot=300, seed=4)
    assert dataclasses.replace(other, low=a.low, high=a.high, share=a.share) == a  # only the bootstrap moves
    assert (other.low, other.high, other.share) != (a.low, a.high, a.share)
    with pytest.raises(ValueError, match="two or more"):
        st.crossover(df[df["point"].isin(["d100", "c30"])], "net")


def _costs():
    rows = [dict(point=p, seed=s, approach=a, arms=a, seconds=sec * (1 + s), peak_rss_gb=gb)
            for p, k in (("d100", 1), ("d400", 4)) for s in (0, 1)
            for a, sec, gb in (("lightgbm", 10.0 * k, 1.0), ("wave_cnn", 100.0 * k, 2.0 * k))]
    return pd.DataFrame(rows)


def test_cost_table_sums_per_point_and_seed():
    ct = st.cost_table(_costs(), _grid((1.2, 1.1, 0.9, 0.8)))
    assert list(ct.index) == ["d100", "d400"]
    assert ct.loc["d100", "seconds"] == pytest.approx((10 + 100) * (1 + 2))
    assert ct.loc["d400", "s_wave_cnn"] == pytest.approx(400 * 1.5)  # mean of 400 and 800
    assert ct.loc["d400", "seconds_per_seed"] == pytest.approx(40 * 1.5 + 400 * 1.5)
    assert ct.loc["d400", "peak_rss_gb"] == 8.0 and ct.loc["d100", "n_seeds"] == 2
    assert ct.loc["d400", "n_windows"] == 400
    with pytest.raises(ValueError, match="repeat"):
        st.cost_table(pd.concat([_costs(), _costs().iloc[:1]]))


def test_cost_table_reads_rows_per_arm_and_keeps_the_growing_budget_apart():
    """The runner's records: one row per arm of a job (its seconds shared), a budget job on its own."""
    rows = [dict(point="d400", seed=0, approach="wave_cnn", arm=a, seconds=50.0, peak_rss_gb=3.0)
            for a in ("wave_cnn_regression", "wave_cnn_binned_soft")]
    rows += [dict(point="d400", seed=0, approach="wave_cnn", arm="wave_cnn_regression_budget", seconds=300.0,
                  peak_rss_gb=5.0),
             dict(point="d400", seed=1, approach="wave_cnn", arm="wave_cnn_regression", seconds=80.0, peak_rss_gb=3.0)]
    ct = st.cost_table(pd.DataFrame(rows))
    assert ct.loc["d400", "s_wave_cnn"] == pytest.approx((100 + 80) / 2)  # seed 0's job: its two arms' shares
    assert ct.loc["d400", "s_wave_cnn_budget"] == pytest.approx(300)
    assert ct.loc["d400", "seconds"] == pytest.approx(480) and ct.loc["d400", "peak_rss_gb"] == 5.0
    with pytest.raises(ValueError, match="repeat"):
        st.cost_table(pd.DataFrame(rows + rows[:1]))


def test_summary_lines_read_their_numbers_from_the_tables():
    df = _grid((1.2, 1.1, 0.9, 0.8))
    t = st.point_table(df)
    c = st.crossover(df, "net", n_boot=200)
    text = st.summary_lines(t, [c], st.cost_table(_costs()))
    lines = text.splitlines()
    assert lines[0].startswith("density axis (15 cycles; 4 sizes, 100 to 6,400 evaluation windows)")
    assert "best arm is net" in lines[0] and "(2 seeds), 0.80 x lightgbm" in lines[0] and "1.20 x" in lines[0]
    assert "cycles axis" in lines[1] and "lightgbm is best" in lines[1]
    assert f"near {c.n_windows:,.0f} evaluation windows" in lines[2]
    assert lines[3].endswith("first met on the density axis by net at 1,600 windows (0.90 x, 10/10).")
    assert lines[4].startswith("training the grid took")
    only_ref = st.summary_lines(t, arms=[]).splitlines()
    assert "lightgbm is best" in only_ref[0] and only_ref[-1].endswith("met by no arm at any size.")


def test_every_arm_gets_its_own_colour():
    arms = ["constant", "lightgbm", "lightgbm_fraction", "feature_mlp", "wave_cnn_regression",
            "wave_cnn_binned_soft", "spec_resnet_binned", "cpc_probe_linear", "ensemble_top3",
            "wave_cnn_regression_budget", "spec_resnet_binned_budget"]
    colors = fig8.arm_colors(arms)
    assert set(colors) == set(arms)
    assert len({matplotlib.colors.to_hex(c) for c in colors.values()}) == len(arms)
    assert fig8.arm_colors(arms[::-1]) == colors  # independent of the order the arms come in


def test_figures_draw_and_save(tmp_path):
    df = _grid((1.2, 1.1, 0.9, 0.8))
    t = st.point_table(df)
    c = st.crossover(df, "net", n_boot=200)
    figs = {"mae": fig8.mae_vs_size(t), "ratio": fig8.ratio_vs_size(t, [c]),
            "cost": fig8.cost_bars(st.cost_table(_costs(), df))}
    assert [ax.get_title() for ax in figs["mae"].axes] == ["density axis (15 cycles)", "cycles axis (density 0.075)"]
    marker = [line for line in figs["ratio"].axes[0].lines if line.get_marker() == "D"]
    assert len(marker) == 1 and marker[0].get_xdata()[0] == pytest.approx(c.n_windows)
    assert not [line for line in figs["ratio"].axes[1].lines if line.get_marker() == "D"]  # the density axis's
    for name, fig in figs.items():
        path = style.save(fig, tmp_path / f"08_{name}.png")
        assert path.stat().st_size > 1000
        plt.close(fig)
