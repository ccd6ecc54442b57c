"""OneHotInputs: categorical columns one-hot, numeric ones min-max scaled, and a pool
without categorical columns featurised exactly as before."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from matloop.campaigns.schema import TableSpace
from matloop.features import featurizer_for
from matloop.features.categorical import OneHotInputs
from matloop.features.numeric import ScaledInputs
from matloop.protocols import Featurizer
from matloop.spaces.build import table_pool
from matloop.spaces.featurised import featurise
from matloop.spaces.pool import Pool

ROOT = Path(__file__).resolve().parents[2]


def mixed_pool() -> Pool:
    """T numeric, then solvent (3 options) and ligand (2 options) as codes."""
    return Pool(kind="inputs", names=("T", "solvent", "ligand"),
                values=np.array([[20.0, 2, 1], [40, 0, 0], [30, 1, 1], [20, 0, 1]]),
                categories={"solvent": ("DMF", "DMSO", "water"), "ligand": ("L1", "L2")})


def test_categorical_columns_are_one_hot_and_numbers_scaled_in_column_order() -> None:
    pool = mixed_pool()
    featurizer = featurizer_for(pool)
    assert isinstance(featurizer, OneHotInputs)
    assert isinstance(featurizer, Featurizer)
    assert featurizer.names == ("T", "solvent=DMF", "solvent=DMSO", "solvent=water",
                                "ligand=L1", "ligand=L2")
    features = featurizer.transform(pool.values)
    assert features.dtype == np.float64
    np.testing.assert_array_equal(features, [[0.0, 0, 0, 1, 0, 1],
                                             [1.0, 1, 0, 0, 1, 0],
                                             [0.5, 0, 1, 0, 0, 1],
                                             [0.0, 1, 0, 0, 0, 1]])


def test_a_pool_of_categorical_columns_only() -> None:
    pool = Pool(kind="inputs", names=("solvent",), values=np.array([[1.0], [0.0]]),
                categories={"solvent": ("DMF", "water")})
    np.testing.assert_array_equal(featurizer_for(pool).transform(pool.values),
                                  [[0.0, 1.0], [1.0, 0.0]])


def test_a_code_that_is_no_option_is_refused() -> None:
    featurizer = featurizer_for(mixed_pool())
    with pytest.raises(ValueError, match=r"'solvent'.*3 options"):
        featurizer.transform(np.array([[20.0, 3, 0]]))
    with pytest.raises(ValueError, match="'ligand'"):
        featurizer.transform(np.array([[20.0, 0, 0.5]]))
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        featurizer.transform(np.zeros((1, 2)))


def test_one_hot_inputs_pickle() -> None:
    pool = mixed_pool()
    featurizer = featurizer_for(pool)
    clone = pickle.loads(pickle.dumps(featurizer))
    np.testing.assert_array_equal(clone.transform(pool.values),
                                  featurizer.transform(pool.values))


def test_a_numeric_pool_gives_exactly_the_features_of_before() -> None:
    space = TableSpace.model_validate({
        "kind": "table", "path": ROOT / "examples" / "data" / "liang_crossed_barrel.csv",
        "inputs": ["n", "theta", "r", "t"]})
    pool = table_pool(space)
    assert pool.categories == {}
    assert isinstance(featurizer_for(pool), ScaledInputs)
    prepared = featurise(pool)
    values = pool.values
    expected = (values - values.min(axis=0)) / (values.max(axis=0) - values.min(axis=0))
    assert prepared.names == ("n", "theta", "r", "t")
    np.testing.assert_array_equal(prepared.features, expected)


def test_featurised_pool_of_a_benchmark_has_one_column_per_option() -> None:
    space = TableSpace.model_validate({
        "kind": "table", "path": ROOT / "examples" / "data" / "olympus_buchwald_a.csv",
        "categorical": ["aryl_halide", "additive", "base", "ligand"]})
    prepared = featurise(table_pool(space))
    assert prepared.features.shape == (792, 3 + 22 + 3 + 4)
    np.testing.assert_array_equal(prepared.features.sum(axis=1), 4.0)
    assert prepared.names[0].startswith("aryl_halide=")
