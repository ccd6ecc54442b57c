"""An ASE oracle for crystal-structure candidates: any calculator, any recipe.

For a candidate with a ``structure`` (pymatgen JSON) the oracle

1. converts it to ``ase.Atoms`` (pymatgen's ``AseAtomsAdaptor``);
2. makes a scratch folder ``<scratch>/<safe key>/attempt-<n>`` (n = 1, 2, ... counts the
   attempts at this candidate: a folder is never reused), builds the calculator there
   (``matloop.oracles.calculators.make_calculator``) and runs the recipe
   (``matloop.oracles.recipes.RECIPES``), which leaves ``optimizer.log`` and
   ``final.extxyz`` in the folder;
3. returns the recipe's values in ``PROPERTIES_BY_RECIPE`` units, with provenance:
   calculator, package and version, parameters, recipe and settings, wall time (s),
   steps, the recipe's details, the scratch folder and the final (relaxed) structure as a
   pymatgen dict.

Failures come back as ``Outcome.failure``: the recipe's ``not_converged`` / ``invalid``,
``invalid`` for a candidate without a structure, ``error`` for anything unexpected.

``formation_energy`` needs elemental references: each element's ASE reference crystal
relaxed with the same calculator, parameters and settings (``elemental_reference``). They
are computed once per campaign and kept in ``<scratch>/references.json`` under a digest
of calculator, parameters and settings. The file is rewritten atomically (temporary file
+ ``os.replace``) after re-reading it, so parallel workers at worst compute a reference
twice (or drop another's fresh entry, to be computed again later) but never corrupt it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matloop.errors import EvaluationFailure
from matloop.protocols import Candidate, Outcome

if TYPE_CHECKING:
    from ase.calculators.calculator import BaseCalculator

    from matloop.campaigns.schema import AseOracle
    from matloop.oracles.recipes import RecipeSettings

__all__ = ["REFERENCES_FILE", "AseStructureOracle", "safe_name"]

REFERENCES_FILE = "references.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._=,+-]+")


def safe_name(key: str, limit: int = 80) -> str:
    """A folder name for ``key``: unsafe characters become ``_``; long or altered keys get
    a short digest appended, so distinct keys never share a folder."""
    cleaned = _UNSAFE.sub("_", key).strip("._") or "candidate"
    if cleaned == key and len(key) <= limit:
        return key
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=4).hexdigest()
    return f"{cleaned[:limit]}-{digest}"


@dataclass(frozen=True)
class AseStructureOracle:
    """Runs ``recipe`` with ``calculator(**parameters)`` on structure candidates.

    Holds plain settings only (it pickles to worker processes); ``scratch`` is the
    campaign's scratch folder. ``properties`` and ``units`` are the recipe's.
    """

    calculator: str
    recipe: str
    scratch: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from matloop.oracles.recipes import PROPERTIES_BY_RECIPE, RecipeSettings

        if self.recipe not in PROPERTIES_BY_RECIPE:
            raise ValueError(f"unknown recipe {self.recipe!r}; use one of "
                             f"{', '.join(PROPERTIES_BY_RECIPE)}")
        RecipeSettings.from_mapping(self.settings)  # raises ValueError when bad

    @classmethod
    def from_config(cls, section: AseOracle, scratch: Path) -> AseStructureOracle:
        """The oracle of a validated ``[oracle]`` section of kind ``ase``."""
        return cls(calculator=section.calculator, recipe=section.recipe,
                   scratch=str(scratch), parameters=dict(section.parameters),
                   settings=section.recipe_settings())

    @property
    def properties(self) -> tuple[str, ...]:
        from matloop.oracles.recipes import PROPERTIES_BY_RECIPE

        return tuple(PROPERTIES_BY_RECIPE[self.recipe])

    @property
    def units(self) -> dict[str, str]:
        from matloop.oracles.recipes import PROPERTIES_BY_RECIPE

        return dict(PROPERTIES_BY_RECIPE[self.recipe])

    def check(self) -> None:
        """``ConfigError`` naming ``oracle.calculator`` when its package is missing."""
        from importlib.util import find_spec

        from matloop.errors import ConfigError
        from matloop.oracles.calculators import CALCULATORS, _split_import_path

        packages = {"chgnet": "chgnet", "gpaw": "gpaw"}
        if self.calculator in CALCULATORS:
            module = packages.get(self.calculator, "ase")
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
        """Run the recipe on ``candidate``; failures come back as ``Outcome.failure``."""
        from matloop.oracles.ase_emt import _single_threaded_blas
        from matloop.oracles.calculators import calculator_provenance

        provenance: dict[str, Any] = {}
        start = time.perf_counter()
        try:
            provenance.update(calculator_provenance(self.calculator, self.parameters))
            provenance["recipe"] = self.recipe
            provenance["settings"] = _plain(self.settings)
            if candidate.structure is None:
                raise EvaluationFailure(f"candidate {candidate.key!r} has no structure; "
                                        "this ASE oracle needs a 'structures' or "
                                        "'substitution' space", reason="invalid")
            directory = _attempt_dir(Path(self.scratch) / safe_name(candidate.key))
            provenance["scratch"] = str(directory)
            with _single_threaded_blas():
                return self._evaluate(candidate.structure, directory, provenance, start)
        except EvaluationFailure as failure:
            provenance["wall_time_s"] = time.perf_counter() - start
            return Outcome.failure(failure.reason, str(failure), provenance)
        except Exception as exc:
            provenance["wall_time_s"] = time.perf_counter() - start
            return Outcome.failure("error", f"{type(exc).__name__}: {exc}", provenance)

    # -- internals ----------------------------------------------------------------------

    def _evaluate(self, structure_json: str, directory: Path, provenance: dict[str, Any],
                  start: float) -> Outcome:
        from pymatgen.core import Structure
        from pymatgen.io.ase import AseAtomsAdaptor

        from matloop.oracles.recipes import RECIPES, RecipeSettings

        try:
            structure = Structure.from_str(structure_json, fmt="json")
        except Exception as exc:
            raise EvaluationFailure(f"unreadable structure: {type(exc).__name__}: {exc}",
                                    reason="invalid") from exc
        provenance["formula"] = structure.composition.reduced_formula
        atoms = AseAtomsAdaptor.get_atoms(structure)
        atoms.calc = self._calculator(directory)
        settings = RecipeSettings.from_mapping(self.settings)
        reference = None
        if self.recipe == "formation_energy":
            references = _References(self, settings)
            reference = references.energy
        result = RECIPES[self.recipe](atoms, settings, directory, reference=reference)
        provenance["wall_time_s"] = time.perf_counter() - start
        provenance["steps"] = result.steps
        provenance["details"] = _plain(result.details)
        final = AseAtomsAdaptor.get_structure(result.atoms)
        provenance["final_structure"] = json.loads(final.to_json())
        return Outcome.success(result.values, result.units, provenance)

    def _calculator(self, directory: Path) -> BaseCalculator:
        from matloop.oracles.calculators import make_calculator

        return make_calculator(self.calculator, self.parameters, directory)

    def references_digest(self) -> str:
        """Identifies calculator, parameters and settings of the elemental references."""
        text = json.dumps([self.calculator, _plain(self.parameters), _plain(self.settings)],
                          sort_keys=True, default=str)
        return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


class _References:
    """Elemental reference energies (eV/atom), cached in ``<scratch>/references.json``."""

    def __init__(self, oracle: AseStructureOracle, settings: RecipeSettings) -> None:
        self.oracle = oracle
        self.settings = settings
        self.path = Path(oracle.scratch) / REFERENCES_FILE
        self.digest = oracle.references_digest()

    def energy(self, symbol: str) -> float:
        known = _read_json(self.path).get(self.digest, {})
        if symbol in known:
            return float(known[symbol])
        from matloop.oracles.recipes import elemental_reference

        directory = Path(self.oracle.scratch) / "references" / f"{symbol}-{self.digest}"
        value = elemental_reference(symbol, self.oracle._calculator, self.settings,
                                    directory)
        self._store(symbol, value)
        return value

    def _store(self, symbol: str, value: float) -> None:
        data = _read_json(self.path)
        data.setdefault(self.digest, {})[symbol] = value
        data.setdefault("settings", {})[self.digest] = {
            "calculator": self.oracle.calculator,
            "parameters": _plain(self.oracle.parameters),
            "settings": _plain(self.oracle.settings),
        }
        write_json_atomically(self.path, data)


def write_json_atomically(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` via a temporary file and ``os.replace``: a reader
    sees the old or the new file, never a half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


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


def _plain(value: Any) -> Any:
    from matloop.oracles.calculators import _jsonable

    if hasattr(value, "__dataclass_fields__"):
        value = asdict(value)
    return _jsonable(value)
