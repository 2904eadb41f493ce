"""Benchmark: training throughput under each thread policy, alone and beside a busy process.

On a 2-core machine the report used to slow several-fold when anything else took a core: torch's
OpenMP threads spin-wait for each other between the many small parallel regions of a training step,
and a thread whose partner is descheduled spins away its time slice. This measures windows/s of
approach 1's training step (the default ``wave_cnn``, forward + backward + AdamW, 150,000-sample
windows, the default profile's batch of 32) for each policy, first alone, then beside one process
that spins on a core (a stand-in for a browser, a compile, another notebook):

  default      what torch does unless told: one thread per core, OpenMP's default wait policy
  passive      OMP_WAIT_POLICY=PASSIVE: idle OpenMP threads sleep instead of spinning
  one_thread   torch.set_num_threads(1)
  spin_1k/3k/10k/100k  GOMP_SPINCOUNT: idle threads spin that many rounds, then sleep (libgomp)
  chosen       the library's default (quake_lib.threads.POLICY), whatever it is

Each (policy, condition) runs in a fresh subprocess (the wait policy is read once, when OpenMP
starts); the conditions are interleaved round by round so that drift of the machine hits all alike.
Printed: windows/s per round, the median, the ratio busy / alone of each policy, the ratio of each
policy alone to ``default`` alone, and peak RSS.

    python benchmarks/thread_policy.py                 # default, passive, one_thread, chosen; 3 rounds
    python benchmarks/thread_policy.py --policies default spin_1k spin_3k spin_10k
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _measure import peak_rss_mb  # benchmarks/_measure.py (the script's own folder is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from quake_lib import threads  # noqa: E402  (after the path: the script runs from a checkout)

# name -> (environment, torch threads or None for torch's own default)
OFF = {threads.OPT_OUT_ENV: "off"}   # importing quake_lib must not apply its policy to the others
POLICIES = {
    "default": (OFF, None),
    "passive": ({**OFF, "OMP_WAIT_POLICY": "PASSIVE"}, None),
    "one_thread": (OFF, 1),
    # idle threads spin this many rounds before they sleep (OpenMP's default spins ~300,000; PASSIVE: none)
    "spin_1k": ({**OFF, "GOMP_SPINCOUNT": "1000"}, None),
    "spin_3k": ({**OFF, "GOMP_SPINCOUNT": "3000"}, None),
    "spin_10k": ({**OFF, "GOMP_SPINCOUNT": "10000"}, None),
    "spin_100k": ({**OFF, "GOMP_SPINCOUNT": "100000"}, None),
    "chosen": ({}, threads.THREADS),
}
SPIN = "import time\nt = time.time()\nwhile time.time() - t < 3600: pass\n"


def measure(batch: int, steps: int, n_threads: int | None) -> dict:
    import torch

    from quake_lib import models
    from quake_lib.train import RegressionHead
    from quake_lib.train.module import QuakeModule

    if n_threads:
        torch.set_num_threads(n_threads)
    torch.manual_seed(0)
    head = RegressionHead()
    module = QuakeModule(models.factory("wave_cnn")(1), head, scale=3.0)
    opt = torch.optim.AdamW(module.parameters(), lr=1e-3)
    raw = (torch.distributions.StudentT(3.0).sample((batch, 150_000)) * 3 + 4.5).clamp(-5000, 5000)
    raw = raw.round().to(torch.int16)
    y = torch.rand(batch) * 16

    def step():
        opt.zero_grad(set_to_none=True)
        head.loss(module(raw), y).backward()
        opt.step()

    for _ in range(2):  # warm-up: allocator, oneDNN's algorithm choice
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dt = time.perf_counter() - t0
    return {"windows_per_s": batch * steps / dt, "threads": torch.get_num_threads(),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
            "spincount": os.environ.get("GOMP_SPINCOUNT", "(unset)"), "peak_rss_mb": peak_rss_mb()}


def run_one(policy: str, busy: bool, batch: int, steps: int) -> dict:
    env, n_threads = POLICIES[policy]
    # the child's environment is exactly the policy's: no wait policy inherited from this shell
    child_env = {k: v for k, v in os.environ.items()
                 if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", threads.OPT_OUT_ENV)}
    child_env.update(env)
    spinner = subprocess.Popen([sys.executable, "-c", SPIN]) if busy else None
    try:
        cmd = [sys.executable, __file__, "--child", "--batch", str(batch), "--steps", str(steps),
               "--threads", str(n_threads or 0)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=child_env)
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()
    return {"policy": policy, "busy": busy, **json.loads(out.stdout.strip().splitlines()[-1])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=8, help="timed steps per measurement (after 2 warm-up)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--policies", nargs="+", default=["default", "passive", "one_thread", "chosen"],
                   choices=list(POLICIES))
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(measure(args.batch, args.steps, args.threads or None)))
        return

    print(f"# {platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}; "
          f"wave_cnn training step, batch {args.batch}, {args.steps} timed steps; chosen = "
          f"{threads.describe()}", flush=True)
    rows = []
    for r in range(args.rounds):
        for busy in (False, True):
            for policy in args.policies:
                row = run_one(policy, busy, args.batch, args.steps)
                rows.append({**row, "round": r})
                print(f"round {r} {'busy ' if busy else 'alone'} {policy:10s} {row['windows_per_s']:7.1f} windows/s "
                      f"({row['threads']} threads, OMP_WAIT_POLICY={row['omp_wait_policy']}, "
                      f"GOMP_SPINCOUNT={row['spincount']}, "
                      f"peak RSS {row['peak_rss_mb']:.0f} MB)", flush=True)

    def median(policy, busy):
        return statistics.median(x["windows_per_s"] for x in rows if x["policy"] == policy and x["busy"] == busy)

    print("\n| policy | alone: windows/s | beside a busy process | busy / alone | alone / default alone |")
    print("|---|---:|---:|---:|---:|")
    base = median("default", False) if "default" in args.policies else None
    for policy in args.policies:
        alone, busy = median(policy, False), median(policy, True)
        rel = f"{alone / base:.2f}x" if base else "-"
        print(f"| {policy} | {alone:.1f} | {busy:.1f} | {busy / alone:.2f}x | {rel} |")


if __name__ == "__main__":
    main()
