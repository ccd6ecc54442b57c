"""The JSON API of ``matloop serve``: the documented shapes, all-or-nothing results,
and the guard (token, size, writes from other sites, names that are not campaigns)."""

from __future__ import annotations

import csv
import io
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from matloop.errors import ConfigError

from .conftest import RESULT, measured


def test_the_folder_lists_every_campaign_file_with_its_state(client: Any) -> None:
    listed = {entry["file"]: entry for entry in client.get("/api/campaigns").json()}
    assert set(listed) == {"lab-p3ht.toml", "table.toml", "broken.toml"}
    lab = listed["lab-p3ht.toml"]
    assert lab["name"] == "lab-p3ht" and lab["oracle"] == "lab"
    assert lab["state"] == "not started" and lab["finished"] == 0 and lab["budget"] > 0
    assert lab["targets"] == ["maximize conductivity_S_per_cm"]
    assert listed["table.toml"]["oracle"] == "table"
    assert listed["broken.toml"]["name"] is None
    assert "campaign.name" in listed["broken.toml"]["error"]


def test_a_lab_round_trip_through_the_api(client: Any, folder: Path) -> None:
    import matloop

    assert client.get("/api/campaigns/lab-p3ht").status_code == 404  # not started
    proposed = client.post("/api/campaigns/lab-p3ht/propose", json={"n": 3})
    assert proposed.status_code == 200
    batch = proposed.json()["records"]
    assert len(batch) == 3 and {"candidate_id", "candidate", RESULT, "status",
                                "note"} <= set(batch[0])
    assert all(row[RESULT] is None for row in batch)
    # while it awaits results, the same batch comes back
    again = client.post("/api/campaigns/lab-p3ht/propose", json={})
    assert [r["candidate_id"] for r in again.json()["records"]] == \
        [r["candidate_id"] for r in batch]

    # a bad value: 422 naming row and column, and nothing stored
    bad = [{**row, RESULT: measured(row), "status": "ok"} for row in batch]
    bad[1][RESULT] = "high"
    refused = client.post("/api/campaigns/lab-p3ht/results", json={"records": bad})
    assert refused.status_code == 422
    assert any("row 3" in p and RESULT in p for p in refused.json()["problems"])
    status = client.get("/api/campaigns/lab-p3ht").json()
    assert status["evaluations"]["awaiting"] == 3 and status["evaluations"]["succeeded"] == 0

    good = [{**row, RESULT: measured(row), "status": "ok"} for row in batch]
    landed = client.post("/api/campaigns/lab-p3ht/results", json=good)
    assert landed.status_code == 200, landed.text
    assert landed.json()["stored"] == 3 and landed.json()["still_awaiting"] == 0
    rows = client.get("/api/campaigns/lab-p3ht/evaluations").json()["records"]
    assert sorted(r[PROPERTY_COLUMN] for r in rows) == sorted(measured(r) for r in good)

    # the API's status is matloop status --json
    with matloop.Campaign.from_file(folder / "lab-p3ht.toml").session() as session:
        expected = json.loads(json.dumps(session.status(), default=str))
    assert client.get("/api/campaigns/lab-p3ht").json() == expected


PROPERTY_COLUMN = "conductivity_S_per_cm"


def test_a_sheet_uploaded_to_the_api_lands_once(client: Any) -> None:
    batch = client.post("/api/campaigns/lab-p3ht/propose", json={"n": 2}).json()["records"]
    sheet = client.get("/campaigns/lab-p3ht/batch.csv")
    assert sheet.status_code == 200
    rows = list(csv.DictReader(io.StringIO(sheet.text)))
    assert [r["candidate_id"] for r in rows] == [str(r["candidate_id"]) for r in batch]
    for row in rows:
        row[RESULT] = str(measured(row))
        row["status"] = "ok"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    files = {"file": ("results.csv", out.getvalue().encode(), "text/csv")}
    headers = {"X-Matloop-Request": "1"}
    first = client.post("/api/campaigns/lab-p3ht/results", files=files, headers=headers)
    assert first.status_code == 200 and first.json()["stored"] == 2
    second = client.post("/api/campaigns/lab-p3ht/results", files=files, headers=headers)
    assert second.status_code == 422 and "imported" in second.json()["error"]
    # a file that is not a sheet
    other = {"file": ("notes.txt", b"hello", "text/plain")}
    refused = client.post("/api/campaigns/lab-p3ht/results", files=other, headers=headers)
    assert refused.status_code == 422 and ".csv or .xlsx" in refused.json()["error"]


def test_two_imports_of_one_batch_at_once_land_exactly_once(client: Any) -> None:
    batch = client.post("/api/campaigns/lab-p3ht/propose", json={"n": 2}).json()["records"]
    filled = [{**row, RESULT: measured(row), "status": "ok"} for row in batch]
    answers: list[int] = []

    def post() -> None:
        answers.append(client.post("/api/campaigns/lab-p3ht/results",
                                   json=filled).status_code)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200, 422]
    status = client.get("/api/campaigns/lab-p3ht").json()
    assert status["evaluations"]["succeeded"] == 2


