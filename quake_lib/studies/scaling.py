"""The data-size study: every arm of the comparison, trained at growing size, through the approach protocol.

The report's default recording is sized for 2 CPU cores (density 0.075: a 150,000-sample window spans
0.52 s of a cycle, the real one 0.039 s; 305 evaluation windows against the real 4,194). A *point* of
the study is a synthetic preset of the same generator and seed at another size
(:data:`quake_lib.data.synthetic.config.SCALING_PRESETS`): more windows per cycle (density, up to the
real size at 1.0) or more cycles. At every point, every arm trains on that point's own leave-cycles-out
folds (identical for every arm) with the profile's fixed budget, through
:func:`quake_lib.approaches.protocol.cross_validate`: exactly what ``python -m quake_lib train`` and the
chapters run. At the largest points the best network arm also trains with a budget that grows with the
data (``<arm>_budget``: windows per epoch scaled by the point's windows over the default recording's).

:func:`run` trains a grid (:data:`GRIDS`) job by job, each (point, seed, approach) in a child process
(its peak memory measured, a crash contained), saves each run as it finishes and skips what a rerun
finds saved, so an interrupted study resumes where it stopped. Beside each point's results it records
the cost of each job and the fold models' error on their own training windows
(:mod:`.scaling_records`); a test-sized grid runs its jobs in this process. :func:`load_scores` reads
whatever exists into one frame of per-fold scores (the contract of :mod:`.scaling_tables`) and names
what is missing.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import evaluation, paths, profiles
from ..approaches import protocol, registry, spec_resnet, wave_cnn
from ..atomic import exclusive_lock
from ..data import datasets
from ..data.recording import Recording
from ..data.synthetic import PRESETS
from ..data.synthetic.config import REAL_SAMPLES_PER_SECOND, REAL_SEGMENTS
from ..data.synthetic.generate import recording_rows
from ..evaluation.compare import ensembles
from . import scaling_records as records
from .scaling_tables import BUDGET_SUFFIX

# The arms of the study: the baselines, the winners' cycle target, the feature MLP and the networks'
# best heads (regression, soft bins), the ResNet, the linear CPC probe.
ARMS = ("constant", "lightgbm", "lightgbm_fraction", "feature_mlp", "wave_cnn_regression", "wave_cnn_binned_soft",
        "spec_resnet_binned", "cpc_probe_linear")
TOP_K = 3
ENSEMBLE = f"ensemble_top{TOP_K}"   # per fold, the mean of the 3 arms best on the other folds (nested)
# The arms whose budget is epochs x windows per epoch (the CPC probe's is its pre-training: not scaled).
BUDGET_ARMS = ("wave_cnn_regression", "wave_cnn_binned_soft", "spec_resnet_binned")
REFERENCE_POINT = "synthetic"       # the budget's unit: the default recording's windows
REFERENCE_ARM = "lightgbm"          # what every arm is compared with; a point without it is not shown
TRAIN_SAMPLE = 160                  # training windows (evenly spaced) scored per point for the train/held-out gap


@dataclass(frozen=True)
class Point:
    dataset: str                # a synthetic preset
    axis: str                   # "density", "cycles" or "both" (the point the two axes share)
    seeds: tuple[int, ...]


@dataclass(frozen=True)
class Grid:
    name: str
    points: tuple[Point, ...]
    arms: tuple[str, ...] = ARMS
    budget_points: tuple[str, ...] = ()   # where the best budget arm also trains with a growing budget
    budget_seeds: tuple[int, ...] = (0,)
    reference: str = REFERENCE_POINT
    isolate: bool = True    # each job in a child process (its own peak memory; a crash contained)

    def point(self, dataset: str) -> Point:
        return next(p for p in self.points if p.dataset == dataset)


S3 = (0, 1, 2)
GRIDS: dict[str, Grid] = {g.name: g for g in (
    # The committed chapter: three seeds at 0.075 (chapters 3-6's runs, reused), 0.3 and the real size; one
    # seed at the other points and for the growing budget (what fits 2.5 h on 2 cores; see the chapter).
    Grid("full", (Point("synthetic", "both", S3), Point("scale_d015", "density", (0,)),
                  Point("scale_d030", "density", S3), Point("scale_d060", "density", (0,)),
                  Point("scale_d100", "density", S3), Point("scale_c30", "cycles", (0,)),
                  Point("scale_c60", "cycles", (0,))),
         budget_points=("scale_d060", "scale_d100")),
    # `make report`'s bounded run (minutes): the models on the Kaggle features at three sizes, one seed
    Grid("report", (Point("synthetic", "both", (0,)), Point("scale_d015", "density", (0,)),
                    Point("scale_c30", "cycles", (0,))),
         arms=("constant", "lightgbm", "lightgbm_fraction", "feature_mlp")),
    # `make test`: the chapter's cells on two tiny presets, the cheap arms only (tests/test_scaling.py trains a
    # network and its growing budget)
    Grid("quick", (Point("quick", "both", (0,)), Point("quick_x2", "density", (0,))),
         arms=("constant", "lightgbm", "feature_mlp"), reference="quick", isolate=False),
)}


def grid(name: str) -> Grid:
    if name not in GRIDS:
        raise ValueError(f"no scaling grid {name!r}; expected one of: {', '.join(GRIDS)}")
    return GRIDS[name]


def owner(arm: str) -> registry.Approach:
    """The approach an arm (or a growing-budget arm) belongs to."""
    base = arm.removesuffix(BUDGET_SUFFIX)
    return next(a for a in registry.APPROACHES.values() if base in a.arms)


def is_saved(dataset: str, arm: str, seed: int) -> bool:
    """Whether the run of ``arm`` is complete (its meta is written last, at commit)."""
    return ((evaluation.checkpoint_dir(dataset, arm, seed) / evaluation.RUN_META).is_file()
            and evaluation.oof_path(dataset, arm, seed).is_file())


@dataclass(frozen=True)
class Job:
    dataset: str
    seed: int
    approach: str
    arms: tuple[str, ...]
    budget: float | None = None   # the growing budget's factor (``arms``: one budget arm), or the fixed one

    @property
    def saved_arms(self) -> tuple[str, ...]:
        return tuple(a + BUDGET_SUFFIX for a in self.arms) if self.budget else self.arms

    def describe(self) -> str:
        what = f"{', '.join(self.arms)}" + (f" with {self.budget:.1f}x the windows per epoch" if self.budget else "")
        return f"{self.dataset} seed {self.seed} {self.approach} ({what})"


def fixed_jobs(g: Grid) -> list[Job]:
    """Every (point, seed, approach) of ``g`` with an arm not yet saved: each point's first seed, in the
    grid's order, then each point's second seed, ...: an interrupted study has the whole curve once
    before it has any point three times."""
    jobs = []
    rounds = max(len(p.seeds) for p in g.points)
    for p, seed in ((p, p.seeds[k]) for k in range(rounds) for p in g.points if k < len(p.seeds)):
        for a in registry.APPROACHES.values():
            todo = tuple(arm for arm in a.arms if arm in g.arms and not is_saved(p.dataset, arm, seed))
            if todo:
                jobs.append(Job(p.dataset, seed, a.name, todo))
    return jobs


def n_windows(dataset: str) -> int:
    """Evaluation windows of a preset's recording (generated if it is not yet)."""
    return len(evaluation.eval_windows(datasets.prepare(dataset)))


