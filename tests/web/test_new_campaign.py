"""A new lab campaign from an uploaded table: the form guesses each column's role, a bad
answer names its field and writes nothing, and the campaign file it writes is one the
command line reads."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from .conftest import form_secret

TABLE = (b"sample,temperature_C,time_h,solvent,formula\n"
         b"A1,300,1,water,Fe2O3\nA2,400,2,ethanol,FeO\nA3,500,4,water,Fe3O4\n"
         b"A4,600,8,toluene,Fe2O3\nA5,700,16,water,FeO\n")


def upload(client: Any, content: bytes = TABLE, name: str = "plates.csv"
           ) -> tuple[str, Any]:
    secret = form_secret(client.get("/new").text)
    answer = client.post("/new", data={"form": secret},
                         files={"file": (name, content, "text/csv")})
    return secret, answer


def describe(secret: str, page: str, **changes: str) -> dict[str, str]:
    upload_id = re.search(r'name="upload" value="([^"]+)"', page)
    assert upload_id
    form = {"form": secret, "upload": upload_id.group(1), "name": "plates",
            "role:0": "id", "role:1": "input", "role:2": "input", "role:3": "category",
            "role:4": "ignore", "property:0": "yield_pct", "unit:0": "%",
            "goal:0": "above", "low:0": "80", "budget": "12", "batch_size": "3"}
    form.update(changes)
    return form


def test_the_form_guesses_what_each_column_is(client: Any) -> None:
    _, answer = upload(client)
    assert answer.status_code == 200
    chosen = re.findall(r'<option value="(\w+)" selected', answer.text)
    # sample: unique labels, two numbers, a repeated label, formulas
    assert chosen[:5] == ["id", "input", "input", "category", "formula"]
    assert "5 candidates, 5 columns" in answer.text


def test_a_described_table_becomes_a_campaign_file_the_cli_runs(client: Any,
                                                                folder: Path) -> None:
    secret, answer = upload(client)
    made = client.post("/new/create", data=describe(secret, answer.text),
                       follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"] == "/campaigns/plates"
    written = folder / "plates.toml"
    assert (folder / "data" / "plates.csv").read_bytes().replace(b"\r\n", b"\n") == TABLE
    checked = subprocess.run([sys.executable, "-m", "matloop.cli.main", "validate",
                              str(written)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert "5 candidates (table)" in checked.stdout and "oracle 'lab'" in checked.stdout
    assert "yield_pct >= 80 %" in checked.stdout
    listed = {c["name"]: c for c in client.get("/api/campaigns").json() if c["name"]}
    assert listed["plates"]["oracle"] == "lab"
    proposed = client.post("/api/campaigns/plates/propose", json={"n": 2})
    assert proposed.status_code == 200 and len(proposed.json()["records"]) == 2
    # the name is now taken
    again = client.post("/new/create", data=describe(secret, answer.text))
    assert again.status_code == 409 and "taken" in again.text


def test_bad_answers_name_their_field_and_write_nothing(client: Any, folder: Path
                                                       ) -> None:
    before = sorted(p.name for p in folder.rglob("*"))
    secret, answer = upload(client)
    for changes, words in [
        ({"name": "../evil"}, "name: letters"),
        ({"property:0": "yield %"}, "targets.0.property"),
        ({"low:0": "high"}, "above needs a number"),
        ({"budget": "ten"}, "budget: a whole number"),
        ({"property:0": ""}, "name at least one property"),
        ({"role:1": "ignore", "role:2": "ignore", "role:3": "ignore"}, "space"),
        ({"role:4": "formula", "role:1": "input"}, "space"),
    ]:
        refused = client.post("/new/create", data=describe(secret, answer.text, **changes))
        assert refused.status_code in (409, 422), changes
        assert words in refused.text.replace("&#39;", "'"), (changes, refused.text[:2000])
    assert sorted(p.name for p in folder.rglob("*")) == before


def test_an_upload_that_is_not_a_table_is_refused(client: Any) -> None:
    _, answer = upload(client, b"\x00\x01", "plates.exe")
    assert answer.status_code == 422 and ".csv or .xlsx" in answer.text
    _, empty = upload(client, b"a,b\n", "empty.csv")
    assert empty.status_code == 422 and "empty.csv" in empty.text
    assert client.post("/new/create", data={"form": form_secret(client.get("/new").text),
                                           "upload": "../../etc/passwd"}).status_code == 404
