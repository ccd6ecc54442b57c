"""Energy above the convex hull (``oracles.hull``) with real EMT calculations: the hull of
the elements and a reference table at the oracle's level of theory, cached once per
level and never mixed across levels."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
from pymatgen.core import Composition, Lattice, Structure

from matloop.errors import ConfigError
from matloop.oracles.ase import REFERENCES_FILE, AseOracle
from matloop.oracles.hull import CACHE_FILE, HULL, read_references
from matloop.protocols import Candidate

L12_CU3AU = Structure.from_spacegroup("Pm-3m", Lattice.cubic(3.80), ["Au", "Cu"],
                                      [[0, 0, 0], [0, 0.5, 0.5]])
L10_CUAU = Structure(Lattice.tetragonal(2.80, 3.75), ["Cu", "Au"],
                     [[0, 0, 0], [0.5, 0.5, 0.5]])
B2_CUAU = Structure(Lattice.cubic(3.10), ["Cu", "Au"], [[0, 0, 0], [0.5, 0.5, 0.5]])
NI3AL = Structure.from_spacegroup("Pm-3m", Lattice.cubic(3.60), ["Al", "Ni"],
                                  [[0, 0, 0], [0, 0.5, 0.5]])


def table(path: Path, structures: dict[str, Structure]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["mp_id", "formula", "structure"])
        for name, s in structures.items():
            writer.writerow([name, s.composition.reduced_formula, s.to_json()])
    return path


def oracle(tmp_path: Path, references: Path, cache: Path, recipe: str = "relax",
           **settings: object) -> AseOracle:
    return AseOracle(calculator="emt", recipe=recipe, scratch=str(tmp_path / "scratch"),
                     settings={"fmax": 0.02, **settings}, hull=(str(references),),
                     hull_cache=str(cache))


def candidate(structure: Structure, key: str) -> Candidate:
    return Candidate(key=key, label=key, structure=structure.to_json())


@pytest.fixture
def references(tmp_path: Path) -> Path:
    return table(tmp_path / "refs.csv", {"ref-L12": L12_CU3AU, "ref-L10": L10_CUAU,
                                         "ref-Ni3Al": NI3AL})


def test_the_hull_is_the_elements_and_the_tables_references_at_one_level(
        tmp_path: Path, references: Path) -> None:
    o = oracle(tmp_path, references, tmp_path / "cache")
    assert o.units[HULL] == "eV/atom" and "formation_energy_per_atom" in o.units
    on_hull = o.evaluate(candidate(L12_CU3AU, "L12"))
    above = o.evaluate(candidate(B2_CUAU, "B2"))
    assert on_hull.ok and above.ok, (on_hull.error, above.error)
    # the candidate is a reference: on the hull (its own relaxation gives its energy)
    assert abs(on_hull.values[HULL]) < 1e-4
    assert on_hull.values["formation_energy_per_atom"] < -0.01  # EMT orders Cu3Au
    # recompute B2's distance by hand from the cached energies
    cached = json.loads((tmp_path / "cache" / CACHE_FILE).read_text())
    (level,) = cached.values()
    by_id = {e["id"]: e for e in level["entries"].values()}
    assert set(by_id) == {"ref-L12", "ref-L10"}  # Ni3Al is another system
    elements = json.loads((tmp_path / "scratch" / REFERENCES_FILE).read_text())
    (elemental,) = [v for k, v in elements.items() if k != "settings"]
    entries = [PDEntry(Composition(el), e) for el, e in elemental.items()]
    entries += [PDEntry(Composition(f), by_id[ref]["energy_per_atom"] * n)
                for ref, f, n in (("ref-L12", "Cu3Au", 4), ("ref-L10", "CuAu", 2))]
    b2 = PDEntry(Composition("CuAu"), above.values["energy_per_atom"] * 2)
    expected = PhaseDiagram(entries).get_e_above_hull(b2)
    assert above.values[HULL] == pytest.approx(expected, abs=1e-9)
    assert above.values[HULL] > 0
    hull = above.provenance["hull"]
    assert sum(hull["decomposition"].values()) == pytest.approx(1.0)
    assert set(hull["decomposition"]) <= {"Cu", "Au", "ref-L12", "ref-L10"}


def test_references_are_computed_once_per_level_and_levels_never_mix(
        tmp_path: Path, references: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import matloop.oracles.recipes as recipes

    relaxed: list[str] = []
    original = recipes.relaxed_energy

    def counted(atoms, *args, **kwargs):  # type: ignore[no-untyped-def]
        relaxed.append(atoms.get_chemical_formula())
        return original(atoms, *args, **kwargs)

    monkeypatch.setattr(recipes, "relaxed_energy", counted)
    cache = tmp_path / "shared"
    first = oracle(tmp_path / "a", references, cache).evaluate(candidate(B2_CUAU, "B2"))
    n = len(relaxed)
    assert n >= 2  # two references (and the elements)
    # a second campaign (another scratch folder) at the same level: nothing computed
    again = oracle(tmp_path / "b", references, cache).evaluate(candidate(B2_CUAU, "B2"))
    assert len(relaxed) == n + 2  # only its own elemental references (another scratch)
    assert again.values[HULL] == pytest.approx(first.values[HULL], abs=1e-9)
    # another level of theory (other settings): its own references, its own hull
    other = oracle(tmp_path / "a", references, cache, fmax=0.01).evaluate(
        candidate(B2_CUAU, "B2"))
    assert other.ok and len(relaxed) > n + 2
    levels = json.loads((cache / CACHE_FILE).read_text())
    assert len(levels) == 2  # each with its calculator, model version and settings
    assert sorted(v["level"]["settings"]["fmax"] for v in levels.values()) == [0.01, 0.02]
    assert other.provenance["hull"]["level"] != first.provenance["hull"]["level"]


def test_a_table_that_changes_relaxes_only_what_is_new(
        tmp_path: Path, references: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cache knows structures, not tables: a row added to the table, or a structure
    changed under the same id, is relaxed; the rows already known are not."""
    import matloop.oracles.recipes as recipes

    relaxed: list[str] = []
    original = recipes.relaxed_energy

    def counted(atoms, *args, **kwargs):  # type: ignore[no-untyped-def]
        relaxed.append(atoms.get_chemical_formula())
        return original(atoms, *args, **kwargs)

    cache = tmp_path / "cache"
    from matloop.oracles.hull import reference_compounds

    reference_compounds(oracle(tmp_path, references, cache))
    monkeypatch.setattr(recipes, "relaxed_energy", counted)
    grown = table(tmp_path / "grown.csv", {"ref-L12": L12_CU3AU, "ref-L10": L10_CUAU,
                                           "ref-Ni3Al": NI3AL, "ref-B2": B2_CUAU})
    found, _ = reference_compounds(oracle(tmp_path, grown, cache))
    assert relaxed == ["AuCu"] and set(found) == {"ref-L12", "ref-L10", "ref-Ni3Al", "ref-B2"}
    moved = L10_CUAU.copy()
    moved.scale_lattice(L10_CUAU.volume * 1.05)
    changed = table(tmp_path / "changed.csv", {"ref-L10": moved})
    reference_compounds(oracle(tmp_path, changed, cache))
    assert relaxed == ["AuCu", "AuCu"]  # the same id with another structure


