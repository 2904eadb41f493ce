"""Is the synthetic precursor as learnable as the real one? (issue 3, item 4)

On the real train.csv, with leave-one-cycle-out CV, LightGBM (MAE objective) on ten per-segment
statistics scores 2.34 against 3.06 for a constant median: a ratio of ~0.77 (numbers from
``../shared/lanl/segment_stats.csv``, see its README). A synthetic dataset on which that ratio is
far below 0.6 has too easy a precursor and would flatter every model; far above 0.9, too hard.

This script measures the ratio on a prepared dataset with leave-whole-cycles-out folds, the same
ten statistics (min, max, std, q01, q25, q75, q99, iqr, kurtosis, skew: the real reference's, no
mean) and prints constant-median MAE, LightGBM MAE and their ratio, per fold and pooled.

    python benchmarks/learnability.py                        # default dataset, Kaggle grid
    python benchmarks/learnability.py --stride 50000         # denser (overlapping) windows
    python benchmarks/learnability.py --dataset lanl         # an ingested real train.csv
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from quake_lib.data import datasets  # noqa: E402
from quake_lib.evaluation import folds  # noqa: E402
from quake_lib.features import window_stats as features  # noqa: E402

COLUMNS = ["min", "max", "std", "q01", "q25", "q75", "q99", "iqr", "kurtosis", "skew"]
REAL = {"constant": 3.06, "lightgbm": 2.34}


def lgbm_params(seed: int) -> dict:
    return dict(objective="l1", n_estimators=300, learning_rate=0.03, num_leaves=15,
                min_child_samples=10, subsample=0.8, subsample_freq=1, colsample_bytree=0.8,
                random_state=seed, n_jobs=2, verbose=-1)


def evaluate(X: pd.DataFrame, y: np.ndarray, cycles: np.ndarray, n_folds: int, seed: int):
    import lightgbm as lgb

    rows = []
    oof_const = np.empty(len(y))
    oof_gbm = np.empty(len(y))
    for fold in folds.cycle_folds(cycles, n_folds, seed):
        tr, te = fold.masks(cycles)
        const = float(np.median(y[tr]))
        model = lgb.LGBMRegressor(**lgbm_params(seed)).fit(X[tr], y[tr])
        oof_const[te] = const
        oof_gbm[te] = model.predict(X[te])
        mae_c = float(np.mean(np.abs(y[te] - const)))
        mae_g = float(np.mean(np.abs(y[te] - oof_gbm[te])))
        rows.append({"fold": fold.index, "test_cycles": " ".join(map(str, fold.test_cycles)),
                     "n_test": int(te.sum()), "mae_constant": mae_c, "mae_lightgbm": mae_g,
                     "ratio": mae_g / mae_c})
    pooled_c = float(np.mean(np.abs(y - oof_const)))
    pooled_g = float(np.mean(np.abs(y - oof_gbm)))
    return pd.DataFrame(rows), pooled_c, pooled_g


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--stride", type=int, default=None, help="window stride (default 150000: Kaggle grid)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    rec = datasets.prepare(args.dataset)
    windows = rec.windows(stride=args.stride)
    X = features.window_features(rec, windows)[COLUMNS]
    y = windows.targets.astype(np.float64)
    print(f"{rec}; {len(windows)} windows of {windows.length:,} samples, stride "
          f"{args.stride or windows.length:,}; {args.folds} leave-cycles-out folds, seed {args.seed}")
    print(f"LightGBM: {lgbm_params(args.seed)}")
    table, pooled_c, pooled_g = evaluate(X, y, windows.cycles, args.folds, args.seed)
    with pd.option_context("display.width", 120, "display.float_format", "{:.3f}".format):
        print(table.to_string(index=False))
    ratio = pooled_g / pooled_c
    print(f"pooled: constant median MAE {pooled_c:.3f}, LightGBM MAE {pooled_g:.3f}, ratio {ratio:.3f} "
          f"(mean of fold ratios {table['ratio'].mean():.3f})")
    print(f"real (leave-one-cycle-out): {REAL['constant']:.2f} vs {REAL['lightgbm']:.2f}, "
          f"ratio {REAL['lightgbm'] / REAL['constant']:.2f}")
    verdict = "too easy" if ratio < 0.6 else "too hard" if ratio > 0.9 else "in the 0.6-0.9 band"
    print(f"verdict: {verdict} ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
