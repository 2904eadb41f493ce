"""Where a window lies in its quake cycle: the Kaggle winners' targets and their way back, in one place.

- a cycle's **length** (s): time_to_failure at its first row, the time from the failure that opened it
  to the one that closes it. Known for every cycle that starts at a failure (id > 0), the last one too
  (cut by the end of the recording, its labels still count down to its failure); unknown (NaN) for the
  recording's first, partial cycle, whose start precedes the recording.
- ``since_failure`` (1st place): time since the last failure, length - time_to_failure. The winners
  found it easier to learn than time_to_failure: right after a quake it is near 0 whatever the length
  of the coming cycle, which nothing in the signal can tell yet.
- ``fraction`` (3rd place): time_to_failure / length, every cycle rescaled to length 1.

Back to time_to_failure, with the mean length of the *training* cycles (never a held-out cycle's, which
is unknowable at prediction time): ``max(mean - since_failure, 0)`` (a time to failure is never
negative; the mean can fall short of a long cycle) and ``fraction * mean`` (:func:`to_ttf`).
Functions of targets and lengths take numpy arrays or torch tensors alike (a head converts its outputs).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .recording import Recording, Windows

TTF = "ttf"                               # time_to_failure itself, the identity here
TARGETS = (TTF, "since_failure", "fraction")
AUX_TARGETS = TARGETS[1:]                 # the cycle-position targets


def check_target(name: str, allowed=TARGETS) -> str:
    if name not in allowed:
        raise ValueError(f"cycle target {name!r} is not known; expected one of: {', '.join(allowed)}")
    return name


def cycle_lengths(rec: Recording) -> np.ndarray:
    """Length in seconds of each cycle id of ``rec`` (float64; NaN for cycle 0, the partial first one)."""
    first = rec.cycles["first_row"].to_numpy(np.int64)
    lengths = np.asarray(rec.ttf[first], dtype=np.float64)
    lengths[0] = np.nan  # its start, hence its length, is not in the recording
    return lengths


def lengths_frame(rec: Recording) -> pd.DataFrame:
    """:func:`cycle_lengths` as a table indexed by cycle id (``length_s``, ``length_known``), the layout of
    :func:`quake_lib.data.lanl_stats.cycle_lengths`, so that the position analyses of the real table
    (:func:`quake_lib.studies.real_transfer.by_position`) read a recording's OOF rows too."""
    lengths = cycle_lengths(rec)
    out = pd.DataFrame({"length_s": lengths}, index=pd.Index(np.arange(len(lengths)), name="cycle"))
    out["length_known"] = out["length_s"].notna()
    return out


def target(name: str, ttf, length):
    """The cycle target ``name`` of windows whose time_to_failure is ``ttf`` in cycles of ``length``
    (NaN where the length is unknown)."""
    check_target(name)
    if name == "since_failure":
        return length - ttf
    if name == "fraction":
        return ttf / length
    return ttf


def window_targets(rec: Recording, windows: Windows, name: str) -> np.ndarray:
    """The cycle target ``name`` of each window (float64; NaN in the partial first cycle)."""
    return np.asarray(target(name, windows.targets.astype(np.float64), cycle_lengths(rec)[windows.cycles]))


def mean_length(lengths) -> float:
    """Mean of the known (not NaN) lengths among ``lengths``: those of the training cycles only."""
    known = pd.Series(np.asarray(lengths, dtype=np.float64)).dropna()
    if known.empty:
        raise ValueError("lengths: expected at least one training cycle of known length (every one given is "
                         "NaN, e.g. only the recording's partial first cycle)")
    return float(known.mean())


def to_ttf(name: str, prediction, mean_length: float):
    """A prediction of the cycle target ``name`` turned into time_to_failure with ``mean_length``, the
    mean length of the training cycles: ``max(mean - since_failure, 0)``, ``fraction * mean``."""
    check_target(name)
    if name == "since_failure":
        ttf = mean_length - prediction
        return ttf.clamp(min=0.0) if hasattr(ttf, "clamp") else np.maximum(ttf, 0.0)  # a tensor, or not
    if name == "fraction":
        return prediction * mean_length
    return prediction


def prediction_column(name: str) -> str:
    """The OOF column holding a model's raw prediction of the cycle target ``name`` (e.g.
    ``predicted_since_failure``). Not ``prediction_<name>``: those are time_to_failure readouts that
    :func:`quake_lib.evaluation.mae_table` scores against the target, which this is not."""
    return f"predicted_{check_target(name, AUX_TARGETS)}"
