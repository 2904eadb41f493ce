"""What ``report`` checks before the first kernel starts (a kernel takes seconds to start, and a failure
inside it is a page of traceback): every parameter is declared by its notebook and has the type and range
of its rule, the runner's own parameters are not set twice, the seeds are distinct non-negative
integers, and the real material a chapter reads is present and intact."""
from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from pathlib import Path

import nbformat
import papermill as pm

from .. import paths
from ..constants import SAMPLE_RATE_HZ
from ..data import lab_runs, lanl_stats


def declared_parameters(path: Path) -> dict:
    """Parameters of a notebook's cell tagged ``parameters``: name -> default (as source text)."""
    params = pm.inspect_notebook(str(path))
    if not params:
        raise ValueError(f"{path}: no cell tagged 'parameters'; every numbered notebook needs one")
    return {name: p["default"] for name, p in params.items()}


def missing_material(path: Path) -> str | None:
    """Why a chapter cannot run here, or None. A chapter that reads the real material lists the files
    it needs in its metadata (``"quake": {"needs_shared": ["segment_stats.csv", ...]}``); they are looked
    for in :func:`quake_lib.paths.shared_lanl_dir` (``QUAKE_SHARED_DIR``)."""
    needs = nbformat.read(path, as_version=4).metadata.get("quake", {}).get("needs_shared", [])
    shared = paths.shared_lanl_dir()
    missing = [name for name in needs if not (shared / name).is_file()]
    if not missing:
        return None
    return (f"the real material it reads is not at {shared} ({', '.join(missing)}; set QUAKE_SHARED_DIR to the "
            "folder that holds it)")


def material_checks() -> dict:
    """File of the real material -> the reader that checks it (the one the chapter itself uses): run
    before a chapter's kernel starts, so that a damaged file is one error naming file, line and column
    rather than a traceback minutes into the chapter."""
    return {lanl_stats.FILE_NAME: lanl_stats.read_segment_stats,
            **{name: lab_runs.read_lab_run for name in lab_runs.LAB_RUNS.values()}}


def check_material(path: Path) -> None:
    """Read every file of the real material chapter ``path`` needs (those present) through its checking
    reader; the first damaged one raises its error (a ValueError naming the file, line and column)."""
    needs = nbformat.read(path, as_version=4).metadata.get("quake", {}).get("needs_shared", [])
    checks = material_checks()
    for name in needs:
        if name in checks and (paths.shared_lanl_dir() / name).is_file():
            checks[name](paths.shared_lanl_dir() / name)


@dataclass(frozen=True)
class Rule:
    """What a notebook parameter accepts: a ``kind`` (``integer``, ``number``: finite, ``boolean``,
    ``text``, ``any``) and, for numbers, a range (``low`` inclusive unless ``low_open``)."""

    kind: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False

    def accepts(self, value) -> bool:
        if self.kind == "any":
            return True
        if self.kind == "boolean":
            return isinstance(value, bool)
        if self.kind == "text":
            return isinstance(value, str)
        if isinstance(value, bool) or not isinstance(value, int if self.kind == "integer" else (int, float)):
            return False
        if not math.isfinite(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or value <= self.high

    def expected(self) -> str:
        words = {"integer": "an integer", "number": "a finite number", "boolean": "True or False",
                 "text": "a quoted string", "any": "any value"}[self.kind]
        bounds = ([f"{'>' if self.low_open else '>='} {self.low:g}"] if self.low is not None else []) + (
            [f"<= {self.high:g}"] if self.high is not None else [])
        return f"{words} {' and '.join(bounds)}".strip()


# The parameters with a range (or a type wider than their default's), in one place; every other
# parameter takes the type of its default in the notebook's parameters cell.
PARAMETER_RULES = {
    "cutoff_khz": Rule("number", low=0, low_open=True, high=SAMPLE_RATE_HZ / 2 / 1e3),  # up to Nyquist
    "top_k": Rule("integer", low=1),
    "studies": Rule("boolean"),
}
# Set by the runner from its own options (and per seed): a -p for them would be a second, conflicting way.
RUNNER_PARAMETERS = {"dataset": "--dataset", "profile": "--profile", "seed": "--seed", "seeds": "--seeds"}


def rule_for(name: str, default_source: str) -> Rule:
    """The rule of parameter ``name``: :data:`PARAMETER_RULES`, else the type of its default."""
    if name in PARAMETER_RULES:
        return PARAMETER_RULES[name]
    try:
        default = ast.literal_eval(default_source)
    except (ValueError, SyntaxError):
        return Rule("any")
    kinds = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "text"))
    return Rule(next((kind for t, kind in kinds if isinstance(default, t)), "any"))


def check_extra(extra: dict) -> None:
    """``-p`` parameters: none that the runner sets from its own options."""
    owned = [name for name in extra if name in RUNNER_PARAMETERS]
    if owned:
        name = owned[0]
        raise ValueError(f"-p {name}={extra[name]!r}: {name} is set by the report's own option; expected "
                         f"{RUNNER_PARAMETERS[name]} instead of -p {name}")


def check_parameters(path: Path, parameters: dict, declared: dict | None = None) -> None:
    """Every parameter is declared by notebook ``path`` and has the type and range of its rule."""
    declared = declared_parameters(path) if declared is None else declared
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise ValueError(f"{path.name} has no parameter {', '.join(map(repr, unknown))}; "
                         f"its parameters are: {', '.join(declared)}")
    for name, value in parameters.items():
        rule = rule_for(name, declared[name])
        if not rule.accepts(value):
            raise ValueError(f"parameter {name}={value!r} of {path.name}: expected {rule.expected()} "
                             f"(default {declared[name]})")


def check_seeds(seeds) -> list[int]:
    seeds = list(seeds)
    if not seeds or any(isinstance(x, bool) or not isinstance(x, int) or x < 0 for x in seeds):
        raise ValueError(f"seeds must be non-negative integers (got {seeds!r})")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct (got {seeds!r})")
    return seeds


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
