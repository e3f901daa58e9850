"""Starting a job's processes and ending them cleanly: :func:`launch_job` runs a function in
every process of this machine (spawning NUM_GPUS processes as PySlowFast does, or in place under
torchrun), forwards the preemption signals to spawned children, turns a child's error into one
report for the parent, and leaves the process group only when every rank is done.
"""

from __future__ import annotations

import datetime
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import torch.distributed as dist
import torch.multiprocessing as mp
from fvcore.common.config import CfgNode
from torch.multiprocessing.spawn import ProcessException

from slowfast.utils.distributed import (
    ChildUserError,
    JobFailedError,
    dist_timeout,
    get_backend,
    get_world_size,
    init_distributed,
    is_initialized,
    is_torchrun,
)
from slowfast.utils.preemption import PREEMPT_SIGNALS, PREEMPTED_EXIT_CODE, Preempted

__all__ = ["ChildUserError", "JobFailedError", "launch_job", "shutdown"]


def shutdown(timeout_s: float = 120.0) -> None:
    """Leave the process group once every rank has finished: a barrier (bounded by
    ``timeout_s``) then the group's destruction, so that no rank tears down its connections
    while a peer still uses them (which can abort the peer at exit)."""
    if not is_initialized():
        return
    try:
        if get_world_size() > 1:
            if get_backend() == "gloo":
                dist.monitored_barrier(timeout=datetime.timedelta(seconds=timeout_s))
            else:
                dist.barrier()
    finally:
        dist.destroy_process_group()


def _worker(
    local_rank: int,
    cfg: CfgNode,
    init_method: str,
    func: Callable[..., Any],
    backend: str | None,
    errors: Any = None,
    user_errors: tuple[type[BaseException], ...] = (),
) -> Any:
    """One process of the job: join the group, run ``func(cfg=cfg)`` and return its result;
    a spawned child (``errors`` given) reports how it failed to the parent."""
    ok = False
    try:
        init_distributed(cfg, local_rank, init_method, backend)
        result = func(cfg=cfg)
        ok = True
        return result
    except (Preempted, *user_errors) as err:
        # Every rank stops together on preemption: leave the group cleanly then too.
        ok = isinstance(err, Preempted)
        if errors is None:
            raise
        # A spawned child: report the one-line message and exit with the status that a single
        # process would have (the parent shows the message without a traceback).
        kind = "preempted" if isinstance(err, Preempted) else "user"
        errors.put((time.time(), local_rank, kind, str(err)))
        raise SystemExit(PREEMPTED_EXIT_CODE if kind == "preempted" else 2) from None
    except BaseException:
        if errors is not None:
            # Report when it happened: peers of a crashed process fail soon after with their
            # own (secondary) errors, and the parent should show the first one.
            errors.put((time.time(), local_rank, "error", traceback.format_exc()[-16000:]))
        raise
    finally:
        if ok:
            shutdown(dist_timeout().total_seconds())
        elif is_initialized():
            dist.destroy_process_group()


class _ForwardSignals:
    """While spawned children run, pass the preemption signals the parent gets on to them (a
    container runtime signals only the first process)."""

    def __init__(self, processes: list[Any]):
        self.processes = processes
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> _ForwardSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in PREEMPT_SIGNALS:
                self.previous[sig] = signal.signal(sig, self._forward)
        return self

    def _forward(self, signum: int, frame: Any) -> None:
        for process in self.processes:
            if process.is_alive():
                os.kill(process.pid, signum)

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def _spawn(
    cfg: CfgNode,
    init_method: str,
    func: Callable[..., Any],
    daemon: bool,
    backend: str | None,
    user_errors: tuple[type[BaseException], ...],
) -> None:
    errors = mp.get_context("spawn").SimpleQueue()
    context = mp.start_processes(
        _worker,
        nprocs=cfg.NUM_GPUS,
        args=(cfg, init_method, func, backend, errors, user_errors),
        join=False,
        daemon=daemon,
        start_method="spawn",
    )
    try:
        with _ForwardSignals(context.processes):
            while not context.join():
                pass
    except ProcessException as err:
        reports = []
        while not errors.empty():
            reports.append(errors.get())
        if not reports:
            raise
        when, local_rank, kind, text = min(reports)
        if kind == "user":
            raise ChildUserError(f"process with local rank {local_rank}: {text}") from None
        if kind == "preempted":
            raise Preempted(text) from None
        others = sorted({r for _, r, k, _ in reports if r != local_rank and k == "error"})
        then = f" (then local ranks {others} failed too)" if others else ""
        raise JobFailedError(
            f"process with local rank {local_rank} failed first{then}:\n{text}"
        ) from err


def launch_job(
    cfg: CfgNode,
    init_method: str,
    func: Callable[..., Any],
    daemon: bool = False,
    backend: str | None = None,
    user_errors: tuple[type[BaseException], ...] = (),
) -> Any:
    """Run ``func(cfg=cfg)`` in every process of this machine; returns its result when it ran
    in this process (None when children were spawned).

    With NUM_GPUS > 1 and no torchrun, spawns NUM_GPUS processes (PySlowFast's behaviour) and
    forwards SIGTERM / SIGUSR1 to them. When one of them stops on one of ``user_errors`` this
    raises :class:`ChildUserError` with its message; on preemption,
    :class:`~slowfast.utils.preemption.Preempted`; when one raises anything else, the others
    are terminated and :class:`JobFailedError` holds the traceback of the first that failed.
    Otherwise ``func`` runs in this process, after joining the process group when the job has
    several processes (torchrun, or NUM_SHARDS > 1). A finished job leaves the process group
    only when every rank has finished (:func:`shutdown`).
    """
    if cfg.NUM_GPUS > 1 and not is_torchrun():
        _spawn(cfg, init_method, func, daemon, backend, user_errors)
        return None
    local_rank = int(os.environ["LOCAL_RANK"]) if is_torchrun() else 0
    return _worker(local_rank, cfg, init_method, func, backend)
