"""The synthetic generator: determinism, layout, label structure, physics sanity, presets, Kaggle files."""
import json

import numpy as np
import pandas as pd
import pytest

from quake_lib import paths
from quake_lib.data import datasets, store
from quake_lib.data.recording import Recording
from quake_lib.data.synthetic import PRESETS, config_hash, generate, preset, schedule_for
from quake_lib.data.synthetic.config import REAL_SAMPLES_PER_SECOND, CycleConfig, SyntheticConfig
from quake_lib.data.synthetic.cycles import block_lengths, cycle_lengths, make_schedule
from quake_lib.data.synthetic.generate import labels

TINY = SyntheticConfig(n_cycles=2, density=0.004, seed=3)  # ~0.4 M samples, well under a second


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """The quick preset, generated once for the module in a private data dir."""
    d = tmp_path_factory.mktemp("data")
    mp = pytest.MonkeyPatch()
    mp.setenv("QUAKE_DATA_DIR", str(d))
    rec = datasets.prepare("quick")
    yield rec
    mp.undo()


def test_same_config_same_bytes_other_seed_other_bytes(tmp_path):
    generate(TINY, tmp_path / "a")
    # The float64 labels (for train.csv) are the stored float32 ones before rounding.
    np.testing.assert_array_equal(labels(TINY).astype(np.float32), np.load(tmp_path / "a" / store.TTF_FILE))
    generate(TINY, tmp_path / "b")
    generate(TINY.replace(seed=4), tmp_path / "c")
    a, b, c = (np.load(tmp_path / n / store.SIGNAL_FILE) for n in "abc")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.load(tmp_path / "a" / store.TTF_FILE), np.load(tmp_path / "b" / store.TTF_FILE))
    assert len(a) != len(c) or not np.array_equal(a, c)


def test_layout_and_meta(quick):
    cfg = preset("quick")
    for f in (store.SIGNAL_FILE, store.TTF_FILE, store.CYCLES_FILE, store.META_FILE):
        assert (quick.directory / f).exists()
    assert quick.signal.dtype == np.int16 and quick.ttf.dtype == np.float32
    src = quick.meta["source"]
    assert src["kind"] == "synthetic" and src["preset"] == "quick"
    assert src["config_hash"] == config_hash(cfg)
    assert SyntheticConfig.from_dict(src["config"]) == cfg  # the meta holds the full recipe
    # A partial head, n_cycles complete cycles and a partial tail, like the real train.csv.
    assert len(quick.cycles) == cfg.n_cycles + 2
    assert int(quick.cycles["complete"].sum()) == cfg.n_cycles
    assert quick.cycles["start_ttf"].iloc[0] == pytest.approx(cfg.cycles.head_s, abs=1e-3)


def test_label_structure_blocks_density_and_cycles(quick):
    cfg = preset("quick")
    ttf = np.asarray(quick.ttf, dtype=np.float64)
    assert ttf.min() >= 0
    step = np.diff(ttf)
    drops = step < -1e-5  # between blocks; inside a block ttf is flat to float32 precision
    jumps = np.flatnonzero(step > 1.0)
    assert len(jumps) == cfg.n_cycles + 1
    # Block starts: 4,096 rows apart, except one block of 4,095 every 1,280.
    starts = np.flatnonzero(drops | (step > 1.0)) + 1
    assert set(np.unique(np.diff(starts))) <= {4096, 4095}
    np.testing.assert_array_equal(block_lengths(0, 1281)[[1278, 1279, 1280]], [4096, 4095, 4096])
    # Label time per sample: density x the real 3.85 M samples per second.
    rate = len(ttf) / (quick.cycles["duration_s"].sum())
    assert rate == pytest.approx(cfg.density * REAL_SAMPLES_PER_SECOND, rel=0.01)
    lengths = quick.cycles.loc[quick.cycles["complete"], "duration_s"]
    assert lengths.between(cfg.cycles.min_s - 0.1, cfg.cycles.max_s + 0.1).all()


def test_cycle_length_distribution_is_real_like():
    cfg = CycleConfig()
    lengths = cycle_lengths(cfg, 20_000, np.random.default_rng(0))
    assert lengths.min() >= cfg.min_s and lengths.max() <= cfg.max_s
    assert lengths.mean() == pytest.approx(10.67, abs=0.25)  # real: 10.67 s
    assert lengths.std() == pytest.approx(2.5, abs=0.15)  # real: 2.74 from 15 cycles
    r = np.corrcoef(lengths[:-1], lengths[1:])[0, 1]
    assert -0.6 < r < -0.3  # real: about -0.5


