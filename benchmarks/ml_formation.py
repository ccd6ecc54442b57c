"""Compute once: formation energies of the 972 WBM structures with an ML potential.

Every structure of ``examples/data/wbm_random_pbe52_972.json.gz`` (matcalc's
``benchmark_data``, BSD-3: relaxed PBE structures with their PBE energies and formation
energies) goes through matloop's ASE oracle: relaxed by the named potential and placed
on the hull of ``examples/data/mp_elements.csv`` (the Materials Project's lowest-energy
structure of each element, the references of the PBE formation energies), every element
relaxed by the same potential. One row per structure is appended to ``--out``:

    material_id, formula, n_sites, ml_energy_per_atom, ml_formation_energy_per_atom
    (eV/atom; empty when failed), pbe_energy_per_atom, pbe_formation_energy_per_atom
    (uncorrected), status, error, seconds, calculator, model, version

A stopped run resumes (rows already in ``--out`` are skipped; the elements' energies
stay cached in ``--references``, by default the superhard examples' hull cache, which
ships them at these relaxation settings). ``--summary`` prints the errors against PBE,
as computed and with the Materials Project's 2020 corrections (the file's
``corrected_formation_energy_per_atom``), and how often the sign of the formation
energy (below or above the elements) agrees.

    .venv/bin/python benchmarks/ml_formation.py --calculator chgnet \\
        --out benchmarks/results/wbm-formation-chgnet.csv [--limit N] [--shard 0/2]
    .venv/bin/python benchmarks/ml_formation.py \\
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

from chgnet_elastic import evaluate
from ml_moduli import MODELS, PACKAGES, done_ids, shard, table_rows

from matloop.oracles.ase import AseOracle

DATA = (Path(__file__).resolve().parents[1] / "examples" / "data"
        / "wbm_random_pbe52_972.json.gz")
ELEMENTS = DATA.with_name("mp_elements.csv")
FIELDS = ["material_id", "formula", "n_sites", "ml_energy_per_atom",
          "ml_formation_energy_per_atom", "pbe_energy_per_atom",
          "pbe_formation_energy_per_atom", "status", "error", "seconds", "calculator",
          "model", "version"]


def compute(calculator: str, out: Path, scratch: Path, references: Path,
            limit: int | None, part: str) -> None:
    """Append a row per WBM structure not yet in ``out``; the elements' energies are
    read from (or added to) the hull cache in ``references``."""
    with gzip.open(DATA, "rt", encoding="utf-8") as handle:
        entries = json.load(handle)
    todo = [e for e in shard(entries, part) if e["material_id"] not in done_ids(out)]
    todo = todo[:limit] if limit is not None else todo
    oracle = AseOracle(calculator=calculator, recipe="relax", scratch=str(scratch),
                       settings={"fmax": 0.05, "max_steps": 200}, hull=(str(ELEMENTS),),
                       hull_cache=str(references))
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
    with gzip.open(DATA, "rt", encoding="utf-8") as handle:
        corrected = {e["material_id"]: e["corrected_formation_energy_per_atom"]
                     for e in json.load(handle)}
    ml_energy = [float(r["ml_energy_per_atom"]) for r in done]
    ml = [float(r["ml_formation_energy_per_atom"]) for r in done]
    for name, ml_values, pbe in (
            ("energy per atom", ml_energy, [float(r["pbe_energy_per_atom"]) for r in done]),
            ("formation energy, PBE", ml,
             [float(r["pbe_formation_energy_per_atom"]) for r in done]),
            ("formation energy, PBE with MP2020 corrections", ml,
             [float(corrected[r["material_id"]]) for r in done])):
        errors = [a - b for a, b in zip(ml_values, pbe, strict=True)]
        ml_below, pbe_below = [v < 0 for v in ml_values], [v < 0 for v in pbe]
        agree = sum(a == b for a, b in zip(ml_below, pbe_below, strict=True))
        sign = ("" if name == "energy per atom" else
                f"; below the elements (< 0): reference {sum(pbe_below)}, ML "
                f"{sum(ml_below)}, the sign agrees for {agree} ({agree / len(done):.1%})")
        print(f"{name}: MAE {statistics.mean(abs(e) for e in errors):.3f} eV/atom, mean "
              f"error {statistics.mean(errors):+.3f}, median absolute "
              f"{statistics.median(abs(e) for e in errors):.3f}, R "
              f"{statistics.correlation(ml_values, pbe):.3f} (n = {len(done)}){sign}")
    seconds = [float(r["seconds"]) for r in rows]
    print(f"time: {statistics.mean(seconds):.2f} s per structure, {sum(seconds):.0f} s in all")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calculator", choices=sorted(PACKAGES), default="chgnet")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--scratch", type=Path, default=None,
                        help="folder of the relaxations (default: <out>.scratch)")
    parser.add_argument("--references", type=Path, default=ELEMENTS.parent / "hull-references",
                        help="hull cache of the elements' energies (default: the one "
                        "the superhard examples ship, whose relaxation settings these are)")
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
            args.references, args.limit, args.shard)


if __name__ == "__main__":
    main()
