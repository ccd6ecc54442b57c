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
    ("predict.py", [], "P(hit) ="),
    ("report.py", [], "x rank ("),
    ("quick_check.py", ["--evaluations", "200", "--repeat", "1"], "quick_check alone |"),
    ("peers.py", [str(BENCHMARKS.parent / "examples" / "benchmarks" / "snar.toml"), "--seeds",
                  "2", "--budget", "8", "--skip", "baybe"], "matloop / better peer:"),
    ("levers.py", [str(BENCHMARKS.parent / "examples" / "benchmarks" / name)
                   for name in ("snar.toml", "alkox.toml")]
     + ["--seeds", "1", "--settings", "design=random"], "| initial design | "),
    ("transfer.py", ["--seeds", "1", "--budget", "14", "--earlier-budget", "15"],
     "transfer against none, seed by seed"),
    ("fidelity_run.py", ["--seeds", "1", "--hits", "1", "--variants", "single", "noise"],
     "| noise |"),
])
def test_benchmark_runs(script: str, arguments: list[str], expected: str) -> None:
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), *arguments],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert expected in done.stdout


@pytest.mark.slow
def test_overhead_table() -> None:
    """A tiny grid prints the table: header, one row per case, numbers and a ratio."""
    done = subprocess.run([sys.executable, str(BENCHMARKS / "overhead.py"), "--pools", "2000",
                           "--dims", "6", "--train", "20", "--batch", "1", "5"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("| ").split("|")]
    assert header[:4] == ["d", "N", "n", "q"] and header[-1] == "ratio"
    rows = [[c.strip() for c in line.strip("| ").split("|")] for line in lines[1:]]
    cases = [row for row in rows if len(row) == len(header)]
    assert [row[:4] for row in cases] == [["6", "2000", "20", "1"], ["6", "2000", "20", "5"]]
    for row in cases:
        for value in (*row[4:9], row[10], row[11]):
            assert float(value) >= 0
        assert row[9] == "yes"  # pruned and unpruned select picked the same
        assert row[-1] == "-" or float(row[-1]) > 0
    assert "gp fit time against n" in done.stdout and "surrogate gp" in done.stdout


@pytest.mark.slow
def test_overhead_table_for_another_surrogate() -> None:
    """``--surrogate forest`` times the forest in the matloop column."""
    done = subprocess.run([sys.executable, str(BENCHMARKS / "overhead.py"), "--pools", "2000",
                           "--dims", "6", "--train", "20", "--batch", "1", "--no-baseline",
                           "--surrogate", "forest"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "surrogate forest" in done.stdout and "forest fit time against n" in done.stdout
    rows = [line for line in done.stdout.splitlines() if line.startswith("| 6 | 2000 |")]
    assert len(rows) == 1 and "not run" in rows[0]


def test_recipe_costs_table() -> None:
    """EMT through every recipe: one row each, both timings, all ok."""
    done = subprocess.run([sys.executable, str(BENCHMARKS / "recipe_costs.py"),
                           "--calculators", "emt"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [[c.strip() for c in line.strip("| ").split("|")]
            for line in done.stdout.splitlines() if line.startswith("| ")][1:]
    assert [row[2] for row in rows] == ["energy", "relax", "eos", "elastic",
                                        "formation_energy"]
    assert all(row[0] == "emt" and row[6] == "ok" for row in rows)
    assert all(float(row[3]) > 0 and float(row[4]) > 0 and int(row[5]) >= 1 for row in rows)


def test_peers_tabulate_merges_runs_split_over_processes(tmp_path: Path) -> None:
    import json

    def figures(median: float, af: float) -> dict[str, object]:
        return {"first": [median], "median": median, "band": [median, median], "af": af}

    common = {"n": 100, "budget": 30, "batch": 1, "random": 20.0, "wall_s": 1.0}
    first = {"rows": [{"campaign": "a", **common, "botorch": figures(10, 2.0),
                       "baybe": figures(5, 4.0)},
                      {"campaign": "b", **common, "botorch": figures(4, 5.0)}]}
    second = {"rows": [{"campaign": "a", **common, "matloop": figures(4, 5.0)},
                       {"campaign": "b", **common, "matloop": figures(5, 4.0)}]}
    paths = [tmp_path / "first.json", tmp_path / "second.json"]
    for path, data in zip(paths, (first, second), strict=True):
        path.write_text(json.dumps(data))
    done = subprocess.run([sys.executable, str(BENCHMARKS / "peers.py"), "--tabulate",
                           *map(str, paths)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert "| a | 100 | 30 (1) | 20.0 | 4 [4-4] x5.00 | 10 [10-10] x2.00 | 5 [5-5] x4.00 |" \
        in lines
    assert "| b | 100 | 30 (1) | 20.0 | 5 [5-5] x4.00 | 4 [4-4] x5.00 | not run |" in lines
    assert any("(1 datasets with every method)" in line and "x5.00 | x2.00 | x4.00" in line
               for line in lines)
    assert "matloop / better peer: 1.25" in lines
    assert "matloop's median behind the better peer's on 0 of 1: none" in lines


def test_peers_skip_a_target_set_and_levers_refuse_an_unknown_setting() -> None:
    examples = BENCHMARKS.parent / "examples" / "benchmarks"
    peers = subprocess.run([sys.executable, str(BENCHMARKS / "peers.py"),
                            str(examples / "superhard.toml"), "--seeds", "1", "--skip",
                            "baybe"], capture_output=True, text=True, timeout=300)
    assert peers.returncode == 0, peers.stderr[-2000:]
    assert "skipped" in peers.stderr and "one maximize/minimize target" in peers.stderr
    levers = subprocess.run([sys.executable, str(BENCHMARKS / "levers.py"),
                             str(examples / "snar.toml"), "--settings", "design=farthest"],
                            capture_output=True, text=True, timeout=120)
    assert levers.returncode == 2
    assert "unknown settings design=farthest; known: baseline, design=random" \
        in levers.stderr
