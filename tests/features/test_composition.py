"""CompositionStatistics: real elemental values, a slow per-row reference with pymatgen,
chunking, both reduction paths, missing data and bad input."""

from __future__ import annotations

import math
import pickle
import warnings

import numpy as np
import pytest
from pymatgen.core import Composition
from pymatgen.core.periodic_table import Element

from matloop.campaigns.schema import CompositionSpace
from matloop.features import composition as comp
from matloop.features import featurizer_for
from matloop.features.composition import (
    PROPERTIES,
    STATISTICS,
    CompositionStatistics,
    valence_electrons,
)
from matloop.protocols import Featurizer
from matloop.spaces.build import composition_grid
from matloop.spaces.pool import Pool

PROPERTY_NAMES = [name for name, _unit in PROPERTIES]
ATTRIBUTES = {"electronegativity": "X", "atomic_radius": "atomic_radius", "row": "row",
              "group": "group", "mendeleev_number": "mendeleev_no",
              "atomic_mass": "atomic_mass", "melting_point": "melting_point",
              "molar_volume": "molar_volume", "ionization_energy": "ionization_energy"}


def pymatgen_value(symbol: str, prop: str) -> float:
    """One elemental property straight from pymatgen (NaN where it has none)."""
    if prop == "valence_electrons":
        return valence_electrons(symbol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = getattr(Element(symbol), ATTRIBUTES[prop])
    return math.nan if raw is None else float(raw)


def table_mean(prop: str) -> float:
    values = [pymatgen_value(Element.from_Z(z).symbol, prop) for z in range(1, 104)]
    return float(np.nanmean(values))


def filled_value(symbol: str, prop: str) -> float:
    value = pymatgen_value(symbol, prop)
    return table_mean(prop) if math.isnan(value) else value


def reference_row(formula: Composition) -> dict[str, float]:
    """Slow per-row statistics of one pymatgen Composition (the featuriser's contract)."""
    fractions = {el.symbol: formula.get_atomic_fraction(el) for el in formula.elements}
    features = {}
    for prop in PROPERTY_NAMES:
        values = {el: filled_value(el, prop) for el in fractions}
        mean = sum(fractions[el] * values[el] for el in fractions)
        low, high = min(values.values()), max(values.values())
        features[f"mean_{prop}"] = mean
        features[f"min_{prop}"] = low
        features[f"max_{prop}"] = high
        features[f"range_{prop}"] = high - low
        features[f"spread_{prop}"] = sum(fractions[el] * abs(values[el] - mean)
                                         for el in fractions)
    return features


def feature(featurizer: CompositionStatistics, row: np.ndarray, name: str) -> float:
    return float(row[featurizer.names.index(name)])


@pytest.fixture(scope="module")
def cu_ni() -> CompositionStatistics:
    return CompositionStatistics.from_elements(("Cu", "Ni"))


def test_names_are_statistic_property_pairs_matching_the_output(cu_ni) -> None:
    names = cu_ni.names
    assert len(names) == len(STATISTICS) * len(PROPERTIES) == len(set(names))
    assert names[0] == "mean_electronegativity"
    for name in ("min_atomic_radius", "max_row", "range_group", "spread_melting_point",
                 "mean_valence_electrons", "mean_mendeleev_number", "max_atomic_mass"):
        assert name in names
    out = cu_ni.transform(np.array([[1.0, 0.0], [0.3, 0.7], [0.0, 1.0]]))
    assert out.shape == (3, len(names))
    assert out.dtype == np.float64


def test_pure_copper_statistics_are_copper_values(cu_ni) -> None:
    row = cu_ni.transform(np.array([[1.0, 0.0]]))[0]
    cu = Element("Cu")
    assert feature(cu_ni, row, "mean_electronegativity") == pytest.approx(cu.X)
    assert feature(cu_ni, row, "min_electronegativity") == pytest.approx(cu.X)
    assert feature(cu_ni, row, "max_electronegativity") == pytest.approx(cu.X)
    for prop in ("atomic_radius", "atomic_mass", "melting_point", "ionization_energy"):
        assert feature(cu_ni, row, f"mean_{prop}") == pytest.approx(pymatgen_value("Cu", prop))
    assert feature(cu_ni, row, "mean_row") == 4
    assert feature(cu_ni, row, "mean_group") == 11
    assert feature(cu_ni, row, "mean_valence_electrons") == 11
    p = len(PROPERTIES)
    np.testing.assert_array_equal(row[3 * p : 5 * p], 0.0)  # range and spread


def test_equiatomic_cu_ni_mean_min_max_and_spread(cu_ni) -> None:
    row = cu_ni.transform(np.array([[0.5, 0.5]]))[0]
    cu, ni = Element("Cu").X, Element("Ni").X
    assert cu != ni
    assert feature(cu_ni, row, "mean_electronegativity") == pytest.approx((cu + ni) / 2)
    assert feature(cu_ni, row, "min_electronegativity") == pytest.approx(min(cu, ni))
    assert feature(cu_ni, row, "max_electronegativity") == pytest.approx(max(cu, ni))
    assert feature(cu_ni, row, "range_electronegativity") == pytest.approx(abs(cu - ni))
    assert feature(cu_ni, row, "spread_electronegativity") == pytest.approx(abs(cu - ni) / 2)
    cu_m, ni_m = pymatgen_value("Cu", "melting_point"), pymatgen_value("Ni", "melting_point")
    assert feature(cu_ni, row, "mean_melting_point") == pytest.approx((cu_m + ni_m) / 2)


def test_weighting_follows_the_fractions(cu_ni) -> None:
    row = cu_ni.transform(np.array([[0.25, 0.75]]))[0]
    cu, ni = pymatgen_value("Cu", "atomic_mass"), pymatgen_value("Ni", "atomic_mass")
    mean = 0.25 * cu + 0.75 * ni
    assert feature(cu_ni, row, "mean_atomic_mass") == pytest.approx(mean)
    spread = 0.25 * abs(cu - mean) + 0.75 * abs(ni - mean)
    assert feature(cu_ni, row, "spread_atomic_mass") == pytest.approx(spread)


@pytest.mark.parametrize("symbols", [("Al", "Fe", "Mo"), ("Li", "O", "He", "Pm", "Ar")])
def test_random_rows_match_a_per_row_pymatgen_reference(symbols) -> None:
    featurizer = CompositionStatistics.from_elements(symbols)
    rng = np.random.default_rng(7)
    fractions = rng.random((6, len(symbols)))
    fractions[rng.random(fractions.shape) < 0.3] = 0.0
    fractions[fractions.sum(axis=1) == 0, 0] = 1.0
    fractions /= fractions.sum(axis=1, keepdims=True)

    out = featurizer.transform(fractions)

    for row, values in zip(out, fractions, strict=True):
        formula = Composition({s: float(v) for s, v in zip(symbols, values, strict=True)
                               if v > 0})
        expected = reference_row(formula)
        actual = dict(zip(featurizer.names, row, strict=True))
        assert actual.keys() == expected.keys()
        for name, value in expected.items():
            assert actual[name] == pytest.approx(value, rel=1e-10, abs=1e-10), name


def test_missing_pymatgen_values_are_filled_with_the_periodic_table_mean() -> None:
    featurizer = CompositionStatistics.from_elements(("He", "Ar", "Pm", "Kr", "Fr", "Cu"))
    out = featurizer.transform(np.eye(6))
    assert np.isfinite(out).all()
    he = out[0]
    assert math.isnan(pymatgen_value("He", "electronegativity"))  # the case being tested
    assert feature(featurizer, he, "mean_electronegativity") == pytest.approx(
        table_mean("electronegativity"))
    assert feature(featurizer, out[3], "mean_atomic_radius") == pytest.approx(
        table_mean("atomic_radius"))  # Kr has no atomic radius in pymatgen
    assert feature(featurizer, out[4], "mean_molar_volume") == pytest.approx(
        table_mean("molar_volume"))  # nor Fr a molar volume
    assert np.isfinite(featurizer.table).all()


def test_table_holds_plain_floats_in_documented_units() -> None:
    featurizer = CompositionStatistics.from_elements(("Cu",))
    assert featurizer.table.dtype == np.float64
    assert featurizer.table.shape == (1, len(PROPERTIES))
    by_name = dict(zip(PROPERTY_NAMES, featurizer.table[0], strict=True))
    assert by_name["atomic_radius"] == pytest.approx(1.35)  # Å
    assert by_name["atomic_mass"] == pytest.approx(63.546)  # amu
    assert by_name["melting_point"] == pytest.approx(1357.77)  # K
    assert by_name["mendeleev_number"] == Element("Cu").mendeleev_no


def test_valence_electrons_follow_the_group_outside_the_f_block() -> None:
    for z in range(1, 104):
        element = Element.from_Z(z)
        if element.block == "f" or element.symbol == "He":
            continue
        expected = element.group if element.group <= 12 else element.group - 10
        assert valence_electrons(element.symbol) == expected, element.symbol
    assert valence_electrons("He") == 2
    assert [valence_electrons(s) for s in ("Ce", "Gd", "Yb", "Lu")] == [4, 10, 2, 3]


def test_chunked_and_unchunked_results_agree() -> None:
    symbols = ("Cu", "Ni", "Pd", "Pt", "Au", "Ag", "Al")
    pool = composition_grid(CompositionSpace(kind="compositions", elements=list(symbols),
                                             step=0.1, max_elements=3))
    whole = CompositionStatistics.from_elements(symbols)
    chunked = CompositionStatistics.from_elements(symbols, chunk_size=7)
    assert len(pool) > 7 * 10
    np.testing.assert_array_equal(chunked.transform(pool.values), whole.transform(pool.values))


def test_dense_and_sparse_paths_agree_and_match_the_reference() -> None:
    symbols = tuple(Element.from_Z(z).symbol for z in range(1, 41))
    featurizer = CompositionStatistics.from_elements(symbols)
    rng = np.random.default_rng(3)
    fractions = np.zeros((300, len(symbols)))
    for row in fractions:
        chosen = rng.choice(len(symbols), size=rng.integers(1, 5), replace=False)
        row[chosen] = rng.random(len(chosen)) + 0.05
    weights = fractions / fractions.sum(axis=1, keepdims=True)
    present = weights > 0
    dense = np.empty((300, len(featurizer.names)))
    sparse = np.empty_like(dense)
    comp._statistics_dense(weights, present, featurizer.table, dense)
    comp._statistics_sparse(weights, present, featurizer.table, sparse)
    np.testing.assert_allclose(dense, sparse, rtol=1e-12, atol=1e-12)

    out = featurizer.transform(fractions)  # 40 elements, <= 4 per row: the sparse path
    np.testing.assert_allclose(out, sparse, rtol=1e-12, atol=1e-12)
    for i in (0, 17, 299):
        formula = Composition({s: float(v) for s, v in zip(symbols, fractions[i], strict=True)
                               if v > 0})
        expected = reference_row(formula)
        np.testing.assert_allclose(out[i], [expected[n] for n in featurizer.names],
                                   rtol=1e-10, atol=1e-10)


def test_many_elements_use_smaller_chunks_with_the_same_result() -> None:
    symbols = tuple(Element.from_Z(z).symbol for z in range(1, 91))
    featurizer = CompositionStatistics.from_elements(symbols)
    rng = np.random.default_rng(5)
    n = comp.CELL_BUDGET // (len(symbols) * len(PROPERTIES)) + 100  # more than one chunk
    fractions = np.zeros((n, len(symbols)))
    rows = np.arange(n)
    for _ in range(3):
        fractions[rows, rng.integers(0, len(symbols), n)] += rng.random(n) + 0.1
    out = featurizer.transform(fractions)
    single = np.vstack([featurizer.transform(fractions[i : i + 1]) for i in (0, n - 1)])
    np.testing.assert_allclose(out[[0, n - 1]], single, rtol=1e-12)
    assert np.isfinite(out).all()


def test_unnormalised_rows_are_normalised(cu_ni) -> None:
    fractions = np.array([[0.2, 0.8], [1.0, 0.0]])
    np.testing.assert_allclose(cu_ni.transform(3.0 * fractions), cu_ni.transform(fractions))


@pytest.mark.parametrize("bad", [[[0.0, 0.0]], [[-0.5, 1.5]], [[np.nan, 1.0]], [[np.inf, 1.0]]])
def test_invalid_fractions_are_rejected(cu_ni, bad) -> None:
    with pytest.raises(ValueError):
        cu_ni.transform(np.array(bad))


def test_wrong_width_and_unknown_elements_are_rejected(cu_ni) -> None:
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        cu_ni.transform(np.ones((2, 3)) / 3)
    with pytest.raises(ValueError, match="Xx"):
        CompositionStatistics.from_elements(("Cu", "Xx"))


def test_empty_input_gives_empty_output(cu_ni) -> None:
    assert cu_ni.transform(np.zeros((0, 2))).shape == (0, len(cu_ni.names))


def test_featurizer_pickles(cu_ni) -> None:
    fractions = np.array([[0.3, 0.7]])
    clone = pickle.loads(pickle.dumps(cu_ni))
    assert clone.names == cu_ni.names
    np.testing.assert_array_equal(clone.transform(fractions), cu_ni.transform(fractions))


def test_registry_picks_composition_statistics_for_composition_pools() -> None:
    pool = Pool(kind="composition", names=("Fe", "Ni"), values=np.array([[0.5, 0.5]]))
    featurizer = featurizer_for(pool)
    assert isinstance(featurizer, CompositionStatistics)
    assert isinstance(featurizer, Featurizer)
    assert featurizer.symbols == ("Fe", "Ni")
    assert featurizer.transform(pool.values).shape == (1, len(featurizer.names))
