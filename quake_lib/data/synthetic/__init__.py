"""A synthetic lab-quake generator calibrated to the real LANL recording.

The real data (Kaggle's 9 GB train.csv) cannot be bundled, and no public simulator produces lab
acoustic emission, so every notebook runs by default on recordings made here. They are written in
the ingest's layout (``data/<name>/``) and optionally in Kaggle's file layout, so everything
downstream is the same for real and synthetic data.

Physics, in three layers (one module each):

- :mod:`.cycles` - stick-slip. Recurrence times 7-16 s (mean 10.7, anti-correlated), a loading
  stress per cycle that re-locks, rises and creeps to a scattered failure strength, occasional
  mid-cycle mini quakes. The label clock reproduces the real 4,096-sample blocks; the label's
  failure comes ~0.3 s after the slip, as in the real data.
- :mod:`.emission` - sound from stress. A drifting mean, sensor background noise (spectrum fitted to
  the real one: sharp 250 kHz mode, broad ~164 kHz mode, flat part), and Poisson events with
  Gutenberg-Richter (Pareto) amplitudes whose rate and size grow with stress, each a decaying coda
  through the sensor. A main shock (|x| in the thousands) at each slip, then aftershocks and a
  noisy coda; int16 counts.
- :mod:`.generate` - the label clock, chunked rendering and atomic writing; also isolated windows at
  any density for :mod:`quake_lib.data.synthetic.calibration`.
- :mod:`.kaggle_layout` and :mod:`.rehearsal` - the same recordings as Kaggle's files: a preset's, or
  a full-size one (~629 M rows at density 1 on the real cycle list, 2,624 test segments), streamed.

Knobs (:mod:`.config`): ``n_cycles`` and ``density`` (samples per label second relative to the real
3.85 M: the signal is simulated per sample, so a 150k window always has real-like statistics, while
a lower density makes it span more label time), ``seed``, and every physical constant in
:class:`CycleConfig` and :class:`EmissionConfig`. Presets: ``synthetic`` (default: 15 cycles at 7.5%
density, ~48 M samples, a few seconds to generate) and ``quick`` (6 cycles at 1.5%, ~4 M samples).

Calibration (``python -m quake_lib.data.synthetic.calibration`` / ``images/calibration.png``): at the real density,
the per-time_to_failure-bin medians of std, q01, q99, kurtosis and max, the spectrum and the
std/time_to_failure correlation match the real ones (see :mod:`quake_lib.data.synthetic.calibration` for the
targets). The precursor is deliberately as weak and noisy as the real one.

Limits - what this generator is not:

- one channel, stationary sensor response, no wave propagation; event waveforms are noise codas,
  not the richer real waveforms; all events share one duration scale;
- fitted to 17 real cycles: what the real data cannot show (e.g. the distribution of the first
  seconds after rare long cycles) is extrapolated by the functional forms chosen here;
- stress is a latent, smooth function of time; real friction has rate-and-state memory across
  cycles that is reduced here to cycle-length anti-correlation and per-cycle strength scatter;
- at a density below 1, events, ringing and the mean's wander keep their per-sample scales while
  stress and aftershock decay follow label time, so a window spans more of the cycle than a real one.
"""
from .config import PRESETS, CycleConfig, EmissionConfig, SyntheticConfig, config_hash, preset
from .generate import generate, iter_chunks, render_windows, schedule_for

__all__ = ["PRESETS", "CycleConfig", "EmissionConfig", "SyntheticConfig", "config_hash", "preset",
           "generate", "iter_chunks", "render_windows", "schedule_for"]
