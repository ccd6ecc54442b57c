"""Importing matloop and its CLI, ``--help`` and a failing ``status`` stay light: no torch,
BoTorch, GPyTorch, ASE, pymatgen or scikit-learn."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "botorch", "gpytorch", "ase", "pymatgen", "sklearn")
MARKER = "@@modules@@ "

# Runs the CLI's ``main`` in-process with the given argv, then reports the exit code and
# which heavy modules (plus matloop.cli.main, to show the probe sees real imports) loaded.
PROBE = textwrap.dedent(f"""
    import json, sys
    import matloop
    import matloop.cli.main
    argv = json.loads(sys.argv[1])
    code = None
    if argv:
        sys.argv = ["matloop", *argv]
        try:
            matloop.cli.main.main()
        except SystemExit as exc:
            code = exc.code
    watched = {(*HEAVY, "matloop.cli.main")!r}
    loaded = sorted(m for m in watched if m in sys.modules)
    print({MARKER!r} + json.dumps({{"code": code, "loaded": loaded}}))
""")


def probe(argv: list[str], cwd: Path) -> tuple[dict, str, str]:
    completed = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argv)], cwd=cwd,
                               capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr
    reports = [line for line in completed.stdout.splitlines() if line.startswith(MARKER)]
    assert len(reports) == 1, completed.stdout
    stdout = completed.stdout.replace(reports[0], "").strip()
    return json.loads(reports[0].removeprefix(MARKER)), stdout, completed.stderr


def test_importing_matloop_and_the_cli_is_light(tmp_path: Path) -> None:
    report, _, _ = probe([], tmp_path)
    assert report["loaded"] == ["matloop.cli.main"]


def test_help_is_light(tmp_path: Path) -> None:
    report, stdout, stderr = probe(["--help"], tmp_path)
    assert report["code"] in (0, None)
    assert "validate" in stdout and "status" in stdout
    assert report["loaded"] == ["matloop.cli.main"], report
    assert stderr == ""


def test_status_without_database_fails_in_one_line_and_stays_light(
        tmp_path: Path, crossed_barrel) -> None:
    campaign = crossed_barrel(name="barrel")
    report, _, stderr = probe(["status", str(campaign)], tmp_path)
    assert report["code"] == 4  # StoreError.exit_code
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    assert "no database" in lines[0]
    assert "Traceback" not in stderr
    assert report["loaded"] == ["matloop.cli.main"], report
    assert sorted(tmp_path.rglob("*.db*")) == []


def test_python_dash_m_runs_the_cli(tmp_path: Path) -> None:
    completed = subprocess.run([sys.executable, "-m", "matloop", "--help"], cwd=tmp_path,
                               capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr
    assert "validate" in completed.stdout and "status" in completed.stdout
