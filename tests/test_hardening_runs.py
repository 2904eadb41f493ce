"""Training runs and submissions as a careless or unlucky user meets them: two runs of one arm at once,
a dataset ingested again under a running training, a submission told to write over what it reads, the
name of an approach where an arm is expected, a submission overlapping a commit."""
import os
import shutil
import threading
import time

import pandas as pd
import pytest
from conftest import snapshot
from tiny_data import LENGTH, ONE_EPOCH, TINY, loud_recording, one_line_error, trained_tiny

from quake_lib import evaluation as ev
from quake_lib.approaches import protocol
from quake_lib.atomic import LockBusyError
from quake_lib.cli import main
from quake_lib.data import kaggle, store
from quake_lib.train import cross_validate


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QUAKE_DATA_DIR", str(root / "data"))
        rec, windows, folds = trained_tiny({"wave_cnn_binned": "binned"})
        pick = windows.subset(slice(0, 2))
        ids = ["seg_aa", "seg_bb"]
        for sid, seg in zip(ids, rec.read(pick)):
            kaggle.write_segment_csv(root / "kaggle" / "test" / f"{sid}.csv", seg)
        pd.DataFrame({"seg_id": ids, "time_to_failure": 0.0}).to_csv(root / "kaggle" / "sample_submission.csv",
                                                                     index=False)
        pd.DataFrame({"seg_id": ids, "time_to_failure": pick.targets}).to_csv(root / "kaggle" / "test_labels.csv",
                                                                              index=False)
        yield {"root": root, "rec": rec, "windows": windows, "folds": folds, "kaggle": root / "kaggle"}


@pytest.fixture
def env(trained, monkeypatch):
    monkeypatch.setenv("QUAKE_DATA_DIR", str(trained["root"] / "data"))
    return trained


# ---------------------------------------------------------------- two runs of one arm at once

def test_a_second_run_of_an_arm_is_refused_naming_the_first(env):
    first = ev.StagedRun("tiny", "wave_cnn_binned", "wave_cnn")
    with first:
        with pytest.raises(LockBusyError, match=rf"arm 'wave_cnn_binned' of dataset 'tiny' \(seed 0\) is being "
                                                rf"written by process {os.getpid()}"):
            with ev.StagedRun("tiny", "wave_cnn_binned", "wave_cnn"):
                pass
        with ev.StagedRun("tiny", "wave_cnn_regression", "wave_cnn"):  # another arm: free
            pass
    with ev.StagedRun("tiny", "wave_cnn_binned", "wave_cnn"):  # free again once the first one ended
        pass


def test_a_second_train_of_an_arm_gets_one_line_and_changes_nothing(data_dir, capsys):
    """``train`` of an arm another run is training: one line naming that run's process; results unchanged."""
    loud_recording(data_dir / "big", n_cycles=6, cycle_len=300_000, rows_per_second=40_000.0)
    train = ["train", "--approach", "constant", "--dataset", "big", "--folds", "2", "--no-progress"]
    assert main(train) == 0
    capsys.readouterr()
    before = snapshot(data_dir / "big" / "results")
    with ev.StagedRun("big", "constant", "constant"):  # the other run (a lock is per open file, even here)
        assert main(train) == 2
    err = one_line_error(capsys)
    assert f"is being written by process {os.getpid()}" in err and "run again when it has finished" in err
    assert snapshot(data_dir / "big" / "results") == before


def test_the_per_epoch_logs_are_staged_with_the_run(env):
    logs = env["root"] / "data" / "tiny" / "results" / "logs" / "wave_cnn_binned"
    before = snapshot(logs)
    seen = {}
    real = ev.StagedRun.commit

    def spy(self, *args, **kwargs):
        seen["staged"] = sorted(p.name for p in (self.logs / self.arm).iterdir())
        seen["published"] = snapshot(logs)
        return real(self, *args, **kwargs)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ev.StagedRun, "commit", spy)
        cross_validate(env["rec"], TINY, "binned", env["folds"], seed=0, eval_windows=env["windows"],
                       arm="wave_cnn_binned", approach="wave_cnn", verbose=False, **ONE_EPOCH)
    assert seen["staged"] == ["fold_0", "fold_1"] and seen["published"] == before  # not before the commit
    assert sorted(p.name for p in logs.iterdir()) == ["fold_0", "fold_1"]


# ---------------------------------------------------------------- ingest --force under a running training

