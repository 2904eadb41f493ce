"""Training of the neural approaches (PyTorch Lightning around the plain ``nn.Module`` bodies of
:mod:`quake_lib.models`).

- :mod:`.data`: random training windows from the memory map, the fixed evaluation grid, normalization
  by one robust scale;
- :mod:`.augment`: sign flip, time reversal, noise;
- :mod:`.heads`: regression (L1) and binned (cross-entropy; argmax / expectation / median readouts);
- :mod:`.module`: the LightningModule; :mod:`.metrics`: per-epoch timing and the CSV log;
- :mod:`.fit`: :func:`cross_validate` on the fixed folds; :mod:`.lr_finder`: the learning-rate range test;
- :mod:`.predict`: predictions and ``weights_only=True`` checkpoints;
- :mod:`.contrastive`: CPC pre-training; :mod:`.probe`: probes on frozen features.
"""
from .augment import Augment
from .fit import CVResult, TrainConfig, cross_validate
from .heads import BinnedHead, RegressionHead, make_head
from .lr_finder import lr_find
from .module import QuakeModule
from .predict import predict_array, predict_windows, save_checkpoint

__all__ = ["Augment", "BinnedHead", "CVResult", "QuakeModule", "RegressionHead", "TrainConfig",
           "cross_validate", "lr_find", "make_head", "predict_array",
           "predict_windows", "save_checkpoint"]
