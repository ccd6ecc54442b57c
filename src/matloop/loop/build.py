"""The oracle of a campaign: its ``[oracle]`` section (and space) as an oracle object.

Oracles (``matloop.oracles``) take plain values and never see the campaign schema; this
module maps each ``oracle.kind`` to a factory ``campaign -> oracle`` (``ORACLES``, the
kinds the loop calls, and ``RECORDED_ORACLES``, whose results are imported) and checks
the result before anything runs (files, columns, functions, packages, units).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from matloop.campaigns.schema import AseOracle as AseSection
from matloop.campaigns.schema import Campaign, CompositionSpace, SubstitutionSpace, TableSpace
from matloop.errors import ConfigError, EvaluationFailure
from matloop.protocols import Oracle

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ORACLES", "RECORDED_ORACLES", "build_fidelity_oracles", "build_oracle",
           "check_units", "table_rows"]


def build_oracle(campaign: Campaign) -> Oracle:
    """The campaign's oracle, checked (files, columns, functions, units) before anything
    runs; ``ConfigError`` names the field at fault."""
    oracle = (ORACLES | RECORDED_ORACLES)[campaign.oracle.kind](campaign)
    check = getattr(oracle, "check", None)
    if check is not None:
        check()
    check_units(campaign, getattr(oracle, "units", {}))
    return oracle


def build_fidelity_oracles(campaign: Campaign) -> dict[str, Oracle]:
    """Fidelity name -> the oracle of each ``[[fidelities]]`` source, checked as
    ``build_oracle`` checks the campaign's own. A source measures its ``properties``
    and works in its own scratch folder, ``<name>.<fidelity>.scratch``."""
    oracles = {}
    for i, fidelity in enumerate(campaign.fidelities):
        wanted = campaign.measured_by(fidelity)
        alone = campaign.model_copy(update={
            "oracle": fidelity.oracle,
            "targets": [t for t in campaign.targets if t.property in wanted],
            "campaign": campaign.campaign.model_copy(
                update={"name": f"{campaign.campaign.name}.{fidelity.name}"})})
        try:
            oracles[fidelity.name] = build_oracle(alone)
        except ConfigError as exc:
            raise ConfigError(f"fidelities.{i} ({fidelity.name}): {exc}") from None
    return oracles


def check_units(campaign: Campaign, units: Mapping[str, str]) -> None:
    """A target's unit must be the unit the oracle reports for that property."""
    for i, target in enumerate(campaign.targets):
        known = units.get(target.property)
        if target.unit and known and _plain(target.unit) != _plain(known):
            raise ConfigError(f"targets.{i}.unit: the {campaign.oracle.kind} oracle gives "
                              f"{target.property} in {known!r}, not {target.unit!r}; "
                              "convert the target's values and write that unit")


def _plain(unit: str) -> str:
    return unit.replace(" ", "").replace("Å", "A").replace("^", "").replace("**", "")


# -- the factories -----------------------------------------------------------------------


def _table(campaign: Campaign) -> Oracle:
    """Look-ups in the oracle's CSV, else the table space's CSV or DataFrame pool."""
    from matloop.oracles.table import TableOracle

    space = campaign.space
    if not isinstance(space, TableSpace):
        raise ConfigError("oracle.kind: 'table' needs a 'table' space (the CSV to look up)")
    inputs = tuple(space.inputs) if space.inputs is not None else None
    categorical = tuple(space.categorical) if space.categorical is not None else None
    own = getattr(campaign.oracle, "path", None)
    path, field = (own, "oracle.path") if own is not None else (space.path, "space.path")
    if path is None:  # the pool is a DataFrame: its rows travel with the oracle
        rows = _group(space.frame, campaign.properties, inputs, space.composition, space.id,
                      categorical)
        return TableOracle(source="the DataFrame pool", properties=campaign.properties,
                           rows=functools.partial(_given, rows))
    read = functools.partial(table_rows, Path(path), campaign.properties, inputs,
                             space.composition, space.id, categorical, field)
    return TableOracle(source=str(path), properties=campaign.properties, rows=read)


def _check_calculator_elements(campaign: Campaign, calculator: str) -> None:
    """``ConfigError`` when the calculator has no parameters for an element the space
    names (compositions: its elements; substitutions: the substituted elements)."""
    from matloop.oracles.calculators import check_elements

    space = campaign.space
    if isinstance(space, CompositionSpace):
        field, elements = "space.elements", list(space.elements)
    elif isinstance(space, SubstitutionSpace):
        field = "space.substitutions"
        elements = sorted({el for choices in space.substitutions.values() for el in choices})
    else:
        return
    from pymatgen.core.periodic_table import Element

    try:  # symbols that are no element at all are the space's to report
        check_elements(calculator, [e for e in elements if Element.is_valid_symbol(e)], field)
    except EvaluationFailure as exc:
        raise ConfigError(f"{field}: {exc}") from None


