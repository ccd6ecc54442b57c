"""Candidate spaces: composition grids, CSV tables, keys, labels and input errors."""

from __future__ import annotations

import re
from math import comb
from pathlib import Path

import numpy as np
import pytest

from matloop.campaigns.schema import CompositionSpace, TableSpace
from matloop.errors import ConfigError
from matloop.spaces.build import build_pool, composition_grid, table_pool
from matloop.spaces.pool import Pool, candidate_key, integer_formula

SEVEN = ["Cu", "Ni", "Pd", "Pt", "Au", "Ag", "Al"]


def compositions(elements: list[str], **options: object) -> CompositionSpace:
    return CompositionSpace.model_validate({"kind": "compositions", "elements": elements,
                                            **options})


def table(path: Path, **options: object) -> TableSpace:
    return TableSpace.model_validate({"kind": "table", "path": path, **options})


def csv(tmp_path: Path, text: str, name: str = "table.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def nonzero_counts(pool: Pool) -> np.ndarray:
    return (pool.values > 0).sum(axis=1)


# --- composition grids ---------------------------------------------------------------------


def test_grid_count_for_seven_elements_up_to_ternaries() -> None:
    pool = composition_grid(compositions(SEVEN, step=0.1, max_elements=3))
    assert len(pool) == 7 + 21 * 9 + 35 * 36 == 1456
    assert pool.kind == "composition"
    assert pool.names == tuple(SEVEN)
    assert pool.values.shape == (1456, 7)
    counts = nonzero_counts(pool)
    assert (counts == 1).sum() == 7
    assert (counts == 2).sum() == 21 * 9
    assert (counts == 3).sum() == 35 * 36


def test_grid_rows_sum_to_one_on_the_step() -> None:
    pool = composition_grid(compositions(SEVEN, step=0.1, max_elements=3))
    np.testing.assert_allclose(pool.values.sum(axis=1), 1.0, atol=1e-12)
    tenths = pool.values * 10
    np.testing.assert_allclose(tenths, np.round(tenths), atol=1e-9)
    assert pool.values.min() >= 0


def test_grid_has_no_duplicate_rows_or_keys() -> None:
    pool = composition_grid(compositions(SEVEN, step=0.1, max_elements=3))
    assert len(np.unique(np.round(pool.values, 9), axis=0)) == len(pool)
    assert len({pool.key(i) for i in range(len(pool))}) == len(pool)


def test_grid_is_deterministic_unaries_first() -> None:
    first = composition_grid(compositions(SEVEN, max_elements=3))
    second = composition_grid(compositions(SEVEN, max_elements=3))
    np.testing.assert_array_equal(first.values, second.values)
    np.testing.assert_array_equal(first.values[:7], np.eye(7))
    assert np.all(np.diff(nonzero_counts(first)) >= 0)


@pytest.mark.parametrize(("minimum", "maximum", "expected"), [
    (2, 3, 21 * 9 + 35 * 36),
    (2, 2, 21 * 9),
    (3, 3, 35 * 36),
])
def test_min_elements(minimum: int, maximum: int, expected: int) -> None:
    pool = composition_grid(compositions(SEVEN, min_elements=minimum, max_elements=maximum))
    assert len(pool) == expected
    counts = nonzero_counts(pool)
    assert counts.min() == minimum
    assert counts.max() == maximum


@pytest.mark.parametrize(("step", "k"), [(0.25, 2), (0.2, 3), (0.5, 3), (0.05, 2)])
def test_grid_count_matches_formula(step: float, k: int) -> None:
    n = round(1 / step)
    elements = ["Fe", "Co", "Ni", "Cr"]
    pool = composition_grid(compositions(elements, step=step, min_elements=2, max_elements=k))
    expected = sum(comb(len(elements), j) * comb(n - 1, j - 1)
                   for j in range(2, min(k, n) + 1))
    assert len(pool) == expected


def test_empty_grid_is_a_config_error() -> None:
    space = compositions(["Cu", "Ni"], min_elements=3, max_elements=3)
    assert len(composition_grid(space)) == 0
    with pytest.raises(ConfigError, match="empty"):
        build_pool(space)


def test_unknown_element_in_compositions_space() -> None:
    space = compositions(["Cu", "Qq", "Ni"], min_elements=2)
    with pytest.raises(ConfigError, match=r"space\.elements.*'Qq'"):
        composition_grid(space)
    with pytest.raises(ConfigError, match="'Qq'"):
        build_pool(space)


# --- keys, candidates, formulas -------------------------------------------------------


def test_key_is_canonical_alphabetical() -> None:
    pool = Pool(kind="composition", names=("Ni", "Cu", "Pd"),
                values=np.array([[0.5, 0.5, 0.0], [0.3, 0.1, 0.6]]))
    assert pool.key(0) == "Cu0.5 Ni0.5"
    assert pool.key(1) == "Cu0.1 Ni0.3 Pd0.6"
    assert candidate_key("composition", ("Cu", "Ni"), np.array([0.5, 0.5])) == "Cu0.5 Ni0.5"


def test_keys_do_not_depend_on_element_order() -> None:
    one = composition_grid(compositions(["Cu", "Ni", "Pd"], max_elements=3, min_elements=2))
    other = composition_grid(compositions(["Pd", "Ni", "Cu"], max_elements=3, min_elements=2))
    assert {one.key(i) for i in range(len(one))} == {other.key(i) for i in range(len(other))}


def test_key_rounds_float_noise() -> None:
    noisy = np.array([0.1 + 0.2, 0.7 - 1e-12])
    assert candidate_key("composition", ("Cu", "Ni"), noisy) == "Cu0.3 Ni0.7"


def test_composition_candidate() -> None:
    pool = Pool(kind="composition", names=("Ni", "Cu", "Pd"),
                values=np.array([[0.4, 0.6, 0.0]]))
    candidate = pool.candidate(0)
    assert candidate.key == "Cu0.6 Ni0.4"
    assert candidate.composition == {"Ni": 0.4, "Cu": 0.6}
    assert candidate.inputs is None
    assert candidate.label == "Ni2Cu3"


def test_inputs_candidate() -> None:
    pool = Pool(kind="inputs", names=("n", "theta"), values=np.array([[6.0, 0.5]]))
    candidate = pool.candidate(0)
    assert candidate.key == "n=6.0, theta=0.5"
    assert pool.key(0) == candidate.key
    assert candidate.inputs == {"n": 6.0, "theta": 0.5}
    assert all(type(v) is float for v in candidate.inputs.values())
    assert candidate.composition is None
    assert candidate.label == "n=6, theta=0.5"


def test_labels_are_used_when_given() -> None:
    pool = Pool(kind="composition", names=("Cl", "Na"), values=np.array([[0.5, 0.5]]),
                labels=("NaCl",))
    assert pool.candidate(0).label == "NaCl"
    assert pool.candidate(0).key == "Cl0.5 Na0.5"


@pytest.mark.parametrize(("names", "fractions", "formula"), [
    (("Cu", "Ni"), [0.6, 0.4], "Cu3Ni2"),
    (("Cu", "Ni"), [0.5, 0.5], "CuNi"),
    (("Cu", "Ni"), [1.0, 0.0], "Cu"),
    (("Fe", "O"), [0.4, 0.6], "Fe2O3"),
    (("Au", "Cu", "Ni"), [0.1, 0.2, 0.7], "AuCu2Ni7"),
    (("Al", "Cu"), [1 / 3, 2 / 3], "AlCu2"),
])
def test_integer_formula(names: tuple[str, ...], fractions: list[float], formula: str) -> None:
    assert integer_formula(names, np.array(fractions)) == formula


# --- table spaces ----------------------------------------------------------------------------


def test_table_pool_numeric_inputs(tmp_path: Path) -> None:
    path = csv(tmp_path, "a,b,y\n1,2.5,10\n3,4,20\n-1,0,30\n")
    pool = table_pool(table(path, inputs=["b", "a"]))
    assert pool.kind == "inputs"
    assert pool.names == ("b", "a")
    np.testing.assert_array_equal(pool.values, [[2.5, 1], [4, 3], [0, -1]])
    assert pool.key(0) == "b=2.5, a=1.0"
    assert pool.candidate(2).inputs == {"b": 0.0, "a": -1.0}


def test_table_pool_repeated_rows_are_deduplicated(tmp_path: Path) -> None:
    path = csv(tmp_path, "a,b,y\n1,2,10\n3,4,20\n1,2,11\n5,6,30\n3.0,4.0,21\n")
    pool = table_pool(table(path, inputs=["a", "b"]))
    np.testing.assert_array_equal(pool.values, [[1, 2], [3, 4], [5, 6]])


def test_table_pool_formula_column(tmp_path: Path) -> None:
    path = csv(tmp_path, "formula,y\nNaCl,1\nFe2O3,2\nNaN,3\nClNa,4\n")
    pool = table_pool(table(path, composition="formula"))
    assert pool.kind == "composition"
    assert pool.names == ("Cl", "Fe", "N", "Na", "O")
    # ClNa is NaCl again: the first row is kept
    assert pool.labels == ("NaCl", "Fe2O3", "NaN")
    assert len(pool) == 3
    np.testing.assert_allclose(pool.values.sum(axis=1), 1.0)
    assert pool.key(0) == "Cl0.5 Na0.5"
    assert pool.key(1) == "Fe0.4 O0.6"
    sodium_nitride = pool.candidate(2)
    assert sodium_nitride.key == "N0.5 Na0.5"
    assert sodium_nitride.label == "NaN"
    assert sodium_nitride.composition == {"N": 0.5, "Na": 0.5}


def test_crossed_barrel_table_has_600_candidates() -> None:
    root = Path(__file__).resolve().parents[2]
    pool = build_pool(table(root / "examples" / "data" / "liang_crossed_barrel.csv",
                            inputs=["n", "theta", "r", "t"]))
    assert len(pool) == 600


def _row_and_column(message: str, row: int, column: str) -> None:
    assert re.search(rf"\brow {row}\b", message), message
    assert f"'{column}'" in message, message


@pytest.mark.parametrize("bad", ["hello", "1234", "Na-Cl", "Xx2"])
def test_bad_formula_names_row_and_column(tmp_path: Path, bad: str) -> None:
    path = csv(tmp_path, f"name,formula\na,NaCl\nb,Fe2O3\nc,{bad}\nd,KBr\n")
    with pytest.raises(ConfigError) as info:
        build_pool(table(path, composition="formula"))
    message = str(info.value)
    _row_and_column(message, 4, "formula")  # header on row 1, so the third data row is 4
    assert repr(bad) in message


def test_empty_formula_cell_names_row(tmp_path: Path) -> None:
    path = csv(tmp_path, "formula,y\nNaCl,1\n,2\n")
    with pytest.raises(ConfigError) as info:
        table_pool(table(path, composition="formula"))
    _row_and_column(str(info.value), 3, "formula")


@pytest.mark.parametrize("bad", ["abc", "NaN", "inf", ""])
def test_non_numeric_input_names_row_and_column(tmp_path: Path, bad: str) -> None:
    path = csv(tmp_path, f"a,b,y\n1,2,3\n4,5,6\n7,{bad},9\n")
    with pytest.raises(ConfigError) as info:
        table_pool(table(path, inputs=["a", "b"]))
    message = str(info.value)
    assert message.startswith("space.inputs")
    _row_and_column(message, 4, "b")


def test_missing_input_column(tmp_path: Path) -> None:
    path = csv(tmp_path, "a,b\n1,2\n")
    with pytest.raises(ConfigError, match=r"\['c'\]"):
        table_pool(table(path, inputs=["a", "c"]))


def test_missing_formula_column(tmp_path: Path) -> None:
    path = csv(tmp_path, "a,b\n1,2\n")
    with pytest.raises(ConfigError, match="'formula'"):
        table_pool(table(path, composition="formula"))


def test_missing_csv(tmp_path: Path) -> None:
    absent = tmp_path / "absent.csv"
    with pytest.raises(ConfigError, match="not found") as info:
        build_pool(table(absent, inputs=["a"]))
    assert "absent.csv" in str(info.value)


def test_table_with_no_rows_is_empty(tmp_path: Path) -> None:
    path = csv(tmp_path, "a,b\n")
    with pytest.raises(ConfigError, match="empty"):
        build_pool(table(path, inputs=["a", "b"]))


def test_unreadable_csv(tmp_path: Path) -> None:
    path = csv(tmp_path, "")
    with pytest.raises(ConfigError, match="CSV"):
        build_pool(table(path, inputs=["a"]))


def test_inputs_too_large_to_scale_are_refused_with_row_and_column() -> None:
    import pandas as pd

    from matloop.errors import ConfigError
    from matloop.spaces.tables import read_table_pool

    frame = pd.DataFrame({"x": ["1.0", "2.0", "1e308"], "y": ["0", "1", "2"]})
    with pytest.raises(ConfigError, match=r"row 4, column 'x': '1e308' is not a finite "
                                          r"number of size at most 1e\+100"):
        read_table_pool(frame, ["x", "y"], None, None)
