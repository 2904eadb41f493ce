"""Chapter 7, lab runs p4581 / p5198: the reader, causal inputs and networks, leave-cycles-out folds, the
training loop, Laurenti's protocol. Synthetic lab tables for the properties; the real files (skipped,
saying why, without them) for the reader's counts and one quick cross-validation."""
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

from quake_lib import paths, profiles
from quake_lib.data.lab_runs import COLUMNS, LAB_RUNS, TARGETS, read_lab_run
from quake_lib.evaluation.scores import mae_table
from quake_lib.features.lab_history import fit_input_scale, history_features, history_tensor
from quake_lib.figures import ch07_lab
from quake_lib.models.lab_nets import CausalCNN, CausalCNNConfig, LabCPC, LaurentiLSTM
from quake_lib.studies import lab_protocols
from quake_lib.studies import lab_study as lab
from quake_lib.train.sequence_fit import SequenceFitConfig, crop_starts, fit_ridge, fit_sequence_model

QUICK = profiles.get("quick").real
# a small synthetic run: 2 s of history for the networks, 1 and 2 s for boosting
SMALL = replace(QUICK, history_s=(1.0, 2.0), net_history_s=2.0, lab_folds=3, gbm_estimators=100, net_epochs=2,
                net_hidden=8, cpc_epochs=1)


def lab_table(cycle_rows=(45, 52, 38, 60, 41, 55, 47, 50), head=15, fail_rows=3, seed=0, zero_first=True):
    """A lab table in the files' format: a partial head, then cycles of ``cycle_rows`` rows; the log AE
    variance rises linearly towards each failure (learnable), shear stress builds up through the cycle."""
    rng = np.random.default_rng(seed)
    lengths = [head, *cycle_rows]
    starts = np.cumsum([0, *lengths])[:-1]
    n = int(sum(lengths))
    ttsf = np.concatenate([(np.arange(k, 0, -1) - 1) * 0.1 for k in lengths])
    ends = [s + fail_rows for s in starts[1:]] + [n + fail_rows]   # a failure ends fail_rows after it starts
    ttef = np.array([(min(e for e in ends if e > i) - i - 1) * 0.1 for i in range(n)])
    frac = np.concatenate([np.linspace(0, 1, k) for k in lengths])
    var1 = np.exp(2 - 0.5 * ttsf + 0.1 * rng.normal(size=n))  # louder as the failure nears
    frame = pd.DataFrame({"LPDisp": np.arange(n) * 0.5, "NormStress": 0.0, "ShearStress": 3 + 0.5 * frac,
                          "Time": 100 + 0.1 * np.arange(n), "Var_Ch1": var1, "Var_Ch2": 1.5 * var1,
                          "TimeToStartFailure": ttsf.round(6), "TimeToEndFailure": ttef.round(6)})
    if zero_first:
        frame.loc[0, ["TimeToStartFailure", "TimeToEndFailure"]] = 0.0
    return frame[list(COLUMNS)]


def write(frame, path):
    frame.to_csv(path)
    return path


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    return read_lab_run(write(lab_table(), tmp_path_factory.mktemp("lab") / "lab_toy_ae_variance.csv"))


@pytest.fixture(scope="module")
def small_cv(small_run):
    return lab.cross_validate_run(small_run, SMALL, arms=("constant", "gbm_now", "gbm_2s", "ridge_history"))


@pytest.fixture(scope="module")
def small_protocol(small_run):
    return lab_protocols.laurenti_protocol(small_run, SMALL, models=("gbm_2s",))


@pytest.fixture(scope="module")
def real_runs():
    d = paths.shared_lanl_dir()
    missing = [f for f in LAB_RUNS.values() if not (d / f).exists()]
    if missing:
        pytest.skip(f"real lab runs {missing} not found in {d} (set QUAKE_SHARED_DIR to point at them)")
    return {name: read_lab_run(name) for name in LAB_RUNS}


# --- the reader ---------------------------------------------------------------------------------------
def test_reader_cycles_change_exactly_at_the_resets(small_run):
    run = small_run
    assert run.name == "toy" and len(run) == 15 + 388
    assert run.n_cycles == 9 and run.n_resets == 8
    t = run.target("TimeToStartFailure")
    jumps = np.flatnonzero(np.diff(t[1:]) > 0) + 2              # resets after the zero-filled first row
    assert np.array_equal(np.flatnonzero(np.diff(run.cycles)) + 1, jumps)
    assert not run.labeled[0] and run.labeled[1:].all()
    assert list(run.complete) == [False] + [True] * 8            # partial head; the tail ends at 0
    table = run.cycle_table()
    assert table["n_rows"].tolist() == [15, 45, 52, 38, 60, 41, 55, 47, 50]


