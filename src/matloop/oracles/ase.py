"""The ASE oracle: any calculator and any recipe, on structures or compositions.

For a candidate the oracle

1. gets a structure: a ``structure`` (pymatgen JSON) is converted to ``ase.Atoms``
   (pymatgen's ``AseAtomsAdaptor``); a ``composition``, when the oracle has a
   ``supercell``, is decorated on an fcc supercell (``matloop.oracles.compositions``);
2. makes a scratch folder ``<scratch>/<safe key>/attempt-<n>`` (n = 1, 2, ... counts the
   attempts at this candidate: a folder is never reused), builds the calculator there
   (``matloop.oracles.calculators.make_calculator``) and runs the recipe
   (``matloop.oracles.recipes.RECIPES``), which leaves ``optimizer.log`` and
   ``final.extxyz`` in the folder;
3. returns the recipe's values in ``PROPERTIES_BY_RECIPE`` units, with provenance:
   calculator, package and version, parameters, recipe and settings, wall time (s),
   steps, the recipe's details, the scratch folder and the final (relaxed) structure as a
   pymatgen dict; for a composition also the supercell, seed, atom counts, cell formula
   and starting lattice constant.

Composition candidates also get ``formation_energy_per_atom`` (eV/atom) from every recipe:
the energy per atom (for ``eos``, at the EOS minimum) less the pure elements' in fcc at
their own EOS minima, weighted by the atom counts.

Failures come back as ``Outcome.failure``: the recipe's ``not_converged`` / ``invalid`` /
``infeasible``, ``invalid`` for a candidate without a structure (or, without
``supercell``, a composition) or with elements the calculator has no parameters for,
``error`` for anything unexpected.

Formation energies need elemental references: for structures each element's ASE
reference crystal relaxed with the same calculator, parameters and settings
(``recipes.elemental_reference``); for compositions the element in fcc at its EOS
minimum (``compositions.fcc_reference``). They are computed once per campaign and kept
in ``<scratch>/references.json`` under a digest of calculator, parameters and settings
(and the kind of reference). The file is rewritten atomically (temporary file +
``os.replace``) after re-reading it, so parallel workers at worst compute a reference
twice (or drop another's fresh entry, to be computed again later) but never corrupt it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matloop.errors import EvaluationFailure
from matloop.oracles.files import plain, read_json, safe_name, write_json_atomically
from matloop.protocols import Candidate, Outcome

if TYPE_CHECKING:
    from ase import Atoms
    from ase.calculators.calculator import BaseCalculator

    from matloop.oracles.recipes import RecipeSettings

__all__ = ["FORMATION", "REFERENCES_FILE", "AseOracle"]

REFERENCES_FILE = "references.json"
FORMATION = "formation_energy_per_atom"


@dataclass(frozen=True)
class AseOracle:
    """Runs ``recipe`` with ``calculator(**parameters)`` on a candidate's structure.

    Holds plain settings only (it pickles to worker processes): ``scratch`` is the
    campaign's scratch folder, ``settings`` the ``RecipeSettings`` as a dict. With
    ``supercell`` (fcc cells per edge) composition candidates are decorated on an fcc
    supercell, arranged by ``seed``; without it only structure candidates are computed.
    ``properties`` and ``units`` are the recipe's (plus ``formation_energy_per_atom`` in
    eV/atom with a ``supercell``). With ``hull`` (reference tables) they add
    ``formation_energy_per_atom`` and ``e_above_hull`` (eV/atom, ``oracles.hull``), the
    references' energies cached in ``hull_cache`` (default: ``scratch``).
    """

    calculator: str
    recipe: str
    scratch: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    supercell: int | None = None
    seed: int = 0
    hull: tuple[str, ...] | None = None
    hull_cache: str | None = None
    lattices: tuple[str, ...] = ("fcc",)

    def __post_init__(self) -> None:
        from matloop.oracles.recipes import PROPERTIES_BY_RECIPE, RecipeSettings

        if self.recipe not in PROPERTIES_BY_RECIPE:
            raise ValueError(f"unknown recipe {self.recipe!r}; use one of "
                             f"{', '.join(PROPERTIES_BY_RECIPE)}")
        RecipeSettings.from_mapping(self.settings)  # raises ValueError when bad
        if self.supercell is not None and self.supercell < 1:
            raise ValueError(f"supercell must be at least 1, got {self.supercell}")
        from matloop.oracles.compositions import LATTICES

        if not self.lattices or not set(self.lattices) <= set(LATTICES):
            raise ValueError(f"lattices must be some of {LATTICES}, got {self.lattices}")

    @property
    def properties(self) -> tuple[str, ...]:
        return tuple(self.units)

    @property
    def units(self) -> dict[str, str]:
        """Property -> unit; a formation energy follows the energy for compositions."""
        from matloop.oracles.hull import HULL
        from matloop.oracles.recipes import EV_PER_ATOM, PROPERTIES_BY_RECIPE

        units = dict(PROPERTIES_BY_RECIPE[self.recipe])
        if (self.supercell is not None or self.hull is not None) and FORMATION not in units:
            first = {name: unit for name, unit in units.items() if name == "energy_per_atom"}
            units = {**first, FORMATION: EV_PER_ATOM, **units}
        return {**units, HULL: EV_PER_ATOM} if self.hull is not None else units

    def check(self) -> None:
        """``ConfigError`` naming ``oracle.calculator`` when its package is missing."""
        from importlib.util import find_spec

        from matloop.errors import ConfigError
        from matloop.oracles.calculators import _PACKAGES, CALCULATORS, _split_import_path

        if self.calculator in CALCULATORS:
            module = _PACKAGES[self.calculator]
        else:
            try:
                module = _split_import_path(self.calculator)[0]
            except ValueError as exc:
                raise ConfigError(f"oracle.calculator: {exc}") from None
        try:
            found = find_spec(module.split(".")[0]) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise ConfigError(f"oracle.calculator: {self.calculator!r} needs the Python "
                              f"package {module.split('.')[0]!r}, which is not installed "
                              f"(pip install {module.split('.')[0]})")

    def check_program(self) -> None:
        """``ConfigError`` when the calculator runs a program (``espresso``: pw.x) that is
        not found here; only meaningful where the evaluations run (local workers)."""
        import shutil

        from matloop.errors import ConfigError
        from matloop.oracles.calculators import espresso_command

        if self.calculator != "espresso":
            return
        try:
            _, program = espresso_command(self.parameters)
        except ValueError as exc:  # unbalanced quotes in 'command'
            raise ConfigError(f"oracle.parameters.command: {exc}") from None
        if shutil.which(program) is None:
            raise ConfigError(f"oracle.calculator: 'espresso' runs Quantum ESPRESSO's pw.x, "
                              f"but {program!r} is not found (apt-get install "
                              "quantum-espresso, or set oracle.parameters 'pw' or "
                              "'command' to pw.x's path)")

    def evaluate(self, candidate: Candidate) -> Outcome:
        """Run the recipe on ``candidate`` (a composition in each of ``lattices``, the
        lowest in energy kept); failures come back as ``Outcome.failure``."""
        if candidate.composition is not None and self.supercell is not None and \
                len(self.lattices) > 1:
            return self._lowest(candidate)
        return self._evaluate_in(candidate, self.lattices[0])

    def _evaluate_in(self, candidate: Candidate, lattice: str) -> Outcome:
        """``evaluate``, a composition built in ``lattice``."""
        from matloop.oracles.calculators import calculator_provenance, check_elements

        provenance: dict[str, Any] = {}
        start = time.perf_counter()
        try:
            provenance.update(calculator_provenance(self.calculator, self.parameters))
            provenance["recipe"] = self.recipe
            provenance["settings"] = plain(self.settings)
            atoms = self._atoms(candidate, provenance, lattice)
            check_elements(self.calculator, sorted(set(atoms.get_chemical_symbols())),
                           repr(candidate.key))
            directory = _attempt_dir(Path(self.scratch) / safe_name(candidate.key))
            provenance["scratch"] = str(directory)
            with _single_threaded_blas():
                return self._evaluate(atoms, directory, provenance, start)
        except EvaluationFailure as failure:
            provenance["wall_time_s"] = time.perf_counter() - start
            return Outcome.failure(failure.reason, str(failure), provenance)
        except Exception as exc:
            provenance["wall_time_s"] = time.perf_counter() - start
            return Outcome.failure("error", f"{type(exc).__name__}: {exc}", provenance)

    def references_digest(self) -> str:
        """Identifies calculator, parameters and settings of the elemental references (and,
        for compositions, that they are fcc EOS minima)."""
        identity: list[Any] = [self.calculator, plain(self.parameters), plain(self.settings)]
        if self.supercell is not None:
            identity += ["fcc-eos"] if self.lattices == ("fcc",) else [
                "eos", *sorted(self.lattices)]
        text = json.dumps(identity, sort_keys=True, default=str)
        return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()

    # -- internals ----------------------------------------------------------------------

    def _atoms(self, candidate: Candidate, provenance: dict[str, Any], lattice: str) -> Atoms:
        """The candidate's structure (without calculator); ``invalid`` if it has none."""
        if candidate.structure is not None:
            from pymatgen.core import Structure
            from pymatgen.io.ase import AseAtomsAdaptor

            try:
                structure = Structure.from_str(candidate.structure, fmt="json")
            except Exception as exc:
                raise EvaluationFailure(f"unreadable structure: {type(exc).__name__}: "
                                        f"{exc}", reason="invalid") from exc
            provenance["formula"] = structure.composition.reduced_formula
            return AseAtomsAdaptor.get_atoms(structure)
        if candidate.composition is not None and self.supercell is not None:
            from matloop.oracles.compositions import decorate

            atoms, info = decorate(candidate.key, candidate.composition, self.supercell,
                                   self.seed, lattice)
            provenance.update(info)
            return atoms
        needs = "a structure or composition" if self.supercell is not None else (
            "a structure; this ASE oracle needs a 'structures' or 'substitution' space")
        raise EvaluationFailure(f"candidate {candidate.key!r} has no {needs}",
                                reason="invalid")

    def _evaluate(self, atoms: Atoms, directory: Path, provenance: dict[str, Any],
                  start: float) -> Outcome:
        from pymatgen.io.ase import AseAtomsAdaptor

        from matloop.oracles.recipes import RECIPES, RecipeSettings

        atoms.calc = self.calculator_for(directory)
        settings = RecipeSettings.from_mapping(self.settings)
        references = _References(self, settings)
        reference = references.energy if self.recipe == "formation_energy" else None
        result = RECIPES[self.recipe](atoms, settings, directory, reference=reference)
        values = dict(result.values)
        if self.supercell is not None and FORMATION not in values:
            counts = provenance["counts"]
            per_atom = {el: references.energy(el) for el in counts}
            provenance["references_per_atom"] = per_atom
            n_atoms = len(result.atoms)
            values[FORMATION] = values["energy_per_atom"] - sum(
                n / n_atoms * per_atom[el] for el, n in counts.items())
        if self.hull is not None:
            hull, provenance["hull"] = self._hull(result.atoms, values["energy_per_atom"],
                                                  references)
            values.update(hull)
        provenance["wall_time_s"] = time.perf_counter() - start
        provenance["steps"] = result.steps
        provenance["details"] = plain(result.details)
        final = AseAtomsAdaptor.get_structure(result.atoms)
        provenance["final_structure"] = json.loads(final.to_json())
        units = self.units
        return Outcome.success({name: values[name] for name in units}, units, provenance)

    def _lowest(self, candidate: Candidate) -> Outcome:
        """A composition built in each of ``lattices``: the outcome with the lowest
        energy per atom (the first failure when none succeeds), with every lattice's
        energy or failure in its provenance (``lattices``)."""
        outcomes = {lattice: self._evaluate_in(candidate, lattice) for lattice in self.lattices}
        done = {lattice: o for lattice, o in outcomes.items() if o.ok}
        if not done:
            return next(iter(outcomes.values()))
        best = min(done.values(), key=lambda o: o.values["energy_per_atom"])
        tried = {lattice: o.values["energy_per_atom"] if o.ok else f"{o.reason}: {o.error}"
                 for lattice, o in outcomes.items()}
        return Outcome.success(best.values, best.units, {**best.provenance, "lattices": tried})

    def _hull(self, atoms: Atoms, energy: float, elemental: _References
              ) -> tuple[dict[str, float], dict[str, Any]]:
        """The relaxed ``atoms`` (``energy`` eV/atom) against the hull of the elements'
        and the reference tables' energies at this calculator's level of theory."""
        from matloop.oracles.hull import hull_values, reference_compounds

        symbols = atoms.get_chemical_symbols()
        compounds, level = reference_compounds(self, symbols)
        counts = {el: symbols.count(el) for el in sorted(set(symbols))}
        in_table = {el for formula, _ in compounds.values() if len(formula) == 1
                    for el in formula}
        values, details = hull_values(counts, energy, _elemental(
            elemental, [el for el in counts if el not in in_table]), compounds)
        return values, {**details, "level": level}

    def calculator_for(self, directory: Path) -> BaseCalculator:
        """A new calculator of this oracle's kind and parameters, its files in
        ``directory``."""
        from matloop.oracles.calculators import make_calculator

        return make_calculator(self.calculator, self.parameters, directory)


