import datetime
import os
import signal
import threading
import time

import pytest
import torch

from slowfast.config.defaults import get_cfg
from slowfast.utils import distributed as du
from slowfast.utils.job import launch_job

# The longest any wait in these tests may take (generous: the machine may be busy).
WAIT_S = 300


def _collectives(cfg):
    cfg.NUM_GPUS = 0  # what the job uses as its device: the CPU here
    rank = du.get_rank()
    mean = torch.tensor([float(rank + 1), 10.0 * rank])
    du.all_reduce_mean([mean])
    scores, ids = du.all_gather_tensors(
        [torch.full((rank + 1, 2), float(rank)), torch.arange(rank + 1) + 10 * rank]
    )
    result = {
        "objects": du.all_gather_objects({"rank": rank, "names": ["x"] * rank}),
        "backend": du.get_backend(),
        "device": str(du.get_device(cfg)),
        "rank": rank,
        "world": du.get_world_size(),
        "local_rank": du.get_local_rank(),
        "master": du.is_master_proc(),
        "mean": mean,
        "scores": scores,
        "ids": ids,
    }
    torch.save(result, os.path.join(cfg.OUTPUT_DIR, f"rank{rank}.pt"))


def _fails_on_rank1(cfg):
    if du.get_rank() == 1:
        raise ValueError("boom from rank 1")
    du.synchronize()  # rank 0 would wait here for its dead peer


def _two_proc_cfg(tmp_path):
    cfg = get_cfg()
    cfg.NUM_GPUS = 2  # two processes; gloo, as the children see no GPU
    cfg.OUTPUT_DIR = str(tmp_path)
    return cfg


@pytest.fixture(autouse=True)
def _cpu_processes(monkeypatch):
    """No torchrun variables; spawned children see no GPU, so they form a gloo CPU job."""
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SLOWFAST_DIST_TIMEOUT_S", "60")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")


def test_two_process_collectives(tmp_path):
    cfg = _two_proc_cfg(tmp_path)
    launch_job(cfg, f"file://{tmp_path}/rendezvous", _collectives, backend="gloo")
    results = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    for r, res in enumerate(results):
        assert (res["rank"], res["world"], res["local_rank"]) == (r, 2, r)
        assert res["master"] == (r == 0)
        assert res["mean"].tolist() == [1.5, 5.0]
        assert res["scores"].tolist() == [[0.0, 0.0], [1.0, 1.0], [1.0, 1.0]]
        assert res["ids"].tolist() == [0, 10, 11]
        assert res["objects"] == [{"rank": 0, "names": []}, {"rank": 1, "names": ["x"]}]
        assert (res["backend"], res["device"]) == ("gloo", "cpu")


def test_child_error_reaches_parent(tmp_path):
    cfg = _two_proc_cfg(tmp_path)
    with pytest.raises(du.JobFailedError) as err:
        launch_job(cfg, f"file://{tmp_path}/rendezvous", _fails_on_rank1, backend="gloo")
    assert "local rank 1 failed first" in str(err.value)
    assert "ValueError: boom from rank 1" in str(err.value)


def test_single_process_runs_in_place(tmp_path):
    cfg = get_cfg()
    cfg.NUM_GPUS = 0
    seen = []
    launch_job(cfg, "tcp://localhost:1", lambda cfg: seen.append(du.get_world_size()))
    assert seen == [1] and not du.is_initialized()
    tensors = [torch.tensor([2.0])]
    assert du.all_reduce_mean(tensors)[0].item() == 2.0
    assert du.all_gather_tensors([torch.arange(3)])[0].tolist() == [0, 1, 2]
    assert du.is_master_proc() and du.get_rank() == 0
    assert du.all_gather_objects("a") == ["a"] and du.get_backend() is None
    assert du.get_device(cfg) == torch.device("cpu")


def test_timeout_from_environment(monkeypatch):
    monkeypatch.setenv("SLOWFAST_DIST_TIMEOUT_S", "45")
    assert du.dist_timeout() == datetime.timedelta(seconds=45)
    monkeypatch.delenv("SLOWFAST_DIST_TIMEOUT_S")
    assert du.dist_timeout() == datetime.timedelta(minutes=10)
    monkeypatch.setenv("SLOWFAST_DIST_TIMEOUT_S", "soon")
    with pytest.raises(ValueError, match="SLOWFAST_DIST_TIMEOUT_S.*'soon'"):
        du.dist_timeout()


def _config_error_on_rank1(cfg):
    from slowfast.config.errors import ConfigError

    if du.get_rank() == 1:
        raise ConfigError("DATA.PATH_TO_DATA_DIR: no such directory: /nowhere")
    du.synchronize()  # rank 0 waits for its peer, which has stopped


def test_user_error_in_a_child_stays_a_user_error(tmp_path):
    from slowfast.config.errors import ConfigError
    from slowfast.engine.cli import user_error_types

    cfg = _two_proc_cfg(tmp_path)
    with pytest.raises(du.ChildUserError) as err:
        launch_job(
            cfg,
            f"file://{tmp_path}/rendezvous",
            _config_error_on_rank1,
            backend="gloo",
            user_errors=(ConfigError,),
        )
    assert str(err.value) == (
        "process with local rank 1: DATA.PATH_TO_DATA_DIR: no such directory: /nowhere"
    )
    assert "Traceback" not in str(err.value)
    assert du.ChildUserError in user_error_types()  # so run_net prints it and exits 2


def _waits_for_preemption(cfg):
    from slowfast.utils.preemption import Preempted, PreemptionWatcher

    with PreemptionWatcher() as watcher:
        du.synchronize()
        with open(os.path.join(cfg.OUTPUT_DIR, f"ready{du.get_rank()}"), "w"):
            pass
        deadline = time.monotonic() + WAIT_S
        while not watcher.requested:
            if time.monotonic() > deadline:
                raise RuntimeError(f"rank {du.get_rank()}: no signal forwarded in {WAIT_S} s")
            time.sleep(0.05)  # the parent forwards the signal
    du.synchronize()
    raise Preempted(f"rank {du.get_rank()} stopped by {watcher.received.name}")


def test_parent_forwards_sigterm_to_spawned_children(tmp_path):
    """A container runtime signals only the first process: the spawning parent passes SIGTERM on
    and ends with the children's preemption."""
    from slowfast.utils.preemption import Preempted

    cfg = _two_proc_cfg(tmp_path)

    def signal_when_ready():
        # Past the deadline the signal goes anyway: the children then stop, and the checks
        # below say what went wrong, instead of the test waiting for ever.
        deadline = time.monotonic() + WAIT_S
        while not all((tmp_path / f"ready{r}").exists() for r in (0, 1)):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=signal_when_ready, daemon=True).start()
    with pytest.raises(Preempted) as err:
        launch_job(cfg, f"file://{tmp_path}/rendezvous", _waits_for_preemption, backend="gloo")
    assert "stopped by SIGTERM" in str(err.value)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
