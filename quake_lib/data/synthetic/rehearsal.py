"""A full-size rehearsal of the real-data path: Kaggle's files at Kaggle's size, from the generator.

``python -m quake_lib rehearsal DIR`` writes, outside the repository::

    DIR/train.csv               ~629 M rows, ~10 GB: density 1 (every 4 MHz sample) and the real cycle
                                list: a 1.47 s head, the 15 real cycle lengths between 16 failures, the
                                real partial tail (1.86 s recorded)
    DIR/test/seg_xxxxxx.csv      2,624 segments of 150,000 rows of a later test period, ~1.1 GB
    DIR/sample_submission.csv    seg_id,time_to_failure (0.0), as Kaggle's
    DIR/test_labels.csv          the hidden truth (scoring only)
    DIR/rehearsal.json           what was written, from what, in how long; written last, so its
                                 presence means the set is complete (a rerun then does nothing)
    DIR/test/.rehearsal.json     the segment files the rehearsal wrote into test/: written first, it
                                 marks the folder as the rehearsal's even when a run stopped early

A folder holding files the rehearsal did not write (the real Kaggle files, say) is refused; with
``force`` those in the way are moved to ``DIR/replaced-<time>/``: nothing the rehearsal did not
create is ever overwritten or deleted.

so that ``ingest``, ``make report`` and ``submit`` can be run and timed on data as big as the real
ones. Nothing goes under ``data/``: ingesting ``DIR/train.csv`` is the user's next step.

One generator: the recording is :func:`.generate.iter_chunks` with a schedule whose cycle lengths are
imposed (:func:`.cycles.make_schedule`), the test period :func:`.kaggle_layout.write_test_side`, the
text :class:`quake_lib.data.kaggle.CsvStreamWriter` (the same formatter as every other Kaggle file).

Memory is bounded by one generation chunk (``chunk_blocks`` x 4,096 samples: 4 M rows by default; the
rendering's float64 temporaries make a few hundred MB) plus a 32 MB formatting buffer, whatever the
size: the whole recording and the label array (:func:`.generate.labels`) are never built. While a
writer thread formats and writes chunk k (the compiled formatter releases the GIL), the generator
renders chunk k+1; never more than those two chunks. ``rows`` writes the same shape (the real cycle
list, 16 failures) at a lower density, for tests and dry runs.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ... import paths
from ...atomic import atomic_path, clean_stale, write_text
from ...constants import SEGMENT_LENGTH
from ...progress import bar as progress_bar
from .. import csv_parse, kaggle
from .config import (
    BLOCK,
    GENERATOR_VERSION,
    REAL_CYCLE_LENGTHS_S,
    REAL_TAIL_CYCLE_S,
    REAL_TEST_SEGMENTS,
    REAL_TRAIN_ROWS,
    SyntheticConfig,
    config_hash,
)
from .generate import iter_chunks, recording_rows, schedule_for
from .kaggle_layout import segment_ids, test_period_config, write_test_side

MANIFEST = "rehearsal.json"
OUTPUTS = ("train.csv", "test", "sample_submission.csv", "test_labels.csv")
SEGMENTS_MARK = ".rehearsal.json"  # in test/: {"segments": [file names]}, what the rehearsal wrote there
REPLACED = "replaced-"             # + time: files of the user's that were in the way of a forced run
# what a killed run of this command leaves: hidden siblings of its outputs (atomic.py's names)
_LEFTOVER = re.compile(rf"^\.({'|'.join(map(re.escape, (*OUTPUTS, MANIFEST)))})\.(tmp|partial|old)-\d+$")
# Fewer rows than this and a 4,096-row block spans over a second of label time: the shortest real
# cycle (7.06 s) would hold only a few blocks, and the file would no longer have the real shape.
MIN_TRAIN_ROWS = 500_000
# Bytes per row, generous, for the free-space check: "12,1.4690999832\n" is 16; a test row "5\n" 2-3.
TRAIN_ROW_BYTES, TEST_ROW_BYTES = 16.5, 3.5


@dataclass(frozen=True)
class RehearsalSpec:
    """What to write: the real sizes by default; ``train_rows`` sets the density (rows / 629,145,480)."""

    train_rows: int = REAL_TRAIN_ROWS   # a target: the label clock's random block steps give +-0.05%
    test_segments: int = REAL_TEST_SEGMENTS
    seed: int = 0
    chunk_blocks: int = 1024            # generation chunk: 4 M rows, what bounds memory

    def __post_init__(self):
        for name, least in (("train_rows", MIN_TRAIN_ROWS), ("test_segments", 1), ("seed", 0), ("chunk_blocks", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"rehearsal {name}: expected an integer >= {least:,}, got {value!r}")

    @property
    def density(self) -> float:
        return self.train_rows / REAL_TRAIN_ROWS

    def config(self) -> SyntheticConfig:
        """The training recording's config (its cycle lengths are imposed by :func:`train_schedule`)."""
        return SyntheticConfig(n_cycles=len(REAL_CYCLE_LENGTHS_S), density=self.density, seed=self.seed,
                               chunk_blocks=self.chunk_blocks)

    def test_config(self) -> SyntheticConfig:
        """The later test period, long enough for ``test_segments`` segments (drawn cycle lengths)."""
        return test_period_config(self.config(), segments=self.test_segments)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class RehearsalResult:
    directory: Path
    train_rows: int
    n_failures: int
    train_bytes: int
    test_segments: int
    test_mean_time_to_failure: float
    seconds: dict
    skipped: bool = False

    def summary(self) -> str:
        if self.skipped:
            return (f"{self.directory} already holds this rehearsal ({self.train_rows:,} rows, "
                    f"{self.test_segments:,} test segments); nothing to do (use --force to write it again)")
        return (f"wrote {self.directory}: train.csv {self.train_rows:,} rows, {self.n_failures} failures, "
                f"{self.train_bytes / 1e9:.2f} GB in {self.seconds['train']:.0f} s; {self.test_segments:,} "
                f"test segments (mean time_to_failure {self.test_mean_time_to_failure:.2f} s) in "
                f"{self.seconds['test']:.0f} s")


