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
from ..data import cycle_targets
from ..evaluation.oof import QUANTILE_READOUTS, QUANTILES


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
    readout_names = ("argmax", "expectation", "median", *QUANTILE_READOUTS)

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


def _quantile(p: torch.Tensor, edges: torch.Tensor, q: float) -> torch.Tensor:
    """The ``q`` quantile of per-bin probabilities ``p`` (batch, n_bins): where the CDF crosses ``q``,
    interpolated linearly inside the bin (the density is taken as uniform within a bin)."""
    width = edges[1:] - edges[:-1]
    cdf = p.cumsum(-1)
    # first bin whose CDF reaches q; clamp guards rounding (a CDF ending at 0.9999999)
    k = torch.searchsorted(cdf.contiguous(), torch.full_like(cdf[:, :1], q)).clamp(max=p.shape[-1] - 1)
    below = torch.gather(cdf, 1, k) - torch.gather(p, 1, k)   # CDF at the bin's lower edge
    pk = torch.gather(p, 1, k).clamp_min(1e-12)
    frac = ((q - below) / pk).clamp(0.0, 1.0)
    return edges[k.squeeze(1)] + frac.squeeze(1) * width[k.squeeze(1)]


def readouts_from_probs(p: torch.Tensor, edges: torch.Tensor) -> dict[str, torch.Tensor]:
    """argmax-bin centre, expectation, median and the interval quantiles (``q10``, ``q90`` at the
    80% level of :mod:`quake_lib.evaluation.intervals`) of per-bin probabilities ``p`` (batch, n_bins).
    The quantiles bound the head's native central interval; the median stays the point prediction."""
    centres = 0.5 * (edges[1:] + edges[:-1])
    reads = {"argmax": centres[p.argmax(-1)], "expectation": p @ centres, "median": _quantile(p, edges, 0.5)}
    for name, q in zip(QUANTILE_READOUTS, QUANTILES):
        reads[name] = _quantile(p, edges, q)
    return reads


HEADS = {"regression": RegressionHead, "binned": BinnedHead}


def make_head(name: str, **kwargs) -> nn.Module:
    if name not in HEADS:
        raise ValueError(f"head {name!r} is not known; expected one of: {', '.join(HEADS)}")
    return HEADS[name](**kwargs)


class AuxHead(nn.Module):
    """A head (``base``) plus one output trained on a cycle-position target, the Kaggle winners' trick
    (:mod:`quake_lib.data.cycle_targets`): ``since_failure`` (1st place) or ``fraction`` (3rd place).

    Outputs: the base head's, then the auxiliary one (scaled like :class:`RegressionHead`: centred and
    scaled on the training targets). Loss: the base loss on time_to_failure + ``weight`` x L1 on the
    auxiliary target, over the rows where it is known (NaN in the recording's partial first cycle).
    The targets ``y`` are ``(batch, 2)``: [time_to_failure, auxiliary] (the data path yields them so for
    a head with an ``aux``). Readouts: the base head's (its default readout stays the ``prediction``),
    ``<aux>`` (the auxiliary output) and, once the mean length of the training cycles is known
    (:meth:`fit_cycle_length`, kept as a buffer so a checkpoint carries it), ``from_<aux>``: the
    auxiliary output turned into time_to_failure (:func:`~quake_lib.data.cycle_targets.to_ttf`).
    """

    name = "aux"

    def __init__(self, base="regression", aux: str = "since_failure", weight: float = 1.0,
                 base_kwargs: dict | None = None):
        super().__init__()
        cycle_targets.check_target(aux, cycle_targets.AUX_TARGETS)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0:
            raise ValueError(f"weight must be a number >= 0 (got {weight!r})")
        self.base = make_head(base, **(base_kwargs or {})) if isinstance(base, str) else base
        if isinstance(self.base, AuxHead):
            raise ValueError("base must be a plain head (regression, binned), not another AuxHead")
        self.aux, self.weight = aux, float(weight)
        self.n_outputs = self.base.n_outputs + 1
        self.default_readout = self.base.default_readout
        self.aux_readouts = (aux,)  # readouts that estimate the auxiliary target, not time_to_failure
        # a fraction lies in [0, 1]; a time since failure within the longest cycle
        self.aux_head = RegressionHead(lo=0.0, hi=1.0 if aux == "fraction" else TARGET_MAX_S)
        self.register_buffer("mean_length", torch.tensor(float("nan")))

    @property
    def readout_names(self) -> tuple[str, ...]:
        base = getattr(self.base, "readout_names", (self.base.default_readout,))
        return (*base, self.aux, *((f"from_{self.aux}",) if self._length_known() else ()))

    def _length_known(self) -> bool:
        return bool(torch.isfinite(self.mean_length))

    def fit_targets(self, targets) -> None:
        """``targets``: (n, 2) [time_to_failure, auxiliary] of training windows; the base head fits on
        the first column, the auxiliary output's centre and scale on the known values of the second."""
        t = torch.as_tensor(targets, dtype=torch.float32)
        if t.ndim != 2 or t.shape[1] != 2:
            raise ValueError(f"targets must be (n, 2) [time_to_failure, {self.aux}] (got shape {tuple(t.shape)}): "
                             f"build the data with aux={self.aux!r} (QuakeDataModule(..., aux=head.aux))")
        known = t[:, 1][~torch.isnan(t[:, 1])]
        if len(known) == 0:
            raise ValueError(f"targets: no training window with a known {self.aux} (all lie in the partial "
                             "first cycle); expected windows of cycles that start at a failure")
        self.base.fit_targets(t[:, 0])
        self.aux_head.fit_targets(known)

    def fit_cycle_length(self, mean_length: float) -> None:
        """Remember the mean length (s) of the training cycles: the ``from_<aux>`` readout needs it."""
        if not float(mean_length) > 0:
            raise ValueError(f"mean_length must be a positive number of seconds (got {mean_length!r})")
        self.mean_length.fill_(float(mean_length))

    def aux_loss(self, out: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
        """Mean L1 of the auxiliary output over the rows whose target is known (0 if none is)."""
        value = self.aux_head.value(out[:, -1:])
        known = ~torch.isnan(aux)
        # unknown rows get their own value as target: zero error and zero gradient (a NaN target would
        # reach the gradient through abs() even if masked afterwards)
        err = (value - torch.where(known, aux, value.detach())).abs()
        return err.sum() / known.sum().clamp_min(1)

    def loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if y.ndim != 2 or y.shape[1] != 2:
            raise ValueError(f"y must be (batch, 2) [time_to_failure, {self.aux}] (got shape {tuple(y.shape)}): "
                             f"build the data with aux={self.aux!r}")
        y = y.float()
        base = self.base.loss(out[:, :self.base.n_outputs], y[:, 0])
        return base + self.weight * self.aux_loss(out, y[:, 1])

    def readouts(self, out: torch.Tensor) -> dict[str, torch.Tensor]:
        reads = self.base.readouts(out[:, :self.base.n_outputs])
        value = self.aux_head.readouts(out[:, -1:])["value"]
        reads[self.aux] = value
        if self._length_known():
            reads[f"from_{self.aux}"] = cycle_targets.to_ttf(self.aux, value, self.mean_length)
        return reads


# registered here, after its class (the one table of head names above is for the plain heads)
HEADS["aux"] = AuxHead