def test_reader_on_the_real_runs(real_runs):
    # The README counts 32 and 47 lab quakes: the files hold 31 and 46 failure starts (jumps of
    # TimeToStartFailure after the zero-filled first row), and 32 / 47 cycles counting the partial head
    # (12 and 55 rows before the first reset). Both tails end with the countdown at 0: complete cycles.
    expected = {"p4581": (3005, 32, 12), "p5198": (3009, 47, 55)}
    for name, run in real_runs.items():
        rows, cycles, head = expected[name]
        assert (len(run), run.n_cycles, run.n_resets) == (rows, cycles, cycles - 1)
        table = run.cycle_table()
        assert table["n_rows"].iloc[0] == head and not table["complete"].iloc[0]
        assert table["complete"].iloc[1:].all()
        assert not run.labeled[0] and run.labeled[1:].all()
        t = run.target("TimeToStartFailure")
        starts = np.flatnonzero(np.diff(run.cycles)) + 1
        assert (t[starts] > t[starts - 1]).all() and np.allclose(t[starts - 1], 0)
    # complete cycles: 9.65 s on average (6.3-11.5) and 6.42 s (5.4-6.9); the README's ~9.3 / ~6.3 s are the
    # 300 s divided by the quake counts, head included
    p4581, p5198 = (real_runs[n].cycle_table()["seconds"].iloc[1:] for n in ("p4581", "p5198"))
    assert (p4581.mean(), p4581.min(), p4581.max()) == pytest.approx((9.655, 6.3, 11.5), abs=0.01)
    assert (p5198.mean(), p5198.min(), p5198.max()) == pytest.approx((6.422, 5.4, 6.9), abs=0.01)


def test_reader_errors_name_the_file_line_and_column(tmp_path):
    good = lab_table()
    p = write(good.drop(columns="Var_Ch2"), tmp_path / "a.csv")
    with pytest.raises(ValueError, match=r"a\.csv: missing column\(s\) \['Var_Ch2'\]"):
        read_lab_run(p)
    bad = good.astype(object)
    bad.loc[7, "ShearStress"] = "oops"
    with pytest.raises(ValueError, match=r"b\.csv: line 9, column 'ShearStress': expected a finite number"):
        read_lab_run(write(bad, tmp_path / "b.csv"))
    gap = good.copy()
    gap.loc[40:, "Time"] += 0.5
    with pytest.raises(ValueError, match=r"c\.csv: line 42, column 'Time': step 0\.6 s"):
        read_lab_run(write(gap, tmp_path / "c.csv"))
    neg = good.copy()
    neg.loc[3, "Var_Ch1"] = 0.0
    with pytest.raises(ValueError, match=r"d\.csv: line 5, column 'Var_Ch1': expected a positive variance"):
        read_lab_run(write(neg, tmp_path / "d.csv"))
    skip = good.copy()
    skip.loc[30, "TimeToEndFailure"] -= 0.2
    with pytest.raises(ValueError, match=r"e\.csv: line 32, column 'TimeToEndFailure': expected a countdown"):
        read_lab_run(write(skip, tmp_path / "e.csv"))
    with pytest.raises(FileNotFoundError, match="no such lab-run file"):
        read_lab_run(tmp_path / "absent.csv")


def test_reader_error_on_a_broken_copy_of_a_real_file(real_runs, tmp_path):
    lines = real_runs["p4581"].path.read_text().splitlines()
    del lines[1501]  # row 1500 lost: a 0.2 s step in Time before row 1501, now on line 1502
    p = tmp_path / "lab_p4581_ae_variance.csv"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"lab_p4581_ae_variance\.csv: line 1502, column 'Time'"):
        read_lab_run(p)


# --- causal inputs and networks -----------------------------------------------------------------------
def test_history_inputs_never_use_future_rows():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(200, 2))
    windows = {"1s": 10, "3s": 30}
    before = history_features(z, windows)
    tens = history_tensor(z, np.arange(29, 200), 30)
    j = 120
    z2 = z.copy()
    z2[j] += 5.0
    after = history_features(z2, windows)
    pd.testing.assert_frame_equal(before.iloc[:j], after.iloc[:j])            # the past is untouched
    assert not np.allclose(before.iloc[j:j + 10].to_numpy(), after.iloc[j:j + 10].to_numpy())
    tens2 = history_tensor(z2, np.arange(29, 200), 30)
    assert np.array_equal(tens[: j - 29], tens2[: j - 29])
    assert np.isnan(before["mean_3s_ch1"].iloc[:29]).all() and np.isfinite(before["mean_3s_ch1"].iloc[29:]).all()
    assert np.allclose(before["mean_1s_ch2"].iloc[50], z[41:51, 1].mean())
    with pytest.raises(ValueError, match="rows of history"):
        history_tensor(z, [5], 30)


