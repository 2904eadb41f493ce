"""Models: the WaveNet's shapes, its fixed low-pass front end, the registry."""
import numpy as np
import pytest
import torch
from tiny_data import LENGTH, TINY_NET

from quake_lib import models
from quake_lib.models.wavenet import Decimator, lowpass_kernel


def test_default_wavenet_is_small_and_maps_windows_to_outputs():
    make = models.factory("wave_cnn")
    net = make(16)
    assert 10_000 < models.n_parameters(net) < 100_000  # "a few tens of thousands"
    net.eval()
    with torch.no_grad():
        out = net(torch.randn(2, 1, 150_000))
    assert out.shape == (2, 16)
    assert models.receptive_field(make.config) > 1000  # longer than an event's coda rise


def test_tiny_config_runs_on_short_windows():
    net = models.factory("wave_cnn", **TINY_NET.__dict__)(1)
    assert net(torch.randn(3, 1, LENGTH)).shape == (3, 1)


def test_lowpass_passes_dc_and_stops_above_the_new_nyquist():
    h = lowpass_kernel(4, 31)[0, 0].double().numpy()
    assert h.sum() == pytest.approx(1.0)
    response = np.abs(np.fft.rfft(h, 4096))
    f = np.fft.rfftfreq(4096)  # cycles per sample; new Nyquist at 1/8
    assert response[f < 0.05].min() > 0.9           # passband (< 200 kHz at 4 MHz)
    assert response[f > 0.16].max() < 0.05          # stopband (> 640 kHz)


def test_decimator_divides_length_and_keeps_low_frequencies():
    d = Decimator(4, 31)
    t = torch.arange(8192, dtype=torch.float32)
    slow = torch.sin(2 * np.pi * t / 200).view(1, 1, -1)    # 20 kHz at 4 MHz
    fast = torch.sin(2 * np.pi * t / 2.5).view(1, 1, -1)    # 1.6 MHz
    assert d(slow).shape[-1] == 8192 // 4
    assert d(slow)[..., 20:-20].std() > 0.65
    assert d(fast)[..., 20:-20].std() < 0.05


def test_registry_errors_name_the_model():
    with pytest.raises(ValueError, match="model 'nope'"):
        models.factory("nope")
    with pytest.raises(ValueError, match="input must be"):
        models.factory("wave_cnn")(1)(torch.randn(2, 150_000))
