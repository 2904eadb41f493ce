"""The comparison over several training seeds: is a difference between two arms larger than what a
new seed alone moves?

``make report SEEDS="0 1 2"`` trains every approach once per seed; each seed's results live apart
(:func:`quake_lib.paths.results_dir`). Here they are read back (:func:`load_seeds`, a ``seed`` column
beside the common OOF columns) and summarized:

- :func:`seed_table`: per arm the mean MAE over seeds (each seed's MAE is its mean over the fixed
  folds), the seed-to-seed sd of that mean beside the fold-to-fold sd, each seed's MAE, and the ratios
  to the constant and to LightGBM;
- :func:`paired_pairs`: per arm the MAE differences to a reference over every (fold, seed) pair
  (the reference of the same seed), their mean and sd, and how many pairs favour each side.

With one seed the tables still hold (the seed sd is then undefined: NaN). The folds and the evaluation
windows are the same for every seed (checked), so only training randomness differs between seeds.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import paths
from ..approaches import registry
from .compare import ENSEMBLE, check_same_windows, ensembles, error_by_ttf, inventory, load_main
from .oof import save_oof
from .scores import fold_mae

SEED = "seed"


def present_seeds(dataset: str, seeds=None) -> list[int]:
    """The seeds with saved results of ``dataset`` (or those of ``seeds`` that have them; a requested
    seed without results is an error that names it)."""
    found = paths.result_seeds(dataset)
    if seeds is None:
        if not found:
            raise FileNotFoundError(f"no results of any seed under {paths.results_dir(dataset)}: run the approaches' "
                                    "notebooks first (make report)")
        return found
    seeds = [int(s) for s in seeds]
    missing = [s for s in seeds if s not in found]
    if missing:
        raise FileNotFoundError(f"no results for seed(s) {missing} of dataset {dataset!r} (seeds with results: "
                                f"{found}); run `make report SEEDS=\"{' '.join(map(str, seeds))}\"`")
    return seeds


def load_seeds(dataset: str, seeds, arms=None, keep=()) -> pd.DataFrame:
    """The main comparison's OOF rows of every seed in ``seeds``, with a ``seed`` column. Every seed must
    hold the same arms (default: those present for the first seed) on the same windows and folds.
    ``keep``: further columns to keep where an arm has them (e.g. interval bounds)."""
    seeds = list(seeds)
    if arms is None:
        arms = inventory(dataset, seed=seeds[0]).present
    arms = list(arms)
    parts = []
    for s in seeds:
        inv = inventory(dataset, seed=s)
        lacking = [a for a in arms if a not in inv.present]
        if lacking:
            raise FileNotFoundError(f"seed {s} of dataset {dataset!r} has no results for {lacking}; run its "
                                    "chapters again or leave that seed out")
        parts.append(load_main(dataset, arms, seed=s, keep=keep).assign(**{SEED: s}))
    df = pd.concat(parts, ignore_index=True)
    first = df[df[SEED] == seeds[0]]
    for s in seeds[1:]:  # the same windows and folds for every seed: only training randomness differs
        check_same_windows(pd.concat([first[first["arm"] == arms[0]],
                                      df[(df[SEED] == s) & (df["arm"] == arms[0])]
                                      .assign(arm=f"{arms[0]} (seed {s})")]))
    return df


def with_ensembles(df: pd.DataFrame, top_k: int = 3) -> pd.DataFrame:
    """``df`` plus each seed's ensembles (:func:`quake_lib.evaluation.compare.ensembles`, made from the
    members of the same seed)."""
    parts = [df]
    for s, part in df.groupby(SEED, sort=True):
        parts.append(ensembles(part.drop(columns=SEED), top_k=top_k).assign(**{SEED: s}))
    return pd.concat(parts, ignore_index=True)


def _per_seed_fold(df: pd.DataFrame) -> pd.DataFrame:
    """Long table arm, seed, fold, MAE."""
    return pd.concat([fold_mae(part).assign(**{SEED: s}) for s, part in df.groupby(SEED, sort=True)],
                     ignore_index=True)


def seed_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per arm: ``mean`` (over seeds of the mean over folds), ``seed_sd`` (sd over seeds of that
    mean, ddof=1), ``fold_sd`` (sd over folds of the per-fold MAE averaged over seeds), ``seed_<s>``
    (each seed's MAE), ``n_seeds``, ``vs_constant`` and ``vs_lightgbm`` (ratio of the means). Sorted by mean."""
    long = _per_seed_fold(df)
    per_seed = long.groupby(["arm", SEED])["mae"].mean().unstack(SEED)
    per_fold = long.groupby(["arm", "fold"])["mae"].mean().unstack("fold")
    out = pd.DataFrame({"mean": per_seed.mean(axis=1),
                        "seed_sd": per_seed.std(axis=1, ddof=1) if per_seed.shape[1] > 1 else np.nan,
                        "fold_sd": per_fold.std(axis=1, ddof=1),
                        "n_seeds": per_seed.count(axis=1)})
    for s in per_seed.columns:
        out[f"seed_{s}"] = per_seed[s]
    for base in registry.baselines():
        out[f"vs_{base}"] = out["mean"] / out.loc[base, "mean"] if base in out.index else np.nan
    out.index.name = "arm"
    return out.sort_values("mean")


