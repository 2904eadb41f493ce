"""The CSV parser against pandas, property-based (hypothesis): random valid Kaggle files parse to the
arrays pandas reads (``np.float32(float(text))`` for the target); a random single-byte change gives
either the arrays pandas reads from the changed file, or an error naming the line of the change.

Deterministic (``derandomize``): the same examples on every run and in CI; raise ``max_examples``
locally to search harder."""
import io
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quake_lib.data import csv_parse, source

HEADER = b"acoustic_data,time_to_failure"
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

digits = st.text("0123456789", min_size=1, max_size=6)


@st.composite
def ttf_text(draw) -> str:
    """A non-negative decimal as Kaggle writes it (``1.4690999832``) or in other valid spellings."""
    whole = str(draw(st.integers(0, 16)))
    frac = draw(st.text("0123456789", min_size=0, max_size=10))
    form = draw(st.sampled_from(["plain", "plain", "no_whole", "exponent", "integer"]))
    if form == "integer" or (form == "plain" and not frac):
        return whole
    if form == "no_whole":
        return "." + (frac or "5")
    if form == "exponent":
        e = draw(st.sampled_from(["e", "E"])) + draw(st.sampled_from(["", "-", "+"])) + str(draw(st.integers(0, 12)))
        return f"{whole}.{frac}{e}" if frac else f"{whole}{e}"
    return f"{whole}.{frac}"


@st.composite
def kaggle_file(draw) -> bytes:
    rows = draw(st.lists(st.tuples(st.integers(-32768, 32767), ttf_text(), st.booleans()), min_size=1, max_size=40))
    eol = draw(st.sampled_from([b"\n", b"\r\n"]))
    lines = [HEADER] + [(f"+{a}" if plus and a >= 0 else str(a)).encode() + b"," + t.encode() for a, t, plus in rows]
    text = eol.join(lines)
    if draw(st.booleans()):
        text += eol  # the last line may or may not end in a newline
    return (eol if draw(st.booleans()) else b"") + text  # the real excerpt starts with a blank line


def parse(data: bytes, chunk_bytes: int):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "train.csv"
        path.write_bytes(data)
        hasher = source.new_hasher()
        # copy=False (the ingest's way) yields buffers valid until the next chunk: copy them here
        chunks = [(c.signal.copy(), c.ttf.copy()) for c in
                  csv_parse.iter_chunks(path, csv_parse.TRAIN_COLUMNS, chunk_bytes, hasher=hasher, copy=False)]
        assert source.digest(hasher) == source.content_hash(path)  # every byte was hashed, once
    return np.concatenate([s for s, _ in chunks]), np.concatenate([t for _, t in chunks])


# pandas 3 parses floats correctly rounded by default (and deprecates the option); pandas 2 needs it
EXACT = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}


def pandas_reads(data: bytes):
    df = pd.read_csv(io.BytesIO(data), dtype={0: np.int64}, **EXACT)
    assert df.shape[1] == 2  # by position: a header spelled " acoustic_data" is the same column
    return df.iloc[:, 0].to_numpy(), df.iloc[:, 1].to_numpy(np.float64).astype(np.float32)


CHUNKS = st.sampled_from([64, 300, 4096, csv_parse.CHUNK_BYTES])


@SETTINGS
@given(kaggle_file(), CHUNKS)
def test_valid_files_parse_exactly_as_pandas_reads_them(data, chunk_bytes):
    signal, ttf = parse(data, chunk_bytes)
    want_signal, want_ttf = pandas_reads(data)
    np.testing.assert_array_equal(signal, want_signal)
    np.testing.assert_array_equal(ttf, want_ttf)
    assert signal.dtype == np.int16 and ttf.dtype == np.float32


@SETTINGS
@given(kaggle_file(), st.data(), CHUNKS)
def test_a_single_changed_byte_parses_as_pandas_or_names_its_line(data, pick, chunk_bytes):
    pos = pick.draw(st.integers(0, len(data) - 1), label="position")
    new = pick.draw(st.integers(0, 255).filter(lambda b: b != data[pos]), label="byte")
    changed = data[:pos] + bytes([new]) + data[pos + 1:]
    line = data[:pos].count(b"\n") + 1  # 1-based line of the changed byte
    try:
        signal, ttf = parse(changed, chunk_bytes)
    except csv_parse.CSVFormatError as e:
        # a new line break splits the line: the error may be on its second half
        allowed = {line, line + 1} if new == ord("\n") else {line}
        assert e.line in allowed, f"error on line {e.line}, changed line {line}: {e}"
        assert str(e).startswith(f"{e.path}, line {e.line}: ")
        return
    want_signal, want_ttf = pandas_reads(changed)
    np.testing.assert_array_equal(signal, want_signal)
    np.testing.assert_array_equal(ttf, want_ttf)
