"""The multigrid schedule: invariants over configs and variants, and the worked numbers."""

import logging
import math
import os
import re

import pytest

from slowfast.config import ConfigError, assert_and_infer_cfg, build_cfg
from slowfast.multigrid import apply_phase, build_schedule, init_cfg
from slowfast.multigrid.cfg_input import pyslowfast_rules

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KINETICS = "configs/Kinetics/SLOWFAST_8x8_R50_stepwise_multigrid.yaml"
COSINE = "configs/Kinetics/SLOWFAST_8x8_R50_cosine_multigrid.yaml"


def load(path=KINETICS, *opts):
    """The config under PySlowFast's schedule rules (whole epochs); test_plan.py covers the
    iteration phases."""
    cfg = assert_and_infer_cfg(build_cfg([os.path.join(ROOT, path)], [str(o) for o in opts]))
    return pyslowfast_rules(cfg)


VARIANTS = [
    (KINETICS,),
    (KINETICS, "MULTIGRID.SHORT_CYCLE", False),
    (KINETICS, "MULTIGRID.LONG_CYCLE", False),
    (KINETICS, "MULTIGRID.SINGLE_LONG_CYCLE", True),
    (KINETICS, "MULTIGRID.SINGLE_LONG_CYCLE", True, "MULTIGRID.SHORT_CYCLE", False),
    (KINETICS, "MULTIGRID.EPOCH_FACTOR", 1.0),
    (KINETICS, "MULTIGRID.EPOCH_FACTOR", 3.0, "MULTIGRID.EVAL_FREQ", 1),
    (KINETICS, "NUM_GPUS", 1, "NUM_SHARDS", 4),
    (KINETICS, "NUM_GPUS", 0, "TRAIN.BATCH_SIZE", 8),
    (COSINE,),
    (COSINE, "MULTIGRID.SHORT_CYCLE", False, "MULTIGRID.EPOCH_FACTOR", 2.0),
    ("configs/Kinetics/SLOWFAST_8x8_R50_cosine_multigrid_single_cycle.yaml",),
    ("configs/SSv2/SLOWFAST_16x8_R50_multigrid.yaml",),
    ("configs/SSv2/SLOWFAST_16x8_R50_multigrid.yaml", "MULTIGRID.EPOCH_FACTOR", 0.5),
    ("configs/Charades/SLOWFAST_16x8_R50_multigrid.yaml", "MULTIGRID.SINGLE_LONG_CYCLE", True),
]


def variant_id(v):
    return os.path.basename(v[0]).replace(".yaml", "") + "".join(f" {o}" for o in v[1:])


@pytest.fixture(params=VARIANTS, ids=variant_id)
def variant(request):
    cfg = load(*request.param)
    return cfg, build_schedule(cfg)


def test_phases_are_contiguous_from_zero_to_max_epoch(variant):
    cfg, s = variant
    assert s.phases[0].start == 0 and s.phases[-1].end == s.max_epoch
    for a, b in zip(s.phases, s.phases[1:]):
        assert a.start < a.end == b.start
    assert [p.index for p in s.phases] == list(range(len(s.phases)))
    assert abs(s.max_epoch - cfg.SOLVER.MAX_EPOCH * cfg.MULTIGRID.EPOCH_FACTOR) <= 1


def test_solver_steps_increase_and_fit(variant):
    cfg, s = variant
    if s.lr_policy == "cosine":
        assert s.steps == list(cfg.SOLVER.STEPS)
        return
    assert s.steps[0] == 0 and s.steps[-1] < s.max_epoch
    assert all(b > a for a, b in zip(s.steps, s.steps[1:]))
    assert len(s.lrs) >= len(s.steps)


def test_clip_volume_is_constant_within_a_stage(variant):
    """B x T x S^2 of every long-cycle shape and short-cycle sub-shape stays at the default's,
    up to the rounding of frames, crops and batch factors."""
    cfg, s = variant
    default = cfg.TRAIN.BATCH_SIZE * cfg.DATA.NUM_FRAMES * cfg.DATA.TRAIN_CROP_SIZE**2
    for p in s.phases:
        assert p.batch_size == p.batch_multiplier * cfg.TRAIN.BATCH_SIZE
        if s.long_cycle:
            assert p.batch_size * p.num_frames * p.crop_size**2 == pytest.approx(default, rel=0.02)
        for batch, crop in p.short_cycle:
            assert batch * p.num_frames * crop**2 == pytest.approx(
                p.batch_size * p.num_frames * p.crop_size**2, rel=0.05
            )


