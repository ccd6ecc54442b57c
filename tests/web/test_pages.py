"""The pages of ``matloop serve`` without a browser: forms need their page's secret,
bad values come back next to their row with nothing stored, failures are listed, the
batch downloads as the sheet ``matloop propose`` writes, and only report files serve."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from .conftest import RESULT, form_secret


def propose(client: Any, n: int = 3) -> str:
    secret = form_secret(client.get("/campaigns/lab-p3ht").text)
    answer = client.post("/campaigns/lab-p3ht/propose", data={"form": secret, "n": str(n)})
    assert answer.status_code == 200 and 'id="results"' in answer.text
    return secret


def test_the_list_shows_each_campaign_and_each_file_that_is_not_one(client: Any) -> None:
    page = client.get("/").text
    assert 'href="/campaigns/lab-p3ht"' in page and 'href="/campaigns/computed"' in page
    assert "broken.toml" in page and "campaign.name" in page


def test_a_form_without_its_page_secret_changes_nothing(client: Any, folder: Path
                                                        ) -> None:
    answer = client.post("/campaigns/lab-p3ht/propose", data={"n": "3"})
    assert answer.status_code == 403 and "out of date" in answer.text
    assert client.get("/api/campaigns/lab-p3ht").status_code == 404  # never started
    secret = propose(client)
    forged = client.post("/campaigns/lab-p3ht/results",
                         data={"form": secret + "x", "value:0:0": "1", "status:0": "ok"})
    assert forged.status_code == 403
    assert client.get("/api/campaigns/lab-p3ht").json()["evaluations"]["succeeded"] == 0


def test_typed_results_land_all_or_nothing_with_problems_by_row(client: Any) -> None:
    secret = propose(client)
    typed = {"form": secret, "value:0:0": "12.5", "status:0": "ok",
             "value:1:0": "twelve", "status:1": "ok",
             "status:2": "failed", "note:2": "film cracked"}
    refused = client.post("/campaigns/lab-p3ht/results", data=typed)
    assert refused.status_code == 422
    bad = re.findall(r'<tr class="bad">(.*?)</tr>', refused.text, re.S)
    assert len(bad) == 1 and "twelve" in bad[0] and "is not a number" in bad[0]
    assert 'value="12.5"' in refused.text  # what was typed stays on the page
    assert client.get("/api/campaigns/lab-p3ht").json()["evaluations"]["succeeded"] == 0

    landed = client.post("/campaigns/lab-p3ht/results", data={**typed, "value:1:0": "3"})
    assert landed.status_code == 200
    assert "stored 3 results" in landed.text and "1 failed" in landed.text
    # the failure is listed with the lab's note
    failures = re.search(r'<table id="failures">(.*?)</table>', landed.text, re.S)
    assert failures and "film cracked" in failures.group(1)
    assert 'id="propose"' in landed.text  # ready for the next batch


def test_nothing_typed_is_not_a_result(client: Any) -> None:
    secret = propose(client)
    answer = client.post("/campaigns/lab-p3ht/results", data={"form": secret})
    assert answer.status_code == 422 and "nothing was entered" in answer.text


def test_the_batch_downloads_as_the_sheet_matloop_propose_writes(client: Any) -> None:
    from openpyxl import load_workbook

    propose(client, 2)
    csv_text = client.get("/campaigns/lab-p3ht/batch.csv").text
    header = csv_text.splitlines()[0].split(",")
    assert header[0] == "candidate_id" and header[-3:] == [RESULT, "status", "note"]
    workbook = client.get("/campaigns/lab-p3ht/batch.xlsx")
    assert workbook.status_code == 200
    sheet = load_workbook(io.BytesIO(workbook.content)).active
    assert [c.value for c in next(sheet.iter_rows())] == header
    assert client.get("/campaigns/lab-p3ht/batch.exe").status_code == 404
    assert client.get("/campaigns/computed/batch.csv").status_code == 404  # none awaits


def test_only_the_report_files_are_served(client: Any, folder: Path) -> None:
    secret = propose(client, 2)
    client.post("/campaigns/lab-p3ht/results",
                data={"form": secret, "value:0:0": "1", "status:0": "ok",
                      "value:1:0": "2", "status:1": "ok"})
    built = client.post("/campaigns/lab-p3ht/report", data={"form": secret})
    assert built.status_code == 200
    plots = re.findall(r'src="/campaigns/lab-p3ht/report/([^"]+\.png)"', built.text)
    assert plots and client.get(f"/campaigns/lab-p3ht/report/{plots[0]}").status_code == 200
    assert client.get("/campaigns/lab-p3ht/report/report.html").status_code == 200
    for path in ("/campaigns/lab-p3ht/report/..%2Flab-p3ht.toml",
                 "/campaigns/lab-p3ht/report/lab-p3ht.db",
                 "/campaigns/..%2F..%2Fetc/report/passwd.png",
                 "/campaigns/lab-p3ht/report/%2Fetc%2Fpasswd"):
        assert client.get(path).status_code == 404, path
    assert not any(folder.glob("*-report"))  # written to the server's scratch folder


def test_a_campaign_with_its_own_oracle_is_shown_not_proposed(client: Any) -> None:
    page = client.get("/campaigns/computed").text
    assert "matloop run table.toml" in page and 'id="propose"' not in page
    secret = form_secret(client.get("/campaigns/lab-p3ht").text)  # the browser's cookie
    answer = client.post("/campaigns/computed/propose", data={"form": secret})
    assert answer.status_code == 409 and "matloop run" in answer.text
    assert client.get("/campaigns/nothing").status_code == 404


def test_drawn_plots_are_drawn_again_after_each_change(client: Any, folder: Path) -> None:
    secret = propose(client, 2)
    client.post("/campaigns/lab-p3ht/results",
                data={"form": secret, "value:0:0": "1", "status:0": "ok",
                      "value:1:0": "2", "status:1": "ok"})
    client.post("/campaigns/lab-p3ht/report", data={"form": secret})
    drawn = folder.parent / "scratch" / "reports" / "lab-p3ht" / "report.html"
    stamp = drawn.stat().st_mtime_ns
    propose(client, 2)  # a new batch: the plots show its picks
    assert drawn.stat().st_mtime_ns > stamp
