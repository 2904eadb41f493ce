"""The approach protocol: a toy approach registered here only (never in the library) gets ``train`` and
``submit`` without a line of either changing; what a saved run records; the registry's arms."""
import json

import numpy as np
import pandas as pd
import pytest
from tiny_data import loud_recording

from quake_lib import evaluation as ev
from quake_lib import paths
from quake_lib.approaches import protocol, registry
from quake_lib.atomic import write_text
from quake_lib.cli import main
from quake_lib.data import kaggle

TOY = registry.Approach("toy", 99, "least squares on the window's sd", "baseline", ("toy_sd",), "toy_sd",
                        module=__name__)


# ---------------------------------------------------------------- the toy approach's module: the protocol

def _sd(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64).std(axis=1)


def cross_validate(rec, folds, profile, seed, arms=None, devices=None):
    (arm,) = TOY.check_arms(arms)
    windows = ev.eval_windows(rec)
    sd = _sd(rec.read(windows))
    parts = []
    with ev.StagedRun(rec.name, arm, TOY.name, seed, windows.length) as stage:
        for f in folds:
            tr, te = f.masks(windows)
            slope, intercept = np.polyfit(sd[tr], windows.targets[tr], 1)
            write_text(stage.checkpoints / f"fold_{f.index}.json", json.dumps([slope, intercept]))
            parts.append(ev.oof_frame(arm, f.index, windows.subset(te), slope * sd[te] + intercept))
        oof = pd.concat(parts, ignore_index=True)
        stage.commit(oof, meta={"feature": "sd"})
    return type("ToyRun", (), {"oof": oof})()


class _Line:
    def __init__(self, path):
        self.slope, self.intercept = json.loads(path.read_text())

    def predict(self, sd):
        return protocol.FoldPrediction(self.slope * sd + self.intercept)


def load(dataset, arm, seed, meta):
    assert meta["feature"] == "sd"  # the approach's own entries come back with the run's meta
    models = [_Line(p) for p in ev.fold_files(dataset, arm, seed, ".json")]
    return protocol.SavedRun(TOY.name, arm, meta["window_length"], models, prepare=_sd)


# ---------------------------------------------------------------- the tests

@pytest.fixture
def toy(data_dir, monkeypatch, tmp_path):
    monkeypatch.setitem(registry.APPROACHES, TOY.name, TOY)
    rec = loud_recording(paths.dataset_dir("toyrec"), n_cycles=6, cycle_len=300_000, rows_per_second=40_000.0)
    windows = ev.eval_windows(rec)
    pick = windows.subset(np.arange(0, len(windows), 3))
    ids = [f"seg_{i:03x}" for i in range(len(pick))]
    for sid, seg in zip(ids, rec.read(pick)):
        kaggle.write_segment_csv(tmp_path / "kaggle" / "test" / f"{sid}.csv", seg)
    pd.DataFrame({"seg_id": ids[::-1], "time_to_failure": 0.0}).to_csv(tmp_path / "kaggle" / "sample_submission.csv",
                                                                       index=False)
    return {"rec": rec, "kaggle": tmp_path / "kaggle", "x": dict(zip(ids, rec.read(pick)))}


def test_a_toy_approach_gets_train_and_submit_without_touching_either(toy, capsys):
    assert main(["train", "--approach", "toy", "--dataset", "toyrec", "--folds", "2", "--no-progress"]) == 0
    assert "toy_sd" in capsys.readouterr().out  # the MAE table of its arm
    meta = protocol.read_meta("toyrec", "toy_sd")
    assert (meta["approach"], meta["arm"], meta["window_length"], meta["feature"]) == ("toy", "toy_sd", 150_000, "sd")
    out = toy["kaggle"] / "sub.csv"
    assert main(["submit", "--arm", "toy_sd", "--dataset", "toyrec", "--test-dir", str(toy["kaggle"] / "test"),
                 "--output", str(out), "--intervals", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "toy_sd (approach toy, mean of 2 fold models)" in printed and "conformal" in printed
    sub = pd.read_csv(out)
    lines = [json.loads((ev.checkpoint_dir("toyrec", "toy_sd") / f"fold_{k}.json").read_text()) for k in (0, 1)]
    by_hand = [np.mean([a * _sd([toy["x"][s]])[0] + b for a, b in lines]) for s in sub["seg_id"]]
    np.testing.assert_allclose(sub["time_to_failure"], by_hand)
    assert sub["seg_id"].tolist() == sorted(toy["x"])[::-1]  # the sample's order
    assert out.with_name("sub_intervals.csv").exists()


def test_submit_of_an_approach_names_its_arms(toy, capsys):
    assert main(["submit", "--arm", "toy", "--dataset", "toyrec", "--test-dir", str(toy["kaggle"] / "test")]) == 2
    assert "'toy' is an approach, not an arm: its arms are toy_sd" in capsys.readouterr().err


def test_a_run_without_its_approach_in_the_meta_is_refused(toy, capsys):
    main(["train", "--approach", "toy", "--dataset", "toyrec", "--folds", "2", "--no-progress"])
    path = ev.checkpoint_dir("toyrec", "toy_sd") / ev.RUN_META
    meta = json.loads(path.read_text())
    del meta["approach"]
    path.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="does not name its approach and arm 'toy_sd'"):
        protocol.load("toyrec", "toy_sd")


def test_every_registered_approach_offers_the_protocol():
    for approach in registry.APPROACHES.values():
        module = protocol.module(approach)
        assert callable(module.cross_validate) and callable(module.load), approach.name
        assert approach.check_arms() == approach.arms
        assert approach.check_arms(reversed(approach.arms)) == approach.arms  # the registry's order
    with pytest.raises(ValueError, match="approach 'lightgbm' has no arm 'cpc_finetune'; expected some of: lightgbm"):
        registry.get("lightgbm").check_arms(["cpc_finetune"])
