"""Central 80% prediction intervals: a binned head's own quantiles, conformal intervals calibrated on
the other folds only (a peeking calibration is refused), and coverage, width, pinball loss."""
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

from quake_lib.evaluation import intervals as iv
from quake_lib.figures import ch06_intervals
from quake_lib.train.heads import BinnedHead, readouts_from_probs

matplotlib.use("Agg")


def _old_median(p, edges):
    """The median readout as it was before the quantile helper: the new one must equal it bit for bit."""
    width = edges[1:] - edges[:-1]
    cdf = p.cumsum(-1)
    k = torch.searchsorted(cdf.contiguous(), torch.full_like(cdf[:, :1], 0.5)).clamp(max=p.shape[-1] - 1)
    below = torch.gather(cdf, 1, k) - torch.gather(p, 1, k)
    pk = torch.gather(p, 1, k).clamp_min(1e-12)
    frac = ((0.5 - below) / pk).clamp(0.0, 1.0)
    return edges[k.squeeze(1)] + frac.squeeze(1) * width[k.squeeze(1)]


def test_level_names_every_column_in_one_place():
    assert iv.LEVEL == 0.8 and iv.QUANTILES == (0.1, 0.9)
    assert iv.QUANTILE_READOUTS == ("q10", "q90")
    assert iv.QUANTILE_COLUMNS == ("prediction_q10", "prediction_q90")
    assert set(BinnedHead.readout_names) == {"argmax", "expectation", "median", "q10", "q90"}


def test_binned_quantiles_of_a_known_distribution_and_median_unchanged():
    head = BinnedHead(n_bins=8, lo=0.0, hi=8.0)
    uniform = torch.full((1, 8), 1 / 8)
    reads = readouts_from_probs(uniform, head.edges)
    assert set(reads) == set(head.readout_names)
    assert float(reads["q10"][0]) == pytest.approx(0.8, abs=1e-5)   # 0.1 of the range [0, 8]
    assert float(reads["median"][0]) == pytest.approx(4.0, abs=1e-5)
    assert float(reads["q90"][0]) == pytest.approx(7.2, abs=1e-5)
    # all the mass in bin [2, 3): the quantiles lie inside it, linearly
    one = torch.zeros(1, 8)
    one[0, 2] = 1.0
    r = readouts_from_probs(one, head.edges)
    assert [float(r[k][0]) for k in ("q10", "median", "q90")] == pytest.approx([2.1, 2.5, 2.9], abs=1e-5)
    p = torch.softmax(torch.randn(64, 16, generator=torch.Generator().manual_seed(0)) * 3, dim=-1)
    edges = BinnedHead().edges
    reads = readouts_from_probs(p, edges)
    assert torch.equal(reads["median"], _old_median(p, edges))
    assert bool((reads["q10"] <= reads["median"]).all() and (reads["median"] <= reads["q90"]).all())


def test_residual_quantiles_finite_sample_ranks():
    assert iv.MIN_ROWS == 9
    assert iv.residual_quantiles(np.arange(1, 10)) == (1.0, 9.0)       # n=9: ranks 1 and 9
    assert iv.residual_quantiles(np.arange(19, 0, -1)) == (2.0, 18.0)   # n=19: ranks 2 and 18
    with pytest.raises(ValueError, match="at least 9 calibration rows"):
        iv.residual_quantiles(np.arange(8))


def _exchangeable(n_cycles=60, per_cycle=40, n_folds=5, seed=0, sd=1.0, approach="model"):
    """Windows of ``n_cycles`` cycles, ``n_folds`` folds of whole cycles, prediction = target + iid noise."""
    rng = np.random.default_rng(seed)
    cycle = np.repeat(np.arange(n_cycles), per_cycle)
    target = rng.uniform(0, 12, len(cycle))
    return pd.DataFrame({"arm": approach, "fold": cycle % n_folds, "cycle": cycle,
                         "start": np.arange(len(cycle)) * 1000, "target": target,
                         "prediction": target + sd * rng.standard_normal(len(cycle))})


