"""The exploration's figures: the whole recording, a failure up close, statistics against the target.

Plotting 629M points is hopeless; :func:`envelope` reduces the signal to a min/max pair per bin (the
shape a plot of every point would show), reading the memory map in chunks, in seconds.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .style import symlog_counts

_CHUNK = 1 << 24  # samples read at a time by envelope()


def envelope(x: np.ndarray, n_bins: int, start: int = 0, stop: int | None = None):
    """Min and max of ``x[start:stop]`` in ``n_bins`` equal bins: (bin start rows, lo, hi)."""
    stop = len(x) if stop is None else stop
    n = stop - start
    if n <= 0 or n_bins <= 0:
        raise ValueError(f"empty range [{start}, {stop}) or n_bins={n_bins}")
    size = max(1, -(-n // n_bins))  # ceil
    per_chunk = max(1, _CHUNK // size) * size
    lo, hi = [], []
    for a in range(start, stop, per_chunk):
        block = np.asarray(x[a:min(a + per_chunk, stop)])
        full = len(block) // size * size
        if full:
            b = block[:full].reshape(-1, size)
            lo.append(b.min(axis=1))
            hi.append(b.max(axis=1))
        if full < len(block):
            lo.append(block[full:].min(keepdims=True))
            hi.append(block[full:].max(keepdims=True))
    lo, hi = np.concatenate(lo), np.concatenate(hi)
    return start + np.arange(len(lo)) * size, lo, hi


def overview_figure(rec, n_bins: int = 4000):
    """Signal envelope and time_to_failure over the whole recording, failures marked."""
    idx, lo, hi = envelope(rec.signal, n_bins)
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(11, 5), sharex=True)
    scale = 1e6
    a1.fill_between(idx / scale, lo, hi, step="post", lw=0, color="tab:blue")
    a1.set_ylabel("acoustic_data (counts)")
    symlog_counts(a1)
    step = max(1, len(rec) // (4 * n_bins))
    rows = np.arange(0, len(rec), step)
    a2.plot(rows / scale, np.asarray(rec.ttf[::step]), color="tab:red", lw=1)
    a2.set_ylabel("time_to_failure (s)")
    a2.set_xlabel("sample (millions)")
    for r in rec.cycles["first_row"].iloc[1:]:
        for a in (a1, a2):
            a.axvline(r / scale, color="k", lw=0.6, ls=":")
    a1.set_title(f"{rec.name}: {len(rec):,} samples, {len(rec.cycles) - 1} failures (dotted)")
    fig.tight_layout()
    return fig


def failure_zoom(rec, cycle: int, before_s: float = 1.5, after_s: float = 0.3, n_bins: int = 3000):
    """The last ``before_s`` label seconds of ``cycle`` and the first ``after_s`` of the next one.

    Returns (figure, facts) where facts gives the time_to_failure at the largest burst: in the real
    recording it is ~0.3 s, i.e. the big slip is heard *before* the label reaches 0.
    """
    cyc = rec.cycles
    if not 0 <= cycle < len(cyc) - 1:
        raise ValueError(f"cycle {cycle} is not followed by a failure (cycles 0..{len(cyc) - 2} are)")
    this, nxt = cyc.iloc[cycle], cyc.iloc[cycle + 1]
    rate = this.n_rows / max(this.duration_s, 1e-9)  # rows per label second (block gaps included)
    a = int(max(this.first_row, this.last_row - before_s * rate))
    b = int(min(nxt.last_row, nxt.first_row + after_s * rate))
    x = np.asarray(rec.signal[a:b + 1])
    t = np.asarray(rec.ttf[a:b + 1], dtype=np.float64)
    fail = int(this.last_row) + 1 - a
    time = np.where(np.arange(len(t)) < fail, -t, nxt.start_ttf - t)  # label seconds from the failure
    pre = np.abs(x[:fail].astype(np.int32) - int(np.median(x[:fail])))
    burst = int(np.argmax(pre))
    facts = {"cycle": cycle, "burst_ttf_s": round(float(t[burst]), 3), "burst_abs_counts": int(pre[burst]),
             "rows_shown": int(len(x))}
    idx, lo, hi = envelope(x, n_bins)
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(11, 4.5), sharex=True)
    a1.fill_between(time[idx], lo, hi, step="post", lw=0)
    symlog_counts(a1)
    a1.axvline(time[burst], color="tab:orange", lw=1, label=f"largest burst: ttf = {facts['burst_ttf_s']} s")
    a1.legend(loc="upper left")
    a1.set_ylabel("acoustic_data")
    a2.plot(time[:: max(1, len(t) // 5000)], t[:: max(1, len(t) // 5000)], color="tab:red")
    a2.set_ylabel("time_to_failure (s)")
    a2.set_xlabel("label seconds relative to the failure (label reset at 0)")
    for ax in (a1, a2):
        ax.axvline(0, color="k", ls=":", lw=1)
    a1.set_title(f"end of cycle {cycle}: the burst precedes the label reset")
    fig.tight_layout()
    return fig, facts


def stats_vs_target_figure(features: pd.DataFrame, target, columns, bins):
    """Per feature: windows as dots, the median and inter-quartile band per target bin."""
    target = np.asarray(target)
    n = len(columns)
    fig, axes = plt.subplots(1, n, figsize=(3.0 * n, 3.0), sharex=True)
    centres = 0.5 * (np.asarray(bins[:-1]) + np.asarray(bins[1:]))
    cut = pd.cut(target, bins)
    for ax, col in zip(np.atleast_1d(axes), columns):
        g = features[col].groupby(cut, observed=False)
        ax.scatter(target, features[col], s=2, alpha=0.25, color="0.5")
        ax.plot(centres, g.median(), color="tab:red", lw=2)
        ax.fill_between(centres, g.quantile(0.25), g.quantile(0.75), color="tab:red", alpha=0.2)
        lo, hi = np.nanpercentile(features[col], [1, 99])
        ax.set_ylim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
        ax.set_title(col)
        ax.set_xlabel("time_to_failure (s)")
    fig.tight_layout()
    return fig


def target_figure(target):
    """Histogram of the targets with the median (the constant baseline's answer) marked."""
    y = np.asarray(target)
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.hist(y, bins=40, color="tab:red", alpha=0.7)
    ax.axvline(np.median(y), color="k", ls="--", label=f"median {np.median(y):.2f} s")
    ax.set_xlabel("time_to_failure (s)")
    ax.set_ylabel("windows")
    ax.legend()
    return fig
