"""Acoustic emission driven by stress: what the piezo sensor records, as int16 counts.

The signal is the sum of

- a slowly drifting **mean** (real global mean 4.52; it wanders between segments and drifts
  between cycles, which is why raw-mean features transfer badly);
- **background** noise: white noise through the sensor's transfer function, parallel resonant
  modes fitted to the real spectrum (a sharp one at 250 kHz, the real peak, a broad one near
  164 kHz, and a flat high-passed part; fed independent noises so their powers add). Its level
  grows a little with stress (unresolved micro-slips: the real IQR goes 4 -> 5) and jumps in the
  coda right after a slip;
- impulsive **events** (micro-fractures): Poisson in samples at a rate that grows exponentially
  with stress, with Pareto (Gutenberg-Richter) amplitudes whose tail exponent falls as stress
  rises (the lab "b-value drop"). Each event is a coda of scattered waves: noise whose local sd
  jumps to the event's amplitude and decays exponentially (~900 samples), heard through the same
  sensor, so events ring at its modes and the spectrum keeps its real shape;
- the **main shock** at each slip (a coda of sd ~1,700 decaying over ~1,800 samples: |x| in the
  thousands), followed by aftershocks whose excess rate decays after the slip; a smaller burst
  at each mini quake.

Implementation: event energies are dropped as an impulse train into first-order filters (one per
duration class), giving the local variance; the excitation ``sqrt(variance) * white noise`` goes
through the sensor's IIR filters (:func:`scipy.signal.lfilter`). The cost is a few passes over the
samples whatever the number of events. Filter and drift states carry over between runs: a
recording generated chunk by chunk is one continuous signal.

Limits: one sensor channel, a time-invariant sensor, no propagation; events are Gaussian codas
(real waveforms have structure: onsets, dispersion) and share one duration; the spectrum is fitted
to one real 150k segment (four real test segments agree on the peak and the fall-off); the
dynamic range is int16's, not the real sensor's.
"""
from __future__ import annotations

import functools

import numpy as np
from scipy import signal as sps

from ...constants import SAMPLE_RATE_HZ
from .config import EmissionConfig


def resonator(freq_hz: float, q: float) -> tuple[np.ndarray, np.ndarray]:
    """A resonant band-pass (zeros at DC and Nyquist) at ``freq_hz`` with quality factor ``q``."""
    decay = q * SAMPLE_RATE_HZ / (np.pi * freq_hz)  # e-folding of the ringing, in samples
    r = np.exp(-1.0 / decay)
    theta = 2 * np.pi * freq_hz / SAMPLE_RATE_HZ
    return np.array([1.0, 0.0, -1.0]), np.array([1.0, -2 * r * np.cos(theta), r * r])


def unit_sd(b: np.ndarray, a: np.ndarray, n: int = 1 << 14) -> float:
    """Output sd of filter (b, a) for unit white noise (root sum of the squared impulse response)."""
    impulse = np.zeros(n)
    impulse[0] = 1.0
    return float(np.sqrt(np.sum(sps.lfilter(b, a, impulse) ** 2)))


@functools.lru_cache(maxsize=8)
def sensor_filters(cfg: EmissionConfig) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """The sensor's transfer function as parallel filters, each fed its own white noise.

    Each filter is scaled so that its output power is its share of the total (weights normalised
    to 1): unit white input at every filter gives unit output variance overall. Independent inputs
    make the powers add, so the spectrum is exactly the weighted sum of the filters' spectra.
    """
    parts = [(*resonator(f, q), w) for f, q, w in cfg.background_modes]
    # The flat part: sensor noise, high-passed (nothing below ~30 kHz) and gently low-passed
    # (the real spectrum falls off towards 2 MHz).
    hp, lz, w = cfg.background_flat
    parts.append((np.convolve([1.0, -1.0], [1.0, lz]), np.array([1.0, -hp]), w))
    total = sum(w for *_, w in parts)
    return tuple((b * np.sqrt(w / total) / unit_sd(b, a), a) for b, a, w in parts)


