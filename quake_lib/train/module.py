"""The LightningModule: any plain ``nn.Module`` body + a head, trained on raw int16 windows.

The module owns the normalization (:func:`quake_lib.train.data.normalize` with the fixed scale as a
buffer), so a checkpoint carries everything needed to predict on raw segments, and the work runs on
the accelerator. Metrics are logged per epoch only (``train_loss``, ``train_mae``, ``val_loss``,
``val_mae`` and ``val_mae_<readout>`` for each readout of the head, ``val_pred_sd``: the spread of
the held-out predictions, which shows a head collapsing to a constant).

Targets arrive as ``(batch,)`` time_to_failure, or ``(batch, 2)`` [time_to_failure, auxiliary cycle
target] for a head with an auxiliary target (:class:`quake_lib.train.heads.AuxHead`): the head's loss
takes them whole; the MAEs are of time_to_failure (column 0), except those of the readouts that the
head names in ``aux_readouts``, scored against the auxiliary target where it is known.
"""
from __future__ import annotations

import math

import lightning as L
import torch
from torch import nn

from ..evaluation.oof import QUANTILE_READOUTS
from .augment import NONE, Augment
from .data import normalize


class QuakeModule(L.LightningModule):
    def __init__(self, body: nn.Module, head: nn.Module, scale: float = 1.0, lr: float = 3e-3,
                 weight_decay: float = 1e-4, augment: Augment = NONE, pct_start: float = 0.25):
        super().__init__()
        if not scale > 0:
            raise ValueError(f"scale must be positive (got {scale})")
        if not lr > 0:
            raise ValueError(f"lr must be positive (got {lr})")
        self.body, self.head = body, head
        self.lr = lr  # an attribute named lr: Tuner.lr_find updates it in place
        self.weight_decay, self.augment, self.pct_start = weight_decay, augment, pct_start
        self.register_buffer("scale", torch.tensor(float(scale)))
        self._val_preds: list[torch.Tensor] = []

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        """Raw ``(batch, length)`` samples -> the head's ``(batch, n_outputs)`` outputs."""
        return self.body(normalize(raw, self.scale))

    def readouts(self, raw: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.head.readouts(self(raw))

    def training_step(self, batch, batch_idx):
        raw, y = batch
        x = normalize(raw, self.scale)
        if self.augment.active:
            x = self.augment(x)
        out = self.body(x)
        loss = self.head.loss(out, y)
        n = len(y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=n, sync_dist=True)
        with torch.no_grad():
            pred = self.head.readouts(out.detach())[self.head.default_readout]
            self.log("train_mae", (pred - ttf_of(y)).abs().mean(), on_step=False, on_epoch=True, batch_size=n,
                     sync_dist=True)
        return loss

    def validation_step(self, batch, batch_idx):
        raw, y = batch
        out = self(raw)
        n = len(y)
        self.log("val_loss", self.head.loss(out, y), on_epoch=True, batch_size=n, sync_dist=True)
        reads = self.head.readouts(out)
        aux_names = getattr(self.head, "aux_readouts", ())
        for name, pred in reads.items():
            if name in QUANTILE_READOUTS:  # interval bounds, not point predictions: no MAE
                continue
            key = "val_mae" if name == self.head.default_readout else f"val_mae_{name}"
            if name in aux_names:  # an estimate of the auxiliary target: scored where that is known
                known = ~torch.isnan(y[:, 1])
                if known.any():
                    self.log(key, (pred[known] - y[known, 1]).abs().mean(), on_epoch=True,
                             batch_size=int(known.sum()), sync_dist=True)
                continue
            self.log(key, (pred - ttf_of(y)).abs().mean(), on_epoch=True, batch_size=n, sync_dist=True)
        self._val_preds.append(reads[self.head.default_readout].detach().float())

    def on_validation_epoch_end(self):
        if self._val_preds:
            self.log("val_pred_sd", torch.cat(self._val_preds).std(), sync_dist=True)
        self._val_preds.clear()

    def predict_step(self, batch, batch_idx):
        raw, _ = batch
        return {k: v.float().cpu() for k, v in self.readouts(raw).items()}

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: one_cycle(step, total, self.pct_start))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def ttf_of(y: torch.Tensor) -> torch.Tensor:
    """time_to_failure of a batch's targets: ``y`` itself, or column 0 of [time_to_failure, aux]."""
    return y[:, 0] if y.ndim == 2 else y


def one_cycle(step: int, total: int, pct_start: float, final: float = 0.02) -> float:
    """LR factor: linear warm-up over ``pct_start`` of the steps, then cosine down to ``final``.
    (torch's OneCycleLR divides by zero on runs of a few steps, which the quick profile makes.)"""
    warm = max(1, round(pct_start * total))
    if step < warm:
        return (step + 1) / warm
    t = min((step - warm) / max(total - warm, 1), 1.0)
    return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * t))
