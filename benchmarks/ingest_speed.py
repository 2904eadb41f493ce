"""Benchmark: our streaming ingest against the 2019 study's pandas route, in one run.

(a) the 2019 method: ``pd.read_csv(chunksize=10**6, dtype=int16/float32)``, ``pd.concat``,
    ``np.savez_compressed``; opening = ``np.load`` of the npz and reading both arrays.
(b) ours: ``quake_lib.data.ingest.ingest`` (numba parser, streamed .npy); opening = ``Recording.open``
    (memory maps) plus reading one 150k window.

Each method runs in a fresh subprocess so that its peak RSS is its own. Input: Kaggle-format CSVs
with a realistic value distribution (heavy-tailed int signal around 4.5, 10-decimal targets in
4,096-sample blocks, a few quake resets), generated once into --workdir.

    python benchmarks/ingest_speed.py                 # 20M and 60M rows
    python benchmarks/ingest_speed.py --rows 20000000 # one size
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _measure import peak_rss_mb  # benchmarks/_measure.py (the script's own folder is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_csv(path: Path, rows: int, seed: int = 0) -> None:
    from quake_lib.data import kaggle
    rng = np.random.default_rng(seed)
    # heavy-tailed counts like the real signal (median |x - 4.5| ~ 3, rare bursts in the thousands)
    signal = np.clip(np.round(4.5 + 3.0 * rng.standard_t(2.5, rows)), -5515, 5444).astype(np.int16)
    # labels: 4,096-sample blocks, 1.1e-9 s per sample inside a block, ~1 ms between blocks;
    # a cycle every ~1.5-2.5 s of label time so that every file has a few resets
    block = np.arange(rows) // 4096
    elapsed = block * 1.0e-3 + (np.arange(rows) % 4096) * 1.1e-9
    lengths = rng.uniform(1.5, 2.5, size=int(elapsed[-1] / 1.5) + 2)
    ends = np.cumsum(lengths)
    cyc = np.searchsorted(ends, elapsed, side="right")
    ttf = np.round(ends[cyc] - elapsed, 10)
    kaggle.write_train_csv(path, signal, ttf)


def ingest_2019(csv: str, out: str) -> dict:
    import pandas as pd
    t0 = time.perf_counter()
    chunks = [c for c in pd.read_csv(csv, chunksize=10**6,
                                     dtype={"acoustic_data": np.int16, "time_to_failure": np.float32})]
    df = pd.concat(chunks)
    del chunks
    np.savez_compressed(out, acoustic_data=df["acoustic_data"].to_numpy(),
                        time_to_failure=df["time_to_failure"].to_numpy())
    return {"seconds": time.perf_counter() - t0, "rows": len(df)}


def open_2019(csv: str, out: str) -> dict:
    t0 = time.perf_counter()
    d = np.load(out)
    a, _ = d["acoustic_data"], d["time_to_failure"]  # npz loads each array on access: both are timed
    return {"seconds": time.perf_counter() - t0, "rows": len(a)}


def ingest_ours(csv: str, out: str) -> dict:
    os.environ["QUAKE_DATA_DIR"] = out
    from quake_lib.data.ingest import ingest
    t0 = time.perf_counter()
    meta = ingest(csv, name="bench", force=True, progress=False, log=lambda *_: None)
    return {"seconds": time.perf_counter() - t0, "rows": meta["n_rows"]}


def open_ours(csv: str, out: str) -> dict:
    os.environ["QUAKE_DATA_DIR"] = out
    from quake_lib.data.recording import Recording
    t0 = time.perf_counter()
    rec = Recording.open("bench")
    x = rec.read(rec.windows().subset(slice(0, 1)))  # opening plus the first 150k window
    assert x.shape == (1, 150_000)
    return {"seconds": time.perf_counter() - t0, "rows": len(rec)}


METHODS = {"ingest_2019": ingest_2019, "open_2019": open_2019, "ingest_ours": ingest_ours, "open_ours": open_ours}


def worker(method: str, csv: str, out: str) -> None:
    result = METHODS[method](csv, out)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def measure(method: str, csv: Path, out: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", method, str(csv), str(out)],
                          capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"{method} on {csv} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, nargs="+", default=[20_000_000, 60_000_000])
    p.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "quake_bench"))
    p.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(*args.worker)

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}, numpy {np.__version__}")
    # warm numba's on-disk cache so that one-off JIT compilation is not timed
    tiny = work / "tiny.csv"
    make_csv(tiny, 200_000)
    measure("ingest_ours", tiny, work / "ours_tiny")
    header = (f"{'rows':>12} {'csv MB':>8} | {'2019 s':>7} {'ours s':>7} {'ratio':>6} | "
              f"{'2019 RSS MB':>11} {'ours RSS MB':>11} | {'2019 open s':>11} {'ours open s':>11}")
    print(header)
    print("-" * len(header))
    for rows in args.rows:
        csv = work / f"train_{rows}.csv"
        if not csv.exists():
            make_csv(csv, rows)
        npz, ours = work / f"train_{rows}.npz", work / f"ours_{rows}"
        a, b = measure("ingest_2019", csv, npz), measure("ingest_ours", csv, ours)
        ao, bo = measure("open_2019", csv, npz), measure("open_ours", csv, ours)
        assert a["rows"] == b["rows"] == ao["rows"] == bo["rows"] == rows
        print(f"{rows:>12,} {csv.stat().st_size / 1e6:>8.0f} | {a['seconds']:>7.2f} {b['seconds']:>7.2f} "
              f"{a['seconds'] / b['seconds']:>5.1f}x | {a['peak_rss_mb']:>11.0f} {b['peak_rss_mb']:>11.0f} | "
              f"{ao['seconds']:>11.3f} {bo['seconds']:>11.4f}", flush=True)
    print("ratio = 2019 ingest wall time / ours (higher is better); RSS = peak resident memory of the\n"
          "ingesting process (each step runs in its own process); open = load / memory-map the prepared\n"
          "data (2019: np.load of the npz and both arrays read; ours: Recording.open + one 150k window)")


if __name__ == "__main__":
    main()
