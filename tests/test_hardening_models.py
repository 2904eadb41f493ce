"""Issue 14, the model side: one regression test per probe of the table (rows 6-12). Each is one line
naming the file or parameter, exit code 2, nothing written; a training run that does not finish every
fold leaves the previous complete results as they were."""
import json
import os
import pickle
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import dead_pid, snapshot
from tiny_data import LENGTH, ONE_EPOCH, TINY, one_line_error, trained_tiny

from quake_lib import evaluation as ev
from quake_lib import profiles
from quake_lib.cli import main
from quake_lib.data import kaggle
from quake_lib.report import execute as report
from quake_lib.train import cross_validate
from quake_lib.train import fit as fit_module
from quake_lib.train.fit import TrainConfig


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The tiny recording with a binned net, LightGBM and the constant trained on 2 folds."""
    root = tmp_path_factory.mktemp("hardening")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QUAKE_DATA_DIR", str(root / "data"))
        rec, windows, folds = trained_tiny({"net": "binned"})
        yield {"root": root, "rec": rec, "windows": windows, "folds": folds}


@pytest.fixture
def data(trained, monkeypatch):
    monkeypatch.setenv("QUAKE_DATA_DIR", str(trained["root"] / "data"))
    return trained


def make_test_folder(tmp_path, lengths, seed=0):
    """A Kaggle test folder of segments of these lengths, with its sample_submission.csv."""
    rng = np.random.default_rng(seed)
    ids = [f"seg_{i:04x}" for i in range(len(lengths))]
    for sid, n in zip(ids, lengths):
        kaggle.write_segment_csv(tmp_path / "test" / f"{sid}.csv", rng.integers(-50, 50, n).astype(np.int16))
    pd.DataFrame({"seg_id": ids, "time_to_failure": 0.0}).to_csv(tmp_path / "sample_submission.csv", index=False)
    return tmp_path / "test", ids


def submit_rc(capsys, test_dir, approach, out):
    rc = main(["submit", "--arm", approach, "--dataset", "tiny", "--test-dir", str(test_dir), "--output",
               str(out)])
    return rc


def copy_approach(name, new):
    """A copy of a trained arm's run (fold models, meta, OOF file) under another arm name, to damage."""
    src = ev.checkpoint_dir("tiny", name)
    shutil.copytree(src, ev.checkpoint_dir("tiny", new), dirs_exist_ok=True)
    meta_path = ev.checkpoint_dir("tiny", new) / ev.RUN_META
    meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), "arm": new}))
    shutil.copy(ev.oof_path("tiny", name), ev.oof_path("tiny", new))
    return ev.checkpoint_dir("tiny", new)


# ---------------------------------------------------------------- row 6: every segment has the trained length

def test_row06_constant_submission_refuses_a_short_segment_naming_it(data, tmp_path, capsys):
    test_dir, ids = make_test_folder(tmp_path / "a", [LENGTH, LENGTH - 1, LENGTH])
    out = tmp_path / "sub.csv"
    assert submit_rc(capsys, test_dir, "constant", out) == 2
    err = one_line_error(capsys)
    assert f"{test_dir / (ids[1] + '.csv')}: {LENGTH - 1:,} rows; a test segment has {LENGTH:,}" in err
    assert not out.exists()


def test_row06_constant_submission_refuses_a_lone_short_segment(data, tmp_path, capsys):
    test_dir, ids = make_test_folder(tmp_path / "b", [1000])
    out = tmp_path / "sub.csv"
    assert submit_rc(capsys, test_dir, "constant", out) == 2
    assert f"{ids[0]}.csv: 1,000 rows; a test segment has {LENGTH:,}" in one_line_error(capsys)
    assert not out.exists()
    test_dir, _ = make_test_folder(tmp_path / "c", [LENGTH, LENGTH])
    assert submit_rc(capsys, test_dir, "constant", out) == 0 and out.exists()  # the right length still works


# ---------------------------------------------------------------- row 7: damaged or foreign checkpoints

class RunsACommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("damage", ["truncated", "pickle_runs_code", "saved_list"])
def test_row07_bad_checkpoint_is_refused_naming_the_file(data, tmp_path, capsys, damage):
    d = copy_approach("net", f"bad_{damage}")
    fold = d / "fold_1.pt"
    marker = tmp_path / "the_pickle_ran"
    if damage == "truncated":
        fold.write_bytes(fold.read_bytes()[:fold.stat().st_size // 2])
        message = "not a readable checkpoint"
    elif damage == "pickle_runs_code":
        fold.write_bytes(pickle.dumps(RunsACommand(marker), protocol=2))
        message = "refused to load: it would "  # call posix.system, torch says
    else:
        import torch
        torch.save([1, 2, 3], fold)
        message = "not a checkpoint of quake_lib.train (expected a dict with 'state_dict' and 'meta', found a list)"
    test_dir, _ = make_test_folder(tmp_path, [LENGTH, LENGTH])
    out = tmp_path / "sub.csv"
    assert submit_rc(capsys, test_dir, f"bad_{damage}", out) == 2
    err = one_line_error(capsys)
    assert f"error: {fold}: {message}" in err
    assert not out.exists() and not marker.exists()


# ---------------------------------------------------------------- row 8: damaged LightGBM fold files

@pytest.mark.parametrize("damage", ["truncated", "truncated_old_results", "byte_changed"])
def test_row08_bad_lightgbm_fold_is_refused_naming_the_file(data, tmp_path, capsys, damage):
    d = copy_approach("lightgbm", f"lgb_{damage}")
    fold = d / "fold_0.txt"
    text = fold.read_bytes()
    if damage == "byte_changed":  # same length, one digit of a leaf value changed
        i = text.index(b"leaf_value=") + len(b"leaf_value=") + 1
        fold.write_bytes(text[:i] + (b"7" if text[i:i + 1] != b"7" else b"3") + text[i + 1:])
        message = "damaged: its content differs from what training saved"
    else:
        fold.write_bytes(text[:len(text) * 3 // 5])
        message = "not a complete LightGBM model"
        if damage == "truncated_old_results":  # saved before file hashes existed: the structure check alone
            meta = json.loads((d / "meta.json").read_text())
            del meta["file_hashes"]
            (d / "meta.json").write_text(json.dumps(meta))
    test_dir, _ = make_test_folder(tmp_path, [LENGTH, LENGTH])
    out = tmp_path / "sub.csv"
    assert submit_rc(capsys, test_dir, f"lgb_{damage}", out) == 2
    assert f"error: {fold}: {message}" in one_line_error(capsys)
    assert not out.exists()


# ---------------------------------------------------------------- row 9: names are checked before a kernel starts

def test_row09_report_checks_dataset_and_profile_before_any_kernel(data, capsys, monkeypatch):
    def no_kernel(*a, **k):
        raise AssertionError("a kernel was started")
    monkeypatch.setattr(report, "execute", no_kernel)
    assert main(["report", "--dataset", "doesnotexist", "--no-html"]) == 2
    assert "dataset 'doesnotexist' is not prepared" in one_line_error(capsys)
    with pytest.raises(SystemExit) as e:
        main(["report", "--profile", "nosuch", "--no-html"])
    assert e.value.code == 2 and "argument --profile: invalid choice: 'nosuch'" in one_line_error(capsys)
    with pytest.raises(ValueError, match="profile 'nosuch' is not known; expected one of: quick, default, full"):
        report.execute_all("tiny", "nosuch", html_dir=None)
    with pytest.raises(ValueError, match="dataset name '../x' is not valid"):
        report.execute_all("../x", html_dir=None)
    assert main(["report", "--dataset", "tiny", "-p", "profile=nosuch", "--no-html"]) == 2  # -p is checked too
    assert "expected --profile instead of -p profile" in one_line_error(capsys)


# ---------------------------------------------------------------- rows 10 and 11: --folds, --seed in range

@pytest.mark.parametrize("option, value, expected", [("--folds", "1", "an integer >= 2, got 1"),
                                                     ("--folds", "two", "an integer >= 2, got 'two'"),
                                                     ("--seed", "-1", "an integer >= 0, got -1")])
def test_row10_row11_bad_sizes_are_a_one_line_error_and_change_nothing(data, capsys, option, value, expected):
    before = snapshot(data["root"] / "data")
    with pytest.raises(SystemExit) as e:
        main(["train", "--approach", "wave_cnn", "--dataset", "tiny", option, value])
    assert e.value.code == 2
    assert f"argument {option}: expected {expected}" in one_line_error(capsys)
    assert snapshot(data["root"] / "data") == before


@pytest.mark.parametrize("epochs", [-1, 0])
def test_row10_row11_library_refuses_epochs_below_one_before_training(data, epochs):
    before = snapshot(data["root"] / "data")
    with pytest.raises(ValueError, match=f"epochs must be an integer >= 1 \\(got {epochs}\\)"):
        cross_validate(data["rec"], TINY, "binned", data["folds"], eval_windows=data["windows"], arm="net",
                       verbose=False, **{**ONE_EPOCH, "epochs": epochs})
    with pytest.raises(ValueError, match="windows_per_epoch must be an integer >= 1"):
        TrainConfig.from_profile(profiles.get("default"), windows_per_epoch=0)
    assert snapshot(data["root"] / "data") == before


def results_without_logs(root):
    # logs/ are a run's scratch, rewritten per fold (see quake_lib.evaluation.staging)
    return {k: v for k, v in snapshot(root / "data" / "tiny" / "results").items() if not k.startswith("logs")}


def test_row11_an_interrupted_run_keeps_the_previous_complete_results(data, monkeypatch):
    before = results_without_logs(data["root"])
    real = fit_module._fit_fold
    calls = []

    def dies_in_fold_1(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C during the second fold
        return real(*args, **kwargs)
    monkeypatch.setattr(fit_module, "_fit_fold", dies_in_fold_1)
    with pytest.raises(KeyboardInterrupt):
        cross_validate(data["rec"], TINY, "binned", data["folds"], seed=0, eval_windows=data["windows"],
                       arm="net", verbose=False, **{**ONE_EPOCH, "lr": 3e-2})
    assert len(calls) == 2 and results_without_logs(data["root"]) == before  # fold 0 of the new run not swapped in
    ckpts = ev.checkpoint_dir("tiny", "net").parent
    assert not [p.name for p in ckpts.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_row11_a_killed_runs_staging_folder_is_cleaned_and_a_complete_run_replaces_all(data):
    ckpts = ev.checkpoint_dir("tiny", "net").parent
    stale = ckpts / f".net.partial-{dead_pid()}"
    stale.mkdir()
    (stale / "fold_0.pt").write_bytes(b"half")
    running = ckpts / f".net.partial-{os.getppid()}"  # a live process's: left alone
    running.mkdir()
    try:
        old_oof = ev.load_oof("tiny", "net")
        # the same seed (its results are the ones replaced; another seed's live apart), another learning rate
        res = cross_validate(data["rec"], TINY, "binned", data["folds"], seed=0, eval_windows=data["windows"],
                             arm="net", verbose=False, **{**ONE_EPOCH, "lr": 3e-2})
        assert not stale.exists() and running.exists()
        assert [p.parent for p in res.checkpoints] == [ev.checkpoint_dir("tiny", "net")] * 2
        assert all(p.exists() for p in res.checkpoints)
        new_oof = ev.load_oof("tiny", "net")
        assert not np.allclose(new_oof["prediction"], old_oof["prediction"])  # another run
    finally:
        running.rmdir()


# ---------------------------------------------------------------- row 12: arms, profiles, datasets checked first

def test_row12_arms_and_names_are_checked_before_training(data, capsys):
    before = snapshot(data["root"] / "data")
    with pytest.raises(SystemExit) as e:
        main(["train", "--approach", "constant", "--dataset", "tiny", "--profile", "nosuch"])
    assert e.value.code == 2 and "argument --profile: invalid choice: 'nosuch'" in one_line_error(capsys)
    assert main(["train", "--approach", "lightgbm", "--dataset", "tiny", "--arms", "wave_cnn_binned"]) == 2
    assert ("approach 'lightgbm' has no arm 'wave_cnn_binned'; expected some of: lightgbm, lightgbm_since_failure, "
            "lightgbm_fraction") in one_line_error(capsys)
    assert main(["train", "--approach", "constant", "--dataset", "doesnotexist"]) == 2
    assert "dataset 'doesnotexist' is not prepared" in one_line_error(capsys)
    assert snapshot(data["root"] / "data") == before
