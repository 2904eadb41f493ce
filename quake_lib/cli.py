"""Command line: ``python -m quake_lib COMMAND ...`` (``--help`` on each command lists its options)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _ingest(args) -> None:
    from .ingest import ingest
    ingest(args.path, name=args.name, force=args.force, progress=None if not args.no_progress else False)


def _prepare(args) -> None:
    from . import datasets
    rec = datasets.prepare(args.name, force=args.force)
    print(rec)
    if args.kaggle_dir:
        from .synthetic import kaggle_layout
        kaggle_layout.write_kaggle_files(args.name, args.kaggle_dir, train_csv=not args.no_train_csv)


def _report(args) -> None:
    from . import report
    extra = report.parse_assignments(args.param)
    out = Path(args.output_dir).resolve() if args.output_dir else None
    html = None if args.no_html else (Path(args.html_dir).resolve() if args.html_dir else report.HTML_DIR)
    report.run(args.dataset, args.profile, args.seed, only=args.only, output_dir=out, html_dir=html,
               extra=extra)


def _train(args) -> None:
    from . import baselines, evaluation
    if args.approach in baselines.BASELINES:
        oof = baselines.run(args.dataset, args.approach, seed=args.seed, n_folds=args.folds)
        print(evaluation.mae_table(oof).round(3).to_string())
        return
    from .train import fit
    overrides = {} if args.devices is None else {"devices": args.devices}
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    for head in args.head:
        spec = head
        if head == "binned" and args.label_sigma:
            from .train import BinnedHead
            spec = lambda: BinnedHead(label_sigma=args.label_sigma)  # noqa: E731
        res = fit.run(args.dataset, model=args.approach, head=spec, profile=args.profile, seed=args.seed,
                      n_folds=args.folds, approach=args.name and f"{args.name}_{head}", **overrides)
        print(res.mae_table().round(3).to_string())
        print(f"{res.approach}: {res.seconds:.1f} s for {len(res.fold_seconds)} folds")


def _submit(args) -> None:
    from . import submit
    sub = submit.submit(args.approach, args.test_dir, dataset=args.dataset,
                        sample_submission=args.sample_submission, labels=args.labels, output=args.output,
                        allow_missing=args.allow_missing)
    print(sub.summary())


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
    s.add_argument("--no-train-csv", action="store_true", help="with --kaggle-dir: only the test side "
                   "(test/, sample_submission.csv, test_labels.csv), what a submission needs")
    s.set_defaults(func=_prepare)

    s = sub.add_parser("report", help="execute the numbered notebooks in order with papermill")
    s.add_argument("--dataset", default="synthetic", help="dataset name (default: synthetic)")
    s.add_argument("--profile", default="default", help="quick, default or full (default: default)")
    s.add_argument("--seed", type=int, default=0, help="seed for every notebook (default: 0)")
    s.add_argument("--only", nargs="+", metavar="NN", help="run only these notebooks (number prefixes)")
    s.add_argument("-p", "--param", action="append", metavar="NAME=VALUE",
                   help="another notebook parameter (checked against the notebooks' parameters cells)")
    s.add_argument("--output-dir", help="write executed notebooks here instead of over notebooks/")
    s.add_argument("--html-dir", help="where to render HTML pages (default: reports/)")
    s.add_argument("--no-html", action="store_true", help="do not render HTML pages")
    s.set_defaults(func=_report)

    s = sub.add_parser("train", help="cross-validate an approach on the fixed leave-cycles-out folds; "
                       "write its OOF predictions (and per-epoch metrics) to data/DATASET/results/")
    s.add_argument("--approach", default="wave_cnn",
                   help="a registered model (default: wave_cnn) or a baseline: constant, lightgbm")
    s.add_argument("--dataset", default="synthetic", help="dataset name (default: synthetic)")
    s.add_argument("--profile", default="default", help="quick, default or full (default: default)")
    s.add_argument("--head", nargs="+", default=["binned"], choices=["regression", "binned"],
                   help="target head(s), one run each (default: binned)")
    s.add_argument("--seed", type=int, default=0, help="training seed (folds are fixed; default: 0)")
    s.add_argument("--folds", type=int, default=5, help="number of folds (default: 5)")
    s.add_argument("--devices", type=int, help="GPUs to use (several: DDP); ignored on CPU")
    s.add_argument("--epochs", type=int, help="override the profile's number of epochs")
    s.add_argument("--label-sigma", type=float, default=0.0,
                   help="binned head: soft targets, a Gaussian of this sd in seconds (default: 0, hard)")
    s.add_argument("--name", help="results name prefix (default: the approach; the head is appended)")
    s.set_defaults(func=_train)

    s = sub.add_parser("submit", help="Kaggle submission.csv from an approach's saved fold models "
                       "(their mean), in sample_submission.csv order; scored if test labels exist")
    s.add_argument("--approach", required=True, help="a trained approach, e.g. wave_cnn_binned, lightgbm, constant")
    s.add_argument("--test-dir", required=True, help="folder of the test seg_*.csv files")
    s.add_argument("--dataset", default="synthetic", help="dataset the approach was trained on (default: synthetic)")
    s.add_argument("--sample-submission", help="default: sample_submission.csv beside the test folder")
    s.add_argument("--labels", help="seg_id,time_to_failure to score against (default: test_labels.csv "
                   "beside the test folder, if present; never required)")
    s.add_argument("--output", default="submission.csv", help="where to write (default: submission.csv)")
    s.add_argument("--allow-missing", action="store_true", help="sample ids without a segment file are "
                   "left out (a PARTIAL file Kaggle rejects, for checking only) instead of an error")
    s.set_defaults(func=_submit)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (FileNotFoundError, ValueError, IsADirectoryError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
