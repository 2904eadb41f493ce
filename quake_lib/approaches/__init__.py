"""The registered approaches, one module each, and the registry every other part asks.

- :mod:`.registry`: the one list of approaches and their arms;
- :mod:`.protocol`: what every approach module offers (``cross_validate`` and ``load``), and how a saved
  run is read back;
- :mod:`.constant`, :mod:`.lightgbm`: the two baselines;
- :mod:`.wave_cnn`: a WaveNet-style 1D CNN on the raw waveform, four heads;
- :mod:`.spec_resnet`: a ResNet on spectrograms, and its STFT study;
- :mod:`.cpc`: Contrastive Predictive Coding: pre-training, probes, fine-tuning, from scratch.

Experiments that use the approaches (design studies, real data, data size) are in :mod:`quake_lib.studies`.
"""
from .registry import APPROACHES, Approach, arms, baselines, get, names

__all__ = ["APPROACHES", "Approach", "arms", "baselines", "get", "names"]
