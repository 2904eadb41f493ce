"""Approach 2: the torch.stft spectrogram front end against scipy and librosa, the 1-channel ResNet
and its pretrained-weights loading path, and a tiny cross-validation run."""
import warnings

import librosa
import numpy as np
import pytest
import torch
from scipy import signal as sps
from tiny_data import LENGTH

from quake_lib import evaluation as ev
from quake_lib import models
from quake_lib.approaches import spec_resnet
from quake_lib.models import SpecResNet, SpecResNetConfig, Spectrogram, SpectrogramConfig
from quake_lib.models.resnet import adapt_state_dict, default_weights_path
from quake_lib.train import cross_validate

FS = 4_000_000


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def signal(n=3, length=20_000, seed=0):
    """Heavy-tailed noise on a steep ramp: a linear detrend has something to remove."""
    rng = np.random.default_rng(seed)
    return (rng.standard_t(3, size=(n, length)) * 3 + np.linspace(-40, 40, length)).astype(np.float32)


def onesided_density(n_freqs, n_fft):
    """scipy's one-sided 'density' PSD = our power x this (2 / fs; 1 / fs at DC and Nyquist)."""
    k = np.full(n_freqs, 2.0 / FS)
    k[0] = 1.0 / FS
    if n_freqs == n_fft // 2 + 1:
        k[-1] = 1.0 / FS
    return k[:, None]


