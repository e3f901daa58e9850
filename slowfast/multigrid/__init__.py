"""Multigrid training (Wu et al., CVPR 2020): the schedule as data, and the config it rewrites.

The short-cycle batch sampler lives in :mod:`slowfast.multigrid.short_cycle` (it needs torch and
is not imported here).
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
