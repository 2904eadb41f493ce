"""Small networks over a lab run's AE-variance history (``(batch, steps, channels)``, oldest first).

- :class:`CausalCNN`: the WaveNet scaled down (see :mod:`.wavenet`): WaveNet's gated residual blocks of
  dilated convolutions, but causal (padded on the left only), so the features of a step depend on that
  step and earlier ones only: the same network serves as CPC's encoder, whose latents must not see
  the future they are asked to predict. Readout: the last step's skip features beside their mean
  over the history, through a small MLP. The raw waveform's decimating front end is gone: a row
  is already a 0.1 s variance.
- :class:`LaurentiLSTM`: the network of Laurenti et al. 2022's prediction notebook, scaled down
  (their LSTM of 128 units, convolutions of 128/84/64 channels, dense 64/32; here ``hidden`` units and
  half of that in the convolutions); their input BatchNorm is left out (the inputs arrive
  normalized) and so is the ReLU on the output (targets arrive standardized, so they can be negative).
- :class:`LabCPC`: a short-range causal encoder, a GRU context and K-step InfoNCE (:mod:`.cpc.infonce`)
  for contrastive pre-training on the unlabeled variance sequence; the context at the last step of a
  history is the representation a probe reads.

All of them output one value per target: the three targets are learned by one network (multi-output).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .cpc.infonce import InfoNCE, InfoNCEConfig, InfoNCEOutput


@dataclass(frozen=True)
class CausalCNNConfig:
    channels: int = 32
    kernel: int = 3
    dilations: tuple = (1, 2, 4, 8, 16, 32)  # receptive field 1 + 2 * 63 = 127 rows > the 70-row history
    skip_channels: int = 32
    hidden: int = 32                         # MLP width of the readout


def shift(x: torch.Tensor, steps: int) -> torch.Tensor:
    """``x`` ``(batch, time, channels)`` delayed by ``steps``: step t holds step t - steps (zeros before
    the first step)."""
    if steps == 0:
        return x
    return F.pad(x, (0, 0, steps, 0))[:, :x.shape[1]]


class CausalGatedBlock(nn.Module):
    """A dilated causal convolution (taps at t, t - d, t - 2d, ...), tanh x sigmoid gate, residual and
    skip 1x1. The taps are stacked along channels and mixed by one matrix product, which on the CPU is
    several times faster than ``nn.Conv1d`` with a dilation for these few channels (its dilated path
    is a slow one); the arithmetic is the same convolution."""

    def __init__(self, channels: int, skip_channels: int, kernel: int, dilation: int):
        super().__init__()
        self.delays = [dilation * i for i in range(kernel)]
        # filter and gate as two products, not one split in two: the halves of a split are strided
        # views, on which the CPU's tanh and sigmoid run ~4x slower (measured)
        self.filter = nn.Linear(kernel * channels, channels)
        self.gate = nn.Linear(kernel * channels, channels)
        self.res = nn.Linear(channels, channels)
        self.skip = nn.Linear(channels, skip_channels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        taps = torch.cat([shift(x, d) for d in self.delays], dim=-1)
        h = torch.tanh(self.filter(taps)) * torch.sigmoid(self.gate(taps))
        return x + self.res(h), self.skip(h)


def receptive_field(config: CausalCNNConfig) -> int:
    """Rows one step's features depend on (itself and the ones before)."""
    return 1 + (config.kernel - 1) * sum(config.dilations)


