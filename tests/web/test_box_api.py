"""A box space's lab campaign through the JSON API, with the command line working on the
same campaign in between: refined candidates (outside the drawn pool) go out in the
batches and come back with results, and the server's open session picks up candidates
that another process added."""

from __future__ import annotations

from pathlib import Path

from tests.spaces.test_box import LAB, answer_batch, write

import matloop
from matloop.spaces.build import build_pool


def answer(record: dict[str, str]) -> float:
    """What the lab measures for a candidate's inputs."""
    return -(float(record["a"]) - 0.3) ** 2 - (float(record["T"]) - 600) ** 2 / 1e5


def test_a_box_lab_campaign_through_the_api_and_the_command_line(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from matloop.web.app import create_app

    path = write(tmp_path, LAB.replace("budget = 6", "budget = 18"))
    with TestClient(create_app(tmp_path, scratch=tmp_path / "scratch")) as client:
        for round_ in range(6):
            if round_ == 3:  # a round by the command line, beside the open server
                answer_batch(path, answer)
                continue
            proposed = client.post("/api/campaigns/mix/propose", json={})
            assert proposed.status_code == 200, proposed.text
            records = proposed.json()["records"]
            assert len(records) == 3 and {"a", "T", "n", "solvent"} <= set(records[0])
            for record in records:
                record["y"], record["status"] = answer(record), "ok"
            landed = client.post("/api/campaigns/mix/results", json=records)
            assert landed.status_code == 200, landed.text
        status = client.get("/api/campaigns/mix").json()
        evaluations = client.get("/api/campaigns/mix/evaluations").json()["records"]
    campaign = matloop.Campaign.from_file(path)
    with campaign.session() as session:
        drawn = len(build_pool(campaign.space))
        refined = {session.pool.candidate(i).label for i in range(drawn, len(session.pool))}
        assert status["evaluations"]["succeeded"] == 18
        assert status["evaluations"] == session.status()["evaluations"]
    labels = {r["candidate"] for r in evaluations}
    assert len(labels) == 18 and refined and refined <= labels
