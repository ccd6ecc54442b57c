"""The seed-by-seed variant runner of the benchmark scripts: runs are kept in the JSON
file and an interrupted study resumes without running a (variant, seed) twice."""

from __future__ import annotations

import json
from pathlib import Path

from matloop.benchmarking.variants import run_variants, spread


def test_runs_are_kept_and_a_second_call_runs_only_what_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "runs.json"
    calls: list[tuple[str, int]] = []

    def run_one(variant: str, seed: int, folder: Path) -> dict[str, object]:
        assert folder.is_dir()
        calls.append((variant, seed))
        return {"variant": variant, "seed": seed, "value": seed * 10}

    first = run_variants(range(2), ["a", "b"], path, run_one)
    assert calls == [("a", 0), ("b", 0), ("a", 1), ("b", 1)]
    assert json.loads(path.read_text()) == first
    calls.clear()
    both = run_variants(range(3), ["a", "b"], path, run_one)
    assert calls == [("a", 2), ("b", 2)]
    assert len(both) == 6


def test_spread_is_median_min_max_and_never_for_none() -> None:
    runs = [{"k": 3}, {"k": 1}, {"k": None}]
    assert spread(runs, "k") == "3 [1–never]"
    assert spread([{"k": 2}, {"k": 4}], "k") == "3 [2–4]"


def test_runs_are_grouped_in_the_order_of_the_variants() -> None:
    from matloop.benchmarking.variants import by_variant

    runs = [{"variant": "b", "seed": 0}, {"variant": "a", "seed": 0},
            {"variant": "b", "seed": 1}]
    assert [(v, [r["seed"] for r in mine]) for v, mine in by_variant(runs, ["a", "b", "c"])] \
        == [("a", [0]), ("b", [0, 1])]
