"""The real ``matloop`` command on bad campaign files: one line, no traceback, no database."""

from __future__ import annotations

import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "crossed-barrel.toml"
CSV = ROOT / "examples" / "data" / "liang_crossed_barrel.csv"
CLI = [sys.executable, "-m", "matloop.cli.main"]

TABLE = """\
[campaign]
name = "barrel"

[space]
kind = "table"
path = "data/barrel.csv"
inputs = ["n", "theta", "r", "t"]

[[targets]]
property = "toughness"
goal = "maximize"

[oracle]
kind = "table"

[loop]
initial = 5
budget = 20
"""

ALLOYS = """\
[campaign]
name = "alloys"

[space]
kind = "compositions"
elements = {elements}
step = 0.5
min_elements = {minimum}
max_elements = {maximum}

[[targets]]
property = "bulk_modulus"
goal = "maximize"

[oracle]
kind = "ase"
supercell = 1

[loop]
initial = 2
budget = 4
"""


def edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


# name -> (campaign file text, what the error line must mention)
BAD = {
    "unknown-key": (edit(TABLE, "budget = 20", "budgett = 20"), "loop.budgett"),
    "wrong-type": (edit(TABLE, "budget = 20", 'budget = "many"'), "loop.budget"),
    "missing-csv": (edit(TABLE, "data/barrel.csv", "data/absent.csv"), "absent.csv"),
    "unknown-element": (ALLOYS.format(elements='["Cu", "Qq"]', minimum=1, maximum=2), "'Qq'"),
    "empty-space": (ALLOYS.format(elements='["Cu", "Ni"]', minimum=3, maximum=3), "empty"),
    "budget-below-initial": (edit(TABLE, "budget = 20", "budget = 3"),
                             "smaller than the initial design"),
    "column-not-in-csv": (edit(TABLE, 'inputs = ["n",', 'inputs = ["nope", "n",'),
                          "campaign.toml:7: space.inputs: column(s) ['nope'] not in the CSV"),
    "csv-missing-line": (edit(TABLE, "data/barrel.csv", "data/absent.csv"),
                         "campaign.toml:6: space.path"),
    "emt-cannot-compute": (ALLOYS.format(elements='["Cu", "Fe"]', minimum=1, maximum=2),
                           "campaign.toml:6: space.elements: the EMT calculator has no "
                           "parameters for Fe"),
    "negative-seed": (edit(TABLE, 'name = "barrel"', 'name = "barrel"\nseed = -1'),
                      "campaign.seed"),
    "huge-seed": (edit(TABLE, 'name = "barrel"', f'name = "barrel"\nseed = {2**63 - 1}'),
                  "campaign.seed"),
    "in-memory-database": (edit(TABLE, 'name = "barrel"',
                                'name = "barrel"\ndatabase = "sqlite:///:memory:"'),
                           "in memory and would keep nothing"),
    "nested-600-deep": (edit(TABLE, 'name = "barrel"',
                             'name = "barrel"\nnote = ' + "[" * 600 + "]" * 600),
                        "nested too deeply"),
    "not-utf8": (edit(TABLE, 'name = "barrel"', 'name = "barrel"\ndescription = "caf\xe9"'
                      ).encode("latin-1"), "campaign.toml:3: not UTF-8"),
}
COMMANDS = ("validate", "run")


@dataclass(frozen=True)
class Result:
    folder: Path
    returncode: int
    stdout: str
    stderr: str


def write_campaign(folder: Path, text: str | bytes) -> Path:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    shutil.copy(CSV, folder / "data" / "barrel.csv")
    path = folder / "campaign.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def run_cli(args: list[str], cwd: Path) -> Result:
    completed = subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True,
                               timeout=120, check=False)
    return Result(cwd, completed.returncode, completed.stdout, completed.stderr)


def databases(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.db*"))


@pytest.fixture(scope="module")
def bad_results(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Result]:
    """Every bad file under every command, run concurrently (each in its own folder)."""
    jobs: dict[tuple[str, str], tuple[list[str], Path]] = {}
    for case, (text, _) in BAD.items():
        for command in COMMANDS:
            folder = tmp_path_factory.mktemp(f"{case}-{command}")
            path = write_campaign(folder, text)
            jobs[case, command] = ([command, str(path)], folder)
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = {key: pool.submit(run_cli, args, cwd) for key, (args, cwd) in jobs.items()}
        return {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", list(BAD))
def test_bad_campaign_gives_one_error_line(bad_results: dict[tuple[str, str], Result],
                                           case: str, command: str) -> None:
    result = bad_results[case, command]
    assert result.returncode == 2, result  # ConfigError.exit_code
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert BAD[case][1] in lines[0], result.stderr
    assert databases(result.folder) == []


def test_good_example_validates_without_a_database(tmp_path: Path) -> None:
    before = databases(EXAMPLE.parent)
    result = run_cli(["validate", str(EXAMPLE)], cwd=tmp_path)
    assert result.returncode == 0, result
    assert "600 candidates" in result.stdout
    assert "ok" in result.stdout
    assert str(EXAMPLE.parent / "crossed-barrel.db") in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert databases(EXAMPLE.parent) == before
    assert databases(tmp_path) == []


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, BAD["unknown-key"][0])
    result = run_cli(["--debug", "validate", str(path)], cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" in result.stderr
    assert "ConfigError" in result.stderr
    assert "loop.budgett" in result.stderr
    assert databases(tmp_path) == []
