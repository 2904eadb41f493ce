"""A plain training loop for the lab runs' small networks, contrastive pre-training, a ridge probe.

No Lightning: the networks have ~10-100k parameters and the tables ~3,000 rows, so one loop of a few
lines is the whole trainer. Everything is seeded from ``seed`` (``torch.manual_seed`` before the
network is built, a ``torch.Generator`` for the batches), CPU float32, a fixed number of epochs (no
epoch is chosen on held-out rows), and one torch thread (:func:`~quake_lib.train.fit.torch_threads`:
tiny steps gain nothing from two, and a fixed count fixes the float reduction order).

Targets are standardized per column with the training rows' mean and sd (several targets of different
units then weigh alike in one L1 loss, the metric being MAE); predictions are mapped back.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from .fit import torch_threads


@dataclass(frozen=True)
class SequenceFitConfig:
    epochs: int = 30
    batch: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    gradient_clip: float = 1.0
    threads: int = 1

    def __post_init__(self):
        for name in ("epochs", "batch", "threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1 (got {value!r})")
        if not self.lr > 0:
            raise ValueError(f"lr must be a number > 0 (got {self.lr!r})")

    @classmethod
    def from_sizes(cls, sizes, epochs: int | None = None) -> "SequenceFitConfig":
        """The networks' sizes of a :class:`quake_lib.profiles.RealSizes`."""
        return cls(epochs=sizes.net_epochs if epochs is None else epochs, batch=sizes.net_batch, lr=sizes.net_lr)


@dataclass
class SequenceFit:
    model: nn.Module            # eval mode
    mean: np.ndarray            # per target: the training rows' mean and sd
    sd: np.ndarray
    losses: list                # mean training loss per epoch

    def predict(self, x: np.ndarray, batch: int = 1024) -> np.ndarray:
        """``(n, n_targets)`` predictions in the targets' units."""
        return predict(self.model, x, batch) * self.sd + self.mean


def _schedule(opt, total: int):
    # cosine decay to 0 over the run: the last epoch's small steps settle the weights without an epoch
    # being chosen on held-out rows
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))


def fit_sequence_model(make_model: Callable[[int], nn.Module], x: np.ndarray, y: np.ndarray,
                       cfg: SequenceFitConfig, seed: int) -> SequenceFit:
    """Train ``make_model(n_targets)`` on histories ``x`` ``(n, steps, channels)`` and targets ``y``
    ``(n,)`` or ``(n, n_targets)`` with L1 on standardized targets; AdamW, cosine schedule."""
    x = np.ascontiguousarray(x, np.float32)
    y = np.asarray(y, np.float64)
    y = y[:, None] if y.ndim == 1 else y
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y must hold the same positive number of rows (got {len(x)} and {len(y)})")
    mean, sd = y.mean(0), y.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(((y - mean) / sd).astype(np.float32))
    with torch_threads(cfg.threads):
        torch.manual_seed(seed)
        model = make_model(y.shape[1])
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        steps_per_epoch = -(-len(x) // cfg.batch)
        sched = _schedule(opt, cfg.epochs * steps_per_epoch)
        losses = []
        model.train()
        for _ in range(cfg.epochs):
            order = torch.randperm(len(x), generator=gen)
            total = 0.0
            for i in range(0, len(x), cfg.batch):
                idx = order[i:i + cfg.batch]
                loss = (model(xt[idx]) - yt[idx]).abs().mean()
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), cfg.gradient_clip)
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(idx)
            losses.append(total / len(x))
    return SequenceFit(model.eval(), mean, sd, losses)


@torch.inference_mode()
def _batched(fn, x: np.ndarray, batch: int, threads: int) -> np.ndarray:
    out = []
    with torch_threads(threads):
        for i in range(0, len(x), batch):
            out.append(fn(torch.from_numpy(np.ascontiguousarray(x[i:i + batch], np.float32))).double().numpy())
    return np.concatenate(out) if out else np.empty((0, 0))


def predict(model: nn.Module, x: np.ndarray, batch: int = 1024, threads: int = 1) -> np.ndarray:
    """``model``'s raw outputs for ``x``, ``(n, n_outputs)`` float64, in eval mode."""
    return _batched(model.eval(), x, batch, threads)


