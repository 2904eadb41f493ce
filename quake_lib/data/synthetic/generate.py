"""Assemble a synthetic recording: schedule -> label clock -> emission, streamed to ``data/<name>/``.

The output is written by :class:`quake_lib.data.store.RecordingWriter`, the writer the real ingest uses,
so a synthetic dataset has exactly the real one's files and everything downstream is identical.
Generation is chunked (``chunk_blocks`` blocks of 4,096 samples at a time): memory stays bounded
whatever the size, and filters and drifts carry over, so chunk borders leave no trace in the signal.
The chunk size is part of the config (random draws are made chunk by chunk): another chunk size
gives a statistically identical but not byte-identical recording.

Randomness: one :class:`numpy.random.SeedSequence` from ``cfg.seed``, spawned into independent
streams for the schedule, the label clock and the emission, so changing an emission knob leaves
the cycles (and the labels) unchanged.

:func:`render_windows` renders isolated windows at arbitrary label times (with a short warm-up),
which lets calibration sample hundreds of windows at the real density without generating whole
40 M-sample cycles.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .. import store
from .config import BLOCK, SyntheticConfig, config_hash
from .cycles import Schedule, block_lengths, block_steps, make_schedule, sample_times
from .emission import Emitter


def _streams(seed: int) -> dict[str, np.random.Generator]:
    names = ("schedule", "clock", "emission", "bursts")
    seqs = np.random.SeedSequence(seed).spawn(len(names))
    return {n: np.random.default_rng(s) for n, s in zip(names, seqs)}


def schedule_for(cfg: SyntheticConfig, lengths=None) -> Schedule:
    """The cycles of the recording ``cfg`` describes (cheap: no samples); ``lengths`` imposes the
    cycles' lengths (see :func:`.cycles.make_schedule`): pass the schedule on to :func:`iter_chunks`."""
    return make_schedule(cfg.cycles, cfg.n_cycles, _streams(cfg.seed)["schedule"], lengths)


def _bursts(cfg: SyntheticConfig, sched: Schedule, rng: np.random.Generator):
    """(label times, amplitudes) of main shocks and mini-quake bursts, sorted by time."""
    e = cfg.emission
    main_amp = e.mainshock_amp * np.exp(e.mainshock_amp_sd * rng.standard_normal(len(sched.slips)))
    mini_amp = e.mini_quake_amp * np.exp(e.mainshock_amp_sd * rng.standard_normal(len(sched.mini_times)))
    times = np.concatenate([sched.slips, sched.mini_times])
    amps = np.concatenate([main_amp, mini_amp])  # envelope sd: codas have no sign
    order = np.argsort(times, kind="stable")
    return times[order], amps[order]


def _burst_rows(times, t_blocks, steps, lengths) -> np.ndarray:
    """Row index (within the given blocks) of each burst time, -1 where it lies outside them."""
    b = np.searchsorted(t_blocks, times, side="right") - 1
    inside = (b >= 0) & (b < len(t_blocks))
    b = np.clip(b, 0, len(t_blocks) - 1)
    frac = (times - t_blocks[b]) / steps[b]
    inside &= frac < 1.0
    starts = np.cumsum(lengths) - lengths
    rows = starts[b] + np.minimum((frac * lengths[b]).astype(np.int64), lengths[b] - 1)
    return np.where(inside, rows, -1)


def _render_run(cfg, sched, emitter, t_blocks, steps, lengths, burst_times, burst_amps):
    """Signal (int16) and time_to_failure (float64) of consecutive blocks from label times ``t_blocks``."""
    rows = _burst_rows(burst_times, t_blocks, steps, lengths)
    hit = rows >= 0
    dt = np.concatenate([[steps[0]], np.diff(t_blocks)])
    x = emitter.render(lengths, dt, sched.stress(t_blocks), sched.since_slip(t_blocks),
                       (rows[hit], burst_amps[hit]))
    ttf = sched.time_to_failure(sample_times(t_blocks, lengths))
    return x, ttf


def _clock(cfg: SyntheticConfig, sched: Schedule, rng: np.random.Generator):
    """The label clock: (label time at each block start, label step to the next, block lengths)."""
    mean_step = BLOCK / cfg.samples_per_second
    n_est = int(sched.t_end / mean_step * 1.05) + 16
    steps = block_steps(n_est, cfg.density, rng)
    t_blocks = np.concatenate([[0.0], np.cumsum(steps[:-1])])
    n_blocks = int(np.searchsorted(t_blocks, sched.t_end, side="left"))
    if n_blocks >= n_est:  # the 5% margin is ~100 sd of the block-step noise: never happens
        raise RuntimeError("label clock ran short of blocks")
    return t_blocks[:n_blocks], steps[:n_blocks], block_lengths(0, n_blocks)


