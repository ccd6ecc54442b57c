"""Structure and substitution spaces in campaign files: schema, pools, feature cache."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from matloop.campaigns import load
from matloop.campaigns.schema import StructureSpace, SubstitutionSpace
from matloop.errors import ConfigError
from matloop.features.structure import StructureFeaturizer
from matloop.loop.build import build_oracle
from matloop.spaces.build import FEATURES_FILE, build_pool

ROOT = Path(__file__).resolve().parents[2]
PROTOTYPES = ROOT / "examples" / "data" / "prototypes"

CAMPAIGN = """\
[campaign]
name = "st"

[space]
kind = "structures"
path = "structures"

[[targets]]
property = "bulk_modulus"
unit = "GPa"
goal = "maximize"

[oracle]
kind = "ase"
recipe = "eos"

[loop]
initial = 2
budget = 3
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "campaign.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


@pytest.mark.parametrize(("old", "new", "field"), [
    ('path = "structures"', 'path = "structures"\ndedupe = "fuzzy"', "space.dedupe"),
    ('recipe = "eos"', 'recipe = "phonons"', "oracle.recipe"),
    ('recipe = "eos"', 'calculator = "not a calculator"', "oracle.calculator"),
    ('recipe = "eos"', 'recipe = "eos"\nelastic_strains = [0.5]', "oracle.elastic_strains"),
    ('recipe = "eos"', 'recipe = "eos"\noptimizer = "LBFGS"', "oracle.optimizer"),
])
def test_schema_errors_name_the_field(tmp_path: Path, old: str, new: str, field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        load(write(tmp_path, edit(CAMPAIGN, old, new)))


def test_compositions_space_takes_any_calculator_and_recipe(tmp_path: Path) -> None:
    text = edit(CAMPAIGN, 'kind = "structures"\npath = "structures"',
                'kind = "compositions"\nelements = ["Cu", "Ni"]\nstep = 0.5')
    load(write(tmp_path, text))  # the fcc-alloy oracle: fine
    for setting in ('calculator = "chgnet"', 'recipe = "elastic"', 'optimizer = "FIRE"'):
        assert load(write(tmp_path, edit(text, 'recipe = "eos"', setting))).oracle.kind \
            == "ase"  # decorated supercells go through the structure recipes
    with pytest.raises(ConfigError, match=r"oracle\.supercell"):
        load(write(tmp_path, edit(CAMPAIGN, 'recipe = "eos"', 'supercell = 2')))


def test_targets_must_fit_the_recipe(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="shear_modulus"):
        build_oracle(load(write(tmp_path, edit(CAMPAIGN, '"bulk_modulus"',
                                               '"shear_modulus"'))))
    with pytest.raises(ConfigError, match=r"targets\.0\.unit"):
        build_oracle(load(write(tmp_path, edit(CAMPAIGN, 'unit = "GPa"', 'unit = "eV/atom"'))))
    with pytest.raises(ConfigError, match=r"oracle\.calculator.*'nosuchpackage'"):
        build_oracle(load(write(tmp_path, edit(CAMPAIGN, 'recipe = "eos"',
                                               'calculator = "nosuchpackage.calc:Calc"'))))


def test_missing_structures_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"space\.path"):
        build_pool(load(write(tmp_path, CAMPAIGN)).space)


def test_structures_pool_from_cifs_removes_the_duplicate(fcc_cifs: Callable[..., Path]
                                                         ) -> None:
    folder = fcc_cifs(("Cu", "Ni"))
    pool = build_pool(StructureSpace(kind="structures", path=folder))
    assert pool.kind == "structures"
    assert len(pool) == 3 and pool.duplicates_removed == 1
    assert set(pool.ids or ()) == {"Cu", "Ni", "Cu3Au"}
    assert pool.values.shape == (3, len(StructureFeaturizer().names))
    index = (pool.ids or ()).index("Cu3Au")
    candidate = pool.candidate(index)
    assert candidate.key == "Cu3Au"
    assert "Cu3Au" in candidate.label
    assert candidate.structure is not None and candidate.composition is None
    from pymatgen.core import Structure

    assert Structure.from_dict(json.loads(candidate.structure)).composition.reduced_formula \
        == "Cu3Au"
    everything = build_pool(StructureSpace(kind="structures", path=folder, dedupe="none"))
    assert len(everything) == 4 and everything.duplicates_removed == 0


