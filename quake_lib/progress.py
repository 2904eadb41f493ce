"""Progress for the person waiting, never for the record.

Long steps (a training fold, feature passes, a submission's segments) report through this module, and
where it goes is decided once, by the environment:

- ``QUAKE_NO_PROGRESS=1`` (``--no-progress``, and the test suite): nowhere.
- ``QUAKE_PROGRESS_FILE=<path>``: ``report`` sets it for every notebook kernel it starts. Each status is
  appended as one line to that file, which the report runner shows on the terminal beside its cell
  counter. Nothing reaches the notebook's outputs, so a committed notebook never holds a progress bar
  or a timing.
- otherwise (a terminal, JupyterLab): a tqdm bar on stderr; ``tqdm.auto`` makes it a widget in
  JupyterLab.

>>> for batch in progress.bar(batches, desc="features", unit="window"):   # doctest: +SKIP
...     ...
>>> progress.status("wave_cnn_binned fold 2/5 epoch 3/8")                # doctest: +SKIP
"""
from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

OFF_ENV = "QUAKE_NO_PROGRESS"
FILE_ENV = "QUAKE_PROGRESS_FILE"


def mode() -> str:
    """``"off"``, ``"file"`` or ``"bar"`` (see the module docstring)."""
    if os.environ.get(OFF_ENV, "") not in ("", "0"):
        return "off"
    if os.environ.get(FILE_ENV):
        return "file"
    return "bar"


def status(text: str) -> None:
    """One line of status for the report runner's terminal (file mode; nothing otherwise)."""
    target = os.environ.get(FILE_ENV)
    if mode() != "file" or not target:
        return
    try:
        with open(target, "a", encoding="utf-8") as f:
            f.write(text.replace("\n", " ") + "\n")
    except OSError:
        pass  # progress must never break a run


class _FileBar:
    """The file-mode stand-in for a tqdm bar: the same few methods, reported as status lines (at most
    about one a second, so a fast loop does not write thousands)."""

    def __init__(self, iterable=None, total=None, desc: str = "", unit: str = "it"):
        self.iterable, self.desc, self.unit, self.n = iterable, desc, unit, 0
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
        self.postfix, self._last = "", 0.0

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.update(1)

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self._last >= 1.0 or (self.total is not None and self.n >= self.total):
            self._last = now
            of = f"/{self.total:,}" if self.total is not None else ""
            status(f"{self.desc} {self.n:,}{of} {self.unit}{'s' if self.unit != 'B' else ''}"
                   + (f" {self.postfix}" if self.postfix else ""))

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = s

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def bar(iterable=None, total=None, desc: str = "", unit: str = "it", disable: bool = False, **tqdm_kwargs):
    """A progress bar over ``iterable`` (or updated by hand to ``total``), wherever :func:`mode` says:
    tqdm on stderr, status lines, or a silent stand-in with the same methods (also when ``disable``)."""
    m = "off" if disable else mode()
    if m == "file":
        return _FileBar(iterable, total, desc, unit)
    if m == "off":
        from tqdm import tqdm
        return tqdm(iterable, total=total, disable=True)
    from tqdm.auto import tqdm  # here, not at import time: tqdm.auto probes for Jupyter (a widget there)
    return tqdm(iterable, total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True, **tqdm_kwargs)


class Follower:
    """The report runner's side: reads the status lines a kernel appends to ``path`` and shows the
    latest as the postfix of ``pbar`` (papermill's cell counter), from a background thread."""

    def __init__(self, path: Path, pbar, every_s: float = 0.5):
        self.path, self.pbar, self.every_s = Path(path), pbar, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="quake-progress", daemon=True)
        self._offset, self.last = 0, ""

    def poll(self) -> str:
        """Read what was appended since the last poll; return (and show) the latest complete line."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except OSError:
            return self.last
        end = chunk.rfind(b"\n")
        if end >= 0:
            self._offset += end + 1
            self.last = chunk[:end].decode("utf-8", "replace").rsplit("\n", 1)[-1]
            if self.pbar is not None:
                self.pbar.set_postfix_str(self.last)
        return self.last

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.poll()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.poll()
