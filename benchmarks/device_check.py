"""Device check: what one command on a lent GPU machine must show about this project, within a deadline.

Steps, each in a subprocess of its own (its peak RSS is its own, a CUDA error cannot poison the next
step, and a step that overruns is killed while the others still report):

  a. setup: the environment (GPU, torch, CUDA, bf16, what the project's trainer picks) and the dataset
     prepared (``datasets.prepare``, timed);
  b. tests: the CUDA tests (tests/test_cuda.py), counted;
  c. train: one epoch of each approach that trains on the GPU, at the profile's sizes, through the
     chapters' own functions on fold 0: the WaveNet (chapter 3's main arm), the spectrogram ResNet
     (chapter 4), CPC contrastive pre-training and CPC fine-tuning (chapter 5); per approach the epoch's
     seconds, windows/s, peak GPU memory and peak host RSS;
  d. chapter: chapter 4's main arm (spec_resnet.cross_validate) fold by fold while the estimate of the
     next fold fits the time left; the five folds and the chapter's training (main + study arms) are then
     ``measured`` or ``estimate``, labelled so.

    python benchmarks/device_check.py                     # GPU machine: dataset synthetic, profile full
    python benchmarks/device_check.py --smoke             # any machine, CPU only: quick / quick, ~1 min

A readable line per result on stdout; the JSON summary (rewritten after every step, so a killed run
leaves what it had) goes to ``--out`` (default ``$OUT/device_check.json`` when OUT is set). Datasets
are generated into a private folder (removed at the end): nothing is written into the repository's data/.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _measure import peak_rss_mb  # benchmarks/_measure.py (the script's own folder is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MARK = "@@device_check "          # a child's result line: MARK + one JSON object
APPROACHES = ("wave_cnn", "spec_resnet", "cpc_pretrain", "cpc_finetune")
# tests/test_cuda.py only: it needs no conftest fixture (test_spectrogram's GPU test needs conftest's
# one_torch_thread, and conftest.py imports papermill & co., absent there: seen on the H200, 2026-11-29)
TESTS = ["tests/test_cuda.py"]
CAPS = {"setup": 120, "tests": 180, "train": 150}   # seconds a step may take at most
RESERVE_S = 10                    # kept back from the deadline to write the summary
MIN_STEP_S = 20                   # a step with less time left than this is not started


# ---------------------------------------------------------------- children: one step each


def emit(**result) -> None:
    print(MARK + json.dumps(result, default=float), flush=True)


class WarningLog:
    """The distinct warnings a step raised (first line, at most 8): on a GPU they say what the trainer
    changed (determinism, precision) and are worth reading once."""

    def __init__(self):
        import warnings
        self._ctx = warnings.catch_warnings(record=True)
        self.records = None

    def __enter__(self):
        self.records = self._ctx.__enter__()  # the filters stay as they are: quiet() mutes the noise
        return self

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)

    def distinct(self) -> list[str]:
        seen = []
        for w in self.records or []:
            line = f"{w.category.__name__}: {str(w.message).splitlines()[0][:200]}"
            if line not in seen:
                seen.append(line)
        return seen[:8]


def gpu_peak_mib(reset: bool = False) -> float | None:
    """Peak GPU memory allocated by torch in this process (MiB; None without a GPU); ``reset``: start a
    new peak instead."""
    import torch
    if not torch.cuda.is_available():
        return None
    if reset:
        torch.cuda.reset_peak_memory_stats()
    return torch.cuda.max_memory_allocated() / 2**20


def spy_trainers() -> list[str]:
    """Where (device type, precision) each Lightning trainer that the training code builds runs, as a
    string: keeping the trainers themselves would keep every fold's model and optimizer alive."""
    from quake_lib.train import contrastive, fit
    seen, real = [], fit.make_trainer

    def spy(*args, **kwargs):
        trainer = real(*args, **kwargs)
        seen.append(f"{trainer.strategy.root_device.type} {trainer.precision}")
        return trainer

    fit.make_trainer = contrastive.make_trainer = spy  # contrastive imported it by name
    return seen


