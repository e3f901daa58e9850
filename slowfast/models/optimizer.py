"""PySlowFast's import path ``slowfast.models.optimizer`` (``import slowfast.models.optimizer as
optim``), for scripts written against PySlowFast: an alias of :mod:`slowfast.utils.optimizer`
and :mod:`slowfast.utils.lr_policy` under PySlowFast's names and argument orders.

One of the PySlowFast path aliases (docs/MIGRATING.md): it holds imports only and nothing in
the package imports it (tests/test_layering.py).
"""

from slowfast.utils.lr_policy import get_epoch_lr, set_lr
from slowfast.utils.optimizer import construct_optimizer, get_param_groups

__all__ = ["construct_optimizer", "get_epoch_lr", "get_param_groups", "set_lr"]
