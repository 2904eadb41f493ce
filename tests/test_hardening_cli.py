"""The command line as a careless or unlucky user meets it: nothing the user owns is overwritten, no
hang, no traceback. Each error is one line ``error: ...`` with exit code 2 (an interrupt: 130) naming
the path or parameter the user chose and what was expected. Test names carry the row of the hardening
table they check."""
import errno
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import zipfile
import zlib

import pytest
from conftest import leftovers, snapshot

from quake_lib import atomic, paths
from quake_lib import evaluation as ev
from quake_lib.cli import main
from quake_lib.constants import SAMPLE_RATE_HZ
from quake_lib.data import csv_parse, datasets, kaggle, lab_runs, lanl_stats, store
from quake_lib.data.ingest import ingest
from quake_lib.data.synthetic import rehearsal as rh
from quake_lib.report import execute as report
from quake_lib.report import preflight
from quake_lib.train.module import QuakeModule

HEADER = "acoustic_data,time_to_failure\n"
# a subprocess that should answer at once gets this long; a hang fails the test instead of the suite
PROMPT_S = 60


def quiet(*_):
    pass


def one_line_error(text: str) -> str:
    """The single line of an error on stderr (anything more, a traceback say, fails)."""
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), text
    return lines[0]


def train_csv(path, rows=2_000):
    path.write_text(HEADER + "".join(f"{i % 50},{(rows - i) * 1e-3:.4f}\n" for i in range(rows)))
    return path


def run_cli(*commands, env=None, prefix=()) -> list[tuple[int, str]]:
    """``python -m quake_lib ARGS`` for each ``ARGS`` of ``commands``, in child processes run side by
    side; (exit code, stderr) of each. A hang fails the test after :data:`PROMPT_S`."""
    procs = [subprocess.Popen([*prefix, sys.executable, "-m", "quake_lib", *map(str, args)], cwd=paths.ROOT,
                              env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True) for args in commands]
    try:
        errors = [p.communicate(timeout=PROMPT_S)[1] for p in procs]
        return [(p.returncode, err) for p, err in zip(procs, errors)]
    finally:
        for p in procs:
            p.kill()


# ---------------------------------------------------------------- row 1: the rehearsal writes only into its own folder

REHEARSAL = ["--rows", "500000", "--test-segments", "1", "--no-progress"]


def test_row01_rehearsal_refuses_a_folder_holding_the_users_files_and_force_moves_them_aside(tmp_path, capsys):
    d = tmp_path / "kaggle"
    (d / "test").mkdir(parents=True)
    (d / "train.csv").write_text(HEADER + "1,2.0\n")  # stands for the real 9 GB file
    (d / "test" / "mine.txt").write_text("notes")
    before = snapshot(d)
    assert main(["rehearsal", str(d), *REHEARSAL]) == 2
    err = one_line_error(capsys.readouterr().err)
    assert f"{d}: holds test/, train.csv, which the rehearsal did not write (no rehearsal.json)" in err
    assert "--force" in err and "nothing is deleted" in err
    assert snapshot(d) == before

    assert main(["rehearsal", str(d), *REHEARSAL, "--force"]) == 0
    capsys.readouterr()
    kept = [p for p in d.iterdir() if p.name.startswith(rh.REPLACED)]
    assert len(kept) == 1 and snapshot(kept[0]) == before  # moved, byte for byte; nothing deleted
    assert json.loads((d / rh.MANIFEST).read_text())["test_segments"] == 1


def test_row01_a_file_added_to_a_rehearsals_test_folder_is_never_deleted(tmp_path, capsys):
    d = tmp_path / "reh"
    assert main(["rehearsal", str(d), *REHEARSAL]) == 0
    (d / "test" / "mine.txt").write_text("notes")
    other = ["--rows", "500000", "--test-segments", "2", "--no-progress"]
    assert main(["rehearsal", str(d), *other]) == 2  # another spec would swap test/ and lose it
    assert "holds test/mine.txt, which the rehearsal did not write" in one_line_error(capsys.readouterr().err)
    assert (d / "test" / "mine.txt").read_text() == "notes"
    assert main(["rehearsal", str(d), *other, "--force"]) == 0
    (kept,) = [p for p in d.iterdir() if p.name.startswith(rh.REPLACED)]
    assert (kept / "test" / "mine.txt").read_text() == "notes"
    assert len(kaggle.segment_files(d / "test")) == 2


