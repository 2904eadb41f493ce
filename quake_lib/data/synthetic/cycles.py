"""Stick-slip cycles: when the fault slips, the stress it carries, and the label clock.

Physics (a spring-slider, as in the LANL/Penn State double-direct-shear apparatus): the driving
piston loads the fault at a roughly constant rate; shear stress rises, creeps as it nears the fault's
strength, and a *slip* (the lab quake) drops it back to a floor. Strength varies from cycle to cycle,
so recurrence times vary (real: 7-16 s) and are anti-correlated (a slip that overshoots leaves a
cycle that starts lower and ends sooner). Occasionally a *mini quake* releases part of the stress
mid-cycle; the fault reloads within about a second.

Time lines. Physical cycle ``j`` runs from slip ``j-1`` to slip ``j`` (``slips[j]``, label seconds).
The label's failure comes ~0.3 s *after* the slip (``label_failures``), exactly as in the real data,
where the big burst precedes time_to_failure = 0 by ~0.3 s: the last ~0.3 s of each label cycle is
already post-slip quiet. A recording has a partial head cycle, ``n_cycles`` complete ones and a
partial tail, like the real train.csv.

Stress is normalised: ~0 just after a slip, ~1 at a typical failure. It is a function of label time
only; :mod:`.emission` turns it into sound.

The label clock follows the real acquisition: 4,096-sample blocks (one of 4,095 every 1,280 blocks);
time_to_failure is almost flat inside a block and steps between blocks by the real ~1.0 / ~1.1 ms,
divided by ``density`` (fewer samples per label second).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from .config import BLOCK, REAL_SAMPLES_PER_SECOND, SHORT_BLOCK_EVERY, CycleConfig

# Real block steps of the label (ms) and how often each occurs; their mean (1.0637 ms per 4,096
# samples) is the real 3.85 M samples per label second.
_REAL_STEPS_MS = np.array([0.9955, 1.0955])
_REAL_STEP_P = np.array([0.316, 0.684])
# Inside a block the real label decreases by ~1.1e-9 s per sample (an artefact kept for fidelity).
IN_BLOCK_STEP_S = 1.1e-9


def cycle_lengths(cfg: CycleConfig, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` consecutive recurrence times (s): a Beta law on [min_s, max_s] with the configured mean
    and sd, through a Gaussian copula whose AR(1) gives the negative lag-1 correlation.

    Bounded, right-skewed, most cycles short and a few long, as the real lengths (7.06..16.11 s).
    """
    span = cfg.max_s - cfg.min_s
    m = (cfg.mean_s - cfg.min_s) / span
    k = m * (1 - m) / (cfg.sd_s / span) ** 2 - 1
    if not (0 < m < 1 and k > 0):
        raise ValueError(f"no Beta law on [{cfg.min_s}, {cfg.max_s}] has mean {cfg.mean_s} and sd {cfg.sd_s}")
    z = np.empty(n)
    eps = rng.standard_normal(n)
    z[0] = eps[0]
    rho = cfg.lag1_corr
    for i in range(1, n):
        z[i] = rho * z[i - 1] + np.sqrt(1 - rho ** 2) * eps[i]
    return cfg.min_s + span * stats.beta.ppf(stats.norm.cdf(z), m * k, (1 - m) * k)


@dataclass(frozen=True)
class Schedule:
    """Slips, label failures and stress of one recording (all times in label seconds from 0)."""

    cfg: CycleConfig
    durations: np.ndarray       # physical cycle j lasts durations[j] and ends with slips[j]
    slips: np.ndarray
    label_failures: np.ndarray  # slips + label lag: where time_to_failure reaches 0
    floors: np.ndarray          # stress just after the slip that starts cycle j
    peaks: np.ndarray           # stress at slip j (the cycle's strength)
    mini_times: np.ndarray      # mid-cycle mini quakes
    mini_drops: np.ndarray      # stress released by each
    t_end: float                # end of the recording

    @property
    def starts(self) -> np.ndarray:
        return self.slips - self.durations

    def _cycle(self, t: np.ndarray) -> np.ndarray:
        # The physical cycle containing t: the first slip at or after t.
        return np.minimum(np.searchsorted(self.slips, t, side="left"), len(self.slips) - 1)

    def base_stress(self, t) -> np.ndarray:
        """Loading curve without mini quakes: floor + (peak - floor) * g(u), u = fraction of cycle."""
        t = np.asarray(t, dtype=np.float64)
        j = self._cycle(t)
        u = np.clip((t - self.starts[j]) / self.durations[j], 0.0, 1.0)
        # Re-locking: the first ``relock`` of the cycle takes up slack, stress stays at the floor.
        u = np.maximum(u - self.cfg.relock, 0.0) / (1.0 - self.cfg.relock)
        c = self.cfg.creep
        g = -np.expm1(-u / c) / -np.expm1(-1.0 / c)  # concave: loading slows as creep sets in
        return self.floors[j] + (self.peaks[j] - self.floors[j]) * g

    def stress(self, t) -> np.ndarray:
        """Normalised shear stress at label times ``t``, mini quakes included."""
        t = np.asarray(t, dtype=np.float64)
        s = self.base_stress(t)
        j = self._cycle(t)
        for m, drop in zip(self.mini_times, self.mini_drops):  # a handful per recording
            after = (t >= m) & (j == self._cycle(np.array([m]))[0])
            recovery = np.exp(-(t[after] - m) / self.cfg.mini_quake_recovery_s)
            s[after] -= drop * recovery
        return s

    def since_slip(self, t) -> np.ndarray:
        """Label seconds since the last slip (large in the head cycle, whose slip is unseen)."""
        t = np.asarray(t, dtype=np.float64)
        return t - self.starts[self._cycle(t)]

    def time_to_failure(self, t) -> np.ndarray:
        """The label: seconds until the next label failure."""
        t = np.asarray(t, dtype=np.float64)
        k = np.minimum(np.searchsorted(self.label_failures, t, side="left"), len(self.label_failures) - 1)
        return self.label_failures[k] - t


