import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from tiny_data import LENGTH, loud_recording

from quake_lib import evaluation as ev
from quake_lib import paths, progress
from quake_lib.report import preflight as report_preflight
from quake_lib.train.fit import torch_threads

# No progress bars in test output, nor in the kernels nbval starts (they inherit this environment):
# the tests of progress itself set the mode they test.
os.environ[progress.OFF_ENV] = "1"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A private data/ for the test: nothing is written into the repository's data/."""
    d = tmp_path / "data"
    monkeypatch.setenv("QUAKE_DATA_DIR", str(d))
    return d


@pytest.fixture(scope="session")
def shared_lanl():
    """The real LANL material in ../shared/lanl; tests that need it skip, saying why, without it."""
    d = paths.shared_lanl_dir()
    if not (d / "train_head_150k.csv").exists():
        pytest.skip(f"real LANL material not found at {d} (set QUAKE_SHARED_DIR to point at it)")
    return d


# The tiny learnable recording of the evaluation, baseline and training tests (tests/tiny_data.py).
@pytest.fixture
def rec(data_dir):
    return loud_recording(data_dir / "tiny")


@pytest.fixture
def windows(rec):
    return ev.eval_windows(rec, stride=LENGTH, length=LENGTH)


def make_recording_arrays(cycle_lengths=(3000, 5000, 4000), seed=0, rows_per_second=1000.0):
    """A tiny recording: int16 noise and a time_to_failure that counts down each cycle to ~0."""
    rng = np.random.default_rng(seed)
    ttf = np.concatenate([(np.arange(n, 0, -1) - 1) / rows_per_second + 0.0005 for n in cycle_lengths])
    signal = rng.integers(-300, 300, size=len(ttf)).astype(np.int16)
    return signal, ttf.astype(np.float32)


def dead_pid() -> int:
    """The pid of a process that has exited (an owner of stale folders)."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def snapshot(directory):
    """Every file under ``directory`` with its bytes: 'nothing changed on disk' made checkable."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def leftovers(directory):
    """Everything left under a data dir (hidden partial folders included)."""
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


@pytest.fixture
def write_csv(tmp_path):
    def _write(text: str, name="train.csv"):
        p = tmp_path / name
        p.write_bytes(text.encode() if isinstance(text, str) else text)
        return p
    return _write



def pytest_collection_modifyitems(items):
    """nbval: never compare stderr. Warnings and progress text there depend on library versions and
    timing, not on the results the checked cells report."""
    missing = {}
    for item in items:
        parent = getattr(item, "parent", None)
        skip = getattr(parent, "skip_compare", None)
        if skip is not None and "stderr" not in skip:
            parent.skip_compare = tuple(skip) + ("stderr",)
        # a chapter on the real material (chapter 7) skips, saying why, where that material is absent
        path = getattr(parent, "path", None)
        if skip is not None and path is not None:
            if path not in missing:
                missing[path] = report_preflight.missing_material(Path(path))
            if missing[path] is not None:
                item.add_marker(pytest.mark.skip(reason=f"{Path(path).name}: {missing[path]}"))


@pytest.fixture
def one_torch_thread():
    """torch on one thread for the test: two threads stall on a busy 2-core machine (CI)."""
    with torch_threads(1):
        yield
