"""A WaveNet-style dilated 1D CNN on the raw 150k-sample window.

Input: ``(batch, 1, length)`` float32 windows, already centred on their median and divided by one
fixed scale (see :mod:`quake_lib.train.data`), so loudness, the precursor, is intact.

Why the front end is cheap: the real spectrum holds almost no power above ~1 MHz (90% below
~850 kHz, peak near 250 kHz). A fixed windowed-sinc low-pass and decimation by ``decimate`` (4:
keeps 0-500 kHz) costs one 1-channel strided convolution and divides every later layer's cost by
``decimate``; a learned strided convolution (the stem) divides it again by ``stem_stride``.
Heavy tails (kurtosis ~46, bursts in the thousands) are tamed where it matters, at the readout: the
pooling works on log energies and quantiles. An optional sign-preserving log of the input
(``compress``) was measured too and was no better (5-fold CV on the synthetic data: MAE ~0.05-0.07
worse for both heads), so it is off by default.

Body: ``len(dilations)`` residual blocks of dilated, non-causal convolutions with WaveNet's gated
activation (tanh x sigmoid), residual and skip 1x1 convolutions. Readout: the log energy of each
skip channel in short stretches (``energy_window`` steps), summarized over the window by its mean,
quantiles and max (loudness and burstiness are window-level statistics, and the background level
between events counts as much as the events), then a small MLP maps it to the head's outputs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class WaveNetConfig:
    decimate: int = 4               # fixed anti-alias low-pass + decimation factor (1 = off)
    lowpass_taps: int = 31          # FIR length of that low-pass (odd)
    compress: bool = False          # sign(x) * log1p(|x|) after the low-pass
    stem_channels: int = 16
    # learned strided conv: another factor in time. 16 (kernel 32) rather than 8 (kernel 16) halves the
    # body's steps: about twice the training throughput on 2 CPU cores (benchmarks/train_throughput.py
    # measures both) for a held-out MAE within the seed spread
    stem_kernel: int = 32
    stem_stride: int = 16
    channels: int = 16
    kernel: int = 3
    dilations: tuple = (1, 2, 4, 8, 16, 32)
    skip_channels: int = 24
    energy_window: int = 8          # steps (x decimate x stem_stride samples: 512 = 128 us)
    pool_quantiles: tuple = (0.05, 0.25, 0.5, 0.75, 0.95)
    hidden: int = 32                # MLP width after pooling
    dropout: float = 0.1            # in the MLP only: dropout on (batch, channels, time) maps
                                    # cost ~10% of a CPU step for little regularization here


def lowpass_kernel(factor: int, taps: int) -> torch.Tensor:
    """Hamming-windowed sinc with its cut-off at 0.9 x the new Nyquist frequency, unit DC gain."""
    if taps % 2 == 0 or taps < 3:
        raise ValueError(f"lowpass_taps must be an odd number >= 3 (got {taps})")
    cutoff = 0.9 / factor  # as a fraction of the old Nyquist frequency
    n = torch.arange(taps, dtype=torch.float64) - (taps - 1) / 2
    h = cutoff * torch.sinc(cutoff * n) * torch.hamming_window(taps, periodic=False, dtype=torch.float64)
    return (h / h.sum()).float().view(1, 1, taps)


class Decimator(nn.Module):
    """Fixed (not learned) low-pass then keep one sample in ``factor``: one strided convolution."""

    def __init__(self, factor: int, taps: int):
        super().__init__()
        if factor < 1:
            raise ValueError(f"decimate must be a positive integer (got {factor})")
        self.factor = factor
        self.register_buffer("kernel", lowpass_kernel(factor, taps) if factor > 1 else torch.ones(1, 1, 1),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.factor == 1:
            return x
        pad = self.kernel.shape[-1] // 2
        return F.conv1d(x, self.kernel.to(x.dtype), stride=self.factor, padding=pad)


class GatedResidualBlock(nn.Module):
    def __init__(self, channels: int, skip_channels: int, kernel: int, dilation: int):
        super().__init__()
        pad = dilation * (kernel - 1) // 2  # non-causal: the whole window is known at prediction
        self.conv = nn.Conv1d(channels, 2 * channels, kernel, dilation=dilation, padding=pad)
        self.res = nn.Conv1d(channels, channels, 1)
        self.skip = nn.Conv1d(channels, skip_channels, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f, g = self.conv(x).chunk(2, dim=1)
        h = torch.tanh(f) * torch.sigmoid(g)
        return x + self.res(h), self.skip(h)


class WaveNet(nn.Module):
    """``(batch, 1, length)`` -> ``(batch, n_outputs)``."""

    def __init__(self, n_outputs: int, config: WaveNetConfig = WaveNetConfig()):
        super().__init__()
        c = config
        self.config = c
        self.decimator = Decimator(c.decimate, c.lowpass_taps)
        self.stem = nn.Conv1d(1, c.stem_channels, c.stem_kernel, stride=c.stem_stride,
                              padding=(c.stem_kernel - c.stem_stride) // 2)
        self.inp = nn.Conv1d(c.stem_channels, c.channels, 1)
        self.blocks = nn.ModuleList(GatedResidualBlock(c.channels, c.skip_channels, c.kernel, d)
                                    for d in c.dilations)
        n_stats = len(c.pool_quantiles) + 2
        # BatchNorm over the pooled statistics: their differences between windows (the signal)
        # are small next to their common level at initialization; standardizing them lets the
        # MLP see loudness differences from the first steps of a short CPU run.
        self.mlp = nn.Sequential(nn.BatchNorm1d(n_stats * c.skip_channels),
                                 nn.Linear(n_stats * c.skip_channels, c.hidden), nn.GELU(),
                                 nn.Dropout(c.dropout), nn.Linear(c.hidden, n_outputs))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled ``(batch, n_stats * skip_channels)`` representation of the window."""
        if x.dim() != 3 or x.shape[1] != 1:
            raise ValueError(f"input must be (batch, 1, length) windows (got shape {tuple(x.shape)})")
        x = self.decimator(x)
        if self.config.compress:
            x = torch.sign(x) * torch.log1p(x.abs())
        h = self.inp(torch.tanh(self.stem(x)))
        skip = 0
        for block in self.blocks:
            h, s = block(h)
            skip = skip + s
        return self.pool(skip / math.sqrt(len(self.blocks)))

    def pool(self, skip: torch.Tensor) -> torch.Tensor:
        """Log local energy of each skip channel over ``energy_window`` steps, summarized over the
        window by its mean, quantiles and max: a learned filter bank's version of the rolling-std
        percentiles that carry most of the LightGBM baseline (the quiet-time level matters as
        much as the loudest events, and a plain mean would be dominated by the events)."""
        k = self.config.energy_window
        e = torch.log(F.avg_pool1d(skip.float().pow(2), k, stride=k) + 1e-4)
        q = torch.quantile(e, e.new_tensor(self.config.pool_quantiles), dim=-1)  # (nq, batch, ch)
        return torch.cat([e.mean(-1), *q, e.amax(-1)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.features(x))


def receptive_field(config: WaveNetConfig) -> int:
    """Receptive field of one skip output, in input samples at 4 MHz."""
    steps = config.stem_kernel + (config.kernel - 1) * sum(config.dilations) * config.stem_stride
    return steps * config.decimate
