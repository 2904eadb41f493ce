"""K-step InfoNCE (van den Oord et al., 2018): pick the true future latent among negatives.

For every context ``c_t`` and every step ``k = 1..K``, a linear predictor ``W_k`` (one per step)
maps ``c_t`` to a guess of ``z_{t+k}``; the score of a candidate latent is its dot product with the
guess. The loss is the cross-entropy of finding the true ``z_{t+k}`` (the positive, at index 0)
among ``1 + n_negatives`` candidates, so at chance it is ``log(1 + n_negatives)`` and the accuracy
is ``1 / (1 + n_negatives)`` (:attr:`InfoNCE.chance`).

Negatives (``negatives``):

- ``"batch"`` (default): drawn uniformly from every latent of the batch, other sequences and other
  time steps alike (as CPC_audio), never the positive itself; one pool per step shared by the
  batch. Other sequences of another loudness are then easy to reject, so the representation has
  to carry the window-level state (the precursor), not only the local waveform.
- ``"sequence"``: other time steps of the same sequence only, as the 2019 study did. Here only
  what changes within a few hundred microseconds can tell the positive apart.

Per-step loss and accuracy are returned so that a trainer can log the curve per prediction step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

NEGATIVE_MODES = ("batch", "sequence")


@dataclass(frozen=True)
class InfoNCEConfig:
    steps: int = 8             # K: predict z_{t+1} .. z_{t+K}
    n_negatives: int = 63      # candidates per prediction: 1 + n_negatives (chance 1/64)
    negatives: str = "batch"   # "batch" | "sequence"
    temperature: float = 0.0   # > 0: cosine scores / temperature; 0: plain dot products


@dataclass
class InfoNCEOutput:
    loss: torch.Tensor          # scalar: mean over steps
    step_loss: torch.Tensor     # (K,) cross-entropy per prediction step
    step_accuracy: torch.Tensor  # (K,) share of predictions whose best candidate is the positive


def sample_negatives(batch: int, steps: int, n_pred: int, n_neg: int, k: int, mode: str,
                     generator: torch.Generator | None = None, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Negatives for the predictions of step ``k`` made at contexts ``t = 0..n_pred-1``.

    Returns ``(pool, keep)``: ``pool`` holds ``n_neg + 1`` distinct flat indices into the
    ``(batch * steps)`` latents, shared by the whole batch (``"batch"``, shape ``(n_neg + 1,)``) or
    by each sequence (``"sequence"``, shape ``(batch, n_neg + 1)``); ``keep`` (``(batch, n_pred,
    n_neg + 1)`` bool) drops, for each prediction, the pool entry that is its positive if there is
    one, else the pool's last entry. So every prediction gets exactly ``n_neg`` negatives, never its
    positive, and the scores are one matrix product instead of a gather of n_neg latents per
    prediction, whose backward (a scatter-add) dominated a whole CPU training step.
    """
    if mode not in NEGATIVE_MODES:
        raise ValueError(f"negatives must be one of {NEGATIVE_MODES} (got {mode!r})")
    m = n_neg + 1
    b = torch.arange(batch, device=device).view(batch, 1, 1)
    t = torch.arange(n_pred, device=device).view(1, n_pred, 1)
    pos = b * steps + t + k                                   # flat index of each positive
    if mode == "batch":
        if m > batch * steps:
            raise ValueError(f"{n_neg} negatives need more than {batch * steps} latents in the batch")
        pool = torch.randperm(batch * steps, generator=generator, device=device)[:m]
        is_pos = pool.view(1, 1, m) == pos
    else:
        if m > steps:
            raise ValueError(f"{n_neg} in-sequence negatives need sequences of more than {n_neg} steps "
                             f"(got {steps})")
        rand = torch.rand(batch, steps, generator=generator, device=device)
        pool = rand.argsort(dim=1)[:, :m] + torch.arange(batch, device=device).view(batch, 1) * steps
        is_pos = pool.view(batch, 1, m) == pos
    has = is_pos.any(-1, keepdim=True)
    last = torch.zeros(m, dtype=torch.bool, device=device)
    last[-1] = True
    keep = ~(is_pos | (~has & last))
    return pool, keep


class InfoNCE(nn.Module):
    """``loss(c, z)`` with contexts ``c`` (batch, T, hidden) and latents ``z`` (batch, dim, T)."""

    def __init__(self, hidden: int, dim: int, config: InfoNCEConfig = InfoNCEConfig()):
        super().__init__()
        if config.steps < 1 or config.n_negatives < 1:
            raise ValueError(f"InfoNCEConfig.steps and n_negatives must be positive (got {config})")
        if config.negatives not in NEGATIVE_MODES:
            raise ValueError(f"InfoNCEConfig.negatives must be one of {NEGATIVE_MODES} (got {config.negatives!r})")
        self.config = config
        self.predictors = nn.ModuleList(nn.Linear(hidden, dim, bias=False) for _ in range(config.steps))

    @property
    def chance(self) -> float:
        return 1.0 / (1 + self.config.n_negatives)

    @property
    def chance_loss(self) -> float:
        return math.log(1 + self.config.n_negatives)

    def forward(self, c: torch.Tensor, z: torch.Tensor, generator: torch.Generator | None = None) -> InfoNCEOutput:
        batch, steps, _ = c.shape
        K = self.config.steps
        if steps <= K:
            raise ValueError(f"sequences of {steps} latent steps cannot predict {K} steps ahead; "
                             f"use longer windows or fewer InfoNCEConfig.steps")
        zt = z.transpose(1, 2)                      # (batch, T, dim)
        if self.config.temperature > 0:
            zt = F.normalize(zt, dim=-1)
        flat = zt.reshape(batch * steps, -1)
        n_pred = steps - K                          # every context with all K futures inside
        losses, accs = [], []
        for k in range(1, K + 1):
            pred = self.predictors[k - 1](c[:, :n_pred])             # (batch, n_pred, dim)
            positive = zt[:, k:k + n_pred]                           # (batch, n_pred, dim)
            if self.config.temperature > 0:
                pred = F.normalize(pred, dim=-1) / self.config.temperature
            pool, keep = sample_negatives(batch, steps, n_pred, self.config.n_negatives, k,
                                          self.config.negatives, generator, c.device)
            if pool.dim() == 1:                                      # shared by the batch
                neg = torch.einsum("bpd,md->bpm", pred, flat[pool])
            else:                                                    # one pool per sequence
                neg = torch.einsum("bpd,bmd->bpm", pred, flat[pool])
            pos = (pred * positive).sum(-1, keepdim=True)
            neg = neg.float().masked_fill(~keep, float("-inf"))
            logits = torch.cat([pos.float(), neg], dim=-1).reshape(-1, neg.shape[-1] + 1)
            target = torch.zeros(len(logits), dtype=torch.long, device=c.device)
            losses.append(F.cross_entropy(logits, target))
            # strictly above every negative: a tie (e.g. a collapsed encoder) counts as a miss
            accs.append((logits[:, 0] > logits[:, 1:].amax(-1)).float().mean())
        step_loss = torch.stack(losses)
        return InfoNCEOutput(step_loss.mean(), step_loss, torch.stack(accs).detach())
