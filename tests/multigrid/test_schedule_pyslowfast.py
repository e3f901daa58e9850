"""Our schedule against PySlowFast's numbers, recorded in fixtures/pyslowfast_schedules.json.

The fixture holds, for PySlowFast's Kinetics / SSv2 / Charades multigrid configs under several
modes, epoch factors and process counts, what PySlowFast's ``slowfast/utils/multigrid.py``
(commit 287ec00) computed: its schedule list, the rewritten SOLVER keys and, for every epoch, the
config values after ``update_long_cycle`` (docs/MULTIGRID.md says how it was produced).

Two intended differences are mapped, not ignored: TRAIN.BATCH_SIZE is global here but per
machine in PySlowFast, so a NUM_SHARDS=k case runs here with k times the batch (the same batch
per process) and expects k times PySlowFast's batch sizes; and BN.NUM_SPLITS /
BN.NUM_SYNC_DEVICES are compared only where the norm type uses them (PySlowFast leaves stale
values in the other one).
"""

import json
import os

import pytest

from sftools.pyslowfast_worker import EPOCH_KEYS
from slowfast.config import assert_and_infer_cfg, build_cfg
from slowfast.multigrid import apply_phase, build_schedule, init_cfg
from slowfast.multigrid.cfg_input import pyslowfast_rules
from slowfast.multigrid.compat import MultigridSchedule

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "fixtures", "pyslowfast_schedules.json"
)
with open(FIXTURE) as f:
    CASES = json.load(f)["cases"]
OK_CASES = sorted(k for k, c in CASES.items() if "error" not in c)
CRASH_CASES = sorted(k for k, c in CASES.items() if "error" in c)


def load(case):
    opts = [str(v) for v in case["overrides"]]
    shards = int(dict(zip(opts[::2], opts[1::2]))["NUM_SHARDS"])
    cfg = build_cfg([os.path.join(ROOT, case["config"])], opts)
    cfg.TRAIN.BATCH_SIZE *= shards
    cfg.TEST.BATCH_SIZE *= shards
    return pyslowfast_rules(assert_and_infer_cfg(cfg)), shards


def pyslowfast_lr(steps, lrs, max_epoch, epoch):
    """PySlowFast's get_step_index: the last step at or before the epoch wins."""
    bounds = steps + [max_epoch]
    for ind, step in enumerate(bounds):  # noqa: B007 (ind is read after the loop)
        if epoch < step:
            break
    return lrs[ind - 1]


def expected_values(values, shards):
    out = dict(values)
    out["TRAIN.BATCH_SIZE"] *= shards
    norm = out["BN.NORM_TYPE"]
    if norm != "sub_batchnorm":
        out.pop("BN.NUM_SPLITS")
    if norm != "sync_batchnorm":
        out.pop("BN.NUM_SYNC_DEVICES")
    return out


def our_values(updates):
    # The keys the fixture records of every epoch (as the script that makes it lists them).
    return expected_values({k: updates[k] for k in EPOCH_KEYS}, 1)


def test_fixture_covers_the_promised_cases():
    names = {k.split("/")[0] for k in CASES}
    modes = {k.split("/")[1] for k in CASES}
    assert names == {"kinetics", "ssv2", "charades"}
    assert modes == {"long_short", "short_only", "long_only"}
    assert len(OK_CASES) == 72 and len(CRASH_CASES) == 3


