"""Structure featuriser: shapes, known values, invariances, cache keys, real MP data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.core.operations import SymmOp
from pymatgen.core.periodic_table import Element

from matloop.features.composition import CompositionStatistics
from matloop.features.structure import StructureFeaturizer, feature_cache_key

MP_CSV = Path("/work/shared/data/mp_binary_elasticity.csv")
FCC = [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]


def fcc(a: float = 3.61, element: str = "Cu") -> Structure:
    return Structure(Lattice.cubic(a), [element] * 4, FCC)


def bcc(a: float = 3.165) -> Structure:
    return Structure(Lattice.cubic(a), ["W", "W"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def rock_salt() -> Structure:
    anions = [[x + 0.5 if x == 0 else x - 0.5 for x in p] for p in FCC]
    return Structure(Lattice.cubic(5.64), ["Na"] * 4 + ["Cl"] * 4, FCC + anions)


def column(features: np.ndarray, name: str) -> np.ndarray:
    return features[:, StructureFeaturizer().names.index(name)]


def test_shape_names_and_finite() -> None:
    featurizer = StructureFeaturizer()
    features = featurizer.transform([fcc(), bcc(), rock_salt()])
    assert features.shape == (3, len(featurizer.names))
    assert len(set(featurizer.names)) == len(featurizer.names) == 50 + 6 + 8
    assert np.isfinite(features).all()
    assert StructureFeaturizer(symmetry=False).transform([fcc()]).shape == (1, 56)
    assert featurizer.transform([]).shape == (0, 64)


def test_known_values() -> None:
    features = StructureFeaturizer().transform([fcc(), bcc(), rock_salt()])
    assert column(features, "volume_per_atom") == pytest.approx(
        [3.61**3 / 4, 3.165**3 / 2, 5.64**3 / 8])
    assert column(features, "volume_per_atom")[0] == pytest.approx(11.76, abs=0.01)
    assert column(features, "density") == pytest.approx(
        [fcc().density, bcc().density, rock_salt().density], rel=1e-6)
    assert column(features, "density")[0] == pytest.approx(8.97, abs=0.01)
    for stat in ("mean", "min", "max"):
        assert column(features, f"{stat}_coordination").tolist() == [12, 8, 6]
    assert column(features, "spacegroup_number").tolist() == [225, 229, 225]
    assert column(features, "crystal_system_cubic").tolist() == [1, 1, 1]
    assert column(features, "crystal_system_triclinic").tolist() == [0, 0, 0]


def test_touching_hard_spheres_in_fcc_pack_to_0_74() -> None:
    radius = float(Element("Cu").atomic_radius)
    touching = fcc(a=2 * math.sqrt(2) * radius)
    packing = column(StructureFeaturizer().transform([touching]), "packing_fraction")[0]
    assert packing == pytest.approx(math.pi / (3 * math.sqrt(2)), rel=1e-6)  # 0.7405


def test_composition_block_matches_composition_statistics() -> None:
    featurizer = StructureFeaturizer()
    features = featurizer.transform([rock_salt(), fcc()])
    statistics = CompositionStatistics.from_elements(["Cl", "Cu", "Na"])
    expected = statistics.transform(np.array([[0.5, 0, 0.5], [0, 1, 0]]))
    assert np.allclose(features[:, : len(statistics.names)], expected)
    assert featurizer.names[: len(statistics.names)] == statistics.names


def test_permutation_rotation_translation_invariance() -> None:
    original = Structure(Lattice.hexagonal(3.25, 5.21), ["Zn", "Zn", "O", "O"],
                         [[1 / 3, 2 / 3, 0], [2 / 3, 1 / 3, 0.5], [1 / 3, 2 / 3, 0.382],
                          [2 / 3, 1 / 3, 0.882]])  # wurtzite ZnO
    moved = original.copy()
    moved.apply_operation(SymmOp.from_axis_angle_and_translation([0.3, 1, 0.2], 47.0))
    moved.translate_sites(list(range(len(moved))), [0.31, 0.07, 0.6])
    order = np.random.default_rng(0).permutation(len(moved))
    shuffled = Structure(moved.lattice, [moved[i].species for i in order],
                         moved.frac_coords[order])
    features = StructureFeaturizer().transform([original, shuffled])
    assert np.allclose(features[0], features[1])
    assert column(features, "spacegroup_number")[0] == 186
    assert column(features, "crystal_system_hexagonal")[0] == 1


def test_supercell_gives_the_same_features() -> None:
    salt = rock_salt()
    features = StructureFeaturizer().transform([salt, salt.make_supercell([2, 1, 1],
                                                                         in_place=False)])
    assert np.allclose(features[0], features[1])


def test_disordered_structure_and_known_spacegroup() -> None:
    alloy = Structure(Lattice.cubic(3.8), [{"Cu": 0.5, "Au": 0.5}] * 4, FCC)
    features = StructureFeaturizer().transform([alloy])
    assert np.isfinite(features).all()
    assert column(features, "mean_coordination")[0] == 12
    tagged = fcc()
    tagged.properties["spacegroup"] = 1  # a precomputed value is trusted
    assert column(StructureFeaturizer().transform([tagged]), "spacegroup_number")[0] == 1


def test_cache_key() -> None:
    structures = [fcc(), bcc()]
    key = feature_cache_key(structures)
    assert key == feature_cache_key([fcc(), bcc()])
    assert key == StructureFeaturizer().cache_key(structures)
    assert key != feature_cache_key([bcc(), fcc()])
    assert key != feature_cache_key([fcc(3.62), bcc()])
    assert key != feature_cache_key(structures, StructureFeaturizer(cutoff_scale=1.2))
    assert key != feature_cache_key(structures, StructureFeaturizer(symmetry=False))


def test_bad_settings() -> None:
    with pytest.raises(ValueError, match="cutoff_scale"):
        StructureFeaturizer(cutoff_scale=0)
    with pytest.raises(ValueError, match="symprec"):
        StructureFeaturizer(symprec=-1)


@pytest.mark.skipif(not MP_CSV.exists(), reason="shared MP data not available")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # spglib, via SpacegroupAnalyzer
def test_first_200_materials_project_structures(tmp_path: Path) -> None:
    import pandas as pd
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from matloop.spaces.structures import load_structures

    frame = pd.read_csv(MP_CSV, nrows=200, keep_default_na=False, dtype=str)
    frame.to_csv(tmp_path / "mp.csv", index=False)
    structures = load_structures(tmp_path / "mp.csv", id_column="mp_id").structures
    featurizer = StructureFeaturizer()
    features = featurizer.transform(structures)
    assert features.shape == (200, len(featurizer.names))
    assert np.isfinite(features).all()
    assert np.allclose(column(features, "volume_per_atom"),
                       [s.volume / len(s) for s in structures])
    assert np.allclose(column(features, "density"), [s.density for s in structures])
    coordination = column(features, "min_coordination")
    assert (coordination >= 1).all() and (column(features, "max_coordination") <= 24).all()
    for i in range(0, 200, 20):
        expected = SpacegroupAnalyzer(structures[i], symprec=0.01).get_space_group_number()
        assert column(features, "spacegroup_number")[i] == expected
    assert np.allclose(features[:, :50].sum(axis=1) > 0, True)
    one_hot = features[:, -7:]
    assert (one_hot.sum(axis=1) == 1).all()
