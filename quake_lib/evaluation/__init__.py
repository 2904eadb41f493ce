"""How every approach is scored: the same windows, the same folds, one file format, one table.

- :mod:`.folds`: the evaluation grid and the leave-whole-cycles-out folds, fixed for every approach;
- :mod:`.oof`: the out-of-fold predictions' file format and where results live;
- :mod:`.staging`: a training run's results appear whole, once every fold finished, or not at all;
- :mod:`.scores`: MAE per fold, mean, spread across folds, pooled; the collapse check;
- :mod:`.compare`: every arm side by side from the saved results; :mod:`.seeds`: the same over seeds;
- :mod:`.intervals`: central 80% prediction intervals (native or conformal) and their coverage.
"""
from . import intervals
from .folds import (
                    EVAL_STRIDE,
                    FOLD_SEED,
                    N_FOLDS,
                    WINDOW,
                    Fold,
                    check_folds,
                    cycle_folds,
                    eval_windows,
                    fold_table,
                    make_folds,
                    training_grid,
)
from .oof import (
                    OOF_COLUMNS,
                    READOUT_PREFIX,
                    check_arm,
                    checkpoint_dir,
                    fold_files,
                    load_all,
                    load_metrics,
                    load_oof,
                    metrics_path,
                    oof_frame,
                    oof_path,
                    save_metrics,
                    save_oof,
)
from .scores import expand_readouts, fold_mae, mae_table, spread_table
from .staging import RUN_META, ResultsReplacedError, StagedRun

__all__ = ["EVAL_STRIDE", "FOLD_SEED", "N_FOLDS", "OOF_COLUMNS", "READOUT_PREFIX", "RUN_META", "WINDOW", "Fold",
           "ResultsReplacedError", "StagedRun", "check_arm", "check_folds", "checkpoint_dir", "cycle_folds",
           "eval_windows", "expand_readouts", "fold_files", "fold_mae", "fold_table", "intervals", "load_all",
           "load_metrics", "load_oof", "make_folds", "mae_table", "metrics_path", "oof_frame", "oof_path",
           "save_metrics", "save_oof", "spread_table", "training_grid"]