def test_schedule_slip_precedes_label_failure_and_stress_rises():
    sched = make_schedule(CycleConfig(), 30, np.random.default_rng(1))
    lag = sched.label_failures - sched.slips
    assert np.all((lag > 0.25) & (lag < 0.40))
    # Stress is low after a slip and high just before the next one.
    before = sched.stress(sched.slips[1:] - 0.05)
    after = sched.stress(sched.slips[:-1] + 0.05)
    assert np.median(before) > 0.7 and np.median(after) < 0.15
    t = np.linspace(0, sched.t_end, 5000)
    assert np.all(sched.time_to_failure(t) >= 0)


def test_signal_physics(quick):
    """int16 counts around the real mean, a main shock in the thousands at every slip, and louder
    windows near failure than far from it."""
    x = np.asarray(quick.signal)
    assert 4.0 < x.mean() < 5.0
    slips = np.asarray(quick.meta["synthetic"]["slips_s"])
    sched = schedule_for(preset("quick"))
    np.testing.assert_allclose(sched.slips, slips, atol=1e-3)
    ttf = np.asarray(quick.ttf)
    # Around each failure (label 0 .. 0.6 s before it) lies the main shock.
    for _, c in quick.cycles[quick.cycles["complete"]].iterrows():
        seg = slice(int(c["first_row"]), int(c["last_row"]) + 1)
        near = np.flatnonzero(ttf[seg] < 0.6) + int(c["first_row"])
        assert np.abs(x[near] - 4.5).max() > 1000
    w = quick.windows(length=20_000)
    std = np.array([quick.signal[s:s + 20_000].std() for s in w.starts])
    near, far = std[(w.targets > 0.5) & (w.targets < 3)], std[w.targets > 7]
    assert np.median(near) > 1.3 * np.median(far)


def test_prepare_regenerates_only_when_config_changes(data_dir, monkeypatch):
    rec = datasets.prepare("quick")
    meta_path = rec.directory / store.META_FILE
    mtime = meta_path.stat().st_mtime_ns
    datasets.prepare("quick")
    assert meta_path.stat().st_mtime_ns == mtime  # current: reused
    meta = json.loads(meta_path.read_text())
    meta["source"]["config_hash"] = "stale"
    meta_path.write_text(json.dumps(meta))
    assert not datasets.is_current("quick")
    rec = datasets.prepare("quick")
    assert rec.meta["source"]["config_hash"] == config_hash(preset("quick"))
    monkeypatch.setenv("QUAKE_QUICK", "1")
    assert datasets.default_name() == "quick"
    monkeypatch.setenv("QUAKE_QUICK", "0")
    assert datasets.default_name() == "synthetic"


def test_prepare_unknown_name_says_how_to_ingest(data_dir):
    with pytest.raises(FileNotFoundError, match="python -m quake_lib ingest train.csv --name lanl"):
        datasets.prepare("lanl")
    with pytest.raises(ValueError, match="not valid"):
        datasets.prepare("../escape")
    assert set(PRESETS) >= {"synthetic", "quick"}


def test_kaggle_layout_round_trip(quick, tmp_path, monkeypatch):
    """train.csv ingests back to the same recording; test segments, sample submission and hidden
    labels are consistent."""
    from quake_lib.data import kaggle
    from quake_lib.data.ingest import ingest
    from quake_lib.data.synthetic.kaggle_layout import write_kaggle_files

    monkeypatch.setenv("QUAKE_DATA_DIR", str(quick.directory.parent))
    out = write_kaggle_files("quick", tmp_path / "kaggle")
    k = tmp_path / "kaggle"
    sample = pd.read_csv(k / "sample_submission.csv")
    labels = pd.read_csv(k / "test_labels.csv")
    assert out["test_segments"] == len(sample) == len(labels) > 0
    assert sample["seg_id"].tolist() == sorted(sample["seg_id"]) == labels["seg_id"].tolist()
    assert sample["seg_id"].str.fullmatch(r"seg_[0-9a-f]{6}").all()
    assert (labels["time_to_failure"] >= 0).all()
    segs = kaggle.read_segments(k / "test")
    assert sorted(segs) == sample["seg_id"].tolist()
    kaggle.write_submission(k / "submission.csv", labels.set_index("seg_id")["time_to_failure"],
                            k / "sample_submission.csv")
    ingest(k / "train.csv", name="roundtrip", progress=False)
    back = Recording(paths.dataset_dir("roundtrip"))
    np.testing.assert_array_equal(np.asarray(back.signal), np.asarray(quick.signal))
    np.testing.assert_allclose(np.asarray(back.ttf), np.asarray(quick.ttf), atol=1e-6)
    assert len(back.cycles) == len(quick.cycles)
