"""Command line: ``python -m quake_lib COMMAND ...`` (``--help`` on each command lists its options).

The library is imported inside each command, not here, so that ``--help`` and ``--version`` answer at
once instead of after torch's import."""
from __future__ import annotations

import argparse
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

from . import __version__, profiles, progress
from .approaches import registry
from .atomic import LockBusyError, ResultsReplacedError

DESCRIPTION = """\
Predicting laboratory earthquakes from acoustic emission: the commands behind the report.
Progress goes to stderr (--no-progress turns it off); errors are one line on stderr, exit code 2."""

EXAMPLES = {
    None: """\
examples:
  python -m quake_lib report                          # every chapter, default profile, seed 0
  python -m quake_lib report --only 03 --profile quick
  python -m quake_lib ingest train.csv                 # the Kaggle file -> data/lanl/
  python -m quake_lib train --approach wave_cnn --arms wave_cnn_regression wave_cnn_binned
  python -m quake_lib submit --arm lightgbm --test-dir test/
""",
    "ingest": """\
examples:
  python -m quake_lib ingest train.csv                 # -> data/lanl/ (a rerun on the same file does nothing)
  python -m quake_lib ingest train.csv.zip --name lanl_v2 --force""",
    "prepare": """\
examples:
  python -m quake_lib prepare                          # the default synthetic dataset
  python -m quake_lib prepare quick --kaggle-dir /tmp/kaggle_quick""",
    "report": """\
examples:
  python -m quake_lib report                           # = make report
  python -m quake_lib report --seeds 0 1 2             # = make report SEEDS="0 1 2": the comparison over 3 seeds
  python -m quake_lib report --dataset lanl --only 01 02
  python -m quake_lib report --only 06 --output-dir /tmp/run -p top_k=4
  python -m quake_lib report --html-only               # rebuild reports/ from the committed notebooks""",
    "train": """\
examples:
  python -m quake_lib train --approach wave_cnn --arms wave_cnn_binned_soft
  python -m quake_lib train --approach lightgbm --dataset lanl
  python -m quake_lib train --approach cpc --profile quick --seed 1""",
    "study": """\
examples:
  python -m quake_lib study scaling                    # the whole data-size grid (hours on 2 cores; resumable)
  python -m quake_lib study scaling --dry-run          # what is still to train
  python -m quake_lib study scaling --grid report      # the bounded grid `make report` runs (minutes)""",
    "submit": """\
examples:
  python -m quake_lib submit --arm lightgbm --test-dir ~/kaggle/test
  python -m quake_lib submit --arm wave_cnn_binned_soft --dataset lanl --test-dir test/ --output sub.csv""",
    "rehearsal": """\
examples:
  python -m quake_lib rehearsal /big/disk/rehearsal     # Kaggle's size: ~629M-row train.csv + 2,624 segments, ~11 GB
  python -m quake_lib rehearsal /tmp/reh --rows 2000000 --test-segments 20   # the same shape, small""",
    "calibrate": """\
examples:
  python -m quake_lib calibrate                        # needs ../shared/lanl or QUAKE_SHARED_DIR""",
}


def version_text() -> str:
    """This package's version and those of the packages that decide its numbers (read from the
    installed metadata, without importing them)."""
    def v(name):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"
    deps = ", ".join(f"{name} {v(name)}" for name in ("torch", "numpy", "lightning", "lightgbm", "pandas"))
    return f"quake_lib {__version__} (Python {platform.python_version()}; {deps})"


class _Version(argparse.Action):
    def __init__(self, option_strings, dest=argparse.SUPPRESS, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text())
        parser.exit(0)


def _ingest(args) -> None:
    from .data.ingest import ingest
    ingest(args.path, name=args.name, force=args.force, progress=not args.no_progress)


def _prepare(args) -> None:
    from .data import datasets
    rec = datasets.prepare(args.name, force=args.force)
    print(rec)
    if args.kaggle_dir:
        from .data.synthetic import kaggle_layout
        kaggle_layout.write_kaggle_files(args.name, args.kaggle_dir, train_csv=not args.no_train_csv)


