"""Kaggle submission from saved fold models: nets rebuilt from checkpoints alone, LightGBM boosters,
the constant; order, scoring, and the errors a user meets."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
from tiny_data import LENGTH, trained_tiny

from quake_lib import evaluation as ev
from quake_lib import paths, submit
from quake_lib.cli import main
from quake_lib.data import kaggle
from quake_lib.train import predict_array
from quake_lib.train.predict import load_module

N_SEG = 6


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny recording with a binned and a regression net, LightGBM and the constant trained on 2
    folds, and a Kaggle-layout test folder of ``N_SEG`` segments cut from it (labels known)."""
    root = tmp_path_factory.mktemp("submit")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QUAKE_DATA_DIR", str(root / "data"))
        rec, windows, folds = trained_tiny({f"tiny_{head}": head for head in ("binned", "regression")})
        kdir = root / "kaggle"
        pick = windows.subset(np.linspace(0, len(windows) - 1, N_SEG).astype(int))
        x = rec.read(pick)
        ids = [f"seg_{v:06x}" for v in (0xF00, 0xA0, 0x3, 0xBEEF, 0x77, 0x1234)]
        for sid, seg in zip(ids, x):
            kaggle.write_segment_csv(kdir / "test" / f"{sid}.csv", seg)
        order = [ids[i] for i in (3, 0, 5, 1, 4, 2)]  # the sample's order is not the files' order
        pd.DataFrame({"seg_id": order, "time_to_failure": 0.0}).to_csv(kdir / "sample_submission.csv", index=False)
        pd.DataFrame({"seg_id": ids, "time_to_failure": pick.targets}).to_csv(kdir / "test_labels.csv", index=False)
        yield {"root": root, "kaggle": kdir, "ids": ids, "order": order, "x": dict(zip(ids, x)),
               "targets": dict(zip(ids, pick.targets.astype(float))), "rec": rec, "windows": windows,
               "folds": folds}


def _run(trained, *args, output="submission.csv"):
    out = trained["root"] / output
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QUAKE_DATA_DIR", str(trained["root"] / "data"))
        rc = main(["submit", "--dataset", "tiny", "--test-dir", str(trained["kaggle"] / "test"),
                   "--output", str(out), *args])
    return rc, out


def _by_hand(trained, approach, readout=None):
    """The mean over the fold checkpoints' default readouts (or ``readout``), each module rebuilt by hand."""
    d = trained["root"] / "data" / "tiny" / "results" / "checkpoints" / approach
    x = np.stack([trained["x"][s] for s in trained["order"]])
    preds = []
    for path in (d / "fold_0.pt", d / "fold_1.pt"):
        module, meta = load_module(path)
        assert meta["window_length"] == LENGTH and meta["n_parameters"] > 0
        preds.append(predict_array(module, x)[readout or module.head.default_readout])
    assert len(preds) == 2
    return np.mean(preds, axis=0)


@pytest.mark.parametrize("head", ["binned", "regression"])
def test_net_submission_is_the_mean_of_the_fold_models_in_sample_order(trained, head, capsys):
    rc, out = _run(trained, "--arm", f"tiny_{head}")
    assert rc == 0
    sub = pd.read_csv(out)
    assert sub["seg_id"].tolist() == trained["order"]
    np.testing.assert_allclose(sub["time_to_failure"], _by_hand(trained, f"tiny_{head}"), rtol=1e-6)
    truth = np.array([trained["targets"][s] for s in trained["order"]])
    mae = np.abs(sub["time_to_failure"].to_numpy() - truth).mean()
    printed = capsys.readouterr().out
    assert f"on {N_SEG} segments: {mae:.4f}" in printed and "mean of 2 fold models" in printed


