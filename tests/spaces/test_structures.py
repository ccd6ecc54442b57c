"""Structure candidate spaces: loading each format, bad input, dedup and substitution."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Composition, Lattice, Structure
from pymatgen.core.operations import SymmOp

from matloop.errors import ConfigError
from matloop.features.symmetry import spacegroup_number
from matloop.spaces.structures import StructureSet, load_structures
from matloop.spaces.substitution import PACKING_FRACTION, substitute
from matloop.spaces.symmetry import deduplicate, structure_hash

MP_CSV = Path("/work/shared/data/mp_binary_elasticity.csv")


FCC = [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]


def rock_salt(a: float = 5.64, cation: str = "Na", anion: str = "Cl") -> Structure:
    """Conventional 8-site cell (Structure.from_spacegroup is slow)."""
    anions = [[x + 0.5 if x == 0 else x - 0.5 for x in p] for p in FCC]
    return Structure(Lattice.cubic(a), [cation] * 4 + [anion] * 4, FCC + anions)


def cesium_chloride(a: float = 3.4) -> Structure:
    return Structure(Lattice.cubic(a), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def bcc_w() -> Structure:
    return Structure(Lattice.cubic(3.165), ["W", "W"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def fcc_cu() -> Structure:
    return Structure(Lattice.cubic(3.61), ["Cu"] * 4, FCC)


def rotated_translated(structure: Structure) -> Structure:
    """The same crystal, rotated 30 degrees about (1, 1, 0), shifted and with sites shuffled."""
    copy = structure.copy()
    copy.apply_operation(SymmOp.from_axis_angle_and_translation([1, 1, 0], 30.0))
    copy.translate_sites(list(range(len(copy))), [0.13, 0.21, 0.05])
    order = np.random.default_rng(1).permutation(len(copy))
    return Structure(copy.lattice, [copy[i].species for i in order],
                     copy.frac_coords[order])


def same_composition(a: Structure, b: Structure) -> bool:
    return a.composition.almost_equals(b.composition)


# ----------------------------------------------------------------------------- loading


def test_folder_of_cif_poscar_contcar_vasp(tmp_path: Path) -> None:
    rock_salt().to(filename=str(tmp_path / "nacl.cif"))
    bcc_w().to(filename=str(tmp_path / "POSCAR"), fmt="poscar")
    fcc_cu().to(filename=str(tmp_path / "CONTCAR"), fmt="poscar")
    cesium_chloride().to(filename=str(tmp_path / "cscl.vasp"), fmt="poscar")
    (tmp_path / "notes.txt").write_text("not a structure")
    loaded = load_structures(tmp_path)
    assert isinstance(loaded, StructureSet)
    assert loaded.names == ("CONTCAR", "POSCAR", "cscl", "nacl")
    assert loaded.duplicates_removed == 0
    expected = [fcc_cu(), bcc_w(), cesium_chloride(), rock_salt()]
    for got, want in zip(loaded.structures, expected, strict=True):
        assert same_composition(got, want)
        assert got.volume == pytest.approx(want.volume, rel=1e-6)


def test_single_structure_file(tmp_path: Path) -> None:
    rock_salt().to(filename=str(tmp_path / "salt.cif"))
    loaded = load_structures(tmp_path / "salt.cif")
    assert loaded.names == ("salt",)
    assert len(loaded.structures[0]) == 8


def test_json_list_dict_and_single(tmp_path: Path) -> None:
    structures = [rock_salt(), bcc_w(), fcc_cu()]
    (tmp_path / "list.json").write_text(json.dumps([s.as_dict() for s in structures]))
    (tmp_path / "named.json").write_text(json.dumps(
        {"NaCl": structures[0].as_dict(), "W": structures[1].as_dict()}))
    (tmp_path / "one.json").write_text(json.dumps(structures[2].as_dict()))
    listed = load_structures(tmp_path / "list.json")
    assert listed.names == ("list:0", "list:1", "list:2")
    assert all(same_composition(a, b)
               for a, b in zip(listed.structures, structures, strict=True))
    named = load_structures(tmp_path / "named.json")
    assert named.names == ("NaCl", "W")
    assert named.structures[1] == structures[1]
    assert load_structures(tmp_path / "one.json").names == ("one",)


def test_extxyz_frames(tmp_path: Path) -> None:
    import ase.io
    from pymatgen.io.ase import AseAtomsAdaptor

    structures = [rock_salt(), bcc_w(), fcc_cu()]
    ase.io.write(tmp_path / "frames.extxyz",
                 [AseAtomsAdaptor.get_atoms(s) for s in structures], format="extxyz")
    loaded = load_structures(tmp_path / "frames.extxyz")
    assert loaded.names == ("frames:0", "frames:1", "frames:2")
    for got, want in zip(loaded.structures, structures, strict=True):
        assert same_composition(got, want)
        assert np.allclose(got.lattice.matrix, want.lattice.matrix)


def test_extxyz_frame_without_cell_is_named(tmp_path: Path) -> None:
    import ase
    import ase.io
    from pymatgen.io.ase import AseAtomsAdaptor

    molecule = ase.Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]])
    ase.io.write(tmp_path / "mixed.xyz",
                 [AseAtomsAdaptor.get_atoms(fcc_cu()), molecule], format="extxyz")
    with pytest.raises(ConfigError, match=r"mixed\.xyz, frame 1: not a periodic crystal"):
        load_structures(tmp_path / "mixed.xyz")


def write_csv(path: Path, structures: list[Structure], ids: list[str]) -> None:
    import pandas as pd

    pd.DataFrame({"mp_id": ids, "formula": [s.composition.reduced_formula for s in structures],
                  "structure": [json.dumps(s.as_dict()) for s in structures]}
                 ).to_csv(path, index=False)


def test_csv_with_and_without_id_column(tmp_path: Path) -> None:
    structures = [rock_salt(), bcc_w(), fcc_cu()]
    write_csv(tmp_path / "set.csv", structures, ["mp-1", "mp-2", "mp-3"])
    by_id = load_structures(tmp_path / "set.csv", id_column="mp_id")
    assert by_id.names == ("mp-1", "mp-2", "mp-3")
    assert by_id.structures[2] == structures[2]
    by_row = load_structures(tmp_path / "set.csv")
    assert by_row.names == ("set:0", "set:1", "set:2")


def test_corrupt_cif_names_the_file(tmp_path: Path) -> None:
    rock_salt().to(filename=str(tmp_path / "good.cif"))
    (tmp_path / "broken.cif").write_text("data_broken\n_cell_length_a 5.0\nloop_\n"
                                         "_atom_site_label\nthis is not a cif\n")
    with pytest.raises(ConfigError, match=r"broken\.cif: cannot read a structure"):
        load_structures(tmp_path)


def test_bad_csv_row_names_file_row_and_column(tmp_path: Path) -> None:
    write_csv(tmp_path / "bad.csv", [rock_salt(), bcc_w()], ["a", "b"])
    text = (tmp_path / "bad.csv").read_text().splitlines()
    good_header, first, second = text[0], text[1], text[2]
    broken = second.split(",")[0] + ",W,\"{\"\"lattice\"\": 3}\""
    (tmp_path / "bad.csv").write_text("\n".join([good_header, first, broken]) + "\n")
    with pytest.raises(ConfigError, match=r"bad\.csv, row 3, column 'structure': "
                                          r"not a pymatgen Structure"):
        load_structures(tmp_path / "bad.csv")


def test_csv_missing_column_and_missing_file(tmp_path: Path) -> None:
    write_csv(tmp_path / "set.csv", [rock_salt()], ["a"])
    with pytest.raises(ConfigError, match="column 'cif' not in the CSV"):
        load_structures(tmp_path / "set.csv", structure_column="cif")
    with pytest.raises(ConfigError, match="not found"):
        load_structures(tmp_path / "absent.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no CIF, POSCAR"):
        load_structures(tmp_path / "empty")


def test_load_with_dedupe(tmp_path: Path) -> None:
    structures = [rock_salt(), rotated_translated(rock_salt()), bcc_w()]
    (tmp_path / "set.json").write_text(json.dumps([s.as_dict() for s in structures]))
    loaded = load_structures(tmp_path / "set.json", dedupe="hash")
    assert loaded.names == ("set:0", "set:2")
    assert loaded.duplicates_removed == 1


# ----------------------------------------------------------------------------- dedup


def test_matcher_removes_rotated_translated_and_supercell_copies() -> None:
    structures = [rock_salt(), rotated_translated(rock_salt()), cesium_chloride(),
                  rock_salt().make_supercell([2, 1, 1], in_place=False), bcc_w(),
                  rock_salt(5.0)]  # the matcher scales volumes: a repeat too
    names = ["nacl", "rotated", "cscl", "supercell", "w", "compressed"]
    kept, kept_names, removed = deduplicate(structures, names, method="matcher")
    assert kept_names == ("nacl", "cscl", "w")
    assert removed == 3
    assert kept[0] is structures[0]


def test_hash_removes_copies_and_keeps_polymorphs_and_volumes() -> None:
    structures = [rock_salt(), rock_salt(), rotated_translated(rock_salt()), cesium_chloride(),
                  rock_salt().make_supercell([1, 2, 2], in_place=False),
                  rock_salt().get_primitive_structure(), rock_salt(5.0), fcc_cu(), bcc_w()]
    names = [f"s{i}" for i in range(len(structures))]
    _, kept_names, removed = deduplicate(structures, names, method="hash")
    assert kept_names == ("s0", "s3", "s6", "s7", "s8")
    assert removed == 4


def test_structure_hash_is_invariant_and_discriminating() -> None:
    base = structure_hash(rock_salt())
    assert structure_hash(rotated_translated(rock_salt())) == base
    assert structure_hash(rock_salt().make_supercell(2, in_place=False)) == base
    assert structure_hash(rock_salt(5.5)) != base
    assert structure_hash(rock_salt(cation="K")) != base
    assert structure_hash(cesium_chloride(a=5.64 / 2**(1 / 3))) != base


def test_dedup_rejects_unknown_method() -> None:
    with pytest.raises(ValueError, match="unknown dedup method"):
        deduplicate([rock_salt()], ["a"], method="fuzzy")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- substitution


def labelled_rock_salt() -> Structure:
    s = rock_salt()
    return Structure(s.lattice, s.species, s.frac_coords,
                     labels=["A" if site.specie.symbol == "Na" else "B" for site in s])


def test_substitution_counts_names_and_volumes() -> None:
    out = substitute({"rs": labelled_rock_salt()},
                     {"A": ["Mo", "W", "Re"], "B": ["B", "C", "N"]})
    assert len(out) == 9
    assert out.duplicates_removed == 0
    assert out.names[0] == "rs:A=Mo,B=B"
    formulas = {s.composition.reduced_composition for s in out.structures}
    assert formulas == {Composition(f"{a}{b}") for a in ("Mo", "W", "Re")
                        for b in ("B", "C", "N")}
    from pymatgen.core.periodic_table import Element

    for s in out.structures:
        spheres = sum(4 / 3 * math.pi * float(Element(site.specie.symbol).atomic_radius) ** 3
                      for site in s)
        assert s.volume == pytest.approx(spheres / PACKING_FRACTION, rel=1e-9)
        assert s.properties["spacegroup"] == 225 == spacegroup_number(s)


def test_substitution_removes_symmetric_duplicates_like_the_matcher() -> None:
    subs = {"A": ["Na", "K", "Rb"], "B": ["Na", "K", "Rb"]}  # AB == BA in rock salt
    by_hash = substitute([labelled_rock_salt()], subs, volume="keep")
    assert len(by_hash) + by_hash.duplicates_removed == 9
    assert by_hash.duplicates_removed == 3  # KNa, RbNa, RbK repeat NaK, NaRb, KRb
    everything = substitute([labelled_rock_salt()], subs, volume="keep", dedupe=None)
    assert len(everything) == 9
    _, hash_names, _ = deduplicate(everything.structures, everything.names, "hash")
    _, matcher_names, _ = deduplicate(everything.structures, everything.names, "matcher")
    assert hash_names == matcher_names == by_hash.names
    # the prototype-derived hash equals the hash of the built structure
    assert len({structure_hash(s) for s in by_hash.structures}) == len(by_hash)
    na_na = by_hash.structures[by_hash.names.index("prototype0:A=Na,B=Na")]
    assert na_na.properties["spacegroup"] == 221 and len(na_na) == 8  # simple cubic Na


def test_substitution_by_element_and_placeholder() -> None:
    by_element = substitute([rock_salt()], {"Na": ["K", "Rb"]})
    assert {s.composition.reduced_formula for s in by_element.structures} == {"KCl", "RbCl"}
    placeholder = Structure(Lattice.cubic(4.0), ["X", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    out = substitute({"cscl": placeholder}, {"X": ["Cs", "Tl"]}, volume="keep")
    assert out.names == ("cscl:X=Cs", "cscl:X=Tl")
    assert out.structures[0].volume == pytest.approx(64.0)
    with pytest.raises(ConfigError, match="placeholder species"):
        substitute([placeholder, rock_salt()], {"Na": ["K"]})


def test_substitution_errors() -> None:
    with pytest.raises(ConfigError, match="match no site label or element"):
        substitute([rock_salt()], {"Na": ["K"], "Q": ["Li"]})
    with pytest.raises(ConfigError, match=r"substitutions\.Na: unknown element"):
        substitute([rock_salt()], {"Na": ["K", "Kk"]})
    with pytest.raises(ConfigError, match="non-empty list"):
        substitute([rock_salt()], {"Na": []})


@pytest.mark.filterwarnings("ignore:No Pauling electronegativity")
def test_oxidation_filter_keeps_exactly_the_balanceable() -> None:
    subs = {"A": ["Na", "Mg", "Al", "Mo", "Cu", "Ne"], "B": ["Cl", "O", "N", "C", "Na"]}
    everything = substitute([labelled_rock_salt()], subs, volume="keep", dedupe=None)
    balanced = substitute([labelled_rock_salt()], subs, oxidation_filter=True, volume="keep",
                          dedupe=None)
    expected = [name for name, s in zip(everything.names, everything.structures, strict=True)
                if Composition(s.composition.reduced_formula).oxi_state_guesses()]
    assert list(balanced.names) == expected
    assert 0 < len(expected) < len(everything)
    assert "prototype0:A=Na,B=Cl" in expected and "prototype0:A=Na,B=O" not in expected


def test_oxidation_filter_matches_pymatgen_on_mixed_valence() -> None:
    spinel_like = Structure(Lattice.cubic(5.0), ["X", "X", "X", "O", "O", "O", "O"],
                            [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0.25, 0.25, 0.25],
                             [0.75, 0.75, 0.25], [0.75, 0.25, 0.75], [0.25, 0.75, 0.75]])
    subs = {"X": ["Fe", "Co", "Mn", "Ti", "Na", "Zn", "V"]}
    out = substitute([spinel_like], subs, oxidation_filter=True, volume="keep", dedupe=None)
    kept = {s.composition.reduced_formula for s in out.structures}
    expected = {f"{m}3O4" for m in subs["X"] if Composition(f"{m}3O4").oxi_state_guesses()}
    assert kept == expected
    assert "Fe3O4" in kept and "Na3O4" not in kept


def test_many_candidates_are_generated() -> None:
    metals = ["Li", "Na", "K", "Mg", "Ca", "Sr", "Ti", "Zr", "V", "Nb", "Cr", "Mo", "Mn",
              "Fe", "Co", "Ni", "Cu", "Zn", "Al", "Ga"]
    perovskite = Structure(Lattice.cubic(3.9), ["X", "Z", "O", "O", "O"],
                           [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5],
                            [0, 0.5, 0.5]])
    out = substitute({"perovskite": perovskite}, {"X": metals, "Z": metals})
    assert len(out) + out.duplicates_removed == 400
    assert out.duplicates_removed == 0  # A and B sites are not equivalent
    assert {s.properties["spacegroup"] for s in out.structures} == {221}


@pytest.mark.skipif(not MP_CSV.exists(), reason="shared MP data not available")
def test_first_rows_of_the_mp_file(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.read_csv(MP_CSV, nrows=200, keep_default_na=False, dtype=str)
    frame.to_csv(tmp_path / "mp.csv", index=False)
    loaded = load_structures(tmp_path / "mp.csv", id_column="mp_id")
    assert loaded.names == tuple(frame["mp_id"])
    assert [len(s) for s in loaded.structures] == [int(n) for n in frame["n_sites"]]
    _, _, removed = deduplicate(loaded.structures, loaded.names, "hash")
    assert removed == 0  # distinct Materials Project entries
