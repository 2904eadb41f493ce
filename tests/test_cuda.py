"""CUDA: every network of the registry trains a step in bf16, the project's own fit path trains on the GPU in
bf16-mixed, and a checkpoint written from a GPU module loads on a machine without one.

Every test skips, saying why, where ``torch.cuda.is_available()`` is false (CI, the 2-core machines). On a GPU
machine: ``pytest -q --noconftest tests/test_cuda.py`` (``benchmarks/device_check.py`` runs it so).
``--noconftest`` because conftest.py imports the report machinery (papermill & co.), which a bare GPU image
may lack; nothing here needs conftest's fixtures. Each test takes seconds on a GPU.
"""
import contextlib

import numpy as np
import pytest
import torch
from tiny_data import LENGTH, TINY

from quake_lib import evaluation, models, profiles
from quake_lib.approaches import registry, wave_cnn
from quake_lib.data import datasets
from quake_lib.models.cpc import CPCConfig, CPCNet
from quake_lib.profiles import PretrainConfig
from quake_lib.train import BinnedHead, QuakeModule, save_checkpoint
from quake_lib.train import fit as fit_module
from quake_lib.train.data import normalize
from quake_lib.train.predict import load_module, predict_windows, rebuild_meta

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
DEVICE = "cuda"  # one name for it: a dry run of these tests' logic on a CPU sets it to "cpu"


def heavy_tailed(n: int, length: int, seed: int = 0) -> torch.Tensor:
    """int16 windows like the signal: Student t with 3 d.o.f. (sd ~5 counts) around 4.5, as the benchmarks.
    torch's StudentT takes no generator, so t = z / sqrt(chi2_3 / 3) from one seeded generator."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, length, generator=gen)
    chi2 = torch.randn(3, n, length, generator=gen).pow(2).sum(0)
    t = z / torch.sqrt(chi2 / 3)
    return (t * 3 + 4.5).clamp(-5000, 5000).round().to(torch.int16)


def check_gradients(module: torch.nn.Module) -> None:
    """Every gradient finite and some non-zero. Parameters without a gradient are allowed: the WaveNet's
    last residual 1x1 conv feeds nothing (only its skip output is used), on the CPU as on the GPU."""
    grads = {n: p.grad for n, p in module.named_parameters() if p.grad is not None}
    assert grads, "no parameter received a gradient"
    bad = [n for n, g in grads.items() if not torch.isfinite(g).all()]
    assert not bad, f"non-finite gradients in {bad[:5]}"
    assert any(g.abs().sum() > 0 for g in grads.values())


@pytest.mark.parametrize("approach", [a for a in registry.names("network") if registry.get(a).model])
def test_registry_network_trains_a_step_in_bf16_on_cuda(approach):
    torch.manual_seed(0)
    head = BinnedHead()
    body = models.factory(registry.get(approach).model)(head.n_outputs)
    module = QuakeModule(body, head, scale=3.0).to(DEVICE).train()
    raw = heavy_tailed(4, evaluation.WINDOW).to(DEVICE)  # a full 150k window: the size the chapters train on
    y = torch.linspace(0.5, 12.0, 4, device=DEVICE)
    with torch.autocast(DEVICE, dtype=torch.bfloat16):
        out = module(raw)
        loss = head.loss(out, y)
    assert out.shape == (4, head.n_outputs) and out.device.type == DEVICE
    assert torch.isfinite(loss), f"{approach}: loss {loss.item()}"
    loss.backward()
    check_gradients(module)


def test_cpc_pretraining_network_trains_a_step_in_bf16_on_cuda():
    torch.manual_seed(0)
    net = CPCNet(CPCConfig()).to(DEVICE).train()
    raw = heavy_tailed(4, PretrainConfig().crop).to(DEVICE)
    gen = torch.Generator(device=DEVICE).manual_seed(0)
    with torch.autocast(DEVICE, dtype=torch.bfloat16):
        out, c = net(normalize(raw, 3.0), generator=gen)
    assert torch.isfinite(out.loss) and torch.isfinite(c.float()).all()
    out.loss.backward()
    check_gradients(net)


@pytest.fixture(scope="module")
def quick_rec(tmp_path_factory):
    """The ``quick`` dataset, generated into a private data folder (~1.5 s): nothing is written into data/."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QUAKE_DATA_DIR", str(tmp_path_factory.mktemp("data")))
        yield datasets.prepare("quick")


