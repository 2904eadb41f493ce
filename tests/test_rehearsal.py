"""The full-size rehearsal's writer (issue 18), at tiny sizes: the same shape (the real cycle list, 16
failures) at a low density, a few test segments, small generation chunks so that streaming is exercised."""
import importlib
import json

import numpy as np
import pandas as pd
import pytest
from conftest import dead_pid

from quake_lib import cli, paths
from quake_lib.constants import SEGMENT_LENGTH
from quake_lib.data import csv_parse, kaggle
from quake_lib.data.ingest import ingest
from quake_lib.data.recording import Recording
from quake_lib.data.synthetic import kaggle_layout
from quake_lib.data.synthetic import rehearsal as rh
from quake_lib.data.synthetic.config import REAL_CYCLE_LENGTHS_S, REAL_TAIL_CYCLE_S, CycleConfig
from quake_lib.data.synthetic.cycles import make_schedule

generate = importlib.import_module("quake_lib.data.synthetic.generate")  # the package exports a function of that name

# 600k rows (density ~0.001: a block spans ~1.1 label seconds), chunks of 16 blocks (65k rows)
SPEC = rh.RehearsalSpec(train_rows=600_000, test_segments=3, chunk_blocks=16)


def quiet(*_):
    pass


def write(directory, spec=SPEC, **kw):
    return rh.write_rehearsal(directory, spec, log=quiet, **kw)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    d = tmp_path_factory.mktemp("rehearsal")
    return write(d), d


def reference(spec=SPEC):
    """The recording the generator itself gives for the spec, in memory (tiny here)."""
    chunks = list(generate.iter_chunks(spec.config(), rh.train_schedule(spec)))
    return np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])


def test_imposed_cycle_lengths_are_the_label_cycles():
    lengths = (*REAL_CYCLE_LENGTHS_S, REAL_TAIL_CYCLE_S)
    sched = make_schedule(CycleConfig(), 15, np.random.default_rng(0), lengths=lengths)
    np.testing.assert_allclose(np.diff(sched.label_failures), lengths, atol=1e-12)
    assert int((sched.label_failures < sched.t_end).sum()) == 16  # the 16th cycle's failure lies beyond
    drawn = make_schedule(CycleConfig(), 15, np.random.default_rng(0))
    np.testing.assert_array_equal(sched.floors, drawn.floors)  # the other draws are unchanged
    with pytest.raises(ValueError, match="lengths: expected 15 or 16 cycle lengths"):
        make_schedule(CycleConfig(), 15, np.random.default_rng(0), lengths=(10.0,) * 3)


def test_full_size_spec_is_the_real_size():
    spec = rh.RehearsalSpec()
    assert spec.density == 1.0 and spec.test_segments == 2624
    sizes = rh.expected_sizes(spec)  # the label clock only: nothing rendered
    assert abs(sizes["train_rows"] - 629_145_480) < 629_145_480 * 5e-4
    assert sizes["test_rows"] == 2624 * SEGMENT_LENGTH and 9e9 < sizes["bytes"] < 13e9
    with pytest.raises(ValueError, match="train_rows: expected an integer >= 500,000"):
        rh.RehearsalSpec(train_rows=1000)
    with pytest.raises(ValueError, match="test_segments"):
        rh.RehearsalSpec(test_segments=0)


def test_train_csv_parses_back_to_the_generators_samples_and_labels(written, data_dir):
    res, d = written
    x, ttf = reference()
    assert res.train_rows == len(x) and res.n_failures == 16 and not res.skipped
    assert abs(len(x) - SPEC.train_rows) < 5 * 4096
    assert (d / "train.csv").open().readline() == "acoustic_data,time_to_failure\n"
    chunks = list(csv_parse.iter_chunks(d / "train.csv", csv_parse.TRAIN_COLUMNS))
    np.testing.assert_array_equal(np.concatenate([c.signal for c in chunks]), x)
    # 10 decimals, as the real file: the parsed float32 is exactly the 10-decimal rounding of the label
    decimal = np.floor(ttf * 1e10 + 0.5) / 1e10
    assert np.abs(decimal - ttf).max() <= 5.1e-11
    np.testing.assert_array_equal(np.concatenate([c.ttf for c in chunks]), decimal.astype(np.float32))
    meta = ingest(d / "train.csv", name="rehearsal", progress=False, log=quiet)
    assert meta["n_rows"] == len(x) and meta["n_failures"] == 16
    rec = Recording(paths.dataset_dir("rehearsal"))
    np.testing.assert_array_equal(np.asarray(rec.signal), x)
    manifest = json.loads((d / rh.MANIFEST).read_text())
    assert manifest["label_cycle_lengths_s"] == [*REAL_CYCLE_LENGTHS_S, REAL_TAIL_CYCLE_S]
    assert manifest["train_rows"] == len(x) and manifest["spec"] == SPEC.to_dict()


