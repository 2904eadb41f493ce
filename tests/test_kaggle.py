"""Kaggle layout: writing train.csv / segments, reading the real test segments, the submission order."""
import numpy as np
import pandas as pd
import pytest

from quake_lib.data import csv_parse, kaggle


def test_train_csv_format_is_kaggles(tmp_path):
    p = tmp_path / "train.csv"
    kaggle.write_train_csv(p, np.array([12, -6, 0], np.int16), np.array([1.4690999832, 11.0, 0.0001]))
    assert p.read_text() == "acoustic_data,time_to_failure\n12,1.4690999832\n-6,11.0\n0,0.0001\n"


def test_segment_roundtrip_and_length_check(tmp_path):
    x = np.random.default_rng(0).integers(-2000, 2000, 1000).astype(np.int16)
    kaggle.write_segment_csv(tmp_path / "seg_abc.csv", x)
    np.testing.assert_array_equal(kaggle.read_segment(tmp_path / "seg_abc.csv", length=1000), x)
    with pytest.raises(csv_parse.CSVFormatError, match="seg_abc.csv: 1,000 rows; a test segment has 150,000"):
        kaggle.read_segment(tmp_path / "seg_abc.csv")


def test_bad_segment_names_line(tmp_path):
    p = tmp_path / "seg_x.csv"
    p.write_text("acoustic_data\n1\n2\n99999\n")
    with pytest.raises(csv_parse.CSVFormatError, match=r"seg_x.csv, line 4: acoustic_data 99999 is outside"):
        kaggle.read_segment(p, length=None)
    p.write_text("acoustic_data,time_to_failure\n1,2\n")
    with pytest.raises(csv_parse.CSVFormatError, match=r"line 1: expected the header 'acoustic_data'"):
        kaggle.read_segment(p, length=None)


def test_submission_keeps_sample_order_and_refuses_gaps(tmp_path):
    sample = tmp_path / "sample_submission.csv"
    sample.write_text("seg_id,time_to_failure\nseg_c,0\nseg_a,0\nseg_b,0\n")
    out = kaggle.write_submission(tmp_path / "submission.csv", {"seg_a": 1.0, "seg_b": 2.0, "seg_c": 3.0}, sample)
    assert out["seg_id"].tolist() == ["seg_c", "seg_a", "seg_b"]
    assert (tmp_path / "submission.csv").read_text().splitlines()[1] == "seg_c,3.0"
    with pytest.raises(ValueError, match="no prediction for 1 seg_id"):
        kaggle.write_submission(tmp_path / "s2.csv", {"seg_a": 1.0, "seg_b": 2.0}, sample)
    with pytest.raises(ValueError, match="not in"):
        kaggle.write_submission(tmp_path / "s2.csv", {"seg_a": 1, "seg_b": 2, "seg_c": 3, "seg_d": 4}, sample)
    with pytest.raises(ValueError, match="finite"):
        kaggle.write_submission(tmp_path / "s2.csv", {"seg_a": 1, "seg_b": np.nan, "seg_c": 3}, sample)
    assert not (tmp_path / "s2.csv").exists()


def test_real_test_segments(shared_lanl):
    segs = kaggle.read_segments(shared_lanl / "test")
    assert sorted(segs) == ["seg_00030f", "seg_0012b5", "seg_00184e", "seg_003339"]
    for seg_id, x in segs.items():
        ref = pd.read_csv(shared_lanl / "test" / f"{seg_id}.csv")["acoustic_data"].to_numpy()
        assert x.dtype == np.int16 and len(x) == 150_000
        np.testing.assert_array_equal(x, ref)


def test_real_submission_order(shared_lanl, tmp_path):
    sample = pd.read_csv(shared_lanl / "sample_submission.csv")
    segs = kaggle.read_segments(shared_lanl / "test")
    preds = {s: 5.0 for s in sample["seg_id"]}
    preds.update({s: float(x.std()) for s, x in segs.items()})
    out = kaggle.write_submission(tmp_path / "submission.csv", pd.Series(preds).sample(frac=1, random_state=0),
                                  shared_lanl / "sample_submission.csv")
    written = pd.read_csv(tmp_path / "submission.csv")
    assert written["seg_id"].tolist() == sample["seg_id"].tolist() == out["seg_id"].tolist()
    assert len(written) == 2624
    assert written.set_index("seg_id").loc["seg_00030f", "time_to_failure"] == pytest.approx(segs["seg_00030f"].std())


def test_read_segment_files_keeps_the_order_and_names_a_bad_file(tmp_path):
    rng = np.random.default_rng(3)
    segs = [rng.integers(-300, 300, 1000).astype(np.int16) for _ in range(7)]
    files = []
    for i, x in enumerate(segs):
        kaggle.write_segment_csv(tmp_path / f"seg_{i:02d}.csv", x)
        files.append(tmp_path / f"seg_{i:02d}.csv")
    order = [5, 0, 3, 6, 1, 2, 4]
    got = kaggle.read_segment_files([files[i] for i in order], length=1000, threads=3)
    assert got.dtype == np.int16 and got.shape == (7, 1000)
    assert all(np.array_equal(got[k], segs[i]) for k, i in enumerate(order))
    assert np.array_equal(got[0], kaggle.read_segment(files[5], 1000))
    assert [f.name for f in kaggle.segment_files(tmp_path)] == [f.name for f in files]
    (tmp_path / "seg_03.csv").write_text("acoustic_data\n1\nx\n")
    with pytest.raises(csv_parse.CSVFormatError, match="seg_03.csv"):
        kaggle.read_segment_files(files, length=1000)
