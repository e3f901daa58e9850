"""What ``tools/run_net.py`` does: parse, validate once and freeze, then dry-run, train and/or test.

User mistakes (a bad config key, a missing file, a malformed annotation) end the process with
status 2 and a one-line message instead of a traceback, also when they happen inside a process
spawned for a GPU or started by torchrun. A job preempted by SIGTERM or SIGUSR1 writes a
checkpoint and ends with status 75 (:data:`~slowfast.utils.preemption.PREEMPTED_EXIT_CODE`); the
same command resumes it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from fvcore.common.config import CfgNode

from slowfast.config.errors import ConfigError
from slowfast.engine.config_check import check_cfg
from slowfast.utils.distributed import ChildUserError
from slowfast.utils.parser import load_config, parse_args, user_error
from slowfast.utils.preemption import PREEMPTED_EXIT_CODE, Preempted


def user_error_types() -> tuple[type[BaseException], ...]:
    """Exception types that mean "the user can fix this", printed without a traceback."""
    from slowfast.checkpoint import CheckpointMismatchError, UnsafeCheckpointError
    from slowfast.datasets.errors import DataError
    from slowfast.engine.trainer import TrainingError

    return (
        ConfigError,
        FileNotFoundError,
        DataError,
        TrainingError,
        CheckpointMismatchError,
        UnsafeCheckpointError,
        ChildUserError,
    )


def dry_run(cfg: CfgNode) -> int:
    """Print the validated config, build the model on the CPU and print its size."""
    from slowfast.models import build_model
    from slowfast.models.stats import gflops, params_count

    print(cfg.dump())
    model = build_model(cfg)  # on the CPU
    print(f"model: {cfg.MODEL.MODEL_NAME} ({cfg.MODEL.ARCH})")
    print(f"params: {params_count(model) / 1e6:.2f}M")
    for mode in ("train", "test"):
        try:
            print(f"GFLOPs ({mode} shape): {gflops(model, cfg, mode=mode):.2f}")
        except Exception as e:  # a model of a user's that fvcore cannot trace
            print(f"GFLOPs ({mode} shape): not available ({type(e).__name__}: {e})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``tools/run_net.py``; returns the process exit status."""
    args = parse_args(argv)
    errors = user_error_types()
    try:
        cfg = check_cfg(load_config(args))  # the one validation; the cfg is frozen from here
        if args.dry_run:
            return dry_run(cfg)
        from slowfast.engine.launch import run

        run(cfg, init_method=args.init_method, user_errors=errors)
    except errors as e:
        user_error(str(e))
    except Preempted as e:
        print(f"preempted: {e}", file=sys.stderr)
        return PREEMPTED_EXIT_CODE
    return 0
