"""Transfer from related campaigns (``[[campaign.related]]``): a related CSV table or an
earlier matloop database enters the model as a task of its own, whose learnt correlation
is high for a shifted, scaled copy of the target and low for noise; compositions map
through the features whatever their elements; bad entries name the field."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from matloop.errors import ConfigError
from matloop.store import Store


def surface(x: float, y: float) -> float:
    return float(np.exp(-((x - 0.7) ** 2 + (y - 0.3) ** 2) / 0.08) + 0.3 * x)


def write_csv(path: Path, header: list[str], rows: list[tuple[Any, ...]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_tables(folder: Path) -> None:
    """``pool.csv`` (x, y on a 15 x 15 grid, ``score``), ``shifted.csv`` (60 random rows
    of the grid with ``other`` = 3 score + 10: related, in other units) and ``noise.csv``
    (the same rows, ``other`` random)."""
    rng = np.random.default_rng(11)
    grid = [(i / 14, j / 14) for i in range(15) for j in range(15)]
    write_csv(folder / "pool.csv", ["x", "y", "score"],
              [(x, y, surface(x, y)) for x, y in grid])
    rows = [grid[k] for k in rng.choice(len(grid), 60, replace=False)]
    write_csv(folder / "shifted.csv", ["x", "y", "other"],
              [(x, y, 3 * surface(x, y) + 10) for x, y in rows])
    write_csv(folder / "noise.csv", ["x", "y", "other"],
              [(x, y, rng.uniform()) for x, y in rows])


def config(related: list[dict[str, Any]], name: str = "tr", **changes: Any
           ) -> dict[str, Any]:
    return {
        "campaign": {"name": name, "seed": 2, "related": related},
        "space": {"kind": "table", "path": "pool.csv", "inputs": ["x", "y"]},
        "targets": [{"property": "score", "goal": "maximize"}],
        "oracle": {"kind": "table"},
        "loop": {"initial": 4, "batch_size": 2, "budget": 8},
        **changes,
    }


def run(folder: Path, related: list[dict[str, Any]], report: bool = False,
        **changes: Any) -> dict[str, Any]:
    import matloop

    write_tables(folder)
    campaign = matloop.Campaign.from_dict(config(related, **changes), base_dir=folder)
    with campaign.session() as session:
        session.run()
        if report:
            session.report(folder / "report")
        return session.status()


def test_a_shifted_related_table_is_learnt_as_a_correlated_task(tmp_path: Path) -> None:
    status = run(tmp_path, [{"name": "earlier", "path": "shifted.csv",
                             "properties": {"score": "other"}}], report=True,
                 loop={"initial": 4, "batch_size": 2, "budget": 12})
    assert status["evaluations"]["succeeded"] == 12
    (entry,) = status["related"]
    assert entry["name"] == "earlier" and entry["rows"] == 60
    assert entry["source"].endswith("shifted.csv")
    assert entry["model_correlation"]["score"] > 0.6  # 0.67 when written
    store = Store(f"sqlite:///{tmp_path / 'tr.db'}", create=False)
    cycles = store.cycles(store.campaign_id("tr"))
    kinds = [c.hyperparameters.get("kind") for c in cycles if c.strategy != "initial"]
    assert kinds and set(kinds) == {"transfer-gp"}
    from matloop.surrogates import describe_model

    assert describe_model(status["last_cycle"]["hyperparameters"]) == \
        "multi-task GP with the related earlier"
    # the report has a section with the learnt correlation over the cycles
    page = (tmp_path / "report" / "report.html").read_text()
    assert "Related campaigns" in page and "earlier" in page
    assert (tmp_path / "report" / "related-correlation.png").stat().st_size > 1000
    # and matloop status a row per related campaign
    from matloop.loop.status_rows import related_rows

    (what, text), = related_rows(status["related"])
    assert what == "related earlier" and "60 rows in the model" in text
    assert re.search(r"learnt correlation score 0\.\d\d$", text), text


@pytest.mark.slow
def test_an_unrelated_table_is_discounted(tmp_path: Path) -> None:
    status = run(tmp_path, [{"name": "noise", "path": "noise.csv",
                             "properties": {"score": "other"}}])
    (entry,) = status["related"]
    assert entry["rows"] == 60
    assert entry["model_correlation"]["score"] < 0.1  # 0.0001 when written


@pytest.mark.slow
def test_an_earlier_database_is_a_related_campaign(tmp_path: Path) -> None:
    """The first campaign's evaluations (its database) inform the second; keys of input
    spaces map back to their columns."""
    import matloop

    write_tables(tmp_path)
    first = dict(config([], name="first"), campaign={"name": "first", "seed": 5,
                                                     "database": "first.db"})
    with matloop.Campaign.from_dict(first, base_dir=tmp_path).session() as session:
        session.run()
    status = run(tmp_path, [{"name": "first", "path": "first.db"}])
    (entry,) = status["related"]
    assert entry["rows"] == 8 and entry["campaign"] is None
    assert entry["model_correlation"]["score"] > 0.5


def test_compositions_map_through_the_features_whatever_their_elements(
        tmp_path: Path) -> None:
    """A pool of Cu-Ni-Pd alloys and a related table of Ag-Au-Pt and Cu-Au ones: every
    related formula is placed (the features are elemental-property statistics)."""
    import matloop
    from matloop.loop.related import load_related

    pool = [(f"Cu{a}Ni{b}Pd{10 - a - b}", a - 0.5 * b) for a in range(11)
            for b in range(11 - a)]
    write_csv(tmp_path / "alloys.csv", ["formula", "score"], pool)
    write_csv(tmp_path / "other.csv", ["formula", "hardness"],
              [("Ag2Au1Pt1", 1.0), ("Cu1Au1", 2.0), ("AuPt3", 0.5), ("not a formula", 1.0)])
    settings = {"campaign": {"name": "alloys", "related": [
                    {"name": "other", "path": "other.csv",
                     "properties": {"score": "hardness"}}]},
                "space": {"kind": "table", "path": "alloys.csv", "composition": "formula"},
                "targets": [{"property": "score", "goal": "maximize"}],
                "oracle": {"kind": "table"}}
    campaign = matloop.Campaign.from_dict(settings, base_dir=tmp_path)
    with campaign.session() as session:
        space = session.space
    (data,) = load_related(campaign.campaign.related, space, ("score",))
    assert data.features.shape == (3, space.features.shape[1]) and data.skipped == 1
    assert np.isfinite(data.features).all()
    assert data.values[:, 0].tolist() == [1.0, 2.0, 0.5]


@pytest.mark.parametrize(("entry", "changes", "message"), [
    ({"name": "a", "path": "shifted.csv", "properties": {"nope": "other"}}, {},
     r"campaign\.related\.0 \(a\)\.properties: \['nope'\] are not target properties"),
    ({"name": "a"}, {}, "give one of path"),
    ({"name": "a", "path": "shifted.csv"}, {"surrogate": {"kind": "forest"}},
     r"campaign\.related\.0 \(a\): .*surrogate\.kind = 'forest'"),
    ({"name": "a", "path": "shifted.csv", "database": "postgresql://x/y"}, {},
     "give one of path"),
])
def test_bad_related_entries_name_the_field(tmp_path: Path, entry: dict[str, Any],
                                            changes: dict[str, Any], message: str) -> None:
    import matloop

    write_tables(tmp_path)
    with pytest.raises(ConfigError, match=message):
        matloop.Campaign.from_dict(config([entry], **changes), base_dir=tmp_path)


@pytest.mark.parametrize(("entry", "message"), [
    ({"name": "a", "path": "shifted.csv"},  # no column "score" there, and no mapping
     r"campaign\.related\.0 \(a\)\.path: none of the columns \['score'\]"),
    ({"name": "a", "path": "missing.csv"}, r"campaign\.related\.0 \(a\)\.path: file not found"),
    ({"name": "a", "path": "tr-other.db", "campaign": "nope"},
     r"campaign\.related\.0 \(a\)\.campaign: no campaign 'nope'"),
])
def test_an_unreadable_related_campaign_stops_the_run_before_anything_is_lost(
        tmp_path: Path, entry: dict[str, Any], message: str) -> None:
    import matloop

    write_tables(tmp_path)
    if entry["path"].endswith(".db"):
        first = dict(config([], name="other"), campaign={"name": "other",
                                                          "database": "tr-other.db"})
        with matloop.Campaign.from_dict(first, base_dir=tmp_path).session() as session:
            session.run()
    campaign = matloop.Campaign.from_dict(config([entry]), base_dir=tmp_path)
    with campaign.session() as session, pytest.raises(ConfigError, match=message):
        session.run()


@pytest.mark.slow
def test_validate_reads_the_related_campaigns(tmp_path: Path) -> None:
    """``matloop validate`` reads them as a run would: a missing table is one error line
    naming the entry, without a traceback."""
    import subprocess
    import sys

    write_tables(tmp_path)
    path = tmp_path / "tr.toml"
    path.write_text('[campaign]\nname = "tr"\n[[campaign.related]]\nname = "gone"\n'
                    'path = "gone.csv"\n[space]\nkind = "table"\npath = "pool.csv"\n'
                    'inputs = ["x", "y"]\n[[targets]]\nproperty = "score"\n'
                    'goal = "maximize"\n[oracle]\nkind = "table"\n')
    done = subprocess.run([sys.executable, "-m", "matloop.cli.main", "validate", str(path)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode != 0
    assert "campaign.related.0 (gone).path: file not found" in done.stderr
    assert "Traceback" not in done.stderr
    path.write_text(path.read_text().replace("gone.csv", "shifted.csv").replace(
        'path = "shifted.csv"\n', 'path = "shifted.csv"\nproperties = { score = "other" }\n'))
    done = subprocess.run([sys.executable, "-m", "matloop.cli.main", "validate", str(path)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "oracle 'table', related 'gone', targets" in done.stdout


def test_a_missing_related_database_is_named(tmp_path: Path) -> None:
    import matloop
    from matloop.campaigns.campaign_schema import Related
    from matloop.loop.related import load_related

    write_tables(tmp_path)
    campaign = matloop.Campaign.from_dict(config([]), base_dir=tmp_path)
    with campaign.session() as session:
        space = session.space
    with pytest.raises(ConfigError, match=r"campaign\.related\.0 \(old\): "):
        load_related([Related(name="old", path=tmp_path / "nowhere.db")], space, ("score",))
