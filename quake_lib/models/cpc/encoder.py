"""CPC encoder: raw normalized samples -> a sequence of latent vectors ``z`` (one per ``stride`` samples).

Front end (fixed, not learned): the real spectrum holds almost no power above ~1 MHz, so the same
windowed-sinc low-pass + decimation as the WaveNet (:class:`quake_lib.models.wavenet.Decimator`)
divides every later layer's cost by ``decimate`` for free.

Input range: with the fixed-scale normalization of :mod:`quake_lib.train.data` the background has
sd ~1 and the bursts reach hundreds to thousands of sds (kurtosis ~46). Three ways to feed that to
a network (``input_mode``):

- ``"compress"`` (default): ``sign(x) * log1p(|x|)`` after the low-pass. Monotone, so a louder
  window stays louder and events stay events, but a burst of 1,000 sd becomes ~7 instead of 1,000.
- ``"clip"``: ``clamp(x, -clip, clip)``, what the 2019 study did with (-10, 10). It keeps the
  background untouched and flattens exactly the events.
- ``"raw"``: nothing; the first layer sees the bursts at full size.

Body: strided 1D convolutions with GELU, no normalization layer: a per-step norm (CPC_audio's
ChannelNorm) would erase the loudness that is the precursor. Receptive field of one ``z``: see
:func:`latent_receptive_field`; neighbouring ``z`` overlap by ``receptive_field - stride`` samples.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..wavenet import Decimator

INPUT_MODES = ("compress", "clip", "raw")


@dataclass(frozen=True)
class EncoderConfig:
    decimate: int = 4               # fixed low-pass + decimation (4 MHz -> 1 MHz, keeps 0-450 kHz)
    lowpass_taps: int = 31
    input_mode: str = "compress"    # "compress" | "clip" | "raw" (see the module docstring)
    clip: float = 10.0              # "clip" only: the bound, in units of the fixed scale
    channels: tuple = (32, 32, 64)  # output channels of each strided convolution
    kernels: tuple = (8, 8, 4)
    strides: tuple = (4, 4, 4)      # product x decimate = samples per latent step (256: 64 us)

    @property
    def stride(self) -> int:
        s = self.decimate
        for k in self.strides:
            s *= k
        return s

    @property
    def dim(self) -> int:
        return self.channels[-1]


def latent_receptive_field(c: EncoderConfig) -> int:
    """Input samples (at 4 MHz) that one latent vector sees."""
    rf, jump = 1, 1
    for k, s in zip(c.kernels, c.strides):
        rf += (k - 1) * jump
        jump *= s
    return rf * c.decimate + c.lowpass_taps - 1


class Encoder(nn.Module):
    """``(batch, 1, length)`` -> ``(batch, dim, length // stride)`` latents."""

    def __init__(self, config: EncoderConfig = EncoderConfig()):
        super().__init__()
        c = config
        if c.input_mode not in INPUT_MODES:
            raise ValueError(f"EncoderConfig.input_mode must be one of {INPUT_MODES} (got {c.input_mode!r})")
        if not (len(c.channels) == len(c.kernels) == len(c.strides)) or not c.channels:
            raise ValueError("EncoderConfig.channels, kernels and strides must be non-empty and of one length "
                             f"(got {c.channels}, {c.kernels}, {c.strides})")
        if c.input_mode == "clip" and not c.clip > 0:
            raise ValueError(f"EncoderConfig.clip must be positive (got {c.clip})")
        self.config = c
        self.decimator = Decimator(c.decimate, c.lowpass_taps)
        convs, cin = [], 1
        for cout, k, s in zip(c.channels, c.kernels, c.strides):
            # left padding k - s: output i covers inputs [i*s - (k-s), i*s + s), so the sequence
            # length is exactly length // stride and each latent ends where its stride ends
            convs.append(nn.Conv1d(cin, cout, k, stride=s))
            cin = cout
        self.convs = nn.ModuleList(convs)

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        x = self.decimator(x)
        mode = self.config.input_mode
        if mode == "compress":
            return torch.sign(x) * torch.log1p(x.abs())
        if mode == "clip":
            return x.clamp(-self.config.clip, self.config.clip)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[1] != 1:
            raise ValueError(f"encoder input must be (batch, 1, length) windows (got shape {tuple(x.shape)})")
        if x.shape[-1] < self.config.stride:
            raise ValueError(f"windows of {x.shape[-1]} samples are shorter than one latent step "
                             f"({self.config.stride} samples)")
        h = self.prepare_input(x)
        for conv in self.convs:
            k, s = conv.kernel_size[0], conv.stride[0]
            h = F.gelu(conv(F.pad(h, (k - s, 0))))
        return h