# ---------------------------------------------------------------- row 3: what is not a regular file is not read

@pytest.fixture
def endless(tmp_path):
    link = tmp_path / "seg_17ff50.csv"
    link.symlink_to("/dev/zero")
    return link


def test_row03_ingest_of_a_device_or_a_pipe_is_refused_at_once(tmp_path, endless, data_dir):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    cases = ((endless, "a character device (a link to /dev/zero)"), (fifo, "a named pipe"))
    results = run_cli(*(["ingest", src, "--name", "t", "--no-progress"] for src, _ in cases),
                      env={"QUAKE_DATA_DIR": str(data_dir)})
    for (src, kind), (rc, err) in zip(cases, results):
        assert rc == 2
        assert f"{src}: is {kind}, not a regular file; expected" in one_line_error(err)
    assert leftovers(data_dir) == []


def test_row03_a_test_segment_linked_to_dev_zero_is_refused_at_once(endless):
    code = ("import sys; from quake_lib.data import kaggle\n"
            "try:\n    kaggle.read_segment_files([sys.argv[1]])\n"
            "except ValueError as e:\n    print(e)")
    r = subprocess.run([sys.executable, "-c", code, str(endless)], cwd=paths.ROOT, capture_output=True,
                       text=True, timeout=PROMPT_S)
    assert f"{endless}: is a character device" in r.stdout, r.stderr


def test_row03_a_long_line_and_an_oversized_segment_are_bounded_before_reading(tmp_path, data_dir):
    flat = tmp_path / "flat.csv"
    flat.write_bytes(b"7" * (3 * csv_parse.MAX_LINE_BYTES))
    with pytest.raises(csv_parse.CSVFormatError, match=f"line 1: no line break in the first "
                                                       f"{csv_parse.MAX_LINE_BYTES:,} bytes"):
        ingest(flat, name="t", log=quiet)
    big = tmp_path / "seg_000001.csv"
    rows = kaggle.max_segment_bytes(10) // 2 + 1  # "1\n" rows: more bytes than ten of the widest rows
    big.write_text("acoustic_data\n" + "1\n" * rows)
    with pytest.raises(csv_parse.CSVFormatError, match=f"bytes; a test segment of 10 rows takes at most "
                                                       f"{kaggle.max_segment_bytes(10):,}"):
        kaggle.read_segment(big, length=10)


# ---------------------------------------------------------------- row 4: a full disk, in numbers

def test_row04_ingest_on_a_full_disk_names_the_dataset_and_the_space_and_keeps_the_old_data(
        data_dir, tmp_path, capsys, monkeypatch):
    ingest(train_csv(tmp_path / "train.csv"), name="t", log=quiet)
    before = snapshot(data_dir / "t")
    append = store.NpyStreamWriter.append

    def full_after_15000_values(self, chunk):  # the disk fills in the middle of a write
        room = 15_000 - self.length
        append(self, chunk[:max(room, 0)])
        if room < len(chunk):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(store.NpyStreamWriter, "append", full_after_15000_values)
    src = train_csv(tmp_path / "other.csv", rows=30_000)  # more than the header's first read
    assert main(["ingest", str(src), "--name", "t", "--force", "--no-progress"]) == 2
    err = one_line_error(capsys.readouterr().err)
    assert err.startswith(f"error: {data_dir / 't'}: no space left on the file system (")
    assert " written, " in err and " free) (the data folder" in err
    with pytest.raises(atomic.NoSpaceError) as e:  # small chunks: the share read gives the whole's size
        ingest(src, name="t", force=True, chunk_bytes=4096, log=quiet)
    assert 120_000 < e.value.needed < 240_000 and "kB written, about " in str(e.value)
    assert snapshot(data_dir / "t") == before and leftovers(data_dir) == ["t"]


def test_row04_an_atomic_write_on_a_full_disk_names_its_file_not_the_temporary_one(tmp_path, monkeypatch):
    import pandas as pd

    def full(self, path, **kw):
        open(path, "w").write("seg_id,time")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    out = tmp_path / "submission.csv"
    with pytest.raises(atomic.NoSpaceError) as e:
        atomic.write_csv(pd.DataFrame({"a": [1]}), out)
    assert str(e.value).startswith(f"{out}: no space left on the file system (11 bytes written, ")
    assert atomic.os_error_message(e.value) == str(e.value) and list(tmp_path.iterdir()) == []


