"""The ASE oracle on crystal-structure candidates, with real EMT calculations."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure

from matloop.oracles.ase import REFERENCES_FILE, AseOracle
from matloop.oracles.files import safe_name, write_json_atomically
from matloop.oracles.recipes import FINAL_NAME, LOG_NAME
from matloop.protocols import Candidate, Oracle


def fcc(element: str, a: float) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), [element], [[0, 0, 0]]
                                     ).get_primitive_structure()


def candidate(structure: Structure, key: str) -> Candidate:
    return Candidate(key=key, label=key, structure=structure.to_json())


CU = candidate(fcc("Cu", 3.70), "Cu:fcc")
CU3AU = candidate(Structure.from_spacegroup("Pm-3m", Lattice.cubic(3.80), ["Au", "Cu"],
                                            [[0, 0, 0], [0, 0.5, 0.5]]), "Cu3Au")


def oracle(tmp_path: Path, recipe: str = "eos", **settings: object) -> AseOracle:
    return AseOracle(calculator="emt", recipe=recipe, scratch=str(tmp_path),
                     settings={"fmax": 0.02, **settings})


def test_eos_values_units_provenance_and_scratch(tmp_path: Path) -> None:
    o = oracle(tmp_path)
    assert isinstance(o, Oracle)
    assert o.properties == ("energy_per_atom", "volume_per_atom", "bulk_modulus")
    outcome = o.evaluate(CU)
    assert outcome.ok, outcome.error
    assert outcome.units["bulk_modulus"] == "GPa"
    assert 120 < outcome.values["bulk_modulus"] < 150  # EMT Cu: about 134 GPa
    assert outcome.values["volume_per_atom"] == pytest.approx(11.57, abs=0.15)
    p = outcome.provenance
    assert p["calculator"] == "emt" and p["package"] == "ase" and p["version"]
    assert p["recipe"] == "eos" and p["settings"]["fmax"] == 0.02
    assert p["steps"] > 7 and p["wall_time_s"] > 0
    folder = Path(p["scratch"])
    assert folder == tmp_path / safe_name("Cu:fcc") / "attempt-1"
    assert (folder / LOG_NAME).exists() and (folder / FINAL_NAME).exists()
    relaxed = Structure.from_dict(p["final_structure"])
    assert relaxed.volume == pytest.approx(outcome.values["volume_per_atom"], rel=0.02)
    json.dumps(p)  # stored as JSON
    again = o.evaluate(CU)
    assert Path(again.provenance["scratch"]).name == "attempt-2"


def test_elastic_gives_bulk_and_shear_modulus(tmp_path: Path) -> None:
    outcome = oracle(tmp_path, "elastic").evaluate(CU3AU)
    assert outcome.ok, outcome.error
    assert outcome.units == {"energy_per_atom": "eV/atom", "volume_per_atom": "Å^3/atom",
                             "bulk_modulus": "GPa", "shear_modulus": "GPa"}
    assert 100 < outcome.values["bulk_modulus"] < 250
    assert 0 < outcome.values["shear_modulus"] < outcome.values["bulk_modulus"]
    assert outcome.provenance["details"]["mechanically_stable"] is True


def test_recipe_failures_are_typed(tmp_path: Path) -> None:
    outcome = oracle(tmp_path, "relax", max_steps=1).evaluate(CU)
    assert not outcome.ok
    assert outcome.reason == "not_converged"
    assert (Path(outcome.provenance["scratch"]) / LOG_NAME).exists()
    bare = oracle(tmp_path).evaluate(Candidate(key="x", label="x", composition={"Cu": 1.0}))
    assert bare.reason == "invalid"
    broken = oracle(tmp_path).evaluate(Candidate(key="y", label="y", structure="{not json"))
    assert broken.reason == "invalid"
    iron = oracle(tmp_path).evaluate(candidate(fcc("Fe", 3.6), "Fe:fcc"))
    assert iron.reason == "invalid"
    assert "no parameters for Fe" in (iron.error or "") and "Pt" in (iron.error or "")


def test_formation_energy_references_are_cached_per_campaign(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    o = oracle(tmp_path, "formation_energy")
    first = o.evaluate(CU3AU)
    assert first.ok, first.error
    assert -0.3 < first.values["formation_energy_per_atom"] < 0.1
    cache = json.loads((tmp_path / REFERENCES_FILE).read_text())
    assert set(cache[o.references_digest()]) == {"Au", "Cu"}

    import matloop.oracles.recipes as recipes

    def fail(*args: object, **kwargs: object) -> float:
        raise AssertionError("reference computed again")

    monkeypatch.setattr(recipes, "elemental_reference", fail)
    second = o.evaluate(CU3AU)
    assert second.ok, second.error
    assert second.values == pytest.approx(first.values)
    # other settings -> other references (computed, so here: the patched failure)
    other = oracle(tmp_path, "formation_energy", fmax=0.01).evaluate(CU3AU)
    assert other.reason == "error" and "computed again" in (other.error or "")


def test_atomic_json_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "refs.json"
    write_json_atomically(path, {"a": 1})
    write_json_atomically(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["refs.json"]
    assert path.stat().st_mode & 0o777 == 0o644  # shared caches: readable by others
    path.chmod(0o600)
    write_json_atomically(path, {"a": 3})
    assert path.stat().st_mode & 0o777 == 0o600  # a file keeps its permissions


def test_pickles_and_rejects_bad_settings(tmp_path: Path) -> None:
    o = oracle(tmp_path)
    clone = pickle.loads(pickle.dumps(o))
    assert clone == o
    with pytest.raises(ValueError, match="recipe"):
        AseOracle(calculator="emt", recipe="phonons", scratch=str(tmp_path))
    with pytest.raises(ValueError, match="fmax"):
        oracle(tmp_path, fmax=-1.0)


def test_safe_names_are_distinct_and_plain() -> None:
    assert safe_name("Cu3Au") == "Cu3Au"
    a, b = safe_name("L12:Cu=Ni,Au=Al"), safe_name("L12/Cu=Ni,Au=Al")
    assert a != b and "/" not in b and ":" not in a


def test_python_oracle_gets_a_pymatgen_structure(tmp_path: Path) -> None:
    from matloop.oracles.python import PythonOracle

    (tmp_path / "density.py").write_text(
        "def atoms(structure):\n    return {'n_sites': float(len(structure))}\n")
    o = PythonOracle(function="density:atoms", base_dir=tmp_path, properties=("n_sites",))
    outcome = o.evaluate(CU3AU)
    assert outcome.ok, outcome.error
    assert outcome.values["n_sites"] == 4.0


def test_the_example_oracle_honours_the_contract(tmp_path: Path) -> None:
    """As tests/oracles/test_contract.py, on a copy of examples/structures-emt.toml (its
    scratch folder goes beside the campaign file)."""
    import math
    import shutil

    from matloop.campaigns import load
    from matloop.loop.build import build_oracle
    from matloop.loop.evaluate import evaluate
    from matloop.spaces.build import build_pool

    root = Path(__file__).resolve().parents[2] / "examples"
    shutil.copytree(root / "data" / "prototypes", tmp_path / "data" / "prototypes")
    shutil.copy(root / "structures-emt.toml", tmp_path / "structures-emt.toml")
    campaign = load(tmp_path / "structures-emt.toml")
    o = pickle.loads(pickle.dumps(build_oracle(campaign)))
    candidate = build_pool(campaign.space).candidate(0)
    outcome = evaluate(o, candidate, campaign.properties)
    assert outcome.ok, outcome.error
    assert all(math.isfinite(v) for v in outcome.values.values())
    assert outcome.duration_s > 0
    assert evaluate(o, candidate, campaign.properties).values == pytest.approx(outcome.values)
    assert Path(outcome.provenance["scratch"]).is_relative_to(tmp_path / "structures-emt.scratch")
