"""Every knob of the synthetic lab-quake generator, in frozen dataclasses, and the named presets.

A configuration fully determines a recording: the same config (seed included) gives the same bytes.
:func:`config_hash` fingerprints a config together with :data:`GENERATOR_VERSION`, so a prepared
dataset whose ``meta.json`` carries another hash is regenerated (see :mod:`quake_lib.data.datasets`).

Units: *label seconds* are seconds of time_to_failure (the lab clock); *samples* are the 4 MHz
acoustic samples. The signal is simulated in samples (a 150k window always has the real window's
statistics at a given stress); ``density`` only says how many label seconds pass per sample.
Numbers marked "real" were measured on ``../shared/lanl`` (see its README); the others were tuned
with :mod:`quake_lib.data.synthetic.calibration` until the per-bin window statistics matched.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

# Bump when the generator's output for a given config changes (forces regeneration of datasets).
GENERATOR_VERSION = 1

REAL_SAMPLES_PER_SECOND = 3.85e6  # real: 629,145,480 rows over ~163.5 s of label time
BLOCK = 4096                      # real: rows per acquisition block
SHORT_BLOCK_EVERY = 1280          # real: one block of 4,095 rows every 1,280 blocks
REAL_TRAIN_ROWS = 629_145_480     # real: rows of train.csv
REAL_TEST_SEGMENTS = 2624         # real: Kaggle's test segments (150,000 rows each)
REAL_SEGMENTS = 4194              # real: consecutive 150,000-row segments of train.csv (the evaluation grid)
# Real label-cycle lengths (s) between the 16 failures of train.csv, in order (shared README), and
# the partial tail cycle's: 1.86 s recorded after the last failure + 9.77 s of label left at the end.
REAL_CYCLE_LENGTHS_S = (11.54, 14.18, 8.856, 12.693, 8.054, 7.059, 16.107, 7.905, 9.637, 11.426, 11.024,
                        8.828, 8.565, 14.752, 9.459)
REAL_TAIL_CYCLE_S = 11.63


@dataclass(frozen=True)
class CycleConfig:
    """Stick-slip cycle lengths and the loading stress within a cycle (see :mod:`.cycles`)."""

    # Real complete cycles: 7.06..16.11 s, mean 10.67, sd 2.74 (15 values), right-skewed, lag-1
    # correlation ~ -0.5. Lengths follow a Beta law on [min_s, max_s] (see cycles.cycle_lengths).
    mean_s: float = 10.67
    sd_s: float = 2.5
    min_s: float = 7.0
    max_s: float = 16.5
    lag1_corr: float = -0.5
    # The slip (the big burst) precedes the label failure by ~0.32 s: the real windows holding the
    # burst end 0.28-0.32 s before failure, the burst itself lying inside them.
    label_lag_s: float = 0.32
    label_lag_jitter_s: float = 0.013
    # Real train.csv starts 1.47 s before its first failure and ends 1.86 s after its last one.
    head_s: float = 1.47
    tail_s: float = 1.86
    # Normalised stress: 0 just after a slip, ~1 at failure. Concave loading (creep near the peak).
    relock: float = 0.0           # fraction of the cycle before stress starts rising (healing)
    creep: float = 0.9            # curvature of the loading curve (larger = more linear)
    # Cycle-to-cycle scatter of the failure stress: how loud a cycle gets says little about when it
    # fails. It sets the difficulty: at 0.25 the LightGBM / constant-median MAE ratio of
    # benchmarks/learnability.py averages 0.79 over seeds 0-7 (0.69-0.95; real: 0.77); 0.2 gives 0.75.
    peak_sd: float = 0.25
    peak_length_slope: float = 0.06  # failure stress per sd of cycle length (long cycles end louder)
    floor_sd: float = 0.05        # scatter of the post-slip stress
    # Mid-cycle mini quakes: a partial slip that drops the stress, which then recovers.
    mini_quake_rate: float = 0.35   # expected number per cycle (Poisson)
    mini_quake_drop: tuple = (0.3, 0.6)  # fraction of the accumulated stress released (uniform)
    mini_quake_recovery_s: float = 1.0


@dataclass(frozen=True)
class EmissionConfig:
    """The acoustic emission as a function of stress (see :mod:`.emission`)."""

    mean: float = 4.52             # real global mean of the counts
    drift_sd: float = 0.15         # slow drift of the mean (real per-cycle medians: sd 0.16)
    drift_tau_s: float = 20.0      # its correlation time, label seconds
    wander_sd: float = 0.17        # faster wander seen between neighbouring 150k segments
    wander_tau_samples: float = 2.0e5
    # Background: white noise through the sensor's transfer function, fitted to the real spectrum
    # (train_head_150k.csv): a sharp mode at 250 kHz, a broad one near 164 kHz and a flat part.
    background_sd: float = 2.75    # at stress 0
    background_gain: float = 0.34  # relative growth of the background sd from stress 0 to 1
    # (frequency Hz, quality factor, power weight) of the sensor's resonant modes.
    background_modes: tuple = ((250e3, 15.9, 0.81), (164e3, 3.09, 0.805))
    # (high-pass pole, low-pass zero, power weight) of the flat part.
    background_flat: tuple = (0.981, 0.324, 0.446)
    # Impulsive events: Poisson in samples, Pareto (Gutenberg-Richter) envelope amplitudes, each an
    # exponentially decaying coda of noise through the sensor (so events share its spectrum).
    rate_per_sample: float = 2.4e-5     # events with amplitude >= amp_min per sample, at stress 0
    rate_gain: float = 1.25             # log-rate grows linearly with stress: exp(rate_gain * s)
    amp_min: float = 15.0
    amp_alpha: float = 2.0            # tail exponent at stress 0: P(A > a) = (a/amp_min)^-alpha
    amp_alpha_drop: float = 0.3        # b-value drop: alpha(s) = amp_alpha - amp_alpha_drop * s
    # Taper: beyond a corner amplitude the power law gives way to an exponential fall-off (real
    # per-window maxima have a much lighter tail than a pure power law); the corner grows with stress.
    amp_corner: float = 100.0
    amp_corner_gain: float = 0.7        # corner(s) = amp_corner * exp(amp_corner_gain * s)
    amp_max: float = 3000.0
    # (amplitude decay in samples, share of events) of the events' duration classes.
    event_decays: tuple = ((900.0, 1.0),)
    # The failure: a main shock, then aftershocks decaying after the slip. Real windows holding it:
    # std 113-143, excess kurtosis 180-370, max 2,800-5,400, i.e. a ~1,800-sample coda of sd ~1,700.
    mainshock_amp: float = 1700.0       # envelope sd at onset; peaks reach ~2.5x that
    mainshock_amp_sd: float = 0.1       # lognormal scatter (real burst-window std: 113-154)
    mainshock_decay_samples: float = 1800.0
    coda_gain: float = 1.8              # background sd multiplier right after the slip, minus 1
    coda_tau_s: float = 0.025           # its decay, label seconds
    aftershock_rate_gain: float = 35.0  # multiplies the event rate right after the slip
    aftershock_tau_s: float = 0.025     # decay of that excess, label seconds
    mini_quake_amp: float = 150.0       # envelope sd of a mini quake's burst (main-shock coda)


@dataclass(frozen=True)
class SyntheticConfig:
    """One synthetic recording: how many cycles, at what density, from which seed."""

    n_cycles: int = 15            # complete cycles (plus a partial head and tail, as in the real)
    density: float = 0.075        # samples per label second relative to the real 3.85 M
    seed: int = 0
    cycles: CycleConfig = field(default_factory=CycleConfig)
    emission: EmissionConfig = field(default_factory=EmissionConfig)
    chunk_blocks: int = 1024      # generation chunk (4M samples): bounds memory

    @property
    def samples_per_second(self) -> float:
        return REAL_SAMPLES_PER_SECOND * self.density

    def replace(self, **changes) -> "SyntheticConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        return json.loads(json.dumps(d))  # tuples -> lists: what meta.json will hold

    @classmethod
    def from_dict(cls, d: dict) -> "SyntheticConfig":
        def tup(x):
            return tuple(tup(v) for v in x) if isinstance(x, list) else x
        d = dict(d)
        cyc = CycleConfig(**{k: tup(v) for k, v in d.pop("cycles", {}).items()})
        emi = EmissionConfig(**{k: tup(v) for k, v in d.pop("emission", {}).items()})
        return cls(cycles=cyc, emission=emi, **d)


def config_hash(cfg: SyntheticConfig) -> str:
    """A short fingerprint of the config and the generator version."""
    text = json.dumps({"version": GENERATOR_VERSION, "config": cfg.to_dict()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# Sizes. "synthetic": 15 complete cycles like the real train.csv, at 7.5% of the real density:
# ~48 M samples, ~305 Kaggle windows of 150k, each spanning ~0.52 label seconds. Small enough for
# three neural approaches with 5-fold CV on CPU, big enough for leave-cycles-out CV.
# "quick": 6 complete cycles at 1.5% density: ~4 M samples, 18 Kaggle windows, for `make test`.
PRESETS: dict[str, SyntheticConfig] = {
    "synthetic": SyntheticConfig(n_cycles=15, density=0.075, seed=0),
    "quick": SyntheticConfig(n_cycles=6, density=0.015, seed=1),
}
# The data-size study (quake_lib.studies.scaling): the default recording's generator and seed at growing size.
# More windows per cycle (density, up to the real 629 M samples at 1.0) and more cycles (at the default
# density); "quick_x2" doubles the quick preset's density for the study's test-sized grid.
SCALING_PRESETS: dict[str, SyntheticConfig] = {
    "scale_d015": SyntheticConfig(n_cycles=15, density=0.15, seed=0),
    "scale_d030": SyntheticConfig(n_cycles=15, density=0.3, seed=0),
    "scale_d060": SyntheticConfig(n_cycles=15, density=0.6, seed=0),
    "scale_d100": SyntheticConfig(n_cycles=15, density=1.0, seed=0),
    "scale_c30": SyntheticConfig(n_cycles=30, density=0.075, seed=0),
    "scale_c60": SyntheticConfig(n_cycles=60, density=0.075, seed=0),
    "quick_x2": SyntheticConfig(n_cycles=6, density=0.03, seed=1),
}
PRESETS.update(SCALING_PRESETS)


def preset(name: str) -> SyntheticConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"no synthetic preset {name!r}; presets: {', '.join(PRESETS)}") from None
