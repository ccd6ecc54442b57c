"""Shared fixtures: small real campaigns written into a temporary folder."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CROSSED_BARREL_CSV = ROOT / "examples" / "data" / "liang_crossed_barrel.csv"

CampaignWriter = Callable[..., Path]


@pytest.fixture
def crossed_barrel(tmp_path: Path) -> CampaignWriter:
    """Write a crossed-barrel (table oracle) campaign file; returns its path."""

    def write(name: str = "cb", budget: int = 12, initial: int = 4, batch_size: int = 1,
              workers: int = 1, acquisition: str = "logei", seed: int = 0) -> Path:
        data = tmp_path / "data"
        data.mkdir(exist_ok=True)
        shutil.copy(CROSSED_BARREL_CSV, data / "barrel.csv")
        path = tmp_path / f"{name}.toml"
        path.write_text(textwrap.dedent(f"""
            [campaign]
            name = "{name}"
            seed = {seed}

            [space]
            kind = "table"
            path = "data/barrel.csv"
            inputs = ["n", "theta", "r", "t"]

            [[targets]]
            property = "toughness"
            unit = "J"
            goal = "maximize"

            [oracle]
            kind = "table"

            [executor]
            workers = {workers}

            [loop]
            initial = {initial}
            batch_size = {batch_size}
            budget = {budget}
            acquisition = "{acquisition}"
        """))
        return path

    return write


@pytest.fixture
def python_campaign(tmp_path: Path) -> CampaignWriter:
    """A campaign over a 2-D grid evaluated by a user function in ``toy.py`` beside it.

    The function fails (raises) where ``x > 0.8``, returns NaN where ``y > 0.9`` and sleeps
    ``delay`` seconds per call.
    """

    def write(name: str = "toy", budget: int = 10, initial: int = 4, batch_size: int = 1,
              workers: int = 1, delay: float = 0.0, seed: int = 0) -> Path:
        grid = "\n".join(f"{x / 10},{y / 10}" for x in range(11) for y in range(11))
        (tmp_path / "grid.csv").write_text("x,y\n" + grid + "\n")
        (tmp_path / "toy.py").write_text(textwrap.dedent(f"""
            import math
            import time

            def score(x, y):
                time.sleep({delay})
                if x > 0.8:
                    raise RuntimeError("synthesis failed")
                if y > 0.9:
                    return {{"score": float("nan")}}
                return {{"score": -((x - 0.6) ** 2) - (y - 0.3) ** 2}}
        """))
        path = tmp_path / f"{name}.toml"
        path.write_text(textwrap.dedent(f"""
            [campaign]
            name = "{name}"
            seed = {seed}

            [space]
            kind = "table"
            path = "grid.csv"
            inputs = ["x", "y"]

            [[targets]]
            property = "score"
            goal = "maximize"

            [oracle]
            kind = "python"
            function = "toy:score"

            [executor]
            workers = {workers}

            [loop]
            initial = {initial}
            batch_size = {batch_size}
            budget = {budget}
        """))
        return path

    return write


EMT_FCC_METALS = ("Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt")


@pytest.fixture
def fcc_cifs(tmp_path: Path) -> Callable[..., Path]:
    """Write a folder of CIFs: one-atom fcc cells of EMT metals (lattice constants 3 %
    above ASE's, so relaxations have work to do), L1_2 Cu3Au, and ``Cu_conventional``, a
    4-atom copy of ``Cu`` (a duplicate); returns the folder."""

    def write(elements: tuple[str, ...] = EMT_FCC_METALS, folder: str = "structures") -> Path:
        import numpy as np
        from ase.data import atomic_numbers, reference_states
        from pymatgen.core import Lattice, Structure

        out = tmp_path / folder
        out.mkdir(exist_ok=True)

        def a(element: str) -> float:
            return 1.03 * float(reference_states[atomic_numbers[element]]["a"])

        half = [[0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]]
        for element in elements:
            primitive = Lattice(a(element) * np.array(half))
            Structure(primitive, [element], [[0, 0, 0]]).to(filename=str(out / f"{element}.cif"))
        Structure(Lattice.cubic(a("Cu")), ["Cu"] * 4, [[0, 0, 0], *half]).to(
            filename=str(out / "Cu_conventional.cif"))
        Structure(Lattice.cubic(3.80), ["Au", "Cu", "Cu", "Cu"], [[0, 0, 0], *half]).to(
            filename=str(out / "Cu3Au.cif"))
        return out

    return write
