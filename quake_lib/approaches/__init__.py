"""The approaches, one module each, with one registry (:mod:`.registry`) every other part asks.

- :mod:`.constant`, :mod:`.lightgbm`: the two baselines (chapter 3);
- :mod:`.wave_cnn`: approach 1, a WaveNet-style 1D CNN on the raw waveform, and its head study (chapter 3);
- :mod:`.spec_resnet`: approach 2, a ResNet on spectrograms, and its STFT study (chapter 4);
- :mod:`.cpc`: approach 3, Contrastive Predictive Coding (chapter 5), and :mod:`.cpc_experiments`, the
  2019 study's observations revisited;
- :mod:`.references`: what a chapter sets its approach beside (the baselines and earlier chapters).

Each approach module has ``cross_validate(rec, folds, ...)`` on the fixed folds of
:func:`quake_lib.evaluation.make_folds` (approach 3: its pipeline of pre-training, probes and
fine-tuning), saving its out-of-fold predictions under ``data/<dataset>/results/``.
"""
from .registry import APPROACHES, Approach, approach_of, arms, baselines, get, names

__all__ = ["APPROACHES", "Approach", "approach_of", "arms", "baselines", "get", "names"]