class Emitter:
    """Renders consecutive runs of blocks into int16 samples, keeping every state between runs."""

    def __init__(self, cfg: EmissionConfig, rng: np.random.Generator):
        self.cfg = cfg
        self.rng = rng
        self.sensor = sensor_filters(cfg)
        self.sensor_states = [np.zeros(max(len(a), len(b)) - 1) for b, a in self.sensor]
        # Energy envelopes decay as exp(-2 n / decay): one first-order filter per duration class.
        decays = [d for d, _ in cfg.event_decays] + [cfg.mainshock_decay_samples]
        self.poles = np.exp(-2.0 / np.asarray(decays, dtype=np.float64))
        self.env_states = [np.zeros(1) for _ in decays]
        weights = np.array([w for _, w in cfg.event_decays], dtype=np.float64)
        self.class_p = weights / weights.sum()
        # Drifts start from their stationary distribution (no warm-up needed).
        self.drift = cfg.drift_sd * rng.standard_normal()
        self.wander = cfg.wander_sd * rng.standard_normal()

    def _means(self, lengths: np.ndarray, dt_label: np.ndarray) -> np.ndarray:
        """OU processes: the slow drift in label time, the wander in samples."""
        cfg, n = self.cfg, len(lengths)
        rho_d = np.exp(-dt_label / cfg.drift_tau_s)
        rho_w = np.exp(-lengths / cfg.wander_tau_samples)
        e = self.rng.standard_normal((2, n))
        out = np.empty(n)
        for i in range(n):  # blocks, not samples: ~10k iterations for a whole recording
            self.drift = rho_d[i] * self.drift + cfg.drift_sd * np.sqrt(1 - rho_d[i] ** 2) * e[0, i]
            self.wander = rho_w[i] * self.wander + cfg.wander_sd * np.sqrt(1 - rho_w[i] ** 2) * e[1, i]
            out[i] = cfg.mean + self.drift + self.wander
        return out

    def levels(self, stress: np.ndarray, since_slip: np.ndarray):
        """Background sd, event rate per sample, Pareto exponent and taper corner for each block."""
        cfg = self.cfg
        s = np.clip(stress, -0.5, 2.0)
        since = np.maximum(since_slip, 0.0)
        coda = np.exp(-since / cfg.coda_tau_s)
        bg_sd = cfg.background_sd * (1 + cfg.background_gain * s) * (1 + cfg.coda_gain * coda)
        after = np.exp(-since / cfg.aftershock_tau_s)
        rate = cfg.rate_per_sample * np.exp(cfg.rate_gain * s) * (1 + cfg.aftershock_rate_gain * after)
        alpha = np.maximum(cfg.amp_alpha - cfg.amp_alpha_drop * s, 0.5)
        corner = cfg.amp_corner * np.exp(cfg.amp_corner_gain * s)
        return bg_sd, rate, alpha, corner

    def _envelope(self, k: int, rows: np.ndarray, energy: np.ndarray, n: int) -> np.ndarray:
        train = np.bincount(rows, weights=energy, minlength=n)
        v, self.env_states[k] = sps.lfilter([1.0], [1.0, -self.poles[k]], train, zi=self.env_states[k])
        return v

    def render(self, lengths: np.ndarray, dt_label: np.ndarray, stress: np.ndarray,
               since_slip: np.ndarray, bursts: tuple[np.ndarray, np.ndarray] = (np.empty(0), np.empty(0))
               ) -> np.ndarray:
        """Samples of consecutive blocks (``lengths`` rows each) as int16.

        ``dt_label``: label seconds since the previous block; ``stress`` / ``since_slip``: per
        block; ``bursts``: (row offsets within this run, envelope amplitudes) of main shocks and
        mini quakes.
        """
        cfg, rng = self.cfg, self.rng
        lengths = np.asarray(lengths, dtype=np.int64)
        n = int(lengths.sum())
        block_start = np.cumsum(lengths) - lengths
        bg_sd, rate, alpha, corner = self.levels(stress, since_slip)
        var = np.repeat(bg_sd ** 2, lengths)

        # Events: counts per block, uniform positions, Pareto amplitudes, a duration class each.
        counts = rng.poisson(rate * lengths)
        blk = np.repeat(np.arange(len(lengths)), counts)
        m = len(blk)
        pos = block_start[blk] + (rng.random(m) * lengths[blk]).astype(np.int64)
        # Tapered Gutenberg-Richter: the smaller of a Pareto and a shifted exponential draw has
        # survival (a/amp_min)^-alpha * exp(-(a - amp_min)/corner), a power law up to the corner.
        pareto = cfg.amp_min * rng.random(m) ** (-1.0 / alpha[blk])
        taper = cfg.amp_min + corner[blk] * rng.exponential(size=m)
        amp = np.minimum(np.minimum(pareto, taper), cfg.amp_max)
        cls = rng.choice(len(self.class_p), size=m, p=self.class_p)
        for k in range(len(self.class_p)):
            sel = cls == k
            var += self._envelope(k, pos[sel], amp[sel] ** 2, n)
        offsets, amps = bursts
        var += self._envelope(len(self.poles) - 1, np.asarray(offsets, np.int64),
                              np.asarray(amps, np.float64) ** 2, n)

        # Excitation of local sd sqrt(var) through the sensor: coda waves and background alike.
        sd = np.sqrt(var)
        x = np.zeros(n)
        for i, (b, a) in enumerate(self.sensor):
            w = rng.standard_normal(n, dtype=np.float32) * sd
            y, self.sensor_states[i] = sps.lfilter(b, a, w, zi=self.sensor_states[i])
            x += y
        x += np.repeat(self._means(lengths, dt_label), lengths)
        return np.clip(np.rint(x), -32768, 32767).astype(np.int16)
