"""Benchmark: CHGNet elastic moduli against the Materials Project's DFT (PBE) values.

A seeded random sample of the structures in ``examples/data/mp_binary_structures_le4.csv``
(Materials Project binaries with at most 4 sites, their pymatgen Structure JSON and DFT
K_VRH / G_VRH in GPa) is evaluated by matloop's ASE oracle (``AseOracle``, the code a
campaign runs: relax, then the stress–strain elastic tensor) with the pretrained
CHGNet potential. Printed: evaluations done and failed (by reason), MAE, median absolute
error and mean signed error of K_VRH and G_VRH (GPa), Spearman rank correlations and the
mean wall time per evaluation (s). Torch runs on ``--threads`` threads (default 1: on a
shared or busy machine two OpenMP threads made single evaluations up to 10 times slower).

Every tensor is kept (``unstable = "keep"``) and the table gives the errors over all
and over the mechanically stable ones. ``benchmarks/recipe_costs.py`` times each recipe.

    .venv/bin/python benchmarks/chgnet_elastic.py [--n 30] [--max-sites 4] [--seed 0]
        [--strains 0.005 0.01] [--fmax 0.05] [--threads 1] [--csv FILE]
    (--csv /work/shared/data/mp_binary_elasticity.csv has all 3,953, up to 80 sites)
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import math
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data" / "mp_binary_structures_le4.csv"


@dataclass(frozen=True)
class Row:
    """One structure of the CSV with its DFT moduli (GPa)."""

    mp_id: str
    formula: str
    n_sites: int
    structure: str
    bulk_modulus: float
    shear_modulus: float


@dataclass(frozen=True)
class Result:
    """One evaluation: CHGNet moduli (GPa; NaN when failed), whether CHGNet's elastic
    tensor is positive definite, the failure reason and the wall time (s)."""

    row: Row
    bulk_modulus: float
    shear_modulus: float
    stable: bool
    reason: str | None
    seconds: float


def read_rows(path: Path) -> list[Row]:
    """The structures of ``path`` (columns mp_id, formula, n_sites, structure, and the
    DFT ``bulk_modulus_vrh_GPa`` / ``shear_modulus_vrh_GPa``)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [Row(mp_id=r["mp_id"], formula=r["formula"], n_sites=int(r["n_sites"]),
                    structure=r["structure"],
                    bulk_modulus=float(r["bulk_modulus_vrh_GPa"]),
                    shear_modulus=float(r["shear_modulus_vrh_GPa"]))
                for r in csv.DictReader(handle)]


def sample(rows: Sequence[Row], n: int, max_sites: int, seed: int) -> list[Row]:
    """``n`` rows with at most ``max_sites`` sites, drawn without replacement (seeded)."""
    eligible = [r for r in rows if r.n_sites <= max_sites]
    if not eligible:
        raise SystemExit(f"no structure with at most {max_sites} sites")
    return random.Random(seed).sample(eligible, min(n, len(eligible)))


def make_oracle(calculator: str, recipe: str, scratch: Path,
                settings: Mapping[str, Any]) -> Any:
    from matloop.oracles.ase import AseOracle

    return AseOracle(calculator=calculator, recipe=recipe, scratch=str(scratch),
                     settings=dict(settings))


def evaluate(oracle: Any, key: str, structure: str) -> tuple[Any, float]:
    """The oracle's outcome for one structure and its wall time (s), CHGNet's chatter
    on stdout swallowed."""
    from matloop.protocols import Candidate

    candidate = Candidate(key=key, label=key, structure=structure)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        outcome = oracle.evaluate(candidate)
    return outcome, time.perf_counter() - start