def where(seen: list[str]) -> str:
    return ", ".join(sorted(set(seen))) or "no trainer"


def child_setup(args) -> None:
    import lightning
    import numpy
    import torch

    from quake_lib import profiles
    from quake_lib.train.fit import TrainConfig, trainer_kwargs
    cuda = torch.cuda.is_available()
    props = torch.cuda.get_device_properties(0) if cuda else None
    emit(kind="env", python=platform.python_version(), torch=torch.__version__, cuda=torch.version.cuda,
         cudnn=torch.backends.cudnn.version() if cuda else None, lightning=lightning.__version__,
         numpy=numpy.__version__, cpus=os.cpu_count(), torch_threads=torch.get_num_threads(),
         gpu=props.name if cuda else None, gpu_memory_gib=props.total_memory / 2**30 if cuda else None,
         bf16=bool(cuda and torch.cuda.is_bf16_supported()),
         trainer=trainer_kwargs(TrainConfig.from_profile(profiles.get("default"))))
    from quake_lib.data import datasets
    t0 = time.perf_counter()
    rec = datasets.prepare(args.dataset)
    emit(kind="prepare", dataset=args.dataset, seconds=time.perf_counter() - t0, recording=str(rec),
         peak_rss_mb=peak_rss_mb())


def folds_and_grid(rec):
    """The fixed folds and the evaluation grid. One fold's held-out windows, passed as the grid, let a
    chapter's function that cross-validates on the folds it is given (and checks that they cover the
    grid) run on that one fold, seeded as in the whole cross-validation."""
    from quake_lib import evaluation
    windows = evaluation.eval_windows(rec)
    folds = evaluation.make_folds(rec, windows=windows)
    return folds, windows


def child_train(args) -> None:
    """One approach, ``args.epochs`` epoch(s) at the profile's sizes, through the chapter's own function."""
    from dataclasses import replace

    import torch

    from quake_lib import profiles
    from quake_lib.approaches import cpc, spec_resnet, wave_cnn
    from quake_lib.data import datasets
    rec = datasets.prepare(args.dataset)
    prof = profiles.get(args.profile)
    folds, windows = folds_and_grid(rec)
    _, held = folds[0].split(windows)
    trainers = spy_trainers()
    name, n = args.step, args.epochs
    with WarningLog() as log:
        t0 = time.perf_counter()
        if name in ("wave_cnn", "spec_resnet"):
            sizes = {"windows_per_epoch": prof.windows_per_epoch, "batch_size": prof.batch_size}
            approach = wave_cnn if name == "wave_cnn" else spec_resnet
            res = approach.cross_validate(rec, folds[:1], prof, 0, arms=(approach.APPROACH.main_arm,),
                                          eval_windows=held, epochs=n, verbose=False)
            metrics, fold_s = res.metrics, res.seconds
        elif name == "cpc_pretrain":
            pre = prof.cpc.pretrain
            sizes = {"windows_per_epoch": pre.crops_per_epoch, "batch_size": pre.batch_size, "crop": pre.crop}
            t_seg = time.perf_counter()
            segments, _ = cpc.unlabeled_segments(args.dataset)
            sizes["segments_s"] = time.perf_counter() - t_seg
            one = replace(prof, cpc=replace(prof.cpc, pretrain=replace(pre, epochs=n)))
            res, _ = cpc.pretrain_dataset(args.dataset, segments, one, seed=0)  # saves what fine-tuning loads
            metrics, fold_s = res.metrics, res.seconds
        else:  # cpc_finetune: the approach's train_network, on the weights the pre-training step saved
            sz = prof.cpc
            sizes = {"windows_per_epoch": sz.tune_windows, "batch_size": sz.tune_batch}
            pretrained = cpc.pretrained_path(args.dataset)
            if not pretrained.exists():  # pre-training failed or was skipped: untrained weights cost the same
                from quake_lib.models.cpc import CPCConfig, CPCNet, save_pretrained
                save_pretrained(CPCNet(CPCConfig()), pretrained, {"untrained": True})
                sizes["pretrained"] = "untrained weights (the pre-training step left none)"
            one = replace(prof, cpc=replace(sz, tune_epochs=n))
            res = cpc.train_network(rec, folds[:1], one, pretrained, seed=0, eval_windows=held)
            metrics, fold_s = res.metrics, res.seconds
        run_s = time.perf_counter() - t0
    cols = ["epoch", "train_seconds", "train_windows_per_s", "epoch_seconds"]
    epochs = metrics[[c for c in cols if c in metrics.columns]].dropna().to_dict("records")
    emit(kind="train", approach=name, ran_on=where(trainers), epochs=epochs, run_seconds=run_s,
         fold_seconds=fold_s, outside_epochs_s=fold_s - sum(e.get("epoch_seconds", 0) for e in epochs),
         peak_gpu_mib=gpu_peak_mib(), peak_rss_mb=peak_rss_mb(), warnings=log.distinct(),
         threads=torch.get_num_threads(), **sizes)


