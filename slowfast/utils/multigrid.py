"""PySlowFast's import path ``slowfast.utils.multigrid``, for training scripts written against
PySlowFast (``from slowfast.utils.multigrid import MultigridSchedule``): an alias of
:mod:`slowfast.multigrid.compat`. New code should use :mod:`slowfast.multigrid` directly.

One of the PySlowFast path aliases (docs/MIGRATING.md): it holds imports only, nothing in the
package imports it, and it is the layering rule's named exception (tests/test_layering.py).
"""

from slowfast.multigrid.compat import (
    MultigridSchedule,
    get_current_long_cycle_shape,
    print_schedule,
)

__all__ = ["MultigridSchedule", "get_current_long_cycle_shape", "print_schedule"]
