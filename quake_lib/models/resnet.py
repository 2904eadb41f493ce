"""A torchvision ResNet (18 or 34) on the log-power spectrogram of the window.

``(batch, 1, length)`` normalized windows -> :class:`~quake_lib.models.spectrogram.Spectrogram`
(batched ``torch.stft`` on the model's device) -> ResNet with ONE input channel -> ``(batch, n_outputs)``.

The 2019 study fed ImageNet-pretrained ResNet-34/50 models 3-channel copies of each spectrogram. Here
the first convolution takes one channel. With ``pretrained=True`` torchvision's ImageNet weights are
loaded from a local file, never downloaded (this project runs offline): ``weights_path`` if given,
else torchvision's own cache file ``torch.hub.get_dir()/checkpoints/<official name>`` (e.g.
``resnet18-f37072fd.pth``, where ``torchvision.models.resnet18(weights=...)`` would have saved it).
The RGB kernels of ``conv1`` are summed into one (a grey image through the pretrained filters gives
the same response as the RGB image it came from), the ImageNet classifier ``fc`` is dropped (ours has
``n_outputs`` outputs), and everything else loads as is. A missing file is not an error: a warning
names the path looked at and training continues from random weights, so the same notebook runs on a
machine with and without the cache.

Why the default image is small (``time_pool=4``: 65 frequencies x 83 columns of 1.8 ms): a ResNet's
cost grows with its pixels, and the full 65 x 334 image made a ResNet-18 too slow to train five folds
on 2 CPU cores; 65 x 83 costs a quarter of the pixels (benchmarks/train_throughput.py measures the
networks' speed). The window-level loudness and burstiness the precursor
lives in survive the averaging (the spectrogram module docstring says more).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .spectrogram import Spectrogram, SpectrogramConfig

ARCHS = ("resnet18", "resnet34")


@dataclass(frozen=True)
class SpecResNetConfig:
    spectrogram: SpectrogramConfig = field(default_factory=lambda: SpectrogramConfig(time_pool=4))
    arch: str = "resnet18"           # 'resnet18' or 'resnet34'
    pretrained: bool = False         # load torchvision's ImageNet weights from a local file
    weights_path: str | None = None  # that file (None: torchvision's name in the torch hub cache)
    dropout: float = 0.2             # before the final linear layer


def weights_enum(arch: str):
    """torchvision's ImageNet weights entry of ``arch`` (its URL names the official file)."""
    from torchvision import models as tvm
    if arch not in ARCHS:
        raise ValueError(f"SpecResNet arch must be one of {ARCHS} (got {arch!r})")
    return {"resnet18": tvm.ResNet18_Weights, "resnet34": tvm.ResNet34_Weights}[arch].IMAGENET1K_V1


def default_weights_path(arch: str) -> Path:
    """Where torchvision caches the ImageNet weights of ``arch``: ``<hub dir>/checkpoints/<file>``."""
    name = weights_enum(arch).url.rsplit("/", 1)[-1]
    return Path(torch.hub.get_dir()) / "checkpoints" / name


def adapt_state_dict(state: dict) -> dict:
    """An ImageNet ResNet state dict for a 1-channel, new-classifier ResNet: ``conv1``'s RGB kernels
    summed into one channel, ``fc.*`` dropped."""
    if "conv1.weight" not in state:
        raise ValueError("not a torchvision ResNet state dict: no 'conv1.weight' entry")
    out = {k: v for k, v in state.items() if not k.startswith("fc.")}
    w = out["conv1.weight"]
    if w.dim() != 4:
        raise ValueError(f"conv1.weight must be (out, in, kh, kw) (got shape {tuple(w.shape)})")
    out["conv1.weight"] = w.sum(dim=1, keepdim=True)
    return out


def load_imagenet_weights(net: nn.Module, arch: str, weights_path: str | Path | None = None) -> Path | None:
    """Load ImageNet weights into the 1-channel ``net`` from a local file; returns the path loaded,
    or ``None`` (with a warning naming the path looked at) when the file does not exist."""
    path = Path(weights_path) if weights_path is not None else default_weights_path(arch)
    if not path.exists():
        warnings.warn(f"SpecResNet: pretrained {arch} weights not found at {path} (no download: this "
                      f"project runs offline; put torchvision's file there or pass weights_path); "
                      f"continuing from random weights", stacklevel=3)
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and "conv1.weight" not in state:
        state = state["state_dict"]
    missing, unexpected = net.load_state_dict(adapt_state_dict(state), strict=False)
    missing = [k for k in missing if not k.startswith("fc.")]
    if missing or unexpected:
        raise ValueError(f"{path} does not fit torchvision's {arch}: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")
    return path


def one_channel_resnet(arch: str, n_outputs: int, dropout: float = 0.0) -> nn.Module:
    """torchvision's ``arch`` with a 1-channel ``conv1`` and a ``n_outputs`` classifier."""
    from torchvision import models as tvm
    if arch not in ARCHS:
        raise ValueError(f"SpecResNet arch must be one of {ARCHS} (got {arch!r})")
    net = getattr(tvm, arch)(weights=None)
    net.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    net.fc = nn.Sequential(nn.Dropout(dropout), nn.Linear(net.fc.in_features, n_outputs))
    return net


class SpecResNet(nn.Module):
    """``(batch, 1, length)`` -> ``(batch, n_outputs)``: spectrogram front end, then a ResNet."""

    def __init__(self, n_outputs: int, config: SpecResNetConfig = SpecResNetConfig()):
        super().__init__()
        self.config = config
        self.spectrogram = Spectrogram(config.spectrogram)
        self.net = one_channel_resnet(config.arch, n_outputs, config.dropout)
        self.loaded_from: Path | None = None
        if config.pretrained:
            self.loaded_from = load_imagenet_weights(self.net, config.arch, config.weights_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.spectrogram(x))
