"""Compute once: formation energies of the 972 WBM structures with an ML potential.

Every structure of ``examples/data/wbm_random_pbe52_972.json.gz`` (matcalc's
``benchmark_data``, BSD-3: relaxed PBE structures with their PBE energies and formation
energies) goes through matloop's ASE oracle with the ``formation_energy`` recipe: relaxed
by the named potential, against each element's ASE reference crystal relaxed by the same
potential (elements ASE has no crystal for, e.g. O, N, H, fail as ``invalid``). One row
per structure is appended to ``--out``:

    material_id, formula, n_sites, ml_energy_per_atom, ml_formation_energy_per_atom
    (eV/atom; empty when failed), pbe_energy_per_atom, pbe_formation_energy_per_atom
    (uncorrected), status, error, seconds, calculator, model, version

A stopped run resumes (rows already in ``--out`` are skipped; the elemental references
stay cached in ``--scratch``). ``--summary`` prints the errors against PBE.

    .venv/bin/python benchmarks/ml_formation.py --calculator chgnet \\
        --out benchmarks/results/wbm-formation-chgnet.csv [--limit N] [--shard 0/2]
    .venv/bin/python benchmarks/ml_formation.py \
        --summary benchmarks/results/wbm-formation-chgnet.csv
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import statistics
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from chgnet_elastic import evaluate, make_oracle
from ml_moduli import MODELS, PACKAGES, done_ids, shard, table_rows

DATA = (Path(__file__).resolve().parents[1] / "examples" / "data"
        / "wbm_random_pbe52_972.json.gz")
FIELDS = ["material_id", "formula", "n_sites", "ml_energy_per_atom",
          "ml_formation_energy_per_atom", "pbe_energy_per_atom",
          "pbe_formation_energy_per_atom", "status", "error", "seconds", "calculator",
          "model", "version"]


def compute(calculator: str, out: Path, scratch: Path, limit: int | None, part: str
            ) -> None:
    """Append a row per WBM structure not yet in ``out``."""
    with gzip.open(DATA, "rt", encoding="utf-8") as handle:
        entries = json.load(handle)
    todo = [e for e in shard(entries, part) if e["material_id"] not in done_ids(out)]
    todo = todo[:limit] if limit is not None else todo
    oracle = make_oracle(calculator, "formation_energy", scratch, {"fmax": 0.05,
                                                                   "max_steps": 300})
    version = metadata.version(PACKAGES[calculator])
    new = not out.exists()
    with out.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        if new:
            writer.writeheader()
        for i, entry in enumerate(todo, start=1):
            outcome, seconds = evaluate(oracle, entry["material_id"],
                                        json.dumps(entry["structure"]))
            n = len(entry["structure"]["sites"])
            writer.writerow({
                "material_id": entry["material_id"], "formula": entry["formula"],
                "n_sites": n,
                "ml_energy_per_atom": _number(outcome.values.get("energy_per_atom")),
                "ml_formation_energy_per_atom": _number(
                    outcome.values.get("formation_energy_per_atom")),
                "pbe_energy_per_atom": _number(entry["energy"] / n),
                "pbe_formation_energy_per_atom": _number(entry["formation_energy_per_atom"]),
                "status": "succeeded" if outcome.ok else outcome.reason,
                "error": (outcome.error or "")[:300], "seconds": f"{seconds:.2f}",
                "calculator": calculator, "model": MODELS[calculator], "version": version})
            handle.flush()
            print(f"{i}/{len(todo)} {entry['material_id']} {entry['formula']}: "
                  f"{'ok' if outcome.ok else outcome.reason} ({seconds:.1f} s)", flush=True)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def summary(path: Path) -> None:
    """Errors of the ML energies and formation energies against PBE (eV/atom)."""
    rows = table_rows(path)
    done = [r for r in rows if r["status"] == "succeeded"]
    failed: dict[str, int] = {}
    for r in rows:
        if r["status"] != "succeeded":
            failed[r["status"]] = failed.get(r["status"], 0) + 1
    print(f"{path.name}: {len(rows)} structures, {len(done)} succeeded, failed {failed}")
    if not done:
        return
    for name in ("energy_per_atom", "formation_energy_per_atom"):
        ml = [float(r[f"ml_{name}"]) for r in done]
        pbe = [float(r[f"pbe_{name}"]) for r in done]
        errors = [a - b for a, b in zip(ml, pbe, strict=True)]
        print(f"{name}: MAE {statistics.mean(abs(e) for e in errors):.3f} eV/atom, mean "
              f"error {statistics.mean(errors):+.3f}, median absolute "
              f"{statistics.median(abs(e) for e in errors):.3f}, R "
              f"{statistics.correlation(ml, pbe):.3f} (n = {len(done)})")
    seconds = [float(r["seconds"]) for r in rows]
    print(f"time: {statistics.mean(seconds):.2f} s per structure, {sum(seconds):.0f} s in all")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calculator", choices=sorted(PACKAGES), default="chgnet")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--scratch", type=Path, default=None,
                        help="folder of the relaxations and the elemental references "
                        "(default: <out>.scratch)")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--shard", default="0/1")
    parser.add_argument("--summary", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.summary is not None:
        summary(args.summary)
        return
    if args.out is None:
        sys.exit("--out is required (or --summary FILE)")
    compute(args.calculator, args.out, args.scratch or args.out.with_suffix(".scratch"),
            args.limit, args.shard)


if __name__ == "__main__":
    main()