@pytest.mark.parametrize("method", ["stft", "dft"])
@pytest.mark.parametrize("detrend", ["linear", "constant", "none"])
@pytest.mark.parametrize("n_fft,hop", [(512, 448), (256, 192), (256, 100)])  # detrend blocks of 64, 64, 4
def test_power_matches_scipy_spectrogram(detrend, n_fft, hop, method):
    x = signal()
    spec = Spectrogram(SpectrogramConfig(n_fft=n_fft, hop=hop, detrend=detrend, cutoff_hz=None, norm="none",
                                         method=method))
    ours = spec.power(torch.from_numpy(x)).double().numpy() * onesided_density(n_fft // 2 + 1, n_fft)
    f, _, ref = sps.spectrogram(x.astype(np.float64), fs=FS, window="hann", nperseg=n_fft,
                                noverlap=n_fft - hop, detrend=False if detrend == "none" else detrend)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(spec.frequencies().numpy(), f)
    # float32 STFT vs float64 scipy, bin by bin, for every bin above 1e-6 of the largest (the DC bin
    # after a detrend is ~0 in both): typically 1e-6 apart; float32 rounding of the ramp's large
    # values leaves a few of the weakest bins ~1% off (0.01 in log power)
    big = ref > 1e-6 * ref.max()
    rel = np.abs(ours[big] / ref[big] - 1)
    assert np.median(rel) < 1e-4 and np.quantile(rel, 0.999) < 2e-3 and rel.max() < 5e-2
    assert np.abs(ours - ref).max() < 1e-5 * ref.max()


def test_detrend_changes_the_low_bins_only_where_there_is_a_trend():
    x = signal(n=1)
    p = {d: Spectrogram(SpectrogramConfig(detrend=d, cutoff_hz=None, norm="none")).power(torch.from_numpy(x))
         for d in ("none", "linear")}
    assert float(p["none"][0, 0].mean()) > 100 * float(p["linear"][0, 0].mean())  # the ramp's DC is gone
    np.testing.assert_allclose(p["none"][0, 100:].numpy(), p["linear"][0, 100:].numpy(), rtol=1e-2)


def test_power_matches_librosa_stft():
    x = signal(n=2, seed=1)
    spec = Spectrogram(SpectrogramConfig(n_fft=512, hop=448, detrend="none", cutoff_hz=None, norm="none"))
    ours = spec.power(torch.from_numpy(x)).double().numpy() / spec.power_scale
    ref = np.stack([np.abs(librosa.stft(w, n_fft=512, hop_length=448, window="hann", center=False)) ** 2 for w in x])
    np.testing.assert_allclose(ours, ref, rtol=2e-3, atol=1e-6 * ref.max())


@pytest.mark.parametrize("detrend", ["linear", "none"])
def test_dft_route_equals_stft_route_below_the_cutoff(detrend):
    x = torch.from_numpy(signal(n=2, length=30_000))
    cfg = SpectrogramConfig(detrend=detrend, cutoff_hz=500_000, norm="none", method="dft")
    a = Spectrogram(cfg).power(x)
    b = Spectrogram(SpectrogramConfig(detrend=detrend, cutoff_hz=500_000, norm="none", method="stft")).power(x)
    assert a.shape == b.shape == (2, 65, 66)
    assert torch.allclose(a, b, rtol=1e-3, atol=1e-5 * float(b.max()))


@pytest.mark.parametrize("method", ["stft", "dft"])
def test_cpu_chunks_and_int16_input_give_the_same_numbers(method, monkeypatch):
    x16 = torch.from_numpy(signal(n=5, length=30_000).round().astype(np.int16))
    spec = Spectrogram(SpectrogramConfig(method=method, norm="none"))
    whole = spec.power(x16.float())
    monkeypatch.setattr("quake_lib.models.spectrogram.CPU_CHUNK_SAMPLES", 2 * 30_000)  # chunks of 2, 2, 1
    assert torch.equal(spec.power(x16.float()), whole)
    assert torch.equal(spec.power(x16), whole)  # int16 as stored: converted chunk by chunk


def test_shapes_cutoff_pooling_and_log():
    cfg = SpectrogramConfig(n_fft=512, hop=448, cutoff_hz=500_000, time_pool=4, norm="none")
    spec = Spectrogram(cfg)
    assert spec.n_freqs == 65 and float(spec.frequencies()[-1]) == 500_000.0  # 7.8125 kHz bins
    assert cfg.image_shape(150_000) == (65, 83)
    wide = SpectrogramConfig(n_fft=2048, hop=1984, freq_pool=4)
    assert wide.image_shape(150_000) == (64, 75)
    assert Spectrogram(wide)(torch.zeros(2, 1, 150_000)).shape == (2, 1, 64, 75)
    assert cfg.n_frames(150_000) == 83 and SpectrogramConfig().n_frames(150_000) == 334
    x = torch.from_numpy(signal(n=2, length=150_000))
    out = spec(x.unsqueeze(1))
    assert out.shape == (2, 1, 65, 83)
    p = spec.power(x)[:, :, :332].reshape(2, 65, 83, 4).mean(-1)
    assert torch.allclose(out[:, 0], torch.log(p + cfg.log_eps), atol=1e-4)


def test_normalization_keeps_loudness_between_windows():
    """The per-frequency BatchNorm is one affine map per frequency row for the whole batch (and fixed
    in eval mode): a window 10x louder than another stays log(100) x that row's gain higher, where a
    per-window standardization would make the two images identical."""
    x = torch.from_numpy(signal(n=2, length=8192))
    x = torch.cat([x, 10 * x])  # the same two windows, 10x louder
    spec = Spectrogram(SpectrogramConfig(n_fft=256, hop=192, detrend="none", cutoff_hz=None, log_eps=1e-9))
    spec.train()
    spec(x)  # one training batch: running statistics
    spec.eval()
    with torch.no_grad():
        out = spec(x)[:, 0]  # (4, f, t)
    bn = spec.norm
    gain = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach()  # per frequency row
    log_power = torch.log(spec.power(x) + spec.config.log_eps)
    expected = gain[None, :, None] * (log_power[2:] - log_power[:2])
    assert torch.allclose(out[2:] - out[:2], expected, atol=1e-4)
    assert float((log_power[2:] - log_power[:2]).mean()) == pytest.approx(np.log(100), abs=0.01)
    assert float((out[2:] - out[:2]).mean()) > 1.0  # louder stays brighter


def test_bad_settings_and_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="n_fft"):
        Spectrogram(SpectrogramConfig(n_fft=511))
    with pytest.raises(ValueError, match="detrend"):
        Spectrogram(SpectrogramConfig(detrend="quadratic"))
    with pytest.raises(ValueError, match="hop"):
        Spectrogram(SpectrogramConfig(hop=0))
    spec = Spectrogram()
    with pytest.raises(ValueError, match="shorter than n_fft"):
        spec(torch.zeros(2, 1, 100))
    with pytest.raises(ValueError, match="one channel"):
        spec(torch.zeros(2, 3, 1000))


