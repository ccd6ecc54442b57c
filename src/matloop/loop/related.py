"""Related campaigns (``[[campaign.related]]``): their measurements in this campaign's
feature space, for the model to learn from as other tasks (transfer).

A related campaign is an earlier matloop database (its succeeded evaluations at its own
oracle) or a CSV table. Its candidates map into this campaign's features:

- a composition space (or a table with a formula column): by the formula, whatever its
  elements — the features are statistics of elemental properties over the atomic
  fractions, so a campaign on other elements lands in the same feature space;
- a table of input columns: by the same columns (a categorical option unknown here, or a
  row without those columns, cannot be placed and is skipped).

Each target property is read from the related property of the same name, or of the name
``properties`` maps it to; its values are standardised on their own in the model, so the
units (and an offset or scale) need not match.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from matloop.campaigns.campaign_schema import Related
from matloop.errors import ConfigError, StoreError
from matloop.spaces.featurised import Featurised

Placeable = tuple[str, ...] | dict[str, object]  # formulas to try in turn, or inputs
INPUT_PAIR = re.compile(r"(\w+)=('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^,]+)(?:, |$)")


@dataclass(frozen=True)
class RelatedData:
    """One related campaign here: ``features`` ``(n, d)`` in this campaign's feature
    space, ``values`` ``(n, m)`` of its target properties (NaN: not measured there),
    ``skipped`` rows that could not be placed in this space."""

    name: str
    features: np.ndarray
    values: np.ndarray
    skipped: int


def load_related(related: Sequence[Related], space: Featurised,
                 properties: Sequence[str]) -> list[RelatedData]:
    """Every related campaign, mapped; ``ConfigError`` names the entry when one cannot be
    read or has no usable row."""
    return [_load(entry, f"campaign.related.{i} ({entry.name})", space, properties)
            for i, entry in enumerate(related)]


def _load(entry: Related, field: str, space: Featurised, properties: Sequence[str]
          ) -> RelatedData:
    columns = [entry.properties.get(p, p) for p in properties]
    if entry.is_table:
        candidates, values = _table_rows(entry, field, space, columns)
    else:
        candidates, values = _database_rows(entry, field, columns)
    features, placed = _features(candidates, space)
    values = values[placed]
    usable = np.isfinite(values).any(axis=1)
    if not usable.any():
        raise ConfigError(f"{field}: no measurement of {', '.join(columns)} could be "
                          f"placed in this campaign's space ({len(candidates)} rows read)")
    return RelatedData(entry.name, features[usable], values[usable],
                       skipped=len(candidates) - int(usable.sum()))


def _table_rows(entry: Related, field: str, space: Featurised, columns: list[str]
                ) -> tuple[list[Placeable], np.ndarray]:
    """A CSV's candidates (formulas, or input dicts) and values ``(n, m)``."""
    from matloop.spaces.tables import numeric_columns, read_table

    assert entry.path is not None
    frame = read_table(entry.path, f"{field}.path")
    present = [c for c in columns if c in frame.columns]
    if not present:
        raise ConfigError(f"{field}.path: none of the columns {columns} in {entry.path} "
                          f"(it has {list(frame.columns)}); map a target property to a "
                          "column with properties")
    values = np.full((len(frame), len(columns)), np.nan)
    found = numeric_columns(frame, present, f"{field}.path", allow_missing=True)
    for k, column in enumerate(present):
        values[:, columns.index(column)] = found[:, k]
    pool = space.pool
    if pool.kind == "composition":
        if entry.composition not in frame.columns:
            raise ConfigError(f"{field}.composition: column {entry.composition!r} not in "
                              f"{entry.path} (it has {list(frame.columns)})")
        return [(formula,) for formula in frame[entry.composition].fillna("").astype(str)], \
            values
    missing = [name for name in pool.names if name not in frame.columns]
    if missing:
        raise ConfigError(f"{field}.path: the input column(s) {missing} are not in "
                          f"{entry.path} (it has {list(frame.columns)})")
    return [dict(zip(pool.names, row, strict=True))
            for row in frame[list(pool.names)].itertuples(index=False)], values


