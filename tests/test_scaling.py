"""The data-size study's runner: the grids, a whole tiny grid trained through child processes, resuming,
failures, and records that follow the saved runs."""
import numpy as np
import pandas as pd
import pytest

from quake_lib import evaluation
from quake_lib.approaches import registry
from quake_lib.data.recording import Windows
from quake_lib.data.synthetic import PRESETS
from quake_lib.studies import scaling
from quake_lib.studies import scaling_records as records

TINY = scaling.Grid("tiny", (scaling.Point("quick", "both", (0,)), scaling.Point("quick_x2", "density", (0,))),
                    arms=("constant", "lightgbm", "wave_cnn_regression"), budget_points=("quick_x2",),
                    reference="quick", isolate=False)
ALONE = scaling.Grid("alone", (scaling.Point("quick", "both", (0,)),), arms=("constant",))


@pytest.fixture
def tiny_grid(monkeypatch):
    monkeypatch.setitem(scaling.GRIDS, TINY.name, TINY)
    monkeypatch.setitem(scaling.GRIDS, ALONE.name, ALONE)
    return TINY


def test_grids_name_presets_and_registry_arms():
    arms = set(registry.arms())
    for g in scaling.GRIDS.values():
        assert all(p.dataset in PRESETS for p in g.points), g.name
        assert set(g.arms) <= arms, g.name
        assert set(g.budget_points) <= {p.dataset for p in g.points}, g.name
        assert all(p.axis in ("both", "density", "cycles") for p in g.points)
    full = scaling.grid("full")
    assert {PRESETS[p.dataset].density for p in full.points} == {0.075, 0.15, 0.3, 0.6, 1.0}
    assert sorted(PRESETS[p.dataset].n_cycles for p in full.points if p.axis != "density") == [15, 30, 60]
    assert all(len(p.seeds) == 3 for p in full.points if PRESETS[p.dataset].density in (0.075, 0.3, 1.0)
               and PRESETS[p.dataset].n_cycles == 15)
    with pytest.raises(ValueError, match="no scaling grid 'nope'; expected one of: full"):
        scaling.grid("nope")


def test_a_tiny_grid_trains_resumes_and_loads(data_dir, tiny_grid):
    said = []
    first = scaling.run("tiny", "quick", say=said.append)
    assert not first.failed
    trained = {(j.dataset, j.approach, j.budget is not None) for j, _, _ in first.done}
    assert trained == {("quick", "constant", False), ("quick", "lightgbm", False), ("quick", "wave_cnn", False),
                       ("quick_x2", "constant", False), ("quick_x2", "lightgbm", False),
                       ("quick_x2", "wave_cnn", False), ("quick_x2", "wave_cnn", True)}
    assert any("min left" in line for line in said)

    scores, missing = scaling.load_scores("tiny")
    assert missing == []
    n_folds = evaluation.N_FOLDS
    per_point = scores.groupby(["point", "arm"])["fold"].nunique()
    assert (per_point == n_folds).all()
    assert set(scores.loc[scores["point"] == "quick_x2", "arm"]) == {
        "constant", "lightgbm", "wave_cnn_regression", "wave_cnn_regression_budget"}
    assert scores.loc[scores["arm"] != "constant", "train_mae"].notna().all()
    assert scores.loc[scores["arm"] == "constant", "train_mae"].isna().all()
    x2 = scores[scores["point"] == "quick_x2"].iloc[0]
    assert x2["density"] == PRESETS["quick_x2"].density and x2["n_windows"] > scores["n_windows"].min()
    # each fold's score is that fold's MAE of the saved OOF rows
    oof = evaluation.load_oof("quick", "lightgbm")
    want = oof.assign(e=(oof["prediction"] - oof["target"]).abs()).groupby("fold")["e"].mean()
    got = scores[(scores["point"] == "quick") & (scores["arm"] == "lightgbm")].set_index("fold")["mae"]
    pd.testing.assert_series_equal(got.sort_index(), want.sort_index(), check_names=False)

    costs = scaling.load_costs("tiny")
    assert len(costs) == 7 and (costs["seconds"] > 0).all() and (costs["peak_rss_gb"] > 0).all()

    # a rerun finds everything saved; a lost run is trained again, alone
    assert not scaling.run("tiny", "quick", say=said.append).done
    (evaluation.checkpoint_dir("quick", "lightgbm") / evaluation.RUN_META).unlink()
    again = scaling.run("tiny", "quick", say=said.append)
    assert [(j.dataset, j.arms) for j, _, _ in again.done] == [("quick", ("lightgbm",))]


def test_a_job_runs_in_a_child_process_that_measures_it(data_dir, tiny_grid):
    out = scaling.run("alone", "quick", say=lambda line: None)
    (job, seconds, peak), = out.done
    assert job.arms == ("constant",) and seconds > 0 and 0.05 < peak < 8
    assert evaluation.oof_path("quick", "constant").is_file() and len(scaling.load_costs("alone")) == 1


def test_a_failed_job_is_reported_and_nothing_recorded(data_dir, tiny_grid, monkeypatch):
    monkeypatch.setattr(scaling, "_in_process", lambda job, profile: (1, 0.5, 0.1))
    monkeypatch.setattr(scaling, "budget_jobs", lambda g: [])
    out = scaling.run("tiny", "quick", say=lambda line: None)
    assert not out.done and len(out.failed) == len(scaling.fixed_jobs(TINY))
    assert records.costs("quick").empty


def test_records_follow_the_saved_run(data_dir):
    windows = Windows(np.arange(4, dtype=np.int64), np.ones(4, np.float32), np.zeros(4, np.int32), 1)
    evaluation.save_oof(evaluation.oof_frame("lightgbm", 0, windows, np.zeros(4)), "quick")
    records.record_cost("quick", 0, "lightgbm", "lightgbm", 3.0, 0.5, "quick")
    assert records.costs("quick")["seconds"].tolist() == [3.0]
    evaluation.save_oof(evaluation.oof_frame("lightgbm", 0, windows, np.ones(4)), "quick")  # trained again
    assert records.costs("quick").empty
    records.record_cost("quick", 0, "lightgbm", "lightgbm", 4.0, 0.5, "quick")
    assert records.costs("quick")["seconds"].tolist() == [4.0]   # the older row replaced, not kept


def test_the_cli_lists_what_is_left(data_dir, tiny_grid, capsys):
    from quake_lib.cli import main

    assert main(["study", "scaling", "--grid", "tiny", "--profile", "quick", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "to run: quick seed 0 constant (constant)" in out
    assert main(["study", "scaling", "--grid", "nope", "--dry-run"]) == 2
    assert "no scaling grid 'nope'" in capsys.readouterr().err
