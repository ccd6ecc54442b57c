"""A benchmark must show what the engine is for: on crossed barrel, the loop beats random."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

MATLOOP = [sys.executable, "-m", "matloop.cli.main"]


@pytest.mark.slow
def test_the_loop_beats_random_search_on_crossed_barrel(crossed_barrel, tmp_path: Path) -> None:
    path = crossed_barrel(name="cb", budget=60, initial=5, acquisition="auto")
    done = subprocess.run([*MATLOOP, "benchmark", str(path), "--seeds", "3", "--workers", "2",
                           "--out", str(tmp_path / "out"), "--json", "--quiet"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    single = json.loads(done.stdout)["campaigns"][0]["single"]
    # random search expects its first top-1 % candidate after 601 / 7 = 86 evaluations
    assert single["first_top1"]["factor"] > 1, single["first_top1"]
    found, expected = single["top5_at_budget"]["method"]["median"], \
        single["top5_at_budget"]["random"]
    assert found > 2 * expected, single["top5_at_budget"]
