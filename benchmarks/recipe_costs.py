"""Benchmark: the wall time of every recipe with every calculator installed here.

One structure (fcc Al, the 1-atom primitive cell at a = 4.05 Å, which all four
calculators can do: EMT, CHGNet, GPAW with PBE PAW setups and Quantum ESPRESSO with
Debian's LDA ``Al.pz-vbc.UPF``; ``--structure FILE`` for another) goes through matloop's
ASE oracle (``AseOracle``, the code a campaign runs) once per recipe and calculator,
twice: "first" includes making the calculator (CHGNet loads its weights) and,
for ``formation_energy``, the elemental reference; "repeat" evaluates the same candidate
again (reference cached). Steps are optimiser iterations plus single points. A
calculator that is not installed is listed as such. One OpenMP/torch thread, as each
campaign worker should use. Settings: ``PARAMETERS`` below (cheap, not converged), fmax
0.05 eV/Å, elastic tensors kept even when not positive definite (GPAW's at these
settings is not: Al's small C11 − C12 drowns in the stress noise).

    .venv/bin/python benchmarks/recipe_costs.py [--calculators emt chgnet gpaw espresso]
        [--recipes energy relax eos elastic formation_energy] [--structure FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RECIPES = ("energy", "relax", "eos", "elastic", "formation_energy")
CALCULATORS = ("emt", "chgnet", "gpaw", "espresso")
PARAMETERS: dict[str, dict[str, Any]] = {
    "emt": {},
    "chgnet": {},
    "gpaw": {"mode": {"name": "pw", "ecut": 300}, "xc": "PBE",
             "kpts": {"density": 3.0, "gamma": True}},
    "espresso": {"pseudopotentials": {"Al": "Al.pz-vbc.UPF"}, "kpts": [8, 8, 8],
                 "input_data": {"system": {"ecutwfc": 20, "occupations": "smearing",
                                           "degauss": 0.02}}},
}
SETTINGS = {"fmax": 0.05, "max_steps": 200,
            "unstable": "keep"}  # timed whole: these cheap settings are not for physics


def aluminium() -> str:
    """fcc Al, primitive cell, a = 4.05 Å, as pymatgen JSON."""
    from pymatgen.core import Lattice, Structure

    conventional = Structure(Lattice.cubic(4.05), ["Al"] * 4,
                             [[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
    return str(conventional.get_primitive_structure().to_json())


def installed(calculator: str) -> str | None:
    """Why ``calculator`` cannot run here, or None."""
    import importlib.util
    import shutil

    if calculator == "espresso":
        return None if shutil.which("pw.x") else "pw.x not installed"
    if calculator in ("chgnet", "gpaw") and importlib.util.find_spec(calculator) is None:
        return f"{calculator} not installed"
    return None


def evaluate(calculator: str, recipe: str, structure: str, scratch: Path
             ) -> list[tuple[float, Any]]:
    """Wall time (s) and outcome of two evaluations of one candidate."""
    from matloop.oracles.ase import AseOracle
    from matloop.protocols import Candidate

    oracle = AseOracle(calculator=calculator, recipe=recipe, scratch=str(scratch),
                       parameters=PARAMETERS[calculator], settings=dict(SETTINGS))
    candidate = Candidate(key="x", label="x", structure=structure)
    runs = []
    for _ in range(2):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # CHGNet and GPAW chatter
            outcome = oracle.evaluate(candidate)
        runs.append((time.perf_counter() - start, outcome))
    return runs


def version(calculator: str) -> str:
    from matloop.oracles.calculators import calculator_provenance

    return str(calculator_provenance(calculator, {}).get("version", "?"))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calculators", nargs="+", choices=CALCULATORS,
                        default=list(CALCULATORS))
    parser.add_argument("--recipes", nargs="+", choices=RECIPES, default=list(RECIPES))
    parser.add_argument("--structure", type=Path,
                        help="a structure file pymatgen reads (default: fcc Al)")
    args = parser.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch
    from pymatgen.core import Structure

    torch.set_num_threads(1)
    structure = (aluminium() if args.structure is None
                 else str(Structure.from_file(args.structure).to_json()))
    label = Structure.from_str(structure, fmt="json").composition.reduced_formula
    print(f"structure: {label}, {len(Structure.from_str(structure, fmt='json'))} site(s); "
          "one thread")
    print("| calculator | version | recipe | first s | repeat s | steps | status |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="recipe-costs-") as tmp:
        for calculator in args.calculators:
            missing = installed(calculator)
            if missing:
                print(f"| {calculator} | – | all | – | – | – | {missing} |", flush=True)
                continue
            for recipe in args.recipes:
                (first, one), (repeat, two) = evaluate(
                    calculator, recipe, structure, Path(tmp) / calculator / recipe)
                status = "ok" if one.ok and two.ok else (one.reason or two.reason)
                steps = (two.provenance or {}).get("steps", "–")
                print(f"| {calculator} | {version(calculator)} | {recipe} | {first:.2f} "
                      f"| {repeat:.2f} | {steps} | {status} |", flush=True)


if __name__ == "__main__":
    main()