def test_conformal_covers_about_80_percent_of_exchangeable_held_out_data():
    df = _exchangeable()
    out = iv.conformal(df)
    cov = float(iv.coverage(out).iloc[0])
    assert 0.78 <= cov <= 0.83
    # the width is that of N(0, 1)'s central 80%: 2 * 1.2816
    assert float((out["hi"] - out["lo"]).mean()) == pytest.approx(2 * 1.2816, rel=0.1)
    assert (out["interval"] == "conformal").all() and (out["lo"] >= 0).all()
    mondrian = iv.conformal(df, bins=3)
    assert 0.76 <= float(iv.coverage(mondrian).iloc[0]) <= 0.85


def test_a_calibration_that_peeks_at_the_held_out_fold_is_refused():
    df = _exchangeable(n_cycles=10, per_cycle=5)
    held = df[df["fold"] == 2]
    with pytest.raises(ValueError, match=r"held-out fold 2 \(cycles \[2, 7\]\)"):
        iv.calibrate(held, 2, held_out_cycles=held["cycle"].unique())
    # the same rows relabelled as another fold still share the held-out cycles
    with pytest.raises(ValueError, match=r"share cycles \[2, 7\] with the held-out fold 2"):
        iv.calibrate(held.assign(fold=0), 2, held_out_cycles=held["cycle"].unique())

    def peeking(frame):
        """An interval method that calibrates on every row, the held-out fold's included."""
        for fold, part in frame.groupby("fold"):
            iv.calibrate(frame, fold, held_out_cycles=part["cycle"].unique())

    with pytest.raises(ValueError, match="held-out fold 0"):
        peeking(df)
    # the honest path: the other folds only
    cal = iv.calibrate(df[df["fold"] != 2], 2, held_out_cycles=held["cycle"].unique())
    assert cal.held_out_fold == 2 and sum(cal.n) == (df["fold"] != 2).sum()


def test_calibration_rows_of_several_runs_are_refused():
    a, b = _exchangeable(seed=0), _exchangeable(seed=1)
    with pytest.raises(ValueError, match="mix 2 values of 'seed'"):
        iv.calibrate(pd.concat([a.assign(seed=0), b.assign(seed=1)]).query("fold != 0"), 0)
    with pytest.raises(ValueError, match="mix 2 values of 'arm'"):
        iv.calibrate(pd.concat([a, b.assign(arm="other")]).query("fold != 0"), 0)
    with pytest.raises(ValueError, match="bins must be a positive integer"):
        iv.calibrate(a.query("fold != 0"), 0, bins=0)


def test_each_seed_is_calibrated_on_its_own_residuals():
    df = pd.concat([_exchangeable(sd=0.1, seed=0).assign(seed=0), _exchangeable(sd=3.0, seed=1).assign(seed=1)],
                   ignore_index=True)
    out = iv.with_intervals(df)
    width = (out["hi"] - out["lo"]).groupby(out["seed"]).mean()
    assert width[0] < 0.5 and width[1] > 5.0   # pooled residuals would give both the same width
    by_fold = iv.coverage_by_fold(out)
    assert list(by_fold.index.names) == ["arm", "seed"] and by_fold.shape == (2, 5)
    table = iv.interval_table(out)
    assert table.loc["model", "n"] == len(df) and 0.75 <= table.loc["model", "coverage"] <= 0.85


def test_bounds_are_never_negative():
    df = _exchangeable(sd=2.0)
    df["target"] = df["target"] / 10          # targets near 0, errors of seconds: lo would go below 0
    df["prediction"] = df["target"] + 2.0 * np.random.default_rng(1).standard_normal(len(df))
    out = iv.conformal(df)
    assert (out["lo"] >= 0).all() and (out["hi"] >= out["lo"]).all() and (out["lo"] == 0).any()
    native = iv.native(df.assign(prediction_q10=-1.0, prediction_q90=2.0))
    assert (native["lo"] == 0).all()


