"""Several training seeds: where each seed's results live, how chapter 6 reads and summarizes them, and
which notebooks `report --seeds` runs for which seed."""
import numpy as np
import pytest
from tiny_data import oof_rows

from quake_lib import evaluation as ev
from quake_lib import paths
from quake_lib.approaches import constant
from quake_lib.evaluation import seeds as sd
from quake_lib.report import execute as report


@pytest.fixture
def folds(rec, windows):
    return ev.make_folds(rec, n_folds=3, windows=windows)


def test_seed_zero_keeps_the_single_seed_layout_and_others_live_apart(data_dir):
    assert paths.results_dir("d") == paths.dataset_dir("d") / "results"
    assert paths.results_dir("d", 2) == paths.dataset_dir("d") / "results" / "seed_2"
    assert ev.oof_path("d", "lightgbm", 1).parent == paths.results_dir("d", 1)
    assert ev.checkpoint_dir("d", "lightgbm", 1) == paths.results_dir("d", 1) / "checkpoints" / "lightgbm"
    for bad in (-1, 1.5, True, "1"):
        with pytest.raises(ValueError, match="seed must be a non-negative integer"):
            paths.results_dir("d", bad)


def test_result_seeds_finds_every_seed_with_oof_files(rec, windows, folds):
    assert paths.result_seeds(rec.name) == []
    constant.cross_validate(rec, folds, windows=windows, seed=2)
    assert paths.result_seeds(rec.name) == [2]
    constant.cross_validate(rec, folds, windows=windows)
    (paths.results_dir(rec.name) / "seed_7").mkdir()            # empty: no results of seed 7
    (paths.results_dir(rec.name) / "seed_x").mkdir()            # not a seed
    assert paths.result_seeds(rec.name) == [0, 2]
    assert sd.present_seeds(rec.name) == [0, 2]
    with pytest.raises(FileNotFoundError, match=r"no results for seed\(s\) \[1\]"):
        sd.present_seeds(rec.name, [0, 1])


def _two_seeds(rec, windows, folds):
    """Seed s: constant, lightgbm = target + 1 + s, net = target - 2 on fold 0 else target + 0.5."""
    t = windows.targets.astype(float)
    fold_of = np.empty(len(windows), int)
    for f in folds:
        fold_of[f.masks(windows)[1]] = f.index
    for s in (0, 1):
        constant.cross_validate(rec, folds, windows=windows, seed=s)
        ev.save_oof(oof_rows(windows, folds, "lightgbm", t + 1.0 + s), rec.name, s)
        ev.save_oof(oof_rows(windows, folds, "wave_cnn_regression", np.where(fold_of == 0, t - 2.0, t + 0.5)),
                    rec.name, s)
    return t


def test_seed_table_and_pairs_over_folds_and_seeds(rec, windows, folds):
    _two_seeds(rec, windows, folds)
    df = sd.load_seeds(rec.name, [0, 1])
    assert sorted(df["seed"].unique()) == [0, 1]
    table = sd.seed_table(df)
    assert table.loc["lightgbm", "seed_0"] == pytest.approx(1.0, abs=1e-5)
    assert table.loc["lightgbm", "seed_1"] == pytest.approx(2.0, abs=1e-5)
    assert table.loc["lightgbm", "mean"] == pytest.approx(1.5, abs=1e-5)
    assert table.loc["lightgbm", "seed_sd"] == pytest.approx(np.std([1.0, 2.0], ddof=1), abs=1e-5)
    assert table.loc["lightgbm", "fold_sd"] == pytest.approx(0.0, abs=1e-5)  # the same error in every fold
    net = (2.0 + 0.5 + 0.5) / 3
    assert table.loc["wave_cnn_regression", "mean"] == pytest.approx(net, abs=1e-5)
    assert table.loc["wave_cnn_regression", "vs_lightgbm"] == pytest.approx(net / 1.5, abs=1e-5)
    pairs = sd.paired_pairs(df)
    row = pairs.loc["wave_cnn_regression"]
    assert row["n_pairs"] == 6
    assert row["better"] == 4 and row["worse"] == 2   # fold 0 loses in both seeds; the rest win
    assert row["seed_0"] == pytest.approx(net - 1.0, abs=1e-5)
    assert row["seed_1"] == pytest.approx(net - 2.0, abs=1e-5)
    aim = sd.meets_aim(pairs, ratio=0.97, share=0.6)
    assert list(aim.index) == ["wave_cnn_regression"]   # 0.667 x, 4 of 6 pairs
    assert sd.meets_aim(pairs).empty                     # 4 of 6 < 80%