def child_chapter(args) -> None:
    """Chapter 4's main arm, the notebook's own call, fold by fold while the next fold's estimate fits."""
    import numpy as np

    from quake_lib import profiles
    from quake_lib.approaches import spec_resnet
    from quake_lib.data import datasets
    rec = datasets.prepare(args.dataset)
    prof = profiles.get(args.profile)
    folds, windows = folds_and_grid(rec)
    study = [a for a, o in spec_resnet.STUDY_ARMS.items() if spec_resnet.pretrained_available(o)]
    emit(kind="chapter_plan", folds=len(folds), study_arms=study, epochs=prof.epochs,
         windows_per_epoch=prof.windows_per_epoch, batch_size=prof.batch_size)
    trainers = spy_trainers()
    estimate, measured = args.fold_estimate_s, []
    for fold in folds:
        left = args.stop_at - time.time()
        if estimate is not None and estimate > left:
            emit(kind="chapter_stop", reason=f"fold {fold.index} needs ~{estimate:.0f} s, {left:.0f} s left")
            break
        _, held = fold.split(windows)
        gpu_peak_mib(reset=True)  # this fold's peak
        with WarningLog() as log:
            s = time.perf_counter()
            res = spec_resnet.cross_validate(rec, [fold], prof, 0, eval_windows=held, verbose=False)
            seconds = time.perf_counter() - s
        m = res.metrics
        measured.append(seconds)
        estimate = max(measured)  # the slowest fold so far: the next one should not overrun
        emit(kind="chapter_fold", fold=fold.index, seconds=seconds, held_out=len(held),
             mae=float((res.oof["prediction"] - res.oof["target"]).abs().mean()),
             train_seconds=float(m["train_seconds"].sum()), epoch_seconds=float(m["epoch_seconds"].sum()),
             windows_per_s=float(np.median(m["train_windows_per_s"])), ran_on=where(trainers[-1:]),
             peak_gpu_mib=gpu_peak_mib(), peak_rss_mb=peak_rss_mb(), warnings=log.distinct())


CHILDREN = {"setup": child_setup, "chapter": child_chapter, **{a: child_train for a in APPROACHES}}


# ---------------------------------------------------------------- the parent: steps, deadline, summary