def budget_factor(g: Grid, dataset: str) -> float:
    return n_windows(dataset) / n_windows(g.reference)


def best_budget_arm(g: Grid, dataset: str) -> str | None:
    """The budget arm with the lowest mean MAE at ``dataset`` over its saved fixed-budget seeds (None
    while none is saved)."""
    maes = {}
    for arm in (a for a in BUDGET_ARMS if a in g.arms):
        vals = [_mae(dataset, arm, s) for s in g.point(dataset).seeds if is_saved(dataset, arm, s)]
        if vals:
            maes[arm] = float(np.mean(vals))
    return min(maes, key=maes.get) if maes else None


def _mae(dataset: str, arm: str, seed: int) -> float:
    return float(evaluation.fold_mae(evaluation.load_oof(dataset, arm, seed))["mae"].mean())


def budget_jobs(g: Grid) -> list[Job]:
    """The growing-budget runs still missing (only once the point's fixed-budget runs of the budget arms
    are saved: they choose the arm)."""
    jobs = []
    for dataset in g.budget_points:
        arm = best_budget_arm(g, dataset)
        if arm is None:
            continue
        for seed in g.budget_seeds:
            if not is_saved(dataset, arm + BUDGET_SUFFIX, seed):
                jobs.append(Job(dataset, seed, owner(arm).name, (arm,), budget_factor(g, dataset)))
    return jobs


