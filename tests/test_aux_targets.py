"""The Kaggle winners' cycle targets (time since failure, cycle fraction): their values on a recording,
the conversions back to time_to_failure, the WaveNet's auxiliary head (loss, data path, checkpoints)
and LightGBM's arms (never a held-out cycle's length)."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import make_recording_arrays
from tiny_data import LENGTH, ONE_EPOCH, TINY

from quake_lib import evaluation as ev
from quake_lib.approaches import lightgbm, registry, wave_cnn
from quake_lib.data import cycle_targets as ct
from quake_lib.data import store
from quake_lib.data.recording import Recording
from quake_lib.features.competition import kaggle_features
from quake_lib.studies import real_transfer
from quake_lib.train import QuakeModule, RegressionHead, cross_validate, predict_windows
from quake_lib.train.data import DataConfig, QuakeDataModule, WindowBatches
from quake_lib.train.heads import AuxHead, BinnedHead, make_head
from quake_lib.train.predict import head_spec, load_module

SMALL_GBM = lightgbm.LgbmConfig(n_estimators=20, learning_rate=0.1, min_child_samples=5, train_stride=LENGTH // 2,
                                n_jobs=1)


@pytest.fixture
def steps(data_dir):
    """Three cycles of 3,500 / 5,000 / 4,000 rows at 1,000 rows per second; time_to_failure counts down
    to 0.0005 s at each cycle's last row (the first cycle is the recording's partial one)."""
    signal, ttf = make_recording_arrays((3500, 5000, 4000))
    store.write_recording(data_dir / "steps", signal, ttf, {"source": {"kind": "test"}}, chunk=1000)
    return Recording.open("steps")


# ---------------------------------------------------------------- the targets and their way back

def test_cycle_targets_of_a_recording_by_hand(steps):
    lengths = ct.cycle_lengths(steps)
    assert np.isnan(lengths[0])  # the partial first cycle: its start precedes the recording
    np.testing.assert_allclose(lengths[1:], [4.9995, 3.9995], rtol=1e-6)
    frame = ct.lengths_frame(steps)
    assert frame["length_known"].tolist() == [False, True, True] and frame.index.name == "cycle"

    w = steps.windows(length=1000)  # starts 0, 1000, 2000 (cycle 0), 4000.. (1), 9000.. (2)
    since = ct.window_targets(steps, w, "since_failure")
    frac = ct.window_targets(steps, w, "fraction")
    assert np.isnan(since[w.cycles == 0]).all() and np.isnan(frac[w.cycles == 0]).all()
    # window 4000-4999: its last row lies 1,499 rows (1.499 s) after the failure at row 3500
    i = int(np.flatnonzero(w.starts == 4000)[0])
    assert w.targets[i] == pytest.approx(3.5005, rel=1e-6)
    assert since[i] == pytest.approx(1.499, abs=1e-5)
    assert frac[i] == pytest.approx(3.5005 / 4.9995, rel=1e-6)
    j = int(np.flatnonzero(w.starts == 11000)[0])  # last row 11999: 3.499 s after the failure at row 8500
    assert since[j] == pytest.approx(3.499, abs=1e-5) and frac[j] == pytest.approx(0.5005 / 3.9995, rel=1e-5)
    np.testing.assert_array_equal(ct.window_targets(steps, w, "ttf"), w.targets.astype(np.float64))


def test_conversions_back_to_time_to_failure():
    since = np.array([1.0, 7.0, 12.0])
    np.testing.assert_allclose(ct.to_ttf("since_failure", since, 10.0), [9.0, 3.0, 0.0])  # never negative
    np.testing.assert_allclose(ct.to_ttf("fraction", np.array([0.25, 1.0]), 8.0), [2.0, 8.0])
    assert ct.to_ttf("ttf", since, 10.0) is since
    # torch tensors alike (a head converts its outputs)
    assert torch.equal(ct.to_ttf("since_failure", torch.tensor([1.0, 12.0]), torch.tensor(10.0)),
                       torch.tensor([9.0, 0.0]))
    # with the true length, each target goes back to time_to_failure exactly
    ttf, length = np.array([0.5, 3.0, 6.0]), 6.0
    for name in ct.TARGETS:
        np.testing.assert_allclose(ct.to_ttf(name, ct.target(name, ttf, length), length), ttf)
    assert ct.mean_length([np.nan, 4.0, 6.0]) == 5.0  # unknown lengths left out
    with pytest.raises(ValueError, match="lengths: expected at least one training cycle of known length"):
        ct.mean_length([np.nan])
    with pytest.raises(ValueError, match="cycle target 'elapsed' is not known; expected one of: ttf"):
        ct.target("elapsed", ttf, length)
    assert ct.prediction_column("since_failure") == "predicted_since_failure"


# ---------------------------------------------------------------- the auxiliary head

def test_aux_head_loss_ignores_rows_without_an_aux_target():
    head = AuxHead("regression", aux="since_failure", weight=0.5)
    assert head.n_outputs == 2 and head.default_readout == "value"
    out = torch.tensor([[0.2, 1.0], [-0.3, 2.0], [0.1, -4.0]], requires_grad=True)
    y = torch.tensor([[3.0, 1.5], [4.0, float("nan")], [5.0, 0.5]])
    loss = head.loss(out, y)
    base = RegressionHead().loss(out[:, :1], y[:, 0])
    aux = (torch.tensor([1.0, -4.0]) - torch.tensor([1.5, 0.5])).abs().mean()  # rows 0 and 2 only
    assert torch.isclose(loss, base + 0.5 * aux)
    loss.backward()
    assert torch.isfinite(out.grad).all() and out.grad[1, 1] == 0  # no gradient from an unknown target
    # all unknown: the auxiliary term is 0, the loss stays finite
    y_none = y.clone()
    y_none[:, 1] = float("nan")
    assert torch.isclose(head.loss(out, y_none), base)
    with pytest.raises(ValueError, match=r"y must be \(batch, 2\) \[time_to_failure, since_failure\]"):
        head.loss(out, y[:, 0])
    with pytest.raises(ValueError, match="weight must be a number >= 0"):
        AuxHead(weight=-1.0)


def test_aux_head_fits_both_targets_and_reads_out_time_to_failure_once_it_knows_the_length():
    head = AuxHead(BinnedHead(n_bins=4), aux="since_failure")
    head.fit_targets(np.array([[1.0, np.nan], [2.0, 4.0], [3.0, 6.0], [4.0, 8.0]]))
    assert float(head.aux_head.offset) == pytest.approx(6.0)  # the median of the known values only
    out = torch.zeros(2, 5)
    out[:, -1] = torch.tensor([0.0, 10.0])
    reads = head.readouts(out)
    assert set(reads) == {*head.base.readouts(out[:, :4]), "since_failure"}  # the base's, and the aux output
    assert "from_since_failure" not in reads and "from_since_failure" not in head.readout_names
    head.fit_cycle_length(9.0)
    reads = head.readouts(out)
    np.testing.assert_allclose(reads["from_since_failure"].numpy(),
                               np.maximum(9.0 - reads["since_failure"].numpy(), 0.0), rtol=1e-6)
    assert head.readout_names[-2:] == ("since_failure", "from_since_failure")
    with pytest.raises(ValueError, match=r"targets must be \(n, 2\)"):
        head.fit_targets(np.ones(4))
    rebuilt = make_head("aux", **head_spec(head))
    assert isinstance(rebuilt.base, BinnedHead) and rebuilt.base.n_outputs == 4 and rebuilt.weight == 1.0


def test_batches_carry_the_aux_target_only_when_asked(steps):
    w = steps.windows(length=1000)
    _, plain = WindowBatches(steps, w, 4)[0]
    np.testing.assert_array_equal(plain.numpy(), w.targets[:4])  # as before: (b,) time_to_failure
    assert plain.dtype == torch.float32 and plain.ndim == 1
    batches = WindowBatches(steps, w, 4, aux="since_failure")
    _, both = batches[0]  # windows 0, 1000, 2000 (cycle 0: no known time since failure) and 4000 (cycle 1)
    np.testing.assert_array_equal(both[:, 0].numpy(), w.targets[:4])
    assert torch.isnan(both[:3, 1]).all() and both[3, 1] == pytest.approx(1.499, abs=1e-5)
    np.testing.assert_allclose(batches[1][1][:, 1].numpy(), ct.window_targets(steps, w, "since_failure")[4:8],
                               rtol=1e-6)
    cfg = DataConfig(length=1000, windows_per_epoch=8, batch_size=4, scale_windows=4)
    dm = QuakeDataModule(steps, [0, 1, 2], w.subset(slice(0, 2)), cfg, aux="since_failure")
    assert dm.train_targets().shape[1] == 2
    assert dm.mean_cycle_length() == pytest.approx((4.9995 + 3.9995) / 2, rel=1e-6)  # cycle 0 unknown
    assert QuakeDataModule(steps, [0, 1, 2], w, cfg).train_targets().ndim == 1
    with pytest.raises(ValueError, match="cycle target 'position' is not known"):
        QuakeDataModule(steps, [0, 1, 2], w, cfg, aux="position")


def test_aux_arm_trains_saves_and_round_trips_through_its_checkpoint(rec, windows):
    folds = ev.make_folds(rec, n_folds=2, windows=windows)
    head = AuxHead("regression", aux="since_failure")
    res = cross_validate(rec, TINY, head, folds, seed=0, eval_windows=windows, arm="tiny_aux",
                         verbose=False, **ONE_EPOCH)
    oof = res.oof
    assert {"prediction_value", "prediction_from_since_failure", "predicted_since_failure"} <= set(oof.columns)
    assert "prediction_since_failure" not in oof.columns  # not a time_to_failure readout: not scored as one
    np.testing.assert_array_equal(oof["prediction"], oof["prediction_value"])
    lengths = ct.cycle_lengths(rec)
    for f in folds:
        part = oof[oof["fold"] == f.index]
        mean = ct.mean_length(lengths[f.train_cycles])  # the training cycles' lengths only
        np.testing.assert_allclose(part["prediction_from_since_failure"],
                                   np.maximum(mean - part["predicted_since_failure"], 0), rtol=1e-5, atol=1e-5)
    metrics = ev.load_metrics(rec.name, "tiny_aux")
    assert {"val_mae", "val_mae_since_failure", "val_mae_from_since_failure"} <= set(metrics.columns)
    assert "tiny_aux[from_since_failure]" in res.mae_table().index

    module, meta = load_module(res.checkpoints[1])
    assert meta["head"] == "aux" and isinstance(module.head, AuxHead)
    assert float(module.head.mean_length) == pytest.approx(ct.mean_length(lengths[folds[1].train_cycles]))
    held = windows.subset(np.isin(windows.cycles, folds[1].test_cycles))
    again = predict_windows(module, rec, held, batch_size=16)
    part = oof[oof["fold"] == 1].sort_values("start")
    for col, name in (("prediction", "value"), ("prediction_from_since_failure", "from_since_failure"),
                      ("predicted_since_failure", "since_failure")):
        np.testing.assert_allclose(again[name], part[col], rtol=1e-5, atol=1e-5)


def test_a_plain_head_trains_as_before_with_time_to_failure_batches(rec, windows):
    # the plain heads' data path is unchanged: (b,) float32 targets, no aux column, no cycle lengths read
    cfg = DataConfig(length=LENGTH, windows_per_epoch=16, batch_size=8, scale_windows=4)
    dm = QuakeDataModule(rec, [1, 2, 3], windows.subset(slice(0, 3)), cfg, seed=5)
    raw, y = next(iter(dm.train_dataloader()))
    w = dm.epoch_windows(0)
    assert y.ndim == 1 and np.array_equal(y.numpy(), w.targets[:8].astype(np.float32))
    assert np.array_equal(raw.numpy(), rec.read(w.subset(slice(0, 8))))
    module = QuakeModule(TINY(1), RegressionHead(), scale=dm.scale)
    assert torch.isfinite(module.head.loss(module(raw), y))


# ---------------------------------------------------------------- LightGBM's arms

def test_lightgbm_arms_share_features_folds_and_seed_and_save_what_submit_needs(rec, windows):
    folds = ev.make_folds(rec, n_folds=3, windows=windows)
    res = lightgbm.cross_validate(rec, folds, seed=0, config=SMALL_GBM, windows=windows, progress=False)
    plain = lightgbm.cross_validate(rec, folds, seed=0, arms=("lightgbm",), config=SMALL_GBM, windows=windows,
                                    progress=False, save=False)
    arms = ["lightgbm", "lightgbm_since_failure", "lightgbm_fraction"]
    assert list(dict.fromkeys(res.oof["arm"])) == arms
    mine = res.oof[res.oof["arm"] == "lightgbm"].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine[plain.oof.columns], plain.oof)  # the plain arm is the one it was
    lengths = ct.cycle_lengths(rec)
    for arm, target in zip(arms[1:], ("since_failure", "fraction")):
        oof = ev.load_oof(rec.name, arm)
        assert len(oof) == len(windows)  # every arm predicts every held-out window (the first cycle's too)
        meta = json.loads((ev.checkpoint_dir(rec.name, arm) / "meta.json").read_text())
        assert meta["target"] == target and meta["arm"] == arm and meta["approach"] == "lightgbm"
        feats = kaggle_features(rec, windows, progress=False)
        for f in folds:
            mean = ct.mean_length(lengths[f.train_cycles])
            assert meta["mean_train_length_s"][str(f.index)] == pytest.approx(mean)
            part = oof[oof["fold"] == f.index].sort_values("start")
            np.testing.assert_allclose(part["prediction"], ct.to_ttf(target, part[ct.prediction_column(target)],
                                                                     mean), rtol=1e-5, atol=1e-5)
            # what a submission does with the saved booster and meta.json
            booster = lightgbm.load_booster(ev.checkpoint_dir(rec.name, arm) / f"fold_{f.index}.txt")
            te = np.isin(windows.cycles, f.test_cycles)
            got = lightgbm.predict_ttf(booster, feats[booster.feature_name()][te].to_numpy(), meta, f.index)
            np.testing.assert_allclose(got, part["prediction"], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="no mean_train_length_s for fold 7"):
        lightgbm.predict_ttf(booster, feats[booster.feature_name()][:2].to_numpy(), meta, 7)
    assert set(res.importance["arm"]) == set(arms)
    # where in the cycle: chapter 7's position table reads a recording's rows with lengths_frame
    pos = real_transfer.by_position(res.oof, ct.lengths_frame(rec))
    assert list(pos.columns) == ["n", *arms] and pos["n"].sum() == int((windows.cycles != 0).sum())
    assert not lightgbm.top_features(res.importance, k=3, arm="lightgbm_fraction").empty


def test_lightgbm_cycle_arms_never_use_a_held_out_cycles_length(rec, windows, monkeypatch):
    folds = ev.make_folds(rec, n_folds=3, windows=windows)
    fits = []
    original = lightgbm.LgbmConfig.regressor

    def recording_regressor(self, seed):  # note every training target LightGBM is given
        model = original(self, seed)
        fit = model.fit
        model.fit = lambda x, y: fits.append(np.asarray(y)) or fit(x, y)
        return model

    monkeypatch.setattr(lightgbm.LgbmConfig, "regressor", recording_regressor)
    targets = ("since_failure", "fraction")
    a = lightgbm.cross_validate(rec, folds, seed=0, arms=[lightgbm.arm_name(t) for t in targets],
                                config=SMALL_GBM, windows=windows, progress=False, save=False)
    # the partial first cycle's training rows are left out: every fit has exactly the others
    grid = rec.windows(LENGTH, SMALL_GBM.train_stride)
    expected = [int((np.isin(grid.cycles, f.train_cycles) & (grid.cycles != 0)).sum()) for f in folds
                for _ in targets]
    assert [len(y) for y in fits] == expected and all(np.isfinite(y).all() for y in fits)
    assert any(0 in f.train_cycles for f in folds)

    fold = next(f for f in folds if 0 not in f.test_cycles)
    held = int(fold.test_cycles[0])
    true_lengths = ct.cycle_lengths(rec)
    absurd = true_lengths.copy()
    absurd[held] *= 100.0
    monkeypatch.setattr(ct, "cycle_lengths", lambda r: absurd.copy())
    b = lightgbm.cross_validate(rec, folds, seed=0, arms=[lightgbm.arm_name(t) for t in targets],
                                config=SMALL_GBM, windows=windows, progress=False, save=False)
    for arm in ("lightgbm_since_failure", "lightgbm_fraction"):
        pa, pb = (r.oof[r.oof["arm"] == arm] for r in (a, b))
        inside = (pa["fold"] == fold.index).to_numpy()
        before, after = pa["prediction"].to_numpy(), pb["prediction"].to_numpy()
        # the held-out cycle's own predictions do not move; the folds that train on it do
        np.testing.assert_array_equal(before[inside], after[inside])
        assert not np.array_equal(before[~inside], after[~inside])


# ---------------------------------------------------------------- the registry

def test_registry_lists_the_new_arms_and_keeps_two_baselines():
    assert registry.baselines() == ("constant", "lightgbm")
    assert registry.get("lightgbm").arms == ("lightgbm", "lightgbm_since_failure", "lightgbm_fraction")
    wave = registry.get("wave_cnn").arms
    assert wave.index("wave_cnn_aux") == wave.index("wave_cnn_binned_soft") + 1
    heads = wave_cnn.heads(label_sigma=1.0)
    assert list(heads) == list(wave)
    aux = heads["wave_cnn_aux"]
    assert isinstance(aux, AuxHead) and aux.aux == "since_failure" and aux.weight == wave_cnn.AUX_WEIGHT
    assert isinstance(aux.base, RegressionHead)
