"""Issue 14, the data side: one regression test per probe of the table (rows 1-5 and 13). Each bad
input is one line naming the file (and line), exit code 2 from the command line, nothing changed on disk."""
import gzip
import json
import os
import subprocess
import sys
import threading
import time
import zipfile

import numpy as np
import pytest
from conftest import dead_pid, leftovers, snapshot

from quake_lib import atomic, paths
from quake_lib.cli import main
from quake_lib.data import csv_parse, kaggle, source, store
from quake_lib.data.ingest import ingest
from quake_lib.data.recording import Recording

HEADER = "acoustic_data,time_to_failure\n"
GOOD = HEADER + "1,2.0\n3,1.5\n5,1.0\n"


def quiet(*_):
    pass


def cli_error(capsys, *argv) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err  # one line
    return err


# ---------------------------------------------------------------- rows 1 and 2: the target must be finite and >= 0

@pytest.mark.parametrize("value", ["1e400", "1e39", "3.5e38", "-1e39"])
def test_row01_ttf_overflow_is_refused(data_dir, write_csv, capsys, value):
    src = write_csv(HEADER + f"1,2.0\n3,{value}\n5,1.0\n")
    err = cli_error(capsys, "ingest", str(src), "--name", "t", "--no-progress")
    assert f"{src}, line 3: time_to_failure {value!r}" in err
    assert "infinite" in err or "does not fit float32" in err
    assert leftovers(data_dir) == []


def test_row01_largest_float32_target_is_still_accepted(data_dir, write_csv):
    ingest(write_csv(HEADER + "1,3.4e38\n3,1.5\n"), name="t", log=quiet)
    assert Recording.open("t").ttf[0] == np.float32(3.4e38)


@pytest.mark.parametrize("value", ["-0.5", "-1e-7", "-12"])
def test_row02_negative_ttf_is_refused(data_dir, write_csv, capsys, value):
    src = write_csv(HEADER + f"1,2.0\n3,{value}\n5,1.0\n")
    err = cli_error(capsys, "ingest", str(src), "--name", "t", "--no-progress")
    assert f"{src}, line 3: time_to_failure {value!r} is negative" in err
    assert leftovers(data_dir) == []


def test_row02_minus_zero_is_zero(data_dir, write_csv):
    ingest(write_csv(HEADER + "1,2.0\n3,-0\n5,-0.0\n"), name="t", log=quiet)
    assert Recording.open("t").ttf.tolist() == [2.0, 0.0, 0.0]


# ---------------------------------------------------------------- row 3: damaged archives

def _csv_bytes(rows=20_000) -> bytes:
    return (HEADER + "".join(f"{i % 50},{10 - i * 1e-4:.4f}\n" for i in range(rows))).encode()


