"""``matloop report``'s model-quality plots: parity, calibration and history PNGs of the
cross-validated model, from a real small campaign."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from matloop.campaigns import load
from matloop.cli.main import app
from matloop.loop.session import Session
from matloop.reporting.figures import slug
from matloop.reporting.model_quality import validation_history
from matloop.surrogates.validation import calibration_curve, metrics

PNG = b"\x89PNG\r\n\x1a\n"
runner = CliRunner()


@pytest.fixture(scope="module")
def two_properties(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished two-property table campaign, cross-validated at its one model cycle
    (2 folds: a busy machine fits GPs slowly)."""
    folder = tmp_path_factory.mktemp("report")
    grid = np.linspace(0, 1, 6)
    rows = [(x, y, 3 + np.sin(3 * x) + y, 2 + x * y - 0.5 * y) for x in grid for y in grid]
    (folder / "alloys.csv").write_text(
        "x,y,strength,density\n" + "\n".join(",".join(f"{v:.6g}" for v in r) for r in rows))
    path = folder / "alloys.toml"
    path.write_text(textwrap.dedent("""
        [campaign]
        name = "alloys"

        [space]
        kind = "table"
        path = "alloys.csv"
        inputs = ["x", "y"]

        [[targets]]
        property = "strength"
        unit = "GPa"
        goal = "maximize"

        [[targets]]
        property = "density"
        unit = "g/cm3"
        below = 2.2

        [surrogate]
        validate_every = 1
        folds = 2

        [oracle]
        kind = "table"

        [loop]
        initial = 6
        batch_size = 2
        budget = 8
    """))
    with Session(load(path)) as session:
        session.run()
    return path


def assert_png(path: Path) -> None:
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG, path
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[2] in (3, 4), image.shape
    assert 300 <= image.shape[0] <= 2000 and 300 <= image.shape[1] <= 2000, image.shape


def test_report_writes_a_parity_and_a_calibration_plot_per_property(
        two_properties: Path, tmp_path: Path) -> None:
    out = tmp_path / "plots"
    done = runner.invoke(app, ["report", str(two_properties), "--out", str(out)])
    assert done.exit_code == 0, done.output
    names = {"parity-strength.png", "calibration-strength.png", "parity-density.png",
             "calibration-density.png", "validation-history.png"}
    assert names <= {p.name for p in out.iterdir()}
    lines = done.stdout.strip().splitlines()
    assert all(line.startswith("wrote ") for line in lines)
    assert lines[-1].endswith("report.html")
    assert names <= {Path(line.removeprefix("wrote ")).name for line in lines}
    for name in names:
        assert_png(out / name)


def test_report_defaults_to_a_folder_beside_the_campaign_file(two_properties: Path) -> None:
    done = runner.invoke(app, ["report", str(two_properties)])
    assert done.exit_code == 0, done.output
    folder = two_properties.with_name("alloys-report")
    assert len(list(folder.glob("parity-*.png"))) == 2
    assert_png(folder / "validation-history.png")


def test_slug_makes_property_names_safe_file_names() -> None:
    assert slug("band_gap") == "band_gap"
    assert slug("E/atom (eV)") == "E_atom_eV"
    assert slug("../..") == "property"


def test_calibration_curve_matches_the_recorded_miscalibration_area() -> None:
    rng = np.random.default_rng(0)
    measured = rng.normal(size=50)
    predicted = measured + rng.normal(scale=0.5, size=50)
    std = np.full(50, 0.3)  # overconfident: the errors' scale is 0.5
    levels, inside = calibration_curve(measured, predicted, std)
    assert inside.shape == levels.shape and np.all(np.diff(inside) >= 0)
    area = float(np.mean(np.abs(inside - levels)))
    assert area == pytest.approx(metrics(measured, predicted, std)["miscalibration_area"])
    assert inside[-1] < levels[-1]


def test_history_keeps_only_cycles_that_validated_a_property() -> None:
    cycles = [SimpleNamespace(number=0, hyperparameters={}),
              SimpleNamespace(number=1, hyperparameters={"validation": {"seconds": 0.1}}),
              SimpleNamespace(number=2, hyperparameters={"validation": {"seconds": 0.1,
                                                                        "a": {"mae": 1.0}}})]
    assert validation_history(cycles) == [(2, {"a": {"mae": 1.0}})]