def test_test_segments_and_hidden_labels(written):
    res, d = written
    segs = kaggle.read_segments(d / "test")  # checks every file's header, values and 150,000 rows
    sample = kaggle.read_sample_submission(d / "sample_submission.csv")
    labels = pd.read_csv(d / "test_labels.csv")
    assert len(segs) == res.test_segments == SPEC.test_segments == len(sample) == len(labels)
    assert sample["seg_id"].tolist() == sorted(segs) == labels["seg_id"].tolist()
    assert (sample["time_to_failure"] == 0).all()
    # the test period in memory: segment i holds rows [i * 150k, (i + 1) * 150k), ids in that order
    tcfg = SPEC.test_config()
    chunks = list(generate.iter_chunks(tcfg))
    x = np.concatenate([c[0] for c in chunks])
    ttf = np.concatenate([c[1] for c in chunks])
    ids = kaggle_layout.segment_ids(tcfg.seed, SPEC.test_segments)
    truth = labels.set_index("seg_id")["time_to_failure"]
    for i, sid in enumerate(ids):
        np.testing.assert_array_equal(segs[sid], x[i * SEGMENT_LENGTH:(i + 1) * SEGMENT_LENGTH])
        last = np.float32(ttf[(i + 1) * SEGMENT_LENGTH - 1])
        assert truth[sid] == pytest.approx(float(last), abs=5e-7)


def test_streaming_never_holds_more_than_a_chunk(tmp_path, monkeypatch):
    """Array sizes are spied on, not RSS measured: the same largest write at two sizes, never the
    label array, and the generator at most two chunks ahead of the writer."""
    def no_labels(*_):
        raise AssertionError("the whole label array must not be built")
    monkeypatch.setattr(kaggle_layout, "labels", no_labels)
    monkeypatch.setattr(generate, "labels", no_labels)
    state = {"made": 0, "written": 0, "ahead": 0, "sizes": [], "segments": []}
    chunks = rh.iter_chunks

    def counting_chunks(*a, **k):
        for c in chunks(*a, **k):
            state["made"] += 1
            yield c
    write_rows = kaggle.CsvStreamWriter.write

    def spy(self, signal, ttf=None):
        if ttf is not None:
            state["ahead"] = max(state["ahead"], state["made"] - state["written"])
            state["sizes"].append(len(signal))
        else:
            state["segments"].append(len(signal))
        n = write_rows(self, signal, ttf)
        assert self.buf.nbytes <= 32 << 20
        state["written"] += ttf is not None
        return n
    monkeypatch.setattr(rh, "iter_chunks", counting_chunks)
    monkeypatch.setattr(kaggle.CsvStreamWriter, "write", spy)
    largest = []
    for rows in (600_000, 1_200_000):
        state.update(made=0, written=0, sizes=[], segments=[])
        spec = rh.RehearsalSpec(train_rows=rows, test_segments=2, chunk_blocks=8)
        res = write(tmp_path / str(rows), spec)
        assert sum(state["sizes"]) == res.train_rows and state["made"] == len(state["sizes"])
        assert state["segments"] == [SEGMENT_LENGTH] * 2
        largest.append(max(state["sizes"]))
    assert largest == [8 * 4096, 8 * 4096] and state["ahead"] <= 2


def test_refuses_a_directory_inside_the_repository(tmp_path, capsys):
    inside = paths.ROOT / "rehearsal_should_not_exist"
    for d in (inside, paths.ROOT, paths.ROOT / "data" / "x"):
        with pytest.raises(ValueError, match="inside the repository"):
            write(d)
    assert not inside.exists() and not (paths.ROOT / "data" / "x").exists()
    assert rh.check_directory(inside, inside_repo=True) == inside.resolve()  # allowed when asked; nothing made
    assert not inside.exists()
    assert cli.main(["rehearsal", str(inside), "--rows", "600000", "--no-progress"]) == 2
    assert "inside the repository" in capsys.readouterr().err
    (tmp_path / "f").write_text("")
    with pytest.raises(ValueError, match="is a file; expected a directory"):
        write(tmp_path / "f")