def test_learning_rate_is_stage_lr_times_batch_multiplier(variant):
    cfg, s = variant
    base, gamma = cfg.SOLVER.BASE_LR, cfg.SOLVER.GAMMA
    if not s.long_cycle:
        return
    if s.lr_policy == "cosine":
        for e in range(s.max_epoch):
            cosine = 0.5 * (1 + math.cos(math.pi * e / s.max_epoch)) * base
            assert s.lr_at(e) == pytest.approx(cosine * s.phase_at(e).batch_multiplier)
        return
    if s.single_long_cycle:
        stretched = [round(x * s.max_epoch / cfg.SOLVER.MAX_EPOCH) for x in cfg.SOLVER.STEPS]
        for e in range(s.max_epoch):
            stage = max(i for i, b in enumerate(stretched) if b <= e)
            want = base * gamma**stage * s.phase_at(e).batch_multiplier
            assert s.lr_at(e) == pytest.approx(want)
        return
    for p in s.phases:
        lrs = [s.lr_at(e) / base for e in range(p.start, p.end)]
        if p.kind == "long_cycle":
            assert lrs == pytest.approx([gamma**p.lr_stage * p.batch_multiplier] * len(lrs))
        else:  # fine-tuning: the previous stage's LR for its first half, then its own
            assert p.lr_stage == len(cfg.SOLVER.STEPS) - 1
            assert set(lrs) <= {gamma ** (p.lr_stage - 1), gamma**p.lr_stage}
            assert lrs[-1] == pytest.approx(gamma**p.lr_stage)
            assert lrs == sorted(lrs, reverse=True)


def test_bn_keeps_base_size_clips_per_group(variant):
    cfg, s = variant
    if not s.long_cycle:
        return
    processes = max(cfg.NUM_GPUS, 1) * cfg.NUM_SHARDS
    for p in s.phases:
        per_process = p.batch_size / processes
        groups = {
            "sub_batchnorm": per_process / p.bn.num_splits,
            "sync_batchnorm": per_process * p.bn.num_sync_devices,
            "batchnorm": per_process,
        }[p.bn.norm_type]
        assert groups == cfg.MULTIGRID.BN_BASE_SIZE


def test_sampling_rate_widens_with_fewer_frames(variant):
    cfg, s = variant
    for p in s.phases:
        if s.long_cycle:
            ratio = cfg.DATA.NUM_FRAMES // p.num_frames
            assert p.sampling_rate == cfg.DATA.SAMPLING_RATE * ratio
        else:
            assert p.sampling_rate == 0


def test_eval_epochs_per_phase(variant):
    cfg, s = variant
    if not s.long_cycle:
        assert s.eval_epochs is None
        return
    assert s.eval_epochs[-1] == s.max_epoch - 1
    for p in s.phases:
        inside = [e for e in s.eval_epochs if p.start <= e < p.end]
        assert p.end - 1 in inside
        assert 1 <= len(inside) <= cfg.MULTIGRID.EVAL_FREQ


def test_schedule_is_plain_data(variant):
    import json

    _, s = variant
    data = json.loads(json.dumps(s.to_dict()))
    assert len(data["phases"]) == len(s.phases)
    assert data["compute_ratio"] == pytest.approx(s.compute_ratio)
    rows = [line for line in str(s).splitlines() if re.match(r"\s*\d+\s+\d+-\d+\s", line)]
    assert [int(r.split()[0]) for r in rows] == [p.index for p in s.phases]


def test_kinetics_stepwise_numbers():
    cfg = load()
    s = build_schedule(cfg)
    assert len(s.phases) == 13 and s.max_epoch == 358
    assert [p.end for p in s.phases] == [
        73,
        110,
        142,
        158,
        205,
        228,
        248,
        259,
        291,
        308,
        322,
        329,
        358,
    ]
    assert [(p.batch_size, p.num_frames, p.crop_size) for p in s.phases[:4]] == [
        (512, 8, 158),
        (256, 16, 158),
        (128, 16, 224),
        (64, 32, 224),
    ]
    assert [p.kind for p in s.phases] == ["long_cycle"] * 12 + ["fine_tune"]
    assert s.phases[0].short_cycle == ((1024, 112), (512, 158), (512, 158))
    assert s.phases[2].short_cycle == ((512, 112), (256, 158), (128, 224))
    assert s.steps == [0, 73, 110, 142, 158, 205, 228, 248, 259, 291, 308, 322, 329, 343]
    assert s.lrs == pytest.approx(
        [8, 4, 2, 1, 0.8, 0.4, 0.2, 0.1, 0.08, 0.04, 0.02, 0.01, 0.01, 0.001]
    )
    assert s.compute_ratio == pytest.approx(0.2915, abs=1e-3)
    assert s.compute_saving == pytest.approx(3.43, abs=0.01)
    assert s.iteration_saving == pytest.approx(3.42, abs=0.01)
    assert sum(s.relative_iterations(p) for p in s.phases) == pytest.approx(s.iteration_ratio)


