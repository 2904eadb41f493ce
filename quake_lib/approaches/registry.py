"""The one list of approaches. Every other part (the notebooks, ``train``, ``submit``, the comparison,
the command line's help) asks this registry for names; nothing else keeps a list of them.

Two words, used everywhere in the same sense: an *approach* is a way to predict, with its own module
and notebook; its *arms* are the variants it trains and saves for the main comparison, one run each
(``oof_<arm>.csv`` and ``checkpoints/<arm>/``): e.g. the WaveNet's four heads, LightGBM's three targets.
Study arms that are not competitors (the STFT study's ``spec_study_*``, the random-encoder controls)
are not listed; the comparison shows them as "other results". Adding an approach: one module offering
the protocol of :mod:`.protocol`, one entry here, one notebook.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Approach:
    name: str                 # the approach's module in quake_lib.approaches, and its CLI name
    chapter: int              # the number of the notebook that trains it
    title: str
    kind: str                 # 'baseline' (no network) or 'network'
    arms: tuple[str, ...]     # results in the main comparison, in the report's order
    main_arm: str             # the arm other chapters compare against
    model: str | None = None  # its body in quake_lib.models.MODELS (networks)
    readout: str | None = None  # the readout of the main arm's head that fills ``prediction``
    module: str | None = None   # the module offering the protocol (default: quake_lib.approaches.<name>)

    @property
    def module_name(self) -> str:
        return self.module or f"quake_lib.approaches.{self.name}"

    def check_arms(self, arms=None) -> tuple[str, ...]:
        """``arms`` (default: all of this approach's), in the registry's order; an unknown one is an error."""
        if arms is None:
            return self.arms
        arms = (arms,) if isinstance(arms, str) else tuple(arms)
        unknown = [a for a in arms if a not in self.arms]
        if unknown or not arms:
            raise ValueError(f"approach {self.name!r} has no arm {', '.join(map(repr, unknown)) or '(none given)'}; "
                             f"expected some of: {', '.join(self.arms)}")
        return tuple(a for a in self.arms if a in arms)

    @property
    def main_result(self) -> str:
        """The main arm's row in a table that names readouts, e.g. ``wave_cnn_binned[median]``."""
        return f"{self.main_arm}[{self.readout}]" if self.readout else self.main_arm


APPROACHES: dict[str, Approach] = {a.name: a for a in (
    Approach("constant", 3, "constant (median of the training windows)", "baseline", ("constant",), "constant"),
    # the winners' targets (time since failure, cycle fraction) on the same features and folds
    Approach("lightgbm", 3, "LightGBM on Kaggle features", "baseline",
             ("lightgbm", "lightgbm_since_failure", "lightgbm_fraction"), "lightgbm"),
    # LightGBM's table read by a network: the model class changes, the representation does not
    Approach("feature_mlp", 3, "MLP on Kaggle features", "network", ("feature_mlp",), "feature_mlp",
             readout="median"),
    Approach("wave_cnn", 3, "1D CNN (WaveNet-style) on the raw waveform", "network",
             ("wave_cnn_regression", "wave_cnn_binned", "wave_cnn_binned_soft", "wave_cnn_aux"), "wave_cnn_binned",
             model="wave_cnn", readout="median"),
    Approach("spec_resnet", 4, "ResNet-18 on spectrograms", "network", ("spec_resnet_binned",),
             "spec_resnet_binned", model="spec_resnet", readout="median"),
    Approach("cpc", 5, "Contrastive Predictive Coding", "network",
             ("cpc_probe_linear", "cpc_probe_mlp", "cpc_finetune", "cpc_scratch"), "cpc_finetune",
             model="cpc", readout="median"),
)}


# Arms that change one thing of another arm of the same approach: the Kaggle winners' targets (time since
# failure, cycle fraction); the comparison pairs each with the arm it changes (same features or body).
VARIANT_OF = {"lightgbm_since_failure": "lightgbm", "lightgbm_fraction": "lightgbm",
              "wave_cnn_aux": "wave_cnn_regression"}


def get(name: str) -> Approach:
    if name not in APPROACHES:
        raise ValueError(f"approach {name!r} is not known; expected one of: {', '.join(APPROACHES)}")
    return APPROACHES[name]


def names(kind: str | None = None) -> tuple[str, ...]:
    """Approach names in the report's order (only those of ``kind``, if given)."""
    return tuple(a.name for a in APPROACHES.values() if kind is None or a.kind == kind)


def baselines() -> tuple[str, ...]:
    """The arms every approach is measured against: the main arm of each baseline approach,
    ``constant`` and ``lightgbm`` (not LightGBM's other arms: they are competitors like any other)."""
    return tuple(a.main_arm for a in APPROACHES.values() if a.kind == "baseline")


def arms(before_chapter: int | None = None) -> tuple[str, ...]:
    """Every arm of the main comparison, in the report's order (only of approaches trained before
    ``before_chapter``, if given: what that chapter can compare against)."""
    return tuple(arm for a in APPROACHES.values()
                 if before_chapter is None or a.chapter < before_chapter for arm in a.arms)