def test_float32_under_autocast_and_dtype():
    spec = Spectrogram(SpectrogramConfig(n_fft=256, hop=192, norm="none"))
    x = torch.from_numpy(signal(n=2, length=4096))
    ref = spec(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = spec(x.bfloat16())
    assert out.dtype == torch.float32
    # the only loss is the input's own rounding to bf16, not a bf16 STFT
    assert torch.allclose(out, spec(x.bfloat16().float()), atol=1e-5)
    assert (out - ref).abs().median() < 0.05


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_runs_on_the_model_device():
    spec = Spectrogram(SpectrogramConfig(norm="none")).cuda()
    x = torch.from_numpy(signal(n=2, length=20_000))
    out = spec(x.cuda())
    assert out.device.type == "cuda"
    assert torch.allclose(out.cpu(), Spectrogram(SpectrogramConfig(norm="none"))(x), atol=1e-3)


# ---------------------------------------------------------------- ResNet and pretrained weights

SMALL_SPEC = SpectrogramConfig(n_fft=64, hop=56, cutoff_hz=None, time_pool=1)


def test_spec_resnet_one_channel_and_outputs():
    net = SpecResNet(16, SpecResNetConfig(spectrogram=SMALL_SPEC))
    assert net.net.conv1.in_channels == 1
    assert net(torch.randn(3, 1, LENGTH)).shape == (3, 16)
    with pytest.raises(ValueError, match="arch"):
        SpecResNet(1, SpecResNetConfig(arch="resnet50"))


def test_pretrained_loads_and_sums_rgb_kernels(tmp_path):
    from torchvision.models import resnet18
    torch.manual_seed(1)
    imagenet = resnet18(weights=None).state_dict()  # a stand-in for torchvision's file
    path = tmp_path / "resnet18-fake.pth"
    torch.save(imagenet, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "not found" warning on this path
        net = SpecResNet(16, SpecResNetConfig(spectrogram=SMALL_SPEC, pretrained=True, weights_path=str(path)))
    assert net.loaded_from == path
    state = net.net.state_dict()
    assert torch.allclose(state["conv1.weight"], imagenet["conv1.weight"].sum(dim=1, keepdim=True))
    for key in ("layer1.0.conv1.weight", "layer4.1.bn2.running_var", "bn1.weight"):
        assert torch.equal(state[key], imagenet[key])
    assert state["fc.1.weight"].shape == (16, 512)  # our own classifier, not ImageNet's 1000 classes
    with pytest.raises(ValueError, match="conv1.weight"):
        adapt_state_dict({"fc.weight": torch.zeros(2)})


def test_missing_weights_warn_naming_the_path_and_continue(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    expected = tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    assert default_weights_path("resnet18") == expected
    with pytest.warns(UserWarning, match=r"not found at .*resnet18-f37072fd\.pth.*random weights"):
        net = SpecResNet(16, SpecResNetConfig(spectrogram=SMALL_SPEC, pretrained=True))
    assert net.loaded_from is None
    assert net(torch.randn(2, 1, LENGTH)).shape == (2, 16)


def test_cross_validate_smoke(rec, windows):
    folds = ev.make_folds(rec, n_folds=2, windows=windows)
    make = models.factory("spec_resnet", spectrogram=SMALL_SPEC)
    res = cross_validate(rec, make, "binned", folds, seed=0, eval_windows=windows, arm="spec_tiny",
                         verbose=False, epochs=1, windows_per_epoch=16, batch_size=8, eval_batch_size=64,
                         threads=1, bn_windows=16)
    oof = ev.load_oof(rec.name, "spec_tiny")
    assert len(oof) == len(windows) and sorted(oof["fold"].unique()) == [0, 1]
    assert np.isfinite(oof["prediction"]).all()
    assert all(p.exists() for p in res.checkpoints)


def test_missing_imagenet_weights_are_reported_without_the_machines_paths(monkeypatch, tmp_path, recwarn):
    """Chapter 4 checks the weights quietly and says NOT RUN itself, naming only the file (a committed
    output must not carry the checkout's or the home cache's absolute path)."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))  # an empty cache
    assert spec_resnet.pretrained_available({"pretrained": True}) is False
    assert not [w for w in recwarn if "not found" in str(w.message)]
