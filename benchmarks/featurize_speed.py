"""Benchmark: the Kaggle feature set, vectorized over windows, against a per-window pandas loop.

  (a) baseline: the 2019 Kaggle kernels' way: for each 150k window, a ``pd.Series`` and its methods
      (std, quantiles, skew, kurtosis), ``rolling(w).std()`` for w = 10, 100, 1000 and its
      percentiles, threshold and peak counts (``scipy.signal.find_peaks``), band powers from a
      per-window FFT and ``librosa.feature.mfcc`` per window: the same feature families;
  (b) ours: :func:`quake_lib.features_extra.kaggle_features` (numba moments and peaks, one sort
      for every quantile, block rolling std, one batched rFFT, one batched MFCC call per batch).
Windows: the 150k grid of a prepared dataset (``--dataset``, default ``synthetic``), or heavy-tailed
random windows if it is absent. Each method runs in its own subprocess (its own peak RSS). The time
for all 4,194 segments of the real train.csv is an extrapolation from the measured rate.

    python benchmarks/featurize_speed.py                 # 256 windows ours, 16 windows baseline
    python benchmarks/featurize_speed.py --ours 512 --baseline 32
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

REAL_SEGMENTS = 4_194  # consecutive 150k segments of the real train.csv


def windows(dataset: str, n: int) -> tuple[str, np.ndarray]:
    from quake_lib import paths
    from quake_lib.data.recording import Recording
    try:
        rec = Recording(paths.dataset_dir(dataset))
        w = rec.windows()
        w = w.subset(np.linspace(0, len(w) - 1, min(n, len(w))).astype(int))
        x = rec.read(w)
        if len(x) < n:  # a small dataset: repeat its windows
            x = np.resize(x, (n, x.shape[1]))
        return f"dataset {dataset}", x
    except FileNotFoundError:
        rng = np.random.default_rng(0)
        x = np.clip(np.round(4.5 + 3 * rng.standard_t(3, (n, SEGMENT_LENGTH))), -5000, 5000).astype(np.int16)
        return "random heavy-tailed windows", x


def naive_features(x: np.ndarray) -> dict:
    import librosa
    import pandas as pd
    from scipy.signal import find_peaks

    s = pd.Series(x.astype(np.float64))
    f = {"std": s.std(), "skew": s.skew(), "kurtosis": s.kurtosis(), "min": s.min(), "max": s.max()}
    for q in (0.01, 0.05, 0.25, 0.75, 0.95, 0.99):
        f[f"q{q}"] = s.quantile(q)
    c = s - s.median()
    for t in (20, 50, 100):
        f[f"count_gt_{t}"] = (c.abs() > t).sum()
        f[f"peaks_gt_{t}"] = len(find_peaks(c.abs().to_numpy(), height=t)[0])
    for w in (10, 100, 1000):
        r = c.rolling(w).std(ddof=0).dropna()
        for p in (1, 5, 10, 50, 90, 95, 99):
            f[f"roll{w}_p{p}"] = np.percentile(r, p)
    power = np.abs(np.fft.rfft(c.to_numpy())) ** 2
    freqs = np.fft.rfftfreq(len(c), 1 / SAMPLE_RATE_HZ)
    edges = (0, 25e3, 50e3, 100e3, 150e3, 200e3, 250e3, 300e3, 400e3, 500e3, 750e3, 1e6, 2e6)
    for lo, hi in zip(edges[:-1], edges[1:]):
        f[f"band_{lo}"] = np.log10(power[(freqs >= lo) & (freqs < hi)].mean() + 1e-12)
    m = librosa.feature.mfcc(y=c.to_numpy(np.float32), sr=SAMPLE_RATE_HZ, n_mfcc=20, n_fft=2048, hop_length=2048,
                             n_mels=32, fmin=20e3, center=False)
    for k in range(20):
        f[f"mfcc{k}_mean"], f[f"mfcc{k}_std"] = m[k].mean(), m[k].std()
    return f


def run_child(method: str, dataset: str, n: int) -> dict:
    source, x = windows(dataset, n)
    if method == "ours":
        from quake_lib.features import competition as features_extra
        features_extra.kaggle_array_features(x[:2])  # warm-up: numba cache, librosa's lazy imports
        t0 = time.perf_counter()
        for i in range(0, len(x), 32):
            df = features_extra.kaggle_array_features(x[i:i + 32])
        n_features = df.shape[1]
    else:
        naive_features(x[0])  # warm-up
        t0 = time.perf_counter()
        rows = [naive_features(row) for row in x]
        n_features = len(rows[0])
    dt = time.perf_counter() - t0
    rss = peak_rss_mb()
    return {"method": method, "source": source, "windows": len(x), "seconds": dt,
            "windows_per_s": len(x) / dt, "features": n_features, "peak_rss_mb": rss}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--ours", type=int, default=256, help="windows featurized by ours")
    p.add_argument("--baseline", type=int, default=16, help="windows featurized by the per-window loop")
    p.add_argument("--child", choices=["ours", "naive"], help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(run_child(args.child, args.dataset, args.n)))
        return
    print(f"# {platform.machine()}, python {platform.python_version()}")
    res = {}
    for method, n in (("naive", args.baseline), ("ours", args.ours)):
        cmd = [sys.executable, __file__, "--child", method, "--dataset", args.dataset, "--n", str(n)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        r = res[method] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{method:5s}: {r['windows']} windows ({r['source']}), {r['features']} features, "
              f"{r['seconds']:.2f} s, {r['windows_per_s']:.1f} windows/s, peak RSS {r['peak_rss_mb']:.0f} MB",
              flush=True)
    ratio = res["ours"]["windows_per_s"] / res["naive"]["windows_per_s"]
    print(f"ratio ours / per-window pandas loop: {ratio:.1f}x")
    for method in ("naive", "ours"):
        t = REAL_SEGMENTS / res[method]["windows_per_s"]
        print(f"extrapolated (not measured): {REAL_SEGMENTS:,} real 150k segments with {method}: "
              f"{t:.0f} s ({t / 60:.1f} min)")


if __name__ == "__main__":
    main()