@pytest.mark.parametrize(("method", "path", "body", "code"), [
    ("get", "/api/campaigns/nothing", None, 404),
    ("get", "/api/campaigns/..%2F..%2Fetc", None, 404),
    ("post", "/api/campaigns/computed/propose", {}, 409),
    ("post", "/api/campaigns/lab-p3ht/propose", {"n": 0}, 422),
    ("post", "/api/campaigns/lab-p3ht/propose", {"n": "five"}, 422),
    ("post", "/api/campaigns/lab-p3ht/results", {"records": []}, 422),
    ("post", "/api/campaigns/lab-p3ht/results", [{"candidate": "nothing like it"}], 422),
])
def test_bad_requests_get_an_error_and_change_nothing(client: Any, folder: Path,
                                                      method: str, path: str, body: Any,
                                                      code: int) -> None:
    answer = getattr(client, method)(path, **({} if body is None else {"json": body}))
    assert answer.status_code == code, answer.text
    assert answer.json()["error"]
    status = client.get("/api/campaigns/lab-p3ht")
    assert status.status_code == 404 or status.json()["evaluations"]["succeeded"] == 0


def test_writes_from_other_sites_and_large_bodies_are_refused(folder: Path) -> None:
    from starlette.testclient import TestClient

    from matloop.web.app import create_app

    client = TestClient(create_app(folder, max_body=1000, scratch=folder / ".scratch"))
    plain = client.post("/api/campaigns/lab-p3ht/propose", content=b"n=3",
                        headers={"content-type": "application/x-www-form-urlencoded"})
    assert plain.status_code == 403  # a cross-site form could send this
    big = client.post("/api/campaigns/lab-p3ht/results", json=[{"x": "y" * 2000}])
    assert big.status_code == 413
    assert client.get("/api/campaigns/lab-p3ht").status_code == 404  # never started


def test_with_a_token_every_request_needs_it(folder: Path) -> None:
    from starlette.testclient import TestClient

    from matloop.web.app import create_app

    client = TestClient(create_app(folder, token="s3cret", scratch=folder / ".scratch"),
                        follow_redirects=False)
    assert client.get("/api/campaigns").status_code == 401
    assert client.get("/").status_code == 401
    assert client.get("/api/campaigns", headers={"Authorization": "Bearer wrong"}
                      ).status_code == 401
    assert client.get("/api/campaigns", headers={"Authorization": "Bearer s3cret"}
                      ).status_code == 200
    # a browser opens the page once with the token, then its cookie carries it
    opened = client.get("/?token=s3cret")
    assert opened.status_code == 303 and "token" not in opened.headers["location"]
    assert client.get("/").status_code == 200


def test_a_server_others_can_reach_needs_a_token() -> None:
    from matloop.web.app import check_host

    check_host("127.0.0.1", None)
    check_host("0.0.0.0", "s3cret")
    with pytest.raises(ConfigError, match="needs a token"):
        check_host("0.0.0.0", None)


def test_matloop_serve_answers_on_its_port_and_refuses_the_network_without_a_token(
        folder: Path) -> None:
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    command = [sys.executable, "-m", "matloop.cli.main", "serve", str(folder)]
    refused = subprocess.run([*command, "--host", "0.0.0.0"], capture_output=True,
                             text=True, env={**os.environ, "MATLOOP_SERVE_TOKEN": ""})
    assert refused.returncode == 2 and "needs a token" in refused.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([*command, "--port", str(port)], stderr=subprocess.PIPE,
                              text=True, env={**os.environ, "MATLOOP_SERVE_TOKEN": "t0k"})
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/campaigns",
                                         headers={"Authorization": "Bearer t0k"})
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(request) as answer:
                    listed = json.loads(answer.read())
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.2)
        assert {c["file"] for c in listed} == {"lab-p3ht.toml", "table.toml", "broken.toml"}
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_campaign_file_changed_while_serving_is_read_again(client: Any, folder: Path
                                                            ) -> None:
    import os

    def budget() -> int:
        listed = client.get("/api/campaigns").json()
        return next(c["budget"] for c in listed if c["name"] == "lab-p3ht")

    first = budget()
    path = folder / "lab-p3ht.toml"
    path.write_text(path.read_text().replace(f"budget = {first}", f"budget = {first + 7}"))
    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 5))  # a later stamp
    assert budget() == first + 7


def test_the_server_closes_its_sessions_when_it_stops(folder: Path) -> None:
    from starlette.testclient import TestClient

    from matloop.web.app import create_app

    app = create_app(folder, scratch=folder / ".scratch")
    with TestClient(app) as client:
        client.post("/api/campaigns/lab-p3ht/propose", json={"n": 2})
        (session,) = [s for _, s in app.state.folder._sessions.values()]
        assert session._store is not None  # open while serving
    assert session._store is None and not app.state.folder._sessions
