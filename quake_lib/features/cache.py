"""The Kaggle feature table of a recording's windows, computed once and kept beside the recording.

LightGBM and the feature MLP read the same table, at every seed: at the real size (4,194 windows) it
costs minutes on 2 cores, the models that read it seconds. A table is stored under
``data/<name>/cache/`` and keyed by everything that determines it: the recording (its ``meta.json``,
which a regeneration or a re-ingest rewrites), the windows (starts and length), the source code of
:mod:`quake_lib.features` and the versions of numpy and librosa. Any change gives another key, so a
stale table is never read; a table is written to a temporary file and renamed, so a crash leaves
none or a whole one.
"""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import atomic_path
from .competition import kaggle_features

CACHE_DIR = "cache"


@lru_cache(maxsize=1)
def _code_fingerprint() -> str:
    import librosa

    h = hashlib.sha256(f"numpy {np.__version__} librosa {librosa.__version__}".encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


def cache_key(rec, windows) -> str:
    """The fingerprint of the table of ``windows`` (a :class:`quake_lib.data.recording.Windows`) of the
    recording ``rec`` (a :class:`quake_lib.data.recording.Recording`; see the module docstring)."""
    h = hashlib.sha256(_code_fingerprint().encode())
    h.update(json.dumps(rec.meta, sort_keys=True, default=str).encode())
    h.update(np.ascontiguousarray(windows.starts, dtype=np.int64).tobytes())
    h.update(str(int(windows.length)).encode())
    return h.hexdigest()[:20]


def cache_path(rec, windows) -> Path:
    return rec.directory / CACHE_DIR / f"kaggle_{cache_key(rec, windows)}.npz"


def cached_kaggle_features(rec, windows, progress: bool = True) -> pd.DataFrame:
    """:func:`quake_lib.features.competition.kaggle_features` of ``windows``, read from the cache when
    there, else computed and stored (the same values and dtypes either way). A cache that cannot be
    written (a read-only dataset, a full disk) is skipped: the table is returned all the same."""
    path = cache_path(rec, windows)
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as f:
                columns = [str(c) for c in f["columns"]]
                table = pd.DataFrame({c: f[f"c{i}"] for i, c in enumerate(columns)})
            if len(table) == len(windows):
                return table
        except (OSError, ValueError, KeyError):
            pass  # unreadable (cut short by a crash before the rename could not happen; or foreign): recompute
    table = kaggle_features(rec, windows, progress=progress)
    try:
        path.parent.mkdir(exist_ok=True)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as out:
                np.savez(out, columns=np.array(table.columns, dtype=str),
                         **{f"c{i}": table[c].to_numpy() for i, c in enumerate(table.columns)})
    except OSError:
        pass
    return table
