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


def results_dir(name: str, seed: int = 0) -> Path:
    """``data/<name>/results/``: out-of-fold predictions, fold models and training logs of every approach
    trained with seed 0 (the default run, what ``submit`` uses); ``results/seed_<s>/`` those of seed ``s``
    (``make report SEEDS="0 1 2"``), kept apart so that the comparison can read every seed."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer (got {seed!r})")
    base = dataset_dir(name) / "results"
    return base if seed == 0 else base / f"seed_{seed}"


def result_seeds(name: str) -> list[int]:
    """The seeds with results of dataset ``name``: 0 when ``results/`` holds any OOF file, and every
    ``results/seed_<s>/`` that does, in increasing order."""
    base = dataset_dir(name) / "results"
    seeds = [0] if any(base.glob("oof_*.csv")) else []
    for d in base.glob("seed_*") if base.is_dir() else []:
        tail = d.name[len("seed_"):]
        if d.is_dir() and tail.isdigit() and int(tail) > 0 and any(d.glob("oof_*.csv")):
            seeds.append(int(tail))
    return sorted(seeds)