def test_per_run_scale_uses_inputs_only():
    v = np.exp(np.random.default_rng(2).normal(3, 1, size=(500, 2)))
    s = fit_input_scale(v)
    z = s.apply(v)
    assert np.allclose(np.median(z, 0), 0, atol=1e-6)
    assert np.allclose(np.subtract(*np.percentile(z, [75, 25], axis=0)), 1, atol=1e-6)


def test_causal_cnn_is_causal():
    torch.manual_seed(0)
    net = CausalCNN(2, 3, CausalCNNConfig(channels=8, skip_channels=8, hidden=8)).eval()
    x = torch.randn(4, 70, 2)
    t = 40
    x2 = x.clone()
    x2[:, t] += 3.0
    with torch.no_grad():
        a, b = net.per_step(x), net.per_step(x2)
        assert torch.equal(a[:, :t], b[:, :t])
        assert not torch.allclose(a[:, t], b[:, t])
        assert torch.allclose(net(x), a[:, -1], atol=1e-6)
    cpc = LabCPC(2).eval()
    with torch.no_grad():
        c1, z1 = cpc.contexts(x)
        c2, z2 = cpc.contexts(x2)
    assert torch.equal(c1[:, :t], c2[:, :t]) and torch.equal(z1[..., :t], z2[..., :t])


# --- folds and training -------------------------------------------------------------------------------
def test_folds_never_share_cycles_and_every_row_is_held_out_once(small_run, small_cv):
    cv = small_cv
    for f in cv.folds:
        assert not set(f.train_cycles) & set(f.test_cycles)
    o = cv.oof
    assert set(o["target_name"]) == set(TARGETS)
    for (arm, target), part in o.groupby(["arm", "target_name"]):
        assert part["start"].is_unique
        held = {int(f.index): set(f.test_cycles) for f in cv.folds}
        assert all(c in held[k] for k, c in zip(part["fold"], part["cycle"]))
    # rows with the networks' full 2 s history (20 rows), labeled: row 19 onwards
    assert sorted(o["start"].unique()) == list(range(19, len(small_run)))
    table = cv.summary
    assert set(table.index.get_level_values("arm")) == {"constant", "gbm_now", "gbm_2s", "ridge_history"}
    # the project's OOF format: chapter 6's MAE table reads one target's rows as they are
    mt = mae_table(o[o["target_name"] == "ShearStress"], readouts=False)
    assert [c for c in mt.columns if c.startswith("fold_")] == ["fold_0", "fold_1", "fold_2"]
    assert np.allclose(mt.loc["gbm_2s", "mean"], table.loc[("gbm_2s", "ShearStress"), "mae_mean"])
    # the variance announces the failure in this toy: boosting beats the constant on time to failure
    assert table.loc[("gbm_now", "TimeToStartFailure"), "mae_mean"] < 0.6 * table.loc[
        ("constant", "TimeToStartFailure"), "mae_mean"]


def toy_sequences(n=512, steps=20, seed=0):
    """Smooth random walks (like a variance history); targets: the current level of channel 1 and the
    mean of channel 2 over the history."""
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(n, steps, 2)).cumsum(1) / 3).astype(np.float32)
    return x, np.stack([x[:, -1, 0], x[:, :, 1].mean(1)], axis=1)


def test_training_loop_is_deterministic():
    x, y = toy_sequences(128)
    cfg = SequenceFitConfig(epochs=2, batch=32, lr=3e-3)
    make = lambda n: LaurentiLSTM(2, n, 20, 8)  # noqa: E731
    a = fit_sequence_model(make, x, y, cfg, seed=3).predict(x)
    b = fit_sequence_model(make, x, y, cfg, seed=3).predict(x)
    c = fit_sequence_model(make, x, y, cfg, seed=4).predict(x)
    assert np.array_equal(a, b) and not np.allclose(a, c)


@pytest.mark.parametrize("net", ["cnn", "lstm"])
def test_a_learnable_toy_sequence_is_learned(net):
    x, y = toy_sequences(768)
    xt, yt = toy_sequences(256, seed=1)
    make = ((lambda n: CausalCNN(2, n, CausalCNNConfig(channels=16, skip_channels=16, hidden=16)))
            if net == "cnn" else (lambda n: LaurentiLSTM(2, n, 20, 16)))
    fit = fit_sequence_model(make, x, y, SequenceFitConfig(epochs=12, batch=32, lr=3e-3), seed=0)
    mae = np.abs(fit.predict(xt) - yt).mean(0)
    constant = np.abs(yt - np.median(y, 0)).mean(0)
    assert (mae < 0.5 * constant).all(), (mae, constant)
    assert fit.losses[-1] < 0.6 * fit.losses[0]


