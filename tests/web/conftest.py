"""A folder served by ``matloop serve``: the P3HT lab campaign (its table plays the lab)
and a computed campaign, driven through Starlette's test client."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..lab.conftest import INPUTS, P3HT_CSV, PROPERTY, RESULT, ROOT, known_answers

__all__ = ["INPUTS", "P3HT_CSV", "PROPERTY", "RESULT", "form_secret", "measured"]


@pytest.fixture
def folder(tmp_path: Path, database_url: str) -> Path:
    """``lab-p3ht.toml`` (a lab campaign, its database ``database_url``: every test that
    uses it runs on SQLite and on PostgreSQL), ``table.toml`` (the same pool with a table
    oracle) and ``broken.toml`` (not a campaign) in one folder."""
    (tmp_path / "data").mkdir()
    shutil.copy(P3HT_CSV, tmp_path / "data" / P3HT_CSV.name)
    text = (ROOT / "examples" / "lab-p3ht.toml").read_text()
    (tmp_path / "lab-p3ht.toml").write_text(text.replace(
        'name = "lab-p3ht"\n', f'name = "lab-p3ht"\ndatabase = {json.dumps(database_url)}\n',
        1))
    table = text.replace('name = "lab-p3ht"', 'name = "computed"').replace(
        'kind = "lab"', 'kind = "table"')
    assert table != text
    (tmp_path / "table.toml").write_text(table)
    (tmp_path / "broken.toml").write_text("[campaign]\nname = 3\n")
    return tmp_path


@pytest.fixture
def client(folder: Path) -> Iterator[object]:
    from starlette.testclient import TestClient

    from matloop.web.app import create_app

    with TestClient(create_app(folder, scratch=folder.parent / "scratch")) as test_client:
        yield test_client


def measured(record: dict[str, object]) -> float:
    """What the lab measures for a candidate given by its five inputs (S/cm)."""
    return known_answers()[tuple(float(record[n]) for n in INPUTS)]  # type: ignore[arg-type]


def form_secret(page: str) -> str:
    found = re.search(r'name="form" value="([^"]+)"', page)
    assert found, "the page has no form"
    return found.group(1)
