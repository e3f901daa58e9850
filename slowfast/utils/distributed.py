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
Starting the processes of a job (spawning, signal forwarding, leaving the group) is
:mod:`slowfast.utils.job`; this module also has what a failed job reports (which peer was lost,
:class:`JobFailedError`, :class:`ChildUserError`).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed as dist
from fvcore.common.config import CfgNode

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


def is_collective_failure(err: BaseException) -> bool:
    """Whether ``err`` says a peer process is gone or stuck (a failed or timed-out collective),
    as opposed to an error of this process's own."""
    if isinstance(err, getattr(dist, "DistError", ())):
        return True
    text = str(err).lower()
    return isinstance(err, RuntimeError) and any(
        word in text
        for word in (
            "gloo",
            "nccl",
            "connection closed",
            "connection reset",
            "timed out",
            "timeout",
            "broken pipe",
            "socket",
        )
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


def report_lost_peer(err: BaseException, checkpoint: str | None) -> None:
    """Log which rank was lost and where the newest checkpoint (``checkpoint``, found by the
    caller) is, as the survivor's last line."""
    rank, world = get_rank(), get_world_size()
    lost = roll_call(rank, world, min(10.0, dist_timeout().total_seconds()))
    if lost is None:
        who = "the job's rendezvous store (rank 0's machine) is unreachable: rank 0 was lost"
    elif lost:
        who = f"lost rank(s) {lost} of {world} (no answer to a roll call)"
    else:
        who = f"every rank of {world} still answers; a collective failed anyway"
    checkpoint = checkpoint or "none yet"
    first_line = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
    logger.error(
        "rank %d: the distributed job cannot go on: %s; %s: %s. Last checkpoint: %s "
        "(run the same command again to resume from it)",
        rank,
        who,
        type(err).__name__,
        first_line,
        checkpoint,
    )