def _database_rows(entry: Related, field: str, columns: list[str]
                   ) -> tuple[list[Placeable], np.ndarray]:
    """A matloop database's succeeded evaluations at its own oracle: candidate keys
    (formulas or ``name=value`` pairs) and values ``(n, m)``."""
    from matloop.store import Store

    try:
        store = Store(entry.url, create=False)
    except StoreError as exc:
        raise ConfigError(f"{field}: {exc}") from None
    try:
        names = store.campaign_names()
        name = entry.campaign or (names[0] if len(names) == 1 else None)
        if name is None:
            raise ConfigError(f"{field}.campaign: the database holds {len(names)} "
                              f"campaigns ({', '.join(names)}); name one")
        if name not in names:
            raise ConfigError(f"{field}.campaign: no campaign {name!r} in the database "
                              f"(it has {', '.join(names) or 'none'})")
        rows = [e for e in store.evaluations(store.campaign_id(name))
                if e.status == "succeeded"]
    except StoreError as exc:
        raise ConfigError(f"{field}: {exc}") from None
    finally:
        store.close()
    values = np.array([[_number(e.values.get(c)) for c in columns] for e in rows],
                      dtype=float).reshape(len(rows), len(columns))
    return [_parsed_key(e.key, e.candidate) for e in rows], values


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else np.nan


def _parsed_key(key: str, label: str) -> Placeable:
    """A stored candidate as its inputs when the key is ``name=value`` pairs
    (``spaces.pool.input_key``), else as formulas to try: the key (a composition's), then
    the label before any `` (id)``."""
    pairs = INPUT_PAIR.findall(key)
    if pairs and "".join(f"{n}={v}, " for n, v in pairs) == key + ", ":
        try:
            return {name: ast.literal_eval(value) for name, value in pairs}
        except (ValueError, SyntaxError):
            pass
    return key, label.split(" (")[0]


def _features(candidates: Sequence[Placeable], space: Featurised
              ) -> tuple[np.ndarray, np.ndarray]:
    """Features ``(k, d)`` of the candidates that can be placed, and their positions."""
    pool = space.pool
    if pool.kind == "composition":
        return _composition_features(candidates, space)
    rows, placed = [], []
    for i, candidate in enumerate(candidates):
        if not isinstance(candidate, dict):
            continue
        row = _input_row(candidate, pool.names, pool.categories)
        if row is not None:
            rows.append(row)
            placed.append(i)
    return _selected(np.array(rows, dtype=float).reshape(len(rows), len(pool.names)),
                     space), np.array(placed, dtype=int)


def _input_row(inputs: dict[str, object], names: Sequence[str],
               categories: dict[str, tuple[str, ...]] | object) -> list[float] | None:
    """The pool's value row for a candidate's inputs; None when it cannot be placed."""
    options = dict(categories) if isinstance(categories, dict) else {}
    row = []
    for name in names:
        value = inputs.get(name)
        if name in options:
            if str(value) not in options[name]:
                return None
            row.append(float(options[name].index(str(value))))
            continue
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None
        if not np.isfinite(number):
            return None
        row.append(number)
    return row


def _composition_features(candidates: Sequence[Placeable],
                          space: Featurised) -> tuple[np.ndarray, np.ndarray]:
    from pymatgen.core import Composition

    from matloop.features.composition import CompositionStatistics

    amounts, placed = [], []
    for i, candidate in enumerate(candidates):
        if isinstance(candidate, dict):
            continue
        for formula in candidate:
            try:
                composition = Composition(formula)
            except (ValueError, KeyError, TypeError):
                continue
            if composition.num_atoms > 0:
                amounts.append(composition.fractional_composition.get_el_amt_dict())
                placed.append(i)
                break
    elements = sorted({element for amount in amounts for element in amount})
    if not elements:
        return np.empty((0, space.features.shape[1])), np.array(placed, dtype=int)
    fractions = np.array([[amount.get(e, 0.0) for e in elements] for amount in amounts])
    featurizer = CompositionStatistics.from_elements(elements)
    raw = featurizer.transform(fractions)
    columns = [featurizer.names.index(name) for name in space.names]
    return raw[:, columns], np.array(placed, dtype=int)


def _selected(values: np.ndarray, space: Featurised) -> np.ndarray:
    """Pool-like ``values`` ``(k, columns)`` -> this space's features ``(k, d)``."""
    from matloop.features import featurizer_for

    featurizer = featurizer_for(space.pool)
    raw = featurizer.transform(values) if len(values) else np.empty((0, len(
        featurizer.names)))
    return raw[:, [list(featurizer.names).index(name) for name in space.names]]
