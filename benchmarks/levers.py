"""Which defaults? Every lever measured on every benchmark pool, chosen by
leave-one-dataset-out (``matloop.benchmarking.levers``).

    python benchmarks/levers.py examples/benchmarks/*.toml --seeds 10 --json levers.json

Campaigns without one maximise/minimise target (target sets) are skipped. For every
setting below (one lever changed from the campaign file as it is) and every campaign, seeds
0..S-1 run the real loop until the first top-1 % candidate is measured. Printed: AF_first
per dataset and setting, the geometric mean over datasets, and per lever the value that
leave-one-dataset-out chooses for each held-out dataset with the held-out figure.
A setting a campaign refuses (``encoding=learned`` without categorical columns) is not
run on it. ``--settings a,b`` runs a subset (``baseline`` always runs); ``--json FILE`` writes every
seed's figure (and, as they finish, FILE.jsonl), and ``--resume FILE`` reuses the seeds
a previous ``--json`` file or its ``.jsonl`` log holds (``--no-run``: only tabulate them,
with earlier studies' settings, ``FORMER``, if they hold any). Resume only from runs
made with the same defaults: ``baseline`` means the campaign files as they are.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from matloop.benchmarking.levers import (
    BASELINE,
    LeverJob,
    LeverRun,
    Setting,
    af_first,
    geometric_mean,
    leave_one_out,
    overridden,
    run_lever_job,
    threshold,
)
from matloop.benchmarking.replay import one_thread
from matloop.campaigns import load
from matloop.campaigns.schema import Campaign
from matloop.errors import ConfigError

SETTINGS = (
    Setting(BASELINE, "", {}),
    Setting("design=random", "initial design", {"loop.initial_design": "random"}),
    Setting("design=diameter", "initial design", {"loop.initial_design": "diameter"}),
    Setting("design=kmeans", "initial design", {"loop.initial_design": "kmeans"}),
    Setting("design=sobol", "initial design", {"loop.initial_design": "sobol"}),
    Setting("initial=3", "initial size", {"loop.initial": 3}),
    Setting("initial=10", "initial size", {"loop.initial": 10}),
    Setting("prior=gamma", "GP prior", {"surrogate.prior": "gamma"}),
    Setting("kernel=matern52", "GP kernel", {"surrogate.kernel": "matern52"}),
    Setting("warm_start=false", "warm start", {"surrogate.warm_start": False}),
    Setting("restarts=3", "GP fit restarts", {"surrogate.restarts": 3}),
    Setting("warp=power", "output warp", {"surrogate.warp": "power"}),
    Setting("acquisition=ucb", "acquisition", {"loop.acquisition": "ucb"}),
    Setting("incumbent=observed", "acquisition", {"loop.incumbent": "observed"}),
    Setting("acquisition=thompson", "acquisition", {"loop.acquisition": "thompson"}),
    Setting("surrogate=auto", "surrogate", {"surrogate.kind": "auto"}),
    Setting("cold+restarts=3", "combination", {"surrogate.warm_start": False,
                                               "surrogate.restarts": 3}),
    # for campaigns with categorical columns only (not run on the others)
    Setting("encoding=learned", "categorical encoding", {"space.encoding": "learned"}),
)
# settings of earlier studies (2026-12-06), named against the defaults of their time
# (first: random initial design, Matérn-5/2; third: farthest-point, Matérn-5/2):
# tabulated from stored runs (--resume) only
FORMER = (
    Setting("kernel=rbf", "GP kernel", {"surrogate.kernel": "rbf"}),
    Setting("design=farthest", "initial design", {"loop.initial_design": "farthest"}),
    Setting("farthest+power", "combination", {"loop.initial_design": "farthest",
                                              "surrogate.warp": "power"}),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--settings", default=None, help="comma-separated setting names")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--resume", type=Path, default=None)
    parser.add_argument("--no-run", action="store_true",
                        help="only tabulate what --resume holds (partial settings too)")
    args = parser.parse_args()
    unknown = set((args.settings or "").split(",")) - {s.name for s in SETTINGS} - {""}
    if unknown:
        parser.error(f"unknown settings {', '.join(sorted(unknown))}; known: "
                     + ", ".join(s.name for s in SETTINGS))
    done = _previous(args.resume)
    stored = {name for name, _, _ in done}
    settings = [s for s in SETTINGS if args.settings is None or s.name == BASELINE
                or s.name in args.settings.split(",")]
    settings += [s for s in FORMER if s.name in stored and args.no_run]
    campaigns = {}
    for path in args.files:
        campaign = load(path)
        try:
            campaigns[path] = (campaign, threshold(campaign))
        except (ValueError, ConfigError) as exc:
            print(f"skipped {path}: {exc}", file=sys.stderr)
    refused = {(s.name, p) for s in settings for p, (c, _) in campaigns.items()
               if not _applies(s, c)}
    for name, path in sorted(refused, key=str):
        print(f"{name} does not apply to {path}: not run there", file=sys.stderr)
    with tempfile.TemporaryDirectory() as folder:
        jobs = [LeverJob(s, path, seed, Path(folder) / f"{k}.db")
                for k, (s, path, seed) in enumerate(
                    (s, p, seed) for s in settings for p in campaigns
                    for seed in range(args.seeds) if (s.name, p) not in refused)
                if (s.name, campaigns[path][0].campaign.name, seed) not in done
                and not args.no_run]
        log = None if args.json is None else args.json.with_suffix(".jsonl")
        runs = list(done.values()) + _run(jobs, args.workers, log)
    scores = _scores(runs, campaigns, settings)
    _print(scores, settings, runs, {c.campaign.name: _size(c) for c, _ in campaigns.values()})
    if args.json:
        args.json.write_text(json.dumps({
            "seeds": args.seeds,
            "settings": [{"name": s.name, "lever": s.lever, "overrides": dict(s.overrides)}
                         for s in settings],
            "runs": [_record(r) for r in runs],
            "af_first": scores,
            "leave_one_out": leave_one_out(scores, settings)}, indent=1))
    return 0


def _applies(setting: Setting, campaign: Campaign) -> bool:
    """Whether the campaign accepts the setting (``encoding`` needs categorical columns)."""
    try:
        overridden(campaign, setting.overrides)
    except ConfigError:
        return False
    return True


def _record(run: LeverRun) -> dict:
    return vars(run) | {"first": None if math.isinf(run.first) else run.first}


def _previous(path: Path | None) -> dict[tuple[str, str, int], LeverRun]:
    if path is None or not path.exists():
        return {}
    text = path.read_text()
    records = [json.loads(line) for line in text.splitlines() if line.strip()] \
        if path.suffix == ".jsonl" else json.loads(text)["runs"]
    runs = [LeverRun(**{**r, "first": math.inf if r["first"] is None else r["first"]})
            for r in records]
    return {(r.setting, r.dataset, r.seed): r for r in runs}


def _run(jobs: list[LeverJob], workers: int, log: Path | None) -> list[LeverRun]:
    context = multiprocessing.get_context("spawn")
    runs: list[LeverRun] = []
    with ProcessPoolExecutor(workers, mp_context=context, initializer=one_thread) as pool:
        futures = [pool.submit(run_lever_job, job) for job in jobs]
        for k, future in enumerate(as_completed(futures), 1):
            run = future.result()
            runs.append(run)
            if log is not None:
                with log.open("a") as out:
                    out.write(json.dumps(_record(run)) + "\n")
            print(f"[{k}/{len(jobs)}] {run.setting} {run.dataset} seed {run.seed}: "
                  f"{run.first:g} ({run.wall_s:.1f} s)", file=sys.stderr, flush=True)
    return runs


def _scores(runs: list[LeverRun], campaigns: dict, settings: list[Setting]
            ) -> dict[str, dict[str, float]]:
    scores: dict[str, dict[str, float]] = {}
    for setting in settings:
        for campaign, (_, _, random_first) in campaigns.values():
            firsts = [r.first for r in runs
                      if r.setting == setting.name and r.dataset == campaign.campaign.name]
            if firsts:
                scores.setdefault(setting.name, {})[campaign.campaign.name] = af_first(
                    firsts, random_first, campaign.loop.budget)
    return scores


def _mean_cell(scores: dict[str, dict[str, float]], name: str, datasets: list[str]) -> str:
    """The geometric mean over every dataset, or, for a setting measured on only some,
    its mean and the baseline's over those (``"4.21 vs 4.05 (14)"``)."""
    measured = [d for d in datasets if d in scores[name]]
    mean = geometric_mean([scores[name][d] for d in measured])
    if len(measured) == len(datasets):
        return f"{mean:.3f}"
    base = geometric_mean([scores[BASELINE][d] for d in measured])
    return f"{mean:.2f} vs {base:.2f} ({len(measured)})"


