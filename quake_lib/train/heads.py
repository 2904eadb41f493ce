"""Target heads: what the network's outputs mean, how they are trained and read out.

- :class:`RegressionHead`: one output, L1 loss (the metric itself). The 2019 study saw such heads
  collapse to a constant near the target's median; :mod:`quake_lib.train.fit` records the spread of
  the predictions so that the notebook can show whether it happens here.
- :class:`BinnedHead`: ``n_bins`` logits over equal bins of the target on ``[lo, hi]``, trained with
  cross-entropy, read out three ways: the centre of the argmax bin (the 2019 way), the expectation
  (MSE-optimal for the predicted distribution) and its median (MAE-optimal: the point where the
  predicted CDF crosses 0.5, interpolated linearly inside the bin, i.e. density uniform in a bin).

Every head has ``n_outputs``, ``loss(out, y)``, ``readouts(out) -> {name: (batch,) tensor}`` and
``default_readout`` (the readout that fills the OOF ``prediction`` column).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..constants import TARGET_MAX_S


class RegressionHead(nn.Module):
    name = "regression"
    default_readout = "value"

    def __init__(self, offset: float = 0.0, scale: float = 1.0, lo: float = 0.0, hi: float = TARGET_MAX_S):
        super().__init__()
        self.n_outputs = 1
        self.lo, self.hi = lo, hi
        # The output is offset + scale * out, with the training targets' median and spread: a cold
        # start at 0 with unit steps would spend a short run walking up to ~5 s (L1 gradients are
        # +-1 whatever the error) and growing the last layer to the targets' spread of ~3 s.
        self.register_buffer("offset", torch.tensor(float(offset)))
        self.register_buffer("scale", torch.tensor(float(scale)))

    def fit_targets(self, targets) -> None:
        """Centre the output on the median of the training targets, scale it by their IQR / 1.349."""
        t = torch.as_tensor(targets, dtype=torch.float32)
        self.offset.fill_(float(t.median()))
        q = torch.quantile(t, torch.tensor([0.25, 0.75]))
        self.scale.fill_(max(float(q[1] - q[0]) / 1.349, 1e-3))

    def value(self, out: torch.Tensor) -> torch.Tensor:
        return out.reshape(-1).float() * self.scale + self.offset

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(self.value(out), y.float())

    def readouts(self, out: torch.Tensor) -> dict[str, torch.Tensor]:
        # time_to_failure is never negative nor longer than the longest cycle: clamp the read-out
        # (not the loss, whose gradient must reach out-of-range outputs)
        return {"value": self.value(out).clamp(self.lo, self.hi)}


class BinnedHead(nn.Module):
    name = "binned"
    default_readout = "median"
    readout_names = ("argmax", "expectation", "median")

    def __init__(self, n_bins: int = 16, lo: float = 0.0, hi: float = TARGET_MAX_S, label_sigma: float = 0.0):
        super().__init__()
        if n_bins < 2:
            raise ValueError(f"n_bins must be at least 2 (got {n_bins})")
        if not hi > lo:
            raise ValueError(f"hi must be greater than lo (got lo={lo}, hi={hi})")
        if label_sigma < 0:
            raise ValueError(f"label_sigma must be >= 0 seconds (got {label_sigma})")
        self.n_outputs = n_bins
        # label_sigma > 0: soft targets, a Gaussian of that sd (s) around the target spread over
        # the bins, so that a neighbouring bin costs less than a distant one (the bins are ordered)
        self.label_sigma = label_sigma
        self.register_buffer("edges", torch.linspace(lo, hi, n_bins + 1))

    def fit_targets(self, targets) -> None:
        """Nothing to fit: the bins are fixed, so every fold and approach share them."""

    @property
    def centres(self) -> torch.Tensor:
        return 0.5 * (self.edges[1:] + self.edges[:-1])

    def classes(self, y: torch.Tensor) -> torch.Tensor:
        """Bin index of each target; targets outside [lo, hi] go to the first / last bin."""
        inner = self.edges[1:-1].to(y.dtype)
        return torch.bucketize(y.contiguous(), inner, right=True)

    def soft_targets(self, y: torch.Tensor) -> torch.Tensor:
        """(batch, n_bins) probabilities of N(y, label_sigma^2) per bin; the end bins take the tails."""
        inner = self.edges[1:-1].to(y.dtype)
        cdf = torch.special.ndtr((inner[None, :] - y[:, None]) / self.label_sigma)
        ones, zeros = torch.ones_like(cdf[:, :1]), torch.zeros_like(cdf[:, :1])
        return torch.cat([cdf, ones], 1) - torch.cat([zeros, cdf], 1)

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        y = y.float()
        if self.label_sigma > 0:
            return F.cross_entropy(out.float(), self.soft_targets(y))
        return F.cross_entropy(out.float(), self.classes(y))

    def readouts(self, out: torch.Tensor) -> dict[str, torch.Tensor]:
        return readouts_from_probs(torch.softmax(out.float(), dim=-1), self.edges)


def readouts_from_probs(p: torch.Tensor, edges: torch.Tensor) -> dict[str, torch.Tensor]:
    """argmax-bin centre, expectation and median of per-bin probabilities ``p`` (batch, n_bins)."""
    centres = 0.5 * (edges[1:] + edges[:-1])
    width = edges[1:] - edges[:-1]
    cdf = p.cumsum(-1)
    # first bin whose CDF reaches 0.5; clamp guards rounding (a CDF ending at 0.9999999)
    k = torch.searchsorted(cdf.contiguous(), torch.full_like(cdf[:, :1], 0.5)).clamp(max=p.shape[-1] - 1)
    below = torch.gather(cdf, 1, k) - torch.gather(p, 1, k)   # CDF at the bin's lower edge
    pk = torch.gather(p, 1, k).clamp_min(1e-12)
    frac = ((0.5 - below) / pk).clamp(0.0, 1.0)
    median = edges[k.squeeze(1)] + frac.squeeze(1) * width[k.squeeze(1)]
    return {"argmax": centres[p.argmax(-1)], "expectation": p @ centres, "median": median}


HEADS = {"regression": RegressionHead, "binned": BinnedHead}


def make_head(name: str, **kwargs) -> nn.Module:
    if name not in HEADS:
        raise ValueError(f"head {name!r} is not known; expected one of: {', '.join(HEADS)}")
    return HEADS[name](**kwargs)
