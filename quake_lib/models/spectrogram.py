"""The spectrogram ResNet's front end: a batched log-power spectrogram on ``torch.stft``, on the model's device.

The 2019 study computed every spectrogram with ``scipy.signal.spectrogram`` inside the DataLoader, one
window at a time on the CPU (``nperseg=512``, ``noverlap=64``, Hann window, ``detrend='linear'``),
then took the log and cut the frequencies. Here the same numbers come from one batched STFT:

- **STFT** with a periodic Hann window (scipy's ``get_window('hann', n)``), no centring or padding,
  so frame ``t`` covers samples ``[t * hop, t * hop + n_fft)`` exactly as in scipy.
- **detrend** of each frame (``'none'``, ``'constant'``, ``'linear'``: scipy's option). The STFT is
  linear, so the STFT of a frame minus its least-squares line ``a + b (t - t_mean)`` is
  ``STFT(x) - a FFT(w) - b FFT(w (t - t_mean))``: no detrended copy of the frames is made.
- **two exact routes** (``method``): ``'stft'`` (default) is ``torch.stft`` (all ``n_fft // 2 + 1``
  bins, then the cut), with each frame's mean ``a`` and slope ``b`` from sums over blocks of
  ``gcd(n_fft, hop)`` samples (64 at 512 / 448): every frame is a whole number of blocks, so one pass
  over the window gives the block sums and centred first moments, and a frame's ``a`` and ``b`` are
  sums of 8 of them; the detrend and the power then touch only the kept bins, as (real, imaginary)
  float pairs (a complex ``abs`` is several times slower). ``'dft'`` is one matrix product of the frames with a
  precomputed ``(n_fft, 2 x n_freqs)`` real matrix that holds the window, the detrend and only the
  bins below the cutoff (4x fewer bins than the FFT, but ~45 MFLOP per window against the FFT's ~4).
  Both are measured in ``benchmarks/spectrogram_speed.py``; ``'stft'`` is the faster on CPU.
- **chunks on CPU**: a batch is transformed two windows of 150,000 samples at a time
  (``CPU_CHUNK_SAMPLES``). A whole batch of 32 makes ~20 MB temporaries (samples as float, frames,
  spectrum) that the C allocator hands back to the kernel and maps fresh for the next batch, and
  faulting pages in is slow on this project's 2-core VM: with every temporary mapped fresh (glibc's
  ``MALLOC_TRIM_THRESHOLD_`` set, which freezes its mmap threshold at 128 kB) :meth:`power` made
  ~1,100 spectrograms/s, with none (both thresholds at 1 GB) 7,000-7,700. Two windows' temporaries
  stay in the heap and in cache. Measured with the default allocator (batches of 32, 2 threads, 16
  passes over 256 windows): chunks of 1, 2, 3, 4 windows and the whole batch gave ~6,000,
  6,400-7,500, 4,400-8,000, 3,900-8,400 and 2,000-3,000 spectrograms/s. On a GPU the whole batch is
  one launch.
- **power** ``|X|^2 / sum(w^2)``: the mean square of the windowed frame in each bin, so unit-variance
  white noise has power 1 in every bin (scipy's one-sided ``'density'`` PSD is this times ``2 / fs``
  off the DC and Nyquist bins; librosa's ``|stft|**2`` is this times ``sum(w^2)``).
- **frequency cutoff** ``cutoff_hz``: the real spectrum holds ~90% of its power below ~800 kHz and
  peaks at 250 kHz (see the spectral inspection), and the precursor's bands lie below ~500 kHz; cutting there keeps 65
  of 257 bins at ``n_fft=512``: a 4x smaller image for the network.
- **frame pooling** ``time_pool``: power averaged over that many consecutive frames (a Welch-style
  average: the same energy, less variance per pixel). The precursor is a window-level loudness and
  burstiness, which 1.8 ms pixels resolve as well as 0.11 ms ones; the image's cost to a ResNet is
  proportional to its pixel count.
- **log** ``log(power + log_eps)``: the signal is heavy-tailed (bursts of thousands of counts over a
  background of a few), log power makes both visible in one image.
- **normalization**: a BatchNorm over the frequency bins (``norm='freq_batchnorm'``): one mean and sd
  per frequency, estimated on training batches and fixed at evaluation (the training code replaces the
  running statistics with a plain average over training windows before predicting). It standardizes
  the spectrum's steep slope so that every band starts on an equal footing, and, unlike a per-window or
  per-image standardization, it keeps each window's loudness relative to the others: the input is
  already median-centred and divided by ONE fixed scale, and loudness is the precursor.

Autocast: under bf16 mixed precision (GPU training, ``quake_lib.train.fit``) the STFT, the detrend and
the log would lose the small differences between windows that carry the signal (bf16 has 8 bits of
mantissa), so the whole front end runs in float32 inside an autocast-disabled region; the ResNet after
it runs in bf16.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..constants import SAMPLE_RATE_HZ

DETRENDS = ("none", "constant", "linear")
METHODS = ("stft", "dft")
NORMS = ("freq_batchnorm", "none")
# CPU work per chunk, in samples: 2 windows of 150,000 (see "chunks on CPU" in the module docstring)
CPU_CHUNK_SAMPLES = 300_000


def cpu_chunk(length: int) -> int:
    """Windows of ``length`` samples transformed together on CPU (at least one)."""
    return max(1, CPU_CHUNK_SAMPLES // length)


@dataclass(frozen=True)
class SpectrogramConfig:
    n_fft: int = 512                 # samples per frame (2019: nperseg=512)
    hop: int = 448                   # 2019: noverlap=64 -> hop 512 - 64
    detrend: str = "linear"          # per frame, as scipy's detrend= (2019: 'linear')
    cutoff_hz: float | None = 500_000.0  # keep bins at or below this frequency (None: all)
    time_pool: int = 1               # average power over this many consecutive frames
    log_eps: float = 1e-4            # log(power + eps): -40 dB under unit-variance white noise
    norm: str = "freq_batchnorm"     # or 'none'
    freq_pool: int = 1               # average power over this many adjacent frequency bins
    method: str = "stft"             # or 'dft' (see the module docstring)
    fs: float = SAMPLE_RATE_HZ

    def n_freqs(self) -> int:
        """Frequency bins kept below the cutoff."""
        n = self.n_fft // 2 + 1
        if self.cutoff_hz is None:
            return n
        return min(n, int(math.floor(self.cutoff_hz * self.n_fft / self.fs + 1e-9)) + 1)

    def image_shape(self, length: int) -> tuple[int, int]:
        """(frequency rows, frame columns) of the image a ``length``-sample window gives."""
        return self.n_freqs() // self.freq_pool, self.n_frames(length)

    def n_frames(self, length: int) -> int:
        """Frames of a ``length``-sample window (after pooling)."""
        frames = (length - self.n_fft) // self.hop + 1
        return max(frames // self.time_pool, 0)

    def validate(self) -> None:
        if self.n_fft < 4 or self.n_fft % 2:
            raise ValueError(f"Spectrogram n_fft must be an even number >= 4 (got {self.n_fft})")
        if not 0 < self.hop <= self.n_fft:
            raise ValueError(f"Spectrogram hop must be in 1..n_fft={self.n_fft} (got {self.hop})")
        if self.detrend not in DETRENDS:
            raise ValueError(f"Spectrogram detrend must be one of {DETRENDS} (got {self.detrend!r})")
        if self.norm not in NORMS:
            raise ValueError(f"Spectrogram norm must be one of {NORMS} (got {self.norm!r})")
        if self.method not in METHODS:
            raise ValueError(f"Spectrogram method must be one of {METHODS} (got {self.method!r})")
        for name in ("time_pool", "freq_pool"):
            if getattr(self, name) < 1:
                raise ValueError(f"Spectrogram {name} must be a positive integer (got {getattr(self, name)})")
        if self.cutoff_hz is not None and not 0 < self.cutoff_hz:
            raise ValueError(f"Spectrogram cutoff_hz must be positive or None (got {self.cutoff_hz})")
        if not self.log_eps > 0:
            raise ValueError(f"Spectrogram log_eps must be positive (got {self.log_eps})")


class Spectrogram(nn.Module):
    """``(batch, 1, length)`` or ``(batch, length)`` float windows -> ``(batch, 1, n_freqs, n_frames)``
    normalized log power (see the module docstring). :meth:`power` gives the linear power before
    pooling, the log and the normalization (what the tests compare with scipy and librosa)."""

    def __init__(self, config: SpectrogramConfig = SpectrogramConfig()):
        super().__init__()
        config.validate()
        self.config = c = config
        n = c.n_fft
        self.n_freqs = f = c.n_freqs()
        self.method = c.method
        if c.freq_pool > f:
            raise ValueError(f"Spectrogram freq_pool ({c.freq_pool}) exceeds the {f} bins kept")
        window = torch.hann_window(n, periodic=True, dtype=torch.float64)  # scipy's 'hann' for spectra
        self.power_scale = 1.0 / float((window * window).sum())
        # the power's scale goes into the transform (window, DFT matrix, detrend basis), so |X|^2 comes
        # out as the power: one pass less over the image
        amplitude = math.sqrt(self.power_scale)
        if self.method == "dft":
            self.register_buffer("dft", dft_matrix(n, f, c.detrend) * amplitude, persistent=False)
        else:
            self.register_buffer("window", (window * amplitude).float(), persistent=False)
            # what a frame's sum and centred first moment add to each kept bin's (real, imaginary)
            # pair: the FFTs of the window and of the window times the centred ramp, over the frame's
            # length and its ramp's sum of squares. Built in float64.
            t = torch.arange(n, dtype=torch.float64) - (n - 1) / 2
            w_fft, wt_fft = torch.fft.rfft(window)[:f], torch.fft.rfft(window * t)[:f]
            rows = [torch.view_as_real(w_fft).reshape(-1) / n, torch.view_as_real(wt_fft).reshape(-1) / (t * t).sum()]
            self.register_buffer("detrend_basis", (torch.stack(rows) * amplitude).float(), persistent=False)  # (2, 2f)
            self.block = g = math.gcd(n, c.hop)
            # centred sample offsets within a block, and each block's centre relative to the frame's
            self.register_buffer("block_ramp", (torch.arange(g) - (g - 1) / 2).float(), persistent=False)
            self.register_buffer("block_offsets", (torch.arange(n // g) * g + (g - 1) / 2 - (n - 1) / 2).float(),
                                 persistent=False)
        self.norm = (nn.BatchNorm1d(f // c.freq_pool, affine=True) if c.norm == "freq_batchnorm" else None)

    def frequencies(self) -> torch.Tensor:
        """Centre frequency (Hz) of each kept bin."""
        return torch.arange(self.n_freqs, dtype=torch.float64) * self.config.fs / self.config.n_fft

    def power(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, length)`` windows, float or integer (int16 as stored) -> linear power
        ``(batch, n_freqs, frames)`` (float32, cut, unpooled)."""
        c = self.config
        if x.dim() == 3:
            if x.shape[1] != 1:
                raise ValueError(f"Spectrogram input must have one channel (got shape {tuple(x.shape)})")
            x = x[:, 0]
        if x.dim() != 2:
            raise ValueError(f"Spectrogram input must be (batch, length) or (batch, 1, length) "
                             f"(got shape {tuple(x.shape)})")
        if x.shape[-1] < c.n_fft:
            raise ValueError(f"windows of {x.shape[-1]} samples are shorter than n_fft={c.n_fft}")
        # float32 whatever the autocast context: see the module docstring
        with torch.autocast(device_type=x.device.type, enabled=False):
            n = x.shape[0]
            chunk = cpu_chunk(x.shape[-1]) if x.device.type == "cpu" else n
            # each part is (b, frames, f) frame-major memory: chunks concatenate without a transposing copy
            parts = [self._power(x[i:i + chunk].float()) for i in range(0, n, chunk)]
            return (parts[0] if len(parts) == 1 else torch.cat(parts)).transpose(1, 2)

    def _power(self, x: torch.Tensor) -> torch.Tensor:
        """``(b, length)`` float32 -> ``(b, frames, f)`` power."""
        if self.method == "dft":
            return self._dft_power(x)
        moments = None if self.config.detrend == "none" else self.frame_moments(x)
        return self._stft_power(x, moments)

    def _dft_power(self, x: torch.Tensor) -> torch.Tensor:
        # the (b, frames, n_fft) frames times the (n_fft, 2 f) [real | imaginary] columns
        c, f = self.config, self.n_freqs
        z = torch.matmul(x.unfold(-1, c.n_fft, c.hop), self.dft)
        return z[..., :f].square() + z[..., f:].square()

    def _stft_power(self, x: torch.Tensor, moments: torch.Tensor | None) -> torch.Tensor:
        # torch.stft's (b, bins, frames) is a transposed view of frame-major memory: work frame-major,
        # on each frame's first f bins as contiguous (real, imaginary) pairs
        c, f = self.config, self.n_freqs
        spec = torch.stft(x, c.n_fft, hop_length=c.hop, window=self.window, center=False,
                          onesided=True, return_complex=True).transpose(1, 2)[..., :f]
        z = torch.view_as_real(spec)  # (b, t, f, 2)
        if moments is not None:
            z = z - (moments @ self.detrend_basis).view(z.shape)  # minus a W + b WT
        z = z.square()
        return z[..., 0] + z[..., 1]

    def frame_moments(self, x: torch.Tensor) -> torch.Tensor:
        """``(b, length)`` float32 windows -> ``(b, frames, 2)``: each frame's sum and its first moment
        about the frame's centre (the second is zero for ``detrend='constant'``), from block sums
        (module docstring)."""
        c, g = self.config, self.block
        frames = (x.shape[-1] - c.n_fft) // c.hop + 1
        blocks = x[:, : (frames - 1) * c.hop + c.n_fft].reshape(x.shape[0], -1, g)  # a view of each row
        sums = blocks.sum(-1)                                   # (b, blocks)
        per_frame = sums.unfold(-1, c.n_fft // g, c.hop // g)   # (b, t, blocks per frame)
        total = per_frame.sum(-1)
        if c.detrend == "constant":
            return torch.stack([total, torch.zeros_like(total)], -1)
        # one matrix-vector product per window: 1.3-2x faster than (blocks * ramp).sum(-1) on CPU and
        # 4x faster than the batched blocks @ ramp (a window's blocks are contiguous, the batch's not)
        block_moments = torch.stack([w.mv(self.block_ramp) for w in blocks])
        moment = block_moments.unfold(-1, c.n_fft // g, c.hop // g).sum(-1) + per_frame @ self.block_offsets
        return torch.stack([total, moment], -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        with torch.autocast(device_type=x.device.type, enabled=False):
            p = self.power(x)
            if c.time_pool > 1:
                p = F.avg_pool1d(p, c.time_pool, stride=c.time_pool)
            if c.freq_pool > 1:
                p = F.avg_pool1d(p.transpose(1, 2), c.freq_pool, stride=c.freq_pool).transpose(1, 2)
            s = torch.log(p + c.log_eps)
            if self.norm is not None:
                s = self.norm(s)
        return s.unsqueeze(1)


def dft_matrix(n_fft: int, n_freqs: int, detrend: str) -> torch.Tensor:
    """``(n_fft, 2 n_freqs)`` float32: a frame times it gives the real and imaginary parts of the first
    ``n_freqs`` DFT bins of the Hann-windowed, detrended frame (built in float64)."""
    n = torch.arange(n_fft, dtype=torch.float64)
    k = torch.arange(n_freqs, dtype=torch.float64)
    window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
    basis = window[:, None] * torch.exp(-2j * math.pi * torch.outer(n, k) / n_fft)  # (n, f) complex
    if detrend in ("constant", "linear"):
        basis = basis - basis.sum(0, keepdim=True) / n_fft  # minus the frame mean's share of each bin
    if detrend == "linear":
        t = n - (n_fft - 1) / 2
        basis = basis - torch.outer(t, (t[:, None] * basis).sum(0)) / (t * t).sum()
    return torch.cat([basis.real, basis.imag], dim=1).float()