@pytest.mark.parametrize("approach", ["tiny_binned", "tiny_regression", "lightgbm", "constant"])
def test_intervals_go_to_a_second_file_and_leave_kaggles_unchanged(trained, approach, capsys):
    _, plain = _run(trained, "--arm", approach, output=f"plain_{approach}.csv")
    rc, out = _run(trained, "--arm", approach, "--intervals", output=f"iv_{approach}.csv")
    assert rc == 0 and out.read_bytes() == plain.read_bytes()
    path = out.with_name(f"iv_{approach}_intervals.csv")
    how = "the fold models' own quantiles" if approach == "tiny_binned" else "conformal, from the OOF residuals"
    assert f"80% intervals ({how}) -> {path}" in capsys.readouterr().out
    assert not plain.with_name(f"plain_{approach}_intervals.csv").exists()
    got = pd.read_csv(path)
    sub = pd.read_csv(out)
    assert list(got.columns) == ["seg_id", "time_to_failure", "lower", "upper"]
    assert got["seg_id"].tolist() == trained["order"]
    np.testing.assert_array_equal(got["time_to_failure"], sub["time_to_failure"])
    assert (got["lower"] >= 0).all() and (got["lower"] <= got["upper"]).all()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QUAKE_DATA_DIR", str(trained["root"] / "data"))
        oof = ev.load_oof("tiny", approach)
    if approach == "tiny_binned":  # the fold models' mean quantile readouts, also in its OOF file
        assert set(ev.intervals.QUANTILE_COLUMNS) <= set(oof.columns)
        want_lo, want_hi = _by_hand(trained, approach, "q10"), _by_hand(trained, approach, "q90")
    else:  # the prediction plus the residual quantiles of every OOF row of the approach
        q_lo, q_hi = ev.intervals.residual_quantiles(oof["target"] - oof["prediction"])
        want_lo = np.clip(sub["time_to_failure"] + q_lo, 0, None)
        want_hi = np.clip(sub["time_to_failure"] + q_hi, 0, None)
    np.testing.assert_allclose(got["lower"], want_lo, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(got["upper"], want_hi, rtol=1e-6, atol=1e-9)


def test_a_stale_fold_file_of_an_older_run_is_not_used(trained):
    d = trained["root"] / "data" / "tiny" / "results" / "checkpoints" / "tiny_binned"
    (d / "fold_4.pt").write_bytes((d / "fold_0.pt").read_bytes())  # as if left by a 5-fold run
    try:
        rc, out = _run(trained, "--arm", "tiny_binned", output="stale.csv")
        assert rc == 0
        np.testing.assert_allclose(pd.read_csv(out)["time_to_failure"], _by_hand(trained, "tiny_binned"),
                                   rtol=1e-6)
    finally:
        (d / "fold_4.pt").unlink()


def test_rebuilt_module_reproduces_its_held_out_predictions(trained):
    """A module rebuilt from its checkpoint alone predicts its fold's OOF values again."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QUAKE_DATA_DIR", str(trained["root"] / "data"))
        oof = ev.load_oof("tiny", "tiny_regression")
        d = paths.results_dir("tiny") / "checkpoints" / "tiny_regression"
        for fold in trained["folds"]:
            module, meta = load_module(d / f"fold_{fold.index}.pt")
            assert meta["model"] == "wave_cnn" and meta["head"] == "regression"
            _, test = fold.split(trained["windows"])
            got = predict_array(module, trained["rec"].read(test))["value"]
            want = oof.loc[oof["fold"] == fold.index].sort_values("start")["prediction"].to_numpy()
            np.testing.assert_allclose(got, want, atol=1e-4)


def test_lightgbm_submission_uses_the_saved_boosters(trained, capsys):
    import lightgbm as lgb

    from quake_lib.features.competition import kaggle_array_features
    rc, out = _run(trained, "--arm", "lightgbm")
    assert rc == 0
    d = trained["root"] / "data" / "tiny" / "results" / "checkpoints" / "lightgbm"
    feats = kaggle_array_features(np.stack([trained["x"][s] for s in trained["order"]]))
    boosters = [lgb.Booster(model_file=str(d / f"fold_{k}.txt")) for k in (0, 1)]
    want = np.mean([b.predict(feats[b.feature_name()].to_numpy()) for b in boosters], axis=0)
    sub = pd.read_csv(out)
    assert sub["seg_id"].tolist() == trained["order"]
    np.testing.assert_allclose(sub["time_to_failure"], want, rtol=1e-9)
    assert "MAE against" in capsys.readouterr().out


def test_constant_submission_is_the_median_of_all_windows(trained):
    rc, out = _run(trained, "--arm", "constant")
    assert rc == 0
    sub = pd.read_csv(out)
    assert np.allclose(sub["time_to_failure"], np.median(trained["windows"].targets))


def test_labels_are_never_required(trained, tmp_path, capsys):
    kdir = tmp_path / "k"
    (kdir / "test").mkdir(parents=True)
    for s in trained["ids"]:
        (kdir / "test" / f"{s}.csv").write_bytes((trained["kaggle"] / "test" / f"{s}.csv").read_bytes())
    (kdir / "sample_submission.csv").write_bytes((trained["kaggle"] / "sample_submission.csv").read_bytes())
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QUAKE_DATA_DIR", str(trained["root"] / "data"))
        sub = submit.submit("tiny_binned", kdir / "test", dataset="tiny", output=tmp_path / "s.csv")
    assert sub.mae is None and sub.labels_path is None and len(sub.frame) == N_SEG
    assert sub.per_model.shape == (N_SEG, 2)


def test_errors_name_the_problem(trained, tmp_path, capsys):
    rc, _ = _run(trained, "--arm", "never_trained")
    assert rc == 2 and "python -m quake_lib train --dataset tiny --approach NAME" in capsys.readouterr().err
    rc = main(["submit", "--arm", "constant", "--dataset", "tiny", "--test-dir", str(tmp_path / "nope")])
    assert rc == 2 and "no such directory" in capsys.readouterr().err
    # a segment of the wrong length
    bad = tmp_path / "bad"
    kaggle.write_segment_csv(bad / "test" / f"{trained['ids'][0]}.csv", np.zeros(100, np.int16))
    pd.DataFrame({"seg_id": [trained["ids"][0]], "time_to_failure": 0.0}).to_csv(
        bad / "sample_submission.csv", index=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QUAKE_DATA_DIR", str(trained["root"] / "data"))
        rc = main(["submit", "--arm", "tiny_binned", "--dataset", "tiny", "--test-dir", str(bad / "test"),
                   "--output", str(tmp_path / "x.csv")])
    assert rc == 2 and f"100 rows; a test segment has {LENGTH:,}" in capsys.readouterr().err
    # sample ids without a segment file: an error, or a partial file with --allow-missing
    sample = tmp_path / "sample.csv"
    pd.DataFrame({"seg_id": trained["order"] + ["seg_ffffff"], "time_to_failure": 0.0}).to_csv(sample, index=False)
    rc, out = _run(trained, "--arm", "constant", "--sample-submission", str(sample), output="p.csv")
    assert rc == 2 and "1 of the 7 seg_ids" in capsys.readouterr().err and not out.exists()
    rc, out = _run(trained, "--arm", "constant", "--sample-submission", str(sample), "--allow-missing",
                   output="p.csv")
    assert rc == 0 and "PARTIAL submission: 6 of the 7" in capsys.readouterr().out
    assert pd.read_csv(out)["seg_id"].tolist() == trained["order"]
    # segments the sample does not list: the wrong sample for this folder
    short = tmp_path / "short.csv"
    pd.DataFrame({"seg_id": trained["order"][:3], "time_to_failure": 0.0}).to_csv(short, index=False)
    rc, _ = _run(trained, "--arm", "constant", "--sample-submission", str(short))
    assert rc == 2 and "does not list" in capsys.readouterr().err


def test_old_checkpoint_without_rebuild_meta_is_refused(trained, tmp_path):
    ckpt = torch.load(trained["root"] / "data" / "tiny" / "results" / "checkpoints" / "tiny_binned" / "fold_0.pt",
                      weights_only=True)
    torch.save({"state_dict": ckpt["state_dict"], "meta": {"model": "wave_cnn", "head": "binned"}}, tmp_path / "o.pt")
    with pytest.raises(ValueError, match="does not say how to rebuild its model"):
        load_module(tmp_path / "o.pt")


def test_synthetic_kaggle_layout_test_only(data_dir, tmp_path):
    from quake_lib.data.synthetic import kaggle_layout
    info = kaggle_layout.write_kaggle_files("quick", tmp_path / "k", train_csv=False)
    assert not (tmp_path / "k" / "train.csv").exists() and info["train_rows"] is None
    sample = kaggle.read_sample_submission(tmp_path / "k" / "sample_submission.csv")
    labels = pd.read_csv(tmp_path / "k" / "test_labels.csv")
    assert len(sample) == info["test_segments"] == len(list((tmp_path / "k" / "test").glob("seg_*.csv")))
    assert labels["seg_id"].tolist() == sample["seg_id"].tolist()


def test_real_test_segments_give_a_partial_file_in_sample_order(shared_lanl, trained, tmp_path, capsys):
    """The 4 real segments of ../shared/lanl/test (of 2,624): without --allow-missing an error; with it
    a partial file of those 4, in the official order. The model is the constant, as saved for
    150,000-sample windows (the tiny recording's results use 4,096)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QUAKE_DATA_DIR", str(trained["root"] / "data"))
        ev.save_oof(ev.load_oof("tiny", "constant"), "real150")
        (ev.checkpoint_dir("real150", "constant")).mkdir(parents=True, exist_ok=True)
        meta = {"approach": "constant", "arm": "constant", "window_length": 150000}
        (ev.checkpoint_dir("real150", "constant") / ev.RUN_META).write_text(json.dumps(meta))
        args = ["submit", "--arm", "constant", "--dataset", "real150", "--test-dir", str(shared_lanl / "test"),
                "--output", str(tmp_path / "real.csv")]
        assert main(args) == 2 and "2620 of the 2624 seg_ids" in capsys.readouterr().err
        assert main(args + ["--allow-missing"]) == 0
    sample = pd.read_csv(shared_lanl / "sample_submission.csv")["seg_id"]
    got = pd.read_csv(tmp_path / "real.csv")
    assert got["seg_id"].tolist() == [s for s in sample if (shared_lanl / "test" / f"{s}.csv").exists()]
    assert len(got) == 4 and "PARTIAL" in capsys.readouterr().out