def test_long_cycle_only_schedule():
    s = build_schedule(load(KINETICS, "MULTIGRID.SHORT_CYCLE", False))
    assert len(s.phases) == 13 and s.max_epoch == 358
    assert s.entries[-1] == (3, (1, 32, 224), 358)
    # Without the short cycle a stage's epochs follow its multiplier alone: 8:4:2:1.
    first = [p.num_epochs for p in s.phases[:4]]
    assert first[0] / first[3] == pytest.approx(8, rel=0.15)
    assert 2.0 < s.compute_saving < s.iteration_saving + 0.05


def test_short_cycle_only_schedule():
    s = build_schedule(load(KINETICS, "MULTIGRID.LONG_CYCLE", False))
    (p,) = s.phases
    assert (p.start, p.end, p.kind) == (0, 358, "constant")
    assert p.short_cycle == ((256, 112), (128, 158), (64, 224))
    assert s.steps == [0, 141, 231, 294]
    assert s.lrs == [1, 0.1, 0.01, 0.001, 0.0001, 0.00001]


def test_single_long_cycle_schedule():
    cfg = load(KINETICS, "MULTIGRID.SINGLE_LONG_CYCLE", True)
    s = build_schedule(cfg)
    assert [p.kind for p in s.phases] == ["long_cycle"] * 4
    assert [p.cycle_stage for p in s.phases] == [0, 1, 2, 3]
    # Epochs in proportion to the average batch multipliers 32/3 : 16/3 : 14/3 : 7/3.
    weights = [32 / 3, 16 / 3, 14 / 3, 7 / 3]
    for p, w in zip(s.phases, weights):
        assert p.num_epochs == pytest.approx(358 * w / sum(weights), abs=1)
    # The baseline LR steps 94, 154, 196 at their stretched epochs, next to the phase starts.
    assert s.steps == [0, 141, 166, 231, 249, 294, 322]
    assert s.lr_at(140) == pytest.approx(0.1 * 8) and s.lr_at(141) == pytest.approx(0.01 * 8)
    assert s.lr_at(357) == pytest.approx(0.1 * 0.001)


def test_cosine_scales_the_lr_keys_per_phase():
    cfg = init_cfg(load(COSINE))
    s = build_schedule(cfg)
    assert s.max_epoch == 294 and len(s.phases) == 13
    first = apply_phase(cfg, s.phases[0])
    assert first.SOLVER.BASE_LR == pytest.approx(0.8)
    assert first.SOLVER.WARMUP_START_LR == pytest.approx(0.08)
    assert first.SOLVER.MAX_EPOCH == 294 and first.SOLVER.LR_POLICY == "cosine"
    last = apply_phase(first, s.phases[-1])
    assert last.SOLVER.BASE_LR == pytest.approx(0.1)
    # The schedule can be rebuilt from a config carrying a phase.
    assert build_schedule(first) == s and build_schedule(last) == s


def test_lr_matches_the_training_lr_policy():
    """What the trainer computes from an applied phase is what the schedule says."""
    from slowfast.utils.lr_policy import get_lr_at_epoch

    for path, opts in (
        (KINETICS, ()),
        (COSINE, ()),
        (KINETICS, ("MULTIGRID.SINGLE_LONG_CYCLE", True)),
    ):
        cfg = init_cfg(load(path, *opts))
        s = build_schedule(cfg)
        for e in range(int(cfg.SOLVER.WARMUP_EPOCHS), s.max_epoch, 7):
            applied = apply_phase(cfg, s.phase_at(e))
            assert get_lr_at_epoch(applied, e + 0.5) == pytest.approx(s.lr_at(e + 0.5))


