"""The thread policy of every training: how torch's CPU threads wait for each other.

Why a policy at all: on a 2-core machine, torch's OpenMP threads (GNU libgomp in the Linux wheels)
spin-wait between the many small parallel regions of a training step: by default for ~300,000 rounds
before they sleep. Alone, spinning saves a wake-up per region; beside any other busy process (a
browser, a compile, a second notebook) a spinning thread burns the time slice its descheduled partner
needs, and training fell to 0.3x of its speed alone where a fair share of the cores is 0.5x.
Measured with ``benchmarks/thread_policy.py`` (WaveNet training step; table in benchmarks/README.md):

- OpenMP's default: alone 1.00x, beside a busy process 0.31x of that;
- ``OMP_WAIT_POLICY=PASSIVE`` (idle threads sleep at once): keeps 0.56x beside a busy process but
  loses 25% alone (a wake-up for every region);
- one thread: immune to a busy neighbour, but half the speed alone;
- ``GOMP_SPINCOUNT=3000`` (spin briefly, then sleep): 0.94x alone and keeps 0.46x beside a busy
  process; the chosen policy.

The policy is read once, when OpenMP starts (at torch's import), so it must be in the environment
before that: :func:`apply` sets it (unless the user set it, or ``QUAKE_THREAD_POLICY=off``) and is
called by ``quake_lib/__init__.py``, i.e. before any module of the library imports torch. A process
that imported torch before quake_lib keeps the policy it started with. The number of threads is left
to torch (one per core): the policy changes only how idle threads wait, never the arithmetic, so
results are identical under every policy (tests/test_threads.py). Other OpenMP runtimes (LLVM's
libomp on macOS) ignore the variable and keep their own defaults: not measured here.
"""
from __future__ import annotations

import os

POLICY = {"GOMP_SPINCOUNT": "3000"}       # environment variables of the chosen policy
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
