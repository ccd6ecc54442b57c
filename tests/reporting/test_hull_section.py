"""The report's stability section: binary candidates on their convex hull."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from matloop.reporting.hull import hull_section
from matloop.spaces.pool import Pool


def evaluation(row: int, formation: float, distance: float, status: str = "succeeded"
               ) -> SimpleNamespace:
    return SimpleNamespace(pool_index=row, status=status, values={
        "formation_energy_per_atom": formation, "e_above_hull": distance})


def test_binary_systems_are_drawn_and_the_rest_left_out(tmp_path: Path) -> None:
    pool = Pool(kind="composition", names=("Au", "Cu", "Ni"), values=np.array([
        [0.25, 0.75, 0.0], [0.5, 0.5, 0.0], [0.0, 0.5, 0.5], [0.2, 0.4, 0.4]]))
    section = hull_section([evaluation(0, -0.05, 0.0), evaluation(1, 0.02, 0.06),
                            evaluation(2, -0.01, 0.0), evaluation(3, -0.1, 0.0),
                            evaluation(1, 0.0, 0.0, status="failed")], pool, tmp_path)
    assert section is not None and section.title == "Stability"
    assert [p.name for p in section.images] == ["hull.png"]
    assert (tmp_path / "hull.png").stat().st_size > 10_000
    assert section.notes == []  # two binary systems, both drawn; the ternary is not one


def test_no_hull_distances_no_section(tmp_path: Path) -> None:
    pool = Pool(kind="composition", names=("Au", "Cu"), values=np.array([[0.5, 0.5]]))
    plain = SimpleNamespace(pool_index=0, status="succeeded", values={"y": 1.0})
    assert hull_section([plain], pool, tmp_path) is None
    assert not (tmp_path / "hull.png").exists()