def train_schedule(spec: RehearsalSpec):
    """The training recording's schedule: the real label-cycle lengths, then the real tail's."""
    return schedule_for(spec.config(), lengths=(*REAL_CYCLE_LENGTHS_S, REAL_TAIL_CYCLE_S))


def check_directory(directory, inside_repo: bool = False) -> Path:
    """``directory`` resolved; refused inside the repository (``paths.ROOT``) unless ``inside_repo``:
    10 GB of generated text must never end up beside tracked files or under ``data/``."""
    d = Path(directory).expanduser().resolve()
    root = paths.ROOT.resolve()
    if not inside_repo and (d == root or root in d.parents):
        raise ValueError(f"{d}: inside the repository ({root}); expected a directory outside it for the "
                         "rehearsal's ~11 GB of files (or pass --inside-repo)")
    if d.exists() and not d.is_dir():
        raise ValueError(f"{d}: is a file; expected a directory for train.csv and test/")
    return d


def estimated_bytes(train_rows: int, test_segments: int, length: int = SEGMENT_LENGTH) -> int:
    return int(train_rows * TRAIN_ROW_BYTES + test_segments * length * TEST_ROW_BYTES)


def check_space(directory: Path, needed: int) -> None:
    """Refuse before writing anything when the file system cannot hold the new files (files of an
    earlier run are replaced only once their successors are complete, so they do not count as free)."""
    probe = next(p for p in (directory, *directory.parents) if p.exists())
    free = shutil.disk_usage(probe).free
    if free < needed:
        raise ValueError(f"{directory}: {free / 1e9:.1f} GB free; the rehearsal needs about "
                         f"{needed / 1e9:.1f} GB (train.csv and test/). Free some space or pick another directory")


