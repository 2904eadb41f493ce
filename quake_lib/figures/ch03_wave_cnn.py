"""The WaveNet's own figure: the learning-rate range test (the learning curves and the predictions over
time come from :mod:`quake_lib.figures.results`)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd


def lr_find_figure(table: pd.DataFrame, lr: float):
    """Training loss against the learning rate of the range test, the profile's peak rate marked."""
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.semilogx(table["lr"], table["loss"])
    ax.axvline(lr, color="C3", ls="--", label=f"profile lr {lr:g}")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss (cross-entropy)")
    ax.legend()
    return fig
