"""The stable superhard example, run by a test per ML potential: at budget 6, then
resumed to 8, with the named calculator in place of CHGNet."""

from __future__ import annotations

import json
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_stable_example(tmp_path: Path, calculator: str) -> None:
    """Every measured candidate has its distance from a hull computed by ``calculator``
    alone, no hit lies above 0.05 eV/atom, the resumed run relaxes no reference twice
    (CHGNet's and SevenNet's all come with the example), and the report draws the
    Stability section."""
    import matloop

    shutil.copytree(ROOT / "examples" / "data", tmp_path / "data")
    path = tmp_path / "stable.toml"
    path.write_text((ROOT / "examples" / "superhard-chgnet.toml").read_text()
                    .replace("budget = 24", "budget = 6")
                    .replace('calculator = "chgnet"', f'calculator = "{calculator}"'))
    with matloop.Campaign.from_file(path).session() as session:
        session.run()
    cache = tmp_path / "data" / "hull-references" / "hull-references.json"
    first = json.loads(cache.read_text())
    with matloop.Campaign.from_file(path).session() as session:
        session.run(budget=8)
        rows = session.evaluations()
        hits = session.status()["hits"]
        session.report(tmp_path / "report")
    assert (tmp_path / "report" / "hull.png").exists()  # the Stability section
    after = json.loads(cache.read_text())
    ours = [digest for digest, level in after.items()  # this calculator's, this version's
            if level["level"]["calculator"] == calculator
            and level["level"]["version"] == metadata.version(level["level"]["package"])]
    assert len(ours) == 1
    assert first[ours[0]]["entries"].items() <= after[ours[0]]["entries"].items()
    done = rows[rows["status"] == "succeeded"]

    def values(name: str) -> Any:
        return done[next(c for c in rows.columns if c.startswith(name))].astype(float)

    hull = values("e_above_hull")
    assert len(rows) == 8 and len(done) >= 2 and hull.notna().all()
    assert (hull > -0.2).all()  # never far below the Materials Project references' hull
    assert hits == int(((values("bulk_modulus") >= 300) & (values("shear_modulus") >= 150)
                        & (hull <= 0.05)).sum())
