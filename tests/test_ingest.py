"""Ingest: exact values, streaming across chunk boundaries, atomic output, and every bad input."""
import gzip
import json
import zipfile

import numpy as np
import pytest
from conftest import leftovers, make_recording_arrays

from quake_lib.data import csv_parse, kaggle, store
from quake_lib.data.ingest import ingest
from quake_lib.data.recording import Recording

HEADER = "acoustic_data,time_to_failure\n"


def quiet(*_):
    pass


def test_roundtrip_exact_values_small_chunks(data_dir, tmp_path):
    signal, ttf = make_recording_arrays()
    signal[:3] = [-32768, 32767, 0]
    src = tmp_path / "train.csv"
    kaggle.write_train_csv(src, signal, ttf)
    lines = src.read_text().splitlines()[1:]
    expect_sig = np.array([int(row.split(",")[0]) for row in lines], dtype=np.int16)
    expect_ttf = np.array([np.float32(float(row.split(",")[1])) for row in lines])
    # 256-byte chunks put a chunk boundary inside many rows and inside the header's tail
    meta = ingest(src, name="t", chunk_bytes=256, log=quiet)
    rec = Recording.open("t")
    assert meta["n_rows"] == len(signal) == len(rec)
    np.testing.assert_array_equal(rec.signal, expect_sig)
    np.testing.assert_array_equal(rec.ttf, expect_ttf)
    assert np.abs(rec.ttf - ttf).max() < 1e-6
    assert rec.signal.dtype == np.int16 and rec.ttf.dtype == np.float32


def test_cycles_table(data_dir, tmp_path):
    signal, ttf = make_recording_arrays((3000, 5000, 4000))
    src = tmp_path / "train.csv"
    kaggle.write_train_csv(src, signal, ttf)
    ingest(src, name="t", log=quiet)
    cyc = Recording.open("t").cycles
    assert cyc["first_row"].tolist() == [0, 3000, 8000]
    assert cyc["last_row"].tolist() == [2999, 7999, 11999]
    assert cyc["complete"].tolist() == [False, True, False]
    assert cyc["duration_s"].tolist() == pytest.approx([2.999, 4.999, 3.999], abs=1e-5)


def test_memory_map_open_reads_nothing(data_dir, tmp_path):
    signal, ttf = make_recording_arrays()
    src = tmp_path / "train.csv"
    kaggle.write_train_csv(src, signal, ttf)
    ingest(src, name="t", log=quiet)
    rec = Recording.open("t")
    assert isinstance(rec.signal, np.memmap) and isinstance(rec.ttf, np.memmap)


@pytest.mark.parametrize("fmt", ["gz", "zip"])
def test_compressed_sources(data_dir, tmp_path, fmt):
    signal, ttf = make_recording_arrays()
    plain = tmp_path / "train.csv"
    kaggle.write_train_csv(plain, signal, ttf)
    if fmt == "gz":
        src = tmp_path / "train.csv.gz"
        src.write_bytes(gzip.compress(plain.read_bytes()))
    else:
        src = tmp_path / "train.csv.zip"
        with zipfile.ZipFile(src, "w", zipfile.ZIP_DEFLATED) as z:
            z.write(plain, "train.csv")
    ingest(plain, name="plain", log=quiet)
    ingest(src, name="packed", chunk_bytes=1000, log=quiet)
    a, b = Recording.open("plain"), Recording.open("packed")
    np.testing.assert_array_equal(a.signal, b.signal)
    np.testing.assert_array_equal(a.ttf, b.ttf)


def test_second_run_is_a_noop_and_says_so(data_dir, write_csv):
    src = write_csv(HEADER + "1,2.0\n3,1.5\n")
    said = []
    first = ingest(src, name="t", log=said.append)
    mtime = (data_dir / "t" / store.SIGNAL_FILE).stat().st_mtime_ns
    second = ingest(src, name="t", log=said.append)
    assert "skipped" not in first and second["skipped"] is True
    assert "nothing to do" in said[-1]
    assert (data_dir / "t" / store.SIGNAL_FILE).stat().st_mtime_ns == mtime
    src.write_text(HEADER + "1,2.0\n3,1.5\n4,1.0\n")  # a changed source is ingested again
    assert ingest(src, name="t", log=quiet)["n_rows"] == 3


