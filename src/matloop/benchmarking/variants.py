"""Benchmark scripts that compare variants of one campaign seed by seed
(``benchmarks/fidelity_run.py``, ``benchmarks/transfer.py``): the runs kept in a JSON
file so that an interrupted study resumes, and their spread over seeds in words."""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

Run = dict[str, Any]  # one variant at one seed: "variant", "seed" and its figures


def run_variants(seeds: Iterable[int], variants: Sequence[str], path: Path | None,
                 run_one: Callable[[str, int, Path], Run]) -> list[Run]:
    """Every (variant, seed) not in ``path`` yet, run by ``run_one(variant, seed,
    scratch folder)`` and printed as a JSON line; ``path`` rewritten after each run.
    Returns every run, earlier ones included."""
    runs: list[Run] = json.loads(path.read_text()) if path and path.exists() else []
    done = {(r["variant"], r["seed"]) for r in runs}
    with tempfile.TemporaryDirectory() as folder:
        for seed in seeds:
            for variant in variants:
                if (variant, seed) in done:
                    continue
                result = run_one(variant, seed, Path(folder))
                print(json.dumps(result), flush=True)
                runs.append(result)
                if path:
                    path.write_text(json.dumps(runs, indent=1))
    return runs


def spread(runs: Sequence[Run], key: str) -> str:
    """``median [min–max]`` of ``key`` over ``runs`` (None: never)."""
    values = [math.inf if r[key] is None else r[key] for r in runs]
    low, mid, high = min(values), float(np.median(values)), max(values)
    return f"{mid:g} [{low:g}–{high:g}]".replace("inf", "never")


def by_variant(runs: Sequence[Run], variants: Sequence[str]) -> Iterator[tuple[str, list[Run]]]:
    """``(variant, its runs)`` in the order of ``variants``, skipping those never run."""
    for variant in variants:
        mine = [r for r in runs if r["variant"] == variant]
        if mine:
            yield variant, mine
