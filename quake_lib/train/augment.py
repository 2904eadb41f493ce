"""Optional training-time augmentation of normalized windows (a batch at a time, on its device).

- ``sign_flip``: a piezo sensor's polarity is arbitrary; events and noise look the same negated.
- ``reverse``: time reversal. Windows are statistics of many events, but each event has a sharp
  onset and a decaying coda, so reversed windows are slightly off-distribution: off by default.
- ``noise_sd``: Gaussian noise in normalized units. Noise adds loudness, and loudness is the
  precursor, so keep it small (a fraction of the background) or off.

Randomness comes from torch's generator, which ``lightning.seed_everything`` seeds.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Augment:
    sign_flip: float = 0.5   # probability per window
    reverse: float = 0.0     # probability per window
    noise_sd: float = 0.0    # in units of the fixed robust scale

    @property
    def active(self) -> bool:
        return self.sign_flip > 0 or self.reverse > 0 or self.noise_sd > 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: (batch, channels, length); returns an augmented copy (``x`` is not modified)."""
        for name in ("sign_flip", "reverse"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"Augment.{name} must be a probability in [0, 1] (got {p})")
        if self.noise_sd < 0:
            raise ValueError(f"Augment.noise_sd must be >= 0 (got {self.noise_sd})")
        n = x.shape[0]
        if self.sign_flip > 0:
            flip = torch.rand(n, device=x.device) < self.sign_flip
            x = torch.where(flip.view(n, 1, 1), -x, x)
        if self.reverse > 0:
            rev = torch.rand(n, device=x.device) < self.reverse
            x = torch.where(rev.view(n, 1, 1), x.flip(-1), x)
        if self.noise_sd > 0:
            x = x + self.noise_sd * torch.randn_like(x)
        return x


NONE = Augment(sign_flip=0.0, reverse=0.0, noise_sd=0.0)