def run_job(job: Job, profile: profiles.Profile) -> None:
    """Train one job in this process, then record its fold models' training error."""

    rec = datasets.prepare(job.dataset)
    folds = evaluation.make_folds(rec)
    if job.budget is None:
        protocol.cross_validate(job.approach, rec, folds, profile, job.seed, arms=job.arms)
    else:
        (arm,) = job.arms
        options = {"windows_per_epoch": int(round(profile.windows_per_epoch * job.budget)), "verbose": False}
        if job.approach == wave_cnn.APPROACH.name:
            wave_cnn.train_arm(rec, folds, profile, job.seed, arm, saved_as=arm + BUDGET_SUFFIX, **options)
        elif arm == spec_resnet.MAIN:
            spec_resnet.train_arm(rec, folds, profile, job.seed, arm + BUDGET_SUFFIX, {}, **options)
        else:
            raise ValueError(f"no growing budget for arm {arm!r}; expected one of {', '.join(BUDGET_ARMS)}")
    records.record_train_mae(rec, folds, job.saved_arms, job.seed, TRAIN_SAMPLE)


def _spawn(job: Job, profile: str) -> tuple[int, float, float]:
    """Run ``job`` in a child process: (exit code, seconds, peak resident memory in GB)."""
    spec = json.dumps({"job": job.__dict__, "profile": profile})
    t0 = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "quake_lib.studies.scaling", spec])
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, time.perf_counter() - t0, usage.ru_maxrss / 2**20  # KiB -> GiB


def _in_process(job: Job, profile: str) -> tuple[int, float, float]:
    """Run ``job`` here (a test-sized grid: a child's start would cost more than the job); the peak memory
    is this process's so far."""
    t0 = time.perf_counter()
    run_job(job, profiles.get(profile))
    return 0, time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


@dataclass
class RunSummary:
    done: list = field(default_factory=list)      # (job, seconds, peak GB)
    failed: list = field(default_factory=list)    # (job, exit code)


def run(grid_name: str = "full", profile: str = "default", dry_run: bool = False, say=print) -> RunSummary:
    """Train every missing job of the grid, one at a time (see the module docstring); ``dry_run``: only say
    what would run. The fixed-budget jobs first, then the growing-budget ones (the fixed results choose
    their arm). Returns what ran."""
    g, prof = grid(grid_name), profiles.get(profile)
    out = RunSummary()
    lock = paths.data_dir() / ".scaling_study.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(lock, wait=False, what="the data-size study"):
        for attempt in ("fixed", "budget"):
            jobs = fixed_jobs(g) if attempt == "fixed" else budget_jobs(g)
            if dry_run:
                for job in jobs:
                    say(f"to run: {job.describe()}")
                continue
            started = time.perf_counter()
            for i, job in enumerate(jobs):
                say(f"[{i + 1}/{len(jobs)} {attempt}] {job.describe()} ...")
                rc, seconds, peak = (_spawn if g.isolate else _in_process)(job, prof.name)
                if rc != 0:
                    out.failed.append((job, rc))
                    say(f"    failed (exit code {rc}); the next run retries it")
                    continue
                for arm in job.saved_arms:
                    records.record_cost(job.dataset, job.seed, job.approach, arm, seconds / len(job.saved_arms),
                                        peak, prof.name)
                out.done.append((job, seconds, peak))
                left = records.estimate_seconds(jobs[i + 1:], prof.name)
                say(f"    {seconds:.0f} s, peak {peak:.1f} GB; {time.perf_counter() - started:.0f} s so far, "
                    f"about {left / 60:.0f} min left for the {len(jobs) - i - 1} {attempt} jobs after it")
        if not dry_run:
            for p in g.points:  # chapters' runs reused at a point: their training error, once
                for seed in p.seeds:
                    records.fill_train_mae(p.dataset, seed, g.arms, TRAIN_SAMPLE)
    return out


def describe(grid_name: str) -> pd.DataFrame:
    """The points of a grid: axis, density, cycles, samples, how much of a cycle one 150,000-sample window
    spans, the seeds and whether the growing budget trains there (from the presets: nothing generated)."""

    g = grid(grid_name)
    rows = []
    for p in g.points:
        cfg = PRESETS[p.dataset]
        rows.append({"point": p.dataset, "axis": p.axis, "density": cfg.density, "cycles": cfg.n_cycles,
                     "samples (M)": round(recording_rows(cfg) / 1e6, 1),
                     "window spans (s)": round(evaluation.WINDOW / cfg.samples_per_second, 3),
                     "seeds": " ".join(map(str, p.seeds)),
                     "growing budget": "seed " + " ".join(map(str, g.budget_seeds))
                     if p.dataset in g.budget_points else ""})
    return pd.DataFrame(rows).set_index("point")