def test_rerun_after_crash_just_works(data_dir, write_csv):
    src = write_csv(HEADER + "1,2.0\n3,1.5\n")
    stale = data_dir / ".t.partial-99999"
    stale.mkdir(parents=True)
    (stale / store.SIGNAL_FILE).write_bytes(b"half written")
    ingest(src, name="t", log=quiet)
    assert leftovers(data_dir) == ["t"]
    assert Recording.open("t").signal.tolist() == [1, 3]


def test_meta(data_dir, write_csv):
    src = write_csv(HEADER + "1,2.0\n3,1.5\n")
    ingest(src, name="t", log=quiet)
    meta = json.loads((data_dir / "t" / store.META_FILE).read_text())
    assert meta["format_version"] == store.FORMAT_VERSION
    assert meta["n_rows"] == 2
    assert meta["source"]["size"] == src.stat().st_size


def test_leading_blank_line_and_crlf_accepted(data_dir, write_csv):
    src = write_csv("\n" + HEADER.replace("\n", "\r\n") + "-5,1.25\r\n7,1.0\r\n\n")
    ingest(src, name="t", log=quiet)
    rec = Recording.open("t")
    assert rec.signal.tolist() == [-5, 7] and rec.ttf.tolist() == [1.25, 1.0]


def test_last_line_without_newline_is_fine_when_complete(data_dir, write_csv):
    src = write_csv(HEADER + "1,2.0\n3,1.5")
    ingest(src, name="t", log=quiet)
    assert Recording.open("t").ttf.tolist() == [2.0, 1.5]


def test_exponent_and_signs(data_dir, write_csv):
    src = write_csv(HEADER + "+1,9.55e-05\n-2,1E1\n3,0.0000001234\n")
    ingest(src, name="t", log=quiet)
    rec = Recording.open("t")
    assert rec.signal.tolist() == [1, -2, 3]
    np.testing.assert_array_equal(rec.ttf, np.float32([9.55e-05, 10.0, 1.234e-7]))


BAD = [
    ("", None, "the file is empty"),
    ("\n\n", None, "the file is empty"),
    ("acoustic,ttf\n1,2\n", 1, "expected the header 'acoustic_data,time_to_failure'"),
    ("12,1.5\n13,1.4\n", 1, "the header is missing"),
    ("acoustic_data\n12\n", 1, "expected the header"),
    (HEADER, None, "no data rows after the header"),
    (HEADER + "1,2.0\nabc,1.9\n", 3, "acoustic_data 'abc' is not an integer"),
    (HEADER + "1,2.0\n2,oops\n", 3, "time_to_failure 'oops' is not a number"),
    (HEADER + "1,2.0\n,1.9\n", 3, "acoustic_data is empty"),
    (HEADER + "1,2.0\n5,\n", 3, "time_to_failure is empty"),
    (HEADER + "1,2.0\n40000,1.9\n", 3, "outside the int16 range"),
    (HEADER + "1,2.0\n-32769,1.9\n", 3, "outside the int16 range"),
    (HEADER + "1,2.0\n1.5,1.9\n", 3, "acoustic_data '1.5' is not an integer"),
    (HEADER + "1,2.0\n3,nan\n", 3, "time_to_failure is NaN"),
    (HEADER + "1,2.0\n3,NaN\n", 3, "time_to_failure is NaN"),
    (HEADER + "1,2.0\n3,inf\n", 3, "infinite"),
    (HEADER + "1,2.0\n3,1.9,7\n", 3, "expected 2 fields"),
    (HEADER + "1,2.0\n3\n4,1.8\n", 3, "expected 2 fields"),
    (HEADER + "1,2.0\n\n4,1.8\n", 3, "blank line inside the data"),
    (HEADER + "1,2.0\n3,1.9\n4", 4, "the file looks truncated"),
    (HEADER + "1,2.0\n3,1.9\n4,", 4, "the file looks truncated"),
    (HEADER + "1,2.0\n3, 1.9\n", 3, "surrounding spaces"),
]


