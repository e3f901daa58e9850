"""Process-group set-up and the few collectives the trainer, meters and datasets need.

Two ways to start a multi-process job:

* PySlowFast's: ``tools/run_net.py --init_method tcp://HOST:PORT --num_shards N --shard_id I``
  on each of N machines; :func:`launch_job` spawns NUM_GPUS processes per machine, with
  ``rank = SHARD_ID * NUM_GPUS + local_rank`` and ``world = NUM_SHARDS * NUM_GPUS``.
* torchrun: RANK, WORLD_SIZE and LOCAL_RANK are in the environment; each process runs the job
  function once and the group is set up from ``env://``. With NUM_GPUS 0 the torchrun processes
  form one CPU (gloo) job.

The process group gets a timeout (SLOWFAST_DIST_TIMEOUT_S seconds from the environment, default
600) so that when a peer dies the others fail within that time instead of waiting forever.
All helpers work without a process group (a single process is rank 0 of a world of 1).
"""

from __future__ import annotations

import datetime
import os
import time
import traceback
from typing import Any, Callable, Sequence

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from fvcore.common.config import CfgNode
from torch.multiprocessing.spawn import ProcessException

from slowfast.utils.logging import get_logger

logger = get_logger(__name__)

DEFAULT_TIMEOUT_S = 600
_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
_local_rank: int | None = None


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DistributedDataParallel / DataParallel wrapper (or the model itself)."""
    if isinstance(model, (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)):
        return model.module
    return model


def is_torchrun() -> bool:
    """Whether this process was started by torchrun (or another env:// launcher)."""
    return all(var in os.environ for var in _TORCHRUN_VARS)


def dist_timeout() -> datetime.timedelta:
    """The collective timeout: SLOWFAST_DIST_TIMEOUT_S seconds, or 10 minutes."""
    raw = os.environ.get("SLOWFAST_DIST_TIMEOUT_S", "")
    try:
        seconds = float(raw) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        raise ValueError(
            f"SLOWFAST_DIST_TIMEOUT_S must be a number of seconds, got {raw!r}"
        ) from None
    if seconds <= 0:
        raise ValueError(f"SLOWFAST_DIST_TIMEOUT_S must be positive, got {raw!r}")
    return datetime.timedelta(seconds=seconds)


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_world_size() -> int:
    """Number of processes in the job (1 without a process group)."""
    return dist.get_world_size() if is_initialized() else 1


def get_rank() -> int:
    """Global rank of this process (0 without a process group)."""
    return dist.get_rank() if is_initialized() else 0


def get_local_rank() -> int:
    """Rank of this process on its machine (its GPU index)."""
    if _local_rank is not None:
        return _local_rank
    return int(os.environ.get("LOCAL_RANK", 0))


def is_master_proc(num_gpus: int | None = None) -> bool:
    """Whether this is the global rank-0 process.

    With ``num_gpus`` given this is PySlowFast's per-machine test instead: ``rank % num_gpus ==
    0`` (the first process of each machine).
    """
    if num_gpus:
        return get_rank() % num_gpus == 0
    return get_rank() == 0


def get_backend() -> str | None:
    """The process group's backend ("nccl", "gloo"), or None without a process group."""
    return str(dist.get_backend()) if is_initialized() else None


def get_device(cfg: CfgNode) -> torch.device:
    """This process's device: its GPU (``cuda:LOCAL_RANK``) when NUM_GPUS > 0, else the CPU."""
    if cfg.NUM_GPUS > 0:
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"NUM_GPUS is {cfg.NUM_GPUS} but CUDA is not available; set NUM_GPUS 0 for CPU"
            )
        return torch.device("cuda", get_local_rank())
    return torch.device("cpu")


def synchronize() -> None:
    """Barrier over all processes; a no-op for a single process."""
    if get_world_size() > 1:
        dist.barrier()


def _backend(cfg: CfgNode, requested: str | None) -> str:
    if cfg.NUM_GPUS == 0 or not torch.cuda.is_available():
        return "gloo"
    return requested or cfg.DIST_BACKEND


