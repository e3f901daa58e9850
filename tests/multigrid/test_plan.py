"""Iteration phases: the schedule placed at iterations for any dataset size, and the sampler
that carries its shapes (rules, not snapshots)."""

import math
import os

import pytest

from slowfast.config import assert_and_infer_cfg, build_cfg
from slowfast.multigrid import apply_phase, build_schedule, init_cfg
from slowfast.multigrid.cfg_input import pyslowfast_rules
from slowfast.multigrid.plan import IterationPlan, pass_length
from slowfast.multigrid.sampler import ScheduledBatchSampler
from slowfast.utils.lr_policy import get_lr_at_epoch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KINETICS = "configs/Kinetics/SLOWFAST_8x8_R50_stepwise_multigrid.yaml"
DEMO = "configs/Synthetic/SLOWFAST_demo_multigrid.yaml"
CONFIGS = [
    (KINETICS,),
    (KINETICS, "MULTIGRID.FINE_TUNE_SHORT_CYCLE", True),
    (KINETICS, "MULTIGRID.WARMUP_UNIT", "iterations"),
    (KINETICS, "MULTIGRID.SHORT_CYCLE_RULE", "paper"),
    (KINETICS, "MULTIGRID.SHORT_CYCLE", False),
    (KINETICS, "MULTIGRID.LONG_CYCLE", False),
    (KINETICS, "MULTIGRID.SINGLE_LONG_CYCLE", True),
    ("configs/Kinetics/SLOWFAST_8x8_R50_cosine_multigrid.yaml",),
    ("configs/SSv2/SLOWFAST_16x8_R50_multigrid.yaml",),
    ("configs/Charades/SLOWFAST_16x8_R50_multigrid.yaml",),
    (DEMO,),
]
SIZES = [50, 77, 300, 600, 1_200, 2_400, 9_848, 240_436, 1_000_000]


def load(path=KINETICS, *opts):
    return assert_and_infer_cfg(build_cfg([os.path.join(ROOT, path)], [str(o) for o in opts]))


def config_id(c):
    return os.path.basename(c[0]).replace(".yaml", "") + "".join(f" {o}" for o in c[1:])


@pytest.fixture(params=CONFIGS, ids=config_id, scope="module")
def schedule(request):
    return build_schedule(init_cfg(load(*request.param)))


def test_the_iteration_unit_is_the_default_and_keeps_fractional_phases():
    s = build_schedule(load())
    assert s.unit == "iterations" and s.max_epoch == pytest.approx(239 * 1.5)
    assert any(not float(p.end).is_integer() for p in s.phases)
    assert build_schedule(load(), unit="epochs").max_epoch == 358


@pytest.mark.parametrize("num_videos", SIZES)
def test_no_phase_is_empty_and_each_keeps_its_share_within_one_iteration(schedule, num_videos):
    plan = IterationPlan(schedule, num_videos)
    assert len(plan.spans) == len(schedule.phases)
    for span in plan.spans:
        p = span.phase
        exact = p.num_epochs * num_videos / p.mean_batch_size
        assert span.num_iters >= 1
        assert abs(span.num_iters - exact) <= 1.0, (p.index, span.num_iters, exact)
    # Contiguous from 0 to the end; the epochs cover every iteration once, in order.
    assert plan.spans[0].start_iter == 0 and plan.spans[-1].end_iter == plan.num_iters
    assert all(a.end_iter == b.start_iter for a, b in zip(plan.spans, plan.spans[1:]))
    starts = plan.epoch_starts
    assert starts[0] == 0 and starts[-1] == plan.num_iters and list(starts) == sorted(starts)
    assert len(starts) == schedule.num_epochs + 1


@pytest.mark.parametrize("num_videos", [600, 9_848, 240_436])
def test_an_epoch_trains_about_one_pass_of_clips(schedule, num_videos):
    plan = IterationPlan(schedule, num_videos)
    biggest = max(max(sp.batch_sizes) for sp in plan.spans)
    for epoch in range(plan.num_epochs - 1):  # the last one may be partial
        clips = sum(b for b, _ in plan.batches(epoch))
        assert abs(clips - num_videos) <= 2 * biggest, (epoch, clips)


def test_iteration_phases_agree_with_whole_epochs_on_kinetics_within_one_epoch():
    cfg = init_cfg(load())
    exact = IterationPlan(build_schedule(cfg, unit="iterations"), 240_436)
    whole = build_schedule(cfg, unit="epochs")
    assert len(whole.phases) == len(exact.spans)  # nothing empty at this size
    for span, phase in zip(exact.spans, whole.phases):
        assert abs(exact.epoch_at(span.start_iter) - phase.start) <= 1.0


