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

The test side streams segment by segment (:func:`iter_segments`): memory is one generation chunk
whatever the number of segments, so the same code writes the full-size rehearsal's 2,624
(:mod:`.rehearsal`). Writing goes through :mod:`quake_lib.data.kaggle`, so ingest and submission
code are exercised on files in exactly the real format.
"""
from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from ...atomic import clean_stale, hidden_sibling, replace_dir, write_csv, write_text
from ...constants import SEGMENT_LENGTH
from ...progress import bar as progress_bar
from .. import datasets, kaggle
from .config import REAL_SEGMENTS, REAL_TEST_SEGMENTS, SyntheticConfig, preset
from .generate import iter_chunks, labels, recording_rows

TEST_FRACTION = REAL_TEST_SEGMENTS / REAL_SEGMENTS  # real test segments per training segment
TEST_SEED_OFFSET = 1_000_003  # the test period's seed: far from any preset's own seed


def test_period_config(cfg: SyntheticConfig, segments: int | None = None,
                       length: int = SEGMENT_LENGTH) -> SyntheticConfig:
    """The later "test period" of the experiment ``cfg`` describes: ~0.63 times its cycles, or, with
    ``segments``, enough cycles to hold at least that many ``length``-row segments (each cycle
    lasts at least ``cycles.min_s``, so the count below is a guarantee, not an expectation)."""
    if segments is None:
        n = max(2, int(round(cfg.n_cycles * TEST_FRACTION)))
    else:
        need_s = segments * length / cfg.samples_per_second
        n = max(2, math.ceil(need_s / cfg.cycles.min_s) + 1)
    return cfg.replace(seed=cfg.seed + TEST_SEED_OFFSET, n_cycles=n)


def segment_ids(seed: int, n: int) -> np.ndarray:
    """``n`` distinct random ``seg_xxxxxx`` ids (6 hex digits, like Kaggle's), in segment order."""
    ids = np.random.default_rng(seed).choice(16 ** 6, size=n, replace=False)
    return np.array([f"seg_{v:06x}" for v in ids])


def iter_segments(cfg: SyntheticConfig, length: int = SEGMENT_LENGTH, limit: int | None = None):
    """Yield the consecutive ``length``-row segments of the recording ``cfg`` describes, from its
    first row: ``(signal int16 (length,), target float32)``, the target being time_to_failure at the
    segment's last row, stored as the recording stores it. At most ``limit`` segments; a trailing
    partial segment is dropped. The signal is a view into the current chunk: write or copy it
    before the next one. Memory: one generation chunk plus less than one segment carried over."""
    if limit is not None and limit <= 0:
        return
    done = 0
    carry_x, carry_t = np.empty(0, np.int16), np.empty(0, np.float64)
    for x, ttf in iter_chunks(cfg):
        if len(carry_x):
            x, ttf = np.concatenate([carry_x, x]), np.concatenate([carry_t, ttf])
        n = len(x) // length
        for i in range(n):
            yield x[i * length:(i + 1) * length], np.float32(ttf[(i + 1) * length - 1])
            done += 1
            if limit is not None and done >= limit:
                return  # before the generator renders another chunk
        carry_x, carry_t = x[n * length:].copy(), ttf[n * length:].copy()


def test_segments(cfg: SyntheticConfig, length: int = SEGMENT_LENGTH):
    """Consecutive test-period segments: ``(seg_ids, signals (n, length) int16, targets)``, shuffled
    ids. In memory (``n * length`` int16): for a preset's few hundred segments; files of any count
    are written by :func:`write_test_side`, which streams."""
    tcfg = test_period_config(cfg)
    rows = recording_rows(tcfg)
    n = rows // length
    if n == 0:
        raise ValueError(f"the test period holds {rows:,} samples: not one {length:,}-sample segment")
    signals = np.empty((n, length), np.int16)
    targets = np.empty(n, np.float32)
    for i, (x, t) in enumerate(iter_segments(tcfg, length, limit=n)):
        signals[i], targets[i] = x, t
    return segment_ids(tcfg.seed, n), signals, targets


def write_test_side(directory, tcfg: SyntheticConfig, seg_ids: np.ndarray, length: int = SEGMENT_LENGTH,
                    progress: bool = False, extra: dict[str, str] | None = None) -> np.ndarray:
    """Write ``directory/test/`` (one ``seg_id.csv`` per segment of the recording ``tcfg``, streamed,
    in order), ``sample_submission.csv`` and the hidden ``test_labels.csv``; return the targets in
    segment order.

    ``test/`` is built in a hidden sibling and swapped in whole at the end, so a crash leaves the
    previous folder or the new one, never a mix (what a killed run left is removed first); any
    previous segments go with the old folder, so none is scored by mistake. ``extra``: more files
    (name -> text) written into the new folder before the swap, so that they arrive with it."""
    directory = Path(directory)
    test_dir = directory / "test"
    directory.mkdir(parents=True, exist_ok=True)
    clean_stale(test_dir)
    partial = hidden_sibling(test_dir, "partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    targets = np.empty(len(seg_ids), np.float32)
    bar = progress_bar(total=len(seg_ids), desc="test/", unit="segment", disable=not progress)
    try:
        done = 0
        for sid, (x, t) in zip(seg_ids, iter_segments(tcfg, length, limit=len(seg_ids))):
            kaggle.write_segment_csv(partial / f"{sid}.csv", x)
            targets[done] = t
            done += 1
            bar.update(1)
        if done < len(seg_ids):
            raise RuntimeError(f"the test period (seed {tcfg.seed}, {tcfg.n_cycles} cycles) holds {done:,} "
                               f"segments of {length:,} rows; expected {len(seg_ids):,}")
        for name, text in (extra or {}).items():
            write_text(partial / name, text)
        replace_dir(partial, test_dir)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    finally:
        bar.close()
    order = np.argsort(seg_ids)
    truth = pd.DataFrame({"seg_id": seg_ids[order], "time_to_failure": targets[order].astype(np.float64)})
    write_csv(truth.assign(time_to_failure=0.0), directory / "sample_submission.csv")
    write_csv(truth, directory / "test_labels.csv", float_format="%.6f")
    return targets


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
    tcfg = test_period_config(cfg)
    n = recording_rows(tcfg) // SEGMENT_LENGTH
    if n == 0:
        raise ValueError(f"the test period of {name!r} holds not one {SEGMENT_LENGTH:,}-sample segment")
    targets = write_test_side(directory, tcfg, segment_ids(tcfg.seed, n))
    return {"train_rows": train_rows, "test_segments": n, "directory": str(directory),
            "test_mean_time_to_failure": float(targets.mean())}