def _hand_made():
    return pd.DataFrame({"arm": "a", "fold": [0, 0, 1, 1], "cycle": [0, 0, 1, 1], "start": [0, 1, 2, 3],
                         "target": [1.0, 2.0, 3.0, 4.0], "prediction": [1.0, 2.8, 3.0, 5.5],
                         "lo": [0.0, 2.5, 2.0, 5.0], "hi": [2.0, 3.0, 4.0, 6.0], "interval": "native"})


def test_coverage_width_and_pinball_on_a_hand_made_frame():
    df = _hand_made()
    assert float(iv.coverage(df)["a"]) == 0.5     # rows 2 (2 < 2.5) and 4 (4 < 5) miss
    # pinball per row: mean of 0.1- and 0.9-quantile losses: (0.1+0.1)/2, (0.45+0.1)/2, 0.1, (0.9+0.2)/2
    np.testing.assert_allclose(iv.pinball(df["target"], df["lo"], df["hi"]), [0.1, 0.275, 0.1, 0.55])
    t = iv.interval_table(df)
    assert t.loc["a", "method"] == "native" and t.loc["a", "n"] == 4
    assert t.loc["a", "coverage"] == 0.5 and t.loc["a", "coverage_sd"] == 0.0 and t.loc["a", "coverage_min"] == 0.5
    assert t.loc["a", "width"] == pytest.approx(1.375) and t.loc["a", "pinball"] == pytest.approx(0.25625)
    assert iv.coverage_by_fold(df).loc["a"].tolist() == [0.5, 0.5]


def test_coverage_per_time_to_failure_bin():
    df = _hand_made()
    by = iv.coverage_by_ttf(df)
    # targets 1 and 2 fall in bins 0-1 and 1-2 (right-closed), 3 and 4 in 2-4
    assert list(by.columns) == ["0-1", "1-2", "2-4"]
    assert by.loc["a"].tolist() == [1.0, 0.0, 0.5]


def test_with_intervals_native_where_the_model_has_quantiles_else_conformal():
    binned = _exchangeable(approach="binned")
    binned["prediction_q10"] = binned["prediction"] - 1.0
    binned["prediction_q90"] = binned["prediction"] + 1.0
    df = pd.concat([_exchangeable(approach="lgbm", seed=3), binned], ignore_index=True)
    out = iv.with_intervals(df)
    assert out.groupby("arm")["interval"].first().to_dict() == {"binned": "native", "lgbm": "conformal"}
    np.testing.assert_allclose(out.loc[out["arm"] == "binned", "hi"],
                               np.clip(binned["prediction"] + 1.0, 0, None))
    assert len(out) == len(df) and (out["start"].to_numpy() == df["start"].to_numpy()).all()
    assert set(iv.with_intervals(df, method="conformal")["interval"]) == {"conformal"}
    with pytest.raises(ValueError, match=r"arms \['lgbm'\] lack them"):
        iv.with_intervals(df, method="native")
    with pytest.raises(ValueError, match="method must be"):
        iv.with_intervals(df, method="bootstrap")


def test_one_fold_cannot_calibrate():
    df = _exchangeable().assign(fold=0)
    with pytest.raises(ValueError, match="need at least 9 rows .* held-out fold 0"):
        iv.conformal(df)


def test_figures_draw_bands_and_coverage():
    df = pd.concat([_exchangeable(approach="a", n_cycles=10), _exchangeable(approach="b", n_cycles=10, seed=2)],
                   ignore_index=True)
    fig = ch06_intervals.bands_figure(df, ["a", "b"])
    assert sum(ax.get_visible() for ax in fig.axes) == 2 and "coverage" in fig.axes[0].get_title()
    plt.close(fig)
    with pytest.raises(ValueError, match=r"arms \['c'\] have no rows"):
        ch06_intervals.bands_figure(df, ["a", "c"])
    fig = ch06_intervals.coverage_figure(iv.coverage_by_ttf(df))
    assert len(fig.axes[0].lines) == 3   # two approaches and the nominal line
    plt.close(fig)
