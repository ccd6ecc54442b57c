"""The steps recipes are made of: scratch folders and logs, strained copies, relaxations
with a step and volume guard, and the checked final result."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from matloop.errors import EvaluationFailure
from matloop.oracles.recipe_settings import (
    FINAL_NAME,
    LOG_NAME,
    PROPERTIES_BY_RECIPE,
    RecipeResult,
    RecipeSettings,
)

if TYPE_CHECKING:
    from ase import Atoms


def scratch(directory: Path | str) -> Path:
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def optimizer_log(directory: Path) -> Iterator[IO[str]]:
    with (directory / LOG_NAME).open("a", encoding="utf-8") as log:
        yield log


def working_copy(atoms: Atoms) -> Atoms:
    if atoms.calc is None:
        raise ValueError("the structure has no calculator attached (atoms.calc is None)")
    work = atoms.copy()
    work.calc = atoms.calc
    return work


def strained(atoms: Atoms, cell: np.ndarray) -> Atoms:
    point = atoms.copy()
    point.calc = atoms.calc
    point.set_cell(cell, scale_atoms=True)
    return point


def energy_per_atom(atoms: Atoms) -> float:
    e = float(atoms.get_potential_energy()) / len(atoms)
    if not math.isfinite(e):
        raise EvaluationFailure("the calculator returned a non-finite energy",
                                reason="not_converged")
    return e


def optimizer_class(name: str) -> Any:
    from ase.optimize import BFGS, FIRE

    return {"BFGS": BFGS, "FIRE": FIRE}[name.upper()]


def cell_filter(atoms: Atoms) -> Any:
    """``FrechetCellFilter`` (ASE >= 3.23), else the older ``ExpCellFilter``."""
    import importlib

    try:
        from ase.filters import FrechetCellFilter
    except ImportError:  # pragma: no cover - ASE before 3.23
        constraints = importlib.import_module("ase.constraints")
        return constraints.ExpCellFilter(atoms)
    return FrechetCellFilter(atoms)


def relax_atoms(atoms: Atoms, s: RecipeSettings, log: IO[str], what: str
           ) -> tuple[int, dict[str, Any]]:
    """Relax ``atoms`` in place (positions and, if ``relax_cell``, the cell).

    Returns the optimiser steps and JSON-able details. ``invalid`` if the volume changed
    by more than ``max_volume_change``; ``not_converged`` if ``max_steps`` ran out.
    """
    v_start = atoms.get_volume() if atoms.pbc.all() else float("nan")
    target = cell_filter(atoms) if s.relax_cell and atoms.pbc.all() else atoms
    log.write(f"# {what}: {s.optimizer.upper()} on "
              f"{'positions and cell' if target is not atoms else 'positions'}, "
              f"fmax={s.fmax} eV/Å, max_steps={s.max_steps}\n")
    log.flush()
    optimizer = optimizer_class(s.optimizer)(target, logfile=log)
    converged = bool(optimizer.run(fmax=s.fmax, steps=s.max_steps))
    steps = int(optimizer.nsteps)
    details: dict[str, Any] = {"optimizer": s.optimizer.upper(), "steps": steps,
                               "converged": converged}
    if math.isfinite(v_start):
        change = atoms.get_volume() / v_start - 1
        details["volume_change"] = change
        if not abs(change) <= s.max_volume_change:
            raise EvaluationFailure(
                f"{what}: the volume changed by {change:+.1%} (more than "
                f"max_volume_change={s.max_volume_change:.0%}); the starting structure is "
                "unphysical or the calculator unsuited", reason="invalid")
    if not converged:
        raise EvaluationFailure(f"{what}: did not reach fmax={s.fmax} eV/Å within "
                                f"max_steps={s.max_steps}", reason="not_converged")
    return steps, details


def relax_positions(atoms: Atoms, s: RecipeSettings, log: IO[str], what: str) -> int:
    """Relax positions at fixed cell; ``not_converged`` if ``max_steps`` ran out."""
    log.write(f"# {what}: {s.optimizer.upper()} on positions, fmax={s.fmax} eV/Å\n")
    log.flush()
    optimizer = optimizer_class(s.optimizer)(atoms, logfile=log)
    if not optimizer.run(fmax=s.fmax, steps=s.max_steps):
        raise EvaluationFailure(f"{what}: positions did not reach fmax={s.fmax} eV/Å "
                                f"within max_steps={s.max_steps}", reason="not_converged")
    return int(optimizer.nsteps)


def final_copy(atoms: Atoms) -> tuple[Atoms, int]:
    """``atoms`` without its live calculator, keeping energy, forces and stress.

    The calculator may last have run on another structure (a strained cell); then the
    energy is computed again, and the second item, the single points spent, is 1.
    """
    from ase.calculators.singlepoint import SinglePointCalculator

    calc = atoms.calc
    stale = calc is not None and (getattr(calc, "atoms", None) is None
                                  or bool(calc.check_state(atoms))
                                  or "energy" not in getattr(calc, "results", {}))
    if stale:
        atoms.get_potential_energy()
    results = dict(getattr(calc, "results", {}) or {})
    final = atoms.copy()
    kept = {k: results[k] for k in ("energy", "free_energy", "forces", "stress")
            if k in results}
    final.calc = SinglePointCalculator(final, **kept)
    return final, int(stale)


def recipe_result(recipe: str, values: dict[str, float], atoms: Atoms, steps: int,
            details: dict[str, Any], directory: Path) -> RecipeResult:
    from ase.io import write

    bad = [k for k, v in values.items() if not math.isfinite(v)]
    if bad:
        raise EvaluationFailure(f"{recipe}: non-finite {', '.join(bad)}",
                                reason="not_converged")
    final, extra = final_copy(atoms)
    write(directory / FINAL_NAME, final, format="extxyz")
    units = dict(PROPERTIES_BY_RECIPE[recipe])
    details = {"recipe": recipe, **details, "n_atoms": len(final),
               "formula": final.get_chemical_formula()}
    return RecipeResult(values={k: float(values[k]) for k in units}, units=units,
                        atoms=final, steps=int(steps) + extra, details=details)
