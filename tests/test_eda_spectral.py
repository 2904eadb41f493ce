"""EDA and spectral helpers on small, known inputs."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from conftest import make_recording_arrays  # noqa: E402

from quake_lib.constants import SAMPLE_RATE_HZ  # noqa: E402
from quake_lib.data import store  # noqa: E402
from quake_lib.data.recording import Recording  # noqa: E402
from quake_lib.features import eda, spectral  # noqa: E402
from quake_lib.figures import ch01_eda  # noqa: E402


@pytest.mark.parametrize("n,bins", [(10_000, 7), (10_000, 10_000), (12_345, 100), (5, 10)])
def test_envelope_matches_brute_force(monkeypatch, n, bins):
    monkeypatch.setattr(ch01_eda, "_CHUNK", 1000)  # force several chunks
    x = np.random.default_rng(0).integers(-1000, 1000, n).astype(np.int16)
    idx, lo, hi = ch01_eda.envelope(x, bins)
    size = -(-n // bins)
    for k, start in enumerate(idx):
        assert lo[k] == x[start:start + size].min() and hi[k] == x[start:start + size].max()
    assert idx[-1] + size >= n and len(idx) <= bins


def test_envelope_bad_range():
    with pytest.raises(ValueError, match="empty range"):
        ch01_eda.envelope(np.zeros(10), 5, start=5, stop=5)


@pytest.fixture
def rec(data_dir):
    signal, ttf = make_recording_arrays((30_000, 50_000, 40_000), rows_per_second=10_000.0)
    signal[79_000] = 5000  # a burst 0.1 s before the second failure (row 80,000)
    store.write_recording(data_dir / "t", signal, ttf, {"source": {"kind": "test"}})
    return Recording.open("t")


def test_failure_zoom_finds_the_burst(rec):
    fig, facts = ch01_eda.failure_zoom(rec, cycle=1, before_s=1.0, after_s=0.2)
    assert facts["burst_ttf_s"] == pytest.approx(0.1, abs=1e-3)
    assert facts["burst_abs_counts"] > 4000
    with pytest.raises(ValueError, match="not followed by a failure"):
        ch01_eda.failure_zoom(rec, cycle=2)


def test_cycle_summary_counts_windows(rec):
    c = eda.cycle_summary(rec, length=10_000)
    assert c["windows"].tolist() == [3, 5, 4]


def test_correlations_and_binned_medians():
    y = np.linspace(0, 10, 200)
    f = pd.DataFrame({"up": y + 0.01, "down": -y ** 3, "noise": np.random.default_rng(0).normal(size=200)})
    c = eda.correlations(f, y)
    assert c.loc["up", "spearman"] == 1.0 and c.loc["down", "spearman"] == -1.0
    assert list(c.index[:2]) == ["up", "down"] or list(c.index[:2]) == ["down", "up"]
    m = eda.binned_medians(f[["up"]], y, [0, 5, 10])
    assert m["up"].iloc[0] < 5 < m["up"].iloc[1]


def test_percentile_ranks():
    train = pd.DataFrame({"a": np.arange(100)})
    test = pd.DataFrame({"a": [-1, 50, 1000]})
    assert eda.percentile_ranks(train, test, ["a"])["a"].tolist() == [0.0, 50.0, 100.0]


def test_power_cutoffs_of_a_tone():
    t = np.arange(150_000) / SAMPLE_RATE_HZ
    x = (100 * np.sin(2 * np.pi * 250e3 * t)).astype(np.int16)
    freqs, psd = spectral.welch(x[None])
    cut = spectral.power_cutoffs(freqs, psd[0])
    assert 240 <= cut["50%"] <= 260 and cut["99%"] <= 270


def test_spectrogram_shapes_and_cutoff():
    x = np.random.default_rng(0).normal(size=150_000).astype(np.float32)
    S, freqs = spectral.spectrogram_db(x, n_fft=512, hop=448, cutoff_hz=500_000)
    assert S.shape == (len(freqs), 1 + (150_000 - 512) // 448)
    assert freqs.max() <= 500_000 and len(freqs) == 65


def test_compare_stft_settings_table(rec):
    w = rec.windows(length=8192, stride=8192)
    table = spectral.compare_stft_settings(rec, w, settings=(spectral.StftSetting(256, 192),
                                                             spectral.StftSetting(2048, 1024)))
    assert table.loc["256/64", "freq bins"] == 33 and table.loc["2048/1024", "freq bins"] == 257
    assert table.loc["256/64", "frames"] == 1 + (8192 - 256) // 192
    assert table["rho(mean power)"].between(-1, 1).all()