def _rehearsal(args) -> None:
    from .data.synthetic import rehearsal
    spec = rehearsal.RehearsalSpec(train_rows=args.rows, test_segments=args.test_segments, seed=args.seed)
    res = rehearsal.write_rehearsal(args.directory, spec, inside_repo=args.inside_repo, force=args.force,
                                    progress=not args.no_progress)
    print(res.summary())
    print("next (from the repository root; their timings: benchmarks/README.md):")
    for line in rehearsal.next_commands(res.directory, args.name):
        print(f"  {line}")


def _report(args) -> None:
    from . import paths
    from .report import execute, preflight
    extra = preflight.parse_assignments(args.param)
    out = Path(args.output_dir).resolve() if args.output_dir else None
    html = None if args.no_html else (Path(args.html_dir).resolve() if args.html_dir else paths.REPORTS_DIR)
    if args.html_only:
        from .report import site
        if html is None:
            raise ValueError("--html-only renders HTML; expected no --no-html beside it")
        print(f"report site: {site.build(out or paths.NOTEBOOKS_DIR, html)}")
        return
    execute.execute_all(args.dataset, args.profile, args.seed, only=args.only, output_dir=out, html_dir=html,
                        extra=extra, seeds=args.seeds)


def _train(args) -> None:
    from . import evaluation
    from .approaches import protocol
    from .data import datasets

    approach = registry.get(args.approach)
    arms = approach.check_arms(args.arms)
    profile = profiles.get(args.profile)
    # every name is checked before anything is generated or trained
    datasets.check_available(args.dataset)
    rec = datasets.prepare(args.dataset)
    folds = evaluation.make_folds(rec, n_folds=args.folds)
    result = protocol.cross_validate(approach.name, rec, folds, profile, args.seed, arms=arms, devices=args.devices)
    print(evaluation.mae_table(result.oof).round(3).to_string())


def _study(args) -> int:
    from .studies import scaling

    summary = scaling.run(args.grid, args.profile, dry_run=args.dry_run)
    if not args.dry_run:
        print(f"{len(summary.done)} jobs trained, {len(summary.failed)} failed"
              + ("; run the same command again to retry them" if summary.failed else ""))
        _, missing = scaling.load_scores(args.grid)
        print(f"{len(missing)} runs of the grid missing" + (f": {', '.join(missing[:6])}..." if missing else ""))
    return 1 if summary.failed else 0


def _calibrate(args) -> int:
    from .data.synthetic.calibration import calibrate
    from .figures import style
    from .figures.synthetic_calibration import calibration_figure
    from .paths import IMAGES_DIR

    cal = calibrate(n_cycles=args.cycles, per_bin=args.per_bin, seed=args.seed)
    cols = [c for c in cal.table.columns if not c.endswith("_ratio")]
    print(cal.table[cols].round(2).to_string())
    print(cal.spectrum_summary.round(3).to_string())
    print(cal.checks.to_string(index=False))
    path = style.save(calibration_figure(cal), args.out or IMAGES_DIR / "calibration.png", dpi=100)
    print(f"figure: {path}")
    return 0 if cal.passed else 1