def test_a_crash_leaves_no_half_file_and_a_rerun_cleans_up(tmp_path, monkeypatch):
    d = tmp_path / "reh"
    write_rows = kaggle.CsvStreamWriter.write
    calls = {"n": 0}

    def crash_on_third_chunk(self, signal, ttf=None):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full (simulated)")
        return write_rows(self, signal, ttf)
    monkeypatch.setattr(kaggle.CsvStreamWriter, "write", crash_on_third_chunk)
    with pytest.raises(OSError, match="simulated"):
        write(d)
    assert sorted(p.name for p in d.iterdir()) == []  # no train.csv, no .train.csv.tmp-PID
    monkeypatch.undo()

    res = write(d)
    before = {f: (d / f).read_bytes() for f in ("train.csv", "sample_submission.csv", "test_labels.csv")}
    # a crash in the test side of a forced rerun: the old files stay whole, the manifest goes
    segment = kaggle.write_segment_csv
    written_segments = {"n": 0}

    def crash_on_second_segment(path, x):
        written_segments["n"] += 1
        if written_segments["n"] == 2:
            raise OSError("killed (simulated)")
        return segment(path, x)
    monkeypatch.setattr(kaggle, "write_segment_csv", crash_on_second_segment)
    with pytest.raises(OSError, match="simulated"):
        write(d, force=True)
    monkeypatch.undo()
    assert sorted(p.name for p in d.iterdir()) == ["sample_submission.csv", "test", "test_labels.csv", "train.csv"]
    assert {f: (d / f).read_bytes() for f in before} == before  # train.csv rewritten to the same bytes
    assert len(list((d / "test").glob("seg_*.csv"))) == res.test_segments

    # what a killed process leaves (its pid gone) is removed by the next run
    pid = dead_pid()
    (d / f".train.csv.tmp-{pid}").write_text("half")
    (d / f".test.partial-{pid}").mkdir()
    (d / f".test.partial-{pid}" / "seg_000000.csv").write_text("acoustic_data\n1\n")
    again = write(d)
    assert not again.skipped  # the manifest had gone with the crash
    assert sorted(p.name for p in d.iterdir()) == sorted([*rh.OUTPUTS, rh.MANIFEST])


def test_a_rerun_does_nothing_and_another_spec_writes_again(tmp_path, capsys):
    d = tmp_path / "reh"
    argv = ["rehearsal", str(d), "--rows", "500000", "--test-segments", "1", "--no-progress"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert f"ingest {d / 'train.csv'} --name rehearsal" in out and "make report DATASET=rehearsal" in out
    assert f"submit --arm lightgbm --dataset rehearsal --test-dir {d / 'test'}" in out
    # every path the next commands write to lies in the rehearsal's directory, none in the repository
    assert f"QUAKE_DATA_DIR={d / 'data'}" in out and f"--output-dir {d / 'notebooks'}" in out
    assert f"--html-dir {d / 'reports'}" in out and f"--output {d / 'submission_lightgbm.csv'}" in out
    mtime = (d / "train.csv").stat().st_mtime_ns
    assert write(d, rh.RehearsalSpec(train_rows=500_000, test_segments=1)).skipped  # what the command wrote
    assert (d / "train.csv").stat().st_mtime_ns == mtime
    other = write(d, rh.RehearsalSpec(train_rows=500_000, test_segments=1, seed=1))
    assert not other.skipped and (d / "train.csv").stat().st_mtime_ns != mtime


def test_stream_writer_refuses_labels_it_cannot_write(tmp_path):
    with open(tmp_path / "t.csv", "wb") as f:
        w = kaggle.CsvStreamWriter(f, csv_parse.TRAIN_COLUMNS)
        w.write(np.array([1, -2], np.int16), np.array([0.5, 1.25]))
        with pytest.raises(ValueError, match=r"time_to_failure\[3\] = nan"):
            w.write(np.array([1, 2], np.int16), np.array([0.5, np.nan]))
        with pytest.raises(ValueError, match="expected a time_to_failure array"):
            w.write(np.array([1], np.int16))
    assert (tmp_path / "t.csv").read_text() == "acoustic_data,time_to_failure\n1,0.5\n-2,1.25\n"
