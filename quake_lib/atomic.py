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
import fcntl
import os
import re
import shutil
from pathlib import Path
from typing import Iterator


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