def test_row04_dev_full_is_one_line(tmp_path, capsys):
    err = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / ".sub.csv.tmp-12"))
    assert atomic.os_error_message(err).startswith(f"{tmp_path / 'sub.csv'}: no space left on the file system")
    with pytest.raises(OSError) as e, open("/dev/full", "w") as f:
        f.write("x" * 100_000)
        f.flush()
    assert "no space left on the file system; expected room" in atomic.os_error_message(e.value)


# ---------------------------------------------------------------- row 5: no write permission

@pytest.fixture
def read_only(tmp_path):
    """A folder this test's child processes cannot write in, and the command prefix that makes it so
    (a root process keeps CAP_DAC_OVERRIDE otherwise); skips where that cannot be arranged."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    prefix = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot drop the capability to write anywhere")
        prefix = ["setpriv", "--inh-caps=-dac_override", "--bounding-set=-dac_override"]
    probe = subprocess.run([*prefix, "touch", str(ro / "probe")], capture_output=True)
    if probe.returncode == 0:
        pytest.skip("this process can write into a mode-555 folder (no way to drop CAP_DAC_OVERRIDE here)")
    yield ro, prefix
    ro.chmod(0o755)


def test_row05_no_write_permission_names_the_folder_the_user_chose(read_only, tmp_path):
    ro, prefix = read_only
    src = train_csv(tmp_path / "train.csv")
    data = ro / "data"
    data_in_ro = ["ingest", src, "--name", "t", "--no-progress"], ["prepare", "quick"]
    for rc, err in run_cli(*data_in_ro, env={"QUAKE_DATA_DIR": str(data)}, prefix=prefix):
        assert rc == 2, err
        err = one_line_error(err)
        assert f"no write permission on the folder {ro} (the data folder {data}; QUAKE_DATA_DIR" in err
        assert ".lock" not in err and "partial" not in err
    assert sorted(p.name for p in ro.iterdir()) == []


def test_row05_report_refuses_an_output_folder_it_cannot_write_before_the_kernel(tmp_path, capsys, no_kernel,
                                                                                 monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    # what a folder without write permission answers (root in a container cannot be refused for real
    # in-process; the tests above do that in child processes)
    monkeypatch.setattr(atomic, "can_write_in", lambda folder: folder != ro)
    for option in ("--output-dir", "--html-dir"):
        assert main(["report", "--only", "01", option, str(ro / "out"), "--no-progress"]) == 2
        what = "the executed notebooks" if option == "--output-dir" else "the HTML pages"
        assert one_line_error(capsys.readouterr().err) == (
            f"error: {ro / 'out'}: no write permission on the folder {ro}; expected a folder this user can "
            f"write to, for {what}")


def test_row05_a_permission_error_on_a_lock_or_temporary_file_names_what_it_stands_for(tmp_path):
    ro = tmp_path / "data"
    ro.mkdir()
    err = PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(ro / ".lanl.lock"))
    message = atomic.os_error_message(err)
    assert message.startswith(f"{ro / 'lanl'}: ")
    assert ".lock" not in message and "expected a folder this user can read and write" in message


# ---------------------------------------------------------------- rows 6, 7, 9: report checks all before a kernel

@pytest.fixture
def no_kernel(monkeypatch, data_dir, tmp_path):
    def started(*a, **k):
        raise AssertionError("a kernel was started")
    monkeypatch.setattr(report, "execute", started)
    return ["--output-dir", str(tmp_path / "nb"), "--no-html", "--no-progress"]


def _damage(shared, kind):
    stats = shared / lanl_stats.FILE_NAME
    lines = stats.read_text().splitlines(keepends=True)
    if kind == "column_missing":
        stats.write_text("".join(",".join(line.rstrip("\n").split(",")[:-1]) + "\n" for line in lines))
        return f"{stats}, line 1: header"
    if kind == "abc_at_line_100":
        fields = lines[99].split(",")
        fields[3] = "abc"
        lines[99] = ",".join(fields)
        stats.write_text("".join(lines))
        return f"{stats}, line 100, column 'time_to_failure': expected a number, got 'abc'"
    if kind == "empty":
        stats.write_text("")
        return f"{stats}: empty file"
    lab = shared / lab_runs.LAB_RUNS["p4581"]
    text = lab.read_text()
    lab.write_text(text[:len(text) // 2])  # cut mid-row
    return f"{lab}: line "


@pytest.mark.parametrize("kind", ["column_missing", "abc_at_line_100", "empty", "lab_cut_mid_row"])
def test_row06_damaged_real_material_is_one_error_before_the_kernel(shared_lanl, tmp_path, monkeypatch,
                                                                    capsys, no_kernel, kind):
    shared = tmp_path / "shared"
    shared.mkdir()
    for name in (lanl_stats.FILE_NAME, *lab_runs.LAB_RUNS.values()):  # what chapter 7 reads
        shutil.copy(shared_lanl / name, shared / name)
        (shared / name).chmod(0o644)
    monkeypatch.setenv("QUAKE_SHARED_DIR", str(shared))
    expected = _damage(shared, kind)
    assert main(["report", "--only", "07", *no_kernel]) == 2
    assert expected in one_line_error(capsys.readouterr().err)


@pytest.mark.parametrize("args, expected", [
    (["--only", "06", "-p", "top_k=0"], "parameter top_k=0 of 06_comparison.ipynb: expected an integer >= 1"),
    (["--only", "02", "-p", "cutoff_khz='text'"],
     "parameter cutoff_khz='text' of 02_spectrograms.ipynb: expected a finite number > 0 and "
     f"<= {SAMPLE_RATE_HZ / 2 / 1e3:g}"),
    (["--only", "02", "-p", "cutoff_khz=-5"], "parameter cutoff_khz=-5 of 02_spectrograms.ipynb: expected a"),
    (["--only", "02", "-p", "cutoff_khz=nan"], "parameter cutoff_khz='nan' of 02_spectrograms.ipynb"),
    (["--only", "06", "-p", "seeds=[0, 1]"], "-p seeds=[0, 1]: seeds is set by the report's own option; "
                                             "expected --seeds instead of -p seeds"),
    (["--profile", "quick", "-p", "dataset=synthetic"], "expected --dataset instead of -p dataset"),
])
def test_row07_every_parameter_is_checked_before_the_kernel(capsys, no_kernel, args, expected):
    assert main(["report", *args, *no_kernel]) == 2
    assert expected in one_line_error(capsys.readouterr().err)


def test_row07_the_rules_follow_the_parameters_cells():
    for nb in report.numbered_notebooks():
        for name, default in preflight.declared_parameters(nb).items():
            value = eval(default)  # the notebook's own default always passes its rule
            assert preflight.rule_for(name, default).accepts(value), (nb.name, name)


def test_row09_a_file_where_a_folder_belongs_is_one_line(tmp_path, capsys, no_kernel, monkeypatch):
    f = tmp_path / "FILE"
    f.write_text("")
    assert main(["report", "--only", "01", "--output-dir", str(f), "--no-html"]) == 2
    assert f"error: {f}: is a file; expected a directory for the executed notebooks" == one_line_error(
        capsys.readouterr().err)
    monkeypatch.setenv("QUAKE_DATA_DIR", str(f))
    for args in (["prepare", "quick"], ["ingest", str(train_csv(tmp_path / "train.csv")), "--no-progress"],
                 ["report", "--only", "01", "--output-dir", str(tmp_path / "nb"), "--no-html"]):
        assert main(args) == 2
        err = one_line_error(capsys.readouterr().err)
        assert err.startswith(f"error: {f}: is a file (the data folder {f}; QUAKE_DATA_DIR sets another); "
                              "expected a directory"), args
    assert f.read_text() == ""


# ---------------------------------------------------------------- row 11: Ctrl-C is one line and exit code 130

def _deliver_ctrl_c():
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])


def test_row11_ctrl_c_during_ingest_is_one_line_and_changes_nothing(data_dir, tmp_path):
    ingest(train_csv(tmp_path / "train.csv"), name="t", log=quiet)
    before = snapshot(data_dir / "t")
    code = ("import sys, time\n"
            "from quake_lib.data import store\n"
            "from quake_lib.cli import main\n"
            "append = store.RecordingWriter.append\n"
            "def slow(self, *a):\n"
            "    append(self, *a)\n"
            "    print('writing', file=sys.stderr, flush=True)\n"
            "    time.sleep(60)\n"
            "store.RecordingWriter.append = slow\n"
            "sys.exit(main(sys.argv[1:]))\n")
    src = train_csv(tmp_path / "other.csv", rows=3_000)
    # a user's shell starts the command with Ctrl-C delivered; this test process may not (an earlier test's
    # library may have ignored or blocked SIGINT), and an ignored or blocked signal stays so across exec
    p = subprocess.Popen([sys.executable, "-c", code, "ingest", str(src), "--name", "t", "--force", "--no-progress"],
                         cwd=paths.ROOT, env={**os.environ, "QUAKE_DATA_DIR": str(data_dir)},
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=_deliver_ctrl_c)
    try:
        assert p.stderr.readline() == "writing\n"
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=PROMPT_S)
    finally:
        p.kill()
    assert p.returncode == 130
    assert one_line_error(err) == "error: interrupted; nothing was changed (dataset 't' is as it was)"
    assert snapshot(data_dir / "t") == before and leftovers(data_dir) == ["t"]


def test_row11_ctrl_c_during_train_is_one_line(data_dir, capsys, monkeypatch):
    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(datasets, "check_available", interrupted)
    try:
        rc = main(["train", "--approach", "lightgbm", "--dataset", "quick", "--no-progress"])
    except KeyboardInterrupt:  # not raised on: it would stop the whole test session
        pytest.fail("the interrupt escaped main() as a traceback")
    assert rc == 130
    assert "interrupted; what was being written was discarded" in one_line_error(capsys.readouterr().err)


def test_row11_ctrl_c_inside_a_network_training_is_one_line(data_dir, capsys, monkeypatch):
    """Lightning catches the interrupt during fit and exits with status 1: it must reach main() as an interrupt."""
    def interrupted(self, *a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(QuakeModule, "training_step", interrupted)
    try:
        rc = main(["train", "--approach", "wave_cnn", "--arms", "wave_cnn_regression", "--dataset", "quick",
                   "--profile", "quick", "--folds", "2", "--no-progress"])
    except (KeyboardInterrupt, SystemExit) as e:
        pytest.fail(f"the interrupt escaped main() as {type(e).__name__}")
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    assert rc == 130
    assert "interrupted; what was being written was discarded" in one_line_error(capsys.readouterr().err)
    assert not ev.oof_path("quick", "wave_cnn_regression").exists()


# ---------------------------------------------------------------- row 12: a damaged archive's byte count is right

def _csv_text(rows: int) -> bytes:
    return (HEADER + "".join(f"{i % 97},{(rows - i) * 1e-4:.4f}\n" for i in range(rows))).encode()


def test_row12_a_truncated_gzip_says_how_many_bytes_really_decompress(tmp_path, data_dir):
    packed = gzip.compress(_csv_text(200_000))  # the reads after the header's: one 8 MiB read failing
    src = tmp_path / "train.csv.gz"
    src.write_bytes(packed[:len(packed) // 2])
    delivered = len(zlib.decompressobj(wbits=31).decompress(src.read_bytes()))
    with pytest.raises(csv_parse.CSVFormatError, match=f"the gzip data ends after {delivered:,} bytes of CSV"):
        ingest(src, name="t", log=quiet)
    assert leftovers(data_dir) == []


def test_row12_a_bad_crc_in_a_zip_gives_no_misleading_byte_count(tmp_path, data_dir):
    src = tmp_path / "train.csv.zip"
    with zipfile.ZipFile(src, "w", zipfile.ZIP_STORED) as z:
        z.writestr("train.csv", _csv_text(200_000))
    raw = bytearray(src.read_bytes())
    raw[raw.index(b"\n5,") + 1] ^= 0x04
    src.write_bytes(bytes(raw))
    with pytest.raises(csv_parse.CSVFormatError) as e:
        ingest(src, name="t", log=quiet)
    assert "the archive member train.csv is damaged (Bad CRC-32" in str(e.value) and " after " not in str(e.value)
    assert leftovers(data_dir) == []
