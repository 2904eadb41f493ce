"""The CPC body for the target: encoder + GRU over a whole 150k window, pooled, then a readout.

Registered in :mod:`quake_lib.models` as ``"cpc"``, so a probe, fine-tuning and training from scratch
all go through :func:`quake_lib.train.cross_validate` with the same folds and heads as every other
approach::

    models.factory("cpc", pretrained=path, freeze=True)    # frozen encoder: a probe
    models.factory("cpc", pretrained=path)                  # fine-tuning
    models.factory("cpc")                                   # the same network from scratch

``pretrained`` names a file written by :func:`quake_lib.models.cpc.model.save_pretrained` (loaded with
``weights_only=True``); its stored architecture replaces ``encoder`` / ``ar``. The contexts
``c_1..c_T`` (586 of them for a 150k window) are pooled over time by their mean, sd and quantiles:
loudness is a window-level statistic and its quiet-time level matters as much as the bursts.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import nn

from .autoregressive import ARConfig, Autoregressive
from .encoder import Encoder, EncoderConfig
from .model import configs_from_dict, load_pretrained

POOL_STATS = ("mean", "std", "max", "q05", "q25", "q50", "q75", "q95")


def pool_contexts(c: torch.Tensor, stats=("mean", "std")) -> torch.Tensor:
    """``(batch, T, hidden)`` contexts -> ``(batch, len(stats) * hidden)`` window features."""
    unknown = [s for s in stats if s not in POOL_STATS]
    if unknown:
        raise ValueError(f"unknown pooling statistics {unknown}; expected some of {POOL_STATS}")
    c = c.float()
    parts = []
    qs = [s for s in stats if s.startswith("q")]
    qv = dict(zip(qs, torch.quantile(c, c.new_tensor([int(s[1:]) / 100 for s in qs]), dim=1))) if qs else {}
    for s in stats:
        if s == "mean":
            parts.append(c.mean(1))
        elif s == "std":
            parts.append(c.std(1))
        elif s == "max":
            parts.append(c.amax(1))
        else:
            parts.append(qv[s])
    return torch.cat(parts, dim=1)


@dataclass(frozen=True)
class CPCBodyConfig:
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    ar: ARConfig = field(default_factory=ARConfig)
    pretrained: str | None = None     # path of a pretrained file; None: random initialization
    freeze: bool = False              # keep encoder + GRU fixed (a probe)
    pool: tuple = ("mean", "std", "q05", "q50", "q95")
    readout: str = "mlp"              # "linear" | "mlp"
    hidden: int = 32                  # MLP width
    dropout: float = 0.2


def make_readout(n_features: int, n_outputs: int, kind: str, hidden: int, dropout: float) -> nn.Module:
    """Standardize the pooled features (BatchNorm, no affine), then linear or a one-hidden-layer MLP."""
    norm = nn.BatchNorm1d(n_features, affine=False)
    if kind == "linear":
        return nn.Sequential(norm, nn.Linear(n_features, n_outputs))
    if kind == "mlp":
        return nn.Sequential(norm, nn.Linear(n_features, hidden), nn.GELU(), nn.Dropout(dropout),
                             nn.Linear(hidden, n_outputs))
    raise ValueError(f"readout must be 'linear' or 'mlp' (got {kind!r})")


class CPCBody(nn.Module):
    """``(batch, 1, length)`` normalized windows -> ``(batch, n_outputs)``."""

    def __init__(self, n_outputs: int, config: CPCBodyConfig = CPCBodyConfig()):
        super().__init__()
        enc_cfg, ar_cfg, state = config.encoder, config.ar, None
        if config.pretrained is not None:
            ckpt = load_pretrained(config.pretrained)
            enc_cfg, ar_cfg = configs_from_dict(ckpt["config"])
            state = ckpt["state_dict"]
        self.config = config
        self._architecture = (enc_cfg, ar_cfg)
        self.encoder = Encoder(enc_cfg)
        self.ar = Autoregressive(enc_cfg.dim, ar_cfg)
        if state is not None:
            missing, unexpected = self.load_state_dict(state, strict=False)
            if unexpected or any(k.startswith(("encoder.", "ar.")) for k in missing):
                raise ValueError(f"{config.pretrained}: weights do not fit the stored architecture "
                                 f"(missing {missing}, unexpected {unexpected})")
        if config.freeze:
            for p in [*self.encoder.parameters(), *self.ar.parameters()]:
                p.requires_grad_(False)
        self.readout = make_readout(len(config.pool) * ar_cfg.hidden, n_outputs, config.readout,
                                    config.hidden, config.dropout)

    def rebuild_config(self) -> CPCBodyConfig:
        """The config that rebuilds this architecture without the pretrained file (a checkpoint's
        state_dict carries the weights; see :func:`quake_lib.train.predict.rebuild_meta`)."""
        enc_cfg, ar_cfg = self._architecture
        return replace(self.config, encoder=enc_cfg, ar=ar_cfg, pretrained=None)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled ``(batch, len(pool) * hidden)`` contexts of each window."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.config.freeze):
            c = self.ar(self.encoder(x))
        return pool_contexts(c, self.config.pool)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.features(x))