@pytest.mark.parametrize("key", OK_CASES)
def test_schedule_solver_and_eval_epochs_match(key):
    case = CASES[key]
    cfg, shards = load(case)
    schedule = build_schedule(cfg)
    assert schedule.max_epoch == case["max_epoch"]
    if case["schedule"] is None:
        assert schedule.entries == () and schedule.eval_epochs is None
        assert schedule.steps == case["steps"] and schedule.lrs == case["lrs"]
    else:
        assert [[s, list(shape), end] for s, shape, end in schedule.entries] == case["schedule"]
        assert schedule.eval_epochs == tuple(case["eval_epochs"])
        assert schedule.eval_epochs == tuple(case["checkpoint_epochs"])
        # Same LR at every epoch; ours lists no step with an empty interval.
        for epoch in range(schedule.max_epoch):
            theirs = pyslowfast_lr(case["steps"], case["lrs"], case["max_epoch"], epoch)
            assert schedule.lr_at(epoch) == theirs * cfg.SOLVER.BASE_LR
        kept = [
            i
            for i, s in enumerate(case["steps"])
            if s < (case["steps"][i + 1 :] + [case["max_epoch"]])[0]
        ]
        assert schedule.steps == [case["steps"][i] for i in kept]
        assert schedule.lrs == [case["lrs"][i] for i in kept]
    initialised = init_cfg(cfg)
    b, t, s = case["default_bts"]
    assert (
        initialised.MULTIGRID.DEFAULT_B,
        initialised.MULTIGRID.DEFAULT_T,
        initialised.MULTIGRID.DEFAULT_S,
    ) == (b * shards, t, s)
    assert list(initialised.SOLVER.STEPS) == schedule.steps
    assert initialised.SOLVER.MAX_EPOCH == case["max_epoch"]


@pytest.mark.parametrize("key", OK_CASES)
def test_every_epoch_matches_through_apply_phase(key):
    case = CASES[key]
    cfg, shards = load(case)
    schedule = build_schedule(cfg)
    for run in case["epochs"]:
        want = expected_values(run["values"], shards)
        for epoch in range(run["start"], run["end"]):
            assert our_values(schedule.phase_at(epoch).cfg_updates()) == want, epoch
    applied = apply_phase(init_cfg(cfg), schedule.phase_at(case["epochs"][0]["start"]))
    assert applied.TRAIN.BATCH_SIZE == case["epochs"][0]["values"]["TRAIN.BATCH_SIZE"] * shards


@pytest.mark.parametrize("key", OK_CASES)
def test_compat_class_replays_pyslowfast(key):
    """The training-loop calls PySlowFast makes, on our compat class, give the same cfg values
    and report a change at the same epochs."""
    case = CASES[key]
    cfg, shards = load(case)
    multigrid = MultigridSchedule()
    cfg = multigrid.init_multigrid(cfg)
    assert multigrid.schedule == (
        None
        if case["schedule"] is None
        else [(s, shape, end) for s, shape, end in case["schedule"]]
    )
    long_cycle = cfg.MULTIGRID.LONG_CYCLE
    if long_cycle:
        cfg, changed = multigrid.update_long_cycle(cfg, cur_epoch=0)
        assert changed
    changed_epochs = []
    runs = iter(case["epochs"])
    run = next(runs)
    for epoch in range(cfg.SOLVER.MAX_EPOCH):
        if long_cycle:
            cfg, changed = multigrid.update_long_cycle(cfg, epoch)
            if changed:
                changed_epochs.append(epoch)
        if epoch >= run["end"]:
            run = next(runs)
        got = {k: cfg[k.split(".")[0]][k.split(".")[1]] for k in run["values"]}
        assert expected_values(got, 1) == expected_values(run["values"], shards), epoch
    assert changed_epochs == case["changed_epochs"]


@pytest.mark.parametrize("key", CRASH_CASES)
def test_long_cycle_only_works_where_pyslowfast_crashed(key):
    case = CASES[key]
    assert case["error"]["type"] == "IndexError"
    assert "all_shapes[-1][2]" in case["error"]["line"]
    cfg, _ = load(case)
    schedule = build_schedule(cfg)
    assert schedule.mode == "long"
    assert all(len(p.short_cycle) == 1 for p in schedule.phases)
    final = schedule.phases[-1]
    assert final.kind == "fine_tune"
    assert (final.batch_size, final.num_frames, final.crop_size) == (
        cfg.TRAIN.BATCH_SIZE,
        cfg.DATA.NUM_FRAMES,
        cfg.DATA.TRAIN_CROP_SIZE,
    )
