"""Pre-training CPC on unlabeled windows: random crops, a LightningModule, one call to run it.

Data: random ``crop``-sample crops of unlabeled 150k segments (new crops every epoch, seeded by
(seed, epoch)); a few segments are held back and a fixed set of their crops gives the validation
loss and accuracy per prediction step. Which segments are "unlabeled" is the caller's choice:
:func:`quake_lib.approaches.cpc.unlabeled_segments` gives the test-period segments, disjoint from every
cross-validation cycle. Normalization is that of every other approach (median-centred, one fixed
robust scale, :func:`quake_lib.train.data.normalize`), the scale estimated on the segments.

The trainer is :func:`quake_lib.train.fit.make_trainer` (CPU float32, GPU bf16, CSV logger, quiet
under papermill). Logged per epoch: ``train_loss``, ``train_acc_<k>`` / ``train_loss_<k>`` per
step ``k``, the same with ``val_``, and ``enc_grad_norm`` (the encoder's gradient norm before
clipping, averaged over the epoch's steps). An optional head trained jointly from the first step
(``head``, ``head_weight``, labeled crops) is the 2019 study's setup, kept for that experiment.
"""
from __future__ import annotations

import gc
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..models.cpc import CPCConfig, CPCNet, pool_contexts
from ..profiles import PretrainConfig
from ..quiet import quiet
from .data import normalize, robust_scale
from .fit import TrainConfig, fit_trainer, make_trainer, torch_threads
from .metrics import read_metrics
from .module import one_cycle

VAL_STREAM = 2**31 - 3  # seed stream of the fixed validation crops