class CausalCNN(nn.Module):
    """``(batch, steps, n_in)`` -> ``(batch, n_outputs)`` (the last step's prediction)."""

    def __init__(self, n_in: int, n_outputs: int, config: CausalCNNConfig = CausalCNNConfig()):
        super().__init__()
        c = config
        self.config = c
        self.inp = nn.Linear(n_in, c.channels)
        self.blocks = nn.ModuleList(CausalGatedBlock(c.channels, c.skip_channels, c.kernel, d)
                                    for d in c.dilations)
        self.mlp = nn.Sequential(nn.Linear(2 * c.skip_channels, c.hidden), nn.GELU(),
                                 nn.Linear(c.hidden, n_outputs))

    def sequence(self, x: torch.Tensor) -> torch.Tensor:
        """Skip features of every step, ``(batch, steps, skip_channels)``: step t sees steps <= t only."""
        if x.dim() != 3:
            raise ValueError(f"input must be (batch, steps, channels) (got shape {tuple(x.shape)})")
        h = self.inp(x)
        skip = 0
        for block in self.blocks:
            h, s = block(h)
            skip = skip + s
        return torch.tanh(skip / len(self.blocks) ** 0.5)

    def per_step(self, x: torch.Tensor) -> torch.Tensor:
        """The prediction at every step, ``(batch, steps, n_outputs)``, from that step's features and
        the running mean of the features so far (so step t, too, uses steps <= t only)."""
        s = self.sequence(x)
        running = s.cumsum(1) / torch.arange(1, s.shape[1] + 1, device=s.device, dtype=s.dtype).view(1, -1, 1)
        return self.mlp(torch.cat([s, running], dim=-1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.sequence(x)
        return self.mlp(torch.cat([s[:, -1], s.mean(1)], dim=-1))


class LaurentiLSTM(nn.Module):
    """``(batch, steps, n_in)`` -> ``(batch, n_outputs)``: LSTM over the history, two convolutions over
    its outputs, flattened, dense layers (Laurenti et al.'s layout, scaled down)."""

    def __init__(self, n_in: int, n_outputs: int, steps: int, hidden: int = 32):
        super().__init__()
        self.steps = steps
        half = max(hidden // 2, 1)
        self.lstm = nn.LSTM(n_in, hidden, batch_first=True)
        # kernel 2, padded on the right as Keras' padding="same" does
        self.conv = nn.Sequential(nn.ZeroPad1d((0, 1)), nn.Conv1d(hidden, hidden, 2), nn.ReLU(),
                                  nn.ZeroPad1d((0, 1)), nn.Conv1d(hidden, half, 2), nn.ReLU())
        self.dense = nn.Sequential(nn.Flatten(), nn.Linear(half * steps, 2 * hidden), nn.ReLU(),
                                   nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, n_outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[1] != self.steps:
            raise ValueError(f"input must be (batch, {self.steps}, channels) (got shape {tuple(x.shape)})")
        h, _ = self.lstm(x)
        return self.dense(self.conv(h.transpose(1, 2)))


@dataclass(frozen=True)
class LabCPCConfig:
    # a short-range encoder (15 rows = 1.5 s): a latent describes the present, the GRU integrates the past
    encoder: CausalCNNConfig = CausalCNNConfig(channels=16, dilations=(1, 2, 4), skip_channels=16)
    hidden: int = 32
    infonce: InfoNCEConfig = InfoNCEConfig(steps=5, n_negatives=31, negatives="batch")


class LabCPC(nn.Module):
    """Causal encoder -> latents ``z`` per step; GRU -> contexts ``c``; InfoNCE on (c, z)."""

    def __init__(self, n_in: int, config: LabCPCConfig = LabCPCConfig()):
        super().__init__()
        self.config = config
        self.encoder = CausalCNN(n_in, 1, config.encoder)  # only .sequence is used: its MLP stays unused
        self.gru = nn.GRU(config.encoder.skip_channels, config.hidden, batch_first=True)
        self.infonce = InfoNCE(config.hidden, config.encoder.skip_channels, config.infonce)

    def contexts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(c, z)``: contexts ``(batch, steps, hidden)`` and latents ``(batch, dim, steps)`` (InfoNCE's layout)."""
        z = self.encoder.sequence(x)
        c, _ = self.gru(z)
        return c, z.transpose(1, 2)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> InfoNCEOutput:
        c, z = self.contexts(x)
        return self.infonce(c, z, generator)

    def representation(self, x: torch.Tensor) -> torch.Tensor:
        """The context at the last step of each history, ``(batch, hidden)``."""
        return self.contexts(x)[0][:, -1]
