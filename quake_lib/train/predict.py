"""Predicting with a trained module, and checkpoints that load with ``weights_only=True``.

A checkpoint is a plain dict of tensors and primitives (``state_dict`` + ``meta``), written with
``torch.save`` atomically: nothing in it needs pickle's arbitrary-code path to load, so
``torch.load(path, weights_only=True)`` (safe for files from elsewhere) reads it.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from ..recording import Recording, Windows
from .data import loader
from .module import QuakeModule


@torch.inference_mode()
def predict_windows(module: QuakeModule, rec: Recording, windows: Windows, batch_size: int = 64,
                    device: str | torch.device | None = None) -> dict[str, np.ndarray]:
    """Every readout of ``module``'s head for ``windows``: ``{readout: (n,) array}``, in order.

    A plain loop rather than ``Trainer.predict``: under DDP the latter splits (and pads) the
    windows across processes, and every process here needs every prediction.
    """
    device = torch.device(device) if device is not None else next(module.parameters()).device
    was_training = module.training
    module.eval().to(device)
    use_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    parts: dict[str, list[np.ndarray]] = {}
    for raw, _ in loader(rec, windows, batch_size):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            reads = module.readouts(raw.to(device))
        for k, v in reads.items():
            parts.setdefault(k, []).append(v.float().cpu().numpy())
    module.train(was_training)
    if not parts:
        names = getattr(module.head, "readout_names", (module.head.default_readout,))
        return {k: np.empty(0, dtype=np.float32) for k in names}
    return {k: np.concatenate(v) for k, v in parts.items()}


@torch.inference_mode()
def predict_array(module: QuakeModule, x: np.ndarray, batch_size: int = 64) -> dict[str, np.ndarray]:
    """Readouts for raw segments, e.g. Kaggle test files: ``x`` is an (n, length) int16 array."""
    x = np.atleast_2d(np.asarray(x, dtype=np.int16))
    device = next(module.parameters()).device
    module.eval()
    parts: dict[str, list[np.ndarray]] = {}
    for i in range(0, len(x), batch_size):
        for k, v in module.readouts(torch.from_numpy(x[i:i + batch_size]).to(device)).items():
            parts.setdefault(k, []).append(v.float().cpu().numpy())
    return {k: np.concatenate(v) for k, v in parts.items()}


@torch.no_grad()
def recalibrate_batchnorm(module: QuakeModule, rec: Recording, windows: Windows, batch_size: int = 32) -> int:
    """"Precise BN": replace every BatchNorm's running statistics (an exponential average over the
    last training steps, taken while the weights still moved) by their plain average over
    ``windows`` with the final weights. Returns how many BatchNorm layers were recalibrated.

    Why: the window-level statistics the BatchNorm standardizes are heavy-tailed and drift while the
    network learns; with a few hundred steps per run the running estimates lag, and held-out
    predictions in eval mode were off by seconds (measured: one fold's MAE 3.97 -> 2.61).
    """
    bns = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns or len(windows) == 0:
        return 0
    was_training = module.training
    momenta = [b.momentum for b in bns]
    for b in bns:
        b.reset_running_stats()
        b.momentum = None  # cumulative average over the batches below
    module.train()
    device = next(module.parameters()).device
    for raw, _ in loader(rec, windows, batch_size):
        if len(raw) > 1:  # BatchNorm needs two windows for a batch variance
            module(raw.to(device))
    for b, m in zip(bns, momenta):
        b.momentum = m
    module.train(was_training)
    return len(bns)


def save_checkpoint(module: QuakeModule, path: Path, meta: dict | None = None) -> Path:
    """Write the module's weights (and buffers: the scale, the head's bins) and ``meta``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in module.state_dict().items()}
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    torch.save({"state_dict": state, "meta": dict(meta or {})}, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: Path, module: QuakeModule) -> dict:
    """Load weights into ``module`` (built like the saved one) with ``weights_only=True``; return meta."""
    ckpt = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ValueError(f"{path}: not a checkpoint of quake_lib.train (expected a dict with 'state_dict')")
    module.load_state_dict(ckpt["state_dict"])
    return ckpt.get("meta", {})