def random_crops(segments: np.ndarray, n: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random ``length``-sample crops of random rows of ``segments`` (int16 (m, seg_len))."""
    if segments.ndim != 2 or segments.shape[1] < length:
        raise ValueError(f"segments must be (n, >= {length}) samples (got shape {segments.shape})")
    rows = rng.integers(0, len(segments), n)
    starts = rng.integers(0, segments.shape[1] - length + 1, n)
    return np.stack([segments[r, s:s + length] for r, s in zip(rows, starts)])


class CropBatches(Dataset):
    """Batch ``i`` of int16 crops ``x`` (and float32 targets ``y``, or NaN when unlabeled)."""

    def __init__(self, x: np.ndarray, y: np.ndarray | None, batch_size: int):
        self.x, self.batch_size = x, batch_size
        self.y = np.full(len(x), np.nan, np.float32) if y is None else np.asarray(y, np.float32)

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, i: int):
        sl = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return torch.from_numpy(np.ascontiguousarray(self.x[sl])), torch.from_numpy(self.y[sl])


def train_config(cfg: PretrainConfig) -> TrainConfig:
    """The :class:`TrainConfig` a pre-training run hands the shared trainer."""
    return TrainConfig(epochs=cfg.epochs, windows_per_epoch=cfg.crops_per_epoch, batch_size=cfg.batch_size,
                       eval_batch_size=cfg.batch_size, lr=cfg.lr, weight_decay=cfg.weight_decay,
                       threads=cfg.threads, save_checkpoints=False, bn_windows=0, val_windows=0,
                       validate_every=1)


class CropData(L.LightningDataModule):
    """Training crops from ``draw(n, rng) -> (x, y|None)``, new each epoch; fixed validation crops."""

    def __init__(self, draw, val_x: np.ndarray, cfg: PretrainConfig, seed: int):
        super().__init__()
        self.draw, self.val_x, self.cfg, self.seed = draw, val_x, cfg, seed

    def train_dataloader(self):
        trainer = getattr(self, "trainer", None)
        epoch = trainer.current_epoch if trainer is not None else 0
        x, y = self.draw(self.cfg.crops_per_epoch, np.random.default_rng([self.seed, epoch]))
        return DataLoader(CropBatches(x, y, self.cfg.batch_size), batch_size=None)

    def val_dataloader(self):
        return DataLoader(CropBatches(self.val_x, None, self.cfg.batch_size), batch_size=None)


class CPCModule(L.LightningModule):
    def __init__(self, config: CPCConfig, scale: float, lr: float = 2e-3, weight_decay: float = 1e-4,
                 head: nn.Module | None = None, head_weight: float = 0.0, split_grads: bool = False):
        super().__init__()
        self.net = CPCNet(config)
        self.register_buffer("scale", torch.tensor(float(scale)))
        self.lr, self.weight_decay = lr, weight_decay
        self.head, self.head_weight, self.split_grads = head, head_weight, split_grads
        if head is not None:
            # the 2019 setup: a head on the pooled contexts, trained with the CPC loss from step one
            self.readout = nn.Linear(2 * config.ar.hidden, head.n_outputs)

    def _log_steps(self, prefix: str, out, n: int):
        self.log(f"{prefix}_loss", out.loss, on_step=False, on_epoch=True, batch_size=n)
        for k, (lk, ak) in enumerate(zip(out.step_loss, out.step_accuracy), start=1):
            self.log(f"{prefix}_loss_{k}", lk.detach(), on_step=False, on_epoch=True, batch_size=n)
            self.log(f"{prefix}_acc_{k}", ak, on_step=False, on_epoch=True, batch_size=n)

    def training_step(self, batch, batch_idx):
        raw, y = batch
        out, c = self.net(normalize(raw, self.scale))
        self._log_steps("train", out, len(raw))
        loss = out.loss
        if self.head is not None:
            head_loss = self.head.loss(self.readout(pool_contexts(c, ("mean", "std"))), y)
            self.log("head_loss", head_loss.detach(), on_step=False, on_epoch=True, batch_size=len(raw))
            if self.split_grads:  # which loss drives the encoder? one extra backward per loss
                params = [p for p in self.net.encoder.parameters()]
                # the head's gradient unweighted: what it would push even when head_weight is 0
                for name, part in (("cpc", out.loss), ("head", head_loss)):
                    g = torch.autograd.grad(part, params, retain_graph=True, allow_unused=True)
                    norm = torch.sqrt(sum((gi.float() ** 2).sum() for gi in g if gi is not None))
                    self.log(f"enc_grad_norm_{name}", norm, on_step=False, on_epoch=True, batch_size=len(raw))
            loss = loss + self.head_weight * head_loss
        return loss

    def on_before_optimizer_step(self, optimizer):
        grads = [p.grad for p in self.net.encoder.parameters() if p.grad is not None]
        norm = torch.sqrt(sum((g.float() ** 2).sum() for g in grads)) if grads else torch.tensor(0.0)
        self.log("enc_grad_norm", norm, on_step=False, on_epoch=True)

    def validation_step(self, batch, batch_idx):
        raw, _ = batch
        gen = torch.Generator(device=raw.device).manual_seed(VAL_STREAM + batch_idx)  # same negatives each epoch
        out, _ = self.net(normalize(raw, self.scale), generator=gen)
        self._log_steps("val", out, len(raw))

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: one_cycle(step, total, 0.1))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


@dataclass
class PretrainResult:
    module: CPCModule
    metrics: pd.DataFrame   # one row per epoch
    scale: float
    seconds: float
    n_train_segments: int
    n_val_segments: int

    @property
    def net(self) -> CPCNet:
        return self.module.net


def split_segments(segments: np.ndarray, cfg: PretrainConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    n_val = max(1, int(round(cfg.val_fraction * len(segments))))
    if len(segments) < 2:
        raise ValueError(f"pre-training needs at least 2 unlabeled segments (got {len(segments)})")
    order = np.random.default_rng([seed, VAL_STREAM]).permutation(len(segments))
    return segments[np.sort(order[n_val:])], segments[np.sort(order[:n_val])]


def pretrain(segments: np.ndarray, config: CPCConfig = CPCConfig(), cfg: PretrainConfig = PretrainConfig(),
             seed: int = 0, log_dir: Path | None = None, name: str = "cpc_pretrain", draw=None,
             head: nn.Module | None = None, head_weight: float = 0.0, split_grads: bool = False,
             scale: float | None = None) -> PretrainResult:
    """Pre-train CPC on random crops of ``segments`` (int16 (n, seg_len)); ``draw(n, rng) -> (x, y)``
    replaces the crop source (labeled crops for a joint head). Returns the module and its metrics."""
    quiet()
    t0 = time.perf_counter()
    # an earlier run's trainer, data module and segment copies sit in reference cycles until the next gc:
    # the CPC notebook pre-trains seven times, ~0.7 GB of segments per run on the full-size data
    gc.collect()
    L.seed_everything(seed, workers=True, verbose=False)
    train_seg, val_seg = split_segments(np.asarray(segments), cfg, seed)
    scale = robust_scale(train_seg, step=8, what="the unlabeled segments") if scale is None else scale
    if draw is None:
        def draw(n, rng):
            return random_crops(train_seg, n, cfg.crop, rng), None
    val_x = random_crops(val_seg, cfg.val_crops, cfg.crop, np.random.default_rng([seed, VAL_STREAM]))
    module = CPCModule(config, scale, cfg.lr, cfg.weight_decay, head, head_weight, split_grads)
    tcfg = train_config(cfg)
    tmp = tempfile.TemporaryDirectory(prefix="cpc-logs-") if log_dir is None else None
    try:
        with torch_threads(tcfg.threads):
            trainer = make_trainer(tcfg, Path(tmp.name) if tmp else Path(log_dir), name=name,
                                   version=f"seed_{seed}", label=f"{name} pre-training")
            data = CropData(draw, val_x, cfg, seed)
            fit_trainer(trainer, module, data)
            metrics = read_metrics(trainer.logger.log_dir)
    finally:
        if tmp is not None:
            tmp.cleanup()
    # the returned module keeps its trainer, which keeps this data module: without this the training
    # segments (a copy of ~0.7 GB on the full-size data) live as long as the module does
    data.draw = data.val_x = None
    module.eval()
    return PretrainResult(module, metrics, scale, time.perf_counter() - t0, len(train_seg), len(val_seg))


def step_table(metrics: pd.DataFrame, prefix: str = "val") -> pd.DataFrame:
    """Long table: epoch, step k, loss and accuracy of prediction step k."""
    ks = sorted(int(c.rsplit("_", 1)[1]) for c in metrics.columns if c.startswith(f"{prefix}_acc_"))
    rows = [{"epoch": int(r.epoch), "step": k, "loss": r[f"{prefix}_loss_{k}"], "accuracy": r[f"{prefix}_acc_{k}"]}
            for _, r in metrics.iterrows() for k in ks]
    return pd.DataFrame(rows)


__all__ = ["CPCModule", "PretrainConfig", "PretrainResult", "pretrain", "random_crops",
           "split_segments", "step_table"]