def _elemental(references: _References, elements: list[str]) -> dict[str, float]:
    """The ASE reference crystals' energies (eV/atom) of ``elements``; ``invalid``
    naming the element when ASE has none (N, O, ... : give the hull table its crystal)."""
    out = {}
    for element in elements:
        try:
            out[element] = references.energy(element)
        except EvaluationFailure as failure:
            raise EvaluationFailure(f"no hull reference for {element}: {failure}; add a "
                                    f"structure of pure {element} to the hull table",
                                    reason="invalid") from failure
    return out


class _References:
    """Elemental reference energies (eV/atom), cached in ``<scratch>/references.json``:
    relaxed reference crystals for structures, fcc EOS minima for compositions."""

    def __init__(self, oracle: AseOracle, settings: RecipeSettings) -> None:
        self.oracle = oracle
        self.settings = settings
        self.path = Path(oracle.scratch) / REFERENCES_FILE
        self.digest = oracle.references_digest()

    def energy(self, symbol: str) -> float:
        known = read_json(self.path).get(self.digest, {})
        if symbol in known:
            return float(known[symbol])
        directory = Path(self.oracle.scratch) / "references" / f"{symbol}-{self.digest}"
        compute: Callable[..., float]
        if self.oracle.supercell is None:
            from matloop.oracles.recipes import elemental_reference as compute
        else:
            from functools import partial

            from matloop.oracles.compositions import lattice_reference

            compute = partial(lattice_reference, lattices=self.oracle.lattices)
        value = compute(symbol, self.oracle.calculator_for, self.settings, directory)
        self._store(symbol, value)
        return value

    def _store(self, symbol: str, value: float) -> None:
        data = read_json(self.path)
        data.setdefault(self.digest, {})[symbol] = value
        data.setdefault("settings", {})[self.digest] = {
            "calculator": self.oracle.calculator,
            "parameters": plain(self.oracle.parameters),
            "settings": plain(self.oracle.settings),
            "reference": ("relaxed reference crystal" if self.oracle.supercell is None
                          else "fcc at the EOS minimum"),
        }
        write_json_atomically(self.path, data)


def _single_threaded_blas() -> AbstractContextManager[object]:
    """Limit BLAS to one thread while evaluating.

    The linear algebra here is tiny (BFGS on a 3N×3N Hessian), so threads only cost: with
    several workers on few cores, multi-threaded OpenBLAS made evaluations 3-10 times
    slower. ``threadpoolctl`` comes with scikit-learn; without it, nothing is limited.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn depends on it
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _attempt_dir(folder: Path) -> Path:
    """Create and return the first free ``folder/attempt-<n>`` (n = 1, 2, ...)."""
    folder.mkdir(parents=True, exist_ok=True)
    n = 1 + sum(1 for p in folder.iterdir() if p.name.startswith("attempt-"))
    while True:
        path = folder / f"attempt-{n}"
        try:
            path.mkdir()
        except FileExistsError:
            n += 1
            continue
        return path