def own_segments(directory: Path) -> set[str] | None:
    """The file names in ``directory/test/`` that the rehearsal wrote, or None when nothing in
    ``directory`` says a rehearsal was written there (then every file in it is the user's)."""
    try:
        return set(json.loads((directory / "test" / SEGMENTS_MARK).read_text(encoding="utf-8"))["segments"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:  # a rehearsal complete before the mark existed: its segments follow from its spec
        spec = RehearsalSpec(**json.loads((directory / MANIFEST).read_text(encoding="utf-8"))["spec"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {f"{sid}.csv" for sid in segment_ids(spec.test_config().seed, spec.test_segments)}


def foreign_files(directory: Path) -> list[Path]:
    """What in ``directory`` the rehearsal did not write: everything (its own killed runs' hidden
    leftovers aside) when it holds no rehearsal, else the files in ``test/`` that are not its
    segments (a swap of ``test/`` would delete them)."""
    if not directory.is_dir():
        return []
    ours = own_segments(directory)
    if ours is None:
        return sorted(p for p in directory.iterdir() if not _LEFTOVER.match(p.name))
    test = directory / "test"
    return sorted(p for p in test.iterdir() if p.name not in ours | {SEGMENTS_MARK}) if test.is_dir() else []


def check_foreign(directory: Path, force: bool) -> list[Path]:
    """The user's files that writing the rehearsal would overwrite or delete (to be moved aside,
    ``force``); without ``force`` any file the rehearsal did not write is refused."""
    foreign = foreign_files(directory)
    if foreign and not force:
        names = [str(p.relative_to(directory)) + ("/" if p.is_dir() else "") for p in foreign]
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3:,} more" if len(names) > 3 else "")
        why = f"no {MANIFEST}" if own_segments(directory) is None else f"not listed in test/{SEGMENTS_MARK}"
        raise ValueError(f"{directory}: holds {shown}, which the rehearsal did not write ({why}); expected a "
                         "new or empty directory or an earlier rehearsal's (--force writes anyway and moves "
                         f"what is in the way to {directory / REPLACED}<time>/; nothing is deleted)")
    return [p for p in foreign if p.parent != directory or p.name in OUTPUTS]


def move_aside(directory: Path, files: list[Path], log=print) -> Path | None:
    """Move ``files`` (inside ``directory``) to ``directory/replaced-<time>/``, same relative paths."""
    if not files:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest, k = directory / f"{REPLACED}{stamp}", 1
    while dest.exists():
        k += 1
        dest = directory / f"{REPLACED}{stamp}-{k}"
    for p in files:
        target = dest / p.relative_to(directory)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(p, target)  # same file system: nothing is copied, nothing can be half-moved
    log(f"moved {', '.join(str(p.relative_to(directory)) for p in files)} (not written by the rehearsal) "
        f"to {dest}")
    return dest


def _mark_test_folder(directory: Path) -> bool:
    """Make sure ``test/`` carries the mark that says which files in it are the rehearsal's (before
    anything is written, so that a run stopped at any point leaves a folder it recognizes); return
    whether ``test/`` was made for it."""
    test = directory / "test"
    if (test / SEGMENTS_MARK).exists():
        return False
    made = not test.exists()
    test.mkdir(exist_ok=True)
    write_text(test / SEGMENTS_MARK, json.dumps({"segments": sorted(own_segments(directory) or ())}) + "\n")
    return made


def _unmark_if_alone(directory: Path) -> None:
    """Remove a ``test/`` made only for the mark when nothing else was written (a run that failed
    early leaves the folder as it found it)."""
    test = directory / "test"
    if [p.name for p in test.iterdir()] == [SEGMENTS_MARK] and not any(
            (directory / f).exists() for f in OUTPUTS if f != "test"):
        (test / SEGMENTS_MARK).unlink()
        test.rmdir()


def is_complete(directory: Path, spec: RehearsalSpec) -> dict | None:
    """The manifest of a finished rehearsal with this spec and generator in ``directory``, else None."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    same = (manifest.get("spec") == spec.to_dict()
            and manifest.get("config_hash") == config_hash(spec.config())
            and manifest.get("test_config_hash") == config_hash(spec.test_config()))
    files = all((directory / f).exists() for f in OUTPUTS)
    return manifest if same and files else None


def write_train_csv(path: Path, spec: RehearsalSpec, sched, progress: bool = False) -> tuple[int, int]:
    """Stream the training recording into ``path`` (atomically); return (rows, bytes)."""
    cfg = spec.config()
    total = recording_rows(cfg, sched)
    bar = progress_bar(total=total, desc=path.name, unit="row", unit_scale=True, disable=not progress)
    clean_stale(path, tags=("tmp",))  # a killed run's .train.csv.tmp-PID (atomic_path's name)
    with atomic_path(path) as tmp, open(tmp, "wb") as f, ThreadPoolExecutor(1) as pool:
        writer = kaggle.CsvStreamWriter(f, csv_parse.TRAIN_COLUMNS)
        pending, pending_rows = None, 0
        try:
            for x, ttf in iter_chunks(cfg, sched):
                if pending is not None:
                    pending.result()  # one chunk in the writer at a time: memory stays two chunks
                    bar.update(pending_rows)
                pending, pending_rows = pool.submit(writer.write, x, ttf), len(x)
            if pending is not None:
                pending.result()
                bar.update(pending_rows)
        finally:
            bar.close()
    if writer.rows != total:  # the clock and the renderer disagree: a generator bug, not bad input
        raise RuntimeError(f"{path}: wrote {writer.rows:,} rows; the label clock said {total:,}")
    return writer.rows, writer.bytes


def write_rehearsal(directory, spec: RehearsalSpec = RehearsalSpec(), inside_repo: bool = False,
                    force: bool = False, progress: bool = False, log=print) -> RehearsalResult:
    """Write the rehearsal's files into ``directory`` (see the module docstring)."""
    directory = check_directory(directory, inside_repo)
    done = None if force else is_complete(directory, spec)
    if done is not None:
        return RehearsalResult(directory, done["train_rows"], done["n_failures"], done["train_bytes"],
                               done["test_segments"], done["test_mean_time_to_failure"], done["seconds"],
                               skipped=True)
    sched = train_schedule(spec)
    rows = recording_rows(spec.config(), sched)
    in_the_way = check_foreign(directory, force)
    check_space(directory, estimated_bytes(rows, spec.test_segments))
    directory.mkdir(parents=True, exist_ok=True)
    move_aside(directory, in_the_way, log)
    made_test = _mark_test_folder(directory)
    (directory / MANIFEST).unlink(missing_ok=True)  # from here on the set is incomplete
    try:
        return _write_all(directory, spec, sched, progress, log)
    except BaseException:
        if made_test:
            _unmark_if_alone(directory)
        raise


def _write_all(directory: Path, spec: RehearsalSpec, sched, progress: bool, log) -> RehearsalResult:
    cfg, tcfg = spec.config(), spec.test_config()
    rows = recording_rows(cfg, sched)
    n_failures = int((sched.label_failures < sched.t_end).sum())
    log(f"writing {directory / 'train.csv'}: {rows:,} rows at density {spec.density:.4g}, {n_failures} failures "
        f"(~{rows * TRAIN_ROW_BYTES / 1e9:.2f} GB)")
    t0 = time.perf_counter()
    rows, n_bytes = write_train_csv(directory / "train.csv", spec, sched, progress)
    t1 = time.perf_counter()
    log(f"writing {directory / 'test'}: {spec.test_segments:,} segments of {SEGMENT_LENGTH:,} rows")
    ids = segment_ids(tcfg.seed, spec.test_segments)
    mark = json.dumps({"segments": sorted(f"{sid}.csv" for sid in ids)}) + "\n"
    targets = write_test_side(directory, tcfg, ids, SEGMENT_LENGTH, progress, extra={SEGMENTS_MARK: mark})
    seconds = {"train": round(t1 - t0, 1), "test": round(time.perf_counter() - t1, 1)}
    result = RehearsalResult(directory, rows, n_failures, n_bytes, len(targets), float(targets.mean()), seconds)
    manifest = {"spec": spec.to_dict(), "generator_version": GENERATOR_VERSION,
                "config": cfg.to_dict(), "config_hash": config_hash(cfg), "test_config_hash": config_hash(tcfg),
                "label_cycle_lengths_s": [round(float(v), 4) for v in
                                          (sched.label_failures[1:] - sched.label_failures[:-1])],
                **{k: v for k, v in dataclasses.asdict(result).items() if k not in ("directory", "skipped")}}
    write_text(directory / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return result


def next_commands(directory, name: str = "rehearsal") -> list[str]:
    """What to run on the files, in order (what benchmarks/README.md measured), so that nothing lands in the
    repository: the ingested dataset (~3.8 GB of .npy) under ``DIR/data`` through ``QUAKE_DATA_DIR``, the
    executed notebooks and their HTML under ``DIR`` (``make report DATASET=...`` would write over the
    committed ``notebooks/`` and ``reports/``), the submission file in ``DIR``."""
    d = Path(directory)
    paths.check_name(name)
    return [f"export QUAKE_DATA_DIR={d / 'data'}",
            f"python -m quake_lib ingest {d / 'train.csv'} --name {name}",
            f"ln -s {d / 'test'} {d / 'data' / (name + '_test')}   # the CPC approach pre-trains on the test segments",
            f"python -m quake_lib report --dataset {name} --output-dir {d / 'notebooks'} --html-dir {d / 'reports'}"
            f"   # = make report DATASET={name}, without writing over notebooks/ and reports/",
            f"python -m quake_lib submit --arm lightgbm --dataset {name} --test-dir {d / 'test'} "
            f"--output {d / 'submission_lightgbm.csv'}   # scored against test_labels.csv; likewise each arm"]


def expected_sizes(spec: RehearsalSpec = RehearsalSpec()) -> dict:
    """Rows and approximate bytes, without rendering a sample (for the docs and a dry run)."""
    rows = recording_rows(spec.config(), train_schedule(spec))
    return {"train_rows": rows, "test_rows": spec.test_segments * SEGMENT_LENGTH,
            "bytes": estimated_bytes(rows, spec.test_segments),
            "chunk_rows": spec.chunk_blocks * BLOCK, "train_chunks": math.ceil(rows / (spec.chunk_blocks * BLOCK))}
