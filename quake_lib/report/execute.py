"""Batch execution of the numbered notebooks with papermill (``make report``).

Why not plain ``papermill nb.ipynb``: papermill only *warns* about a parameter the notebook does not
declare, so a typo (``datset=lanl``) silently runs the default dataset. Here every parameter is checked
against the notebook's tagged ``parameters`` cell first. Executed notebooks are written back without
papermill's per-cell timing metadata (so a re-run changes only what really changed), and rendered as
the report's offline site (:mod:`quake_lib.report.site`). While a chapter runs, the terminal shows its
cells done / total, the elapsed time and the kernel's training status (:mod:`quake_lib.progress`).
"""
from __future__ import annotations

import ast
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import papermill as pm
import zmq
from papermill.engines import NBClientEngine, papermill_engines
from traitlets.config import Config

from .. import paths, profiles, progress
from ..approaches import registry
from ..atomic import atomic_path, check_writable_dir
from ..data import datasets
from . import site
from .preflight import (
    check_extra,
    check_material,
    check_parameters,
    check_seeds,
    declared_parameters,
    missing_material,
)


def numbered_notebooks(directory: Path = paths.NOTEBOOKS_DIR) -> list[Path]:
    """The report's chapters, in order (``NN_name.ipynb``)."""
    return site.numbered_notebooks(directory)


def _same(value, default_source: str) -> bool:
    try:
        return value == ast.literal_eval(default_source)
    except (ValueError, SyntaxError):
        return False


def strip_run_metadata(nb) -> None:
    """Drop papermill's timing and status metadata (notebook and cells) and stale widget state."""
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)


class FollowingEngine(NBClientEngine):
    """papermill's own engine, plus the kernel's status lines (which fold and epoch a training chapter
    is in, see :mod:`quake_lib.progress`) shown beside papermill's cell counter on the terminal."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
        status_file = os.environ.get(progress.FILE_ENV)
        if nb_man.pbar is None or not status_file:
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
        with progress.Follower(status_file, nb_man.pbar):
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)


ENGINE = "quake"


@contextlib.contextmanager
def _environ(**values):
    """Set environment variables for the block (a kernel started inside inherits them), then restore."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _kernel_progress(show: bool, label: str):
    """papermill's ``progress_bar`` argument, with the kernel's environment set so that its progress
    goes to a status file the engine follows (``show``) or nowhere, never into the notebook."""
    if not show:
        with _environ(**{progress.OFF_ENV: "1"}):
            yield False
        return
    with tempfile.TemporaryDirectory(prefix="quake-progress-") as tmp:
        status_file = Path(tmp) / "status"
        status_file.touch()
        with _environ(**{progress.FILE_ENV: str(status_file), progress.OFF_ENV: ""}):
            yield {"desc": label, "file": sys.stderr, "dynamic_ncols": True}


def kernel_config() -> Config:
    """The kernel manager's configuration: CurveZMQ transport encryption where pyzmq has it (the
    kernelspec declares support), which is also what keeps ipykernel from printing its "running over
    TCP without encryption" warning for every chapter."""
    c = Config()
    if zmq.has("curve"):
        c.KernelManager.transport_encryption = "auto"
    return c


# The kernel's own log (not the notebook's outputs) at CRITICAL: jupyter_client interrupts every kernel
# before shutting it down (SIGINT, then the shutdown request), which ipykernel logs on the terminal as
# "ERROR | KeyboardInterrupt caught in kernel" whenever the signal lands while it is idle: noise after
# every chapter. An error of the notebook's code still fails the run and is in the notebook.
KERNEL_ARGS = ["--IPKernelApp.log_level=CRITICAL"]


def execute(src: Path, dst: Path, parameters: dict, kernel: str = "python3",
            show_progress: bool | None = None, label: str | None = None) -> float:
    """Run one notebook with papermill; write it to ``dst`` (atomically).

    ``show_progress`` (default: unless ``QUAKE_NO_PROGRESS`` is set): cells done / total, elapsed
    time and the kernel's training status on stderr."""
    check_parameters(src, parameters)
    declared = declared_parameters(src)
    # pass only what differs from the notebook's defaults: a default run leaves no injected cell
    changed = {k: v for k, v in parameters.items() if not _same(v, declared[k])}
    t0 = time.perf_counter()
    nb = nbformat.read(src, as_version=4)
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    papermill_engines.register(ENGINE, FollowingEngine)
    show = progress.mode() == "bar" if show_progress is None else show_progress
    with _kernel_progress(show, label or src.stem) as progress_bar:
        nb = pm.execute_notebook(nb, None, parameters=changed, kernel_name=kernel, engine_name=ENGINE,
                                 cwd=str(src.parent), progress_bar=progress_bar, log_output=False,
                                 config=kernel_config(), extra_arguments=KERNEL_ARGS)
    strip_run_metadata(nb)
    with atomic_path(dst, suffix=".ipynb") as tmp:
        nbformat.write(nb, tmp)
    return time.perf_counter() - t0


def trained_chapters() -> set[int]:
    """The chapters that train an approach (the registry's), run once per seed by ``--seeds``."""
    return {a.chapter for a in registry.APPROACHES.values()}


def chapter_number(path: Path) -> int:
    return int(Path(path).name.split("_", 1)[0])


