"""The Kaggle feature cache: the same table as computing it, read back instead of recomputed, never stale."""
import pandas as pd
import pytest
from tiny_data import LENGTH

from quake_lib import evaluation as ev
from quake_lib.features import cache
from quake_lib.features.competition import kaggle_features


@pytest.fixture
def grid(rec):
    return ev.eval_windows(rec, stride=LENGTH, length=LENGTH)


def _refuse(*args, **kwargs):
    raise AssertionError("computed again although the table is cached")


def test_cached_table_equals_the_computed_one_and_is_read_back(rec, grid, monkeypatch):
    want = kaggle_features(rec, grid, progress=False)
    first = cache.cached_kaggle_features(rec, grid, progress=False)
    pd.testing.assert_frame_equal(first, want)
    assert cache.cache_path(rec, grid).is_file()
    monkeypatch.setattr(cache, "kaggle_features", _refuse)
    pd.testing.assert_frame_equal(cache.cached_kaggle_features(rec, grid, progress=False), want)  # dtypes too


def test_other_windows_or_recording_get_another_key(rec, grid):
    key = cache.cache_key(rec, grid)
    assert cache.cache_key(rec, grid.subset(slice(1, None))) != key
    rec.meta = {**rec.meta, "regenerated": True}   # a regeneration or re-ingest rewrites meta.json
    assert cache.cache_key(rec, grid) != key


def test_a_damaged_cache_file_is_recomputed(rec, grid):
    want = cache.cached_kaggle_features(rec, grid, progress=False)
    cache.cache_path(rec, grid).write_bytes(b"not an npz")
    pd.testing.assert_frame_equal(cache.cached_kaggle_features(rec, grid, progress=False), want)


def test_an_unwritable_cache_still_gives_the_table(rec, grid, monkeypatch):
    def refuse(path, *a, **k):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(cache, "atomic_path", refuse)
    table = cache.cached_kaggle_features(rec, grid, progress=False)
    assert len(table) == len(grid) and not cache.cache_path(rec, grid).exists()
