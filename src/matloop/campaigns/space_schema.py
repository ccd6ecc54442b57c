"""The ``[space]`` section: the kinds of candidate space a campaign file can name."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from matloop.campaigns.sections import Section, one_or_more, resolve_all
from matloop.campaigns.sections import resolve as _resolve


class TableSpace(Section):
    """Candidates are the rows of a CSV: numeric ``inputs`` and/or ``categorical``
    columns, or a ``composition`` column.

    A categorical column's cells are named options (solvents, ligands as SMILES, also
    numbers read as labels); the models see them one-hot encoded, through
    ``descriptors``, or with learnt correlations between options (``encoding``). From
    Python the table may be a pandas DataFrame instead of a file
    (``Campaign.from_dict(config, pool=frame)``): then ``path`` is left out and
    ``frame`` holds it (not part of the stored configuration)."""

    kind: Literal["table"] = Field(description="the rows of a table are the candidates")
    path: Path | None = Field(default=None, description="the CSV file (relative to the "
                              "campaign file); left out when a DataFrame is the pool")
    inputs: list[str] | None = Field(default=None, min_length=1, description="the numeric "
                                     "columns that describe a candidate")
    categorical: list[str] | None = Field(
        default=None, min_length=1, description="columns of named options (e.g. solvents "
        "or SMILES; numbers are read as labels), one-hot encoded; with or without 'inputs'")
    composition: str | None = Field(default=None, description="a column of chemical "
                                    "formulas, featurised by element statistics")
    id: str | None = Field(default=None, description="a column that identifies each row "
                           "(rows with equal inputs stay distinct candidates)")
    descriptors: dict[str, Path] | None = Field(
        default=None, description="categorical column -> a CSV describing its options "
        "(first column: the option; the others: numbers, e.g. a solvent's polarity and "
        "boiling point): the models see these, scaled, instead of one 0/1 feature per "
        "option, and so can carry what they learnt to options seldom or never measured")
    encoding: Literal["one-hot", "learned"] = Field(
        default="one-hot", description="how a GP sees the categorical columns without "
        "descriptors: one 0/1 feature per option, any two options equally unlike "
        "('one-hot'), or with the correlations between options learnt from the "
        "measurements ('learned': options that behave alike share what was measured)")
    _frame: Any = PrivateAttr(default=None)

    _resolve_path = field_validator("path")(_resolve)

    @field_validator("descriptors")
    @classmethod
    def _resolve_descriptors(cls, tables: dict[str, Path] | None, info: ValidationInfo
                             ) -> dict[str, Path] | None:
        if tables is None:
            return None
        return {column: _resolve(path, info) for column, path in tables.items()}

    @model_validator(mode="after")
    def _one_description(self, info: ValidationInfo) -> TableSpace:
        columns = self.inputs is not None or self.categorical is not None
        if columns == (self.composition is not None):
            raise ValueError("give exactly one of 'inputs' and/or 'categorical' (numeric "
                             "and categorical columns) or 'composition' (a formula column)")
        both = sorted(set(self.inputs or ()) & set(self.categorical or ()))
        if both:
            raise ValueError(f"column(s) {both} are in both 'inputs' and 'categorical'; "
                             "a column is numeric or categorical, not both")
        categorical = self.categorical or []
        repeated = sorted({c for c in categorical if categorical.count(c) > 1})
        if repeated:
            raise ValueError(f"'categorical' lists column(s) {repeated} twice")
        undescribed = sorted(set(self.descriptors or {}) - set(categorical))
        if undescribed:
            raise ValueError(f"'descriptors' names column(s) {undescribed}, which are not "
                             f"'categorical' columns ({', '.join(categorical) or 'none'})")
        if self.encoding != "one-hot" and not set(categorical) - set(self.descriptors or {}):
            raise ValueError(f"encoding = {self.encoding!r} applies to 'categorical' "
                             "columns without descriptors; this space has none")
        frame = (info.context or {}).get("pool")
        if frame is not None and self.path is not None:
            raise ValueError("give the table as 'path' or as a DataFrame pool, not both")
        if frame is None and self.path is None:
            raise ValueError("Field required: 'path' (the CSV of candidates)")
        self._frame = frame
        return self

    @property
    def frame(self) -> Any:
        """The DataFrame given as the pool, or None when the table is ``path``."""
        return self._frame

    @property
    def columns(self) -> list[str]:
        """The pool's columns in order: the numeric ``inputs``, then the ``categorical``
        ones (empty for a composition column)."""
        return [*(self.inputs or ()), *(self.categorical or ())]

    @model_serializer(mode="wrap")
    def _omit_unset_categorical(self, handler: SerializerFunctionWrapHandler
                                ) -> dict[str, Any]:
        """Leave ``categorical`` out while it is unset, so that a campaign stored before
        categorical columns existed resumes (its space is compared with the stored one)."""
        data: dict[str, Any] = handler(self)
        if self.categorical is None:
            data.pop("categorical", None)
        return data


class BoxParameter(Section):
    """One parameter of a box space: a number between ``low`` and ``high`` (a whole
    number with ``integer``), or one of ``options``."""

    low: float | None = Field(default=None, description="smallest value")
    high: float | None = Field(default=None, description="largest value")
    integer: bool = Field(default=False, description="whole numbers only")
    log: bool = Field(default=False, description="drawn and modelled on a log scale "
                      "(low > 0; rounded to 4 significant digits; not in constraints)")
    resolution: float | None = Field(
        default=None, gt=0, description="values are rounded to multiples of this step "
        "from low (default: 1e-4 of the range; 1 for integers); candidates equal after "
        "rounding are one candidate")
    options: list[str] | None = Field(default=None, min_length=1, description="named "
                                      "options instead of a range (a categorical input)")
    elements: list[str] | None = Field(default=None, min_length=2, description="the "
                                       "atomic fractions of these elements, each from "
                                       "low (default 0) to high (default 1), summing to 1")

    @field_validator("elements")
    @classmethod
    def _element_symbols(cls, elements: list[str] | None) -> list[str] | None:
        from pymatgen.core.periodic_table import Element

        if elements is None:
            return None
        unknown = [e for e in elements if not Element.is_valid_symbol(e)]
        if unknown:
            raise ValueError(f"{unknown} are not element symbols")
        if len(set(elements)) != len(elements):
            raise ValueError("elements must not repeat")
        return elements

    @model_validator(mode="after")
    def _range_or_options(self) -> BoxParameter:
        if self.elements is not None:
            if self.options is not None or self.integer or self.log:
                raise ValueError("a composition ('elements') takes 'low', 'high' and "
                                 "'resolution' only")
            return self
        ranged = self.low is not None or self.high is not None
        if ranged == (self.options is not None):
            raise ValueError("give either 'low' and 'high' or 'options'")
        if self.options is not None:
            if self.integer or self.log or self.resolution is not None:
                raise ValueError("'integer', 'log' and 'resolution' apply to ranges, not "
                                 "options")
            if len(set(self.options)) != len(self.options):
                raise ValueError("options must not repeat")
            return self
        if self.low is None or self.high is None:
            raise ValueError("give both 'low' and 'high'")
        if not self.low < self.high:
            raise ValueError(f"empty range: low = {self.low} is not below high = "
                             f"{self.high}")
        if self.integer and (self.low != round(self.low) or self.high != round(self.high)):
            raise ValueError("an integer parameter needs whole-number low and high")
        if self.log and (self.low <= 0 or self.integer or self.resolution is not None):
            raise ValueError("a log-scaled range needs low > 0, and is neither 'integer' "
                             "nor given a 'resolution'")
        return self

    @property
    def step(self) -> float:
        """The rounding step of a range."""
        assert self.low is not None and self.high is not None
        if self.resolution is not None:
            return self.resolution
        return 1.0 if self.integer else (self.high - self.low) * 1e-4


class BoxSpace(Section):
    """Every point of a box of named parameters that meets linear constraints, drawn as a
    space-filling set of ``samples`` candidates (``spaces.box``)."""

    kind: Literal["box"] = Field(description="named parameters with ranges or options, "
                                 "and linear constraints")
    parameters: dict[str, BoxParameter] = Field(min_length=1, description="name -> "
                                                "{low, high[, integer, resolution]} or "
                                                "{options}")
    constraints: list[str] = Field(default_factory=list, description="linear constraints "
                                   "between ranges, e.g. \"Co + Ni + Fe = 1\", "
                                   "\"2*a + b <= 3\"")
    samples: int = Field(default=10_000, ge=10, le=1_000_000, description="candidates "
                         "drawn from the feasible region (before repeats are merged)")
    seed: int = Field(default=0, description="seed of the draw (the candidates are the "
                      "same every time the space is built)")
    compositions: dict[str, list[str]] = Field(
        default_factory=dict, description="written as a parameter {elements = [...], "
        "low, high}: the atomic fractions of those elements, one range each, summing to "
        "1 (filled in from the parameters)")
    refine: bool = Field(default=True, description="move each pick of a model cycle "
                         "continuously to a better point of the region (BoTorch's "
                         "optimize_acqf under the constraints) before it is measured")

    @model_validator(mode="before")
    @classmethod
    def _expand_compositions(cls, data: Any) -> Any:
        """A parameter ``{elements = ["Co", "Ni"], low = 0, high = 1}`` becomes one range
        per element (named by its symbol, with the parameter's bounds and resolution)
        and the constraint that they sum to 1; ``compositions`` keeps the grouping. A
        composition that is not valid is left for its parameter's own checks."""
        if not isinstance(data, dict) or not isinstance(data.get("parameters"), dict):
            return data
        parameters: dict[str, Any] = {}
        constraints = list(data.get("constraints") or [])
        compositions = dict(data.get("compositions") or {})
        for name, raw in data["parameters"].items():
            elements = None
            if isinstance(raw, dict) and "elements" in raw:
                with contextlib.suppress(ValueError):  # its own checks will name it
                    elements = BoxParameter.model_validate(raw).elements
            if elements is None:
                parameters[name] = raw
                continue
            taken = sorted(set(elements) & set(data["parameters"]))
            if taken:
                raise ValueError(f"parameters.{name}: {taken} are also named as parameters")
            bounds = {k: v for k, v in raw.items() if k != "elements"}
            parameters.update({e: {"low": 0.0, "high": 1.0, **bounds} for e in elements})
            constraints.append(" + ".join(elements) + " = 1")
            compositions[name] = elements
        return {**data, "parameters": parameters, "constraints": constraints,
                "compositions": compositions}

    @field_validator("constraints")
    @classmethod
    def _feasible(cls, constraints: list[str], info: ValidationInfo) -> list[str]:
        from matloop.campaigns.constraints import parse_constraint

        if "parameters" not in info.data:  # invalid: its own error says why
            return constraints
        parameters: dict[str, BoxParameter] = info.data["parameters"]
        ranged = [n for n, p in parameters.items() if p.options is None]
        parsed = []
        for text in constraints:
            constraint = parse_constraint(text, list(parameters))
            named = sorted(set(constraint.coefficients) - set(ranged))
            if named:
                raise ValueError(f"constraint {text!r} names {named}, which have options, "
                                 "not a range")
            logged = sorted(n for n in constraint.coefficients if parameters[n].log)
            if logged:
                raise ValueError(f"constraint {text!r} names {logged}, which are "
                                 "log-scaled (a linear constraint needs linear ranges)")
            parsed.append(constraint)
        if parsed and not _has_a_solution(parameters, ranged, parsed):
            raise ValueError("no point meets every constraint within the parameters' "
                             "ranges (" + "; ".join(constraints) + ")")
        return constraints


def _has_a_solution(parameters: dict[str, BoxParameter], ranged: list[str],
                    parsed: list[Any]) -> bool:
    """Whether the ranges and linear constraints leave any point (a linear programme)."""
    import numpy as np
    from scipy.optimize import linprog

    rows: dict[str, list[tuple[list[float], float]]] = {"<=": [], ">=": [], "=": []}
    for c in parsed:
        rows[c.relation].append(([c.coefficients.get(n, 0.0) for n in ranged], c.bound))
    upper = rows["<="] + [([-a for a in row], -b) for row, b in rows[">="]]
    result = linprog(np.zeros(len(ranged)),
                     A_ub=np.array([r for r, _ in upper]) if upper else None,
                     b_ub=np.array([b for _, b in upper]) if upper else None,
                     A_eq=np.array([r for r, _ in rows["="]]) if rows["="] else None,
                     b_eq=np.array([b for _, b in rows["="]]) if rows["="] else None,
                     bounds=[(parameters[n].low, parameters[n].high) for n in ranged])
    return bool(result.status == 0)


class CompositionSpace(Section):
    """Every composition over ``elements`` on a grid of ``step`` with at most k elements."""

    kind: Literal["compositions"] = Field(description="a grid of compositions over "
                                          "elements")
    elements: list[str] = Field(min_length=1, description="element symbols, e.g. "
                                "[\"Cu\", \"Ni\", \"Pd\"]")
    step: float = Field(default=0.1, gt=0, le=1, description="grid spacing of the atomic "
                        "fractions (1/step a whole number)")
    max_elements: int = Field(default=3, ge=1, description="most elements in a candidate")
    min_elements: int = Field(default=1, ge=1, description="fewest elements in a candidate")

    @field_validator("step")
    @classmethod
    def _step_divides_one(cls, step: float) -> float:
        if abs(1 / step - round(1 / step)) > 1e-9:
            raise ValueError(f"1/step must be a whole number (got step = {step})")
        return step

    @field_validator("elements")
    @classmethod
    def _unique_elements(cls, elements: list[str]) -> list[str]:
        if len(set(elements)) != len(elements):
            raise ValueError("elements must not repeat")
        return elements

    @model_validator(mode="after")
    def _bounds(self) -> CompositionSpace:
        if self.min_elements > self.max_elements:
            raise ValueError("min_elements must not exceed max_elements")
        return self

    @property
    def divisions(self) -> int:
        """Number of grid steps in a unit fraction (10 for step = 0.1)."""
        return round(1 / self.step)


DedupeChoice = Literal["matcher", "hash", "none"]


class StructureSpace(Section):
    """Crystal structures from a folder (CIF/POSCAR), a pymatgen-JSON, extxyz or CSV file."""

    kind: Literal["structures"] = Field(description="crystal structures read from files")
    path: Path = Field(description="a folder of CIF/POSCAR files, or a pymatgen-JSON, "
                       "extxyz or CSV file")
    structure_column: str = Field(default="structure", description="CSV: the column of "
                                  "pymatgen Structure JSON")
    id: str | None = Field(default=None, description="CSV: a column naming each structure")
    dedupe: DedupeChoice = Field(default="matcher", description="remove repeated "
                                 "structures: pymatgen StructureMatcher, a symmetry hash, "
                                 "or not at all")

    _resolve_path = field_validator("path")(_resolve)


class SubstitutionSpace(Section):
    """Prototype structures decorated with every combination of the given elements."""

    kind: Literal["substitution"] = Field(description="prototypes decorated with element "
                                          "substitutions")
    prototypes: list[Path] = Field(min_length=1, description="structure files, folders or "
                                   "JSON/extxyz/CSV files of prototypes")
    substitutions: dict[str, list[str]] = Field(min_length=1, description="site label or "
                                                "element -> candidate elements")
    oxidation_filter: bool = Field(default=False, description="keep only compositions "
                                   "that can be charge-balanced")
    volume: Literal["radii", "dls", "keep"] = Field(
        default="radii", description="cell volume of a decorated prototype: scaled by atomic "
        "radii, by pymatgen's DLS volume predictor, or kept")
    dedupe: DedupeChoice = Field(default="hash", description="remove repeated structures: "
                                 "StructureMatcher, a symmetry hash, or not at all")

    _one_or_more = field_validator("prototypes", mode="before")(one_or_more)
    _resolve_all = field_validator("prototypes")(resolve_all)

    @field_validator("substitutions")
    @classmethod
    def _non_empty_choices(cls, substitutions: dict[str, list[str]]) -> dict[str, list[str]]:
        empty = [key for key, choices in substitutions.items() if not choices]
        if empty:
            raise ValueError(f"give at least one element for {', '.join(map(repr, empty))}")
        return substitutions


STRUCTURE_SPACES = (StructureSpace, SubstitutionSpace)

Space = Annotated[TableSpace | CompositionSpace | StructureSpace | SubstitutionSpace
                  | BoxSpace, Field(discriminator="kind")]
