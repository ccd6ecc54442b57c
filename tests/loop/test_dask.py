"""Campaigns on a real Dask ``LocalCluster`` (two single-threaded worker processes):
completion in batch and async mode, a worker killed mid-evaluation, a timeout, a run
killed and resumed, and the dask-jobqueue configuration path (no batch system here)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from matloop.campaigns import load
from matloop.errors import ConfigError, StoreError
from matloop.loop.session import run
from matloop.store import EvaluationRow, Store

pytest.importorskip("distributed")

MATLOOP = [sys.executable, "-m", "matloop"]

ORACLE = '''
import os
import time
from pathlib import Path

HERE = Path(__file__).parent


def evaluate(x):
    x = float(x)
    (HERE / "started").mkdir(exist_ok=True)
    (HERE / "started" / f"{x:g}-{os.getpid()}-{time.monotonic_ns()}").touch()
    if x == 3 and not (HERE / "killed-once").exists():
        (HERE / "victim").write_text(str(os.getpid()))  # the test kills this worker
        time.sleep(60)
    if x == 5:
        time.sleep(120)  # past the timeout
    time.sleep(float(os.environ.get("ORACLE_SLEEP", "0.2")))
    return {"y": -(x - 6.5) ** 2}
'''


def write_campaign(folder: Path, budget: int, loop: str = "", oracle: str = "",
                   executor: str = "", initial: int = 4) -> Path:
    (folder / "oracle_module.py").write_text(ORACLE)
    (folder / "xs.csv").write_text("x\n" + "\n".join(str(x) for x in range(12)) + "\n")
    path = folder / "dask.toml"
    path.write_text(textwrap.dedent(f"""
        [campaign]
        name = "dask"
        seed = 3

        [space]
        kind = "table"
        path = "xs.csv"
        inputs = ["x"]

        [[targets]]
        property = "y"
        goal = "maximize"

        [oracle]
        kind = "python"
        function = "oracle_module:evaluate"
        {oracle}

        [executor]
        kind = "dask"
        workers = 2
        {executor}

        [loop]
        initial = {initial}
        budget = {budget}
        {loop}
    """))
    return path


def evaluations(path: Path) -> list[EvaluationRow]:
    campaign = load(path)
    store = Store(campaign.database_url, create=False)
    return store.evaluations(store.campaign_id(campaign.campaign.name))


def xs(rows: list[EvaluationRow]) -> list[float]:
    return sorted(float(r.key.split("=")[1]) for r in rows)


@pytest.mark.parametrize("mode", ["batch", "async"])
def test_a_campaign_completes_on_a_local_cluster(tmp_path: Path, mode: str) -> None:
    candidates = [0, 1, 2, 4, 6, 7, 8, 9, 10, 11]  # 3 (killed) and 5 (hangs) left out
    path = write_campaign(tmp_path, budget=8, loop=f'mode = "{mode}"' + (
        "\nbatch_size = 2" if mode == "batch" else ""))
    (tmp_path / "xs.csv").write_text("x\n" + "\n".join(map(str, candidates)) + "\n")
    result = run(load(path))
    assert result.stop_reason == "budget"
    assert result.counts["succeeded"] == 8 and result.counts["failed"] == 0
    rows = evaluations(path)
    assert len(rows) == 8 and len(set(xs(rows))) == 8  # each once
    # the work ran in the cluster's worker processes, never in this one
    pids = {name.split("-")[1] for name in os.listdir(tmp_path / "started")}
    assert str(os.getpid()) not in pids and 1 <= len(pids) <= 2


def test_async_keeps_both_workers_busy(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, budget=10, loop='mode = "async"')
    candidates = [0, 1, 2, 4, 6, 7, 8, 9, 10, 11]
    (tmp_path / "xs.csv").write_text("x\n" + "\n".join(map(str, candidates)) + "\n")
    run(load(path))
    rows = sorted(evaluations(path), key=lambda r: r.evaluation_id)
    cycles = Store(load(path).database_url).cycles(1)
    # the initial design filled both workers and the one-deep queue (queued = 1); past
    # it, one proposal per finished evaluation
    assert cycles[0].strategy == "initial" and cycles[0].n_proposed == 3
    assert all(c.n_proposed == 1 for c in cycles[1:])
    assert len(rows) == 10 and len(set(xs(rows))) == 10


def _kill_victim_when_running(folder: Path, stop: threading.Event) -> None:
    while not stop.is_set():
        victim = folder / "victim"
        if victim.exists() and victim.read_text():
            (folder / "killed-once").touch()
            os.kill(int(victim.read_text()), signal.SIGKILL)
            return
        time.sleep(0.05)


def test_a_worker_killed_mid_evaluation_is_rerun_and_counted_once(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, budget=4, loop="batch_size = 2")
    (tmp_path / "xs.csv").write_text("x\n3\n4\n6\n7\n")
    stop = threading.Event()
    killer = threading.Thread(target=_kill_victim_when_running, args=(tmp_path, stop))
    killer.start()
    try:
        result = run(load(path))
    finally:
        stop.set()
        killer.join()
    assert (tmp_path / "killed-once").exists()
    assert result.counts["succeeded"] == 4 and result.counts["failed"] == 0
    rows = {float(r.key.split("=")[1]): r for r in evaluations(path)}
    assert len(rows) == 4  # one evaluation per candidate: the rerun is its second attempt
    assert rows[3.0].attempt == 2 and rows[3.0].status == "succeeded"
    # the killed one ran twice, every other once; a task that Dask had queued on the
    # dead worker is dispatched again as attempt 2 although it never started there
    starts = [float(name.split("-")[0]) for name in os.listdir(tmp_path / "started")]
    assert sorted(starts) == [3.0, 3.0, 4.0, 6.0, 7.0]
    assert all(rows[x].attempt in (1, 2) for x in (4.0, 6.0, 7.0))


@pytest.mark.slow
def test_a_timeout_on_a_worker_is_recorded_and_the_worker_restarted(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, budget=3, initial=3, loop="batch_size = 3",
                          oracle="timeout_s = 3\nretries = 0")
    (tmp_path / "xs.csv").write_text("x\n5\n6\n7\n")
    start = time.monotonic()
    result = run(load(path))
    assert time.monotonic() - start < 60  # not the oracle's 120 s
    rows = {float(r.key.split("=")[1]): r for r in evaluations(path)}
    assert rows[5.0].reason == "timeout" and "restarted" in rows[5.0].error
    assert result.counts["succeeded"] == 2


@pytest.mark.slow
def test_a_killed_run_resumes_on_the_cluster_with_nothing_lost_or_repeated(
        tmp_path: Path) -> None:
    path = write_campaign(tmp_path, budget=10, loop='mode = "async"')
    (tmp_path / "xs.csv").write_text("x\n" + "\n".join(
        str(x) for x in (0, 1, 2, 4, 6, 7, 8, 9, 10, 11)) + "\n")
    env = {**os.environ, "ORACLE_SLEEP": "0.6"}
    process = subprocess.Popen([*MATLOOP, "run", str(path), "--quiet"], env=env,
                               start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    finished: list[EvaluationRow] = []
    while time.monotonic() < deadline and process.poll() is None:
        try:
            finished = [r for r in evaluations(path) if r.status == "succeeded"]
        except StoreError:  # not created yet
            finished = []
        if len(finished) >= 4:
            break
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)  # the loop and its cluster, mid-run
    process.wait()
    killed_at = {r.evaluation_id for r in evaluations(path) if r.status == "succeeded"}
    assert 4 <= len(killed_at) < 10

    result = run(load(path))
    assert result.stop_reason == "budget"
    rows = evaluations(path)
    assert len(rows) == 10 and len(set(xs(rows))) == 10  # none lost, none twice
    assert killed_at <= {r.evaluation_id for r in rows if r.status == "succeeded"}
    assert result.counts["succeeded"] == 10


def test_the_executor_section_is_checked(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, budget=4, executor='address = "tcp://h:8786"\n'
                          'cluster = "slurm"')
    with pytest.raises(ConfigError, match="either address"):
        load(path)
    path = write_campaign(tmp_path, budget=4, loop='mode = "async"\nbatch_size = 2')
    with pytest.raises(ConfigError, match="batch_size"):
        load(path)
    text = path.read_text().replace('kind = "dask"', 'kind = "local"').replace(
        "batch_size = 2", "").replace("[executor]", '[executor]\naddress = "tcp://h:1"')
    path.write_text(text)
    with pytest.raises(ConfigError, match='kind = "dask"'):
        load(path)


def test_a_slurm_cluster_is_configured_without_submitting(tmp_path: Path) -> None:
    pytest.importorskip("dask_jobqueue")
    from matloop.loop.executor import jobqueue_cluster

    path = write_campaign(tmp_path, budget=4, executor=textwrap.dedent('''
        cluster = "slurm"
        [executor.cluster_options]
        cores = 8
        memory = "16GB"
        walltime = "02:00:00"
        queue = "compute"
        account = "mat123"
        job_extra_directives = ["--constraint=cpu"]
    '''))
    section = load(path).executor
    cluster = jobqueue_cluster(section)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#SBATCH -p compute" in script and "#SBATCH -A mat123" in script
    assert "#SBATCH -t 02:00:00" in script and "#SBATCH --constraint=cpu" in script
    assert "--nthreads 8" in script or "--nworkers 1" in script

    bad = path.read_text().replace("cores = 8", "cores = 8\nbanana = 1")
    path.write_text(bad)
    with pytest.raises(ConfigError, match="cluster_options"):
        jobqueue_cluster(load(path).executor)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_cluster(port: int) -> list[subprocess.Popen]:
    """A scheduler and two single-threaded workers, as separate processes (``dask
    scheduler`` / ``dask worker``), the way a cluster is run by hand."""
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler",
                                  "--host", "127.0.0.1", "--port", str(port),
                                  "--no-dashboard"], **quiet)
    workers = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker",
                                f"tcp://127.0.0.1:{port}", "--nworkers", "2", "--nthreads",
                                "1", "--no-dashboard"], **quiet)
    from distributed import Client

    with Client(f"tcp://127.0.0.1:{port}", timeout=60) as client:
        client.wait_for_workers(2, timeout=60)
    return [scheduler, workers]


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait()


@pytest.mark.slow
def test_a_lost_scheduler_stops_the_run_and_a_new_one_resumes_it(tmp_path: Path) -> None:
    port = _free_port()
    path = write_campaign(tmp_path, budget=10, loop='mode = "async"',
                          executor=f'address = "tcp://127.0.0.1:{port}"')
    (tmp_path / "xs.csv").write_text("x\n" + "\n".join(
        str(x) for x in (0, 1, 2, 4, 6, 7, 8, 9, 10, 11)) + "\n")
    cluster = _start_cluster(port)
    try:
        process = subprocess.Popen([*MATLOOP, "run", str(path), "--quiet"],
                                   env={**os.environ, "ORACLE_SLEEP": "0.6"},
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if sum(r.status == "succeeded" for r in evaluations(path)) >= 3:
                    break
            except StoreError:
                pass
            time.sleep(0.1)
        cluster[0].kill()  # the scheduler
        _, stderr = process.communicate(timeout=120)
    finally:
        _stop(cluster)
    assert process.returncode == 6, stderr
    assert "scheduler was lost" in stderr and "Traceback" not in stderr
    saved = {r.evaluation_id for r in evaluations(path) if r.status == "succeeded"}
    assert 3 <= len(saved) < 10

    cluster = _start_cluster(port)
    try:
        result = run(load(path))
    finally:
        _stop(cluster)
    assert result.stop_reason == "budget" and result.counts["succeeded"] == 10
    rows = evaluations(path)
    assert len(rows) == 10 and len(set(xs(rows))) == 10
    assert saved <= {r.evaluation_id for r in rows if r.status == "succeeded"}


def test_a_missing_dask_is_a_config_error_before_any_database(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "distributed" else real(name, *a))
    path = write_campaign(tmp_path, budget=4)
    with pytest.raises(ConfigError, match=r"pip install 'matloop\[dask\]'"):
        run(load(path))
    assert not (tmp_path / "dask.db").exists()


def test_an_unreachable_scheduler_is_one_clear_error(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from matloop.errors import ExecutorLost
    from matloop.loop import executor

    monkeypatch.setattr(executor, "CONNECT_TIMEOUT_S", 2)
    path = write_campaign(tmp_path, budget=4,
                          executor=f'address = "tcp://127.0.0.1:{_free_port()}"')
    with pytest.raises(ExecutorLost, match="cannot start or reach the Dask scheduler"):
        run(load(path))
    campaign = load(path)
    store = Store(campaign.database_url, create=False)
    cid = store.campaign_id("dask")
    assert "cannot start or reach" in (store.stop_reason(cid) or "")
    # what was proposed is kept, never started, for the next run (as attempt 1)
    assert store.counts(cid)["proposed"] == 4 and store.counts(cid)["running"] == 0