def _size(campaign: Campaign) -> tuple[int, int]:
    """The pool's size N and its number of features d."""
    from matloop.spaces.build import build_pool
    from matloop.spaces.featurised import featurise

    features = featurise(build_pool(campaign.space)).features
    return features.shape[0], features.shape[1]


def _print(scores: dict[str, dict[str, float]], settings: list[Setting],
           runs: list[LeverRun], sizes: dict[str, tuple[int, int]]) -> None:
    """Markdown tables: AF_first per dataset and setting, then the leave-one-out choices."""
    datasets = sorted(scores[BASELINE])
    names = [s.name for s in settings if s.name in scores]
    print("AF_first = random's expected draws / median evaluations to the first top-1 %\n")
    print("| dataset | N | d | " + " | ".join(names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    for d in datasets:
        cells = [scores[n].get(d, math.nan) for n in names]
        best = max(c for c in cells if not math.isnan(c))
        n, dims = sizes[d]
        print(f"| {d} | {n:,} | {dims} | " + " | ".join(
            "—" if math.isnan(c) else f"**{c:.2f}**" if c == best else f"{c:.2f}"
            for c in cells) + " |")
    print("| geometric mean | | | " + " | ".join(_mean_cell(scores, n, datasets)
                                                for n in names) + " |")
    print("| run time (s) | | | " + " | ".join(
        f"{sum(r.wall_s for r in runs if r.setting == n):.0f}" for n in names) + " |")
    folds = leave_one_out(scores, settings)
    baseline = geometric_mean([scores[BASELINE][d] for d in datasets])
    print("\n| lever | chosen by leave-one-dataset-out (folds) | held-out geometric mean "
          "| baseline |")
    print("|---|---|---|---|")
    for lever in sorted({lever for fold in folds.values() for lever in fold}):
        chosen = [folds[d][lever]["chosen"] for d in datasets]
        counts = ", ".join(f"{c} {chosen.count(c)}" for c in sorted(set(chosen)))
        held = geometric_mean([folds[d][lever]["held_out"] for d in datasets])
        print(f"| {lever} | {counts} | {held:.3f} | {baseline:.3f} |")


if __name__ == "__main__":
    sys.exit(main())
