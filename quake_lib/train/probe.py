"""Probes: a linear or small MLP readout on frozen CPC features, fitted per fold in seconds.

A frozen encoder's pooled features do not change during training, so they are computed once per
window (:func:`pooled_features`) and each fold fits only the readout (the same
:func:`~quake_lib.models.cpc.body.make_readout` the ``"cpc"`` body uses) with the binned head's
cross-entropy, full batch, a fixed number of iterations. Training windows: the fold's training
cycles on a denser grid than the evaluation grid (``train_stride``, as the LightGBM baseline);
evaluation: the held-out cycles' windows of the common grid. The held-out loss is recorded every
few iterations as a learning curve only: nothing is chosen by it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .. import evaluation
from ..atomic import atomic_path
from ..data.recording import Recording, Windows
from ..evaluation.folds import Fold
from ..models.cpc.body import CPCBody, make_readout
from .data import normalize
from .heads import BinnedHead
from .predict import read_checkpoint


@torch.inference_mode()
def pooled_features(body: CPCBody, rec: Recording, windows: Windows, scale: float,
                    batch_size: int = 32) -> np.ndarray:
    """Pooled features ``(n, n_features)`` of ``windows`` through ``body`` (eval mode)."""
    body.eval()
    out = []
    for i in range(0, len(windows), batch_size):
        raw = torch.from_numpy(rec.read(windows.subset(slice(i, i + batch_size))))
        out.append(body.features(normalize(raw, scale)).numpy())
    n = body.readout[0].num_features if hasattr(body.readout[0], "num_features") else 0
    return np.concatenate(out) if out else np.empty((0, n), np.float32)


@dataclass(frozen=True)
class ProbeConfig:
    kind: str = "linear"        # "linear" | "mlp"
    iterations: int = 300
    lr: float = 1e-2
    weight_decay: float = 1e-2
    hidden: int = 32
    dropout: float = 0.2
    curve_every: int = 10       # held-out loss every n iterations (learning curve only)


@dataclass
class ProbeResult:
    oof: pd.DataFrame
    curves: pd.DataFrame        # fold, iteration, train_loss, held_out_loss
    readouts: dict              # fold -> its fitted readout (eval mode)


def fit_readout(x: torch.Tensor, y: torch.Tensor, head: BinnedHead, cfg: ProbeConfig, seed: int,
                x_held: torch.Tensor | None = None, y_held: torch.Tensor | None = None):
    """Fit a readout on features ``x`` (standardized with their own mean and sd). Returns it (eval
    mode) and the curve rows."""
    torch.manual_seed(seed)
    readout = make_readout(x.shape[1], head.n_outputs, cfg.kind, cfg.hidden, cfg.dropout)
    norm = readout[0]
    norm.running_mean.copy_(x.mean(0))
    norm.running_var.copy_(x.var(0) + 1e-6)
    opt = torch.optim.AdamW(readout.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    rows = []
    for it in range(1, cfg.iterations + 1):
        readout.train()
        norm.eval()  # fixed standardization: the training features' own statistics
        loss = head.loss(readout(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if x_held is not None and (it % cfg.curve_every == 0 or it == 1):
            readout.eval()
            with torch.no_grad():
                rows.append({"iteration": it, "train_loss": float(head.loss(readout(x), y)),
                             "held_out_loss": float(head.loss(readout(x_held), y_held))})
    return readout.eval(), rows


def probe_cv(train_features: np.ndarray, train_windows: Windows, eval_features: np.ndarray,
             eval_windows: Windows, folds: list[Fold], approach: str, cfg: ProbeConfig = ProbeConfig(),
             seed: int = 0) -> ProbeResult:
    """Fit a probe per fold on the training cycles' windows and predict the held-out ones."""
    if len(train_features) != len(train_windows) or len(eval_features) != len(eval_windows):
        raise ValueError("features must have one row per window (train: "
                         f"{len(train_features)} vs {len(train_windows)}, eval: {len(eval_features)} "
                         f"vs {len(eval_windows)})")
    evaluation.check_folds(folds, eval_windows)
    head = BinnedHead()
    parts, curves, readouts = [], [], {}
    for f in folds:
        tr = np.isin(train_windows.cycles, f.train_cycles)
        te = np.isin(eval_windows.cycles, f.test_cycles)
        x = torch.as_tensor(train_features[tr], dtype=torch.float32)
        y = torch.as_tensor(train_windows.targets[tr], dtype=torch.float32)
        xh = torch.as_tensor(eval_features[te], dtype=torch.float32)
        yh = torch.as_tensor(eval_windows.targets[te], dtype=torch.float32)
        fold_seed = int(np.random.SeedSequence([seed, f.index]).generate_state(1)[0])
        readout, rows = fit_readout(x, y, head, cfg, fold_seed, xh, yh)
        readouts[f.index] = readout
        with torch.no_grad():
            reads = {k: v.numpy() for k, v in head.readouts(readout(xh)).items()}
        main = reads.pop(head.default_readout)
        parts.append(evaluation.oof_frame(approach, f.index, eval_windows.subset(te), main,
                                          **reads, **{head.default_readout: main}))
        curves += [{"fold": f.index, **r} for r in rows]
    return ProbeResult(pd.concat(parts, ignore_index=True), pd.DataFrame(curves), readouts)


def locate(grid: Windows, windows: Windows) -> np.ndarray:
    """Row of each of ``windows`` in ``grid`` (same starts and length), or an error."""
    if grid.length != windows.length:
        raise ValueError(f"window lengths differ ({grid.length} vs {windows.length})")
    idx = np.searchsorted(grid.starts, windows.starts)
    idx = np.minimum(idx, len(grid) - 1)
    if len(windows) and not np.array_equal(grid.starts[idx], windows.starts):
        raise ValueError("the evaluation windows are not all on the training grid; use a stride that divides "
                         f"{evaluation.EVAL_STRIDE}")
    return idx


def save_readout(readout: torch.nn.Module, path: Path, meta: dict | None = None) -> Path:
    """A fitted readout's weights (and its standardization's statistics), atomically; plain tensors
    only, so that :func:`load_readout` reads it with ``weights_only=True``. ``meta``: what else its
    approach keeps with the weights (plain values and tensors), read back with
    :func:`~quake_lib.train.predict.read_checkpoint`."""
    state = {k: v.detach().cpu() for k, v in readout.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save({"state_dict": state} if meta is None else {"state_dict": state, "meta": meta}, tmp)
    return Path(path)


def load_readout(path: Path, meta: dict) -> torch.nn.Module:
    """A readout saved by :func:`save_readout`, rebuilt from its run's ``meta`` (kind, n_features,
    hidden, dropout), in eval mode."""
    state = read_checkpoint(path)["state_dict"]
    readout = make_readout(meta["n_features"], BinnedHead().n_outputs, meta["kind"], meta["hidden"], meta["dropout"])
    try:
        readout.load_state_dict(state)
    except RuntimeError as e:
        raise ValueError(f"{path}: its weights do not fit the probe its run describes "
                         f"({str(e).splitlines()[0][:120]}); train the approach again") from None
    return readout.eval()