def test_phase_at_boundaries():
    s = build_schedule(load())
    assert s.phase_at(0).index == 0 and s.phase_at(72).index == 0
    assert s.phase_at(73).index == 1 and s.phase_at(72.99).index == 0
    assert s.phase_at(357).index == 12
    assert s.phase_at(358) is s.phases[-1] and s.phase_at(10_000) is s.phases[-1]
    with pytest.raises(ValueError, match="epoch"):
        s.phase_at(-1)


def test_eval_epochs_of_the_first_phase():
    s = build_schedule(load())
    # 73 epochs, 3 evaluations: every 73 // 3 + 1 = 25 epochs counted back from epoch 72.
    assert [e for e in s.eval_epochs if e < 73] == [22, 47, 72]


def test_init_cfg_is_idempotent():
    cfg = load()
    once = init_cfg(cfg)
    assert cfg.SOLVER.MAX_EPOCH == 239 and cfg.MULTIGRID.DEFAULT_B == 0  # input untouched
    assert once.SOLVER.MAX_EPOCH == 358 and list(once.SOLVER.STEPS)[:2] == [0, 73]
    assert (once.MULTIGRID.DEFAULT_B, once.MULTIGRID.DEFAULT_T, once.MULTIGRID.DEFAULT_S) == (
        64,
        32,
        224,
    )
    assert list(once.MULTIGRID.DEFAULT_STEPS) == [0, 94, 154, 196]
    assert once.MULTIGRID.DEFAULT_MAX_EPOCH == 239
    assert init_cfg(once).dump() == once.dump()
    assert build_schedule(once) == build_schedule(cfg)


def test_short_cycle_only_rebuilds_from_an_initialised_config():
    cfg = load(
        "configs/SSv2/SLOWFAST_16x8_R50_multigrid.yaml",
        "MULTIGRID.LONG_CYCLE",
        False,
        "MULTIGRID.EPOCH_FACTOR",
        0.1,
    )
    s = build_schedule(cfg)
    assert s.max_epoch == 2 and s.steps == [0, 1]  # steps 0, 1, 1: the empty one is dropped
    assert s.lrs == [1, 0.01, 0.001, 0.0001, 0.00001]
    assert build_schedule(init_cfg(cfg)) == s


def test_baseline_lrs_unlike_gamma_are_reported(caplog, package_log):
    """Once, for the original config: an initialised one holds the rewritten LRS."""
    cfg = load(KINETICS, "SOLVER.LRS", "[1, 0.5, 0.25, 0.125]")
    initialised = init_cfg(cfg)
    with package_log(logging.WARNING, "slowfast.multigrid.cfg_input"):
        build_schedule(cfg)
        build_schedule(initialised)
    assert len([r for r in caplog.records if "SOLVER.GAMMA" in r.getMessage()]) == 1


def test_init_cfg_leaves_a_baseline_alone():
    cfg = load("configs/Kinetics/SLOWFAST_8x8_R50_stepwise.yaml")
    assert init_cfg(cfg).dump() == cfg.dump()
    s = build_schedule(cfg)
    assert s.mode == "off" and s.max_epoch == 239 and s.compute_saving == pytest.approx(1.0)


def test_apply_phase_writes_the_phase():
    cfg = init_cfg(load())
    s = build_schedule(cfg)
    out = apply_phase(cfg, s.phases[0])
    assert out is not cfg and cfg.TRAIN.BATCH_SIZE == 64
    assert (out.TRAIN.BATCH_SIZE, out.DATA.NUM_FRAMES, out.DATA.TRAIN_CROP_SIZE) == (512, 8, 158)
    assert out.MULTIGRID.LONG_CYCLE_SAMPLING_RATE == 8
    assert (out.BN.NORM_TYPE, out.BN.NUM_SPLITS, out.BN.NUM_SYNC_DEVICES) == ("sub_batchnorm", 8, 1)
    assert list(out.SOLVER.STEPS) == s.steps and out.SOLVER.MAX_EPOCH == 358
    assert out.SOLVER.BASE_LR == cfg.SOLVER.BASE_LR
    final = apply_phase(out, s.phases[-1])
    assert (final.TRAIN.BATCH_SIZE, final.DATA.NUM_FRAMES, final.DATA.TRAIN_CROP_SIZE) == (
        64,
        32,
        224,
    )
    assert (final.BN.NORM_TYPE, final.BN.NUM_SPLITS) == ("batchnorm", 1)
    assert final.MULTIGRID.LONG_CYCLE_SAMPLING_RATE == 2
    assert apply_phase(final, s.phases[-1]).dump() == final.dump()
    with pytest.raises(ConfigError, match="init_cfg"):
        apply_phase(load(), s.phases[0])


