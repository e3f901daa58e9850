"""tools/gradient_noise.py: the estimators on known answers, then the tool end to end on a tiny
model and dataset."""

from __future__ import annotations

import math
import os

import pytest
import torch

from sftools import gradient_noise as gn
from sftools.paths import CONFIGS_DIR
from slowfast.datasets.synthetic import make_dataset


def test_noise_stats_recover_a_known_gradient_and_covariance():
    """Batch gradients G + noise with covariance diag(1, 4): |G|^2 = 25 and tr(Sigma) = 5."""
    gen = torch.Generator().manual_seed(0)
    g_true = torch.tensor([3.0, 4.0], dtype=torch.float64)
    scale = torch.tensor([1.0, 2.0], dtype=torch.float64)
    grads = (
        g_true + scale * torch.randn(2, generator=gen, dtype=torch.float64) for _ in range(4000)
    )
    mean, grad_sq, trace, k = gn.noise_stats(grads)
    assert k == 4000
    assert grad_sq == pytest.approx(25.0, rel=0.02) and trace == pytest.approx(5.0, rel=0.05)
    assert mean.tolist() == pytest.approx([3.0, 4.0], abs=0.1)
    with pytest.raises(ValueError, match="at least 2 batch gradients, got 1"):
        gn.noise_stats([g_true])


def test_noise_scale_and_step_worth_follow_mccandlish():
    r = gn.ShapeNoise((32, 4, 45), 2.0, grad_sq=0.5, trace=1.0, mean=torch.zeros(1), batches=8)
    assert r.noise_scale == pytest.approx(64.0)  # B tr(Sigma_B) / |G|^2
    assert r.step_worth == pytest.approx(32 / (32 + 64))
    lost = gn.ShapeNoise((4, 16, 64), 2.1, grad_sq=-0.1, trace=1.0, mean=torch.zeros(1), batches=8)
    assert math.isinf(lost.noise_scale) and lost.step_worth == 0.0


def test_corrected_cosine_removes_the_noise_of_the_means():
    """Two noisy means of one direction (noise tr(Sigma)/K = 0.32 against |G|^2 = 1): the raw
    cosine is about 1 / 1.32, the corrected one about 1; a mean with more noise than signal
    gives no corrected cosine."""
    gen = torch.Generator().manual_seed(1)
    g_true = torch.zeros(400, dtype=torch.float64)
    g_true[0] = 1.0

    def shape(noise: float) -> gn.ShapeNoise:
        grads = [
            g_true + noise * torch.randn(400, generator=gen, dtype=torch.float64) for _ in range(50)
        ]
        mean, grad_sq, trace, k = gn.noise_stats(grads)
        return gn.ShapeNoise((4, 16, 64), 2.0, grad_sq, trace, mean, k)

    a, b = shape(0.2), shape(0.2)
    raw = float(a.mean @ b.mean) / float(a.mean.norm() * b.mean.norm())
    assert raw == pytest.approx(1 / 1.32, abs=0.08)
    assert gn.corrected_cosine(a, b) == pytest.approx(1.0, abs=0.1)
    assert gn.corrected_cosine(a, shape(0.5)) is None  # noise 100 / 50 = 2 against |G|^2 = 1


def test_stability_bound_of_momentum_sgd_on_a_quadratic():
    """Iterate PyTorch's SGD on f(x) = lam x^2 / 2 just under and just over the bound."""
    for nesterov in (False, True):
        bound = gn.stability_bound(0.9, nesterov)
        for factor, stable in ((0.98, True), (1.02, False)):
            x = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
            opt = torch.optim.SGD([x], lr=factor * bound / 10.0, momentum=0.9, nesterov=nesterov)
            for _ in range(3000):
                opt.zero_grad()
                (10.0 * x * x / 2).sum().backward()
                opt.step()
            assert (abs(float(x.detach())) < 1.0) == stable, (nesterov, factor)
    assert gn.stability_bound(0.9, False) == pytest.approx(3.8)
    assert gn.stability_bound(0.9, True) == pytest.approx(3.8 / 2.8)