class Runner:
    """The parent's state: the deadline, the private data folder, the children's environment, the summary."""

    def __init__(self, args):
        self.args, self.t0 = args, time.perf_counter()
        self.deadline = self.t0 + args.budget_s
        self.work = Path(tempfile.mkdtemp(prefix="device_check-"))
        self.env = {**os.environ, "QUAKE_DATA_DIR": str(self.work / "data"), "QUAKE_NO_PROGRESS": "1",
                    "PYTHONUNBUFFERED": "1",
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        if args.smoke:
            self.env["CUDA_VISIBLE_DEVICES"] = ""  # the smoke run is the CPU's, whatever the machine has
        self.summary = {"mode": "smoke" if args.smoke else "device", "dataset": args.dataset,
                        "profile": args.profile, "budget_s": args.budget_s, "steps": {}}

    def left(self) -> float:
        return self.deadline - time.perf_counter() - RESERVE_S

    def save(self) -> None:
        self.summary["elapsed_s"] = time.perf_counter() - self.t0
        if self.args.out:
            out = Path(self.args.out)
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.summary, indent=1, default=float))
            os.replace(tmp, out)

    def run(self, step: str, cmd: list[str], cap: float) -> dict:
        """Run ``cmd`` with a timeout of min(cap, time left); echo its output indented; collect MARK lines."""
        timeout = min(cap, self.left())
        if timeout < MIN_STEP_S:
            print(f"[{step}] NOT RUN: {max(self.left(), 0):.0f} s left of the budget", flush=True)
            return {"status": "not run (budget)", "results": []}
        proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)  # own group: a timeout kills its children too
        results, tail = [], []

        def pump():
            for line in proc.stdout:
                if line.startswith(MARK):
                    results.append(json.loads(line[len(MARK):]))
                else:
                    tail.append(line.rstrip())
                    del tail[:-40]
                    print(f"    | {line.rstrip()}", flush=True)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        s = time.perf_counter()
        try:
            rc, status = proc.wait(timeout=timeout), None
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            rc, status = proc.wait(), f"killed after {timeout:.0f} s (time limit)"
        reader.join(timeout=5)
        status = status or ("ok" if rc == 0 else f"failed (exit {rc})")
        out = {"status": status, "seconds": time.perf_counter() - s, "results": results}
        if rc != 0:
            out["output_tail"] = tail[-15:]
        return out

    def child(self, step: str, cap: float, *extra: str) -> dict:
        a = self.args
        cmd = [sys.executable, __file__, "--child", step, "--dataset", a.dataset, "--profile", a.profile,
               "--epochs", str(a.epochs), *extra]
        return self.run(step, cmd, cap)


def first(results: list, kind: str) -> dict | None:
    return next((r for r in results if r.get("kind") == kind), None)


def gib(mib) -> str:
    return "n/a (no GPU)" if mib is None else f"{mib / 1024:.2f} GiB"


def step_setup(r: Runner) -> None:
    res = r.child("setup", CAPS["setup"])
    r.summary["steps"]["setup"] = res
    env, prep = first(res["results"], "env"), first(res["results"], "prepare")
    if env:
        gpu = f"{env['gpu']} ({env['gpu_memory_gib']:.0f} GiB)" if env["gpu"] else "no GPU"
        t = env["trainer"]
        print(f"[env] {gpu} | torch {env['torch']} (CUDA {env['cuda']}, cuDNN {env['cudnn']}) | bf16 "
              f"{'yes' if env['bf16'] else 'no'} | Python {env['python']} | lightning {env['lightning']} | "
              f"{env['cpus']} CPUs, {env['torch_threads']} torch threads | the trainer picks "
              f"{t['accelerator']} / {t['precision']}", flush=True)
    if prep:
        print(f"[prepare] {prep['recording']}: {prep['seconds']:.1f} s, peak RSS {prep['peak_rss_mb']:.0f} MB",
              flush=True)
    if not (env and prep):
        print(f"[setup] {res['status']}", flush=True)


OUTCOMES = {"failure": "failed", "error": "errors", "skipped": "skipped"}  # junit tag -> count


