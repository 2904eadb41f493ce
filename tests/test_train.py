"""Training core: heads and readouts, normalization, data, checkpoints, learning, OOF output."""
import numpy as np
import pandas as pd
import pytest
import torch
from tiny_data import LENGTH, TINY_NET

from quake_lib import evaluation as ev
from quake_lib import models, profiles
from quake_lib.train import (
    Augment,
    BinnedHead,
    QuakeModule,
    RegressionHead,
    TrainConfig,
    cross_validate,
    lr_find,
    predict_windows,
    save_checkpoint,
)
from quake_lib.train.data import DataConfig, QuakeDataModule, normalize
from quake_lib.train.heads import readouts_from_probs
from quake_lib.train.predict import read_checkpoint

TINY = models.factory("wave_cnn", **TINY_NET.__dict__)
# one thread: tiny ops gain nothing from two, and two threads stall badly on a busy machine
FAST = dict(epochs=6, windows_per_epoch=64, batch_size=16, lr=1e-2, eval_batch_size=64, threads=1)


# ---------------------------------------------------------------- heads


def _expected_abs_loss(m, p, edges):
    """E|Y - m| for Y uniform inside each bin with probabilities p (by fine quadrature)."""
    ys, ws = [], []
    for k in range(len(p)):
        y = np.linspace(edges[k], edges[k + 1], 401)[:-1] + (edges[k + 1] - edges[k]) / 800
        ys.append(y)
        ws.append(np.full(len(y), p[k] / len(y)))
    ys, ws = np.concatenate(ys), np.concatenate(ws)
    return float((np.abs(ys - m) * ws).sum())


def test_binned_median_readout_is_mae_optimal():
    head = BinnedHead(n_bins=8, lo=0.0, hi=8.0)
    edges = head.edges.numpy()
    p = np.array([0.05, 0.10, 0.25, 0.20, 0.02, 0.33, 0.03, 0.02])  # bimodal: argmax far from median
    reads = readouts_from_probs(torch.tensor(p, dtype=torch.float32)[None], head.edges)
    med = float(reads["median"][0])
    # the CDF is 0.40 at the lower edge of bin [3, 4), which holds 0.20: the median is 3 + 0.1 / 0.2
    assert med == pytest.approx(3.5, abs=1e-5)
    grid = np.linspace(0, 8, 801)
    losses = [_expected_abs_loss(m, p, edges) for m in grid]
    assert _expected_abs_loss(med, p, edges) <= min(losses) + 1e-6
    assert float(reads["argmax"][0]) == pytest.approx(5.5)
    assert float(reads["expectation"][0]) == pytest.approx(float(p @ (edges[:-1] + 0.5)))
    for name in ("argmax", "expectation"):
        assert _expected_abs_loss(float(reads[name][0]), p, edges) > _expected_abs_loss(med, p, edges)


def test_binned_classes_and_default_bins():
    head = BinnedHead()
    assert head.n_outputs == 16 and float(head.edges[-1]) == pytest.approx(16.11)
    y = torch.tensor([-1.0, 0.0, 1.0, 1.007, 16.0, 30.0])
    assert head.classes(y).tolist() == [0, 0, 0, 1, 15, 15]


