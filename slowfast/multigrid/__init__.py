"""Multigrid training (Wu et al., CVPR 2020): the schedule as data, and the config it rewrites.

:mod:`~slowfast.multigrid.schedule` and :mod:`~slowfast.multigrid.phase` hold the schedule as
data, :mod:`~slowfast.multigrid.builder` builds it from a config (read and checked by
:mod:`~slowfast.multigrid.cfg_input`, shaped by :mod:`~slowfast.multigrid.stages` and
:mod:`~slowfast.multigrid.timeline`), :mod:`~slowfast.multigrid.cfg_rewrite` writes it into a
config. The schedule placed at iterations for a dataset size is :mod:`slowfast.multigrid.plan`; the
batch sampler that hands its clip shapes to the dataset is :mod:`slowfast.multigrid.sampler`;
:mod:`slowfast.multigrid.compat` is PySlowFast's ``MultigridSchedule`` interface.
"""

from slowfast.multigrid.builder import build_schedule
from slowfast.multigrid.cfg_rewrite import apply_phase, init_cfg
from slowfast.multigrid.phase import BNSetting, Phase, SolverSetting
from slowfast.multigrid.schedule import Schedule

__all__ = [
    "BNSetting",
    "Phase",
    "Schedule",
    "SolverSetting",
    "apply_phase",
    "build_schedule",
    "init_cfg",
]