def test_each_seeds_ensembles_use_that_seeds_members(rec, windows, folds):
    _two_seeds(rec, windows, folds)
    full = sd.with_ensembles(sd.load_seeds(rec.name, [0, 1]), top_k=3)
    ens = full[full["arm"] == "ensemble"].set_index(["seed", "start"])["prediction"]
    lg = full[full["arm"] == "lightgbm"].set_index(["seed", "start"])["prediction"]
    net = full[full["arm"] == "wave_cnn_regression"].set_index(["seed", "start"])["prediction"]
    assert np.allclose(ens, (lg + net).loc[ens.index] / 2)


def test_a_seed_lacking_an_approach_or_on_other_windows_is_refused(rec, windows, folds):
    _two_seeds(rec, windows, folds)
    ev.oof_path(rec.name, "wave_cnn_regression", 1).unlink()
    with pytest.raises(FileNotFoundError, match=r"seed 1 .* has no results for \['wave_cnn_regression'\]"):
        sd.load_seeds(rec.name, [0, 1])
    _two_seeds(rec, windows, folds)
    part = ev.load_oof(rec.name, "constant", 1)
    ev.save_oof(part.iloc[1:], rec.name, 1)
    with pytest.raises(ValueError, match="scored on other windows"):
        sd.load_seeds(rec.name, [0, 1])


def test_report_runs_trained_chapters_once_per_seed(monkeypatch, tmp_path, data_dir):
    runs = []
    monkeypatch.setattr(report, "execute", lambda src, dst, p, **k: runs.append((src.name, dst, dict(p))) or 1.0)
    report.execute_all("quick", "quick", seeds=[0, 3], only=["03", "04", "05", "06"], output_dir=tmp_path,
                       html_dir=None, log=lambda *a, **k: None)
    names = [(n, p["seed"]) for n, _, p in runs]
    assert names == [("03_wave_cnn.ipynb", 0), ("03_wave_cnn.ipynb", 3), ("04_spectrogram_resnet.ipynb", 0),
                     ("04_spectrogram_resnet.ipynb", 3), ("05_cpc.ipynb", 0), ("05_cpc.ipynb", 3),
                     ("06_comparison.ipynb", 0)]
    for name, dst, p in runs:
        if p["seed"] == 3:   # another seed: beside its results, without the design studies
            assert dst == paths.results_dir("quick", 3) / "notebooks" / name and p["studies"] is False
        else:
            assert dst == tmp_path / name and "studies" not in p
    assert runs[-1][2]["seeds"] == [0, 3]   # chapter 6 reads both (no saved results here: told which)


def test_chapter_6_is_told_the_seeds_only_where_its_default_would_read_others(monkeypatch, tmp_path, rec, windows):
    folds = ev.make_folds(rec, n_folds=3, windows=windows)
    runs = []
    monkeypatch.setattr(report, "execute", lambda src, dst, p, **k: runs.append(dict(p)) or 1.0)
    monkeypatch.setattr(report.datasets, "check_available", lambda name: None)
    for s in (0, 1):
        constant.cross_validate(rec, folds, windows=windows, seed=s)
    kw = dict(only=["06"], output_dir=tmp_path, html_dir=None, log=lambda *a, **k: None)
    report.execute_all(rec.name, "quick", seeds=[0, 1], **kw)
    report.execute_all(rec.name, "quick", seed=0, **kw)
    assert runs[0]["seeds"] is None      # every seed present is this run's: the default, nothing injected
    assert runs[1]["seeds"] == [0]       # a single-seed run beside an earlier run's seed 1: told to read seed 0


def test_report_checks_the_seeds(tmp_path):
    for bad, msg in (([], "non-negative integers"), ([0, 0], "distinct"), ([1, -1], "non-negative")):
        with pytest.raises(ValueError, match=msg):
            report.execute_all("quick", "quick", seeds=bad, output_dir=tmp_path, html_dir=None)


def test_figures_of_another_seed_never_replace_the_committed_ones(data_dir):
    from quake_lib.report import session
    assert session.setup("quick", "quick", 1).figure_dir == paths.dataset_dir("quick") / "figures" / "seed_1"
