"""PySlowFast's import path ``slowfast.utils.checkpoint`` (``import slowfast.utils.checkpoint as
cu``), for scripts written against PySlowFast: an alias of :mod:`slowfast.checkpoint` with
PySlowFast's function names and signatures. New code should use
:class:`slowfast.checkpoint.Checkpointer`.

One of the PySlowFast path aliases (docs/MIGRATING.md): it holds imports only, nothing in the
package imports it, and it is a named exception of the layering rule (tests/test_layering.py).
"""

from slowfast.checkpoint.compat import (
    load_checkpoint,
    load_test_checkpoint,
    load_train_checkpoint,
    save_checkpoint,
)
from slowfast.checkpoint.inflate import inflate_state_dict as inflate_weight
from slowfast.checkpoint.paths import (
    get_checkpoint_dir,
    get_last_checkpoint,
    get_path_to_checkpoint,
    has_checkpoint,
)
from slowfast.checkpoint.policy import is_checkpoint_epoch
from slowfast.checkpoint.sub_bn import sub_bn_to_bn_state as sub_to_normal_bn

__all__ = [
    "get_checkpoint_dir",
    "get_last_checkpoint",
    "get_path_to_checkpoint",
    "has_checkpoint",
    "inflate_weight",
    "is_checkpoint_epoch",
    "load_checkpoint",
    "load_test_checkpoint",
    "load_train_checkpoint",
    "save_checkpoint",
    "sub_to_normal_bn",
]