def test_quick_training_runs_on_the_gpu_in_bf16(quick_rec, monkeypatch):
    """Chapter 3's own call (wave_cnn.cross_validate, quick profile) on one fold: the trainer it builds
    must be on CUDA in bf16-mixed, the predictions finite, and the saved fold model must rebuild on the CPU."""
    trainers = []
    real = fit_module.make_trainer

    def spy(*args, **kwargs):  # the trainer the fit path builds, to ask where it ran
        trainers.append(real(*args, **kwargs))
        return trainers[-1]

    monkeypatch.setattr(fit_module, "make_trainer", spy)
    windows = evaluation.eval_windows(quick_rec)
    fold = evaluation.make_folds(quick_rec, windows=windows)[0]
    _, held = fold.split(windows)  # one fold's held-out windows as the grid: check_folds accepts one fold
    torch.cuda.reset_peak_memory_stats()
    # bn_windows=32: the profile's 256 windows would cost more than the training; the recalibration and
    # the held-out predictions run on the GPU too (fit_fold moves the module back after Lightning's teardown)
    res = wave_cnn.cross_validate(quick_rec, [fold], profiles.get("quick"), seed=0, arms=("wave_cnn_binned",),
                                  eval_windows=held, bn_windows=32, verbose=False)
    (trainer,) = trainers
    assert trainer.strategy.root_device.type == DEVICE
    assert trainer.precision == "bf16-mixed"
    assert torch.cuda.max_memory_allocated() > 0
    assert np.isfinite(res.metrics["train_loss"]).all()
    pred = res.oof["prediction"].to_numpy()
    assert len(pred) == len(held) and np.isfinite(pred).all()

    path = res.checkpoints[0]
    state = torch.load(path, weights_only=True)["state_dict"]  # no map_location: as a CPU-only machine loads it
    assert {t.device.type for t in state.values()} == {"cpu"}
    module, _ = load_module(path)
    readout = module.head.default_readout
    on_gpu = predict_windows(module, quick_rec, held, device=DEVICE)[readout]  # bf16 autocast
    # the OOF predictions came from these weights on the GPU (a CPU-made OOF would differ by bf16's rounding)
    np.testing.assert_allclose(on_gpu, pred, atol=1e-3, err_msg="OOF predictions differ from the checkpoint's "
                               "on the GPU: were they made elsewhere (on the CPU, in float32)?")
    on_cpu = predict_windows(module, quick_rec, held, device="cpu")[readout]
    assert np.isfinite(on_cpu).all()
    # bf16 keeps 8 bits of mantissa in the logits: the median readout moves by far less than a second
    assert np.abs(on_gpu - on_cpu).mean() < 0.5


@contextlib.contextmanager
def exact_float32():
    """No TF32 in matmuls and convolutions for the block: the GPU then computes what the CPU does."""
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def test_checkpoint_saved_from_a_gpu_module_loads_on_the_cpu(tmp_path):
    torch.manual_seed(0)
    head = BinnedHead()
    module = QuakeModule(TINY(head.n_outputs), head, scale=3.0).to(DEVICE).eval()
    path = save_checkpoint(module, tmp_path / "fold_0.pt", rebuild_meta(TINY, head, module))
    ckpt = torch.load(path, weights_only=True)  # no map_location: CUDA tensors in it would stay on CUDA
    assert {t.device.type for t in ckpt["state_dict"].values()} == {"cpu"}
    cpu_module, meta = load_module(path)
    assert meta["model"] == "wave_cnn" and next(cpu_module.parameters()).device.type == "cpu"
    raw = heavy_tailed(3, LENGTH, seed=1)
    with torch.no_grad(), exact_float32():
        on_gpu = module(raw.to(DEVICE)).cpu()
        on_cpu = cpu_module(raw)
    torch.testing.assert_close(on_cpu, on_gpu, rtol=1e-4, atol=1e-4)