def make_schedule(cfg: CycleConfig, n_cycles: int, rng: np.random.Generator,
                  lengths=None) -> Schedule:
    """A head cycle, ``n_cycles`` complete cycles and a tail cycle (``n_cycles + 2`` in all).

    ``lengths``: label-cycle lengths (s) to impose instead of drawing them, for cycles 1, 2, ...:
    the ``n_cycles`` complete ones, optionally followed by the tail's (whose failure lies beyond
    the recording; its length sets the tail's labels). E.g. the real list
    (:data:`.config.REAL_CYCLE_LENGTHS_S`). The head's length is drawn (the real one is unknown).
    """
    if n_cycles < 1:
        raise ValueError(f"n_cycles must be at least 1 (got {n_cycles})")
    n = n_cycles + 2
    # Drawn in any case, so that the other draws (lags, strengths, mini quakes) come from the same
    # positions of the stream whether or not lengths are imposed.
    durations = cycle_lengths(cfg, n, rng)
    lags = cfg.label_lag_s + cfg.label_lag_jitter_s * rng.standard_normal(n)
    if lengths is not None:
        fixed = np.asarray(lengths, dtype=np.float64)
        if fixed.ndim != 1 or len(fixed) not in (n_cycles, n_cycles + 1) or not (fixed > 1.0).all():
            raise ValueError(f"lengths: expected {n_cycles} or {n_cycles + 1} cycle lengths above 1 s "
                             f"(the complete cycles, then optionally the tail's), got {fixed.tolist()}")
        k = len(fixed)
        # Imposed between *label* failures (what the real list measures): the physical cycle
        # absorbs the difference of the two jittered label lags.
        durations[1:k + 1] = fixed - (lags[1:k + 1] - lags[:k])
    # The recording starts head_s before the first label failure, i.e. inside physical cycle 0.
    slips = (cfg.head_s - lags[0]) + np.concatenate([[0.0], np.cumsum(durations[1:])])
    label_failures = slips + lags
    t_end = float(label_failures[n_cycles] + cfg.tail_s)
    # Strength: scattered, and higher for longer cycles (constant loading rate: a longer cycle is
    # one whose fault held more stress), which is why the real precursor ends louder in long cycles.
    zlen = (durations - cfg.mean_s) / cfg.sd_s
    peaks = 1.0 + cfg.peak_sd * rng.standard_normal(n) + cfg.peak_length_slope * zlen
    floors = cfg.floor_sd * rng.standard_normal(n)
    peaks = np.maximum(peaks, floors + 0.3)
    # Mini quakes: Poisson per cycle, in the loaded part of the cycle (u in 0.35..0.85).
    counts = rng.poisson(cfg.mini_quake_rate, n)
    j = np.repeat(np.arange(n), counts)
    u = rng.uniform(0.35, 0.85, len(j))
    mini_times = slips[j] - durations[j] * (1 - u)
    sched = Schedule(cfg, durations, slips, label_failures, floors, peaks,
                     np.empty(0), np.empty(0), t_end)
    frac = rng.uniform(*cfg.mini_quake_drop, len(j))
    drops = frac * (sched.base_stress(mini_times) - floors[j])
    keep = (mini_times > 0) & (mini_times < t_end)
    return Schedule(cfg, durations, slips, label_failures, floors, peaks,
                    mini_times[keep], drops[keep], t_end)


def block_lengths(first_block: int, n_blocks: int) -> np.ndarray:
    """Rows of blocks ``first_block ..``: 4,096, except one of 4,095 every 1,280 (as in the real)."""
    idx = np.arange(first_block, first_block + n_blocks)
    return np.where(idx % SHORT_BLOCK_EVERY == SHORT_BLOCK_EVERY - 1, BLOCK - 1, BLOCK).astype(np.int64)


def block_steps(n_blocks: int, density: float, rng: np.random.Generator) -> np.ndarray:
    """Label seconds between consecutive block starts: the real ~1.0 / ~1.1 ms, over ``density``."""
    if density <= 0:
        raise ValueError(f"density must be positive (got {density})")
    steps_ms = rng.choice(_REAL_STEPS_MS, size=n_blocks, p=_REAL_STEP_P)
    # Rescale so the mean rate is exactly density * 3.85 M samples per label second.
    mean_ms = float(_REAL_STEPS_MS @ _REAL_STEP_P)
    target_ms = 1e3 * BLOCK / (REAL_SAMPLES_PER_SECOND * density)
    return steps_ms * (target_ms / mean_ms) * 1e-3


def sample_times(t_blocks: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Label time of every sample: the block's start time, then tiny in-block steps."""
    starts = np.repeat(t_blocks, lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return starts + offsets * IN_BLOCK_STEP_S
