"""Multigrid training (Wu et al., CVPR 2020): the schedule as data, and the config it rewrites.

The schedule placed at iterations for a dataset size is :mod:`slowfast.multigrid.plan`; the batch
sampler that hands its clip shapes to the dataset is :mod:`slowfast.multigrid.sampler`.
"""

from slowfast.multigrid.schedule import (
    BNSetting,
    Phase,
    Schedule,
    SolverSetting,
    apply_phase,
    build_schedule,
    init_cfg,
)

__all__ = [
    "BNSetting",
    "Phase",
    "Schedule",
    "SolverSetting",
    "apply_phase",
    "build_schedule",
    "init_cfg",
]
