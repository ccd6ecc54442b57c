"""``matloop benchmark`` end to end on a small crossed-barrel campaign, and its refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

MATLOOP = [sys.executable, "-m", "matloop.cli.main"]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_benchmark_two_seeds_writes_json_and_png(crossed_barrel, tmp_path: Path) -> None:
    path = crossed_barrel(name="cb", budget=60, initial=3, acquisition="auto")
    out = tmp_path / "results"
    done = subprocess.run([*MATLOOP, "benchmark", str(path), "--seeds", "2", "--budget", "6",
                           "--workers", "2", "--out", str(out), "--json"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)  # stdout is the JSON alone; progress is on stderr
    assert "seed 0" in done.stderr and "seed 1" in done.stderr
    assert json.loads((out / "summary.json").read_text()) == summary
    assert summary["seeds"] == 2 and summary["workers"] == 2 and summary["budget"] == 6
    (campaign,) = summary["campaigns"]
    assert (campaign["label"], campaign["kind"], campaign["pool_size"], campaign["budget"]) \
        == ("cb", "single", 600, 6)
    assert campaign["seeds"] == [0, 1]
    single = campaign["single"]
    assert single["top5"]["size"] == 30 and single["top1"]["size"] == 6
    assert single["first_top1"]["random"] == (600 + 1) / (6 + 1)
    assert single["acceleration"]["0.5"]["random"] == 300
    assert single["acceleration"]["0.8"]["random"] == 480
    curves = single["curves"]
    assert curves["evaluations"] == [1, 2, 3, 4, 5, 6]
    assert len(curves["top5_fraction"]["median"]) == 6
    assert curves["random_top5_fraction"][-1] == 6 / 600
    assert all(0 <= f <= 1 for f in curves["top5_fraction"]["p95"])
    assert len(single["per_seed"]) == 2
    assert campaign["timing"]["stop_reasons"] == ["budget"]
    assert campaign["timing"]["wall_s_per_seed"]["median"] > 0
    png = Path(campaign["plot"])
    assert png == out / "cb.png"
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert sorted(p.name for p in tmp_path.glob("*.db*")) == []  # temporary databases only


def test_benchmark_refuses_a_python_oracle_in_one_line(python_campaign,
                                                       tmp_path: Path) -> None:
    path = python_campaign()
    done = subprocess.run([*MATLOOP, "benchmark", str(path), "--seeds", "1",
                           "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "oracle.kind = 'python'" in lines[0] and "table" in lines[0]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_benchmark_refuses_bad_options(crossed_barrel, tmp_path: Path) -> None:
    path = crossed_barrel()
    for option, message in ((["--seeds", "0"], "--seeds"), (["--workers", "0"], "--workers"),
                            (["--budget", "0"], "--budget"),
                            (["--surrogate", "bogus"], "unknown surrogate 'bogus'")):
        done = subprocess.run([*MATLOOP, "benchmark", str(path), *option],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_benchmark_compares_surrogate_kinds_on_one_file(crossed_barrel, tmp_path: Path) -> None:
    path = crossed_barrel(name="cb", budget=60, initial=3)
    done = subprocess.run([*MATLOOP, "benchmark", str(path), "--seeds", "1", "--budget", "5",
                           "--surrogate", "forest", "--surrogate", "gp", "--out",
                           str(tmp_path / "out"), "--json", "--quiet"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["surrogates"] == ["forest", "gp"]
    assert [(c["label"], c["surrogate"]) for c in summary["campaigns"]] == [
        ("cb [forest]", "forest"), ("cb [gp]", "gp")]
    assert all(Path(c["plot"]).exists() for c in summary["campaigns"])


@pytest.mark.slow
def test_an_interrupted_benchmark_stops_its_workers(crossed_barrel, tmp_path: Path) -> None:
    import os
    import signal
    import time

    path = crossed_barrel(name="cb", budget=60, initial=3)
    # 100 evaluations per seed take far longer than the 30 s the command gets to stop
    process = subprocess.Popen([*MATLOOP, "benchmark", str(path), "--seeds", "4", "--quiet",
                                "--budget", "100", "--out", str(tmp_path / "out")],
                               cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def workers() -> list[int]:
        found = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True,
                               text=True).stdout.split()
        return [int(pid) for pid in found]

    deadline = time.monotonic() + 60
    while len(workers()) < 2 and time.monotonic() < deadline:  # resource tracker + workers
        time.sleep(0.5)
    children = workers()
    assert len(children) >= 2
    time.sleep(2)  # the seeds are running
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)  # does not wait for the running seeds
    assert process.returncode == 130, stderr
    assert "interrupted: benchmark stopped, nothing written" in stderr
    assert "internal error" not in stderr and "Traceback" not in stderr
    time.sleep(1)
    alive = []
    for pid in children:
        try:
            os.kill(pid, 0)
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
            if state != "Z":
                alive.append(pid)
        except (ProcessLookupError, FileNotFoundError):
            pass
    assert alive == []
    assert not (tmp_path / "out").exists()
