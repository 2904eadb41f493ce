"""Batch execution of the numbered notebooks with papermill (``make report``).

Why not plain ``papermill nb.ipynb``: papermill only *warns* about a parameter the notebook does not
declare, so a typo (``datset=lanl``) silently runs the default dataset. Here every parameter is checked
against the notebook's tagged ``parameters`` cell first. Executed notebooks are written back without
papermill's per-cell timing metadata (so a re-run changes only what really changed), and rendered to
HTML for offline reading.
"""
from __future__ import annotations

import ast
import re
import time
from pathlib import Path

import nbformat
import papermill as pm
from nbconvert import HTMLExporter

from .. import paths, profiles
from ..atomic import atomic_path, write_text
from ..data import datasets

NOTEBOOK_RE = re.compile(r"^\d\d_[a-z0-9_]+\.ipynb$")


def numbered_notebooks(directory: Path = paths.NOTEBOOKS_DIR) -> list[Path]:
    """The report's chapters, in order (``NN_name.ipynb``)."""
    return sorted(p for p in Path(directory).glob("*.ipynb") if NOTEBOOK_RE.match(p.name))


def declared_parameters(path: Path) -> dict:
    """Parameters of a notebook's cell tagged ``parameters``: name -> default (as source text)."""
    params = pm.inspect_notebook(str(path))
    if not params:
        raise ValueError(f"{path}: no cell tagged 'parameters'; every numbered notebook needs one")
    return {name: p["default"] for name, p in params.items()}


def check_parameters(path: Path, parameters: dict) -> None:
    declared = declared_parameters(path)
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise ValueError(f"{path.name} has no parameter {', '.join(map(repr, unknown))}; "
                         f"its parameters are: {', '.join(declared)}")


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


def render_html(nb_path: Path, html_dir: Path) -> Path:
    body, _ = HTMLExporter().from_notebook_node(nbformat.read(nb_path, as_version=4))
    return write_text(html_dir / (nb_path.stem + ".html"), body)


def execute(src: Path, dst: Path, parameters: dict, html_dir: Path | None = None,
            kernel: str = "python3") -> float:
    """Run one notebook with papermill; write it to ``dst`` (atomically) and optionally as HTML."""
    check_parameters(src, parameters)
    declared = declared_parameters(src)
    # pass only what differs from the notebook's defaults: a default run leaves no injected cell
    changed = {k: v for k, v in parameters.items() if not _same(v, declared[k])}
    t0 = time.perf_counter()
    nb = nbformat.read(src, as_version=4)
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    nb = pm.execute_notebook(nb, None, parameters=changed, kernel_name=kernel,
                             cwd=str(src.parent), progress_bar=False, log_output=False)
    strip_run_metadata(nb)
    with atomic_path(dst, suffix=".ipynb") as tmp:
        nbformat.write(nb, tmp)
    if html_dir is not None:
        render_html(dst, html_dir)
    return time.perf_counter() - t0


def execute_all(dataset: str = "synthetic", profile: str = "default", seed: int = 0, only=None,
                output_dir: Path | None = None, html_dir: Path | None = paths.REPORTS_DIR,
                extra: dict | None = None, log=print) -> dict[str, float]:
    """Execute every numbered notebook in order; return seconds per notebook.

    Everything is checked before the first kernel starts (a kernel takes seconds to start and a
    failure inside it is a page of traceback): the dataset exists or is a synthetic preset, the
    profile is known, the seed is an integer, every parameter is declared by every notebook run."""
    params = {"dataset": dataset, "profile": profile, "seed": seed, **(extra or {})}
    dataset, profile, seed = params["dataset"], params["profile"], params["seed"]  # -p may set them too
    for what, name in (("dataset", dataset), ("profile", profile)):
        if not isinstance(name, str):
            raise ValueError(f"{what} must be a name (got {name!r})")
    datasets.check_available(dataset)
    profiles.get(profile)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer (got {seed!r})")
    notebooks = numbered_notebooks()
    if only:
        notebooks = [p for p in notebooks if any(p.name.startswith(o) for o in only)]
        if not notebooks:
            raise ValueError(f"no numbered notebook matches {only}")
    for nb in notebooks:  # fail on a misspelled parameter before running anything
        check_parameters(nb, params)
    times = {}
    for nb in notebooks:
        dst = (output_dir or nb.parent) / nb.name
        log(f"running {nb.name} (dataset={dataset}, profile={profile}, seed={seed}) ...", flush=True)
        times[nb.name] = execute(nb, dst, params, html_dir)
        shown = dst.relative_to(paths.ROOT) if dst.is_relative_to(paths.ROOT) else dst
        log(f"  done in {times[nb.name]:.0f} s -> {shown}", flush=True)
    log(f"all {len(times)} notebooks in {sum(times.values()):.0f} s")
    return times


def parse_assignments(items) -> dict:
    """``name=value`` pairs from the command line; values are read as Python literals when they
    parse as one (``3``, ``0.5``, ``True``), else kept as strings. Never evaluated as code."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"parameter {item!r}: expected name=value")
        name, value = item.split("=", 1)
        try:
            out[name.strip()] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[name.strip()] = value
    return out