def test_whole_epoch_plan_is_pyslowfast_epoch_by_epoch():
    """Every epoch of a whole-epoch phase is one drop-last pass, and the LR of each iteration
    is get_lr_at_epoch(phase cfg, epoch + it / iters), PySlowFast's formula."""
    cfg = init_cfg(pyslowfast_rules(load(DEMO)))
    s = build_schedule(cfg)
    plan = IterationPlan(s, 600)
    for epoch in range(plan.num_epochs):
        start, end = plan.epoch_range(epoch)
        phase = s.phase_at(epoch)
        assert end - start == pass_length(tuple(b for b, _ in phase.short_cycle), 600)
        phase_cfg = apply_phase(cfg, phase)
        for it in (0, (end - start) // 2):
            expected = get_lr_at_epoch(phase_cfg, epoch + it / (end - start))
            assert plan.lr_at(start + it) == pytest.approx(expected, rel=1e-12)


def test_whole_epochs_empty_phases_on_small_data_iterations_do_not():
    cfg = init_cfg(pyslowfast_rules(load(DEMO)))
    whole = build_schedule(cfg)
    assert len(whole.phases) < len(whole.entries)  # PySlowFast's rounding empties some
    exact = build_schedule(init_cfg(load(DEMO)))
    assert len(exact.phases) == len(exact.entries)


def test_warmup_covers_its_share_of_iterations_and_joins_the_schedule():
    cfg = init_cfg(load(DEMO, "MULTIGRID.WARMUP_UNIT", "iterations"))
    plan = IterationPlan(build_schedule(cfg), 600)
    w = plan.warmup_iters
    assert w == round(plan.num_iters * cfg.SOLVER.WARMUP_EPOCHS / 12)
    lrs = [plan.lr_at(i) for i in range(w + 2)]
    assert lrs[0] == pytest.approx(cfg.SOLVER.WARMUP_START_LR)
    assert all(b > a for a, b in zip(lrs[:w], lrs[1:w]))
    phase = plan.phase_at(w)
    assert lrs[w] == pytest.approx(phase.solver.lr_at(plan.epoch_at(w)))


def test_warmup_in_epochs_lasts_warmup_epochs_of_the_schedule():
    cfg = init_cfg(load(DEMO))
    plan = IterationPlan(build_schedule(cfg), 600)
    assert plan.warmup_iters is None
    end = next(i for i in range(plan.num_iters) if plan.epoch_at(i) >= cfg.SOLVER.WARMUP_EPOCHS)
    lrs = [plan.lr_at(i) for i in range(end + 1)]
    assert lrs[0] == pytest.approx(cfg.SOLVER.WARMUP_START_LR)
    assert all(b > a for a, b in zip(lrs[:end], lrs[1:end]))
    assert lrs[end] == pytest.approx(cfg.SOLVER.BASE_LR * 8)  # the first phase's full LR


def test_lr_follows_the_phases_and_the_fine_tune_split():
    cfg = init_cfg(load(DEMO))
    s = build_schedule(cfg)
    plan = IterationPlan(s, 600)
    base_lr = cfg.SOLVER.BASE_LR
    for span in plan.spans[:-1]:
        mid = (span.start_iter + span.end_iter) // 2
        if plan.epoch_at(mid) >= cfg.SOLVER.WARMUP_EPOCHS:
            expected = base_lr * 0.1**span.phase.lr_stage * span.phase.batch_multiplier
            assert plan.lr_at(mid) == pytest.approx(expected)
    fine = plan.spans[-1]
    assert fine.phase.kind == "fine_tune" and len(fine.shapes) == 1  # no short cycle
    first, last = plan.lr_at(fine.start_iter), plan.lr_at(fine.end_iter - 1)
    assert first == pytest.approx(base_lr * 0.1) and last == pytest.approx(base_lr * 0.01)


def test_short_cycle_positions_cycle_inside_each_phase(schedule):
    plan = IterationPlan(schedule, 9_848)
    for span in plan.spans:
        n = len(span.shapes)
        got = [plan.batch_at(span.start_iter + j) for j in range(min(2 * n, span.num_iters))]
        want = [(span.batch_sizes[j % n], span.shapes[j % n]) for j in range(len(got))]
        assert got == want
        assert span.shapes[-1].crop_size == span.phase.crop_size
        assert all(sh.num_frames == span.phase.num_frames for sh in span.shapes)


def test_clean_fine_tune_keeps_the_rules_iterations_at_the_full_shape():
    with_short = IterationPlan(
        build_schedule(init_cfg(load(KINETICS, "MULTIGRID.FINE_TUNE_SHORT_CYCLE", True))), 240_436
    )
    clean = IterationPlan(build_schedule(init_cfg(load(KINETICS))), 240_436)
    a, b = with_short.spans[-1], clean.spans[-1]
    assert len(a.shapes) == 3 and len(b.shapes) == 1
    # The same share of all iterations (the whole schedule is then stretched to
    # EPOCH_FACTOR x the baseline's epochs), each at the full shape.
    share = a.num_iters / with_short.num_iters
    assert b.num_iters / clean.num_iters == pytest.approx(share, rel=1e-3)
    assert set(b.batch_sizes) == {64}


def test_paper_short_cycle_rule_gives_4x_2x_1x_in_every_stage():
    paper = build_schedule(load(KINETICS, "MULTIGRID.SHORT_CYCLE_RULE", "paper"))
    ours = build_schedule(load(KINETICS))
    for p in paper.phases:
        if len(p.short_cycle) == 3:
            assert [b // p.batch_size for b, _ in p.short_cycle] == [4, 2, 1]
            assert [c for _, c in p.short_cycle][:2] == [
                round(p.crop_size * 0.5),
                round(p.crop_size * 0.5**0.5),
            ]
    # PySlowFast's rule inside the 158-crop stages: 2x, 1x (crops relative to 224).
    first = ours.phases[0]
    assert [b // first.batch_size for b, _ in first.short_cycle] == [2, 1, 1]


def test_sampler_ranks_share_shapes_and_split_each_batch():
    plan = IterationPlan(build_schedule(init_cfg(load(DEMO))), 600)
    batches = plan.batches(0)
    runs = [
        list(ScheduledBatchSampler(batches, 600, seed=4, rank=r, world=2, epoch=3)) for r in (0, 1)
    ]
    first_shapes = [[[s for _, s, _ in b][:1] for b in run] for run in runs]
    assert first_shapes[0] == first_shapes[1]
    for (size, shape), b0, b1 in zip(batches, *runs):
        assert len(b0) == len(b1) == size // 2
        assert {s for _, s, _ in b0} == {shape}
    # No index is seen by both processes in the epoch (it needs more clips than the set has).
    seen = [{i for b in run for i, *_ in b} for run in runs]
    assert sum(b for b, _ in batches) > 600 and not seen[0] & seen[1]
    again = list(ScheduledBatchSampler(batches, 600, seed=4, rank=0, world=2, epoch=3))
    other = list(ScheduledBatchSampler(batches, 600, seed=4, rank=0, world=2, epoch=4))
    assert again == runs[0] and other != runs[0]


def test_sampler_streams_every_index_before_repeating_one():
    from slowfast.datasets.shape import ClipShape

    shape = ClipShape(4, 16, 16, 16, 1)
    batches = list(ScheduledBatchSampler([(7, shape)] * 5, 30, seed=0))
    flat = [i for b in batches for i, *_ in b]
    assert sorted(flat[:30]) == list(range(30)) and len(flat) == 35
    halves = [
        [
            i
            for b in ScheduledBatchSampler([(8, shape)] * 5, 30, seed=0, rank=r, world=2)
            for i, *_ in b
        ]
        for r in (0, 1)
    ]
    assert sorted(halves[0][:15] + halves[1][:15]) == list(range(30))
    with pytest.raises(ValueError, match="cannot be split evenly over 2 processes"):
        ScheduledBatchSampler([(3, shape)], 30, seed=0, world=2)


def test_sampler_cuts_several_clips_from_a_video_only_in_large_batches():
    from slowfast.datasets.shape import ClipShape

    shape = ClipShape(4, 16, 16, 16, 1)
    batches = [(32, shape), (16, shape), (8, shape), (4, shape), (12, shape)]
    sampler = ScheduledBatchSampler(batches, 100, seed=1, clips_per_decode=4, base_batch=4)
    assert [sampler.repeats(b) for b, _ in batches] == [4, 4, 2, 1, 3]
    out = list(sampler)
    for (size, _), batch in zip(batches, out):
        k = sampler.repeats(size)
        videos = [i for i, *_ in batch]
        assert len(batch) == size and len(set(videos)) == size // k
        assert all(videos.count(v) == k for v in set(videos))
        assert len({seed for *_, seed in batch}) == size  # every clip its own augmentation
    # Two processes: k divides each one's share (12 / 2 = 6 -> 3; 8 / 2 = 4 -> 2).
    halves = ScheduledBatchSampler(batches, 100, seed=1, world=2, clips_per_decode=4, base_batch=4)
    assert [halves.repeats(b) for b, _ in batches] == [4, 4, 2, 1, 3]
    assert [halves.repeats(b) for b in (12, 20)] == [3, 2]
    plain = list(ScheduledBatchSampler(batches, 100, seed=1))
    assert all(len({i for i, *_ in b}) == len(b) for b in plain)
    with pytest.raises(ValueError, match="clips_per_decode must be >= 1"):
        ScheduledBatchSampler(batches, 100, seed=1, clips_per_decode=0)


def test_phase_unit_and_rule_are_validated():
    from slowfast.config import ConfigError

    with pytest.raises(ConfigError, match="MULTIGRID.PHASE_UNIT.*'iteration'"):
        build_schedule(load(KINETICS, "MULTIGRID.PHASE_UNIT", "iteration"))
    with pytest.raises(ConfigError, match="MULTIGRID.SHORT_CYCLE_RULE"):
        build_schedule(load(KINETICS, "MULTIGRID.SHORT_CYCLE_RULE", "papers"))


def test_solver_keys_written_for_users_scripts():
    cfg = init_cfg(load(DEMO))
    assert cfg.SOLVER.MAX_EPOCH == 18 and cfg.SOLVER.STEPS[0] == 0
    assert all(b > a for a, b in zip(cfg.SOLVER.STEPS, cfg.SOLVER.STEPS[1:]))
    assert math.isclose(cfg.SOLVER.LRS[0], 8.0)