def encode(model: nn.Module, x: np.ndarray, batch: int = 1024, threads: int = 1) -> np.ndarray:
    """``model.representation`` of histories ``x`` (e.g. CPC's last context), ``(n, dim)`` float64."""
    return _batched(model.eval().representation, x, batch, threads)


def crop_starts(allowed: np.ndarray, crop: int) -> np.ndarray:
    """Rows where a ``crop``-row crop lying entirely in ``allowed`` rows can start."""
    inside = np.concatenate([[0], np.cumsum(np.asarray(allowed, bool))])
    return np.flatnonzero(inside[crop:] - inside[:-crop] == crop)


def pretrain_contrastive(make_model: Callable[[], nn.Module], sequence: np.ndarray, crop: int,
                         cfg: SequenceFitConfig, seed: int, crops_per_epoch: int | None = None,
                         allowed: np.ndarray | None = None):
    """Contrastive pre-training of ``make_model()`` (a module whose forward returns an
    :class:`~quake_lib.models.cpc.infonce.InfoNCEOutput`, e.g. :class:`~quake_lib.models.lab_nets.LabCPC`)
    on random ``crop``-row crops of the unlabeled ``sequence`` ``(n_rows, channels)``, new each epoch.
    Returns the model (eval mode) and a table per epoch: loss, accuracy (mean over the K steps) and
    the chance accuracy. ``crops_per_epoch`` defaults to as many crops as the sequence has rows / crop x 4.
    ``allowed`` (bool per row): crops lie entirely in these rows (e.g. all but a fold's held-out cycles)."""
    seq = np.ascontiguousarray(sequence, np.float32)
    starts_ok = crop_starts(np.ones(len(seq), bool) if allowed is None else allowed, crop)
    if not starts_ok.size:
        raise ValueError(f"a sequence of {len(seq)} rows ({int(np.sum(allowed)) if allowed is not None else len(seq)} "
                         f"allowed) holds no crop of {crop} consecutive allowed rows")
    n_crops = crops_per_epoch or max(cfg.batch, 4 * len(seq) // crop)
    starts_ok = torch.from_numpy(starts_ok)
    rows = []
    with torch_threads(cfg.threads):
        torch.manual_seed(seed)
        model = make_model()
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        sched = _schedule(opt, cfg.epochs * -(-n_crops // cfg.batch))
        seqt = torch.from_numpy(seq)
        offsets = torch.arange(crop)
        model.train()
        for epoch in range(cfg.epochs):
            starts = starts_ok[torch.randint(0, len(starts_ok), (n_crops,), generator=gen)]
            loss_sum = acc_sum = 0.0
            for i in range(0, n_crops, cfg.batch):
                batch = seqt[starts[i:i + cfg.batch, None] + offsets]          # (b, crop, channels)
                out = model(batch, generator=gen)
                opt.zero_grad()
                out.loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), cfg.gradient_clip)
                opt.step()
                sched.step()
                loss_sum += float(out.loss.detach()) * len(batch)
                acc_sum += float(out.step_accuracy.mean()) * len(batch)
            rows.append({"epoch": epoch + 1, "loss": loss_sum / n_crops, "accuracy": acc_sum / n_crops,
                         "chance": float(model.infonce.chance)})
    return model.eval(), pd.DataFrame(rows)


@dataclass
class RidgeProbe:
    """A fitted :func:`fit_ridge`: standardization, then ridge regression."""

    model: Pipeline

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``(n, n_targets)``, also for one target (scikit-learn returns ``(n,)`` then)."""
        return self.model.predict(np.asarray(x, np.float64)).reshape(len(x), -1)


def fit_ridge(x: np.ndarray, y: np.ndarray, alpha: float = 1.0) -> RidgeProbe:
    """Ridge regression on standardized features (population sd; a constant column is left unscaled),
    the intercept unpenalized: the linear probe. ``alpha`` is per row (the penalty is ``alpha * n_rows``),
    so it means the same for any table size."""
    # float64 throughout: the histories come as float32, which the scaler and the solver would keep
    x = np.asarray(x, np.float64)
    model = make_pipeline(StandardScaler(), Ridge(alpha=alpha * len(x), solver="cholesky"))
    return RidgeProbe(model.fit(x, np.asarray(y, np.float64)))