def test_cpc_crops_stay_out_of_held_out_cycles_and_its_probe_runs(small_run):
    allowed = np.ones(100, bool)
    allowed[30:45] = False
    starts = crop_starts(allowed, 20)
    assert all(allowed[s:s + 20].all() for s in starts)
    assert sorted(starts) == [*range(0, 11), *range(45, 81)]     # every crop that fits, none other
    cv = lab.cross_validate_run(small_run, SMALL, arms=("cpc_probe",))
    assert set(cv.pretrain["fold"]) == {0, 1, 2} and len(cv.oof) == 3 * (len(small_run) - 19)
    assert np.isfinite(cv.oof["prediction"]).all()


def test_ridge_recovers_a_linear_map():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 5))
    y = x @ np.array([1.0, -2.0, 0.0, 0.5, 3.0]) + 4
    assert np.abs(fit_ridge(x, y, alpha=1e-6).predict(x)[:, 0] - y).max() < 1e-3


# --- Laurenti's protocol, transfer -------------------------------------------------------------------
def test_protocol_scaler_a_uses_the_test_part_and_b_does_not():
    rng = np.random.default_rng(0)
    train, test = rng.uniform(0, 1, (100, 3)), rng.uniform(0, 1, (40, 3))
    test2 = test.copy()
    test2[5, 2] = 10.0  # only the test part changes
    for refit in (True, False):
        tr1, te1 = lab_protocols.protocol_scalers(train, test, refit_on_test=refit)
        tr2, te2 = lab_protocols.protocol_scalers(train, test2, refit_on_test=refit)
        assert np.array_equal(tr1.lo, tr2.lo) and np.array_equal(tr1.hi, tr2.hi)
        changed = not np.array_equal(te1.hi, te2.hi)
        assert changed == refit
    _, te = lab_protocols.protocol_scalers(train, test, refit_on_test=True)
    assert np.allclose(te.transform(test).min(0), 0) and np.allclose(te.transform(test).max(0), 1)
    tr, te = lab_protocols.protocol_scalers(train, test, refit_on_test=False)
    assert te is tr


def test_protocol_and_transfer_tables(small_run, small_cv, small_protocol, tmp_path):
    other = read_lab_run(write(lab_table(cycle_rows=(40, 44, 39, 42, 46, 41), seed=1), tmp_path / "lab_b_x.csv"))
    res = small_protocol
    assert list(res.table["protocol"]) == ["a", "b", "c"]
    n = len(small_run)
    assert res.table.set_index("protocol").loc["a", "n"] == n - int(0.7 * n)
    assert res.table.set_index("protocol").loc["c", "n"] == n - 19
    t = lab_protocols.transfer(small_run, other, SMALL, arms=("gbm_2s",), own={"toy": small_cv})
    assert set(zip(t["trained_on"], t["scored_on"])) == {("toy", "b"), ("b", "toy")}
    assert t[["mae", "own_mae_mean"]].notna().all().all()
    plt.close(ch07_lab.transfer_bars(t))


def test_real_quick_cross_validation(real_runs):
    """Boosting on the 7 s history against the constant, quick sizes, p4581 (seconds)."""
    cv = lab.cross_validate_run(real_runs["p4581"], QUICK, arms=("constant", "gbm_7s"))
    s = cv.summary
    for t in TARGETS:
        assert s.loc[("gbm_7s", t), "mae_mean"] < 0.7 * s.loc[("constant", t), "mae_mean"]
        assert s.loc[("gbm_7s", t), "r2"] > 0.6
    assert s["n"].eq(3005 - 69).all()  # rows with 70 rows of history


def test_figures_draw(small_cv, small_protocol):
    figs = [ch07_lab.lab_predictions(small_cv.oof, ["gbm_now", "gbm_2s"], "toy", span_s=None),
            ch07_lab.lab_score_bars(small_cv.summary, "toy"), ch07_lab.protocol_bars(small_protocol.table)]
    figs.append(ch07_lab.cpc_accuracy({"toy": pd.DataFrame({"fold": [0, 0, 1, 1], "epoch": [1, 2, 1, 2],
                                                            "accuracy": [0.05, 0.1, 0.06, 0.12],
                                                            "chance": [1 / 32] * 4})}))
    for f in figs:
        assert f.axes
        plt.close(f)