def paired_pairs(df: pd.DataFrame, reference: str = "lightgbm") -> pd.DataFrame:
    """Per arm, its MAE minus ``reference``'s on every (fold, seed) pair (negative: better):
    ``mean_diff``, ``sd_diff``, ``better`` / ``worse`` (pairs that favour the arm / the reference),
    ``n_pairs``, ``ratio`` (mean MAE / reference's) and each seed's mean difference. Pairing by fold and
    seed removes both the fold-to-fold variation (some cycles are hard for everyone) and the part of the
    seed-to-seed variation that the two share (none for the networks: a seed is a new training)."""
    long = _per_seed_fold(df)
    wide = long.pivot_table(index=[SEED, "fold"], columns="arm", values="mae")
    if reference not in wide.columns:
        raise ValueError(f"reference {reference!r} has no OOF predictions; present: {list(wide.columns)}")
    diff = wide.sub(wide[reference], axis=0).drop(columns=reference)
    means = wide.mean()
    out = pd.DataFrame({"mean_diff": diff.mean(), "sd_diff": diff.std(ddof=1), "better": (diff < 0).sum(),
                        "worse": (diff > 0).sum(), "n_pairs": diff.count(),
                        "ratio": means.drop(reference) / means[reference]})
    for s, part in diff.groupby(level=SEED):
        out[f"seed_{s}"] = part.mean()
    out.index.name = "arm"
    return out.sort_values("mean_diff")


def meets_aim(paired: pd.DataFrame, ratio: float = 0.97, share: float = 0.8) -> pd.DataFrame:
    """The arms (rows of :func:`paired_pairs`) at or below ``ratio`` x the reference's mean MAE and
    better in at least ``share`` of the pairs (12 of 15 for 5 folds x 3 seeds)."""
    need = np.ceil(share * paired["n_pairs"] - 1e-9)
    hit = (paired["ratio"] <= ratio) & (paired["better"] >= need) & ~paired.index.isin(registry.baselines())
    return paired[hit]


def save_ensembles(full: pd.DataFrame, dataset: str) -> list:
    """Each seed's ensemble rows of ``full`` (:func:`with_ensembles`) as OOF files among that seed's results."""
    ens = full[full["arm"].str.startswith(ENSEMBLE)]
    return [p for s, part in ens.groupby(SEED) for p in save_oof(part.drop(columns=SEED), dataset, int(s))]


def summary_lines(table: pd.DataFrame) -> str:
    """One line per arm of :func:`seed_table`: mean MAE, seed sd, fold sd, ratios to the baselines."""
    lines = []
    for a, r in table.iterrows():
        parts = [f"{a:<24s} MAE {r['mean']:.3f}  sd {r['seed_sd']:.3f} over {int(r['n_seeds'])} seeds, "
                 f"{r['fold_sd']:.3f} over folds"]
        parts += [f"{r[f'vs_{b}']:.3f} x {b}" for b in registry.baselines() if a != b and not np.isnan(r[f"vs_{b}"])]
        lines.append("  ".join(parts))
    return "\n".join(lines)


def aim_summary(pairs: pd.DataFrame, ratio: float = 0.97, share: float = 0.8, reference: str = "lightgbm") -> str:
    """Which arms meet the aim (:func:`meets_aim`), or the closest ones with their numbers."""
    hits = meets_aim(pairs, ratio, share)
    head = (f"aim: <= {ratio:g} x {reference}'s mean MAE and better in >= {share:.0%} of the "
            f"{int(pairs['n_pairs'].max())} (fold, seed) pairs")
    if len(hits):
        return head + "\nmet by: " + ", ".join(f"{a} ({r['ratio']:.3f} x, {int(r['better'])}/{int(r['n_pairs'])})"
                                               for a, r in hits.iterrows())
    closest = pairs.sort_values("ratio").head(3)
    return head + "\nmet by none; closest: " + ", ".join(
        f"{a} ({r['ratio']:.3f} x, better in {int(r['better'])}/{int(r['n_pairs'])})" for a, r in closest.iterrows())


def aux_effects(full: pd.DataFrame, variants: dict | None = None) -> pd.DataFrame:
    """Per arm of ``variants`` (arm -> the arm it changes; default the registry's ``VARIANT_OF``) present
    in ``full`` with its base: the paired difference over (fold, seed) pairs (:func:`paired_pairs`
    against the base: mean, sd, pairs better / worse) and the MAE difference per true time_to_failure bin
    over all seeds (``d_<bin>``; negative: the variant is better there)."""
    variants = registry.VARIANT_OF if variants is None else variants
    present = set(full["arm"])
    rows = []
    for arm, base in variants.items():
        if arm not in present or base not in present:
            continue
        both = full[full["arm"].isin([arm, base])]
        p = paired_pairs(both, reference=base).loc[arm]
        mae, _, _ = error_by_ttf(both)
        row = {"arm": arm, "base": base, "mean_diff": p["mean_diff"], "sd_diff": p["sd_diff"],
               "better": int(p["better"]), "worse": int(p["worse"]), "n_pairs": int(p["n_pairs"]),
               "ratio": p["ratio"]}
        row.update({f"d_{b}": mae.loc[arm, b] - mae.loc[base, b] for b in mae.columns})
        rows.append(row)
    if not rows:
        return pd.DataFrame(columns=["base", "mean_diff", "sd_diff", "better", "worse", "n_pairs", "ratio"])
    return pd.DataFrame(rows).set_index("arm")
