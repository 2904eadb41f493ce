"""A Kaggle CSV source (plain, ``.gz`` or ``.zip``) as a checked byte stream, and its content hash.

Two things every reader of a source needs, whatever the compression:

- a damaged archive (a truncated ``.gz``, a file that is not gzip at all, a zip member with a bad
  CRC) is a :class:`CSVFormatError` naming the file and what was expected, not a bare ``EOFError``
  or ``BadGzipFile`` from deep inside the decompressor;
- the identity of the content: every byte the parser reads also goes through a hash (xxh3-128, about
  10 GB/s and it releases the GIL, so it costs nothing next to parsing), the CSV text after
  decompression, so a ``.csv`` and its ``.gz`` have the same identity. :func:`content_hash` computes
  the same value without parsing.
"""
from __future__ import annotations

import gzip
import io
import os
import stat
import zipfile
import zlib
from pathlib import Path

import xxhash

HASH_NAME = "xxh3_128"
READ_BYTES = 8 << 20

# what the decompressors raise on damaged input (BadGzipFile is an OSError; other OSErrors, such as a
# failing disk, are not the file's fault and pass through)
_DAMAGED = (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile)


class CSVFormatError(ValueError):
    """A Kaggle CSV file that does not have the expected layout; the message names file and line."""

    def __init__(self, path, line: int | None, message: str):
        self.path, self.line = str(path), line
        where = f"{path}" if line is None else f"{path}, line {line}"
        super().__init__(f"{where}: {message}")


def new_hasher():
    """The hash of a source's content (see :data:`HASH_NAME`)."""
    return xxhash.xxh3_128()


def digest(hasher) -> str:
    """``'xxh3_128:<hex>'``: the name travels with the value, so a later change of hash is visible."""
    return f"{HASH_NAME}:{hasher.hexdigest()}"


class SourceStream(io.RawIOBase):
    """A binary stream over a (decompressed) source that hashes what it reads and names the file
    when the compressed data is damaged."""

    def __init__(self, raw, path: Path, kind: str, hasher=None):
        super().__init__()
        self.raw, self.path, self.kind, self.hasher = raw, Path(path), kind, hasher
        self.position = 0  # bytes of CSV text read so far

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        """Fill ``buf`` (short only at the end). Piece by piece, each piece one read of the
        decompressor, so that :attr:`position` counts exactly the bytes delivered before damage
        (a single large read loses what it had decompressed when it fails)."""
        view = memoryview(buf).cast("B")
        filled = 0
        try:
            while filled < len(view):
                n = self._read_piece(view[filled:])
                if not n:
                    break
                if self.hasher is not None:
                    self.hasher.update(view[filled:filled + n])
                filled += n
                self.position += n
        except _DAMAGED as e:
            raise CSVFormatError(self.path, None, self._damaged(e)) from None
        return filled

    def _read_piece(self, view) -> int:
        read1 = getattr(self.raw, "readinto1", None)
        return (read1 or self.raw.readinto)(view) or 0

    def _damaged(self, e: Exception) -> str:
        reason = str(e) or type(e).__name__
        after = f"after {self.position:,} bytes of CSV"
        if self.kind == "gzip":
            if isinstance(e, gzip.BadGzipFile) and self.position == 0:
                return (f"not a gzip file ({reason}); expected gzip-compressed CSV "
                        "(a plain CSV file must not end in .gz)")
            if isinstance(e, EOFError):
                return (f"the gzip data ends {after} ({reason}): the file is truncated; "
                        "expected a complete .gz file, download or copy it again")
        if self.kind.startswith("zip"):
            # no byte count: a bad CRC is only seen at the member's end, whatever byte is wrong
            return (f"the archive member {self.kind[4:]} is damaged ({reason}); "
                    "expected an intact zip archive, download or copy it again")
        return f"the {self.kind} data is damaged {after} ({reason}); expected an intact file"

    def close(self) -> None:
        if not self.closed:
            self.raw.close()
        super().close()


