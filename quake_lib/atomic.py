"""Writing files so that a crash never leaves a half-written one: write a hidden sibling, then rename.

``os.replace`` is atomic on one filesystem, so a reader sees the old file or the new one, never a
mix; the temporary name carries the process id, so two processes writing the same file do not
write into each other's temporary file.

Folders (a prepared recording, a training run's fold models) follow the same pattern with
:func:`hidden_sibling` and :func:`replace_dir`; what a killed process leaves behind is removed by
:func:`clean_stale`, and only that: a sibling whose owner process is still running is left alone.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from . import paths


class LockBusyError(RuntimeError):
    """Another process holds the lock (raised only when not waiting); the message says who and where."""


# the tags of hidden siblings: work in progress, and the previous version during a swap
STALE_TAGS = ("partial", "old")


@contextlib.contextmanager
def atomic_path(path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write; on success it replaces ``path``, on an error
    it is removed. ``suffix`` keeps an extension for writers that infer the format from the name
    (``fig.savefig``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        if e.errno not in _NO_SPACE or isinstance(e, NoSpaceError):
            raise
        # the writer's own error names no file (or the temporary one): name the file being written
        raise NoSpaceError(path, written=tmp.stat().st_size if tmp.exists() else None) from e
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path, text: str) -> Path:
    """``path.write_text(text)`` (UTF-8), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_csv(df, path, **to_csv) -> Path:
    """``df.to_csv(path, index=False, **to_csv)``, atomically."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, **to_csv)
    return Path(path)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (signal 0 checks without sending anything)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, it is another user's
        return True
    return True


def hidden_sibling(path, tag: str) -> Path:
    """``.NAME.TAG-PID`` beside ``path``: this process's work in progress (``partial``) or the
    version being replaced (``old``)."""
    path = Path(path)
    return path.parent / f".{path.name}.{tag}-{os.getpid()}"


def clean_stale(path, tags=STALE_TAGS) -> list[Path]:
    """Remove the hidden siblings of ``path`` that a killed process left behind; return them.

    Only exact names count (``.NAME.partial-PID`` for ``NAME``, never ``.NAME.v2.partial-PID``), and
    only when process PID is gone: another process's work in progress is never touched. A pid reused
    by an unrelated process keeps its folder until a later run: a leftover, never a loss. An ``old``
    version whose replacement never arrived (a crash between the two renames of :func:`replace_dir`)
    is put back at ``path`` rather than removed.
    """
    path = Path(path)
    removed = []
    for tag, p in stale_siblings(path, tags):
        if tag == "old" and not path.exists():
            os.rename(p, path)
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def stale_siblings(path, tags=STALE_TAGS) -> list[tuple[str, Path]]:
    """``(tag, sibling)`` for each hidden sibling ``.NAME.TAG-PID`` of ``path`` whose process PID is
    gone (exact names only; never this process's own)."""
    path = Path(path)
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.({'|'.join(map(re.escape, tags))})-(\d+)$")
    if not path.parent.is_dir():
        return []
    found = []
    for p in sorted(path.parent.iterdir()):
        m = pattern.match(p.name)
        if m and int(m.group(2)) != os.getpid() and not pid_alive(int(m.group(2))):
            found.append((m.group(1), p))
    return found


def replace_dir(new, target) -> None:
    """Put folder ``new`` at ``target``: the old ``target`` is renamed aside, ``new`` renamed in, the
    old one removed. Two renames on one filesystem: a crash between them leaves the old version
    under ``.NAME.old-PID`` (for :func:`clean_stale`) and nothing half-written at ``target``."""
    new, target = Path(new), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    old = hidden_sibling(target, "old")
    if target.exists():
        os.rename(target, old)
    os.rename(new, target)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def exclusive_lock(path, wait: bool = True, log=None, what: str = "this"):
    """Hold an exclusive ``fcntl.flock`` on file ``path`` for the block. The kernel drops the lock when
    its process dies, so a crash never leaves a stale lock. If another process holds it: wait (after
    one ``log`` line naming that process) or, with ``wait=False``, raise :class:`LockBusyError`.

    The lock file holds the owner's pid and is removed on release; a waiter that then finds the
    name pointing at another file (or none) starts again, so two processes never both hold it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    told = False
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                msg = f"{what} is being written by process {owner} (lock file {path})"
                if not wait:
                    raise LockBusyError(f"{msg}; run again when it has finished") from None
                if not told and log is not None:
                    log(f"{msg}; waiting for it to finish ...")
                    told = True
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
        except BaseException:
            os.close(fd)
            raise
        if same:
            break
        os.close(fd)  # the previous owner removed the file while we waited: lock the new one
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # before unlocking: a waiter then sees that the name moved on
        os.close(fd)


# ------------------------------------------------------------------ errors a user can act on, in words
# A full disk, a folder without write permission, a file where a folder belongs: the command line
# says so in one line naming the path the user knows (not a hidden temporary sibling or lock file).

_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
# .NAME.tmp-PID[.suffix], .NAME.partial-PID, .NAME.old-PID (this module's siblings) and .NAME.lock
_HIDDEN = re.compile(r"^\.(.+)\.(?:(?:tmp|partial|old)-\d+(?:\..*)?|lock)$")


class NoSpaceError(OSError):
    """The file system holding ``path`` is full; the message says how much was written (if known),
    how much was needed (if known) and how much is free."""

    def __init__(self, path, written: int | None = None, needed: int | None = None):
        super().__init__(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        self.written, self.needed = written, needed

    def __str__(self) -> str:
        path = Path(self.filename)
        free = free_bytes(path)
        facts = [f"{format_bytes(self.written)} written" if self.written is not None else None,
                 f"about {format_bytes(self.needed)} needed" if self.needed is not None else None,
                 f"{format_bytes(free)} free" if free is not None else None]
        facts = ", ".join(f for f in facts if f)
        return (f"{shown_path(path)}: no space left on the file system{f' ({facts})' if facts else ''}"
                f"{_folder_hint(path)}; expected room for it: free some space or choose another folder")


def shown_path(path) -> Path:
    """The path the user knows for ``path``: a hidden sibling of this module (``.NAME.tmp-PID``,
    ``.NAME.partial-PID/...``, ``.NAME.old-PID``) or a lock file (``.NAME.lock``) stands for ``NAME``."""
    parts = []
    for part in Path(path).parts:
        m = _HIDDEN.match(part)
        parts.append(m.group(1) if m else part)
    return Path(*parts)


def free_bytes(path) -> int | None:
    """Free bytes of the file system that holds ``path`` (or would: its nearest existing folder)."""
    for p in (Path(path), *Path(path).parents):
        with contextlib.suppress(OSError):
            return shutil.disk_usage(p).free
    return None


def format_bytes(n: int) -> str:
    for unit, size in (("GB", 10 ** 9), ("MB", 10 ** 6), ("kB", 10 ** 3)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,} bytes"


def _nearest_existing(path: Path) -> Path | None:
    return next((p for p in (path, *path.parents) if os.path.lexists(p)), None)


def _folder_hint(path: Path) -> str:
    """Which setting chose the folder, where one did (the data folder)."""
    data = paths.data_dir()
    path = Path(os.path.abspath(path))
    if path == data or data in path.parents or path in data.parents:
        return f" (the data folder {data}; QUAKE_DATA_DIR sets another)"
    return ""


def can_write_in(folder: Path) -> bool:
    """Whether this process can create a file in ``folder`` (tried, not inferred from mode bits: a root
    process without CAP_DAC_OVERRIDE, an ACL or a read-only mount all decide differently)."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def check_writable_dir(folder, what: str) -> Path:
    """``folder`` if it is, or can be made, a folder this process can write in; else a ValueError
    naming it, ``what`` goes there and what is missing. For work that writes its results only at
    the end (a report chapter): checked before it starts."""
    folder = Path(folder)
    existing = _nearest_existing(folder)
    if existing is None:
        return folder
    if not existing.is_dir():
        kind = "a file" if existing.is_file() else "not a directory"
        raise ValueError(f"{existing}: is {kind}{_folder_hint(existing)}; expected a directory for {what}")
    if not can_write_in(existing):
        raise ValueError(f"{folder}: no write permission on the folder {existing}{_folder_hint(folder)}; "
                         f"expected a folder this user can write to, for {what}")
    return folder


def _permission_message(path: Path) -> str:
    shown = shown_path(path)
    if not os.path.lexists(path) or path.is_dir():
        folder = _nearest_existing(path if path.is_dir() else path.parent)
        if folder is not None and folder.is_dir() and not os.access(folder, os.R_OK | os.X_OK):
            missing = f"no read permission on the folder {shown_path(folder)}"
        elif folder is not None and folder.is_dir() and not can_write_in(folder):
            missing = f"no write permission on the folder {shown_path(folder)}"
        else:
            missing = "permission denied"
    elif not os.access(path, os.R_OK):
        missing = f"no read permission on {shown}"
    elif not can_write_in(path.parent):
        missing = f"no write permission on the folder {shown_path(path.parent)}"
    else:
        missing = f"no write permission on {shown}"
    return (f"{shown}: {missing}{_folder_hint(path)}; expected a folder this user can read and write "
            "(change its permissions or choose another)")


def os_error_message(e: OSError) -> str | None:
    """One line for an OSError the user can act on (a full disk, a missing permission, a read-only
    file system, a file where a folder belongs), naming the path they know; None for any other."""
    if isinstance(e, NoSpaceError):
        return str(e)
    path = Path(os.fsdecode(e.filename)) if isinstance(e.filename, (str, bytes, os.PathLike)) else None
    if e.errno in _NO_SPACE:
        return str(NoSpaceError(path)) if path is not None else (
            "no space left on the file system; expected room for the files being written: free some space")
    if path is None:
        return None
    if e.errno in (errno.EACCES, errno.EPERM):
        return _permission_message(path)
    if e.errno == errno.EROFS:
        return (f"{shown_path(path)}: the file system is read-only{_folder_hint(path)}; expected a folder that "
                "can be written (choose another)")
    if e.errno in (errno.EEXIST, errno.ENOTDIR):
        blocker = _nearest_existing(path)
        if blocker is not None and not blocker.is_dir():
            return f"{shown_path(blocker)}: is a file{_folder_hint(blocker)}; expected a directory"
    return None


class ResultsReplacedError(RuntimeError):
    """A dataset's ``results/`` folder was moved away while a run wrote into it (``ingest --force`` keeps
    it as ``results.replaced-<time>/``): the run's results belong to data that is gone."""
