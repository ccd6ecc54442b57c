"""The whole benchmark: check the campaigns, replay every seed, summarise, write the files."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from matloop.benchmarking.replay import SeedRun
from matloop.errors import ConfigError


def run_benchmark(paths: Sequence[Path], seeds: int, out: Path, budget: int | None = None,
                  workers: int = 2, on_done: Callable[[SeedRun], None] | None = None,
                  surrogates: Sequence[str] = ()) -> dict[str, Any]:
    """Replay each campaign file with seeds ``0..seeds-1`` and compare with random search.

    With ``surrogates`` (kinds), each file is replayed once per kind, labelled
    ``"name [kind]"``, instead of with the surrogate the file names.

    Every campaign is checked (table oracle, budget, something to find) before any seed
    runs. Writes ``out/summary.json`` and ``out/<campaign>.png``; returns the summary.
    Seeds run ``workers`` at a time, each in its own temporary SQLite database.
    """
    from matloop.benchmarking.analysis import analyse, known_answers, require_table_oracle
    from matloop.benchmarking.replay import Job, benchmark_copy, replay
    from matloop.benchmarking.report import DEFINITIONS, plot, slug, write_json
    from matloop.campaigns import load

    if seeds < 1:
        raise ConfigError(f"seeds must be at least 1 (got {seeds})")
    if workers < 1:
        raise ConfigError(f"workers must be at least 1 (got {workers})")
    if not paths:
        raise ConfigError("give at least one campaign file")
    kinds: Sequence[str | None] = list(surrogates) or [None]
    loaded = [load(path) for path in paths]
    paths = [path for path in paths for _ in kinds]
    campaigns = [campaign for campaign in loaded for _ in kinds]
    variants = [kind for _ in loaded for kind in kinds]
    names = [c.campaign.name + (f" [{kind}]" if kind else "")
             for c, kind in zip(campaigns, variants, strict=True)]
    labels = [name if names.count(name) == 1 else f"{name} ({path})"
              for name, path in zip(names, paths, strict=True)]
    for label, campaign in zip(labels, campaigns, strict=True):
        require_table_oracle(campaign, label)
    copies = []
    for campaign, kind in zip(campaigns, variants, strict=True):
        try:
            copies.append(benchmark_copy(campaign, 0, budget, "check.db", kind))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    truths = [known_answers(c, label) for c, label in zip(campaigns, labels, strict=True)]

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="matloop-benchmark-") as folder:
        jobs = [Job(label, path.resolve(), seed, budget,
                    Path(folder) / f"{slug(label)}-{i}-seed{seed}.db", kind)
                for i, (label, path, kind) in enumerate(zip(labels, paths, variants,
                                                            strict=True))
                for seed in range(seeds)]
        runs = replay(jobs, workers, on_done)
    wall_s = time.perf_counter() - start

    summaries = []
    for label, campaign, copy, truth in zip(labels, campaigns, copies, truths, strict=True):
        replayed = campaign.model_copy(update={"surrogate": copy.surrogate})
        summary = analyse(label, replayed, truth, [r for r in runs if r.label == label],
                          copy.loop.budget)
        png = out / f"{slug(label)}.png"
        plot(summary, png)
        summary["plot"] = str(png)
        summaries.append(summary)
    result = {"seeds": seeds, "budget": budget, "workers": workers, "wall_s": wall_s,
              "surrogates": list(surrogates),
              "json": str(out / "summary.json"), "definitions": DEFINITIONS,
              "campaigns": summaries}
    write_json(result, out / "summary.json")
    return result