# What a notebook that trains skips for every seed but the first: its design studies (the WaveNet's
# learning-rate range test, the ResNet's front-end study, CPC's 2019 experiments and random-encoder
# controls) and the networks' per-epoch held-out diagnostics (learning curves). They are not part of the
# comparison, and skipping them keeps three seeds within an hour.
STUDIES = "studies"
SEEDS = "seeds"


def execute_all(dataset: str = "synthetic", profile: str = "default", seed: int = 0, only=None,
                output_dir: Path | None = None, html_dir: Path | None = paths.REPORTS_DIR,
                extra: dict | None = None, log=print, seeds=None) -> dict[str, float]:
    """Execute every numbered notebook in order; return seconds per notebook run.

    ``seeds`` (e.g. ``[0, 1, 2]``; default ``[seed]``): the chapters that train (:func:`trained_chapters`)
    run once per seed, each seed's results kept apart (:func:`quake_lib.paths.results_dir`); the other
    chapters run once, with the first seed, and a notebook that declares ``seeds`` (the comparison) reads them
    all. The first seed's executed notebooks replace those of ``notebooks/`` (or go to ``output_dir``);
    another seed's go beside its results, ``data/<dataset>/results/seed_<s>/notebooks/``, and skip their
    design studies (``studies=False``).

    Everything is checked before the first kernel starts (a kernel takes seconds to start and a
    failure inside it is a page of traceback): the dataset exists or is a synthetic preset, the
    profile is known, the seeds are integers, every parameter is declared by every notebook run and
    has its type and range (:func:`rule_for`; ``extra`` never sets what the runner's own options set),
    the real material a chapter reads is intact, and every folder the run writes can be written."""
    check_extra(extra or {})
    params = {"dataset": dataset, "profile": profile, "seed": seed, **(extra or {})}
    for what, name in (("dataset", dataset), ("profile", profile)):
        if not isinstance(name, str):
            raise ValueError(f"{what} must be a name (got {name!r})")
    datasets.check_available(dataset)
    profiles.get(profile)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer (got {seed!r})")
    seeds = check_seeds([seed] if seeds is None else seeds)
    notebooks = numbered_notebooks()
    if only:
        notebooks = [p for p in notebooks if any(p.name.startswith(o) for o in only)]
        if not notebooks:
            raise ValueError(f"no numbered notebook matches {only}")
    trained = trained_chapters()
    runs = []  # (notebook, seed, destination, parameters), in the order they run
    for nb in notebooks:
        declared = declared_parameters(nb)
        for k, s in enumerate(seeds if chapter_number(nb) in trained else seeds[:1]):
            p = {**params, "seed": s}
            if SEEDS in declared:
                p[SEEDS] = seeds  # decided when it runs (see below): None when that reads the same seeds
            if k > 0:
                p[STUDIES] = False
                dst = paths.results_dir(dataset, s) / "notebooks" / nb.name
            else:
                dst = (output_dir or nb.parent) / nb.name
            check_parameters(nb, p, declared)  # fail on a misspelled parameter before running anything
            runs.append((nb, s, dst, p))
    _check_before_running(runs, dataset, html_dir)
    times = {}
    for nb, s, dst, p in runs:
        why = missing_material(nb)
        if why is not None:  # the committed notebook stays as it is
            log(f"skipping {nb.name}: {why}", flush=True)
            continue
        if SEEDS in p:
            # A chapter that reads every seed (default None: every seed with saved results) is told the
            # seeds of this run only where the default would read others (an earlier run's seeds): the
            # committed run, and a plain one on a fresh clone, inject nothing.
            p = {**p, SEEDS: None if paths.result_seeds(dataset) == seeds else seeds}
        key = nb.name if s == seeds[0] else f"{nb.name} (seed {s})"
        log(f"running {nb.name} (dataset={dataset}, profile={profile}, seed={s}) ...", flush=True)
        times[key] = execute(nb, dst, p, label=nb.stem if s == seeds[0] else f"{nb.stem} seed {s}")
        log(f"  done in {times[key]:.0f} s -> {_shown(dst)}", flush=True)
    log(f"all {len(times)} notebook runs in {sum(times.values()):.0f} s")
    if html_dir is not None:
        chapters = list(dict.fromkeys(nb.name for nb, *_ in runs))
        index = site.build(output_dir or paths.NOTEBOOKS_DIR, html_dir, chapters=chapters)
        log(f"report site: {_shown(index)}")
    return times


def _check_before_running(runs, dataset: str, html_dir: Path | None) -> None:
    """What would otherwise fail only inside a kernel or after it: the real material of each chapter
    that reads it, and the folders the run writes (a file in their place, no write permission)."""
    for nb in dict.fromkeys(nb for nb, *_ in runs):
        if missing_material(nb) is None:
            check_material(nb)
    check_writable_dir(paths.data_dir(), f"the datasets and trained results of {dataset!r}")
    for folder in dict.fromkeys(dst.parent for _, _, dst, _ in runs):
        check_writable_dir(folder, "the executed notebooks")
    if html_dir is not None:
        check_writable_dir(html_dir, "the HTML pages")


def _shown(path: Path) -> Path:
    path = Path(path)
    return path.relative_to(paths.ROOT) if path.is_relative_to(paths.ROOT) else path
