"""The benchmark scripts still run against the current code (small sizes; figures unchecked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow
@pytest.mark.parametrize(("script", "arguments", "expected"), [
    ("featurize.py", ["--divisions", "10", "--max-elements", "3", "--baseline-rows", "50"],
     "speedup per row"),
    ("overhead.py", ["--pools", "2000", "--train", "10"], "faster)"),
    ("predict.py", [], "P(hit) ="),
])
def test_benchmark_runs(script: str, arguments: list[str], expected: str) -> None:
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), *arguments],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert expected in done.stdout
