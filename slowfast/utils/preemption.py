"""Preemption: the signals a scheduler sends before it kills a job, turned into a clean stop.

SLURM (``#SBATCH --signal=USR1@120``, and SIGTERM at preemption or the time limit) and Kubernetes
(SIGTERM, then SIGKILL after the grace period) warn a job before killing it. While training, a
:class:`PreemptionWatcher` turns SIGTERM and SIGUSR1 into a flag; the trainer finishes the step
under way, writes a mid-epoch checkpoint and raises :class:`Preempted`, and ``tools/run_net.py``
exits with :data:`PREEMPTED_EXIT_CODE` (75, ``EX_TEMPFAIL``: "try again"). Running the same
command again resumes exactly where the job stopped.

Data-loader workers get these signals too when a scheduler signals every process of the job;
:func:`shield_worker` makes them leave the decision to the training process (SIGUSR1 would kill
them otherwise) while they still exit when their own parent terminates them.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType
from typing import Any

from slowfast.utils.logging import get_logger

logger = get_logger(__name__)

PREEMPT_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)
# sysexits.h's EX_TEMPFAIL: a temporary failure, the command should be run again.
PREEMPTED_EXIT_CODE = 75


class Preempted(Exception):
    """Training stopped on a preemption signal after writing a checkpoint to resume from."""


class PreemptionWatcher:
    """Records SIGTERM / SIGUSR1 while installed instead of letting them end the process.

    Only the main thread can install signal handlers; elsewhere (a trainer driven from a
    thread) the watcher stays inactive and the signals keep their previous meaning.
    """

    def __init__(self, signals: tuple[signal.Signals, ...] = PREEMPT_SIGNALS):
        self.signals = signals
        self.received: signal.Signals | None = None
        self._previous: dict[signal.Signals, Any] = {}

    @property
    def requested(self) -> bool:
        return self.received is not None

    def install(self) -> PreemptionWatcher:
        if threading.current_thread() is not threading.main_thread() or self._previous:
            return self
        for sig in self.signals:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def uninstall(self) -> None:
        """Give the signals back their previous handlers."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.received is None:
            self.received = signal.Signals(signum)
            logger.warning(
                "%s received: finishing the current step, then writing a checkpoint and "
                "stopping (exit status %d)",
                name,
                PREEMPTED_EXIT_CODE,
            )
        else:
            logger.warning("%s received again: the checkpoint is on its way", name)

    def __enter__(self) -> PreemptionWatcher:
        return self.install()

    def __exit__(self, *exc: Any) -> None:
        self.uninstall()


def shield_worker() -> None:
    """For a data-loader worker: ignore the preemption signals that are meant for the job.

    SIGUSR1 is ignored outright. SIGTERM is taken by a thread that waits for it: sent by the
    worker's parent (the loader shutting down a stuck worker, or multiprocessing at exit) it
    ends the worker as before; sent by anyone else (a scheduler signalling every process of the
    job) it is ignored, because the training process stops the loader itself.
    """
    if not hasattr(signal, "pthread_sigmask") or not hasattr(signal, "sigwaitinfo"):
        return
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    parent = os.getppid()
    # Block SIGTERM in this thread (and the decoder threads started from it) so that only the
    # waiting thread below receives it.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})

    def wait() -> None:
        while True:
            info = signal.sigwaitinfo({signal.SIGTERM})
            if info.si_pid == parent or os.getppid() != parent:
                os._exit(128 + signal.SIGTERM)

    threading.Thread(target=wait, name="sigterm-from-parent", daemon=True).start()
