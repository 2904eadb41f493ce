"""Predicting with a trained module, and checkpoints that load with ``weights_only=True``.

A checkpoint is a plain dict of tensors and primitives (``state_dict`` + ``meta``), written with
``torch.save`` atomically: nothing in it needs pickle's arbitrary-code path to load, so
``torch.load(path, weights_only=True)`` (safe for files from elsewhere) reads it.
"""
from __future__ import annotations

import os
import pickle
import re
import warnings
from pathlib import Path

import numpy as np
import torch

from .. import models
from ..atomic import atomic_path
from ..data.recording import Recording, Windows
from .data import loader
from .heads import AuxHead, BinnedHead, RegressionHead, make_head
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
    state = {k: v.detach().cpu() for k, v in module.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save({"state_dict": state, "meta": dict(meta or {})}, tmp)
    return Path(path)


def read_checkpoint(path: Path) -> dict:
    """A checkpoint's ``{'state_dict', 'meta'}`` read with ``weights_only=True``, or a ValueError that
    names the file and says what is wrong: damaged or truncated, refused (it would run code or build
    arbitrary objects on loading), or not a checkpoint of this library."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except MemoryError:
        raise
    except pickle.UnpicklingError as e:
        called = re.search(r"GLOBAL ([\w.]+)", str(e))  # torch names the function the pickle would call
        what = f"it would call {called.group(1)}" if called else "it would run code or build arbitrary objects"
        raise ValueError(f"{path}: refused to load: {what} (torch.load with weights_only=True allows tensors "
                         "and plain values only); a checkpoint of quake_lib.train holds nothing else, so "
                         "this file was not written by it") from None
    except Exception as e:  # torch reports damage as RuntimeError, EOFError, KeyError, OSError, ...
        reason = (str(e).splitlines() or [""])[0][:100] or type(e).__name__
        raise ValueError(f"{path}: not a readable checkpoint, the file is damaged or truncated (torch.load: "
                         f"{reason}); train the approach again") from None
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("state_dict"), dict) \
            or not isinstance(ckpt.get("meta", {}), dict):
        found = (f"a dict with keys {sorted(map(str, ckpt))[:5]}" if isinstance(ckpt, dict)
                 else f"a {type(ckpt).__name__}")
        raise ValueError(f"{path}: not a checkpoint of quake_lib.train (expected a dict with 'state_dict' and "
                         f"'meta', found {found})")
    return ckpt


# ---------------------------------------------------------------- rebuilding a module from its checkpoint
#
# What a checkpoint's meta must carry to rebuild the module without the code that trained it
# (``python -m quake_lib submit`` does this): the registered body name and its config as plain
# primitives (``weights_only=True`` loads nothing else), the head's name and constructor arguments.
# Buffers (the normalization scale, a regression head's offset and scale, the bins) come back
# with the state_dict.


def plain(value):
    """A config value as primitives only: dataclasses -> dicts, tuples -> lists, paths -> str."""
    import dataclasses
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"config value {value!r} ({type(value).__name__}) cannot be stored in a checkpoint; "
                    "use primitives, tuples, paths or nested dataclasses")


def unplain(template, value):
    """Inverse of :func:`plain` guided by ``template`` (the registered default config's value)."""
    import dataclasses
    if dataclasses.is_dataclass(template) and isinstance(value, dict):
        known = {f.name: getattr(template, f.name) for f in dataclasses.fields(template)}
        return dataclasses.replace(template, **{k: unplain(known.get(k), v) for k, v in value.items()})
    if isinstance(template, tuple) and isinstance(value, list):
        return tuple(unplain(template[0] if template else None, v) for v in value)
    if isinstance(template, Path) and isinstance(value, str):
        return Path(value)
    return value


def head_spec(head) -> dict:
    """The constructor arguments that rebuild ``head`` with :func:`quake_lib.train.heads.make_head`."""
    if isinstance(head, AuxHead):  # the mean training-cycle length is a buffer: the state_dict brings it
        return {"base": head.base.name, "base_kwargs": head_spec(head.base), "aux": head.aux,
                "weight": head.weight}
    if isinstance(head, BinnedHead):
        edges = head.edges
        return {"n_bins": int(head.n_outputs), "lo": float(edges[0]), "hi": float(edges[-1]),
                "label_sigma": float(head.label_sigma)}
    if isinstance(head, RegressionHead):
        return {"lo": float(head.lo), "hi": float(head.hi)}  # offset and scale are buffers
    spec = getattr(head, "spec", None)  # another head: it says how to rebuild itself
    return dict(spec()) if callable(spec) else {}


def rebuild_meta(model_factory, head, module: QuakeModule) -> dict:
    """The meta entries :func:`load_module` needs, plus the parameter counts (for cost tables).

    The stored config is the factory's, unless the body has a ``rebuild_config()`` method: a body
    whose architecture depends on an external file (e.g. pretrained weights whose own config sets
    the layer sizes) returns there the config that rebuilds the same architecture without that file
    (the state_dict brings the weights back)."""
    hook = getattr(module.body, "rebuild_config", None)
    config = hook() if callable(hook) else getattr(model_factory, "config", None)
    try:
        stored = plain(config) if config is not None else None
    except TypeError as e:  # never lose a finished training run over this: load_module will refuse
        warnings.warn(f"checkpoint cannot be rebuilt later: {e}")
        stored = None
    return {"model": getattr(model_factory, "model_name", type(module.body).__name__),
            "model_config": stored,
            "head": head.name, "head_kwargs": head_spec(head),
            "n_parameters": int(sum(p.numel() for p in module.parameters())),
            "n_trainable": int(sum(p.numel() for p in module.parameters() if p.requires_grad))}


def load_module(path: Path, **config_overrides) -> tuple[QuakeModule, dict]:
    """Rebuild a trained :class:`QuakeModule` from a checkpoint alone; return it (eval mode) and meta.

    The body is made by ``quake_lib.models.factory(meta['model'], **config)``, so its model must be
    registered in :mod:`quake_lib.models`. A rebuild must not need files beyond the checkpoint: a
    config field pointing at pretrained weights is reset by the body's ``rebuild_config()`` when the
    checkpoint is written (see :func:`rebuild_meta`), or here by ``config_overrides``.
    """
    path = Path(path)
    ckpt = read_checkpoint(path)
    meta = ckpt.get("meta", {})
    if meta.get("model_config") is None or "head" not in meta or meta.get("model") not in models.MODELS:
        raise ValueError(f"{path}: the checkpoint does not say how to rebuild its model (meta: model "
                         f"{meta.get('model')!r}, registered: {', '.join(models.MODELS)}); it was written "
                         "by an older version or by an unregistered model: train the approach again")
    _, default = models.MODELS[meta["model"]]
    config = unplain(default, meta["model_config"])
    fields = {f: getattr(config, f) for f in _field_names(config)}
    body = models.factory(meta["model"], **{**fields, **config_overrides})
    head = make_head(meta["head"], **meta.get("head_kwargs", {}))
    try:
        module = QuakeModule(body(head.n_outputs), head)
    except FileNotFoundError as e:
        raise ValueError(f"{path}: rebuilding model {meta['model']!r} needs a file that is absent ({e}); "
                         "its body should define rebuild_config() so that a checkpoint never needs one") from e
    try:
        module.load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:  # missing, unexpected or misshapen tensors
        raise ValueError(f"{path}: its weights do not fit the model its meta describes "
                         f"({str(e).splitlines()[0][:120]}); train the approach again") from None
    return module.eval(), meta


def _field_names(config) -> list[str]:
    import dataclasses
    return [f.name for f in dataclasses.fields(config)]