def test_substitution_pool_over_the_example_prototypes() -> None:
    space = SubstitutionSpace(
        kind="substitution", prototypes=[PROTOTYPES / "fcc.cif", PROTOTYPES / "L12.cif"],
        substitutions={"Cu": ["Al", "Cu", "Ni"], "Au": ["Al", "Cu", "Ni"]})
    pool = build_pool(space)
    # fcc: 3 elements; L1_2: 3 x 3 minus the 3 with A = B (the same as fcc)
    assert len(pool) == 3 + 6
    assert pool.duplicates_removed == 3
    keys = [pool.key(i) for i in range(len(pool))]
    assert len(set(keys)) == len(keys)
    assert "L12:Cu=Ni,Au=Al" in keys
    assert pool.candidate(keys.index("L12:Cu=Ni,Au=Al")).label.startswith("AlNi3")


def test_substitution_errors_name_the_field(tmp_path: Path) -> None:
    space = SubstitutionSpace(kind="substitution", prototypes=[PROTOTYPES / "fcc.cif"],
                              substitutions={"Zn": ["Cu"]})
    with pytest.raises(ConfigError, match=r"space\.substitutions"):
        build_pool(space)
    space = SubstitutionSpace(kind="substitution", prototypes=[tmp_path / "absent.cif"],
                              substitutions={"Cu": ["Ni"]})
    with pytest.raises(ConfigError, match=r"space\.prototypes"):
        build_pool(space)


def test_features_are_cached_and_reused(fcc_cifs: Callable[..., Path], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    space = StructureSpace(kind="structures", path=fcc_cifs(("Cu", "Ni")))
    cache = tmp_path / "cache"
    first = build_pool(space, cache)
    assert (cache / FEATURES_FILE).exists()

    def fail(self: object, structures: object) -> None:
        raise AssertionError("features computed again")

    monkeypatch.setattr(StructureFeaturizer, "transform", fail)
    again = build_pool(space, cache)
    assert (again.values == first.values).all()
    other = StructureSpace(kind="structures", path=space.path, dedupe="none")
    with pytest.raises(AssertionError, match="computed again"):  # other structures: new key
        build_pool(other, cache)


@pytest.mark.slow
def test_validate_reports_duplicates_removed(tmp_path: Path, fcc_cifs: Callable[..., Path]
                                             ) -> None:
    from typer.testing import CliRunner

    from matloop.cli.main import app

    fcc_cifs(("Cu", "Ni"))
    path = write(tmp_path, CAMPAIGN)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "3 candidates (structures; 1 duplicate removed)" in result.output


def test_lab_oracle_works_on_structure_spaces(tmp_path: Path) -> None:
    text = CAMPAIGN[:CAMPAIGN.index("[oracle]")] + '[oracle]\nkind = "lab"\n'
    assert load(write(tmp_path, text)).oracle.kind == "lab"  # tests/lab/test_structure_lab.py


def test_substitution_campaign_resolves_one_prototype_path(tmp_path: Path) -> None:
    import shutil

    (tmp_path / "data").mkdir()
    shutil.copy(PROTOTYPES / "L12.cif", tmp_path / "data" / "L12.cif")
    text = edit(CAMPAIGN, 'kind = "structures"\npath = "structures"',
                'kind = "substitution"\nprototypes = "data/L12.cif"\n'
                'substitutions = { Cu = ["Ni", "Pt"], Au = ["Al"] }')
    campaign = load(write(tmp_path, text))
    assert isinstance(campaign.space, SubstitutionSpace)
    assert campaign.space.prototypes == [tmp_path / "data" / "L12.cif"]
    pool = build_pool(campaign.space, campaign.scratch_dir)
    assert sorted(pool.key(i) for i in range(len(pool))) == ["L12:Cu=Ni,Au=Al",
                                                             "L12:Cu=Pt,Au=Al"]
    assert (tmp_path / "st.scratch" / FEATURES_FILE).exists()
    with pytest.raises(ConfigError, match=r"space\.substitutions"):
        load(write(tmp_path, text.replace('Au = ["Al"]', "Au = []")))


def test_a_default_ase_section_dumps_as_before_structures() -> None:
    """Campaigns stored before structure recipes compare their oracle section on resume."""
    from matloop.campaigns.schema import AseOracle

    dumped = AseOracle(kind="ase").model_dump(mode="json")
    assert set(dumped) == {"kind", "calculator", "recipe", "supercell", "relax", "fmax",
                           "max_steps", "strain", "points", "timeout_s", "retries",
                           "retry_on"}
    changed = AseOracle(kind="ase", optimizer="FIRE", elastic_strains=[0.01])
    assert changed.model_dump(mode="json")["optimizer"] == "FIRE"
    assert AseOracle.model_validate(changed.model_dump(mode="json")) == changed