def test_a_reference_that_fails_is_recorded_and_left_off_the_hull(
        tmp_path: Path) -> None:
    squeezed = Structure(Lattice.cubic(1.2), ["Cu", "Au"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    refs = table(tmp_path / "refs.csv", {"ref-L12": L12_CU3AU, "ref-bad": squeezed})
    o = oracle(tmp_path, refs, tmp_path / "cache", max_volume_change=0.2)
    out = o.evaluate(candidate(B2_CUAU, "B2"))
    assert out.ok, out.error
    (level,) = json.loads((tmp_path / "cache" / CACHE_FILE).read_text()).values()
    (bad,) = [e for e in level["entries"].values() if e["id"] == "ref-bad"]
    assert "error" in bad
    assert "ref-bad" not in out.provenance["hull"]["decomposition"]


def test_a_bad_reference_table_names_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "refs.csv"
    path.write_text('mp_id,structure\nmp-1,"{""not"": 1}"\n')
    with pytest.raises(ConfigError, match=r"oracle.hull: .*refs.csv, row 2, column "
                                          r"'structure': not a pymatgen structure"):
        read_references(path)
    path.write_text("mp_id,formula\nmp-1,Cu\n")
    with pytest.raises(ConfigError, match="needs a 'structure' column"):
        read_references(path)
    one = table(tmp_path / "one.csv", {"ref-L12": L12_CU3AU})
    with pytest.raises(ConfigError, match="'ref-L12' is named twice"):
        read_references(one, one)


CAMPAIGN = '''[campaign]
name = "stable"

[space]
kind = "structures"
path = "candidates.csv"
id = "mp_id"

[[targets]]
property = "e_above_hull"
below = 0.05
unit = "eV/atom"

[oracle]
kind = "ase"
calculator = "emt"
recipe = "relax"
hull = "refs.csv"
hull_cache = "hull-cache"

[loop]
initial = 2
budget = 4
'''


def test_a_campaign_targets_stability_and_resumes_without_recomputing(
        tmp_path: Path, references: Path) -> None:
    import matloop

    table(tmp_path / "candidates.csv", {
        "L12": L12_CU3AU, "B2": B2_CUAU, "L10": L10_CUAU,
        "Cu3Au-B2-like": Structure(Lattice.cubic(4.2), ["Cu", "Cu", "Cu", "Au"],
                                   [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5],
                                    [0.5, 0.5, 0.5]])})
    path = tmp_path / "stable.toml"
    path.write_text(CAMPAIGN)
    with matloop.Campaign.from_file(path).session() as session:
        session.run(budget=3)
    cache = tmp_path / "hull-cache" / CACHE_FILE
    stamp = cache.stat().st_mtime_ns
    with matloop.Campaign.from_file(path).session() as session:
        session.run()
        rows = session.evaluations()
        status = session.status()
    assert cache.stat().st_mtime_ns == stamp  # every reference was already there
    assert len(rows) == 4 and (rows["status"] == "succeeded").all()
    column = next(c for c in rows.columns if c.startswith(HULL))
    hits = (rows[column].astype(float) <= 0.05).sum()
    assert status["hits"] == hits >= 2  # L12 and L10 are references on the hull


def test_an_element_ase_cannot_build_comes_from_the_table(tmp_path: Path) -> None:
    """ASE has no bulk N; a nitride's hull needs pure N in the table (here N2 in a box;
    EMT would collapse the nitride if relaxed: a single point is enough here)."""
    nitride = Structure(Lattice.cubic(3.9), ["Cu", "N"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    n2 = Structure(Lattice.cubic(8.0), ["N", "N"], [[0, 0, 0], [0.1375, 0, 0]])
    without = table(tmp_path / "without.csv", {"ref-L12": L12_CU3AU})
    missing = oracle(tmp_path, without, tmp_path / "cache", "energy").evaluate(
        candidate(nitride, "CuN"))
    assert missing.reason == "invalid" and "no hull reference for N" in (missing.error or "")
    with_n = table(tmp_path / "with.csv", {"ref-N2": n2})
    found = oracle(tmp_path, with_n, tmp_path / "cache", "energy").evaluate(
        candidate(nitride, "CuN"))
    assert found.ok, found.error
    assert "ref-N2" in found.provenance["hull"]["references_on_hull"]


KILLED = '''
import sys
from pathlib import Path

from matloop.oracles.ase import AseOracle
from matloop.oracles.hull import reference_compounds

oracle = AseOracle(calculator="emt", recipe="relax", scratch=sys.argv[1],
                   settings={"fmax": 0.001, "max_steps": 400}, hull=(sys.argv[2],),
                   hull_cache=sys.argv[3])
reference_compounds(oracle)
'''


def test_a_killed_reference_run_keeps_what_it_finished(tmp_path: Path) -> None:
    """SIGKILL while references are relaxed: the cache file is whole, keeps the finished
    references, and the next run adds the rest without redoing them."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from matloop.oracles.hull import reference_compounds

    rows = {f"ref-{i}": Structure(Lattice.cubic(3.1 + 0.02 * i), ["Cu", "Au"],
                                  [[0, 0, 0], [0.5, 0.5, 0.5]]) for i in range(40)}
    refs = table(tmp_path / "refs.csv", rows)
    cache = tmp_path / "cache" / CACHE_FILE
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    process = subprocess.Popen([sys.executable, str(script), str(tmp_path / "scratch"),
                                str(refs), str(tmp_path / "cache")])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if cache.exists() and len(next(iter(json.loads(cache.read_text() or "{}")
                                            .values()), {}).get("entries", {})) >= 3:
            break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    (level,) = json.loads(cache.read_text()).values()  # whole, never half-written
    kept = dict(level["entries"])
    assert 3 <= len(kept) < 40, "the run ended before it could be killed mid-way"
    oracle = AseOracle(calculator="emt", recipe="relax", scratch=str(tmp_path / "scratch"),
                       settings={"fmax": 0.001, "max_steps": 400}, hull=(str(refs),),
                       hull_cache=str(tmp_path / "cache"))
    found, _ = reference_compounds(oracle)
    (level,) = json.loads(cache.read_text()).values()
    assert len(level["entries"]) == 40
    assert len(found) == sum("energy_per_atom" in e for e in level["entries"].values())
    assert all(level["entries"][k] == v for k, v in kept.items())  # not redone
