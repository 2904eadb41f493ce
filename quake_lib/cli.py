"""Command line: ``python -m quake_lib COMMAND ...`` (``--help`` on each command lists its options)."""
from __future__ import annotations

import argparse
import sys


def _ingest(args) -> None:
    from .ingest import ingest
    ingest(args.path, name=args.name, force=args.force, progress=None if not args.no_progress else False)


def _prepare(args) -> None:
    from . import datasets
    rec = datasets.prepare(args.name, force=args.force)
    print(rec)
    if args.kaggle_dir:
        from .synthetic import kaggle_layout
        kaggle_layout.write_kaggle_files(args.name, args.kaggle_dir)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m quake_lib", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("ingest", help="Kaggle train.csv (plain, .zip or .gz) -> data/NAME/")
    s.add_argument("path", help="path to train.csv, train.csv.zip or train.csv.gz")
    s.add_argument("--name", default="lanl", help="dataset name under data/ (default: lanl)")
    s.add_argument("--force", action="store_true", help="ingest again even if the source is unchanged")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=_ingest)

    s = sub.add_parser("prepare", help="make dataset NAME ready: generate a synthetic preset "
                       "(synthetic, quick) on first use, or check an ingested one")
    s.add_argument("name", nargs="?", default="synthetic", help="dataset name (default: synthetic)")
    s.add_argument("--force", action="store_true", help="generate a synthetic preset again even if present")
    s.add_argument("--kaggle-dir", help="synthetic presets: also write train.csv, test/, "
                   "sample_submission.csv and the hidden test labels here")
    s.set_defaults(func=_prepare)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (FileNotFoundError, ValueError, IsADirectoryError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
