"""Fast, strict, streaming parser for the Kaggle CSV files.

Two layouts exist: ``train.csv`` (``acoustic_data,time_to_failure``) and the test segments
(``acoustic_data``). The file is read in byte chunks cut at a newline, so memory stays bounded
whatever the file size; each chunk is parsed in one pass by a numba kernel (about 2x pyarrow and
10x+ the old ``pd.read_csv`` + ``np.savez_compressed`` route). The kernel only reports *where* a row
is bad; :func:`diagnose` then explains *what* is wrong with that line in plain Python, so every error
names the file, the 1-based line number and what was expected.

Numbers: ``acoustic_data`` is an optionally signed integer that must fit int16. ``time_to_failure`` is
a decimal (optional sign, fraction, exponent). It is parsed as an exact integer mantissa scaled by a
power of ten, which is the correctly rounded double for up to 15 significant digits (Kaggle's have
at most 11) and then rounded to float32, exactly what ``np.float32(float(text))`` gives. The kernel
itself refuses a target that is negative (a false quake) or does not fit float32 (``1e39`` would be
stored as infinity): no second pass over the parsed values.

Opening the file (plain, ``.gz``, ``.zip``), damaged archives and the content hash computed while
parsing are :mod:`quake_lib.data.source`'s.
"""
from __future__ import annotations

import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numba
import numpy as np

from .source import CSVFormatError, open_source

TRAIN_COLUMNS = ("acoustic_data", "time_to_failure")
TEST_COLUMNS = ("acoustic_data",)
CHUNK_BYTES = 8 << 20
MAX_LINE_BYTES = 1 << 20  # ~600k rows: big enough to amortise the calls, small enough to stay flat in RAM

_POW10 = np.array([10.0 ** k for k in range(23)])
# Doubles from here up round to infinity in float32 (halfway between its largest value and 2**128).
FLOAT32_OVERFLOW = 3.4028235677973366e38


@numba.njit(cache=True, nogil=True)
def _parse_chunk(buf, two_columns, signal, ttf, pow10):  # pragma: no cover - compiled
    """Parse whole lines of ``buf``; return (rows parsed, byte offset of the first bad line or -1)."""
    n = len(buf)
    i = 0
    row = 0
    while i < n:
        start = i
        neg = False
        if buf[i] == 45 or buf[i] == 43:  # '-' or '+'
            neg = buf[i] == 45
            i += 1
        v = 0
        nd = 0
        while i < n and 48 <= buf[i] <= 57 and nd < 7:
            v = v * 10 + (buf[i] - 48)
            i += 1
            nd += 1
        if neg:
            v = -v
        if nd == 0 or nd == 7 or v < -32768 or v > 32767:
            return row, start
        signal[row] = v
        if two_columns:
            if i >= n or buf[i] != 44:  # ','
                return row, start
            i += 1
            neg = False
            if i < n and (buf[i] == 45 or buf[i] == 43):
                neg = buf[i] == 45
                i += 1
            m = 0
            nd = 0
            dec = 0
            dot = False
            while i < n:
                c = buf[i]
                if 48 <= c <= 57:
                    if nd < 18:
                        m = m * 10 + (c - 48)
                        nd += 1
                        if dot:
                            dec += 1
                    elif not dot:
                        dec -= 1  # too many integer digits: scale instead of overflowing
                elif c == 46 and not dot:
                    dot = True
                else:
                    break
                i += 1
            if nd == 0:
                return row, start
            e = 0
            if i < n and (buf[i] == 101 or buf[i] == 69):  # 'e' or 'E'
                i += 1
                eneg = False
                if i < n and (buf[i] == 45 or buf[i] == 43):
                    eneg = buf[i] == 45
                    i += 1
                ne = 0
                while i < n and 48 <= buf[i] <= 57 and ne < 4:
                    e = e * 10 + (buf[i] - 48)
                    i += 1
                    ne += 1
                if ne == 0 or ne == 4:
                    return row, start
                if eneg:
                    e = -e
            e -= dec
            if m == 0:
                x = 0.0  # not 0 * 10**400 = NaN
            elif e < -22 or e > 22:
                x = m * 10.0 ** e
            elif e < 0:
                x = m / pow10[-e]
            else:
                x = m * pow10[e]
            # a target must be finite in float32 and not negative ("-0" is zero); diagnose() says which
            if not x < FLOAT32_OVERFLOW or (neg and x > 0.0):
                return row, start
            ttf[row] = x
        if i < n and buf[i] == 13:  # '\r' of a Windows line ending
            i += 1
        if i >= n or buf[i] != 10:
            return row, start
        i += 1
        row += 1
    return row, -1


