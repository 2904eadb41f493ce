"""The networks of Contrastive Predictive Coding (van den Oord et al., 2018) on the raw signal.

The idea: learn a representation without labels by making it predictive. An encoder turns the
signal into one latent ``z_t`` per 64 us (:mod:`.encoder`), a GRU summarizes ``z_1..z_t`` into a
context ``c_t`` (:mod:`.autoregressive`), and for each of the next ``K`` steps a linear map of
``c_t`` must pick the true ``z_{t+k}`` out of negatives drawn from other time steps and other
sequences of the batch (:mod:`.infonce`). To win, ``c_t`` has to carry what is predictable about the
near future: how loud the window is, whether an event is ringing down. Loudness is the precursor,
so a head on the pooled contexts (:mod:`.body`, model ``"cpc"`` of :data:`quake_lib.models.MODELS`)
should need few labels. :mod:`.model` holds the whole pre-training network and its weight files.

Training lives in :mod:`quake_lib.train.contrastive` (pre-training) and :mod:`quake_lib.train.probe`
(probes on frozen features); the approach that runs them, :mod:`quake_lib.approaches.cpc`.
"""
from .autoregressive import ARConfig, Autoregressive
from .body import CPCBody, CPCBodyConfig, pool_contexts
from .encoder import Encoder, EncoderConfig, latent_receptive_field
from .infonce import InfoNCE, InfoNCEConfig, sample_negatives
from .model import CPCConfig, CPCNet, load_pretrained, save_pretrained

__all__ = ["ARConfig", "Autoregressive", "CPCBody", "CPCBodyConfig", "CPCConfig", "CPCNet", "Encoder",
           "EncoderConfig", "InfoNCE", "InfoNCEConfig", "latent_receptive_field", "load_pretrained",
           "pool_contexts", "sample_negatives", "save_pretrained"]
