"""The CPC approach: shapes, the InfoNCE loss, pre-training, pretrained weights, freezing, CV smoke, probes."""
import math

import numpy as np
import pytest
import torch

from quake_lib import evaluation as ev
from quake_lib import models
from quake_lib.models.cpc import (
    ARConfig,
    Autoregressive,
    CPCBody,
    CPCBodyConfig,
    CPCConfig,
    CPCNet,
    Encoder,
    EncoderConfig,
    InfoNCE,
    InfoNCEConfig,
    latent_receptive_field,
    load_pretrained,
    sample_negatives,
    save_pretrained,
)
from quake_lib.profiles import PretrainConfig
from quake_lib.train import cross_validate
from quake_lib.train.contrastive import pretrain, random_crops, step_table
from quake_lib.train.probe import ProbeConfig, locate, probe_cv

TINY_ENC = EncoderConfig(decimate=2, lowpass_taps=15, channels=(8, 8, 16), kernels=(8, 8, 4), strides=(4, 4, 4))
TINY_AR = ARConfig(hidden=16)
TINY = CPCConfig(encoder=TINY_ENC, ar=TINY_AR, infonce=InfoNCEConfig(steps=4, n_negatives=15))


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def loudness_segments(n=24, length=16_384, seed=0):
    """Segments whose loudness differs from one to the next, with decaying bursts inside: the
    future of a segment is recognizable among other segments' latents."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, length), np.int16)
    for i in range(n):
        sd = np.exp(rng.uniform(0, np.log(40)))
        x = sd * rng.standard_normal(length)
        for s in rng.integers(0, length - 2000, 3):
            x[s:s + 2000] += 20 * sd * np.exp(-np.arange(2000) / 400) * rng.standard_normal(2000)
        out[i] = np.clip(np.round(x), -32000, 32000)
    return out


# ---------------------------------------------------------------- shapes


def test_shapes_and_receptive_field():
    enc = Encoder(TINY_ENC)
    x = torch.randn(3, 1, 4096)
    z = enc(x)
    assert TINY_ENC.stride == 128 and z.shape == (3, 16, 32)
    c = Autoregressive(16, TINY_AR)(z)
    assert c.shape == (3, 32, 16)
    assert latent_receptive_field(TINY_ENC) == (1 + 7 + 7 * 4 + 3 * 16) * 2 + 14
    body = CPCBody(16, CPCBodyConfig(encoder=TINY_ENC, ar=TINY_AR))
    assert body(x).shape == (3, 16)
    assert body.features(x).shape == (3, len(body.config.pool) * 16)


def test_encoder_is_causal():
    """A latent never depends on samples after its own stride: changing the end of the window
    leaves the earlier latents alone."""
    enc = Encoder(TINY_ENC).eval()
    x = torch.randn(1, 1, 4096)
    y = x.clone()
    y[..., 2048 + TINY_ENC.lowpass_taps:] += 100.0
    a, b = enc(x), enc(y)
    assert torch.allclose(a[..., :2048 // 128 - 1], b[..., :2048 // 128 - 1])
    assert not torch.allclose(a[..., -1], b[..., -1])


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError, match="input_mode"):
        Encoder(EncoderConfig(input_mode="log"))
    with pytest.raises(ValueError, match="cannot predict 4 steps"):
        InfoNCE(16, 16, InfoNCEConfig(steps=4))(torch.randn(2, 4, 16), torch.randn(2, 16, 4))
    with pytest.raises(ValueError, match="readout"):
        CPCBody(16, CPCBodyConfig(encoder=TINY_ENC, ar=TINY_AR, readout="tree"))
    with pytest.raises(FileNotFoundError, match="pretrained"):
        load_pretrained("/nonexistent/cpc.pt")


# ---------------------------------------------------------------- InfoNCE


@pytest.mark.parametrize("mode", ["batch", "sequence"])
def test_negatives_never_include_the_positive(mode):
    g = torch.Generator().manual_seed(0)
    batch, steps, k, n_neg = 4, 40, 3, 15
    n_pred = steps - 8
    for _ in range(20):
        pool, keep = sample_negatives(batch, steps, n_pred, n_neg, k, mode, g)
        assert keep.shape == (batch, n_pred, n_neg + 1)
        assert (keep.sum(-1) == n_neg).all()  # exactly n_neg negatives for every prediction
        full = pool.expand(batch, n_neg + 1) if pool.dim() == 1 else pool
        for b in range(batch):
            for t in range(n_pred):
                negs = full[b][keep[b, t]]
                assert (negs != b * steps + t + k).all()
                assert len(set(negs.tolist())) == n_neg
                if mode == "sequence":
                    assert ((negs // steps) == b).all()


def test_infonce_at_chance():
    nce = InfoNCE(8, 8, InfoNCEConfig(steps=3, n_negatives=31))
    torch.manual_seed(0)
    for p in nce.predictors:  # every score equal: the loss is exactly log(32), nothing is picked
        torch.nn.init.zeros_(p.weight)
    out = nce(torch.randn(8, 64, 8), torch.randn(8, 8, 64))
    assert float(out.loss.detach()) == pytest.approx(math.log(32), abs=1e-5) == pytest.approx(nce.chance_loss)
    assert (out.step_accuracy == 0).all()
    nce = InfoNCE(8, 8, InfoNCEConfig(steps=3, n_negatives=31))  # random scores: accuracy near chance
    accs = torch.stack([nce(torch.randn(8, 64, 8), torch.randn(8, 8, 64)).step_accuracy for _ in range(30)])
    assert float(accs.mean()) == pytest.approx(nce.chance, abs=0.01)
    assert nce.chance == pytest.approx(1 / 32)


@pytest.mark.parametrize("mode", ["batch", "sequence"])
def test_infonce_is_near_perfect_on_a_predictable_sequence(mode):
    """Contexts that hold the next K latents: a selector predictor finds every positive."""
    torch.manual_seed(0)
    batch, steps, dim, K = 6, 48, 16, 3
    z = torch.nn.functional.normalize(torch.randn(batch, steps + K, dim), dim=-1)
    c = torch.cat([z[:, k:k + steps] for k in range(1, K + 1)], dim=-1)   # c_t = (z_t+1, .., z_t+K)
    nce = InfoNCE(K * dim, dim, InfoNCEConfig(steps=K, n_negatives=15, negatives=mode))
    with torch.no_grad():
        for k, p in enumerate(nce.predictors):
            p.weight.zero_()
            p.weight[:, k * dim:(k + 1) * dim] = 20 * torch.eye(dim)
    out = nce(c, z[:, :steps].transpose(1, 2))
    assert (out.step_accuracy > 0.99).all()
    assert float(out.loss.detach()) < 0.05 * nce.chance_loss


# ---------------------------------------------------------------- pre-training, weights, freezing


def test_tiny_pretraining_lowers_the_loss(tmp_path):
    segs = loudness_segments()
    cfg = PretrainConfig(crop=4096, epochs=4, crops_per_epoch=256, batch_size=16, val_crops=32, lr=2e-2,
                         val_fraction=0.25)
    res = pretrain(segs, TINY, cfg, seed=0, log_dir=tmp_path)
    m = res.metrics
    assert len(m) == 4 and res.n_val_segments == 6
    chance = math.log(16)
    assert m["val_loss"].iloc[-1] < 0.95 * chance
    assert m["train_loss"].iloc[-1] < m["train_loss"].iloc[0]
    steps = step_table(m)
    assert sorted(steps["step"].unique()) == [1, 2, 3, 4]
    last = steps[steps["epoch"] == 3]
    assert last["accuracy"].mean() > 1.5 / 16  # above chance (1/16) after 64 steps
    assert (tmp_path / "cpc_pretrain" / "seed_0" / "metrics.csv").exists()
    # the module keeps its trainer and data module, but not the segments (a copy of ~0.7 GB on the
    # full-size data that lived as long as the module did)
    data = res.module.trainer.datamodule
    assert data.draw is None and data.val_x is None


def test_random_crops_stay_inside_segments():
    segs = np.arange(3 * 100, dtype=np.int16).reshape(3, 100)
    x = random_crops(segs, 50, 10, np.random.default_rng(0))
    assert x.shape == (50, 10)
    assert ((x[:, 1:] - x[:, :-1]) == 1).all() and ((x // 100) == (x[:, :1] // 100)).all()
    with pytest.raises(ValueError, match="segments"):
        random_crops(segs, 5, 200, np.random.default_rng(0))


def test_pretrained_weights_round_trip_into_the_body(tmp_path):
    torch.manual_seed(1)
    net = CPCNet(TINY)
    path = save_pretrained(net, tmp_path / "w" / "pretrained.pt", {"seed": 1, "scale": 2.5})
    assert sorted(p.name for p in path.parent.iterdir()) == ["pretrained.pt"]  # no temporary left
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["meta"] == {"seed": 1, "scale": 2.5}
    assert not any(k.startswith("infonce.") for k in ckpt["state_dict"])
    # the file's architecture wins over the body's own encoder / ar settings
    body = CPCBody(16, CPCBodyConfig(pretrained=str(path)))
    assert body.encoder.config == TINY_ENC
    for k, v in net.encoder.state_dict().items():
        assert torch.equal(body.encoder.state_dict()[k], v)
    for k, v in net.ar.state_dict().items():
        assert torch.equal(body.ar.state_dict()[k], v)
    bad = tmp_path / "bad.pt"
    torch.save({"weights": 1}, bad)
    with pytest.raises(ValueError, match="not a CPC pretrained file"):
        CPCBody(16, CPCBodyConfig(pretrained=str(bad)))


def test_freezing_really_freezes(tmp_path):
    path = save_pretrained(CPCNet(TINY), tmp_path / "p.pt")
    body = CPCBody(16, CPCBodyConfig(pretrained=str(path), freeze=True))
    frozen = {k: v.clone() for k, v in body.state_dict().items() if k.startswith(("encoder.", "ar."))}
    head_before = body.readout[1].weight.clone()
    opt = torch.optim.AdamW([p for p in body.parameters()], lr=0.1, weight_decay=0.1)
    for _ in range(3):
        body(torch.randn(4, 1, 4096)).logsumexp(-1).sum().backward()
        assert all(p.grad is None for p in [*body.encoder.parameters(), *body.ar.parameters()])
        opt.step()
        opt.zero_grad()
    assert all(torch.equal(body.state_dict()[k], v) for k, v in frozen.items())
    assert not torch.equal(body.readout[1].weight, head_before)
    assert models.n_parameters(body) == sum(p.numel() for p in body.readout.parameters())


# ---------------------------------------------------------------- downstream through cross_validate


def test_cross_validate_smoke_with_a_frozen_pretrained_body(tmp_path, rec, windows):
    path = save_pretrained(CPCNet(TINY), tmp_path / "p.pt")
    factory = models.factory("cpc", pretrained=str(path), freeze=True, readout="linear")
    folds = ev.make_folds(rec, n_folds=2, windows=windows)
    res = cross_validate(rec, factory, "binned", folds, seed=0, eval_windows=windows, arm="cpc_tiny",
                         verbose=False, epochs=1, windows_per_epoch=16, batch_size=8, threads=1)
    oof = ev.load_oof(rec.name, "cpc_tiny")
    assert len(oof) == len(windows) and np.allclose(oof["prediction"], oof["prediction_median"])
    assert {"train_loss", "val_loss"} <= set(res.metrics.columns)


def test_probe_cv_gives_oof_rows_and_curves(rec, windows):
    folds = ev.make_folds(rec, n_folds=3, windows=windows)
    rng = np.random.default_rng(0)
    feats = np.c_[windows.targets, rng.standard_normal((len(windows), 3))].astype(np.float32)
    res = probe_cv(feats, windows, feats, windows, folds, "probe_tiny",
                   ProbeConfig(kind="mlp", iterations=40, curve_every=10), seed=0)
    assert len(res.oof) == len(windows) and set(res.oof["fold"]) == {0, 1, 2}
    assert list(res.curves.columns) == ["fold", "iteration", "train_loss", "held_out_loss"]
    # the first feature is the target itself: the probe must beat the constant
    const = np.abs(res.oof["target"] - np.median(windows.targets)).mean()
    assert (res.oof["prediction"] - res.oof["target"]).abs().mean() < 0.7 * const
    with pytest.raises(ValueError, match="not all on the training grid"):
        locate(windows.subset(slice(0, 3)), windows)


def test_a_fine_tuned_checkpoint_rebuilds_without_the_pretrained_file(tmp_path):
    from quake_lib.train import QuakeModule, make_head
    from quake_lib.train.predict import load_module, rebuild_meta, save_checkpoint

    # the pretrained file's architecture differs from the registered default (TINY vs DEFAULT)
    path = save_pretrained(CPCNet(TINY), tmp_path / "p.pt")
    factory = models.factory("cpc", pretrained=str(path))
    head = make_head("binned")
    module = QuakeModule(factory(head.n_outputs), head, scale=3.0).eval()
    ckpt = save_checkpoint(module, tmp_path / "fold_0.pt", rebuild_meta(factory, head, module))
    path.unlink()  # a submission must not need it: the checkpoint holds the weights
    rebuilt, meta = load_module(ckpt)
    assert meta["model_config"]["pretrained"] is None
    x = torch.randint(-50, 50, (2, 8192), dtype=torch.int16)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), module(x))


@pytest.mark.parametrize("batch", [1, 3, 1000])
def test_clip_statistics_in_batches_match_the_whole_array(batch):
    """Chapter 5's clipping table is computed a few segments at a time (2,624 full-size segments at once
    took ~10 GB); whatever the batch, the table is that of the whole array at once."""
    from quake_lib.studies.cpc_design import clip_statistics
    from quake_lib.train.data import normalize

    rng = np.random.default_rng(0)
    seg = (rng.standard_t(2, size=(7, 5_000)) * 20).clip(-30_000, 30_000).astype(np.int16)
    scale = 6.0
    x = normalize(torch.from_numpy(seg), scale).squeeze(1).numpy().astype(np.float64)
    beyond = np.abs(x) > 10.0
    want = [100 * beyond.mean(), 100 * (x ** 2)[beyond].sum() / (x ** 2).sum(), 100 * beyond.any(axis=1).mean(),
            np.abs(x).max()]
    got = clip_statistics(seg, scale, batch=batch)
    assert got.tolist() == pytest.approx(np.round(want, 3).tolist())
    assert 0 < got.iloc[0] < 100  # the data does cross the bound: the test can fail
    with pytest.raises(ValueError, match="segments"):
        clip_statistics(seg[0], scale)


def test_a_saved_probe_reloads_and_predicts_its_own_oof_rows(tmp_path, rec, windows):
    """A probe's run keeps its encoder and input scale beside the fold readouts: rebuilt by the approach's
    ``load``, each fold's readout gives, from the raw held-out windows, the predictions of its OOF rows."""
    from quake_lib import profiles
    from quake_lib.approaches import cpc, protocol
    from quake_lib.train.probe import pooled_features

    pretrained = save_pretrained(CPCNet(TINY), tmp_path / "p.pt")
    torch.manual_seed(0)
    body = CPCBody(16, CPCBodyConfig(pretrained=str(pretrained), freeze=True))
    scale = 30.0
    x = pooled_features(body, rec, windows, scale)
    feats = cpc.FeatureSet(windows, x, windows, x)
    folds = ev.make_folds(rec, n_folds=2, windows=windows)
    cpc.run_probes(feats, folds, profiles.get("quick"), seed=0, dataset=rec.name, kinds=("linear",),
                   pretrained=pretrained, scale=scale)
    pretrained.unlink()  # the run needs its own copy only
    run = protocol.load(rec.name, "cpc_probe_linear")
    assert (run.approach, run.window_length, len(run.models)) == ("cpc", windows.length, 2)
    oof = ev.load_oof(rec.name, "cpc_probe_linear")
    for k, model in enumerate(run.models):
        _, te = folds[k].masks(windows)
        got = model.predict(run.prepare(rec.read(windows.subset(te))))
        want = oof[oof["fold"] == k].sort_values("start")
        np.testing.assert_allclose(got.value, want["prediction"], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(got.lower, want["prediction_q10"], rtol=1e-5, atol=1e-5)