def warm_up() -> float:
    """Import CHGNet and load its weights once (s), so that evaluations are timed warm."""
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        from chgnet.model import CHGNet

        CHGNet.load(verbose=False)
    return time.perf_counter() - start


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (NaN for fewer than 3 pairs)."""
    if len(x) < 3:
        return math.nan
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def summarise(results: Sequence[Result], stable_only: bool = False) -> dict[str, float]:
    """Done/failed counts, errors (GPa), rank correlations and mean seconds per evaluation;
    the errors over the mechanically stable results only if ``stable_only``."""
    done = [r for r in results if r.reason is None and (r.stable or not stable_only)]
    figures: dict[str, float] = {"done": len(done), "failed": len(results) - len(done),
                                 "unstable": sum(r.reason is None and not r.stable
                                                 for r in results)}
    for name in ("bulk_modulus", "shear_modulus"):
        errors = [getattr(r, name) - getattr(r.row, name) for r in done]
        figures[f"{name}_mae"] = statistics.fmean(abs(e) for e in errors) if errors else math.nan
        figures[f"{name}_median_ae"] = (statistics.median(abs(e) for e in errors)
                                        if errors else math.nan)
        figures[f"{name}_mean_error"] = statistics.fmean(errors) if errors else math.nan
        figures[f"{name}_spearman"] = spearman([getattr(r.row, name) for r in done],
                                               [getattr(r, name) for r in done])
    figures["seconds_per_evaluation"] = statistics.fmean(r.seconds for r in results)
    return figures


def run_elastic(rows: Sequence[Row], settings: Mapping[str, Any], scratch: Path,
                verbose: bool) -> list[Result]:
    """CHGNet ``elastic`` on every row, through matloop's ASE oracle."""
    oracle = make_oracle("chgnet", "elastic", scratch, settings)
    results = []
    for i, row in enumerate(rows, 1):
        outcome, seconds = evaluate(oracle, row.mp_id, row.structure)
        values = outcome.values if outcome.ok else {}
        details = outcome.provenance.get("details", {})
        result = Result(row=row, bulk_modulus=values.get("bulk_modulus", math.nan),
                        shear_modulus=values.get("shear_modulus", math.nan),
                        stable=bool(details.get("mechanically_stable", False)),
                        reason=None if outcome.ok else outcome.reason, seconds=seconds)
        results.append(result)
        if verbose:
            status = (f"K {result.bulk_modulus:7.1f} (DFT {row.bulk_modulus:6.1f})  "
                      f"G {result.shear_modulus:7.1f} (DFT {row.shear_modulus:6.1f})"
                      + ("" if result.stable else "  (unstable)")
                      if outcome.ok else f"failed: {outcome.reason}: {outcome.error}")
            print(f"{i:3d} {row.mp_id:>11} {row.formula:<8} {row.n_sites} sites "
                  f"{seconds:6.1f} s  {status}", flush=True)
    return results


def print_elastic(results: Sequence[Result]) -> None:
    """The summary table: all successful evaluations, then the mechanically stable ones."""
    figures = summarise(results)
    stable = summarise(results, stable_only=True)
    reasons = Counter(r.reason for r in results if r.reason is not None)
    failed = f"{int(figures['failed'])}" + (f" ({dict(reasons)})" if reasons else "")
    print()
    print(f"evaluations: {len(results)}, done {int(figures['done'])}, failed {failed}; "
          f"{int(figures['unstable'])} done with an elastic tensor that is not positive "
          "definite (mechanically unstable with the potential)")
    print("| modulus | over | n | MAE (GPa) | median AE (GPa) | mean error (GPa) | Spearman |")
    print("|---|---|---|---|---|---|---|")
    for name, label in (("bulk_modulus", "K_VRH"), ("shear_modulus", "G_VRH")):
        for over, f in (("all done", figures), ("stable", stable)):
            print(f"| {label} | {over} | {int(f['done'])} | {f[f'{name}_mae']:.1f} "
                  f"| {f[f'{name}_median_ae']:.1f} | {f[f'{name}_mean_error']:+.1f} "
                  f"| {f[f'{name}_spearman']:.3f} |")
    print(f"mean seconds per evaluation: {figures['seconds_per_evaluation']:.2f}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=DATA, help="structures and DFT moduli")
    parser.add_argument("--n", type=int, default=30, help="structures to evaluate")
    parser.add_argument("--max-sites", type=int, default=4, help="largest cell (sites)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample")
    parser.add_argument("--fmax", type=float, default=0.05, help="force threshold (eV/Å)")
    parser.add_argument("--max-steps", type=int, default=200, help="steps per relaxation")
    parser.add_argument("--strains", type=float, nargs="+", default=[0.005, 0.01],
                        help="elastic strain magnitudes, applied with both signs")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1, as each campaign worker should use)")
    parser.add_argument("--quiet", action="store_true", help="no line per evaluation")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)

    settings = {"fmax": args.fmax, "max_steps": args.max_steps,
                "elastic_strains": list(args.strains),
                "unstable": "keep"}  # compare every tensor; the table separates the stable
    rows = read_rows(args.csv)
    load_seconds = warm_up()
    print(f"CHGNet import and weights: {load_seconds:.1f} s (once per process); "
          f"{args.threads} torch thread(s)")
    with tempfile.TemporaryDirectory(prefix="chgnet-bench-") as tmp:
        chosen = sample(rows, args.n, args.max_sites, args.seed)
        print(f"{len(chosen)} structures (seed {args.seed}, at most {args.max_sites} sites) "
              f"of {args.csv.name}; fmax {args.fmax} eV/Å, max_steps {args.max_steps}, "
              f"elastic strains ±{', ±'.join(f'{s:g}' for s in args.strains)}")
        start = time.perf_counter()
        results = run_elastic(chosen, settings, Path(tmp), verbose=not args.quiet)
        print_elastic(results)
        print(f"total wall time: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