def test_bn_counts_every_process():
    s = build_schedule(load(KINETICS, "NUM_SHARDS", 4))  # 32 processes, 2 clips each at full size
    assert (s.phases[-1].bn.norm_type, s.phases[-1].bn.num_sync_devices) == ("sync_batchnorm", 4)
    assert s.phases[0].bn.norm_type == "sub_batchnorm" and s.phases[0].bn.num_splits == 2
    s = build_schedule(load(KINETICS, "NUM_GPUS", 0))  # one CPU process: 64 clips
    assert s.phases[-1].bn.num_splits == 8


@pytest.mark.parametrize(
    "opts, key",
    [
        (
            ("MULTIGRID.LONG_CYCLE", False, "MULTIGRID.SINGLE_LONG_CYCLE", True),
            "MULTIGRID.SINGLE_LONG_CYCLE",
        ),
        (("SOLVER.LR_POLICY", "steps"), "SOLVER.LR_POLICY"),
        (("SOLVER.STEPS", "[0]"), "SOLVER.STEPS"),
        (("SOLVER.STEPS", "[0, 94, 250]"), "SOLVER.STEPS"),
        (("SOLVER.STEPS", "[10, 94, 154]"), "SOLVER.STEPS"),
        (("MULTIGRID.LONG_CYCLE_FACTORS", "[(2, 1), (1, 1)]"), "MULTIGRID.LONG_CYCLE_FACTORS"),
        (("MULTIGRID.LONG_CYCLE_FACTORS", "[]"), "MULTIGRID.LONG_CYCLE_FACTORS"),
        (("MULTIGRID.SHORT_CYCLE_FACTORS", "[0.5, 1.5]"), "MULTIGRID.SHORT_CYCLE_FACTORS"),
        (("MULTIGRID.EVAL_FREQ", 0), "MULTIGRID.EVAL_FREQ"),
        (("MULTIGRID.BN_BASE_SIZE", 0), "MULTIGRID.BN_BASE_SIZE"),
    ],
)
def test_config_mistakes_name_the_key(opts, key):
    cfg = build_cfg([os.path.join(ROOT, KINETICS)], [str(o) for o in opts])
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        build_schedule(cfg)


def test_cosine_needs_cycle_boundaries_unless_single():
    cfg = load("configs/Kinetics/SLOWFAST_8x8_R50_cosine.yaml", "MULTIGRID.LONG_CYCLE", True)
    with pytest.raises(ConfigError, match=r"SOLVER\.STEPS.*cosine"):
        build_schedule(cfg)
    cfg.MULTIGRID.SINGLE_LONG_CYCLE = True
    assert len(build_schedule(cfg).phases) == 4


def test_config_rewritten_by_pyslowfast_is_refused():
    cfg = load()
    cfg.MULTIGRID.DEFAULT_B = 64  # what PySlowFast's init_multigrid leaves, without our keys
    with pytest.raises(ConfigError, match="DEFAULT_MAX_EPOCH"):
        build_schedule(cfg)


def test_the_report_gives_each_phase_its_own_first_and_last_lr():
    # The demo's fine-tuning phase is a quarter of an epoch long and spans two LR steps; its
    # row must not show the LR of the phase before it.
    cfg = build_cfg([os.path.join(ROOT, "configs/Synthetic/SLOWFAST_demo_multigrid.yaml")], [])
    schedule = build_schedule(init_cfg(cfg))
    rows = [ln for ln in str(schedule).splitlines() if re.match(r"^\s*\d+\s+[\d.]+-[\d.]+\s", ln)]
    assert len(rows) == len(schedule.phases)
    assert "fine-tune" in rows[-1] and "0.0025 -> 0.00025" in rows[-1]
    for row, phase in zip(rows, schedule.phases):
        lrs = re.search(r"\s(\d[\d.e-]*)(?: -> (\d[\d.e-]*))?\s+BN", row).groups()
        first = float(lrs[0])
        last = float(lrs[1]) if lrs[1] else first
        assert first == pytest.approx(schedule.lr_at(phase.start), rel=1e-2)
        assert last <= first  # the LR never rises inside a phase of this stepwise schedule