def step_tests(r: Runner) -> None:
    import xml.etree.ElementTree as ET
    xml = r.work / "tests.xml"
    # --noconftest: conftest.py imports papermill & co. (see tests/test_cuda.py); -p no:cacheprovider: no
    # .pytest_cache in the tree
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--noconftest", f"--junitxml={xml}",
           *TESTS]
    res = r.run("tests", cmd, CAPS["tests"])
    counts, failures = {"passed": 0, "failed": 0, "skipped": 0, "errors": 0}, []
    for case in ET.parse(xml).getroot().iter("testcase") if xml.exists() else ():
        name = f"{Path(case.get('file') or case.get('classname', '')).name}::{case.get('name')}"
        outcome = next((c for c in case if c.tag in ("failure", "error", "skipped")), None)
        kind = OUTCOMES.get(getattr(outcome, "tag", None), "passed")
        counts[kind] += 1
        if outcome is not None:
            message = ((outcome.get("message") or outcome.tag).splitlines() or [""])[0][:200]
            failures.append(f"{kind.upper()} {name}: {message}")
    res.update(counts=counts, not_passed=failures)
    r.summary["steps"]["tests"] = res
    print(f"[tests] {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped, "
          f"{counts['errors']} errors ({res['status']}, {res.get('seconds', 0):.1f} s)", flush=True)
    for line in failures:
        print(f"    {line}", flush=True)


def step_train(r: Runner, name: str) -> dict | None:
    res = r.child(name, CAPS["train"])
    r.summary["steps"][f"train_{name}"] = res
    out = first(res["results"], "train")
    if out is None:
        print(f"[train {name}] {res['status']}", flush=True)
        return None
    for e in out["epochs"]:
        print(f"[train {name}] epoch {int(e['epoch']) + 1} of {out['windows_per_epoch']} windows (batch "
              f"{out['batch_size']}) on {out['ran_on']}: {e['train_seconds']:.2f} s training, "
              f"{e['train_windows_per_s']:.0f} windows/s, {e['epoch_seconds']:.2f} s with validation", flush=True)
    print(f"[train {name}] whole call {out['run_seconds']:.1f} s ({out['outside_epochs_s']:.1f} s outside the "
          f"epochs: setup, BatchNorm recalibration, held-out predictions, saving); peak GPU memory "
          f"{gib(out['peak_gpu_mib'])}, peak host RSS {out['peak_rss_mb']:.0f} MB", flush=True)
    if "segments_s" in out:
        print(f"[train {name}] unlabeled segments generated in {out['segments_s']:.1f} s", flush=True)
    for w in out["warnings"]:
        print(f"    warning: {w}", flush=True)
    return out


def fold_estimate(spec: dict | None, epochs: int) -> float | None:
    """A full fold of chapter 4 from step c's spec_resnet run: ``epochs`` x its last epoch (the first
    carries the warm-up, so with one epoch this errs long) + what it spent outside the epochs."""
    if not spec or not spec["epochs"]:
        return None
    return epochs * spec["epochs"][-1]["epoch_seconds"] + spec["outside_epochs_s"]


def step_chapter(r: Runner, spec: dict | None) -> None:
    from quake_lib import profiles
    epochs = profiles.get(r.args.profile).epochs
    est = fold_estimate(spec, epochs)
    # the child stops by the clock 5 s before the parent would kill it: a fold is never cut half-way
    extra = ["--stop-at", f"{time.time() + r.left() - 5:.1f}"] + (["--fold-estimate-s", f"{est:.1f}"] if est else [])
    res = r.child("chapter", r.left(), *extra)
    plan = first(res["results"], "chapter_plan")
    folds = [x for x in res["results"] if x.get("kind") == "chapter_fold"]
    stop = first(res["results"], "chapter_stop")
    for f in folds:
        print(f"[chapter 4] fold {f['fold']} on {f['ran_on']}: {f['seconds']:.1f} s measured "
              f"({f['train_seconds']:.1f} s training at a median {f['windows_per_s']:.0f} windows/s), "
              f"MAE {f['mae']:.3f} s on {f['held_out']} held-out windows; peak GPU memory "
              f"{gib(f['peak_gpu_mib'])}, peak RSS {f['peak_rss_mb']:.0f} MB",
              flush=True)
    if stop:
        print(f"[chapter 4] stopped: {stop['reason']}", flush=True)
    n = plan["folds"] if plan else 5
    k = len(folds)
    total = sum(f["seconds"] for f in folds)
    if k == n:
        main, label, basis = total, "measured", f"all {n} folds"
    elif k:
        main, label = total + total / k * (n - k), "estimate"
        basis = f"{k} of {n} folds measured ({total:.0f} s), the other {n - k} at their mean"
    elif est:
        main, label, basis = est * n, "estimate", f"no fold ran: {epochs} x step c's epoch + its time outside epochs"
    else:
        main, label, basis = None, "unknown", f"no fold ran and step c gave no estimate ({res['status']})"
    arms = 1 + len(plan["study_arms"]) if plan else None  # the main arm + the study arms this machine runs
    chapter = {"main_arm_s": main, "main_arm": label, "main_basis": basis, "arms": arms,
               "chapter_training_s": main * arms if main is not None and arms else None,
               "chapter_training": "measured" if arms == 1 and label == "measured" else "estimate"}
    res.update(fold_estimate_s=est, summary=chapter)
    r.summary["steps"]["chapter"] = res
    if main is None:
        print(f"[chapter 4] {basis}", flush=True)
        return
    print(f"[chapter 4] main arm (spec_resnet_binned), profile {r.args.profile}, {n} folds: {main:.0f} s "
          f"{label} ({basis})", flush=True)
    if arms and arms > 1:
        print(f"[chapter 4] the chapter's training ({arms} arms: the main one and {arms - 1} study arms, "
              f"each on the same budget and images of ~3-5k pixels): {main * arms:.0f} s estimate", flush=True)


