"""The CPC network (encoder + GRU + InfoNCE) and its pretrained-weights file.

The file is a plain dict of tensors and primitives written atomically (tmp + ``os.replace``), so it
loads with ``torch.load(path, weights_only=True)``: ``{"state_dict": encoder.* and ar.* weights,
"config": the architecture as nested dicts, "meta": {...}}``. The InfoNCE predictors are pre-training
only and are not saved; downstream bodies rebuild encoder and GRU from ``config`` and load them.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ...atomic import atomic_path
from .autoregressive import ARConfig, Autoregressive
from .encoder import Encoder, EncoderConfig
from .infonce import InfoNCE, InfoNCEConfig, InfoNCEOutput


@dataclass(frozen=True)
class CPCConfig:
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    ar: ARConfig = field(default_factory=ARConfig)
    infonce: InfoNCEConfig = field(default_factory=InfoNCEConfig)

    def to_dict(self) -> dict:
        return {"encoder": dataclasses.asdict(self.encoder), "ar": dataclasses.asdict(self.ar)}


def configs_from_dict(d: dict) -> tuple[EncoderConfig, ARConfig]:
    def tup(v):
        return tuple(v) if isinstance(v, list) else v
    return (EncoderConfig(**{k: tup(v) for k, v in d["encoder"].items()}),
            ARConfig(**{k: tup(v) for k, v in d["ar"].items()}))


class CPCNet(nn.Module):
    """``(batch, 1, length)`` normalized windows -> InfoNCE output (and the contexts)."""

    def __init__(self, config: CPCConfig = CPCConfig()):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config.encoder)
        self.ar = Autoregressive(config.encoder.dim, config.ar)
        self.infonce = InfoNCE(config.ar.hidden, config.encoder.dim, config.infonce)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        z = self.encoder(x)
        c = self.ar(z)
        return self.infonce(c, z, generator), c


def save_pretrained(net: CPCNet, path, meta: dict | None = None) -> Path:
    """Write encoder + GRU weights and the architecture (see the module docstring), atomically."""
    state = {k: v.detach().cpu() for k, v in net.state_dict().items() if not k.startswith("infonce.")}
    with atomic_path(path) as tmp:
        torch.save({"state_dict": state, "config": net.config.to_dict(), "meta": dict(meta or {})}, tmp)
    return Path(path)


def load_pretrained(path) -> dict:
    """The pretrained file as saved (``weights_only=True``), checked for its keys."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no pretrained CPC weights at {path}; run quake_lib.train.contrastive.pretrain first")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or not {"state_dict", "config"} <= set(ckpt):
        raise ValueError(f"{path}: not a CPC pretrained file (expected a dict with 'state_dict' and 'config')")
    return ckpt


__all__ = ["CPCConfig", "CPCNet", "InfoNCEOutput", "configs_from_dict", "load_pretrained", "save_pretrained"]
