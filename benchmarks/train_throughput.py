"""Benchmark: training throughput of approach 1 (WaveNet), with and without its cheap front end.

Windows per second, forward + backward + AdamW step, on 150,000-sample windows at several batch
sizes, for
  (a) baseline: the same network with no decimating front end (``decimate=1``): the stem and every
      residual block run at the full 4 MHz rate (4x the time steps);
  (b) the first version's stem (stride 8, kernel 16, energy window 16 steps), the default until
      2026-11-30: its body runs twice the time steps of (c);
  (c) ours: the default ``wave_cnn`` (fixed low-pass + decimation by 4: the real spectrum holds
      almost no power above ~1 MHz; stem stride 16).
Both get the same random windows (drawn like training batches, heavy-tailed). Each (model, batch)
runs in a fresh subprocess so that its peak RSS (VmHWM) is its own. CUDA (bf16 autocast) is
measured too when a GPU is present.

    python benchmarks/train_throughput.py                      # batch sizes 8 16 32, CPU (+ CUDA)
    python benchmarks/train_throughput.py --batch 32 --steps 6
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

from _measure import peak_rss_mb  # benchmarks/_measure.py (the script's own folder is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VARIANTS = {"full_rate_baseline": {"decimate": 1},
            "stem_stride_8": {"stem_kernel": 16, "stem_stride": 8, "energy_window": 16},
            "wave_cnn": {}}


def measure(variant: str, batch: int, steps: int, device: str) -> dict:
    import torch

    from quake_lib import models
    from quake_lib.train import RegressionHead
    from quake_lib.train.module import QuakeModule

    base_rss = peak_rss_mb()  # torch + lightning imported: ~0.85 GB before any window
    torch.manual_seed(0)
    head = RegressionHead()
    module = QuakeModule(models.factory("wave_cnn", **VARIANTS[variant])(1), head, scale=3.0).to(device)
    opt = torch.optim.AdamW(module.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    # heavy-tailed int16 windows like the signal (Student t, 3 d.o.f., sd ~5 counts)
    raw = (torch.distributions.StudentT(3.0).sample((batch, 150_000)) * 3 + 4.5).clamp(-5000, 5000)
    raw = raw.round().to(torch.int16).to(device)
    y = (torch.rand(batch, generator=g) * 16).to(device)
    bf16 = device == "cuda"

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
            loss = head.loss(module(raw), y)
        loss.backward()
        opt.step()

    for _ in range(2):  # warm-up: allocator, oneDNN / cuDNN algorithm choice
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    return {"variant": variant, "device": device, "batch": batch, "windows_per_s": batch * steps / dt,
            "params": models.n_parameters(module), "threads": torch.get_num_threads(),
            "import_rss_mb": base_rss}




def run_child(args) -> None:
    out = measure(args.variant, args.batch[0], args.steps, args.device)
    out["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(out))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, nargs="+", default=[8, 16, 32])
    p.add_argument("--steps", type=int, default=4, help="timed steps per measurement (after 2 warm-up)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--variant", help=argparse.SUPPRESS)
    p.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return run_child(args)

    import torch
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"# {platform.machine()}, {torch.get_num_threads()} CPU threads, torch {torch.__version__}, "
          f"python {platform.python_version()}")
    for device in devices:
        for batch in args.batch:
            speed = {}  # variant -> windows/s at this (device, batch)
            for variant in VARIANTS:
                cmd = [sys.executable, __file__, "--child", "--variant", variant, "--batch", str(batch),
                       "--steps", str(args.steps), "--device", device]
                res = subprocess.run(cmd, capture_output=True, text=True, check=True)
                r = json.loads(res.stdout.strip().splitlines()[-1])
                speed[variant] = r["windows_per_s"]
                print(f"{device:4s} batch {batch:3d} {variant:20s} {r['windows_per_s']:8.1f} windows/s  "
                      f"peak RSS {r['peak_rss_mb']:5.0f} MB (after imports {r['import_rss_mb']:.0f} MB)  "
                      f"({r['params']:,} parameters)", flush=True)
            print(f"{device:4s} batch {batch:3d} ratio wave_cnn / full-rate baseline: "
                  f"{speed['wave_cnn'] / speed['full_rate_baseline']:.2f}x, wave_cnn / stem stride 8: "
                  f"{speed['wave_cnn'] / speed['stem_stride_8']:.2f}x", flush=True)


if __name__ == "__main__":
    main()
