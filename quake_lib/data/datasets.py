"""Named datasets: ``prepare(name)`` makes one ready and opens it.

- The synthetic presets (:data:`quake_lib.data.synthetic.PRESETS`: ``synthetic``, the default, and
  ``quick``, small, for ``make test``) are generated deterministically into ``data/<name>/`` on first
  use, and again whenever the stored ``config_hash`` differs from the current generator's (a knob or
  the generator version changed), so a stale dataset can never be mistaken for the current one.
- Any other name is a recording ingested from a Kaggle ``train.csv``
  (``python -m quake_lib ingest train.csv --name NAME``); it is opened, never created here.

With ``QUAKE_QUICK=1`` in the environment, ``prepare()`` with no name gives ``quick`` instead of
``synthetic``: the notebooks' quick profile for ``make test``.
"""
from __future__ import annotations

from .. import paths, profiles
from . import store
from .recording import Recording
from .synthetic import PRESETS, config_hash, generate, preset


def default_name() -> str:
    return "quick" if profiles.quick_mode() else "synthetic"


def is_current(name: str) -> bool:
    """Whether ``data/<name>/`` holds the recording the current generator makes for this preset."""
    directory = paths.dataset_dir(name)
    if not (directory / store.META_FILE).exists():
        return False
    try:
        meta = store.read_meta(directory)
    except (ValueError, OSError):  # unreadable or an old format: regenerate
        return False
    source = meta.get("source", {})
    return source.get("kind") == "synthetic" and source.get("config_hash") == config_hash(preset(name))


def check_available(name: str) -> str:
    """``name`` if :func:`prepare` can open it (a synthetic preset, made on demand, or an ingested
    recording), else the error :func:`prepare` would raise: callers check before starting a kernel
    or a trainer."""
    name = paths.check_name(name)
    directory = paths.dataset_dir(name)
    if name not in PRESETS and not (directory / store.META_FILE).exists():
        raise FileNotFoundError(
            f"dataset {name!r} is not prepared ({directory} holds no recording). Synthetic presets: "
            f"{', '.join(PRESETS)}. For the real data run `python -m quake_lib ingest train.csv "
            f"--name {name}` first.")
    return name


def prepare(name: str | None = None, force: bool = False, progress: bool = False) -> Recording:
    """Make dataset ``name`` ready under ``data/`` and open it (see the module docstring)."""
    name = check_available(name or default_name())
    directory = paths.dataset_dir(name)
    if name in PRESETS and (force or not is_current(name)):
        # under the dataset's lock: a second process waits, then finds the preset current
        with store.dataset_lock(directory):
            if force or not is_current(name):
                generate(preset(name), directory, preset=name, progress=progress)
    return Recording(directory)