def open_source(path: Path, hasher=None) -> tuple[SourceStream, int | None]:
    """Open a plain, ``.gz`` or ``.zip`` CSV as a binary stream; return it and its (uncompressed)
    size if known. ``hasher`` (:func:`new_hasher`) is fed every byte read."""
    path = Path(path)
    check_regular_file(path)
    suffix = path.suffix.lower()
    if suffix == ".zip":
        try:
            zf = zipfile.ZipFile(path)
        except zipfile.BadZipFile as e:
            raise CSVFormatError(path, None, f"not a valid zip archive ({e})") from None
        csvs = [i for i in zf.infolist() if i.filename.lower().endswith(".csv") and not i.is_dir()]
        if not csvs:
            names = ", ".join(i.filename for i in zf.infolist()) or "nothing"
            zf.close()
            raise CSVFormatError(path, None, f"the zip archive holds no .csv file (found: {names})")
        if len(csvs) > 1:
            zf.close()
            raise CSVFormatError(path, None, "the zip archive holds several .csv files ("
                                 + ", ".join(i.filename for i in csvs) + "); expected one")
        try:
            member = zf.open(csvs[0])
        except (zipfile.BadZipFile, NotImplementedError) as e:
            zf.close()
            raise CSVFormatError(path, None, f"cannot read {csvs[0].filename} in the zip archive ({e})") from None
        # the member stream does not own the archive: close both together
        return SourceStream(_Closing(member, zf), path, f"zip:{csvs[0].filename}", hasher), csvs[0].file_size
    if suffix == ".gz":
        return SourceStream(gzip.open(path, "rb"), path, "gzip", hasher), None
    return SourceStream(open(path, "rb", buffering=0), path, "plain", hasher), path.stat().st_size


_KINDS = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a named pipe"),
          (stat.S_ISSOCK, "a socket"))


def check_regular_file(path: Path, expected: str = "a CSV file (plain, .zip or .gz)") -> os.stat_result:
    """``path``'s stat if it is a regular file (a link to one included); else an error naming what
    it is: a device such as ``/dev/zero`` never ends and a pipe may never answer, so neither is read."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        link = f" (a link to {os.readlink(path)}, which does not exist)" if path.is_symlink() else ""
        raise FileNotFoundError(f"{path}: no such file{link}; expected {expected}") from None
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(f"{path}: is a directory; expected {expected}")
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a regular file")
        link = f" (a link to {path.resolve()})" if path.is_symlink() else ""
        raise CSVFormatError(path, None, f"is {kind}{link}, not a regular file; expected {expected}")
    return st


class _Closing:
    """``stream`` whose ``close`` also closes ``owner``."""

    def __init__(self, stream, owner):
        self.stream, self.owner = stream, owner

    def readinto(self, buf) -> int:
        return self.stream.readinto(buf)

    def readinto1(self, buf) -> int:
        return self.stream.readinto1(buf)

    def close(self) -> None:
        self.stream.close()
        self.owner.close()


def size_hint(path: Path) -> int | None:
    """The uncompressed size of a source if it is known without reading it (None for ``.gz``)."""
    stream, size = open_source(path)
    stream.close()
    return size


def content_hash(path: Path) -> str:
    """The hash of a source's CSV text, as :func:`quake_lib.data.csv_parse.iter_chunks` computes
    it while parsing (one streaming read, no parsing)."""
    hasher = new_hasher()
    stream, _ = open_source(path, hasher)
    buf = bytearray(READ_BYTES)
    try:
        while stream.readinto(buf):
            pass
    finally:
        stream.close()
    return digest(hasher)


def file_hash(path: Path) -> str:
    """The hash of a file's bytes as stored (no decompression): the identity of a saved model file."""
    hasher = new_hasher()
    with open(path, "rb") as f:
        while block := f.read(READ_BYTES):
            hasher.update(block)
    return digest(hasher)
