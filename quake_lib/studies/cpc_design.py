"""The 2019 study's CPC observations, revisited with small experiments.

1. *Training was very slow*: :func:`learning_signal_table` counts, per million samples read, how many
   InfoNCE predictions (learning signals) each setup makes and against how many candidates, and what
   the encoder costs per sample (multiply-accumulates, counted from the layer sizes).
2. *A head added later overfit at once*: the probes' train vs held-out learning curves
   (:mod:`quake_lib.train.probe`) and the fine-tuning metrics, shown in the notebook.
3. *A head added from the start broke the encoder*: :func:`joint_head_runs` trains CPC with and
   without a binned head from step one on the same labeled crops and logs the encoder's gradient norm
   from each loss and the contrastive accuracy per step.
4. *Clipping the normalized signal to (-10, 10) killed the CPC gradients*: :func:`clip_runs` trains
   the same short CPC run with the input compressed, clipped or raw, with batch or in-sequence
   negatives, and :func:`clip_statistics` says what the clip removes.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ..data.recording import Recording
from ..models.cpc import CPCConfig, EncoderConfig
from ..profiles import PretrainConfig
from ..train.contrastive import pretrain, step_table
from ..train.data import normalize
from ..train.heads import BinnedHead


def encoder_macs_per_sample(c: EncoderConfig) -> float:
    """Multiply-accumulates per input sample of the encoder (low-pass + convolutions)."""
    macs, rate, cin = c.lowpass_taps / c.decimate, 1.0 / c.decimate, 1
    for cout, k, s in zip(c.channels, c.kernels, c.strides):
        rate /= s
        macs += rate * cin * cout * k
        cin = cout
    return macs


def learning_signal_table(config: CPCConfig = CPCConfig(), crop: int = 32_768) -> pd.DataFrame:
    """Learning signals per sample read: the 2019 setup (a 1.5M window cut into ten 150k
    sub-windows, one latent each, one-step InfoNCE against the other sub-windows) and this one."""
    T = crop // config.encoder.stride
    K = config.infonce.steps
    ours = {"samples per sequence": crop, "latent step (samples)": config.encoder.stride,
            "latents per sequence": T, "prediction steps": K, "predictions per sequence": (T - K) * K,
            "candidates per prediction": 1 + config.infonce.n_negatives}
    theirs = {"samples per sequence": 1_500_000, "latent step (samples)": 150_000, "latents per sequence": 10,
              "prediction steps": 1, "predictions per sequence": 9, "candidates per prediction": 10}
    df = pd.DataFrame({"2019 study": theirs, "this chapter": ours}).T
    df["predictions per million samples"] = (df["predictions per sequence"] * 1e6
                                            / df["samples per sequence"]).round(1)
    df["chance accuracy"] = (1 / df["candidates per prediction"]).round(4)
    df.loc["this chapter", "encoder MACs per sample"] = round(encoder_macs_per_sample(config.encoder), 1)
    return df


def clip_statistics(segments: np.ndarray, scale: float, bound: float = 10.0, batch: int = 64) -> pd.Series:
    """What clipping the normalized signal at +-bound removes: share of samples beyond it, share of
    the signal energy in them, and the largest |value| (in units of the fixed scale). ``batch`` segments
    at a time, sums in float64: 2,624 full-size test segments at once would take ~10 GB."""
    import torch

    if segments.ndim != 2 or len(segments) == 0:
        raise ValueError(f"segments must be a non-empty (n, length) array (got shape {segments.shape})")
    n_beyond = energy_beyond = energy = 0.0
    any_beyond, largest = 0, 0.0
    for i in range(0, len(segments), batch):
        x = normalize(torch.from_numpy(np.ascontiguousarray(segments[i:i + batch])), scale).squeeze(1).numpy()
        x = x.astype(np.float64)
        beyond = np.abs(x) > bound
        sq = x ** 2
        n_beyond += beyond.sum()
        energy_beyond += sq[beyond].sum()
        energy += sq.sum()
        any_beyond += int(beyond.any(axis=1).sum())
        largest = max(largest, float(np.abs(x).max()))
    return pd.Series({"samples beyond the bound (%)": 100 * n_beyond / segments.size,
                      "energy in them (%)": 100 * energy_beyond / energy,
                      "segments with any (%)": 100 * any_beyond / len(segments),
                      "largest |x| (scale units)": largest}).round(3)


def _summary(name: str, res) -> dict:
    m = res.metrics
    last = m.iloc[-1]
    accs = [last[c] for c in m.columns if c.startswith("val_acc_")]
    row = {"run": name, "val_loss": last["val_loss"], "val_acc_mean": float(np.mean(accs)),
           "val_acc_min": float(np.min(accs)), "enc_grad_norm_first": m["enc_grad_norm"].iloc[0],
           "enc_grad_norm_last": last["enc_grad_norm"]}
    for c in ("enc_grad_norm_cpc", "enc_grad_norm_head", "head_loss"):
        if c in m.columns:
            row[c] = last[c]
    return row


def clip_runs(segments: np.ndarray, cfg: PretrainConfig, seed: int = 0, base: CPCConfig = CPCConfig()):
    """Short CPC runs: input compressed / clipped to (-10, 10) / raw, x batch / in-sequence negatives.
    Returns (summary per run, accuracy per step of each run's last epoch)."""
    runs = [("compress, batch negatives", "compress", "batch"), ("clip 10, batch negatives", "clip", "batch"),
            ("compress, in-sequence negatives", "compress", "sequence"),
            ("clip 10, in-sequence negatives (2019)", "clip", "sequence"), ("raw, batch negatives", "raw", "batch")]
    rows, steps = [], []
    for name, mode, neg in runs:
        config = replace(base, encoder=replace(base.encoder, input_mode=mode),
                         infonce=replace(base.infonce, negatives=neg))
        res = pretrain(segments, config, cfg, seed=seed)
        rows.append({**_summary(name, res), "chance": 1 / (1 + config.infonce.n_negatives)})
        st = step_table(res.metrics)
        steps.append(st[st["epoch"] == st["epoch"].max()].assign(run=name))
    return pd.DataFrame(rows).set_index("run"), pd.concat(steps, ignore_index=True)


def joint_head_runs(rec: Recording, train_cycles, segments: np.ndarray, cfg: PretrainConfig, seed: int = 0,
                    base: CPCConfig = CPCConfig(), weights=(0.0, 1.0)):
    """CPC on labeled crops of ``train_cycles`` with a binned head on the pooled contexts trained
    from the first step with weight ``w`` (0: CPC alone). The held-out CPC accuracy uses crops of
    ``segments``; the encoder's gradient norm from each loss is logged (the head's unweighted)."""
    def draw(n, rng):
        w = rec.random_windows(n, rng, cfg.crop, train_cycles)
        return rec.read(w), w.targets

    rows, steps = [], []
    for w in weights:
        name = "CPC alone (head weight 0)" if w == 0 else f"CPC + head from step one (weight {w:g})"
        res = pretrain(segments, base, cfg, seed=seed, draw=draw, head=BinnedHead(), head_weight=w,
                       split_grads=True)
        rows.append(_summary(name, res))
        st = step_table(res.metrics)
        steps.append(st[st["epoch"] == st["epoch"].max()].assign(run=name))
    return pd.DataFrame(rows).set_index("run"), pd.concat(steps, ignore_index=True)
