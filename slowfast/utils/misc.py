"""PySlowFast's import path ``slowfast.utils.misc`` (``import slowfast.utils.misc as misc``), for
scripts written against PySlowFast: its helpers that this project has, under their PySlowFast
names. New code should import them from where they live (named below).

One of the PySlowFast path aliases (docs/MIGRATING.md): it holds imports only, nothing in the
package imports it, and it is a named exception of the layering rule (tests/test_layering.py).
"""

from slowfast.checkpoint.policy import is_eval_epoch
from slowfast.models.norm import aggregate_sub_bn_stats
from slowfast.models.stats import log_model_info, params_count
from slowfast.utils.job import launch_job

__all__ = [
    "aggregate_sub_bn_stats",
    "is_eval_epoch",
    "launch_job",
    "log_model_info",
    "params_count",
]
