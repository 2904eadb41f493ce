"""One way to silence what is noise to a reader (notebook outputs, logs), keeping real warnings.

Called by the notebook session and by every training entry point; calling it twice is harmless.
"""
from __future__ import annotations

import logging
import warnings

# logger -> the lowest level still shown. Lightning's INFO banners (GPU available: False, ...) are
# noise; its warnings are not. numba and papermill log only noise below ERROR here.
LOGGER_LEVELS = {"lightning": logging.WARNING, "lightning.pytorch": logging.WARNING,
                 "lightning.fabric": logging.WARNING, "pytorch_lightning": logging.WARNING,
                 "numba": logging.ERROR, "papermill": logging.ERROR}
# warning messages (regular expressions) that say nothing about the science
NOISE = (".*does not have many workers.*",        # Lightning: num_workers=0 is chosen on purpose
         ".*Experiment logs directory.*", ".*exists and is not empty.*",  # a rerun reuses its log folder
         ".*is smaller than the logging interval.*",
         ".*treespec, LeafSpec.*",                  # torch's pytree deprecation inside Lightning
         "IProgress not found")                     # tqdm.auto without ipywidgets


def quiet() -> None:
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    for pattern in NOISE:
        warnings.filterwarnings("ignore", message=pattern)
    for name, level in LOGGER_LEVELS.items():
        logging.getLogger(name).setLevel(level)
