"""Oracles turn a candidate into an outcome; ``build_oracle`` picks one from a campaign."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from matloop.campaigns.schema import Campaign, TableSpace
from matloop.errors import ConfigError
from matloop.protocols import Oracle


def _table(campaign: Campaign) -> Oracle:
    from matloop.oracles.table import TableOracle

    space = campaign.space
    if not isinstance(space, TableSpace):
        raise ConfigError("oracle.kind: 'table' needs a 'table' space (the CSV to look up)")
    path = getattr(campaign.oracle, "path", None) or space.path
    inputs = tuple(space.inputs) if space.inputs is not None else None
    return TableOracle(path=path, properties=campaign.properties, inputs=inputs,
                       composition=space.composition, id=space.id)


def _python(campaign: Campaign) -> Oracle:
    from matloop.oracles.python import PythonOracle

    return PythonOracle(function=getattr(campaign.oracle, "function", ""),
                        base_dir=campaign.base_dir, properties=campaign.properties)


def _ase(campaign: Campaign) -> Oracle:
    """EMT on fcc supercells for a compositions space; any calculator and recipe on the
    candidates of a structures or substitution space."""
    from matloop.campaigns.schema import AseOracle, CompositionSpace

    assert isinstance(campaign.oracle, AseOracle)
    oracle: Oracle
    if isinstance(campaign.space, CompositionSpace):
        from matloop.oracles.ase_emt import AseEosOracle

        oracle = AseEosOracle.from_config(campaign.oracle, seed=campaign.campaign.seed)
        what = f"ase '{campaign.oracle.kind}'"
    else:
        from matloop.oracles.ase import AseStructureOracle

        try:
            structure_oracle = AseStructureOracle.from_config(campaign.oracle,
                                                              campaign.scratch_dir)
        except ValueError as exc:
            raise ConfigError(f"oracle: {exc}") from None
        if campaign.executor.kind == "local":  # a cluster's workers may have pw.x, we not
            structure_oracle.check_program()
        oracle = structure_oracle
        what = f"ase recipe '{campaign.oracle.recipe}'"
    unknown = [p for p in campaign.properties if p not in oracle.properties]
    if unknown:
        raise ConfigError(f"targets: the {what} oracle does not compute "
                          f"{unknown}; it computes {list(oracle.properties)}")
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
# Oracles the loop never calls (results are imported): not in ORACLES, whose members
# all evaluate candidates (tests/oracles/test_contract.py runs each).
RECORDED_ORACLES: dict[str, Callable[[Campaign], Oracle]] = {"lab": _lab}


def build_oracle(campaign: Campaign) -> Oracle:
    """The campaign's oracle, checked (files, columns, functions) before anything runs."""
    oracle = (ORACLES | RECORDED_ORACLES)[campaign.oracle.kind](campaign)
    check = getattr(oracle, "check", None)
    if check is not None:
        check()
    check_units(campaign, getattr(oracle, "units", {}))
    return oracle


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
