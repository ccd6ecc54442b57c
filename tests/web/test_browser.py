"""A lab member's three rounds in a real browser: headless Chromium, driven through
Selenium and Debian's chromedriver, against ``matloop serve``'s application on a real
port. ``matloop status`` on the folder then shows exactly what the page showed.

CI installs Chromium and its driver (``.ci/install-chromium``) and sets
MATLOOP_REQUIRE_CHROMIUM=1, which makes their absence a failure. With
MATLOOP_SCREENSHOTS=<folder> the test saves the pages the docs show.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import INPUTS, P3HT_CSV, PROPERTY, measured

pytestmark = pytest.mark.slow


def browser_or_skip() -> tuple[str, str]:
    found = (shutil.which("chromium") or shutil.which("chromium-browser"),
             shutil.which("chromedriver"))
    if None in found:
        message = ("headless Chromium and chromedriver are not installed (Debian: apt-get "
                   "install chromium chromium-driver); the browser test is skipped")
        if os.environ.get("MATLOOP_REQUIRE_CHROMIUM"):
            pytest.fail(message)
        pytest.skip(message)
    return found  # type: ignore[return-value]


@pytest.fixture
def server(folder: Path) -> Iterator[str]:
    """``matloop serve``'s application on a free loopback port; its base URL."""
    import uvicorn

    from matloop.web.app import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(folder, scratch=folder.parent / "scratch")
    running = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                            log_level="warning"))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(timeout=30)


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = browser_or_skip()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--window-size=1400,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def awaiting(base: str) -> list[dict[str, Any]]:
    """The batch on the page, as the API gives it (a robot's view of the same batch)."""
    request = urllib.request.Request(f"{base}/api/campaigns/lab-p3ht/propose", data=b"{}",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as answer:
        return json.loads(answer.read())["records"]


def shot(driver: Any, name: str) -> None:
    folder = os.environ.get("MATLOOP_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0); "
                              "document.querySelectorAll('.wide').forEach("
                              "e => { e.scrollLeft = 0; })")
        driver.save_screenshot(str(Path(folder) / f"serve-{name}.png"))


def submit(driver: Any, css: str, by: str = "css selector") -> None:
    """Click the element ``css`` (found ``by``) and wait until the next page has loaded
    (a click does not wait): the old page's window carries a mark the new one lacks."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("window.leaving = true")
    driver.find_element(by, css).click()
    WebDriverWait(driver, 300, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script(
            "return !window.leaving && document.readyState === 'complete'"))


def enter_results(driver: Any, batch: list[dict[str, Any]]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    for i, row in enumerate(batch):
        box = driver.find_element(By.NAME, f"value:{i}:0")
        box.clear()
        box.send_keys(repr(measured(row)))
        Select(driver.find_element(By.NAME, f"status:{i}")).select_by_value("ok")


def test_three_lab_rounds_in_the_browser_match_matloop_status(
        server: str, browser: Any, folder: Path, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    import matloop
    from matloop.loop.status_rows import status_rows

    browser.get(server + "/")
    assert "lab-p3ht" in browser.find_element(By.ID, "campaigns").text
    shot(browser, "list")
    submit(browser, "lab-p3ht", By.LINK_TEXT)
    for round_ in range(3):
        submit(browser, "#propose button")
        batch = awaiting(server)
        assert browser.find_elements(By.CSS_SELECTOR, "#results tr")[1:] and \
            len(browser.find_elements(By.CSS_SELECTOR, "#results tr")) == len(batch) + 1
        if round_ == 1:  # a bad sheet first: the problem is shown, nothing stored
            sheet = tmp_path / "results.csv"
            sheet.write_text(f"candidate_id,{PROPERTY} [S/cm],status\n"
                             f"{batch[0]['candidate_id']},high,ok\n")
            browser.find_element(By.CSS_SELECTOR, "#upload input[type=file]"
                                 ).send_keys(str(sheet))
            submit(browser, "#upload button")
            problems = browser.find_element(By.ID, "problems").text
            assert "results.csv" in problems and "not a number" in problems, problems
            shot(browser, "bad-upload")
            # then the good sheet
            sheet.write_text(f"candidate_id,{PROPERTY} [S/cm],status\n" + "".join(
                f"{row['candidate_id']},{measured(row)!r},ok\n" for row in batch))
            browser.find_element(By.CSS_SELECTOR, "#upload input[type=file]"
                                 ).send_keys(str(sheet))
            submit(browser, "#upload button")
            message = browser.find_element(By.ID, "message").text
            assert f"results.csv: stored {len(batch)} results" in message, message
            continue
        if round_ == 2:  # a bad value typed into the form is shown next to its row
            enter_results(browser, batch)
            box = browser.find_element(By.NAME, "value:1:0")
            box.clear()
            box.send_keys("lots")
            submit(browser, "#results button")
            bad_rows = browser.find_elements(By.CSS_SELECTOR, "#results tr.bad")
            assert len(bad_rows) == 1 and "not a number" in bad_rows[0].text
        enter_results(browser, batch)
        if round_ == 0:
            shot(browser, "batch")
        submit(browser, "#results button")
        message = browser.find_element(By.ID, "message").text
        assert f"stored {len(batch)} results" in message, message

    # the plots, built on request and loaded by the browser
    submit(browser, "#report button")
    images = browser.find_elements(By.CSS_SELECTOR, "img.plot")
    assert images and all(browser.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth > 0", img)
        for img in images)
    shot(browser, "campaign")

    shown = [(row.find_element(By.TAG_NAME, "th").text,
              row.find_element(By.TAG_NAME, "td").text)
             for row in browser.find_elements(By.CSS_SELECTOR, "#status tr")]
    with matloop.Campaign.from_file(folder / "lab-p3ht.toml").session() as session:
        summary = session.status()
    assert summary["evaluations"]["succeeded"] > 0
    assert shown == [(what, " ".join(value.split())) for what, value in status_rows(summary)]
    printed = subprocess.run([sys.executable, "-m", "matloop.cli.main", "status",
                              str(folder / "lab-p3ht.toml")], capture_output=True,
                             text=True, check=True, env={**os.environ, "COLUMNS": "300"})
    for what, value in shown:
        assert what in printed.stdout and value in " ".join(printed.stdout.split())


def test_a_campaign_made_from_a_csv_in_the_browser_takes_its_first_results(
        server: str, browser: Any, folder: Path, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    table = tmp_path / "films.csv"
    rows = P3HT_CSV.read_text().splitlines()
    header = rows[0].split(",")
    keep = [header.index(n) for n in INPUTS]
    table.write_text("\n".join(",".join(line.split(",")[k] for k in keep)
                               for line in rows) + "\n")
    browser.get(server + "/")
    submit(browser, "a new lab campaign from a table", By.LINK_TEXT)
    browser.find_element(By.CSS_SELECTOR, "#new input[type=file]").send_keys(str(table))
    submit(browser, "#new button")
    name = browser.find_element(By.NAME, "name")
    name.clear()
    name.send_keys("films")
    roles = [Select(browser.find_element(By.NAME, f"role:{k}")).first_selected_option
             .get_attribute("value") for k in range(len(INPUTS))]
    assert roles == ["input"] * len(INPUTS)  # guessed: five numeric columns
    browser.find_element(By.NAME, "property:0").send_keys(PROPERTY)
    browser.find_element(By.NAME, "unit:0").send_keys("S/cm")
    Select(browser.find_element(By.NAME, "goal:0")).select_by_value("maximize")
    shot(browser, "new")
    submit(browser, "#describe button")
    assert browser.current_url.endswith("/campaigns/films")
    assert (folder / "films.toml").is_file()

    submit(browser, "#propose button")
    cells = browser.find_elements(By.CSS_SELECTOR, "#results td.candidate")
    assert cells
    for i, _ in enumerate(cells):
        record = {n: browser.find_element(
            By.XPATH, f"//form[@id='results']//tr[{i + 2}]/td[count(//form[@id='results']"
            f"//tr[1]/th[.='{n}']/preceding-sibling::th) + 1]").text for n in INPUTS}
        browser.find_element(By.NAME, f"value:{i}:0").send_keys(repr(measured(record)))
        Select(browser.find_element(By.NAME, f"status:{i}")).select_by_value("ok")
    submit(browser, "#results button")
    assert f"stored {len(cells)} results" in browser.find_element(By.ID, "message").text
