"""Cross-validated training: one Lightning run per fold, OOF predictions in the common format.

>>> res = cross_validate(rec, models.factory("wave_cnn"), "binned", profile=profiles.get("default"))  # doctest: +SKIP
>>> res.oof, res.metrics, res.mae_table()                                                        # doctest: +SKIP

The same code runs on CPU (float32), one GPU (bf16 autocast) and several GPUs (DDP; in a notebook
the fork-based ``ddp_notebook``). Every fold is seeded from (seed, fold), trains for a fixed number of
epochs and is scored by its last epoch: the held-out metrics logged per epoch are diagnostics (the
learning curves the notebooks plot), never used to pick an epoch, which would leak the test cycles.
"""
from __future__ import annotations

import contextlib
import gc
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch

from .. import evaluation, paths, profiles
from ..data import cycle_targets
from ..data.recording import Recording, Windows
from ..evaluation.folds import Fold
from ..quiet import quiet
from .augment import Augment
from .data import DataConfig, QuakeDataModule
from .heads import make_head
from .metrics import EpochTimer, TrainProgress, read_metrics
from .module import QuakeModule
from .predict import predict_windows, rebuild_meta, recalibrate_batchnorm, save_checkpoint


@dataclass(frozen=True)
class TrainConfig:
    """How one network is trained. The sizes a profile sets (the first seven fields) have no default
    here: :class:`quake_lib.profiles.Profile` is their one place (:meth:`from_profile`)."""

    epochs: int
    windows_per_epoch: int
    batch_size: int
    lr: float
    bn_windows: int                     # training windows for the final BatchNorm recalibration (0: off)
    val_windows: int                    # held-out windows of the per-epoch diagnostics, evenly spaced (0: all)
    validate_every: int                 # held-out diagnostics every n epochs (0: never)
    eval_batch_size: int = 64
    weight_decay: float = 1e-4
    augment: Augment = field(default_factory=Augment)
    gradient_clip: float = 1.0
    accelerator: str = "auto"           # 'cpu', 'gpu', 'auto'
    devices: int | str = 1              # >1 GPUs: DDP
    strategy: str = "auto"              # 'auto' picks ddp / ddp_notebook for several devices
    precision: str | None = None        # None: 'bf16-mixed' on CUDA, '32-true' on CPU
    num_workers: int = 0
    threads: int | None = None          # torch.set_num_threads on CPU (None: leave it)
    save_checkpoints: bool = True

    def __post_init__(self):
        # refuse sizes that would train nothing (epochs=0 saved untrained models as results) or crash
        # deep inside Lightning (epochs=-1: an OverflowError); the message names the parameter
        for name, least in (("epochs", 1), ("windows_per_epoch", 1), ("batch_size", 1), ("eval_batch_size", 1),
                            ("validate_every", 0), ("val_windows", 0), ("bn_windows", 0), ("num_workers", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
                raise ValueError(f"{name} must be an integer >= {least} (got {value!r})")
        if not self.lr > 0:
            raise ValueError(f"lr must be a number > 0 (got {self.lr!r})")

    @classmethod
    def from_profile(cls, profile: profiles.Profile, **overrides) -> "TrainConfig":
        """The networks' sizes from ``profile``; ``overrides`` replace any field."""
        if not isinstance(profile, profiles.Profile):
            raise TypeError(f"profile must be a quake_lib.profiles.Profile (got {profile!r}): "
                            "resolve a name once with quake_lib.profiles.get(name)")
        sizes = {f.name: getattr(profile, f.name) for f in fields(cls) if f.default is MISSING
                 and f.default_factory is MISSING}
        return cls(**{**sizes, **overrides})

    def data_config(self, length: int) -> DataConfig:
        """Training windows as long as the evaluation windows (``length`` samples)."""
        return DataConfig(length=length, windows_per_epoch=self.windows_per_epoch, batch_size=self.batch_size,
                          eval_batch_size=self.eval_batch_size, num_workers=self.num_workers,
                          val_windows=self.val_windows)


@contextlib.contextmanager
def torch_threads(n: int | None):
    """``torch.set_num_threads(n)`` for the block, the previous count restored after (``None``/0: leave
    it). Why fix it at all: two threads on two cores stall when anything else runs (tiny sequential
    steps spin in OpenMP waits), and a fixed count also fixes the float reduction order."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _in_notebook() -> bool:
    return "ipykernel" in sys.modules


def trainer_kwargs(cfg: TrainConfig) -> dict:
    """Accelerator, devices, strategy and precision for this machine and config."""
    cuda = torch.cuda.is_available() and cfg.accelerator in ("auto", "gpu", "cuda")
    precision = cfg.precision or ("bf16-mixed" if cuda and torch.cuda.is_bf16_supported() else "32-true")
    strategy = cfg.strategy
    several = cuda and (cfg.devices == -1 or (isinstance(cfg.devices, int) and cfg.devices > 1))
    if strategy == "auto" and several:
        # find_unused_parameters: the WaveNet's last residual 1x1 conv feeds nothing (only its skip
        # output is read), and plain DDP refuses a parameter that never gets a gradient
        strategy = ("ddp_notebook" if _in_notebook() else "ddp") + "_find_unused_parameters_true"
    accelerator = "gpu" if cuda else ("cpu" if cfg.accelerator == "auto" else cfg.accelerator)
    devices = cfg.devices if cuda else 1
    return {"accelerator": accelerator, "devices": devices, "strategy": strategy, "precision": precision}


def make_trainer(cfg: TrainConfig, log_dir: Path | None, name: str = "run", version: str = "0",
                 max_epochs: int | None = None, label: str | None = None, root_dir: Path | None = None) -> L.Trainer:
    """A Lightning trainer for ``cfg``; ``label`` names the run in the progress shown to a person;
    ``root_dir``: where Lightning may write its own files (default: the working directory)."""
    logger = False
    if log_dir is not None:
        from lightning.pytorch.loggers import CSVLogger
        shutil.rmtree(Path(log_dir) / name / version, ignore_errors=True)  # a rerun starts clean
        logger = CSVLogger(save_dir=str(log_dir), name=name, version=version)
    return L.Trainer(
        max_epochs=cfg.epochs if max_epochs is None else max_epochs, logger=logger,
        callbacks=[EpochTimer(cfg.windows_per_epoch), TrainProgress(label or f"{name} {version}")],
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, reload_dataloaders_every_n_epochs=1, log_every_n_steps=1,
        check_val_every_n_epoch=max(cfg.validate_every, 1),
        limit_val_batches=1.0 if cfg.validate_every > 0 else 0, gradient_clip_val=cfg.gradient_clip,
        deterministic="warn", use_distributed_sampler=True, default_root_dir=root_dir, **trainer_kwargs(cfg))


def fit_trainer(trainer: L.Trainer, module, datamodule) -> None:
    """``trainer.fit``, with Ctrl-C raised again as :class:`KeyboardInterrupt`: Lightning catches it, tears
    down and calls ``sys.exit(1)``, which would skip the callers' handling (a run staged and discarded, the
    command line's one-line message and exit code 130)."""
    try:
        trainer.fit(module, datamodule=datamodule)
    except SystemExit:
        if not trainer.interrupted:
            raise
        signal.signal(signal.SIGINT, signal.default_int_handler)  # Lightning ignores a second Ctrl-C
        raise KeyboardInterrupt from None


def _fresh_head(head):
    if isinstance(head, str):
        return make_head(head)
    if isinstance(head, torch.nn.Module):
        import copy
        return copy.deepcopy(head)
    return head()  # a factory


@dataclass
class FoldRun:
    module: QuakeModule
    oof: pd.DataFrame
    metrics: pd.DataFrame
    seconds: float
    checkpoint: Path | None


@dataclass
class FoldJob:
    """One fold's training: what :func:`fit_fold` needs besides the fold itself."""

    rec: Recording
    model_factory: object
    head: object
    cfg: TrainConfig
    seed: int
    arm: str
    approach: str                 # the registered approach the arm belongs to (recorded in each checkpoint)
    eval_windows: Windows
    log_dir: Path | None          # per-epoch CSV logs (None: a temporary folder)
    ckpt_dir: Path | None         # the fold checkpoints (None: none)


def fit_fold(job: FoldJob, fold: Fold, label: str | None = None) -> FoldRun:
    """Train on ``fold``'s training cycles, predict its held-out windows. ``label`` names the fold in the
    progress shown to a person (default: arm and fold)."""
    t0 = time.perf_counter()
    gc.collect()  # the previous fold's trainer and loaders sit in reference cycles: peak RSS grew per fold
    fold_seed = int(np.random.SeedSequence([job.seed, fold.index]).generate_state(1)[0])
    L.seed_everything(fold_seed, workers=True, verbose=False)
    with torch_threads(job.cfg.threads):
        run = _fit_fold(job, fold, fold_seed, label or f"{job.arm} fold {fold.index}")
    run.seconds = time.perf_counter() - t0
    return run


def _fit_fold(job: FoldJob, fold: Fold, fold_seed: int, label: str) -> FoldRun:
    rec, cfg = job.rec, job.cfg
    _, test = fold.split(job.eval_windows)
    head_ = _fresh_head(job.head)
    aux = getattr(head_, "aux", None)  # a head with an auxiliary cycle target needs it in every batch
    dm = QuakeDataModule(rec, fold.train_cycles, test, cfg.data_config(job.eval_windows.length), seed=fold_seed,
                         aux=aux)
    head_.fit_targets(dm.train_targets())
    if aux is not None:  # its time_to_failure readout needs the training cycles' mean length
        head_.fit_cycle_length(dm.mean_cycle_length())
    module = QuakeModule(job.model_factory(head_.n_outputs), head_, scale=dm.scale, lr=cfg.lr,
                         weight_decay=cfg.weight_decay, augment=cfg.augment)
    # without an output folder the CSV log still exists, in a temporary folder, for the metrics table
    tmp = tempfile.TemporaryDirectory(prefix="quake-logs-") if job.log_dir is None else None
    log_dir = Path(tmp.name) if tmp is not None else job.log_dir
    trainer = make_trainer(cfg, log_dir, name=job.arm, version=f"fold_{fold.index}", label=label)
    fit_trainer(trainer, module, dm)
    # Lightning hands the module back on the CPU; the recalibration and the held-out predictions run
    # on the device it trained on (a no-op on CPU; on a GPU, ~840 windows per fold of the full recording)
    module.to(trainer.strategy.root_device)
    if cfg.bn_windows > 0:
        recalibrate_batchnorm(module, rec, dm.bn_windows(cfg.bn_windows), cfg.batch_size)
    metrics = read_metrics(trainer.logger.log_dir)
    if tmp is not None:
        tmp.cleanup()
    reads = predict_windows(module, rec, test, cfg.eval_batch_size)
    # estimates of an auxiliary cycle target are no time_to_failure readouts: columns of their own
    aux_reads = {k: reads.pop(k) for k in getattr(head_, "aux_readouts", ())}
    main = reads[head_.default_readout]
    extra = {k: v for k, v in reads.items() if k != head_.default_readout} if len(reads) > 1 else {}
    if extra:
        extra[head_.default_readout] = main
    oof = evaluation.oof_frame(job.arm, fold.index, test, main, **extra)
    for k, v in aux_reads.items():
        oof[cycle_targets.prediction_column(k)] = np.asarray(v, dtype=np.float64)
    metrics.insert(0, "fold", fold.index)
    metrics.insert(0, "arm", job.arm)
    ckpt = None
    if cfg.save_checkpoints and job.ckpt_dir is not None and trainer.is_global_zero:
        # everything load_module needs to rebuild the net from this file alone (see predict.py)
        meta = {"approach": job.approach, "arm": job.arm, "fold": fold.index, "seed": job.seed, "dataset": rec.name,
                "window_length": int(job.eval_windows.length), **rebuild_meta(job.model_factory, head_, module)}
        ckpt = save_checkpoint(module, Path(job.ckpt_dir) / f"fold_{fold.index}.pt", meta)
    return FoldRun(module, oof, metrics, 0.0, ckpt)


@dataclass
class CVResult:
    arm: str
    oof: pd.DataFrame       # OOF predictions, common format (+ prediction_<readout> columns)
    metrics: pd.DataFrame   # per fold and epoch: losses, MAEs, seconds, windows/s
    fold_seconds: list[float]
    checkpoints: list

    def mae_table(self, readouts: bool = True) -> pd.DataFrame:
        return evaluation.mae_table(self.oof, readouts=readouts)

    @property
    def seconds(self) -> float:
        return float(sum(self.fold_seconds))


def cross_validate(recording: Recording, model_factory, head="binned", folds: list[Fold] | None = None,
                   profile: profiles.Profile | None = None, seed: int = 0, arm: str | None = None,
                   approach: str | None = None, eval_windows: Windows | None = None, save: bool = True,
                   config: TrainConfig | None = None, verbose: bool = True, **overrides) -> CVResult:
    """Train ``model_factory(head.n_outputs)`` on each fold (fixed folds: :func:`evaluation.make_folds`
    unless given), predict the held-out cycles, and (``save``) write the run of ``arm`` (default:
    ``<model>_<head>``) of ``approach`` (default: the model's name) under ``data/<dataset>/results/``:
    ``oof_<arm>.csv``, ``metrics_<arm>.csv``, the fold checkpoints and the run's meta. ``overrides``
    change fields of the :class:`TrainConfig` built from ``profile`` (e.g. ``epochs=3``); without
    ``profile`` or ``config``: the default profile.

    Saved results appear only when every fold has finished (:class:`quake_lib.evaluation.StagedRun`):
    a run that fails or is interrupted leaves the previous complete ones as they were."""
    quiet()
    cfg = config if config is not None else TrainConfig.from_profile(profile or profiles.get("default"),
                                                                     **overrides)
    eval_windows = evaluation.eval_windows(recording) if eval_windows is None else eval_windows
    folds = evaluation.make_folds(recording, windows=eval_windows) if folds is None else folds
    evaluation.check_folds(folds, eval_windows)
    head_name = head if isinstance(head, str) else _fresh_head(head).name
    model_name = getattr(model_factory, "model_name", "model")
    arm = evaluation.check_arm(arm or f"{model_name}_{head_name}")
    # only rank 0 of a multi-GPU run writes results (the other ranks save nothing)
    stage = (evaluation.StagedRun(recording.name, arm, approach or model_name, seed, eval_windows.length)
             if save and _is_rank_zero() else None)
    with stage if stage is not None else contextlib.nullcontext():
        # the per-epoch logs are staged with the run; several GPUs' processes read rank 0's log, so there
        # they stay where every rank finds them
        distributed = "ddp" in trainer_kwargs(cfg)["strategy"]
        log_dir = (stage.logs if stage is not None and not distributed
                   else paths.results_dir(recording.name, seed) / "logs" if save else None)
        job = FoldJob(recording, model_factory, head, cfg, seed, arm, approach or model_name, eval_windows, log_dir,
                      stage.checkpoints if stage is not None else None)
        runs = []
        for i, fold in enumerate(folds):
            run = fit_fold(job, fold, label=f"{arm} fold {i + 1}/{len(folds)}")
            runs.append(run)
            if verbose:
                mae = (run.oof["prediction"] - run.oof["target"]).abs().mean()
                print(f"{arm} fold {fold.index}: MAE {mae:.3f} on {len(run.oof)} windows, "
                      f"{run.seconds:.1f} s", flush=True)
        res = CVResult(arm, pd.concat([r.oof for r in runs], ignore_index=True),
                       pd.concat([r.metrics for r in runs], ignore_index=True),
                       [r.seconds for r in runs], [r.checkpoint for r in runs])
        if stage is not None:
            saved = any(r.checkpoint is not None for r in runs)
            stage.commit(res.oof, res.metrics, meta={} if saved else None)
            res.checkpoints = [stage.final_path(p) for p in res.checkpoints]
    return res


def _is_rank_zero() -> bool:
    from lightning.pytorch.utilities.rank_zero import rank_zero_only
    return getattr(rank_zero_only, "rank", 0) == 0