def iter_chunks(cfg: SyntheticConfig, sched: Schedule | None = None):
    """Yield ``(signal int16, time_to_failure float64)`` chunks of the recording ``cfg`` describes."""
    rngs = _streams(cfg.seed)
    if sched is None:
        sched = make_schedule(cfg.cycles, cfg.n_cycles, rngs["schedule"])
    burst_times, burst_amps = _bursts(cfg, sched, rngs["bursts"])
    t_blocks, steps, lengths = _clock(cfg, sched, rngs["clock"])
    emitter = Emitter(cfg.emission, rngs["emission"])
    for c in range(0, len(t_blocks), cfg.chunk_blocks):
        sl = slice(c, c + cfg.chunk_blocks)
        yield _render_run(cfg, sched, emitter, t_blocks[sl], steps[sl], lengths[sl],
                          burst_times, burst_amps)


def recording_rows(cfg: SyntheticConfig, sched: Schedule | None = None) -> int:
    """Rows of the recording ``cfg`` describes (with schedule ``sched`` if given, as for
    :func:`iter_chunks`), from the label clock alone: no samples are rendered."""
    rngs = _streams(cfg.seed)
    if sched is None:
        sched = make_schedule(cfg.cycles, cfg.n_cycles, rngs["schedule"])
    return int(_clock(cfg, sched, rngs["clock"])[2].sum())


def labels(cfg: SyntheticConfig) -> np.ndarray:
    """time_to_failure of every sample in float64 (the recording stores float32), without the
    signal: the label clock alone is cheap. For train.csv, whose real labels carry 10 decimals."""
    rngs = _streams(cfg.seed)
    sched = make_schedule(cfg.cycles, cfg.n_cycles, rngs["schedule"])
    t_blocks, _, lengths = _clock(cfg, sched, rngs["clock"])
    out = np.empty(int(lengths.sum()))
    row = 0
    for c in range(0, len(t_blocks), cfg.chunk_blocks):
        sl = slice(c, c + cfg.chunk_blocks)
        t = sched.time_to_failure(sample_times(t_blocks[sl], lengths[sl]))
        out[row:row + len(t)] = t
        row += len(t)
    return out


def generate(cfg: SyntheticConfig, directory: Path, preset: str | None = None,
             progress: bool = False) -> dict:
    """Generate the recording ``cfg`` describes into ``directory``; return its meta."""
    t0 = time.perf_counter()
    sched = schedule_for(cfg)
    with store.RecordingWriter(Path(directory)) as w:
        for x, ttf in iter_chunks(cfg, sched):
            w.append(x, ttf)
            if progress:
                print(f"\r  generated {w.n_rows:,} samples", end="", flush=True)
        if progress:
            print()
        meta = {
            "source": {
                "kind": "synthetic",
                "preset": preset,
                "config": cfg.to_dict(),
                "config_hash": config_hash(cfg),
            },
            "synthetic": {
                "label_cycle_lengths_s": np.round(np.diff(sched.label_failures), 4).tolist(),
                "slips_s": np.round(sched.slips, 4).tolist(),
                "mini_quakes_s": np.round(sched.mini_times, 4).tolist(),
                "samples_per_label_second": cfg.samples_per_second,
                "generation_seconds": round(time.perf_counter() - t0, 2),
            },
        }
        return w.commit(meta)


def render_windows(cfg: SyntheticConfig, sched: Schedule, starts_s: np.ndarray, length: int,
                   rng: np.random.Generator, warmup_blocks: int = 3):
    """Isolated windows of ``length`` samples whose first sample lies at label times ``starts_s``.

    Each window gets a fresh emitter (its drifts drawn from their stationary distribution) and
    ``warmup_blocks`` blocks of signal before it, so that filters and ringing are in steady state.
    Returns ``(signals (n, length) int16, targets float32)``: the target is time_to_failure at the
    window's last sample, as for any window.
    """
    starts_s = np.asarray(starts_s, dtype=np.float64)
    n_blocks = warmup_blocks + -(-length // BLOCK) + 1
    mean_step = BLOCK / cfg.samples_per_second
    times, amps = _bursts(cfg, sched, rng)
    out = np.empty((len(starts_s), length), dtype=np.int16)
    targets = np.empty(len(starts_s), dtype=np.float32)
    for i, t0 in enumerate(starts_s):
        steps = block_steps(n_blocks, cfg.density, rng)
        lengths = np.full(n_blocks, BLOCK, dtype=np.int64)
        first = warmup_blocks * BLOCK
        # Place the window's first sample exactly at t0 (it starts a block).
        t_blocks = t0 - warmup_blocks * mean_step + np.concatenate([[0.0], np.cumsum(steps[:-1])])
        t_blocks += t0 - t_blocks[warmup_blocks]
        x, ttf = _render_run(cfg, sched, Emitter(cfg.emission, rng), t_blocks, steps, lengths, times, amps)
        out[i] = x[first:first + length]
        targets[i] = np.float32(ttf[first + length - 1])
    return out, targets
