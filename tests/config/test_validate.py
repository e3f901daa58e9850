"""The one validation pass: names checked against the registries, messages that name the key,
the value and the allowed values, and the frozen cfg that only a multigrid phase rewrites."""

import pytest

from slowfast.config import ConfigError, assert_and_infer_cfg, build_cfg, thawed, validate_cfg
from slowfast.config.validate import Choices
from slowfast.datasets.decoder import DECODER_REGISTRY
from slowfast.engine.config_check import allowed_choices, check_cfg
from slowfast.engine.losses import LOSS_REGISTRY
from slowfast.utils.lr_policy import LR_POLICY_REGISTRY
from slowfast.utils.optimizer import OPTIMIZER_REGISTRY
from slowfast.utils.registry import Registry


@pytest.mark.parametrize(
    "key, registry",
    [
        ("MODEL.LOSS_FUNC", LOSS_REGISTRY),
        ("SOLVER.LR_POLICY", LR_POLICY_REGISTRY),
        ("SOLVER.OPTIMIZING_METHOD", OPTIMIZER_REGISTRY),
        ("DATA.DECODING_BACKEND", DECODER_REGISTRY),
    ],
)
def test_allowed_values_are_the_registries(key, registry):
    assert allowed_choices()[key].names == tuple(registry.names())
    with pytest.raises(ConfigError) as e:
        check_cfg(build_cfg([], [key, "nope"]))
    msg = str(e.value)
    assert msg.startswith(f"{key}: unknown value 'nope'; allowed: ")
    assert all(name in msg for name in registry.names())


def test_every_loss_in_the_message_is_accepted():
    for name in LOSS_REGISTRY.names():
        check_cfg(build_cfg([], ["MODEL.LOSS_FUNC", name]))


def test_registering_a_name_makes_it_valid(monkeypatch):
    monkeypatch.setattr(LOSS_REGISTRY, "_obj_map", dict(LOSS_REGISTRY._obj_map))
    LOSS_REGISTRY.register_as("my_loss")(lambda scores, labels: scores.sum())
    assert check_cfg(build_cfg([], ["MODEL.LOSS_FUNC", "my_loss"])).MODEL.LOSS_FUNC == "my_loss"


def test_typo_gets_the_closest_name():
    with pytest.raises(
        ConfigError,
        match=r"MODEL.LOSS_FUNC: .*'cross_entropie'.*did you mean "
        r"'cross_entropy'",
    ):
        check_cfg(build_cfg([], ["MODEL.LOSS_FUNC", "cross_entropie"]))
    with pytest.raises(
        ConfigError,
        match=r"BN.NORM_TYPE: .*'sub_batchnrom'.*allowed: batchnorm, "
        r"sub_batchnorm, sync_batchnorm; did you mean "
        r"'sub_batchnorm'",
    ):
        check_cfg(build_cfg([], ["BN.NORM_TYPE", "sub_batchnrom"]))


def test_dataset_names_follow_pyslowfast_capitalisation():
    assert check_cfg(build_cfg([], ["TRAIN.DATASET", "ssv2"])).TRAIN.DATASET == "ssv2"
    with pytest.raises(
        ConfigError,
        match=r"TEST.DATASET: unknown value 'kinetic'; allowed: "
        r"Charades, Kinetics, Ssv2; did you mean 'Kinetics'",
    ):
        check_cfg(build_cfg([], ["TEST.DATASET", "kinetic"]))


def test_model_name_message_says_how_to_register():
    with pytest.raises(
        ConfigError,
        match=r"MODEL.MODEL_NAME: .*'ResNett'.*SlowFast.*"
        r"SLOWFAST_EXTRA_MODULES",
    ):
        check_cfg(build_cfg([], ["MODEL.MODEL_NAME", "ResNett"]))


def test_validate_cfg_takes_the_table_as_an_argument():
    cfg = build_cfg([], ["MODEL.HEAD_ACT", "softmax", "MODEL.LOSS_FUNC", "x"])
    assert validate_cfg(cfg, {}) is cfg  # no table: no name check
    assert assert_and_infer_cfg(cfg) is cfg
    with pytest.raises(ConfigError, match="MODEL.LOSS_FUNC: unknown value 'x'; allowed: a, b"):
        validate_cfg(cfg, {"MODEL.LOSS_FUNC": ["b", "a"]})
    fold = {"TRAIN.DATASET": Choices(("Kinetics",), fold=str.capitalize)}
    validate_cfg(build_cfg([], ["TRAIN.DATASET", "kinetics"]), fold)


def test_rules_moved_from_the_components():
    with pytest.raises(ConfigError, match="TEST.NUM_SPATIAL_CROPS: must be 1 or 3, got 2"):
        check_cfg(build_cfg([], ["TEST.NUM_SPATIAL_CROPS", "2"]))
    with pytest.raises(ConfigError, match=r"SOLVER.STEPS must start at 0 .*'steps'"):
        check_cfg(build_cfg([], ["SOLVER.LR_POLICY", "steps", "SOLVER.STEPS", "[5, 10]"]))
    with pytest.raises(ConfigError, match="MODEL.ARCH: 'x3dd' is in neither"):
        check_cfg(build_cfg([], ["MODEL.ARCH", "x3dd"]))
    with pytest.raises(ConfigError, match="SOLVER.NESTEROV: needs SOLVER.MOMENTUM > 0"):
        check_cfg(build_cfg([], ["SOLVER.DAMPENING", "0.1"]))


def test_check_cfg_freezes_and_thawed_reopens():
    cfg = check_cfg(build_cfg([]))
    assert cfg.is_frozen()
    with pytest.raises(AttributeError):
        cfg.SOLVER.BASE_LR = 1.0
    with thawed(cfg):
        cfg.SOLVER.BASE_LR = 1.0
    assert cfg.is_frozen() and cfg.SOLVER.BASE_LR == 1.0
    loose = build_cfg([])
    with thawed(loose):
        pass
    assert not loose.is_frozen()  # thawed restores the state it found


def test_multigrid_phase_applies_to_a_frozen_cfg():
    from slowfast.multigrid import apply_phase, build_schedule, init_cfg

    cfg = check_cfg(
        build_cfg(
            [],
            [
                "MULTIGRID.LONG_CYCLE",
                "True",
                "MULTIGRID.SHORT_CYCLE",
                "True",
                "DATA.NUM_FRAMES",
                "32",
                "SOLVER.MAX_EPOCH",
                "8",
                "SOLVER.STEPS",
                "[0, 4, 6]",
                "SOLVER.LRS",
                "[1, 0.1, 0.01]",
                "SOLVER.LR_POLICY",
                "steps_with_relative_lrs",
            ],
        )
    )
    ready = init_cfg(cfg)
    assert ready.is_frozen() and ready.MULTIGRID.DEFAULT_B == cfg.TRAIN.BATCH_SIZE
    phase = build_schedule(ready).phases[0]
    switched = apply_phase(ready, phase)
    assert switched.is_frozen() and switched.DATA.NUM_FRAMES == phase.num_frames
    assert cfg.MULTIGRID.DEFAULT_B == 0  # the input is left as it was


def test_registry_register_as():
    reg = Registry("TEST")
    reg.register_as("b-name")(int)
    reg.register_as("a")(str)
    assert reg.names() == ["a", "b-name"] and reg.get("b-name") is int