def init_distributed(
    cfg: CfgNode,
    local_rank: int = 0,
    init_method: str = "tcp://localhost:9999",
    backend: str | None = None,
) -> None:
    """Join the job's process group (if it has more than one process) and pick the GPU.

    Under torchrun the rank, world size and local rank come from the environment and
    ``init_method`` is ignored; otherwise they follow PySlowFast's shard formula. The backend
    is ``backend`` (default: cfg.DIST_BACKEND) on GPUs and gloo on the CPU.
    """
    global _local_rank
    if is_initialized():
        return
    if is_torchrun():
        rank = int(os.environ["RANK"])
        world = int(os.environ["WORLD_SIZE"])
        local_rank = int(os.environ["LOCAL_RANK"])
        init_method = "env://"
    else:
        per_machine = max(cfg.NUM_GPUS, 1)
        rank = cfg.SHARD_ID * per_machine + local_rank
        world = cfg.NUM_SHARDS * per_machine
    _local_rank = local_rank
    if cfg.NUM_GPUS > 0 and torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
    if world == 1:
        return
    chosen = _backend(cfg, backend)
    timeout = dist_timeout()
    logger.info(
        "Joining process group: rank %d of %d, backend %s, init %s, timeout %ss",
        rank,
        world,
        chosen,
        init_method,
        int(timeout.total_seconds()),
    )
    dist.init_process_group(
        backend=chosen, init_method=init_method, world_size=world, rank=rank, timeout=timeout
    )


def _comm_device(tensor: torch.Tensor) -> torch.device:
    """Where a tensor must live for the group's backend (NCCL only moves CUDA tensors)."""
    if dist.get_backend() == "nccl" and tensor.device.type != "cuda":
        return torch.device("cuda", torch.cuda.current_device())
    return tensor.device


