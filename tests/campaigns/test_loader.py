"""Loading campaign files: TOML and YAML, relative paths, database URLs, error messages."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from matloop.campaigns import Campaign, load
from matloop.campaigns.schema import SEARCH_SECTIONS, TableSpace
from matloop.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
CSV = ROOT / "examples" / "data" / "liang_crossed_barrel.csv"

TOML = """\
# a crossed-barrel campaign
[campaign]
name = "barrel"
seed = 3

[space]
kind = "table"
path = "data/barrel.csv"
inputs = ["n", "theta", "r", "t"]

[[targets]]
property = "toughness"
unit = "J"
goal = "maximize"

[oracle]
kind = "table"

[executor]
workers = 2

[loop]
initial = 5
batch_size = 2
budget = 30
"""

YAML = """\
# a crossed-barrel campaign
campaign:
  name: barrel
  seed: 3
space:
  kind: table
  path: data/barrel.csv
  inputs: [n, theta, r, t]
targets:
  - property: toughness
    unit: J
    goal: maximize
oracle:
  kind: table
executor:
  workers: 2
loop:
  initial: 5
  batch_size: 2
  budget: 30
"""


def write(folder: Path, name: str, text: str, with_csv: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if with_csv:
        (folder / "data").mkdir(exist_ok=True)
        shutil.copy(CSV, folder / "data" / "barrel.csv")
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, fragment: str) -> int:
    """1-based number of the only line of ``text`` that contains ``fragment``."""
    numbers = [i for i, line in enumerate(text.splitlines(), start=1) if fragment in line]
    assert len(numbers) == 1, f"{fragment!r} is on lines {numbers}"
    return numbers[0]


def replace(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def toml_error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, "bad.toml", text)
    with pytest.raises(ConfigError) as info:
        load(path)
    return str(info.value)


# --- the same campaign in TOML and YAML ----------------------------------------------


def test_toml_and_yaml_give_equal_campaigns(tmp_path: Path) -> None:
    from_toml = load(write(tmp_path, "barrel.toml", TOML))
    from_yaml = load(write(tmp_path, "barrel.yaml", YAML))
    assert isinstance(from_toml, Campaign)
    assert from_toml.source == (tmp_path / "barrel.toml").resolve()
    assert from_yaml.source == (tmp_path / "barrel.yaml").resolve()
    # everything but the file they came from is the same
    assert from_toml.model_copy(update={"source": None}) == \
        from_yaml.model_copy(update={"source": None})
    assert from_toml.model_dump() == from_yaml.model_dump()
    assert from_toml.database_url == from_yaml.database_url
    assert from_toml.campaign.seed == 3
    assert from_toml.loop.budget == 30
    assert from_toml.executor.workers == 2
    assert from_toml.targets[0].goal == "maximize"


def test_yml_suffix_is_yaml(tmp_path: Path) -> None:
    campaign = load(write(tmp_path, "barrel.yml", YAML))
    assert campaign.campaign.name == "barrel"


def test_campaign_is_frozen(tmp_path: Path) -> None:
    campaign = load(write(tmp_path, "barrel.toml", TOML))
    with pytest.raises(ValueError):
        campaign.loop.budget = 99  # type: ignore[misc]


# --- relative paths and the database ---------------------------------------------------


def test_space_path_is_relative_to_the_campaign_folder(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    write(project, "barrel.toml", TOML)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    campaign = load(Path("..") / "project" / "barrel.toml")
    assert isinstance(campaign.space, TableSpace)
    assert campaign.space.path.is_absolute()
    assert campaign.space.path == (project / "data" / "barrel.csv").resolve()
    assert campaign.space.path.is_file()
    assert campaign.base_dir == project.resolve()


def test_absolute_space_path_is_kept(tmp_path: Path) -> None:
    text = replace(TOML, 'path = "data/barrel.csv"', f'path = "{CSV.as_posix()}"')
    campaign = load(write(tmp_path / "c", "barrel.toml", text, with_csv=False))
    assert isinstance(campaign.space, TableSpace)
    assert campaign.space.path == CSV


def test_default_database_is_name_db_beside_the_file(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    path = write(project, "barrel.toml", TOML)
    monkeypatch.chdir(tmp_path)
    campaign = load(path.relative_to(tmp_path))
    assert campaign.database_url == f"sqlite:///{project.resolve() / 'barrel.db'}"
    assert not (project / "barrel.db").exists()


@pytest.mark.parametrize("value", ["other.db", "sqlite:///other.db"])
def test_relative_database_resolves_against_the_file(tmp_path: Path, value: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    text = replace(TOML, "seed = 3", f'seed = 3\ndatabase = "{value}"')
    path = write(project, "barrel.toml", text)
    monkeypatch.chdir(tmp_path)
    campaign = load(path.relative_to(tmp_path))
    assert campaign.database_url == f"sqlite:///{project.resolve() / 'other.db'}"


def test_absolute_and_non_sqlite_databases_are_kept(tmp_path: Path) -> None:
    absolute = (tmp_path / "dbs" / "x.db").resolve()
    text = replace(TOML, "seed = 3", f'seed = 3\ndatabase = "sqlite:///{absolute}"')
    assert load(write(tmp_path, "a.toml", text)).database_url == f"sqlite:///{absolute}"
    url = "postgresql://user@localhost/matloop"
    text = replace(TOML, "seed = 3", f'seed = 3\ndatabase = "{url}"')
    assert load(write(tmp_path, "b.toml", text)).database_url == url


# --- with_overrides ----------------------------------------------------------------------


def test_with_overrides_seed_budget_database(tmp_path: Path) -> None:
    original = load(write(tmp_path, "barrel.toml", TOML))
    changed = original.with_overrides(seed=11, budget=50, database="other.db")
    assert changed.campaign.seed == 11
    assert changed.loop.budget == 50
    assert changed.loop.initial == 5
    assert changed.database_url == f"sqlite:///{tmp_path.resolve() / 'other.db'}"
    assert changed.source == original.source
    assert changed.space == original.space
    search = set(SEARCH_SECTIONS)
    assert changed.model_dump(include=search) == original.model_dump(include=search)
    # the original is untouched
    assert original.campaign.seed == 3
    assert original.loop.budget == 30
    assert original.database_url == f"sqlite:///{tmp_path.resolve() / 'barrel.db'}"


def test_with_overrides_none_changes_nothing(tmp_path: Path) -> None:
    original = load(write(tmp_path, "barrel.toml", TOML))
    assert original.with_overrides(seed=None, budget=None, database=None) == original
    assert original.with_overrides(seed=0).campaign.seed == 0  # 0 is a value, not "unset"


def test_with_overrides_budget_below_initial_shrinks_initial(tmp_path: Path) -> None:
    changed = load(write(tmp_path, "barrel.toml", TOML)).with_overrides(budget=3)
    assert changed.loop.budget == 3
    assert changed.loop.initial == 3


def test_with_overrides_rejects_budget_below_one(tmp_path: Path) -> None:
    campaign = load(write(tmp_path, "barrel.toml", TOML))
    with pytest.raises(ValueError, match="budget"):
        campaign.with_overrides(budget=0)


# --- errors: TOML --------------------------------------------------------------------------


def test_unknown_key_names_key_path_and_line(tmp_path: Path) -> None:
    text = replace(TOML, "budget = 30", "budgett = 5")
    message = toml_error(tmp_path, text)
    assert "loop.budgett" in message
    assert f"bad.toml:{line_of(text, 'budgett')}:" in message
    assert "unknown key" in message


def test_unknown_section_names_its_line(tmp_path: Path) -> None:
    text = TOML + "\n[looop]\nbudget = 3\n"
    message = toml_error(tmp_path, text)
    assert "looop" in message
    assert f"bad.toml:{line_of(text, '[looop]')}:" in message


def test_wrong_type_names_key_path_and_line(tmp_path: Path) -> None:
    text = replace(TOML, "budget = 30", 'budget = "many"')
    message = toml_error(tmp_path, text)
    assert "loop.budget" in message
    assert f"bad.toml:{line_of(text, 'budget = ')}:" in message
    assert "integer" in message


def test_unknown_goal_lists_allowed_values(tmp_path: Path) -> None:
    text = replace(TOML, 'goal = "maximize"', 'goal = "maximise"')
    message = toml_error(tmp_path, text)
    assert "targets.0.goal" in message
    assert f"bad.toml:{line_of(text, 'goal =')}:" in message
    assert "'maximize'" in message
    assert "'minimize'" in message


def test_goal_error_in_second_target_table_points_at_that_table(tmp_path: Path) -> None:
    text = TOML + '\n[[targets]]\nproperty = "other"\ngoal = "biggest"\n'
    message = toml_error(tmp_path, text)
    assert "targets.1.goal" in message
    assert f"bad.toml:{line_of(text, 'biggest')}:" in message


def test_budget_smaller_than_initial(tmp_path: Path) -> None:
    text = replace(TOML, "budget = 30", "budget = 3")
    message = toml_error(tmp_path, text)
    assert re.search(rf"bad\.toml:{line_of(text, '[loop]')}: loop: ", message), message
    assert "budget (3)" in message
    assert "initial design (5)" in message


def test_unknown_space_kind(tmp_path: Path) -> None:
    text = replace(TOML, 'kind = "table"\npath', 'kind = "nonsense"\npath')
    message = toml_error(tmp_path, text)
    assert "space" in message
    assert "nonsense" in message
    assert "'table'" in message and "'compositions'" in message
    assert f"bad.toml:{line_of(text, 'nonsense')}:" in message


def test_toml_syntax_error_gives_line(tmp_path: Path) -> None:
    text = replace(TOML, 'name = "barrel"', 'name = "barrel')
    message = toml_error(tmp_path, text)
    assert f"bad.toml:{line_of(text, 'name = ')}:" in message
    assert "not valid TOML" in message


def test_several_problems_are_all_reported(tmp_path: Path) -> None:
    text = replace(replace(TOML, "budget = 30", "budgett = 5"), "workers = 2", "workers = 0")
    message = toml_error(tmp_path, text)
    assert "loop.budgett" in message
    assert "executor.workers" in message
    assert f":{line_of(text, 'workers')}:" in message


def test_missing_section_is_named(tmp_path: Path) -> None:
    text = replace(TOML, '[oracle]\nkind = "table"\n', "")
    message = toml_error(tmp_path, text)
    assert "oracle" in message
    assert "required" in message.lower()


# --- errors: YAML and files ------------------------------------------------------------


def test_yaml_unknown_key_names_key_path_and_line(tmp_path: Path) -> None:
    text = replace(YAML, "  budget: 30", "  budgett: 30")
    path = write(tmp_path, "bad.yaml", text)
    with pytest.raises(ConfigError) as info:
        load(path)
    message = str(info.value)
    assert "loop.budgett" in message
    assert f"bad.yaml:{line_of(text, 'budgett')}:" in message


def test_yaml_wrong_goal_names_line(tmp_path: Path) -> None:
    text = replace(YAML, "goal: maximize", "goal: maximise")
    path = write(tmp_path, "bad.yaml", text)
    with pytest.raises(ConfigError) as info:
        load(path)
    message = str(info.value)
    assert "targets.0.goal" in message
    assert f"bad.yaml:{line_of(text, 'maximise')}:" in message


def test_yaml_syntax_error_gives_line(tmp_path: Path) -> None:
    text = replace(YAML, "  inputs: [n, theta, r, t]", "  inputs: [n, theta, r, t")
    path = write(tmp_path, "bad.yaml", text)
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+: not valid YAML"):
        load(path)


def test_yaml_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "list.yaml", "- a\n- b\n", with_csv=False)
    with pytest.raises(ConfigError, match="table of sections"):
        load(path)


def test_missing_file_and_wrong_suffix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such campaign file"):
        load(tmp_path / "absent.toml")
    path = write(tmp_path, "barrel.json", TOML, with_csv=False)
    with pytest.raises(ConfigError, match=r"\.toml, \.yaml or \.yml"):
        load(path)
