"""Recording: memory-mapped windows, targets at the last sample, no window straddles a failure."""
import numpy as np
import pytest
from conftest import make_recording_arrays

from quake_lib.data import store
from quake_lib.data.recording import Recording


@pytest.fixture
def rec(data_dir):
    signal, ttf = make_recording_arrays((3500, 5000, 4000))
    store.write_recording(data_dir / "t", signal, ttf, {"source": {"kind": "test"}}, chunk=1000)
    return Recording.open("t")


def test_open_and_repr(rec):
    assert len(rec) == 12_500
    assert "3 cycles, 1 complete" in repr(rec)


def test_missing_dataset_says_how_to_make_it(data_dir):
    with pytest.raises(FileNotFoundError, match="quake_lib ingest"):
        Recording.open("absent")


def test_grid_windows_exclude_straddlers(rec):
    w = rec.windows(length=1000)
    # grid starts 0..11000; those starting at 3000 and 8000 cross a failure (rows 3500, 8500)
    assert w.starts.tolist() == [0, 1000, 2000, 4000, 5000, 6000, 7000, 9000, 10000, 11000]
    assert w.cycles.tolist() == [0, 0, 0, 1, 1, 1, 1, 2, 2, 2]
    np.testing.assert_array_equal(w.targets, rec.ttf[w.starts + 999])
    for s, c in zip(w.starts, w.cycles):
        assert rec.cycle_of(s) == rec.cycle_of(s + 999) == c


def test_stride_and_cycle_filter(rec):
    w = rec.windows(length=1000, stride=500, cycles=[1])
    assert set(w.cycles) == {1}
    assert w.starts[0] == 3500 and w.starts[-1] == 7500
    with pytest.raises(ValueError, match="length and stride must be positive"):
        rec.windows(length=0)


def test_read_matches_signal(rec):
    w = rec.windows(length=1000)
    x = rec.read(w.subset(slice(2, 4)))
    assert x.shape == (2, 1000) and x.dtype == np.int16
    np.testing.assert_array_equal(x[0], rec.signal[2000:3000])
    np.testing.assert_array_equal(x[1], rec.signal[4000:5000])


def test_random_windows_stay_inside_cycles(rec):
    rng = np.random.default_rng(0)
    w = rec.random_windows(2000, rng, length=1000, cycles=[0, 2])
    assert set(np.unique(w.cycles)) == {0, 2}
    assert (rec.cycle_of(w.starts + 999) == w.cycles).all()
    np.testing.assert_array_equal(w.targets, rec.ttf[w.starts + 999])
    assert len(np.unique(w.starts)) > 1000  # any offset, not only a grid
    with pytest.raises(ValueError, match="no window of length 6000 fits"):
        rec.random_windows(5, rng, length=6000, cycles=[0])


def test_corrupt_meta_is_refused(rec):
    meta = rec.directory / store.META_FILE
    meta.write_text(meta.read_text().replace('"format_version": 1', '"format_version": 99'))
    with pytest.raises(ValueError, match="format_version 99 is not supported"):
        Recording.open("t")


def test_real_windows_line_up_with_the_csv(data_dir, shared_lanl):
    from quake_lib.data.ingest import ingest
    ingest(shared_lanl / "train_head_150k.csv", name="lanl", log=lambda *_: None)
    rec = Recording.open("lanl")
    lines = (shared_lanl / "train_head_150k.csv").read_text().split("\n")[2:]
    w = rec.windows(length=50_000, stride=25_000)
    assert w.starts.tolist() == [0, 25_000, 50_000, 75_000]
    for s, t in zip(w.starts, w.targets):
        a, ttf = lines[s + 49_999].split(",")
        assert t == np.float32(float(ttf))
        assert rec.read(np.array([s]), 50_000)[0, -1] == int(a)
