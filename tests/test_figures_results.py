"""Shared result figures draw what the tables hold, and refuse approaches that are not there."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from quake_lib.figures import results  # noqa: E402


def _metrics():
    rows = [{"arm": a, "fold": f, "epoch": e, "train_mae": 3 - e * 0.5 + f, "val_mae": 4 - e * 0.2}
            for a in ("net_a", "net_b") for f in range(2) for e in range(3)]
    return pd.DataFrame(rows)


def test_learning_curves_plot_the_fold_mean():
    fig = results.learning_curves(_metrics())
    ax = fig.axes[0]
    mean_train = [line for line in ax.lines if line.get_label() == "training windows (random draws)"][0]
    np.testing.assert_allclose(mean_train.get_ydata(), [3.5, 3.0, 2.5])  # folds 0 and 1 averaged
    np.testing.assert_array_equal(mean_train.get_xdata(), [1, 2, 3])   # epochs counted from 1
    assert [a.get_title() for a in fig.axes if a.get_visible()] == ["net_a", "net_b"]
    with pytest.raises(ValueError, match="'nope' has no metrics"):
        results.learning_curves(_metrics(), ["nope"])


def test_predictions_over_time_put_each_window_at_its_place():
    starts = np.array([0, 10, 20, 30])
    base = pd.DataFrame({"fold": [0, 0, 1, 1], "cycle": [0, 0, 1, 1], "start": starts,
                         "target": [2.0, 1.0, 2.0, 1.0]})
    oof = pd.concat([base.assign(arm="a", prediction=[1.5, 1.5, 1.5, 1.5]),
                     base.iloc[::-1].assign(arm="b", prediction=[9.0, 8.0, 7.0, 6.0])])
    fig = results.predictions_over_time(oof, ["a", "b"])
    ax = fig.axes[0]
    b = [line for line in ax.lines if line.get_label() == "b"][0]
    # rows of "b" come in reverse order; each is drawn at its window's position in recording order
    np.testing.assert_array_equal(b.get_xdata(), [3, 2, 1, 0])
    np.testing.assert_array_equal(b.get_ydata(), [9.0, 8.0, 7.0, 6.0])
    assert len([line for line in ax.lines if line.get_linestyle() == ":"]) == 1  # one cycle boundary
    with pytest.raises(ValueError, match=r"no OOF predictions for \['c'\]"):
        results.predictions_over_time(oof, ["a", "c"])


def test_curves_without_held_out_diagnostics():
    """A seed run without the per-epoch diagnostics (``report --seeds``, seeds after the first:
    ``validate_every=0``) logs training columns only; the curve figures draw what is there."""
    import matplotlib.pyplot as plt

    from quake_lib.figures import ch05_cpc
    from quake_lib.figures.results import learning_curves

    m = pd.DataFrame({"arm": "a", "fold": [0, 0, 1, 1], "epoch": [0, 1, 0, 1],
                      "train_loss": [2.0, 1.5, 2.1, 1.4], "train_mae": [3.0, 2.5, 3.1, 2.4]})
    probe = pd.DataFrame({"fold": 0, "iteration": [0, 1], "train_loss": [2.0, 1.0], "held_out_loss": [2.2, 1.9]})
    for fig in (learning_curves(m), ch05_cpc.head_curves_figure({"probe": probe}, {"fine-tune": m})):
        assert fig.axes
        plt.close(fig)
    fig = ch05_cpc.head_curves_figure({"probe": probe}, {"fine-tune": m})
    assert len(fig.axes[1].lines) == 1  # the training curve only
    plt.close(fig)
