"""Database URLs as messages show them: no password, wherever it was written."""

from __future__ import annotations

import pytest

from matloop.store.engine import safe_url


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://bob:s3cret@db.lab:5432/matloop",
     "postgresql://bob:***@db.lab:5432/matloop"),
    ("postgresql://bob:p@ss@db.lab/matloop", "postgresql://bob:***@db.lab/matloop"),
    ("postgresql://bob@db.lab/matloop?password=hunter2&sslmode=require",
     "postgresql://bob@db.lab/matloop?password=***&sslmode=require"),
    ("postgresql://db.lab/x?sslmode=require&PASSWORD=a%40b",
     "postgresql://db.lab/x?sslmode=require&PASSWORD=***"),
    ("postgresql://bob:s3cret@db.lab?password=x", "postgresql://bob:***@db.lab?password=***"),
    ("sqlite:////tmp/campaign.db", "sqlite:////tmp/campaign.db"),
])
def test_passwords_are_masked(url: str, shown: str) -> None:
    assert safe_url(url) == shown
    for secret in ("s3cret", "p@ss", "hunter2", "a%40b"):
        assert secret not in safe_url(url)


def test_validate_and_errors_never_print_the_password(tmp_path) -> None:
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "crossed-barrel.toml"
    text = example.read_text().replace(
        'name = "crossed-barrel"',
        'name = "crossed-barrel"\ndatabase = "postgresql://bob:s3cret@127.0.0.1:1/x'
        '?password=hunter2"', 1)
    assert "hunter2" in text
    path = tmp_path / "campaign.toml"
    path.write_text(text.replace('"data/', f'"{example.parent / "data"}/'))
    for command in ("validate", "status"):
        done = subprocess.run([sys.executable, "-m", "matloop.cli.main", command, str(path)],
                              capture_output=True, text=True, timeout=120, check=False)
        output = done.stdout + done.stderr
        assert "s3cret" not in output and "hunter2" not in output, output
        assert "bob:***@127.0.0.1" in output or command == "validate", output