def samples_per_label_second(rec: Recording) -> float:
    """Samples per second of the lab clock: a synthetic recording's from its meta, else measured on its
    longest complete cycle (time_to_failure falls by one second per second)."""
    synthetic = rec.meta.get("synthetic", {}).get("samples_per_label_second")
    if synthetic:
        return float(synthetic)
    first, last = rec.cycles["first_row"].to_numpy(), rec.cycles["last_row"].to_numpy()
    k = int(np.argmax(last - first))
    return float((last[k] - first[k]) / (float(rec.ttf[first[k]]) - float(rec.ttf[last[k]])))


def size_statement(rec: Recording) -> str:
    """What a ranking measured on ``rec`` is a ranking of: its cycles, windows and how much of a cycle one
    window spans, against the real recording's (chapters 3-6 print it beside their conclusions)."""
    windows = evaluation.eval_windows(rec)
    span = evaluation.WINDOW / samples_per_label_second(rec)
    real_span = evaluation.WINDOW / REAL_SAMPLES_PER_SECOND
    return (f"Measured on {rec.name!r}: {len(set(windows.cycles))} cycles, {len(windows):,} evaluation windows "
            f"(the real recording: {REAL_SEGMENTS:,}), each spanning {span:.3f} s of the lab clock "
            f"(real: {real_span:.3f} s; {span / real_span:.1f}x as much). Rankings at this size need not hold at "
            "another: chapter 8 follows them up to the real size.")


def point_info(dataset: str) -> dict:
    cfg = PRESETS[dataset]
    return {"density": cfg.density, "n_cycles": cfg.n_cycles}


def load_scores(grid_name: str = "full") -> tuple[pd.DataFrame, list[str]]:
    """``(scores, missing)``: one row per (point, seed, arm, fold) saved for the grid, with the nested top-3
    ensemble of each (point, seed) whose arms are all saved, the training error where recorded (the
    columns of :mod:`.scaling_tables`); ``missing``: "point seed arm" of each run not (yet) saved."""
    g = grid(grid_name)
    parts, missing = [], []
    for p in g.points:
        for seed in p.seeds:
            arms = [a for a in g.arms if is_saved(p.dataset, a, seed)]
            missing += [f"{p.dataset} seed {seed} {a}" for a in g.arms if a not in arms]
            if p.dataset in g.budget_points and seed in g.budget_seeds:
                arms += [a + BUDGET_SUFFIX for a in BUDGET_ARMS if is_saved(p.dataset, a + BUDGET_SUFFIX, seed)]
            if not arms:
                continue
            oof = pd.concat([evaluation.load_oof(p.dataset, a, seed) for a in arms], ignore_index=True)
            members = oof[oof["arm"].isin([a for a in g.arms if a != "constant"])]
            if len(arms) >= len(g.arms) and members["arm"].nunique() > TOP_K:
                ens = ensembles(members[evaluation.OOF_COLUMNS], top_k=TOP_K)
                oof = pd.concat([oof, ens[ens["arm"] == ENSEMBLE]], ignore_index=True)
            fold = evaluation.fold_mae(oof)[["arm", "fold", "mae"]]
            n = int(oof[oof["arm"] == arms[0]].shape[0])
            train = records.train_mae(p.dataset, seed)
            fold = fold.merge(train, on=["arm", "fold"], how="left") if len(train) else fold.assign(train_mae=np.nan)
            parts.append(fold.assign(point=p.dataset, axis=p.axis, seed=seed, n_windows=n, **point_info(p.dataset)))
    parts = [f for f in parts if (f["arm"] == REFERENCE_ARM).any()]  # the tables compare with the reference
    cols = ["point", "axis", "density", "n_cycles", "n_windows", "seed", "arm", "fold", "mae", "train_mae"]
    scores = pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)
    return scores, missing


def load_costs(grid_name: str = "full") -> pd.DataFrame:
    """The recorded cost of every job of the grid's points (see :func:`.scaling_records.costs`)."""
    g = grid(grid_name)
    frames = [records.costs(p.dataset) for p in g.points]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else records.costs(g.points[0].dataset)


def _child(spec: str) -> None:
    data = json.loads(spec)
    job = Job(**{**data["job"], "arms": tuple(data["job"]["arms"])})
    run_job(job, profiles.get(data["profile"]))


if __name__ == "__main__":
    _child(sys.argv[1])
