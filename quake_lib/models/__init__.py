"""Network bodies by name: ``factory(name, **overrides)`` gives ``n_outputs -> nn.Module``.

A body maps ``(batch, 1, length)`` normalized windows to ``(batch, n_outputs)``; the head (see
:mod:`quake_lib.train.heads`) decides ``n_outputs`` and what the outputs mean. Another approach
registers its body with :func:`register`.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

from torch import nn

from .resnet import SpecResNet, SpecResNetConfig
from .spectrogram import Spectrogram, SpectrogramConfig
from .wavenet import WaveNet, WaveNetConfig, receptive_field

# name -> (class taking (n_outputs, config), default config)
MODELS: dict[str, tuple[type, object]] = {
    "wave_cnn": (WaveNet, WaveNetConfig()),
    "spec_resnet": (SpecResNet, SpecResNetConfig()),
}


def register(name: str, cls: type, config) -> None:
    MODELS[name] = (cls, config)


# Approach 3 (CPC). Imported after register exists: quake_lib.cpc imports this package first.
from ..cpc.downstream import DEFAULT as _CPC_DEFAULT, CPCBody as _CPCBody  # noqa: E402

register("cpc", _CPCBody, _CPC_DEFAULT)


def factory(name: str, **overrides) -> Callable[[int], nn.Module]:
    """A function ``n_outputs -> model`` for the registered body ``name``, with config overrides."""
    if name not in MODELS:
        raise ValueError(f"model {name!r} is not registered; expected one of: {', '.join(MODELS)}")
    cls, config = MODELS[name]
    config = replace(config, **overrides)

    def make(n_outputs: int) -> nn.Module:
        return cls(n_outputs, config)

    make.model_name = name
    make.config = config
    return make


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