def _submit(args) -> None:
    from . import submit
    sub = submit.submit(args.arm, args.test_dir, dataset=args.dataset, seed=args.seed,
                        sample_submission=args.sample_submission,
                        labels=args.labels, output=args.output, allow_missing=args.allow_missing,
                        intervals=args.intervals)
    print(sub.summary())


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (``error: ...``, exit code 2) like every other error of
    the command line, instead of the usage block followed by the message."""

    def error(self, message):
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def _int_at_least(least: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {least}, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"expected an integer >= {least}, got {value}")
        return value
    parse.__name__ = f"integer >= {least}"
    return parse


def _devices(text: str) -> int:
    value = _int_at_least(-1)(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected a number of GPUs >= 1, or -1 for all of them, got 0")
    return value


def _sigma(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds >= 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m quake_lib", description=DESCRIPTION, epilog=EXAMPLES[None],
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action=_Version, help="print the versions of quake_lib and what it runs on")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = _command(sub, "ingest", help="Kaggle train.csv (plain, .zip or .gz) -> data/NAME/")
    s.add_argument("path", help="path to train.csv, train.csv.zip or train.csv.gz")
    s.add_argument("--name", default="lanl", help="dataset name under data/ (default: lanl)")
    s.add_argument("--force", action="store_true", help="ingest again even if the source is unchanged")
    _no_progress(s)
    s.set_defaults(func=_ingest)

    s = _command(sub, "prepare", help="make dataset NAME ready: generate a synthetic preset "
                       "(synthetic, quick) on first use, or check an ingested one")
    s.add_argument("name", nargs="?", default="synthetic", help="dataset name (default: synthetic)")
    s.add_argument("--force", action="store_true", help="generate a synthetic preset again even if present")
    s.add_argument("--kaggle-dir", help="synthetic presets: also write train.csv, test/, "
                   "sample_submission.csv and the hidden test labels here")
    s.add_argument("--no-train-csv", action="store_true", help="with --kaggle-dir: only the test side "
                   "(test/, sample_submission.csv, test_labels.csv), what a submission needs")
    s.set_defaults(func=_prepare)

    s = _command(sub, "rehearsal", help="write a Kaggle-size synthetic train.csv (~629M rows, the real cycle "
                       "list), 2,624 test segments and their hidden labels into DIR (outside the repository)")
    s.add_argument("directory", metavar="DIR", help="where to write train.csv, test/, sample_submission.csv, "
                   "test_labels.csv (must be outside the repository unless --inside-repo)")
    s.add_argument("--rows", type=_int_at_least(500_000), default=629_145_480,
                   help="train.csv rows: sets the density, same cycles (default: the real 629,145,480)")
    s.add_argument("--test-segments", type=_int_at_least(1), default=2624,
                   help="test segments of 150,000 rows (default: the real 2,624)")
    s.add_argument("--seed", type=_int_at_least(0), default=0, help="generator seed (default: 0)")
    s.add_argument("--name", default="rehearsal", help="dataset name used in the printed next commands "
                   "(default: rehearsal); nothing is written under data/")
    s.add_argument("--inside-repo", action="store_true", help="allow DIR inside the repository")
    s.add_argument("--force", action="store_true", help="write again even if DIR holds this rehearsal, or "
                   "files it did not write (those in the way are moved to DIR/replaced-<time>/, never deleted)")
    _no_progress(s)
    s.set_defaults(func=_rehearsal)

    s = _command(sub, "report", help="execute the numbered notebooks in order with papermill")
    s.add_argument("--dataset", default="synthetic", help="dataset name (default: synthetic)")
    s.add_argument("--profile", default="default", choices=list(profiles.PROFILES),
                   help="how much data and compute each chapter spends (default: default)")
    s.add_argument("--seed", type=int, default=0, help="seed for every notebook (default: 0)")
    s.add_argument("--seeds", type=int, nargs="+", metavar="S", help="run the notebooks that train once per seed (e.g. "
                   "--seeds 0 1 2), each seed's results apart; the comparison reads them all. The first seed's "
                   "notebooks replace notebooks/, the others' go beside their results and skip the design "
                   "studies")
    s.add_argument("--only", nargs="+", metavar="NN", help="run only these notebooks (number prefixes)")
    s.add_argument("-p", "--param", action="append", metavar="NAME=VALUE",
                   help="another notebook parameter (checked against the notebooks' parameters cells)")
    s.add_argument("--output-dir", help="write executed notebooks here instead of over notebooks/")
    s.add_argument("--html-dir", help="where to render HTML pages (default: reports/)")
    s.add_argument("--no-html", action="store_true", help="do not render HTML pages")
    s.add_argument("--html-only", action="store_true", help="execute nothing: render the HTML pages of the "
                   "notebooks as they are (e.g. the committed ones) and the site's index")
    _no_progress(s)
    s.set_defaults(func=_report)

    s = _command(sub, "train", help="cross-validate an approach's arms on the fixed leave-cycles-out folds, as its "
                       "notebook does; write each arm's run (OOF predictions, fold models) to data/DATASET/results/")
    s.add_argument("--approach", required=True, choices=list(registry.names()), help="an approach of the registry")
    s.add_argument("--arms", nargs="+", metavar="ARM", help="only these of its arms (default: all of them; "
                   f"e.g. {registry.get(registry.names()[-1]).arms[0]})")
    s.add_argument("--dataset", default="synthetic", help="dataset name (default: synthetic)")
    s.add_argument("--profile", default="default", choices=list(profiles.PROFILES),
                   help="sizes of the training (default: default)")
    s.add_argument("--seed", type=_int_at_least(0), default=0, help="training seed (folds are fixed; default: 0)")
    s.add_argument("--folds", type=_int_at_least(2), default=5, help="number of folds (default: 5)")
    s.add_argument("--devices", type=_devices, help="GPUs to use (several: DDP; -1: all); ignored on CPU")
    _no_progress(s)
    s.set_defaults(func=_train)

    s = _command(sub, "study", help="a study of several datasets: `scaling` trains the comparison's arms at "
                       "growing data size (every run saved as it finishes; a rerun resumes)")
    s.add_argument("name", choices=["scaling"], help="the study")
    s.add_argument("--grid", default="full", help="which grid: full (the chapter's), report (bounded, minutes) "
                   "or quick (tests)")
    s.add_argument("--profile", default="default", choices=list(profiles.PROFILES),
                   help="sizes of the training (default: default)")
    s.add_argument("--dry-run", action="store_true", help="only list what is still to train")
    _no_progress(s)
    s.set_defaults(func=_study)

    s = _command(sub, "submit", help="Kaggle submission.csv from an arm's saved fold models "
                       "(their mean), in sample_submission.csv order; scored if test labels exist")
    s.add_argument("--arm", required=True, help="a trained arm: one of the comparison ("
                   f"{', '.join(registry.arms())}) or any other arm a training run saved")
    s.add_argument("--test-dir", required=True, help="folder of the test seg_*.csv files")
    s.add_argument("--dataset", default="synthetic", help="dataset the arm was trained on (default: synthetic)")
    s.add_argument("--seed", type=_int_at_least(0), default=0, help="the training seed of the run (default: 0)")
    s.add_argument("--sample-submission", help="default: sample_submission.csv beside the test folder")
    s.add_argument("--labels", help="seg_id,time_to_failure to score against (default: test_labels.csv "
                   "beside the test folder, if present; never required)")
    s.add_argument("--output", default="submission.csv", help="where to write (default: submission.csv)")
    s.add_argument("--allow-missing", action="store_true", help="sample ids without a segment file are "
                   "left out (a PARTIAL file Kaggle rejects, for checking only) instead of an error")
    s.add_argument("--intervals", action="store_true", help="also write central 80%% prediction intervals "
                   "(seg_id,time_to_failure,lower,upper) to <output stem>_intervals.csv; the submission is unchanged")
    _no_progress(s)
    s.set_defaults(func=_submit)

    s = _command(sub, "calibrate", help="the synthetic generator against the real LANL statistics at the "
                       "real density (needs ../shared/lanl); prints the checks, saves images/calibration.png")
    s.add_argument("--cycles", type=int, default=80, help="simulated cycles (default 80)")
    s.add_argument("--per-bin", type=int, default=60, help="windows per time_to_failure bin (default 60)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", default=None, help="PNG path (default images/calibration.png)")
    s.set_defaults(func=_calibrate)
    return p


def _command(sub, name: str, **kwargs) -> argparse.ArgumentParser:
    """A subcommand, with its examples under its options."""
    return sub.add_parser(name, epilog=EXAMPLES[name], formatter_class=argparse.RawDescriptionHelpFormatter,
                          **kwargs)


def _no_progress(parser) -> None:
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress on stderr (also: QUAKE_NO_PROGRESS=1 in the environment)")


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "no_progress", False):
        os.environ[progress.OFF_ENV] = "1"  # this process and every kernel it starts
    try:
        rc = args.func(args)
    except (FileNotFoundError, ValueError, IsADirectoryError, LockBusyError, ResultsReplacedError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a full disk, a missing permission, a file where a folder belongs: said in words
        from .atomic import os_error_message
        message = os_error_message(e)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # every writer replaces a file or folder only once the new one is complete: an interrupt
        # discards the one in progress and leaves what was there
        what = (f"nothing was changed (dataset {args.name!r} is as it was)" if args.command == "ingest"
                else "what was being written was discarded; everything finished before is kept")
        print(f"error: interrupted; {what}", file=sys.stderr)
        return 130
    return rc or 0
