"""Leave-whole-cycles-out folds."""
import numpy as np
import pytest

from quake_lib.data.recording import Windows
from quake_lib.evaluation.folds import Fold, cycle_folds


def windows_of(cycles):
    cycles = np.asarray(cycles, np.int32)
    return Windows(np.arange(len(cycles), dtype=np.int64) * 10, np.zeros(len(cycles), np.float32), cycles, 10)


def test_every_cycle_held_out_exactly_once():
    cycles = np.repeat(np.arange(17), 5)
    folds = cycle_folds(cycles, n_folds=5, seed=0)
    held = np.concatenate([f.test_cycles for f in folds])
    assert sorted(held.tolist()) == list(range(17))
    sizes = [len(f.test_cycles) for f in folds]
    assert max(sizes) - min(sizes) <= 1
    for f in folds:
        assert not np.intersect1d(f.train_cycles, f.test_cycles).size
        assert sorted(np.concatenate([f.train_cycles, f.test_cycles]).tolist()) == list(range(17))


def test_same_seed_same_folds():
    cycles = np.arange(12)
    a, b = cycle_folds(cycles, 4, seed=3), cycle_folds(cycles, 4, seed=3)
    assert all(np.array_equal(x.test_cycles, y.test_cycles) for x, y in zip(a, b))
    c = cycle_folds(cycles, 4, seed=4)
    assert any(not np.array_equal(x.test_cycles, y.test_cycles) for x, y in zip(a, c))


def test_masks_and_split_on_windows():
    w = windows_of([0, 0, 1, 1, 2, 3, 3, 4])
    fold = Fold(0, np.array([0, 2, 3, 4]), np.array([1]))
    train, test = fold.masks(w)
    assert test.tolist() == [False, False, True, True, False, False, False, False]
    assert (train ^ test).all()
    tr, te = fold.split(w)
    assert set(te.cycles.tolist()) == {1} and 1 not in tr.cycles
    # Masks also take a plain array of cycle ids.
    assert np.array_equal(fold.masks(w.cycles)[1], test)


def test_errors():
    with pytest.raises(ValueError, match="at least 2"):
        cycle_folds([0, 1, 2], n_folds=1)
    with pytest.raises(ValueError, match="3 cycles cannot fill 5 folds"):
        cycle_folds([0, 1, 2, 2], n_folds=5)


def test_training_grid_is_bounded_by_its_cap(tmp_path):
    """A denser training grid is used only while it holds at most ``max_windows`` windows; past the cap
    the evaluation grid itself (the same object: its features are not computed twice)."""
    from tiny_data import loud_recording

    from quake_lib.evaluation.folds import training_grid

    rec = loud_recording(tmp_path, n_cycles=4, cycle_len=24_576)
    ev = rec.windows(length=4_096, stride=4_096)
    dense = training_grid(rec, ev, 1_024)
    assert len(dense) > len(ev) and dense.length == ev.length
    assert set(ev.starts.tolist()) <= set(dense.starts.tolist())  # the evaluation windows are on it
    assert len(training_grid(rec, ev, 1_024, max_windows=len(dense))) == len(dense)
    assert training_grid(rec, ev, 1_024, max_windows=len(dense) - 1) is ev
    with pytest.raises(ValueError, match="max_windows"):
        training_grid(rec, ev, 1_024, max_windows=0)
