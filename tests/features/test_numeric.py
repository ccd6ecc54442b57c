"""ScaledInputs and the featuriser registry: scaling to [0, 1], constant columns, lazy
imports."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import matloop
from matloop.features import featurizer_for
from matloop.features.numeric import ScaledInputs
from matloop.protocols import Featurizer
from matloop.spaces.pool import Pool


def inputs_pool(values: list[list[float]], names: tuple[str, ...] = ("a", "b", "c")) -> Pool:
    return Pool(kind="inputs", names=names, values=np.array(values, dtype=float))


def test_pool_is_scaled_to_unit_box_with_constant_column_at_zero() -> None:
    pool = inputs_pool([[1.0, 5.0, -2.0], [3.0, 5.0, 2.0], [2.0, 5.0, 0.0]])
    scaler = ScaledInputs.from_pool(pool)

    scaled = scaler.transform(pool.values)

    assert scaler.names == ("a", "b", "c")
    assert scaled.dtype == np.float64
    assert scaled.shape == (3, 3)
    np.testing.assert_array_equal(scaled[:, 0], [0.0, 1.0, 0.5])
    np.testing.assert_array_equal(scaled[:, 1], [0.0, 0.0, 0.0])  # constant: no 0/0
    np.testing.assert_array_equal(scaled[:, 2], [0.0, 1.0, 0.5])
    assert np.isfinite(scaled).all()


def test_bounds_come_from_the_pool_not_from_transformed_values() -> None:
    scaler = ScaledInputs.from_pool(inputs_pool([[0.0], [10.0]], names=("x",)))

    scaled = scaler.transform(np.array([[5.0], [20.0], [-10.0], [0.0]]))

    np.testing.assert_allclose(scaled[:, 0], [0.5, 2.0, -1.0, 0.0])
    np.testing.assert_array_equal(scaler.minimum, [0.0])
    np.testing.assert_array_equal(scaler.span, [10.0])


def test_integer_values_give_float64() -> None:
    pool = Pool(kind="inputs", names=("n", "m"), values=np.array([[1, 4], [3, 8]]))
    scaled = ScaledInputs.from_pool(pool).transform(np.array([[2, 6]]))
    assert scaled.dtype == np.float64
    np.testing.assert_array_equal(scaled, [[0.5, 0.5]])


def test_wrong_width_and_wrong_kind_are_rejected() -> None:
    scaler = ScaledInputs.from_pool(inputs_pool([[0.0, 1.0, 2.0], [1.0, 2.0, 3.0]]))
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        scaler.transform(np.zeros((2, 2)))
    composition = Pool(kind="composition", names=("Cu",), values=np.ones((1, 1)))
    with pytest.raises(ValueError, match="inputs"):
        ScaledInputs.from_pool(composition)


def test_scaler_pickles() -> None:
    pool = inputs_pool([[1.0, 5.0, -2.0], [3.0, 5.0, 2.0]])
    scaler = ScaledInputs.from_pool(pool)
    clone = pickle.loads(pickle.dumps(scaler))
    np.testing.assert_array_equal(clone.transform(pool.values), scaler.transform(pool.values))
    assert clone.names == scaler.names


def test_registry_picks_scaled_inputs_for_inputs_pools() -> None:
    pool = inputs_pool([[1.0, 5.0, -2.0], [3.0, 5.0, 2.0]])
    featurizer = featurizer_for(pool)
    assert isinstance(featurizer, ScaledInputs)
    assert isinstance(featurizer, Featurizer)
    assert featurizer.transform(pool.values).shape == (2, len(featurizer.names))


def test_registry_rejects_unknown_kinds() -> None:
    pool = Pool(kind="mystery", names=("x",), values=np.zeros((1, 1)))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mystery"):
        featurizer_for(pool)


def test_importing_features_loads_neither_pymatgen_nor_torch() -> None:
    src = Path(matloop.__file__).resolve().parents[1]
    code = (
        f"import sys; sys.path.insert(0, {str(src)!r}); import matloop.features; "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('pymatgen', 'torch')); "
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == ""
