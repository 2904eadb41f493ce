"""CPC autoregressive model: a GRU that summarizes the latents ``z_1..z_t`` into a context ``c_t``.

Causal by construction (a unidirectional GRU), which the InfoNCE task needs: ``c_t`` must not see
the future latents it is asked to pick out. Downstream, the contexts of a whole 150k window are
pooled over time (:mod:`quake_lib.models.cpc.body`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ARConfig:
    hidden: int = 64
    layers: int = 1


class Autoregressive(nn.Module):
    """``(batch, dim, steps)`` latents -> ``(batch, steps, hidden)`` contexts."""

    def __init__(self, dim: int, config: ARConfig = ARConfig()):
        super().__init__()
        if config.hidden < 1 or config.layers < 1:
            raise ValueError(f"ARConfig.hidden and layers must be positive (got {config})")
        self.config = config
        self.gru = nn.GRU(dim, config.hidden, num_layers=config.layers, batch_first=True)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(z.transpose(1, 2))
        return out
