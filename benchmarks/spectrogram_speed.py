"""Benchmark: spectrograms per second, the 2019 study's per-window scipy route against our batched
``torch.stft`` front end (approach 2), with the same settings.

  (a) baseline (2019): one window at a time, as its DataLoader did: ``scipy.signal.spectrogram(x,
      fs=4e6, window='hann', nperseg=512, noverlap=64, detrend='linear')``, then ``log(S + eps)`` and
      the bins at or below the cutoff (500 kHz);
  (b) ours: :class:`quake_lib.models.Spectrogram` (``n_fft=512, hop=448, detrend='linear'``, same
      cutoff, log, no pooling, no normalization: the same numbers as (a)) on batches of int16
      windows, by both of its routes: ``stft`` (the default: ``torch.stft``, detrend from block sums
      on the kept bins) and ``dft`` (one matrix product holding window, detrend and the 65 bins
      kept), on the CPU, and on the GPU when CUDA is available (the windows' transfer included);
  (c) for reference, not a spectrogram: ``fft_ceiling``, the bare ``torch.stft`` of the same frames
      (all bins, no detrend, log or cut) in the same chunks: a lower bound on the cost of any exact
      FFT-based route, hence an upper bound on what (b) can gain over (a) on this CPU.

All get the same heavy-tailed int16 windows (Student t, 3 d.o.f.) of 150,000 samples. Each
measurement runs in a fresh subprocess so that its peak RSS (VmHWM) is its own, and makes one untimed
pass over all the windows before the timed one (see :func:`timed`); (b)'s output is checked against
(a)'s first. On a shared machine other jobs slow each measurement by a different amount, so the
variants run round-robin ``--repeats`` times and the best throughput of each is reported (the
closest to an idle machine), with the worst beside it.

    python benchmarks/spectrogram_speed.py                     # 128 windows, batches of 32
    python benchmarks/spectrogram_speed.py --windows 256 --batch 64 --threads 1

``--threads 1`` compares one core against one core (scipy's loop is single-threaded); without it torch
uses all cores, which pays off on an idle machine and loses on an oversubscribed one.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _measure import peak_rss_mb  # benchmarks/_measure.py (the script's own folder is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from quake_lib.constants import SAMPLE_RATE_HZ, SEGMENT_LENGTH  # noqa: E402

FS = SAMPLE_RATE_HZ
N_FFT, HOP, CUTOFF_HZ, EPS = 512, 448, 500_000.0, 1e-12  # eps: far below any PSD value here
LENGTH = SEGMENT_LENGTH


def windows(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((n, LENGTH), dtype=np.int16)
    for i in range(n):  # row by row: no float64 copy of the whole set inflates the peak RSS
        out[i] = np.clip(np.round(rng.standard_t(3, size=LENGTH) * 3 + 4.5), -5000, 5000)
    return out


def scipy_2019(x: np.ndarray) -> np.ndarray:
    """The 2019 route for ONE int16 window: (n_freqs, frames) log PSD below the cutoff."""
    from scipy import signal as sps
    f, _, s = sps.spectrogram(x.astype(np.float32), fs=FS, window="hann", nperseg=N_FFT,
                              noverlap=N_FFT - HOP, detrend="linear")
    return np.log(s[f <= CUTOFF_HZ] + EPS)


def timed(step, items, sync) -> float:
    """Seconds for one pass of ``step`` over ``items``, after one untimed pass over the same items: a
    process's first seconds run up to 2x slower, for scipy and for torch alike, while the C allocator
    adapts its thresholds and takes fresh pages from the kernel (see "chunks on CPU" in
    ``quake_lib/models/spectrogram.py``)."""
    for item in items:
        step(item)
    sync()
    t0 = time.perf_counter()
    for item in items:
        step(item)
    sync()
    return time.perf_counter() - t0


def measure(variant: str, n: int, batch: int, device: str, threads: int | None) -> dict:
    import torch

    if threads:
        torch.set_num_threads(threads)
    x = windows(n)
    batches = [x[i:i + batch] for i in range(0, n, batch)]
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    if variant == "scipy_2019":
        dt = timed(scipy_2019, list(x), sync)
    elif variant == "fft_ceiling":
        # Not a spectrogram: the bare FFT of the same frames (all 257 bins, no detrend, no log, no
        # cut), from the same int16 windows in the same CPU chunks as ours. Any exact FFT-based route
        # costs at least this, so it bounds what any such route can gain over the 2019 loop here.
        from quake_lib.models.spectrogram import cpu_chunk
        window = torch.hann_window(N_FFT, periodic=True)

        def fft_only(b):
            for part in torch.from_numpy(b).split(cpu_chunk(LENGTH)):
                torch.stft(part.float(), N_FFT, hop_length=HOP, window=window, center=False, return_complex=True)

        dt = timed(fft_only, batches, sync)
    else:
        from quake_lib.models import Spectrogram, SpectrogramConfig
        method = variant.removeprefix("ours_")
        spec = Spectrogram(SpectrogramConfig(n_fft=N_FFT, hop=HOP, detrend="linear", cutoff_hz=CUTOFF_HZ,
                                             log_eps=EPS, norm="none", method=method)).to(device).eval()
        # scipy's 'density' PSD = our power x 2 / fs off the DC bin: compare in that unit
        density = np.full(spec.n_freqs, 2.0 / FS)
        density[0] = 1.0 / FS
        density = torch.as_tensor(density, dtype=torch.float32, device=device)[:, None]

        def run(b):
            with torch.no_grad():
                p = spec.power(torch.from_numpy(b).to(device))  # int16 as stored: converted inside
                return p.mul_(density).add_(EPS).log_()  # in place: no batch-sized temporaries

        err = float(np.abs(run(x[:2]).cpu().numpy() - np.stack([scipy_2019(w) for w in x[:2]])).max())
        dt = timed(run, batches, sync)
    res = {"variant": variant, "device": device, "windows": n, "batch": batch if variant != "scipy_2019" else 1,
           "spectrograms_per_s": n / dt, "threads": torch.get_num_threads()}
    if variant not in ("scipy_2019", "fft_ceiling"):
        res["max_abs_log_diff_vs_scipy"] = err
    return res




def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--windows", type=int, default=128)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--repeats", type=int, default=3, help="round-robin repeats; the best of each is kept")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--variant", help=argparse.SUPPRESS)
    p.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.windows < args.batch or args.batch < 1:
        p.error(f"--windows ({args.windows}) must be at least --batch ({args.batch}) and --batch positive")
    if args.child:
        out = measure(args.variant, args.windows, args.batch, args.device, args.threads)
        out["peak_rss_mb"] = peak_rss_mb()
        print(json.dumps(out))
        return

    import scipy
    import torch
    print(f"# {platform.machine()}, {torch.get_num_threads()} CPU threads, torch {torch.__version__}, "
          f"scipy {scipy.__version__}, python {platform.python_version()}; {args.windows} windows of "
          f"{LENGTH} samples, n_fft {N_FFT}, hop {HOP}, linear detrend, cutoff {CUTOFF_HZ / 1e3:.0f} kHz")
    runs = [("scipy_2019", "cpu"), ("ours_stft", "cpu"), ("ours_dft", "cpu"), ("fft_ceiling", "cpu")]
    if torch.cuda.is_available():
        runs += [("ours_stft", "cuda"), ("ours_dft", "cuda")]
    best: dict = {}
    for _ in range(max(args.repeats, 1)):
        for variant, device in runs:
            cmd = [sys.executable, __file__, "--child", "--variant", variant, "--device", device,
                   "--windows", str(args.windows), "--batch", str(args.batch)]
            if args.threads:
                cmd += ["--threads", str(args.threads)]
            res = subprocess.run(cmd, capture_output=True, text=True, check=True)
            r = json.loads(res.stdout.strip().splitlines()[-1])
            key = (variant, device)
            speeds = best.get(key, {}).get("all", []) + [r["spectrograms_per_s"]]
            if key not in best or r["spectrograms_per_s"] >= best[key]["spectrograms_per_s"]:
                best[key] = r
            best[key]["all"] = speeds
    rows = [best[k] for k in runs]
    for r in rows:
        check = (f", max |log diff| vs scipy {r['max_abs_log_diff_vs_scipy']:.1e}"
                 if "max_abs_log_diff_vs_scipy" in r else "")
        print(f"{r['variant']:11s} {r['device']:4s} batch {r['batch']:3d}: best {r['spectrograms_per_s']:8.1f}, "
              f"worst {min(r['all']):8.1f} spectrograms/s of {len(r['all'])}, peak RSS {r['peak_rss_mb']:5.0f} MB"
              f"{check}", flush=True)
    base = rows[0]["spectrograms_per_s"]
    for r in rows[1:]:
        print(f"ratio {r['variant']} ({r['device']}) / scipy_2019 (cpu), best of each: "
              f"{r['spectrograms_per_s'] / base:.1f}x")

if __name__ == "__main__":
    main()
