"""Categorical columns of a table space: the schema, codes into sorted options, keys and
labels by option, and errors that name the field, row and column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from matloop.campaigns.schema import TableSpace
from matloop.errors import ConfigError
from matloop.spaces.build import table_pool
from matloop.spaces.pool import Pool, candidate_key, extend, unique_rows

SOLVENTS = "T,solvent,ligand,y\n20,water,L2,1\n40,DMF,L1,2\n20,DMSO,L2,3\n60,DMF,L2,4\n"


def table(path: Path | None = None, frame: pd.DataFrame | None = None,
          **options: object) -> TableSpace:
    config = {"kind": "table", **({"path": path} if path is not None else {}), **options}
    return TableSpace.model_validate(config, context={"pool": frame})


def csv(tmp_path: Path, text: str = SOLVENTS, name: str = "table.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- the schema --------------------------------------------------------------------------


def test_categorical_columns_alone_or_beside_numeric_inputs(tmp_path: Path) -> None:
    assert table(csv(tmp_path), categorical=["solvent"]).columns == ["solvent"]
    both = table(csv(tmp_path), inputs=["T"], categorical=["solvent", "ligand"])
    assert both.columns == ["T", "solvent", "ligand"]


@pytest.mark.parametrize(("options", "message"), [
    ({"inputs": ["T", "solvent"], "categorical": ["solvent"]}, "in both 'inputs' and "
                                                               "'categorical'"),
    ({"categorical": ["solvent", "solvent"]}, "lists column.*twice"),
    ({"categorical": ["solvent"], "composition": "formula"}, "exactly one of"),
    ({}, "exactly one of"),
    ({"categorical": []}, "at least 1"),
])
def test_schema_refuses_impossible_column_lists(tmp_path: Path, options: dict,
                                                message: str) -> None:
    with pytest.raises(ValueError, match=message):
        table(csv(tmp_path), **options)


def test_an_unset_categorical_is_not_stored_so_older_campaigns_resume(tmp_path: Path) -> None:
    """A campaign stored before categorical columns existed has no such key in its space."""
    numeric = table(csv(tmp_path), inputs=["T"]).model_dump(mode="json")
    assert "categorical" not in numeric
    assert table(csv(tmp_path), categorical=["solvent"]).model_dump(
        mode="json")["categorical"] == ["solvent"]


# --- the pool ------------------------------------------------------------------------------


def test_codes_follow_the_sorted_options_numeric_columns_first(tmp_path: Path) -> None:
    pool = table_pool(table(csv(tmp_path), categorical=["solvent", "ligand"], inputs=["T"]))
    assert pool.kind == "inputs"
    assert pool.names == ("T", "solvent", "ligand")
    assert pool.categories == {"solvent": ("DMF", "DMSO", "water"), "ligand": ("L1", "L2")}
    np.testing.assert_array_equal(pool.values, [[20, 2, 1], [40, 0, 0], [20, 1, 1],
                                                [60, 0, 1]])


def test_codes_and_keys_do_not_depend_on_the_order_of_the_rows(tmp_path: Path) -> None:
    lines = SOLVENTS.splitlines()
    shuffled = "\n".join([lines[0], *reversed(lines[1:])]) + "\n"
    first = table_pool(table(csv(tmp_path), inputs=["T"], categorical=["solvent"]))
    second = table_pool(table(csv(tmp_path, shuffled, "shuffled.csv"), inputs=["T"],
                              categorical=["solvent"]))
    assert first.categories == second.categories
    keys = [first.key(i) for i in range(4)]
    assert [second.key(i) for i in range(4)] == keys[::-1]
    assert keys[0] == "T=20.0, solvent='water'"


def test_numbers_as_labels_sort_as_numbers_and_keep_their_text(tmp_path: Path) -> None:
    pool = table_pool(table(csv(tmp_path, "size,y\n10,1\n2,2\n2.5,3\n"),
                            categorical=["size"]))
    assert pool.categories == {"size": ("2", "2.5", "10")}
    assert pool.candidate(0).inputs == {"size": "10"}


def test_a_dataframe_pool_with_numbers_and_text(tmp_path: Path) -> None:
    frame = pd.DataFrame({"n": [3, 1, 3], "solvent": ["b", "a", " b "], "y": [1.0, 2, 3]})
    pool = table_pool(table(frame=frame, categorical=["n", "solvent"]))
    assert pool.categories == {"n": ("1", "3"), "solvent": ("a", "b")}
    assert len(pool) == 2  # " b " is "b": rows 1 and 3 are one candidate


def test_candidates_show_their_options_not_codes(tmp_path: Path) -> None:
    pool = table_pool(table(csv(tmp_path), inputs=["T"], categorical=["solvent"]))
    candidate = pool.candidate(1)
    assert candidate.inputs == {"T": 40.0, "solvent": "DMF"}
    assert candidate.label == "T=40, solvent=DMF"
    assert candidate.key == "T=40.0, solvent='DMF'"
    assert candidate_key("inputs", pool.names, pool.values[1], pool.categories) == \
        candidate.key


def test_labels_with_an_id_column_show_options(tmp_path: Path) -> None:
    text = "run,T,solvent,y\nr1,20,water,1\nr2,20,water,2\n"
    pool = table_pool(table(csv(tmp_path, text), inputs=["T"], categorical=["solvent"],
                            id="run"))
    assert pool.labels == ("r1 (T=20, solvent=water)", "r2 (T=20, solvent=water)")


def test_a_numeric_pool_has_no_categories_and_the_same_keys(tmp_path: Path) -> None:
    pool = table_pool(table(csv(tmp_path), inputs=["T", "y"]))
    assert pool.categories == {}
    assert pool.key(0) == "T=20.0, y=1.0" and pool.candidate(0).label == "T=20, y=1"


def test_repeated_rows_and_an_extension_keep_the_categories() -> None:
    pool = Pool(kind="inputs", names=("T", "solvent"),
                values=np.array([[20.0, 1], [20, 1], [40, 0]]),
                categories={"solvent": ("DMF", "water")})
    unique = unique_rows(pool)
    assert len(unique) == 2 and unique.categories == pool.categories
    extended = extend(unique, [("T=50.0, solvent='DMF'", {"T": 50.0, "solvent": "DMF"})])
    np.testing.assert_array_equal(extended.values[-1], [50.0, 0.0])
    assert extended.key(2) == "T=50.0, solvent='DMF'"
    assert extended.candidate(2).label == "T=50, solvent=DMF"
    with pytest.raises(ValueError, match="not an option"):
        extend(unique, [("x", {"T": 50.0, "solvent": "ethanol"})])


# --- errors with field, row and column -------------------------------------------------------


def test_an_empty_categorical_cell_names_field_row_and_column(tmp_path: Path) -> None:
    path = csv(tmp_path, "T,solvent,y\n20,water,1\n40,,2\n")
    with pytest.raises(ConfigError, match=r"space\.categorical: row 3, column 'solvent': "
                                          "empty"):
        table_pool(table(path, inputs=["T"], categorical=["solvent"]))


def test_an_empty_cell_of_a_dataframe_pool_names_its_row() -> None:
    frame = pd.DataFrame({"solvent": ["water", None, "DMF"], "y": [1.0, 2, 3]})
    with pytest.raises(ConfigError, match=r"row 3, column 'solvent'"):
        table_pool(table(frame=frame, categorical=["solvent"]))


def test_a_categorical_column_not_in_the_table_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"space\.categorical: column\(s\) \['base'\] "
                                          "not in the CSV"):
        table_pool(table(csv(tmp_path), categorical=["solvent", "base"]))