def diagnose(text: str, columns: tuple[str, ...]) -> str:
    """Explain in words why one data line is not ``columns`` (called only on lines the kernel refused)."""
    line = text.rstrip("\r\n")
    if not line.strip():
        return "blank line inside the data; expected " + ",".join(columns)
    fields = line.split(",")
    if len(fields) != len(columns):
        return (f"expected {len(columns)} field{'s' if len(columns) > 1 else ''} "
                f"({','.join(columns)}), found {len(fields)}: {line[:80]!r}")
    for name, field in zip(columns, fields):
        f = field.strip()
        if f == "":
            return f"{name} is empty; expected a number"
        if name == "acoustic_data":
            try:
                v = int(f)
            except ValueError:
                return f"{name} {f[:40]!r} is not an integer"
            if not -32768 <= v <= 32767:
                return f"{name} {v} is outside the int16 range -32768..32767"
            if f != field:
                return f"{name} {field!r} has surrounding spaces"
        else:
            try:
                x = float(f)
            except ValueError:
                return f"{name} {f[:40]!r} is not a number"
            if x != x:
                return f"{name} is NaN; every row needs a finite target"
            if x in (float("inf"), float("-inf")):
                return f"{name} {f[:40]!r} is infinite; every row needs a finite target"
            if abs(x) >= FLOAT32_OVERFLOW:
                return (f"{name} {f[:40]!r} does not fit float32 (largest about 3.4e38, it would be stored as "
                        "infinity); every row needs a finite target")
            if x < 0:
                return (f"{name} {f[:40]!r} is negative; expected the seconds until the next quake, >= 0 "
                        "(a negative value would mark a false quake)")
            if f != field:
                return f"{name} {field!r} has surrounding spaces"
            return f"{name} {f[:40]!r} is not a plain decimal number (digits, '.', optional exponent)"
    return f"could not parse {line[:80]!r}"


@dataclass
class Chunk:
    signal: np.ndarray
    ttf: np.ndarray | None
    first_line: int  # 1-based line number of the chunk's first row
    bytes_read: int  # position in the (uncompressed) stream after this chunk


def _unquote(name: str) -> str:
    """``"name"`` -> ``name``; a lone quote stays and makes the header wrong, as it is."""
    return name[1:-1] if len(name) >= 2 and name[0] == name[-1] == '"' else name


def _read_header(stream, path, columns) -> tuple[bytes, int]:
    """Skip leading blank lines, check the header; return the bytes read past it and its line number."""
    buf = b""
    line_no = 0
    while True:
        nl = buf.find(b"\n")
        if nl < 0:
            if len(buf) > MAX_LINE_BYTES:  # never hold a whole newline-free file (or an endless stream)
                raise CSVFormatError(path, line_no + 1, f"no line break in the first {MAX_LINE_BYTES:,} bytes; "
                                     f"expected the header {','.join(columns)!r} on a line of its own")
            more = stream.read(1 << 16)
            if not more:
                if buf.strip():
                    nl = len(buf)
                    buf += b"\n"
                else:
                    raise CSVFormatError(path, None, "the file is empty; expected the header "
                                         + repr(",".join(columns)) + " followed by data rows")
            buf += more
            continue
        line_no += 1
        raw, buf = buf[:nl], buf[nl + 1:]
        text = raw.decode("utf-8", "replace").lstrip("\ufeff").strip()
        if not text:
            continue  # the real train_head_150k.csv starts with a blank line: accept it
        names = tuple(_unquote(t.strip()) for t in text.split(","))
        if names != columns:
            hint = " (the header is missing)" if names and names[0].lstrip("+-").isdigit() else ""
            raise CSVFormatError(path, line_no, f"expected the header {','.join(columns)!r}, "
                                 f"found {text[:80]!r}{hint}")
        return buf, line_no


