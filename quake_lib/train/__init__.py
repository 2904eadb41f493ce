"""Training and cross-validation of neural approaches (PyTorch Lightning around plain nn.Modules).

- :mod:`.data`: random training windows from the memory map, the fixed evaluation grid, normalization;
- :mod:`.augment`: sign flip, time reversal, noise;
- :mod:`.heads`: regression (L1) and binned (cross-entropy; argmax / expectation / median readouts);
- :mod:`.module`: the LightningModule; :mod:`.fit`: :func:`cross_validate`; :mod:`.tune`: :func:`lr_find`;
- :mod:`.predict`: predictions and ``weights_only=True`` checkpoints.
"""
from .augment import Augment
from .fit import CVResult, TrainConfig, cross_validate, run
from .heads import BinnedHead, RegressionHead, make_head
from .module import QuakeModule
from .predict import load_checkpoint, predict_array, predict_windows, save_checkpoint
from .tune import lr_find

__all__ = ["Augment", "BinnedHead", "CVResult", "QuakeModule", "RegressionHead", "TrainConfig",
           "cross_validate", "load_checkpoint", "lr_find", "make_head", "predict_array",
           "predict_windows", "run", "save_checkpoint"]