def test_a_training_whose_results_were_moved_away_stops_and_leaves_nothing(env, tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(env["root"] / "data" / "tiny", data / "tiny", ignore=shutil.ignore_patterns("results"))
    monkeypatch.setenv("QUAKE_DATA_DIR", str(data))
    from quake_lib.train import fit as fit_module
    real = fit_module._fit_fold
    calls = []

    def ingest_force_meanwhile(*args, **kwargs):  # what `ingest --force` does to results/ during fold 1
        calls.append(1)
        if len(calls) == 2:
            (data / "tiny" / "results").rename(data / "tiny" / f"{store.REPLACED_RESULTS}20261203-120000")
        return real(*args, **kwargs)
    monkeypatch.setattr(fit_module, "_fit_fold", ingest_force_meanwhile)
    with pytest.raises(ev.ResultsReplacedError, match="were moved away while arm 'net' trained"):
        cross_validate(env["rec"], TINY, "binned", env["folds"], seed=0, eval_windows=env["windows"], arm="net",
                       verbose=False, **ONE_EPOCH)
    left = [p for p in (data / "tiny").rglob("*") if ".partial-" in p.name]
    assert not left, left


# ---------------------------------------------------------------- submit: what it reads is never its output

@pytest.mark.parametrize("target", ["test_labels.csv", "sample_submission.csv", "test/seg_aa.csv", "test/new.csv"])
def test_submit_refuses_to_write_over_what_it_reads(env, capsys, target):
    before = snapshot(env["kaggle"])
    rc = main(["submit", "--arm", "constant", "--dataset", "tiny", "--test-dir", str(env["kaggle"] / "test"),
               "--output", str(env["kaggle"] / target)])
    assert rc == 2
    err = one_line_error(capsys)
    assert f"--output {env['kaggle'] / target}" in err and "this submission reads" in err
    assert snapshot(env["kaggle"]) == before


def test_submit_of_an_approach_names_its_trained_arms(env, capsys):
    rc = main(["submit", "--arm", "wave_cnn", "--dataset", "tiny", "--test-dir", str(env["kaggle"] / "test")])
    assert rc == 2
    err = one_line_error(capsys)
    assert "'wave_cnn' is an approach, not an arm" in err and "(trained: wave_cnn_binned)" in err


def test_a_submission_reads_a_run_under_the_commit_lock(env):
    """A submission overlapping a commit of the same arm waits for it: it reads one run, whole."""
    lock = ev.checkpoint_dir("tiny", "lightgbm").parent / ".lightgbm.lock"
    from quake_lib.atomic import exclusive_lock
    got = {}

    def read():
        got["run"] = protocol.load("tiny", "lightgbm")
        got["at"] = time.monotonic()
    with exclusive_lock(lock, what="a commit"):
        reader = threading.Thread(target=read)
        reader.start()
        time.sleep(0.5)
        assert "run" not in got  # waiting for the commit
        released = time.monotonic()
    reader.join(timeout=30)
    assert got["at"] >= released and len(got["run"].models) == 2 and len(got["run"].oof) == len(env["windows"])
    assert LENGTH == got["run"].window_length


# ---------------------------------------------------------------- LightGBM on a full disk

@pytest.mark.parametrize("how", ["raises", "cuts the file"])
def test_lightgbm_on_a_full_disk_is_one_line_and_keeps_the_results(data_dir, capsys, monkeypatch, how):
    """LightGBM reports a failed write as its own error, or writes a cut file without a word: both are a
    full disk when the free space is below the model's size, and the earlier results stay as they were."""
    import lightgbm as lgb

    from quake_lib.approaches import lightgbm as lgbm_approach
    loud_recording(data_dir / "big", n_cycles=6, cycle_len=300_000, rows_per_second=40_000.0)
    train = ["train", "--approach", "lightgbm", "--arms", "lightgbm", "--dataset", "big", "--folds", "2",
             "--no-progress"]
    assert main(train) == 0
    before = snapshot(data_dir / "big" / "results")
    capsys.readouterr()

    def full(self, filename, *args, **kwargs):
        if how == "raises":
            raise lgb.basic.LightGBMError("std::bad_alloc")
        with open(filename, "w") as f:
            f.write("tree\nversion=v4\n")  # what a write cut short leaves
    monkeypatch.setattr(lgb.Booster, "save_model", full)
    monkeypatch.setattr(lgbm_approach, "free_bytes", lambda path: 4096)
    assert main(train) == 2
    err = one_line_error(capsys)
    assert "fold_0.txt: no space left on the file system (about" in err and "expected room for it" in err
    assert snapshot(data_dir / "big" / "results") == before