def all_reduce_sum(tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Sum each tensor over all processes, in place; returns them."""
    tensors = list(tensors)
    if get_world_size() == 1:
        return tensors
    for tensor in tensors:
        buffer = tensor.to(_comm_device(tensor))
        dist.all_reduce(buffer)
        if buffer is not tensor:
            tensor.copy_(buffer)
    return tensors


def all_reduce_mean(tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Average each (floating-point) tensor over all processes, in place; returns them."""
    tensors = all_reduce_sum(tensors)
    world = get_world_size()
    if world > 1:
        for tensor in tensors:
            tensor.div_(world)
    return tensors


def all_gather_tensors(tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Concatenate each tensor along dim 0 over all processes, in rank order.

    The first dimension may differ between processes (a last batch of another size); the other
    dimensions and the dtype must agree. Used to collect test scores, labels and clip indices.
    """
    tensors = list(tensors)
    world = get_world_size()
    if world == 1:
        return [t.clone() for t in tensors]
    out = []
    for tensor in tensors:
        home = tensor.device
        tensor = tensor.to(_comm_device(tensor)).contiguous()
        size = torch.tensor([tensor.shape[0]], dtype=torch.long, device=tensor.device)
        sizes = [torch.zeros_like(size) for _ in range(world)]
        dist.all_gather(sizes, size)
        counts = [int(s.item()) for s in sizes]
        longest = max(counts)
        padded = tensor.new_zeros((longest, *tensor.shape[1:]))
        padded[: tensor.shape[0]] = tensor
        gathered = [torch.empty_like(padded) for _ in range(world)]
        dist.all_gather(gathered, padded)
        out.append(torch.cat([g[:n] for g, n in zip(gathered, counts)], dim=0).to(home))
    return out


def all_gather_objects(obj: Any) -> list[Any]:
    """Every process's picklable ``obj``, in rank order (``[obj]`` for a single process)."""
    world = get_world_size()
    if world == 1:
        return [obj]
    out: list[Any] = [None] * world
    dist.all_gather_object(out, obj)
    return out


class JobFailedError(RuntimeError):
    """A spawned process raised; the message holds the traceback of the first one that did."""


class ChildUserError(RuntimeError):
    """A spawned process stopped on a user error (a config, data or checkpoint problem); the
    message is that error's one line, shown without a traceback like the same error in one
    process."""


def _is_collective_failure(err: BaseException) -> bool:
    """Whether ``err`` says a peer process is gone or stuck (a failed or timed-out collective),
    as opposed to an error of this process's own."""
    if isinstance(err, getattr(dist, "DistError", ())):
        return True
    text = str(err).lower()
    return isinstance(err, RuntimeError) and any(
        word in text for word in ("gloo", "nccl", "connection closed", "connection reset",
                                  "timed out", "timeout", "broken pipe", "socket")
    )


def roll_call(rank: int, world: int, timeout_s: float = 10.0) -> list[int] | None:
    """After a collective failed: the ranks that do not answer within ``timeout_s`` through the
    job's rendezvous store (each surviving rank answers). None when the store itself cannot be
    reached (it lives with rank 0, or with the first machine's torchrun agent)."""
    try:
        store = dist.distributed_c10d._get_default_store()
        generation = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
        key = lambda r: f"slowfast/roll_call/{generation}/{r}"  # noqa: E731
        store.set(key(rank), str(os.getpid()))
        try:
            store.wait([key(r) for r in range(world)], datetime.timedelta(seconds=timeout_s))
        except Exception:  # some rank did not answer: find which below
            pass
        return [r for r in range(world) if not store.check([key(r)])]
    except Exception:
        return None


def _report_lost_peer(err: BaseException, cfg: CfgNode) -> None:
    """Log which rank was lost and where the newest checkpoint is, as the survivor's last line."""
    from slowfast.checkpoint.paths import get_last_checkpoint

    rank, world = get_rank(), get_world_size()
    lost = roll_call(rank, world, min(10.0, dist_timeout().total_seconds()))
    if lost is None:
        who = "the job's rendezvous store (rank 0's machine) is unreachable: rank 0 was lost"
    elif lost:
        who = f"lost rank(s) {lost} of {world} (no answer to a roll call)"
    else:
        who = f"every rank of {world} still answers; a collective failed anyway"
    checkpoint = get_last_checkpoint(cfg.OUTPUT_DIR) or "none yet"
    first_line = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
    logger.error(
        "rank %d: the distributed job cannot go on: %s; %s: %s. Last checkpoint: %s "
        "(run the same command again to resume from it)",
        rank, who, type(err).__name__, first_line, checkpoint,
    )


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
) -> None:
    from slowfast.utils.preemption import PREEMPTED_EXIT_CODE, Preempted

    ok = False
    try:
        init_distributed(cfg, local_rank, init_method, backend)
        func(cfg=cfg)
        ok = True
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
    except BaseException as err:
        if errors is not None:
            # Report when it happened: peers of a crashed process fail soon after with their
            # own (secondary) errors, and the parent should show the first one.
            errors.put((time.time(), local_rank, "error", traceback.format_exc()[-16000:]))
        if is_initialized() and get_world_size() > 1 and _is_collective_failure(err):
            _report_lost_peer(err, cfg)
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
        import signal
        import threading

        from slowfast.utils.preemption import PREEMPT_SIGNALS

        if threading.current_thread() is threading.main_thread():
            for sig in PREEMPT_SIGNALS:
                self.previous[sig] = signal.signal(sig, self._forward)
        return self

    def _forward(self, signum: int, frame: Any) -> None:
        for process in self.processes:
            if process.is_alive():
                os.kill(process.pid, signum)

    def __exit__(self, *exc: Any) -> None:
        import signal

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
    from slowfast.utils.preemption import Preempted

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
) -> None:
    """Run ``func(cfg=cfg)`` in every process of this machine.

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
        return
    local_rank = int(os.environ["LOCAL_RANK"]) if is_torchrun() else 0
    _worker(local_rank, cfg, init_method, func, backend)
