"""Project locations, in one place (cookiecutter-data-science style).

Every other module asks this one where things live; nothing else hard-codes a path.
Two environment variables move the data for tests, CI or a bigger disk:

- ``QUAKE_DATA_DIR``: where prepared datasets live (default ``<repo>/data``).
- ``QUAKE_SHARED_DIR``: the real LANL reference material (default ``<repo>/../shared/lanl``).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = ROOT / "notebooks"
IMAGES_DIR = ROOT / "images"
REPORTS_DIR = ROOT / "reports"                     # rendered HTML pages of the chapters
QUICK_BASELINE_DIR = ROOT / "tests" / "notebooks"  # the quick-profile outputs nbval compares

# A dataset or approach name becomes a directory or file name: keep it boring so it can never escape
# data/ or results/.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def data_dir() -> Path:
    """Root of all prepared datasets (``data/`` unless ``QUAKE_DATA_DIR`` says otherwise)."""
    return Path(os.environ.get("QUAKE_DATA_DIR", ROOT / "data")).resolve()


def shared_lanl_dir() -> Path:
    """The read-only real LANL material (``../shared/lanl`` beside the checkout)."""
    return Path(os.environ.get("QUAKE_SHARED_DIR", ROOT.parent / "shared" / "lanl")).resolve()


def check_name(name: str, kind: str = "dataset") -> str:
    """``name`` if it is safe as a file name (letters, digits, '_', '-', '.'); else a ValueError that
    says which ``kind`` of name was wrong."""
    if not isinstance(name, str) or not _NAME_RE.match(name) or name.endswith((".partial", ".old")):
        raise ValueError(f"{kind} name {name!r} is not valid: expected letters, digits, '_', '-' or '.', "
                         "starting with a letter or digit (it becomes a file name)")
    return name


def dataset_dir(name: str) -> Path:
    """``data/<name>/``: one prepared recording (signal.npy, time_to_failure.npy, cycles.csv, meta.json)."""
    return data_dir() / check_name(name)


def results_dir(name: str) -> Path:
    """``data/<name>/results/``: out-of-fold predictions and training logs of every approach."""
    return dataset_dir(name) / "results"
