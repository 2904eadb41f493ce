"""Write a synthetic dataset in the Kaggle competition's file layout.

``write_kaggle_files(name, directory)`` produces, for synthetic preset ``name``::

    directory/train.csv               the training recording (data/<name>/), acoustic_data,time_to_failure
    directory/test/seg_xxxxxx.csv      150,000-sample segments of a later "test period"
    directory/sample_submission.csv    seg_id,time_to_failure (0.0), seg_ids sorted, like Kaggle's
    directory/test_labels.csv          the hidden truth: seg_id,time_to_failure (not part of Kaggle's
                                       layout; scoring only)

As in the real competition, the test period comes after the training period in the same
experiment: same physics and knobs, new cycles (an independent seed stream), about 0.63 times as
many of them (real: 2,624 test vs 4,194 training segments). It is cut into consecutive segments
(those straddling a failure included, as Kaggle did), labelled with time_to_failure at their last
row, and given random hex seg_ids, so their order says nothing about time.

Writing goes through :mod:`quake_lib.data.kaggle`, so ingest and submission code are exercised on files
in exactly the real format.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ...constants import SEGMENT_LENGTH
from .. import datasets, kaggle
from .config import SyntheticConfig, preset
from .generate import iter_chunks, labels

TEST_FRACTION = 2624 / 4194  # real test segments per training segment
TEST_SEED_OFFSET = 1_000_003  # the test period's seed: far from any preset's own seed


def test_period_config(cfg: SyntheticConfig) -> SyntheticConfig:
    """The later "test period" of the experiment ``cfg`` describes."""
    n = max(2, int(round(cfg.n_cycles * TEST_FRACTION)))
    return cfg.replace(seed=cfg.seed + TEST_SEED_OFFSET, n_cycles=n)


def test_segments(cfg: SyntheticConfig, length: int = SEGMENT_LENGTH):
    """Consecutive test-period segments: ``(seg_ids, signals (n, length) int16, targets)``, shuffled."""
    tcfg = test_period_config(cfg)
    chunks = list(iter_chunks(tcfg))
    x = np.concatenate([c[0] for c in chunks])
    ttf = np.concatenate([c[1] for c in chunks]).astype(np.float32)  # as the recording stores it
    n = len(x) // length
    if n == 0:
        raise ValueError(f"the test period holds {len(x):,} samples: not one {length:,}-sample segment")
    signals = x[: n * length].reshape(n, length)
    targets = ttf[length - 1: n * length: length]
    rng = np.random.default_rng(tcfg.seed)
    ids = rng.choice(16 ** 6, size=n, replace=False)
    seg_ids = np.array([f"seg_{v:06x}" for v in ids])
    return seg_ids, signals, targets


def write_kaggle_files(name: str, directory, cfg: SyntheticConfig | None = None, train_csv: bool = True) -> dict:
    """Write train.csv, test/, sample_submission.csv and test_labels.csv for preset ``name``
    (its recording under data/<name>/ is prepared first if needed). Returns counts and paths.
    ``train_csv=False`` writes only the test side (what a submission needs: the model trains on
    data/<name>/, and train.csv of the default preset alone is 48M rows)."""
    directory = Path(directory)
    cfg = cfg or preset(name)
    directory.mkdir(parents=True, exist_ok=True)
    train_rows = None
    if train_csv:
        rec = datasets.prepare(name)
        # Labels in float64, as the real train.csv's 10 decimals carry (the recording keeps float32).
        kaggle.write_train_csv(directory / "train.csv", rec.signal, labels(cfg))
        train_rows = len(rec)
    seg_ids, signals, targets = test_segments(cfg)
    test_dir = directory / "test"
    test_dir.mkdir(exist_ok=True)
    for old in test_dir.glob("seg_*.csv"):  # a previous run's segments would be scored too
        old.unlink()
    for sid, x in zip(seg_ids, signals):
        kaggle.write_segment_csv(test_dir / f"{sid}.csv", x)
    order = np.argsort(seg_ids)
    truth = pd.DataFrame({"seg_id": seg_ids[order], "time_to_failure": targets[order].astype(np.float64)})
    truth.assign(time_to_failure=0.0).to_csv(directory / "sample_submission.csv", index=False)
    truth.to_csv(directory / "test_labels.csv", index=False, float_format="%.6f")
    return {"train_rows": train_rows, "test_segments": len(seg_ids), "directory": str(directory),
            "test_mean_time_to_failure": float(targets.mean())}
