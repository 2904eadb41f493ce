"""Network bodies (``nn.Module`` only) and the table of them by name.

A body maps ``(batch, 1, length)`` normalized windows to ``(batch, n_outputs)``; the head (see
:mod:`quake_lib.train.heads`) decides ``n_outputs`` and what the outputs mean. ``factory(name,
**overrides)`` gives ``n_outputs -> nn.Module``; a checkpoint names its body here, so that
:func:`quake_lib.train.predict.load_module` can rebuild it. Which approach uses which body is said
by the approach registry (:mod:`quake_lib.approaches.registry`).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

from torch import nn

from .cpc import CPCBody, CPCBodyConfig
from .resnet import SpecResNet, SpecResNetConfig
from .spectrogram import Spectrogram, SpectrogramConfig
from .wavenet import WaveNet, WaveNetConfig, receptive_field

# name -> (class taking (n_outputs, config), default config)
MODELS: dict[str, tuple[type, object]] = {
    "wave_cnn": (WaveNet, WaveNetConfig()),
    "spec_resnet": (SpecResNet, SpecResNetConfig()),
    "cpc": (CPCBody, CPCBodyConfig()),
}


def factory(name: str, **overrides) -> Callable[[int], nn.Module]:
    """A function ``n_outputs -> model`` for the body ``name``, with config overrides."""
    if name not in MODELS:
        raise ValueError(f"model {name!r} is not known; expected one of: {', '.join(MODELS)}")
    cls, config = MODELS[name]
    config = replace(config, **overrides)

    def make(n_outputs: int) -> nn.Module:
        return cls(n_outputs, config)

    make.model_name = name
    make.config = config
    return make


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = ["MODELS", "CPCBody", "CPCBodyConfig", "SpecResNet", "SpecResNetConfig", "Spectrogram",
           "SpectrogramConfig", "WaveNet", "WaveNetConfig", "factory", "n_parameters", "receptive_field"]
