"""Approach 3: Contrastive Predictive Coding (van den Oord et al., 2018) on the raw signal, then a head.

The idea: learn a representation without labels by making it predictive. An encoder turns the
signal into one latent ``z_t`` per 64 us (:mod:`.encoder`), a GRU summarizes ``z_1..z_t`` into a
context ``c_t`` (:mod:`.autoregressive`), and for each of the next ``K`` steps a linear map of
``c_t`` must pick the true ``z_{t+k}`` out of negatives drawn from other time steps and other
sequences of the batch (:mod:`.infonce`). To win, ``c_t`` has to carry what is predictable about the
near future: how loud the window is, whether an event is ringing down. Loudness is the precursor,
so a head on the pooled contexts (:mod:`.downstream`, registered as model ``"cpc"``) should need
few labels.

Honest cross-validation: pre-training (:mod:`.pretrain`) only sees unlabeled segments of the *test
period* (:func:`.run.unlabeled_segments`: for the synthetic datasets the later test period of the
same experiment, for an ingested real dataset the Kaggle test segments), which hold no window of
any cross-validation cycle. One pretrained encoder therefore serves every fold without leaking a
held-out cycle, and the probes, fine-tuning and training from scratch use the fixed folds of
:func:`quake_lib.evaluation.make_folds`.

- :mod:`.probe`: linear and MLP probes on frozen pooled features computed once per window;
- :mod:`.run`: per-profile sizes and the calls the notebook makes;
- :mod:`.experiments`: the 2019 study's observations revisited (speed, late head, joint head, clipping);
- :mod:`.figures`: pre-training curves, accuracy per step, embeddings.
"""
from .. import models as _models  # first: the model registry imports .downstream (see models/__init__)
from .autoregressive import ARConfig, Autoregressive
from .downstream import CPCBody, CPCBodyConfig, pool_contexts
from .encoder import Encoder, EncoderConfig, receptive_field
from .infonce import InfoNCE, InfoNCEConfig, sample_negatives
from .model import CPCConfig, CPCNet, load_pretrained, save_pretrained

__all__ = ["ARConfig", "Autoregressive", "CPCBody", "CPCBodyConfig", "CPCConfig", "CPCNet", "Encoder",
           "EncoderConfig", "InfoNCE", "InfoNCEConfig", "load_pretrained", "pool_contexts", "receptive_field",
           "sample_negatives", "save_pretrained"]