def test_power_iteration_finds_the_top_eigenvalue():
    h = torch.diag(torch.tensor([1.0, 5.0, 2.0], dtype=torch.float64))
    assert gn.power_iteration(lambda v: h @ v, 3, 60) == pytest.approx(5.0, rel=1e-6)
    # A negative eigenvalue of larger magnitude: the top of the spectrum is still found.
    h = torch.diag(torch.tensor([-9.0, 3.0, 1.0], dtype=torch.float64))
    assert gn.power_iteration(lambda v: h @ v, 3, 80) == pytest.approx(-9.0, rel=1e-6)
    assert gn.top_eigenvalue(lambda v: h @ v, 3, 80) == pytest.approx(3.0, rel=1e-6)


def test_shape_cfg_follows_the_multigrid_rules(tiny):
    """Batch, frames and crop as asked; the jitter's lower end scaled with the crop; fewer frames
    draw a sampling rate up to T0 / T times the default (as a multigrid phase sets it)."""
    from slowfast.config import assert_and_infer_cfg, build_cfg

    cfg = assert_and_infer_cfg(build_cfg([tiny], []))  # 8 frames at rate 2, crop 32, [40, 48]
    coarse = gn.shape_cfg(cfg, (16, 2, 16))
    assert coarse.TRAIN.BATCH_SIZE == 16 and coarse.DATA.NUM_FRAMES == 2
    assert coarse.DATA.TRAIN_CROP_SIZE == 16
    assert list(coarse.DATA.TRAIN_JITTER_SCALES) == [20, 48]
    assert coarse.MULTIGRID.LONG_CYCLE_SAMPLING_RATE == 8
    assert gn.shape_cfg(cfg, (2, 8, 32)).MULTIGRID.LONG_CYCLE_SAMPLING_RATE == 0


def test_parse_shape_names_the_bad_value():
    assert gn.parse_shape("32x4x45") == (32, 4, 45)
    for bad in ("32x4", "0x4x45", "axbxc"):
        with pytest.raises(Exception, match="CLIPSxFRAMESxCROP"):
            gn.parse_shape(bad)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    """A config file for a tiny SlowFast on a few tiny synthetic videos."""
    root = tmp_path_factory.mktemp("gradient_noise")
    data = str(root / "data")
    make_dataset(
        "kinetics",
        data,
        4,
        {"train": 8, "val": 2, "test": 2},
        seed=5,
        size=(64, 48),
        workers=1,
        seconds=1.4,
    )
    cfg = root / "tiny.yaml"
    cfg.write_text(
        f"_BASE_: {os.path.join(CONFIGS_DIR, 'Synthetic', 'SLOWFAST_tiny.yaml')}\n"
        f"DATA:\n  PATH_TO_DATA_DIR: {data}\n  PATH_PREFIX: {data}\n  DECODED_CACHE_MB: 64\n"
        "MODEL:\n  NUM_CLASSES: 4\n"
    )
    return str(cfg)


def test_the_tool_measures_each_shape_and_restores_the_weights(tiny, capsys):
    from slowfast.config import assert_and_infer_cfg, build_cfg

    assert (
        gn.main(
            [
                "--cfg",
                tiny,
                "--shape",
                "2x8x32",
                "--shape",
                "4x4x23",
                "--batches",
                "3",
                "--sharpness",
            ]
        )
        == 0
    )
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("shape (BxTxS)") and "lambda_max < 1.36" in table[0]  # Nesterov
    assert table[1].startswith("2x8x32") and table[2].startswith("4x4x23")
    assert len(table[2].split()) == 9  # shape, 5 noise columns, cosine, lambda_max, stable LR

    cfg = assert_and_infer_cfg(build_cfg([tiny], []))
    torch.manual_seed(cfg.RNG_SEED)
    from slowfast.models import build_model

    model = build_model(cfg)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    first = gn.measure_shape(model, cfg, (2, 8, 32), 3)
    assert first.batches == 3 and first.loss > 0 and first.trace > 0
    assert first.mean.numel() == sum(p.numel() for p in model.parameters())
    value = gn.sharpness(model, cfg, (2, 8, 32), iters=3)
    assert math.isfinite(value)
    after = model.state_dict()
    for key, tensor in before.items():
        if "running" in key or "num_batches" in key:
            continue  # BN statistics move in training mode; the weights must not
        assert torch.equal(after[key], tensor), key
    momenta = {m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm3d)}
    assert momenta and 0.0 not in momenta


def test_a_single_batch_is_refused(tiny):
    with pytest.raises(SystemExit):
        gn.main(["--cfg", tiny, "--shape", "2x8x32", "--batches", "1"])
