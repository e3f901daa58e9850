"""Checkpoints: the :class:`Checkpointer`, one module per file format behind one loading entry,
the sub-BN <-> BN state layout, and the checkpoint / evaluation period policy.

* :mod:`.checkpointer`: :class:`Checkpointer` (save / load / resume_or_load) and the file layout;
* :mod:`.checkpointables`: :class:`RNGState`, :class:`StateFunctions`;
* :mod:`.startup`: what training and testing load at start, by the config keys;
* :mod:`.loader` (the loading entry) over :mod:`.io` (``.pyth``), :mod:`.caffe2` (``.pkl``),
  :mod:`.safetensors_file` (``.safetensors``) and :mod:`.inflate` (2-D -> 3-D);
* :mod:`.safe_pickle`: what a pickled checkpoint may hold (nothing that runs code) and the
  opt-in for trusted legacy files;
* :mod:`.sub_bn`: the sub-BN state layout; :mod:`.mismatch`: strict-load diagnostics;
* :mod:`.paths`: file names and listing; :mod:`.policy`: checkpoint / eval epochs;
* :mod:`.compat`: PySlowFast's ``save_checkpoint`` / ``load_checkpoint`` signatures.
"""

from slowfast.checkpoint.checkpointables import RNGState, StateFunctions
from slowfast.checkpoint.checkpointer import Checkpointer
from slowfast.checkpoint.compat import load_checkpoint, save_checkpoint
from slowfast.checkpoint.mismatch import CheckpointMismatchError
from slowfast.checkpoint.paths import (
    get_checkpoint_dir,
    get_last_checkpoint,
    get_path_to_checkpoint,
    has_checkpoint,
    list_checkpoints,
)
from slowfast.checkpoint.policy import is_checkpoint_epoch, is_eval_epoch
from slowfast.checkpoint.safe_pickle import TRUST_ENV, UnsafeCheckpointError

__all__ = [
    "CheckpointMismatchError",
    "Checkpointer",
    "RNGState",
    "StateFunctions",
    "TRUST_ENV",
    "UnsafeCheckpointError",
    "get_checkpoint_dir",
    "get_last_checkpoint",
    "get_path_to_checkpoint",
    "has_checkpoint",
    "is_checkpoint_epoch",
    "is_eval_epoch",
    "list_checkpoints",
    "load_checkpoint",
    "save_checkpoint",
]
