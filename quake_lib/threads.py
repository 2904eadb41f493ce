"""The thread policy of every training: how torch's CPU threads wait for each other.

Why a policy at all: on a 2-core machine, torch's OpenMP threads spin-wait between the many small
parallel regions of a training step. Alone, spinning saves a few microseconds per region; beside any
other busy process (a browser, a compile, a second notebook) a spinning thread burns the time slice
its partner needs, and training fell to 0.2-0.3x of its speed alone where a fair share of the cores
is 0.5x. Idle threads that sleep (``OMP_WAIT_POLICY=PASSIVE``) keep the fair share and cost little
alone; ``benchmarks/thread_policy.py`` measures both (table in benchmarks/README.md).

The wait policy is read once, when OpenMP starts (at torch's import), so it must be in the
environment before that: :func:`apply` sets it (unless the user set it) and is called by
``quake_lib/__init__.py``, i.e. before any module of the library imports torch. A process that
imported torch before quake_lib keeps the policy it started with. The number of threads is left to
torch (one per core): the policy changes only how idle threads wait, never the arithmetic, so results
are identical under every wait policy.
"""
from __future__ import annotations

import os

POLICY = {"OMP_WAIT_POLICY": "PASSIVE"}   # environment variables of the chosen policy
THREADS: int | None = None                 # torch threads (None: torch's default, one per core)
OPT_OUT_ENV = "QUAKE_THREAD_POLICY"        # "off": leave OpenMP's own defaults (the benchmark's baseline)


def apply(environ=os.environ) -> dict:
    """Set the policy's variables in ``environ`` where the user has not set them (and has not opted out
    with ``QUAKE_THREAD_POLICY=off``); return what was set."""
    if environ.get(OPT_OUT_ENV, "").lower() == "off":
        return {}
    changed = {}
    for key, value in POLICY.items():
        if key not in environ:
            environ[key] = changed[key] = value
    return changed


def describe() -> str:
    threads = "torch's default threads" if THREADS is None else f"{THREADS} thread(s)"
    return ", ".join(f"{k}={v}" for k, v in POLICY.items()) + f", {threads}"