def test_regression_head_centres_on_training_targets():
    head = RegressionHead()
    head.fit_targets(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    assert float(head.value(torch.zeros(2, 1))[0]) == pytest.approx(3.0)
    assert float(head.loss(torch.zeros(2, 1), torch.tensor([3.0, 5.0]))) == pytest.approx(1.0)


# ---------------------------------------------------------------- data


def test_normalize_centres_on_the_median_and_keeps_loudness():
    raw = torch.tensor(np.array([[5] * 99 + [1000], [7] * 100]), dtype=torch.int16).repeat(1, 8)
    x = normalize(raw, 2.0)
    assert x.shape == (2, 1, 800)
    assert float(x[0, 0, 0]) == 0.0 and float(x[0, 0, 99]) == pytest.approx(497.5)
    assert float(x[1].abs().max()) == 0.0  # a window's own level carries no information


def test_augment_flip_and_reverse_preserve_values():
    x = torch.arange(12, dtype=torch.float32).view(2, 1, 6)
    y = Augment(sign_flip=1.0, reverse=1.0)(x)
    assert torch.equal(y, -x.flip(-1))
    assert torch.equal(Augment(sign_flip=0.0)(x), x)
    with pytest.raises(ValueError, match="sign_flip"):
        Augment(sign_flip=2.0)(x)


def test_random_windows_new_each_epoch_reproducible_and_inside_train_cycles(rec, windows):
    fold = ev.make_folds(rec, n_folds=3, windows=windows)[0]
    cfg = DataConfig(length=LENGTH, windows_per_epoch=32, batch_size=8, scale_windows=8)
    dm = QuakeDataModule(rec, fold.train_cycles, fold.split(windows)[1], cfg, seed=3)
    a, b = dm.epoch_windows(0), dm.epoch_windows(1)
    assert not np.array_equal(a.starts, b.starts)
    assert np.array_equal(a.starts, dm.epoch_windows(0).starts)
    assert np.isin(a.cycles, fold.train_cycles).all()
    assert dm.scale == pytest.approx(2.0 + 18.0 * 0.5, rel=0.5)  # the background sd, roughly


# ---------------------------------------------------------------- module, checkpoints, training


def test_checkpoint_round_trips_with_weights_only(tmp_path, rec, windows):
    head = BinnedHead()
    module = QuakeModule(TINY(head.n_outputs), head, scale=7.5)
    path = save_checkpoint(module, tmp_path / "m.pt", {"fold": 0, "model": "wave_cnn"})
    raw = torch.from_numpy(rec.read(windows.subset(slice(0, 4))))
    module.eval()
    before = module(raw)
    fresh = QuakeModule(TINY(head.n_outputs), BinnedHead(), scale=1.0).eval()
    ckpt = read_checkpoint(path)
    fresh.load_state_dict(ckpt["state_dict"])
    assert ckpt["meta"] == {"fold": 0, "model": "wave_cnn"}
    assert float(fresh.scale) == 7.5
    assert torch.allclose(fresh(raw), before)
    torch.load(path, weights_only=True)  # loads without the unsafe pickle path


def test_training_learns_a_trivially_learnable_recording(rec, windows):
    folds = ev.make_folds(rec, n_folds=3, windows=windows)[:1]
    held = windows.subset(np.isin(windows.cycles, folds[0].test_cycles))
    res = cross_validate(rec, TINY, "regression", folds, seed=0, eval_windows=held, save=False,
                         verbose=False, **FAST)
    m = res.metrics
    assert len(m) == FAST["epochs"]
    assert m["train_loss"].iloc[-1] < 0.7 * m["train_loss"].iloc[0]
    const = np.abs(held.targets - np.median(held.targets)).mean()
    mae = (res.oof["prediction"] - res.oof["target"]).abs().mean()
    assert mae < 0.6 * const
    assert {"train_windows_per_s", "val_mae", "val_pred_sd"} <= set(m.columns)


def test_cross_validate_writes_oof_and_metrics(rec, windows):
    folds = ev.make_folds(rec, n_folds=2, windows=windows)
    fast = {**FAST, "epochs": 1, "windows_per_epoch": 16}
    res = cross_validate(rec, TINY, "binned", folds, seed=0, eval_windows=windows, arm="tiny_binned",
                         verbose=False, **fast)
    oof = ev.load_oof(rec.name, "tiny_binned")
    assert list(oof.columns[:6]) == list(ev.OOF_COLUMNS)
    assert {"prediction_argmax", "prediction_expectation", "prediction_median"} <= set(oof.columns)
    assert np.allclose(oof["prediction"], oof["prediction_median"])
    assert len(oof) == len(windows) and sorted(oof["fold"].unique()) == [0, 1]
    metrics = ev.load_metrics(rec.name, "tiny_binned")
    assert set(metrics["fold"]) == {0, 1} and "val_mae_argmax" in metrics.columns
    assert all(p.exists() for p in res.checkpoints)
    table = res.mae_table()
    assert "tiny_binned[argmax]" in table.index


def test_predict_is_deterministic_and_ordered(rec, windows):
    head = RegressionHead()
    module = QuakeModule(TINY(1), head, scale=5.0)
    a = predict_windows(module, rec, windows, batch_size=7)["value"]
    b = predict_windows(module, rec, windows.subset(slice(0, 10)), batch_size=64)["value"]
    assert len(a) == len(windows) and np.allclose(a[:10], b, atol=1e-5)


def test_lr_find_gives_a_table(rec, windows, monkeypatch):
    from pathlib import Path

    from quake_lib.train import lr_finder as lr_module
    from quake_lib.train.fit import make_trainer

    trainers = []  # the range test saves a checkpoint in its trainer's root folder: a temporary one
    monkeypatch.setattr(lr_module, "make_trainer",
                        lambda *a, **k: trainers.append(make_trainer(*a, **k)) or trainers[-1])
    res = lr_find(rec, TINY, "regression", windows=windows, num_training=8, seed=0,
                  **{**FAST, "batch_size": 8})
    assert isinstance(res.table, pd.DataFrame) and len(res.table) > 0
    assert {"lr", "loss"} <= set(res.table.columns)
    root = Path(trainers[0].default_root_dir)
    assert root != Path.cwd() and not root.exists()  # not the notebook's folder, and cleaned up


def test_train_config_from_profiles():
    quick = TrainConfig.from_profile(profiles.get("quick"))
    default = TrainConfig.from_profile(profiles.get("default"), epochs=3)
    assert quick.epochs * quick.windows_per_epoch < default.windows_per_epoch * 3
    assert default.epochs == 3
    with pytest.raises(TypeError, match="profiles.get"):  # a name is resolved once, not everywhere
        TrainConfig.from_profile("quick")


def test_cli_train_arguments():
    from quake_lib.cli import build_parser
    args = build_parser().parse_args(["train", "--approach", "wave_cnn", "--arms", "wave_cnn_regression",
                                      "wave_cnn_binned", "--folds", "3"])
    assert args.approach == "wave_cnn" and args.arms == ["wave_cnn_regression", "wave_cnn_binned"] and args.folds == 3
    assert args.func.__name__ == "_train"


def test_per_epoch_diagnostics_use_a_bounded_evenly_spaced_subset_and_predictions_every_window(rec, windows):
    cfg = DataConfig(length=windows.length, windows_per_epoch=8, batch_size=4, scale_windows=4, val_windows=3)
    dm = QuakeDataModule(rec, np.unique(windows.cycles)[:2], windows, cfg)
    sub = dm.val_subset()
    assert len(windows) > 3 and len(sub) == 3
    assert sub.starts[0] == windows.starts[0] and sub.starts[-1] == windows.starts[-1]  # spread over the fold
    assert sum(len(b[1]) for b in dm.val_dataloader()) == 3
    assert sum(len(b[1]) for b in dm.predict_dataloader()) == len(windows)  # OOF: every held-out window
    everything = QuakeDataModule(rec, np.unique(windows.cycles)[:2], windows,
                                 DataConfig(length=windows.length, windows_per_epoch=8, batch_size=4, scale_windows=4))
    assert everything.val_subset() is windows  # 0: all of them
    assert TrainConfig.from_profile(profiles.get("default")).data_config(LENGTH).val_windows == 96
    with pytest.raises(ValueError, match="val_windows must be an integer >= 0"):
        TrainConfig.from_profile(profiles.get("default"), val_windows=-1)


def test_diagnostics_off_for_the_extra_seeds():
    """``session.setup(diagnostics=False)`` (a notebook of ``report --seeds`` after the first seed) gives
    a profile whose networks skip the per-epoch held-out diagnostics; the default keeps them."""
    from quake_lib import profiles
    from quake_lib.train.fit import TrainConfig

    assert TrainConfig.from_profile(profiles.get("default")).validate_every == 1
    assert TrainConfig.from_profile(profiles.get("default", validate_every=0)).validate_every == 0
