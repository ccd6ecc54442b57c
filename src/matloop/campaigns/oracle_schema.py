"""The ``[oracle]`` section: the kinds of oracle a campaign file can name."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)

from matloop.campaigns.sections import FailureReason, Section, one_or_more, resolve_all
from matloop.campaigns.sections import resolve as _resolve


class OracleSection(Section):
    """What every oracle accepts: a time limit and a retry policy for transient failures."""

    timeout_s: float | None = Field(default=None, gt=0, description="seconds before an "
                                    "evaluation's worker process is killed (reason timeout)")
    retries: int = Field(default=1, ge=0, le=10, description="re-runs of an evaluation that "
                         "failed with a reason in retry_on")
    retry_on: tuple[FailureReason, ...] = Field(
        default=("timeout", "crashed"), description="failure reasons worth a re-run (the "
        "machine's fault, not the candidate's)")
    cost: float | None = Field(default=None, gt=0, allow_inf_nan=False, description="with "
                               "[[fidelities]]: what one evaluation costs, in one unit for "
                               "every source (seconds, core-hours, money); default: its "
                               "measured median seconds")

    added_fields: ClassVar[tuple[str, ...]] = ("cost",)

    @model_serializer(mode="wrap")
    def _omit_default_additions(self, handler: SerializerFunctionWrapHandler
                                ) -> dict[str, Any]:
        """Leave out the fields added since the first stored campaigns while they hold
        their defaults, so that a campaign stored before them resumes (its oracle section
        is compared with the stored one)."""
        data: dict[str, Any] = handler(self)
        for name in self.added_fields:
            default = type(self).model_fields[name].get_default(call_default_factory=True)
            if name in data and getattr(self, name) == default:
                del data[name]
        return data


class TableOracle(OracleSection):
    """Look each target property up in the CSV column of the same name."""

    kind: Literal["table"] = Field(description="look values up in a table of known "
                                  "answers (benchmarks, replays)")
    path: Path | None = Field(default=None, description="the CSV of answers; default: the "
                              "table space's own table")

    _resolve_path = field_validator("path")(_resolve)


class PythonOracle(OracleSection):
    """Call ``function = "module:callable"``; the module is looked up beside the file first."""

    kind: Literal["python"] = Field(description="call a Python function per candidate")
    function: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
                          description="'module:callable'")


AseRecipe = Literal["energy", "relax", "eos", "elastic", "formation_energy"]
ASE_CALCULATOR_PATTERN = r"^(emt|chgnet|sevennet|gpaw|espresso|[A-Za-z_][\w.]*:[A-Za-z_]\w*)$"
ASE_ADDED_FIELDS = ("parameters", "relax_cell", "relax_positions", "optimizer",
                    "max_volume_change", "elastic_strains", "unstable", "hull", "hull_cache",
                    "lattices")


class AseOracle(OracleSection):
    """An ASE calculator and a recipe.

    Any calculator (``emt``, ``chgnet``, ``sevennet``, ``gpaw``, ``espresso`` or
    ``"module:factory"``) with ``parameters``, and any recipe of
    ``matloop.oracles.recipes``, on the candidates of a ``structures`` or
    ``substitution`` space, or on an fcc supercell (``supercell``
    cells per edge) decorated to each candidate of a ``compositions`` space, which also
    gets ``formation_energy_per_atom`` against the fcc elements. There the ``eos`` recipe
    samples volumes about the supercell's Vegard's-law cell without relaxing it first:
    ``relax`` (and ``relax_positions``) relax the positions in each strained cell.
    """

    added_fields: ClassVar[tuple[str, ...]] = ("cost", *ASE_ADDED_FIELDS)

    kind: Literal["ase"] = Field(description="an ASE calculator and recipe on each "
                                "candidate's structure")
    calculator: str = Field(default="emt", description="emt, chgnet, sevennet, gpaw, "
                            "espresso or 'package.module:factory'")
    parameters: dict[str, Any] = Field(default_factory=dict, description="keyword "
                                       "arguments of the calculator")
    recipe: AseRecipe = Field(default="eos", description="what to compute: energy, relax, "
                              "eos (bulk modulus), elastic (tensor, K and G), "
                              "formation_energy")
    lattices: tuple[Literal["fcc", "bcc"], ...] = Field(
        default=("fcc",), min_length=1, description="compositions: the "
        "lattices each candidate is built in; the lowest energy per atom is kept (and the "
        "elements' references are their lowest over these lattices)")
    supercell: int = Field(default=2, ge=1, le=6, description="compositions: conventional "
                           "fcc cells per edge")
    relax: bool = Field(default=True, description="relax the structure before the recipe's "
                        "own steps")
    relax_cell: bool = Field(default=True, description="relax the cell too")
    relax_positions: bool = Field(default=True, description="relax positions in each "
                                  "strained cell (eos, elastic)")
    optimizer: Literal["BFGS", "FIRE"] = Field(default="BFGS", description="ASE optimiser of "
                                               "the relaxations")
    fmax: float = Field(default=0.05, gt=0, description="eV/Å")
    max_steps: int = Field(default=200, ge=1, description="optimiser steps before a "
                           "relaxation fails as not_converged")
    max_volume_change: float = Field(default=0.5, gt=0, description="relative; a larger "
                                     "change in a relaxation is an invalid structure")
    strain: float = Field(default=0.05, gt=0, lt=0.3, description="± linear strain of the EOS")
    points: int = Field(default=7, ge=5, le=21, description="volumes of the equation-of-"
                        "state fit")
    elastic_strains: list[Annotated[float, Field(gt=0, lt=0.1)]] = Field(
        default_factory=lambda: [0.005, 0.01], min_length=1,
        description="strain magnitudes of the elastic recipe, applied with both signs")
    unstable: Literal["fail", "keep"] = Field(
        default="fail", description="elastic: a tensor that is not positive definite fails "
        "as infeasible, or is kept")
    hull: list[Path] | None = Field(default=None, description="tables of reference "
                                    "structures (CSV, a 'structure' column of pymatgen "
                                    "JSON; one path or a list): adds e_above_hull and "
                                    "formation_energy_per_atom (eV/atom) against the hull "
                                    "of the elements and these, at this calculator's level "
                                    "of theory")
    hull_cache: Path | None = Field(default=None, description="folder of the references' "
                                    "energies (default: the campaign's scratch folder); "
                                    "campaigns that share it share computed references")

    _one_or_more_tables = field_validator("hull", mode="before")(one_or_more)
    _resolve_tables = field_validator("hull")(resolve_all)
    _resolve_hull_cache = field_validator("hull_cache")(_resolve)

    @field_validator("calculator", mode="before")
    @classmethod
    def _known_calculator(cls, value: Any) -> Any:
        if isinstance(value, str) and not re.match(ASE_CALCULATOR_PATTERN, value):
            raise ValueError(f"unknown calculator {value!r}; use emt, chgnet, sevennet, gpaw, "
                             "espresso or 'package.module:factory' (e.g. "
                             "'ase.calculators.vasp:Vasp')")
        return value

    def recipe_settings(self, *, compositions: bool = False) -> dict[str, Any]:
        """The settings of ``matloop.oracles.recipes.RecipeSettings`` as a plain dict.

        ``compositions``: for a compositions space, whose ``eos`` relaxes nothing first
        (the EOS is centred on the Vegard's-law cell) and relaxes positions in each
        strained cell when both ``relax`` and ``relax_positions`` are set."""
        relax, relax_positions = self.relax, self.relax_positions
        if compositions and self.recipe == "eos":
            relax, relax_positions = False, self.relax and self.relax_positions
        return {"optimizer": self.optimizer, "fmax": self.fmax, "max_steps": self.max_steps,
                "max_volume_change": self.max_volume_change, "relax": relax,
                "relax_cell": self.relax_cell, "relax_positions": relax_positions,
                "points": self.points, "strain": self.strain,
                "elastic_strains": tuple(self.elastic_strains), "unstable": self.unstable}


class LabOracle(OracleSection):
    """A laboratory: batches go out as files (``matloop propose``) and measured results
    come back with ``matloop import``; the loop never calls it."""

    kind: Literal["lab"] = Field(description="a laboratory: propose and import sheets")


Oracle = Annotated[TableOracle | PythonOracle | AseOracle | LabOracle,
                   Field(discriminator="kind")]