def _damaged(tmp_path, kind):
    data = _csv_bytes()
    if kind == "truncated_gz":
        p = tmp_path / "train.csv.gz"
        z = gzip.compress(data)
        p.write_bytes(z[:len(z) * 2 // 3])
        return p, "the gzip data ends after"
    if kind == "not_gzip":
        p = tmp_path / "train.csv.gz"
        p.write_bytes(data)
        return p, "not a gzip file"
    p = tmp_path / "train.csv.zip"
    method = zipfile.ZIP_STORED if kind == "zip_bad_crc" else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(p, "w", method) as z:
        z.writestr("train.csv", data)
    raw = bytearray(p.read_bytes())
    i = raw.index(b"\n5,") + 1 if kind == "zip_bad_crc" else len(raw) // 3
    raw[i] ^= 0x04  # one byte of the member's data: "5" -> "1" (stored), or garbage in the deflate stream
    p.write_bytes(bytes(raw))
    return p, "the archive member train.csv is damaged"


@pytest.mark.parametrize("kind", ["truncated_gz", "not_gzip", "zip_bad_crc", "zip_bad_deflate"])
def test_row03_damaged_archive_names_the_file(data_dir, tmp_path, capsys, kind):
    src, message = _damaged(tmp_path, kind)
    with pytest.raises(csv_parse.CSVFormatError, match=message) as e:
        ingest(src, name="t", chunk_bytes=4096, log=quiet)
    assert str(e.value).startswith(f"{src}: ")
    err = cli_error(capsys, "ingest", str(src), "--name", "t", "--no-progress")
    assert f"error: {src}: " in err and message in err
    assert leftovers(data_dir) == []


# ---------------------------------------------------------------- row 4: a re-ingest never drops trained models

def test_row04_reingest_of_changed_file_keeps_trained_models(data_dir, write_csv, capsys):
    src = write_csv(GOOD)
    ingest(src, name="t", log=quiet)
    oof = paths.results_dir("t") / "oof_lightgbm.csv"
    oof.parent.mkdir()
    oof.write_text("approach,fold\nlightgbm,0\n")
    before = snapshot(data_dir)
    src.write_text(GOOD.replace("3,1.5", "4,1.5"))  # changed content under the same name
    err = cli_error(capsys, "ingest", str(src), "--name", "t", "--no-progress")
    assert f"{data_dir / 't' / 'results'} holds 1 file of trained models" in err and "--force" in err
    assert snapshot(data_dir) == before  # nothing changed
    said = []
    ingest(src, name="t", force=True, log=said.append)
    assert Recording.open("t").signal.tolist() == [1, 4, 5]
    kept = [p for p in (data_dir / "t").iterdir() if p.name.startswith("results.replaced-")]
    assert len(kept) == 1 and (kept[0] / "oof_lightgbm.csv").read_text() == "approach,fold\nlightgbm,0\n"
    assert not (data_dir / "t" / "results").exists() and str(kept[0]) in said[-1]


def test_row04_forced_reingest_of_the_same_content_keeps_results_in_place(data_dir, write_csv):
    src = write_csv(GOOD)
    ingest(src, name="t", log=quiet)
    (paths.results_dir("t")).mkdir()
    (paths.results_dir("t") / "oof_x.csv").write_text("x\n")
    gz = write_csv(gzip.compress(GOOD.encode()), name="train.csv.gz")  # same CSV text, other file
    ingest(gz, name="t", force=True, log=quiet)
    assert (paths.results_dir("t") / "oof_x.csv").read_text() == "x\n"
    assert sorted(p.name for p in (data_dir / "t").iterdir() if "results" in p.name) == ["results"]


# ---------------------------------------------------------------- row 5: the whole content is the identity

def test_row05_one_byte_changed_with_size_and_mtime_kept_is_seen(data_dir, tmp_path):
    rows = [f"{i % 90 + 10},{5 - i * 1e-5:.5f}" for i in range(300_000)]  # ~4 MB: more than head + tail MiB
    src = tmp_path / "train.csv"
    src.write_text(HEADER + "\n".join(rows) + "\n")
    ingest(src, name="t", log=quiet)
    meta = Recording.open("t").meta
    assert meta["source"]["content_hash"] == source.content_hash(src)
    st = src.stat()
    raw = bytearray(src.read_bytes())
    mid = len(raw) // 2
    mid = raw.index(b"\n", mid) + 1  # first digit of a row in the middle: "NN," -> changed NN
    raw[mid] = ord("9") if raw[mid] != ord("9") else ord("8")
    src.write_bytes(bytes(raw))
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert src.stat().st_size == st.st_size and src.stat().st_mtime_ns == st.st_mtime_ns
    line = raw[:mid].count(b"\n")  # 0-based data row of the change: lines before it minus the header
    said = []
    out = ingest(src, name="t", log=said.append)
    assert "skipped" not in out and "ingested" in said[-1]
    assert Recording.open("t").signal[line - 1] == int(bytes(raw[mid:raw.index(b",", mid)]))
    assert ingest(src, name="t", log=quiet)["skipped"] is True  # and now it is up to date


def test_row05_a_dataset_ingested_before_the_hash_is_upgraded_once_and_keeps_its_models(data_dir, write_csv):
    src = write_csv(GOOD)
    ingest(src, name="t", log=quiet)
    meta_path = data_dir / "t" / store.META_FILE
    meta = json.loads(meta_path.read_text())
    content = meta["source"].pop("content_hash")  # as the previous version wrote it
    meta_path.write_text(json.dumps(meta))
    (paths.results_dir("t")).mkdir()
    (paths.results_dir("t") / "oof_x.csv").write_text("x\n")
    assert ingest(src, name="t", log=quiet)["skipped"] is True  # same path, size and mtime: as before
    assert json.loads(meta_path.read_text())["source"]["content_hash"] == content  # and now recorded
    assert (paths.results_dir("t") / "oof_x.csv").exists()


# ---------------------------------------------------------------- row 13: concurrent writers

def test_row13_second_ingest_of_the_same_name_waits_for_the_first(data_dir, write_csv):
    src = write_csv(GOOD)
    said, done = [], []
    with store.dataset_lock(paths.dataset_dir("t"), log=quiet):  # "the first ingest", still running
        t = threading.Thread(target=lambda: done.append(ingest(src, name="t", log=said.append)))
        t.start()
        time.sleep(0.5)
        assert t.is_alive() and not done  # waits, and says for whom
        assert said and f"is being written by process {os.getpid()}" in said[0] and "waiting" in said[0]
        with pytest.raises(atomic.LockBusyError, match=f"process {os.getpid()}"):
            ingest(src, name="t", log=quiet, wait=False)
    t.join(30)
    assert done and done[0]["n_rows"] == 3 and leftovers(data_dir) == ["t"]


def test_row13_two_ingest_processes_at_once_both_succeed(data_dir, tmp_path):
    src = tmp_path / "train.csv"
    kaggle.write_train_csv(src, np.arange(400_000, dtype=np.int16) % 100, np.linspace(9, 0, 400_000))
    cmd = [sys.executable, "-m", "quake_lib", "ingest", str(src), "--name", "c", "--no-progress"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=paths.ROOT) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert len(Recording.open("c")) == 400_000
    assert leftovers(data_dir) == ["c"]


def test_row13_clean_stale_spares_running_writers_and_other_names(data_dir, write_csv):
    live = subprocess.Popen(["sleep", "60"])
    dead = dead_pid()
    try:
        data_dir.mkdir()
        other_name = data_dir / f".c.v2.partial-{dead}"       # dataset c.v2's, not c's (the old glob '.c.*')
        same_running = data_dir / f".c.partial-{live.pid}"   # a running writer of the same name
        crashed = data_dir / f".c.partial-{dead}"            # a killed writer: the only one to remove
        for d in (other_name, same_running, crashed):
            d.mkdir()
            (d / "signal.npy").write_bytes(b"in progress")
        ingest(write_csv(GOOD), name="c", log=quiet)
        assert other_name.exists() and same_running.exists() and not crashed.exists()
        assert Recording.open("c").signal.tolist() == [1, 3, 5]
    finally:
        live.kill()
        live.wait()


def test_row13_models_in_a_crashed_swap_are_recovered(data_dir, write_csv):
    """A writer killed between its two renames leaves the old folder as .NAME.old-PID: the next run
    moves its trained models into the dataset instead of deleting them."""
    ingest(write_csv(GOOD), name="c", log=quiet)
    old = data_dir / f".c.old-{dead_pid()}"
    (old / "results").mkdir(parents=True)
    (old / "results" / "oof_x.csv").write_text("x\n")
    ingest(write_csv(GOOD.replace("5,1.0", "6,1.0")), name="c", log=quiet)
    kept = [p for p in (data_dir / "c").iterdir() if p.name.startswith("results.replaced-")]
    assert len(kept) == 1 and (kept[0] / "oof_x.csv").read_text() == "x\n" and not old.exists()