def _python(campaign: Campaign) -> Oracle:
    from matloop.oracles.python import PythonOracle

    return PythonOracle(function=getattr(campaign.oracle, "function", ""),
                        base_dir=campaign.base_dir, properties=campaign.properties)


def _ase(campaign: Campaign) -> Oracle:
    """Any calculator and recipe on the candidates of a structures or substitution space,
    or on fcc supercells decorated to the candidates of a compositions space."""
    from matloop.oracles.ase import AseOracle

    section = campaign.oracle
    assert isinstance(section, AseSection)
    compositions = isinstance(campaign.space, CompositionSpace)
    try:
        oracle = AseOracle(calculator=section.calculator, recipe=section.recipe,
                           scratch=str(campaign.scratch_dir),
                           parameters=dict(section.parameters),
                           settings=section.recipe_settings(compositions=compositions),
                           supercell=section.supercell if compositions else None,
                           seed=campaign.campaign.seed if compositions else 0,
                           lattices=tuple(section.lattices) if compositions else ("fcc",),
                           hull=None if section.hull is None else tuple(
                               str(path) for path in section.hull),
                           hull_cache=None if section.hull_cache is None
                           else str(section.hull_cache))
    except ValueError as exc:
        raise ConfigError(f"oracle: {exc}") from None
    if campaign.executor.kind == "local":  # a cluster's workers may have pw.x, we not
        oracle.check_program()
    _check_calculator_elements(campaign, section.calculator)
    if section.hull is not None:
        from matloop.oracles.hull import read_references

        read_references(*section.hull)  # a bad table is named before anything runs
    unknown = [p for p in campaign.properties if p not in oracle.properties]
    if unknown:
        raise ConfigError(f"targets: the ase recipe '{section.recipe}' oracle does not "
                          f"compute {unknown}; it computes {list(oracle.properties)}")
    return oracle


def _lab(campaign: Campaign) -> Oracle:
    from matloop.oracles.lab import LabOracle

    return LabOracle(properties=campaign.properties,
                     units={t.property: t.unit for t in campaign.targets if t.unit})


ORACLES: dict[str, Callable[[Campaign], Oracle]] = {
    "table": _table,
    "python": _python,
    "ase": _ase,
}
"""Oracle kind -> factory, for the oracles the loop calls (tests/oracles/test_contract.py
runs each)."""

RECORDED_ORACLES: dict[str, Callable[[Campaign], Oracle]] = {"lab": _lab}
"""Oracles the loop never calls (their results are imported)."""


# -- the table oracle's rows ---------------------------------------------------------------


def table_rows(path: Path, properties: tuple[str, ...], inputs: tuple[str, ...] | None,
               composition: str | None, id_column: str | None,
               categorical: tuple[str, ...] | None = None, field: str = "oracle.path"
               ) -> Mapping[str, dict[str, float]]:
    """Candidate key -> mean value of each property over the rows of that candidate.

    Keys as the table space makes them (``inputs`` and ``categorical`` columns, a
    ``composition`` formula column, or an ``id`` column); NaN where no row has a value.
    Read once per process. ``ConfigError`` for a missing file or column, naming ``field``
    (the campaign-file field that gave the path).
    """
    return _index(Path(path), tuple(properties), inputs, composition, id_column, categorical,
                  field)


@functools.lru_cache(maxsize=8)
def _index(path: Path, properties: tuple[str, ...], inputs: tuple[str, ...] | None,
           composition: str | None, id_column: str | None,
           categorical: tuple[str, ...] | None, field: str) -> Mapping[str, dict[str, float]]:
    from matloop.spaces.tables import read_table

    return _group(read_table(path, field), properties, inputs, composition, id_column,
                  categorical)


def _group(frame: pd.DataFrame, properties: tuple[str, ...], inputs: tuple[str, ...] | None,
           composition: str | None, id_column: str | None,
           categorical: tuple[str, ...] | None = None) -> dict[str, dict[str, float]]:
    """The rows of ``frame`` by candidate key, repeated candidates averaged."""
    import numpy as np

    from matloop.spaces.tables import numeric_columns, read_table_pool

    values = numeric_columns(frame, list(properties), "oracle (target property columns)",
                             allow_missing=True)
    pool = read_table_pool(frame, inputs, composition, id_column, categorical)
    grouped: dict[str, list[np.ndarray]] = {}
    for i in range(len(pool)):
        grouped.setdefault(pool.key(i), []).append(values[i])
    return {key: {p: float(np.nanmean(col)) if np.isfinite(col).any() else math.nan
                  for p, col in zip(properties, np.array(rows).T, strict=True)}
            for key, rows in grouped.items()}


def _given(rows: Mapping[str, dict[str, float]]) -> Mapping[str, dict[str, float]]:
    return rows
