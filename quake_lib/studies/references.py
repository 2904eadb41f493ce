"""What a chapter sets its approach beside: the baselines and the approaches of earlier chapters, on
the same folds, from their saved results when those hold out the same cycles."""
from __future__ import annotations

import pandas as pd

from .. import evaluation
from ..approaches import constant, lightgbm, registry
from ..data.recording import Recording
from ..evaluation.folds import Fold


def reference_oofs(rec: Recording, folds: list[Fold], seed: int = 0,
                   others=()) -> tuple[list[pd.DataFrame], list[str]]:
    """What a chapter compares its approach against, on ``folds``: the two baselines (their saved OOF
    files when they hold out the same cycles per fold, else computed here and not saved: the files
    belong to their own runs), and each approach of ``others`` whose saved file exists on the same
    folds. Returns the frames and one note per name saying where its rows came from."""
    held = {f.index: set(f.test_cycles.tolist()) for f in folds}

    def saved(name):  # a saved file of another run counts only if it holds out the same cycles
        if not evaluation.oof_path(rec.name, name, seed).exists():
            return None
        df = evaluation.load_oof(rec.name, name, seed)
        same = all(set(g["cycle"].unique().tolist()) <= held.get(k, set()) for k, g in df.groupby("fold"))
        return df if same else None

    frames, notes = [], []
    for name in registry.baselines():
        df = saved(name)
        if df is not None:
            notes.append(f"{name}: saved OOF file")
        else:
            df = (constant.cross_validate(rec, folds, save=False).oof if name == "constant"
                  else lightgbm.cross_validate(rec, folds, seed=seed, arms=(name,), save=False).oof)
            notes.append(f"{name}: computed here on the same folds (seed {seed})")
        frames.append(df)
    for name in others:
        df = saved(name)
        if df is not None:
            frames.append(df)
            notes.append(f"{name}: saved OOF file")
        else:
            notes.append(f"{name}: not run yet, left out")
    return frames, notes


def reference_frame(rec: Recording, folds: list[Fold], chapter: int, seed: int = 0) -> pd.DataFrame:
    """The baselines and the main arm of every network approach of an earlier chapter, on ``folds``
    (:func:`reference_oofs`); prints which of them is left out because it has not run yet."""
    others = [a.main_arm for a in registry.APPROACHES.values() if a.kind == "network" and a.chapter < chapter]
    frames, notes = reference_oofs(rec, folds, seed, others)
    for note in notes:
        if note.endswith("left out"):
            print(note)
    return pd.concat(frames, ignore_index=True)


def earlier_arms(rec: Recording, folds: list[Fold], chapter: int,
                 seed: int = 0) -> tuple[list[pd.DataFrame], list[str]]:
    """The baselines and every arm of the approaches of earlier chapters, on ``folds``, with a note per
    source (:func:`reference_oofs`)."""
    others = [a for a in registry.arms(before_chapter=chapter) if a not in registry.baselines()]
    return reference_oofs(rec, folds, seed, others)