def parent(args) -> int:
    r = Runner(args)
    print(f"device_check: mode {r.summary['mode']}, dataset {args.dataset}, profile {args.profile}, "
          f"budget {args.budget_s:.0f} s, summary -> {args.out or '(none)'}, private data in {r.work}", flush=True)
    try:
        for step in (step_setup, step_tests):
            try:
                step(r)
            except Exception as e:  # a parent-side slip in one step must not cost the others
                r.summary["steps"][step.__name__] = {"status": f"error: {e!r}"}
                print(f"[{step.__name__}] error: {e!r}", flush=True)
            r.save()
        trained = {}
        for name in APPROACHES:
            try:
                trained[name] = step_train(r, name)
            except Exception as e:
                r.summary["steps"][f"train_{name}"] = {"status": f"error: {e!r}"}
                print(f"[train {name}] error: {e!r}", flush=True)
            r.save()
        try:
            step_chapter(r, trained.get("spec_resnet"))
        except Exception as e:
            r.summary["steps"]["chapter"] = {"status": f"error: {e!r}"}
            print(f"[chapter 4] error: {e!r}", flush=True)
    finally:
        r.save()
        if not args.keep:
            shutil.rmtree(r.work, ignore_errors=True)
    print(f"device_check: done in {time.perf_counter() - r.t0:.0f} s (budget {args.budget_s:.0f} s)", flush=True)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget-s", type=float, default=480, help="deadline for the whole check (default 480)")
    p.add_argument("--out", default=None, help="JSON summary (default $OUT/device_check.json if OUT is set)")
    p.add_argument("--smoke", action="store_true", help="quick dataset, quick profile, CPU only (~1 min)")
    p.add_argument("--epochs", type=int, default=1, help="epochs of each approach in step c (default 1)")
    p.add_argument("--keep", action="store_true", help="keep the private data folder (its path is printed)")
    p.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    p.add_argument("--dataset", help=argparse.SUPPRESS)
    p.add_argument("--profile", help=argparse.SUPPRESS)
    p.add_argument("--stop-at", type=float, default=float("inf"), help=argparse.SUPPRESS)  # time.time()
    p.add_argument("--fold-estimate-s", type=float, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    args.dataset = args.dataset or ("quick" if args.smoke else "synthetic")
    args.profile = args.profile or ("quick" if args.smoke else "full")
    if args.child:
        args.step = args.child
        from quake_lib.quiet import quiet
        quiet()
        CHILDREN[args.child](args)
        return 0
    if args.out is None and os.environ.get("OUT"):
        args.out = str(Path(os.environ["OUT"]) / "device_check.json")
    return parent(args)


if __name__ == "__main__":
    sys.exit(main())