def iter_chunks(path: Path, columns: tuple[str, ...] = TRAIN_COLUMNS,
                chunk_bytes: int = CHUNK_BYTES, hasher=None, copy: bool = True) -> Iterator[Chunk]:
    """Yield parsed chunks of a Kaggle CSV. Raises :class:`CSVFormatError` at the first bad line.

    ``hasher`` (:func:`quake_lib.data.source.new_hasher`) is fed every byte of the file's CSV text by
    the reader thread, so the content hash is complete once the last chunk has been yielded.
    ``copy=False`` (a consumer that writes each chunk away at once, like the ingest) yields the
    parser's own buffers, valid only until the next chunk is asked for: no copy of every value.

    Memory is fixed up front (a few buffers of ``chunk_bytes``) and reused, so it stays flat
    whatever the file size. A background thread reads (and decompresses) the next block while the
    kernel parses the current one, split in two halves parsed on two threads (the kernel releases
    the GIL).
    """
    two = len(columns) == 2
    stream, _ = open_source(path, hasher)
    try:
        rest, line_no = _read_header(stream, path, columns)
    except BaseException:
        stream.close()
        raise
    pool: queue.Queue = queue.Queue()
    for _ in range(3):
        pool.put(bytearray(chunk_bytes))
    filled: queue.Queue = queue.Queue()
    stop = threading.Event()

    def reader():
        try:
            while not stop.is_set():
                buf = pool.get()
                n = stream.readinto(buf)  # plain, gzip and zip streams all read into a buffer
                filled.put((buf, n))
                if not n:
                    return
        except BaseException as e:  # surfaces in the consumer
            filled.put((e, 0))

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    helper = ThreadPoolExecutor(max_workers=1)
    work = bytearray(max(chunk_bytes, len(rest)) + MAX_LINE_BYTES + 2)
    work[:len(rest)] = rest
    have = len(rest)  # bytes of `work` holding data not parsed yet
    cap = len(work) // 2 + 1  # a data row takes at least 2 bytes
    signal = np.empty(cap, np.int16)
    ttf = np.empty(cap if two else 1, np.float32)
    rows = pos = 0
    try:
        eof = False
        while not eof:
            buf, n = filled.get()
            if isinstance(buf, BaseException):
                raise buf
            if n:
                if have + n > len(work):
                    raise CSVFormatError(path, line_no + rows + 1, f"no line break in "
                                         f"{MAX_LINE_BYTES:,} bytes: this is not a Kaggle CSV file")
                work[have:have + n] = memoryview(buf)[:n]
                pool.put(buf)
                have += n
                core = work.rfind(b"\n", 0, have) + 1
                while core > 0 and work[core - 1] in b"\r\n":
                    core -= 1
                if core == 0:
                    continue  # no complete row yet (or blank lines only): read on
                # Trailing blank lines stay behind: an error if data follows, ignored at the end.
                end = work.find(b"\n", core) + 1
                truncated = False
            else:
                eof = True
                tail = bytes(work[:have])
                if not tail.strip():
                    continue
                truncated = not tail.endswith(b"\n")
                tail = tail.rstrip(b" \t\r\n") + b"\n"  # trailing blank lines are harmless
                work[:len(tail)] = tail
                have = end = len(tail)
            data = np.frombuffer(work, np.uint8, count=end)
            # cut just after a newline near the middle (small blocks are not worth a second thread)
            mid = work.find(b"\n", end // 2, end) + 1 if end > 1 << 16 else 0
            second = None
            if mid:  # parse the second half on the helper thread while this one does the first
                second = helper.submit(_parse_chunk, data[mid:], two, signal[cap // 2:],
                                       ttf[cap // 2:] if two else ttf, _POW10)
            n1, bad = _parse_chunk(data[:mid] if mid else data, two, signal, ttf, _POW10)
            n2, bad2 = second.result() if second else (0, -1)
            if bad < 0 and bad2 >= 0:
                n1, bad = n1 + n2, mid + bad2
            if bad >= 0:
                stop_at = work.find(b"\n", bad, end)
                text = bytes(work[bad:stop_at if stop_at >= 0 else end]).decode("utf-8", "replace")
                msg = diagnose(text, columns)
                if eof and truncated and stop_at == end - 1:
                    msg += " (the last line has no newline: the file looks truncated)"
                raise CSVFormatError(path, line_no + rows + n1 + 1, msg)
            first = line_no + rows + 1
            if copy:
                sig = np.concatenate([signal[:n1], signal[cap // 2:cap // 2 + n2]])
                tt = np.concatenate([ttf[:n1], ttf[cap // 2:cap // 2 + n2]]) if two else None
                yield Chunk(sig, tt, first, pos + end)
            else:  # the two halves as they are, views into buffers that the next block overwrites
                yield Chunk(signal[:n1], ttf[:n1] if two else None, first, pos + (mid or end))
                if n2:
                    yield Chunk(signal[cap // 2:cap // 2 + n2], ttf[cap // 2:cap // 2 + n2] if two else None,
                                first + n1, pos + end)
            pos += end
            rows += n1 + n2
            work[:have - end] = work[end:have]
            have -= end
        if rows == 0:
            raise CSVFormatError(path, None, "no data rows after the header")
    finally:
        stop.set()
        helper.shutdown(wait=True)
        while t.is_alive():  # unblock a reader waiting for a free buffer
            pool.put(bytearray(0))
            t.join(timeout=0.05)
        stream.close()