@pytest.mark.parametrize("text,line,message", BAD, ids=[b[2][:30] for b in BAD])
def test_bad_input_names_file_and_line_and_leaves_nothing(data_dir, write_csv, text, line, message):
    src = write_csv(text)
    with pytest.raises(csv_parse.CSVFormatError) as err:
        ingest(src, name="t", log=quiet)
    text = str(err.value)
    assert str(src) in text and message in text
    assert err.value.line == line
    if line is not None:
        assert f"line {line}:" in text
    assert leftovers(data_dir) == []


def test_bad_line_deep_in_a_big_file_has_the_right_line_number(data_dir, tmp_path):
    rows = [f"{i % 100},{10 - i * 1e-5:.10f}" for i in range(50_000)]
    rows[43_210] = "7,not-a-number"
    src = tmp_path / "train.csv"
    src.write_text("\n" + HEADER + "\n".join(rows) + "\n")
    with pytest.raises(csv_parse.CSVFormatError) as err:
        ingest(src, name="t", chunk_bytes=4096, log=quiet)
    assert err.value.line == 43_210 + 3  # blank line, header, then 1-based rows
    assert leftovers(data_dir) == []


def test_failed_reingest_keeps_the_good_dataset(data_dir, write_csv):
    good = write_csv(HEADER + "1,2.0\n", name="good.csv")
    ingest(good, name="t", log=quiet)
    bad = write_csv(HEADER + "1,2.0\nx,1\n", name="bad.csv")
    with pytest.raises(csv_parse.CSVFormatError):
        ingest(bad, name="t", log=quiet)
    assert leftovers(data_dir) == ["t"]
    assert Recording.open("t").signal.tolist() == [1]


def test_missing_file(data_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv: no such file"):
        ingest(tmp_path / "nope.csv", name="t", log=quiet)
    assert leftovers(data_dir) == []


def test_zip_without_csv(data_dir, tmp_path):
    src = tmp_path / "train.csv.zip"
    with zipfile.ZipFile(src, "w") as z:
        z.writestr("readme.txt", "no data here")
    with pytest.raises(csv_parse.CSVFormatError,
                       match=r"train.csv.zip: the zip archive holds no .csv file \(found: readme.txt\)"):
        ingest(src, name="t", log=quiet)
    assert leftovers(data_dir) == []


def test_not_a_zip(data_dir, write_csv):
    src = write_csv("this is not a zip", name="train.csv.zip")
    with pytest.raises(csv_parse.CSVFormatError, match="not a valid zip archive"):
        ingest(src, name="t", log=quiet)


def test_bad_dataset_name(data_dir, write_csv):
    src = write_csv(HEADER + "1,2.0\n")
    with pytest.raises(ValueError, match="dataset name '../evil' is not valid"):
        ingest(src, name="../evil", log=quiet)


def test_cli_ingest_and_error_exit_code(data_dir, write_csv, capsys):
    from quake_lib.cli import main
    src = write_csv(HEADER + "1,2.0\n3,1.5\n")
    assert main(["ingest", str(src), "--name", "t", "--no-progress"]) == 0
    assert "ingested 2 rows" in capsys.readouterr().out
    bad = write_csv(HEADER + "1,2.0\n3,x\n", name="bad.csv")
    assert main(["ingest", str(bad), "--name", "u"]) == 2
    assert f"{bad}, line 3: time_to_failure 'x' is not a number" in capsys.readouterr().err


def test_real_excerpt_reproduces_exact_values(data_dir, shared_lanl):
    src = shared_lanl / "train_head_150k.csv"  # starts with a blank line, exactly as found
    meta = ingest(src, name="lanl", log=quiet)
    rec = Recording.open("lanl")
    lines = src.read_text().split("\n")
    assert lines[0] == "" and lines[1] == HEADER.strip()
    rows = [line.split(",") for line in lines[2:] if line]
    assert meta["n_rows"] == len(rows) == 149_999
    np.testing.assert_array_equal(rec.signal, np.array([int(a) for a, _ in rows], dtype=np.int16))
    np.testing.assert_array_equal(rec.ttf, np.array([np.float32(float(t)) for _, t in rows]))
    assert rec.signal[:3].tolist() == [12, 6, 8] and rec.ttf[0] == np.float32(1.4690999832)
