"""PySlowFast's import path ``slowfast.models.losses`` (``import slowfast.models.losses as
losses``), for scripts written against PySlowFast: ``get_loss_func(name)(reduction="mean")``
gives the loss of MODEL.LOSS_FUNC, as PySlowFast's does. The losses live in
:mod:`slowfast.engine.losses` (``LOSS_REGISTRY``).

One of the PySlowFast path aliases (docs/MIGRATING.md): it holds imports only, nothing in the
package imports it, and it is a named exception of the layering rule (tests/test_layering.py).
"""

from slowfast.engine.losses import LOSS_REGISTRY
from slowfast.engine.losses import loss_constructor as get_loss_func

__all__ = ["LOSS_REGISTRY", "get_loss_func"]
