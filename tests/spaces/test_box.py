"""Box spaces: named ranges and options with linear constraints, drawn as a finite pool.

Every candidate meets the ranges and constraints (within the rounding), the draw is the
same every time the space is built (and cached), bad definitions get one line with the
file and line, and a campaign runs, exports one column per parameter, resumes and
reports what the model says along each input."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from matloop.campaigns import load
from matloop.errors import ConfigError
from matloop.spaces.build import build_pool

MIXTURE = '''[campaign]
name = "mix"

[space]
kind = "box"
samples = 3000
constraints = ["a + b + c + d + e + f = 1", "a <= 0.45", "2*b + c <= 0.8"]

[space.parameters]
a = {low = 0, high = 1}
b = {low = 0, high = 1}
c = {low = 0, high = 1}
d = {low = 0, high = 1}
e = {low = 0, high = 1}
f = {low = 0, high = 1}
T = {low = 300, high = 900, resolution = 10}
n = {low = 1, high = 4, integer = true}
solvent = {options = ["water", "ethanol"]}

[[targets]]
property = "y"
goal = "maximize"

[oracle]
kind = "python"
function = "mixfun:score"

[loop]
initial = 4
budget = 8
'''

ORACLE = '''def score(a, b, c, d, e, f, T, n, solvent):
    if not isinstance(n, int):  # an integer range arrives as an int
        raise TypeError(f"n = {n!r}")
    return {"y": -(a - 0.3) ** 2 - (b - 0.2) ** 2 - (T - 600) ** 2 / 1e5
            + (0.1 if solvent == "water" else 0.0) - 0.01 * n}
'''


def write(folder: Path, text: str = MIXTURE) -> Path:
    (folder / "mixfun.py").write_text(ORACLE)
    path = folder / "mix.toml"
    path.write_text(text)
    return path


def test_every_candidate_meets_the_ranges_and_constraints(tmp_path: Path) -> None:
    pool = build_pool(load(write(tmp_path)).space)
    v = pool.values
    assert pool.names == ("a", "b", "c", "d", "e", "f", "T", "n", "solvent")
    assert 2900 < len(pool) <= 3000  # repeats after rounding merged
    assert np.abs(v[:, :6].sum(axis=1) - 1).max() <= 6 * 0.5e-4 + 1e-12
    assert v[:, 0].max() <= 0.45 and (2 * v[:, 1] + v[:, 2]).max() <= 0.8 + 1.5e-4
    assert v[:, :6].min() >= 0
    assert set(np.unique(v[:, 6])) <= set(np.arange(300, 901, 10.0))
    assert set(np.unique(v[:, 7])) == {1.0, 2.0, 3.0, 4.0}
    assert pool.categories == {"solvent": ("ethanol", "water")}
    assert set(np.unique(v[:, 8])) == {0.0, 1.0}
    # rounded to 1e-4 of the range: no float noise in keys
    assert pool.key(0).count(".") == 8 and "000000" not in pool.key(0)


def test_the_draw_is_the_same_every_time_and_cached(tmp_path: Path) -> None:
    space = load(write(tmp_path)).space
    first = build_pool(space, tmp_path / "scratch")
    assert (tmp_path / "scratch" / "box-candidates.npz").exists()
    again = build_pool(space, tmp_path / "scratch")
    fresh = build_pool(space)
    assert np.array_equal(first.values, again.values)
    assert np.array_equal(first.values, fresh.values)


def test_without_constraints_the_ranges_are_covered_by_sobol_points(tmp_path: Path) -> None:
    text = MIXTURE.replace('constraints = ["a + b + c + d + e + f = 1", "a <= 0.45", '
                           '"2*b + c <= 0.8"]\n', "")
    pool = build_pool(load(write(tmp_path, text)).space)
    a = pool.values[:, 0]
    counts, _ = np.histogram(a, bins=10, range=(0, 1))
    assert counts.min() > 0.8 * counts.mean()  # even cover of each range


@pytest.mark.parametrize(("change", "message"), [
    (("a = {low = 0, high = 1}", "a = {low = 1, high = 1}"),
     r"mix.toml:\d+: .*empty range: low = 1.0 is not below high = 1.0"),
    (('"a <= 0.45"', '"a >= 0.95", "b >= 0.2"'),
     r"mix.toml:\d+: .*no point meets every constraint"),
    (('"a <= 0.45"', '"a + g <= 0.45"'), r"mix.toml:\d+: .*names 'g', which is not a "
                                         r"parameter"),
    (('"a <= 0.45"', '"a b <= 0.45"'), r"mix.toml:\d+: .*cannot read 'b'"),
    (('"a <= 0.45"', '"solvent <= 1"'), r"mix.toml:\d+: .*names \['solvent'\], which "
                                        r"have options"),
    (("n = {low = 1, high = 4, integer = true}", "n = {low = 1, high = 4.5, integer = true}"),
     r"mix.toml:\d+: .*whole-number low and high"),
    (('solvent = {options = ["water", "ethanol"]}', 'solvent = {options = ["water"], '
                                                    'low = 1}'),
     r"mix.toml:\d+: .*either 'low' and 'high' or 'options'"),
    (("n = {low = 1, high = 4, integer = true}", 'alloy = {elements = ["Co", "Xx"]}'),
     r"mix.toml:\d+: space.parameters.alloy.elements: \['Xx'\] are not element symbols"),
    (("n = {low = 1, high = 4, integer = true}", 'alloy = {elements = ["Co", "Ni"], '
                                                 'high = 0.4}'),
     r"mix.toml:\d+: .*no point meets every constraint .*Co \+ Ni = 1"),
    (("n = {low = 1, high = 4, integer = true}", 'alloy = {elements = ["Co", "a"]}'),
     r"mix.toml:\d+: .*not element symbols"),
    (("n = {low = 1, high = 4, integer = true}", 'alloy = {elements = ["Co", "Ni"], '
                                                 'log = true}'),
     r"mix.toml:\d+: .*a composition \('elements'\) takes 'low', 'high' and 'resolution'"),
])
def test_a_bad_box_is_refused_in_one_line_with_file_and_line(
        tmp_path: Path, change: tuple[str, str], message: str) -> None:
    path = write(tmp_path, MIXTURE.replace(*change))
    with pytest.raises(ConfigError, match=message) as caught:
        load(path)
    assert "\n" not in str(caught.value)


def test_a_box_campaign_runs_exports_one_column_per_parameter_and_resumes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import matloop

    monkeypatch.syspath_prepend(str(tmp_path))
    path = write(tmp_path)
    with matloop.Campaign.from_file(path).session() as session:
        session.run()
        first = session.evaluations()
    assert len(first) == 8 and (first["status"] == "succeeded").all()
    resumed = path.read_text().replace("budget = 8", "budget = 11")
    path.write_text(resumed)
    with matloop.Campaign.from_file(path).session() as session:
        session.run()
        session.export(tmp_path / "all.csv")
        session.report(tmp_path / "report")
    page = (tmp_path / "report" / "report.html").read_text()
    assert "Along each input" in page and "inputs-y.png" in page  # partial dependence
    assert (tmp_path / "report" / "inputs-y.png").stat().st_size > 10_000
    rows = list(csv.DictReader((tmp_path / "all.csv").open()))
    assert len(rows) == 11 and len({r["candidate"] for r in rows}) == 11
    for row in rows:
        fractions = [float(row[k]) for k in "abcdef"]
        assert abs(sum(fractions) - 1) <= 6 * 0.5e-4 + 1e-12 and fractions[0] <= 0.45
        assert row["solvent"] in ("water", "ethanol") and float(row["T"]) % 10 == 0


LAB = MIXTURE.replace('kind = "python"\nfunction = "mixfun:score"', 'kind = "lab"').replace(
    "initial = 4\nbudget = 8", "initial = 3\nbatch_size = 3\nbudget = 6")


def answer_batch(path: Path, answer: Callable[[dict[str, str]], float]) -> list[dict[str, str]]:
    """Propose the lab campaign ``path``'s next batch, fill in ``y = answer(row)`` for
    every row of the sheet and import it; the rows as the sheet had them."""
    import matloop

    with matloop.Campaign.from_file(path).session() as session:
        batch = session.propose_file().paths[0]
    with batch.open() as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["y"] = str(answer(row))
    with batch.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with matloop.Campaign.from_file(path).session() as session:
        session.import_file(batch)
    return rows


def test_a_lab_batch_has_one_column_per_parameter_and_imports_back(tmp_path: Path) -> None:
    import matloop

    path = write(tmp_path, LAB)
    rows = answer_batch(path, lambda row: float(row["a"]) + float(row["T"]) / 1000)
    assert len(rows) == 3
    assert {"a", "b", "c", "d", "e", "f", "T", "n", "solvent", "y"} <= set(rows[0])
    with matloop.Campaign.from_file(path).session() as session:
        done = session.evaluations()
    assert (done["status"] == "succeeded").sum() == 3


@pytest.mark.slow
def test_the_loop_reaches_the_mixture_optimum_long_before_random_draws() -> None:
    """``benchmarks/box_spaces.py`` in small: 2 % regret on the example's 10,000-candidate
    mixture (6 candidates qualify; random draws need 1,429 on average, and reach it
    within 60 with probability about 0.036 per seed) within the 60-evaluation budget."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, str(root / "benchmarks" / "box_spaces.py"),
                          "--seeds", "2"], capture_output=True, text=True, check=True).stdout
    seeds = [line for line in out.splitlines() if line.startswith("seed ")]
    assert len(seeds) == 2
    assert all(int(line.split("refined ")[1].split(" ")[0]) <= 60 for line in seeds), out
    assert "every evaluated candidate met every constraint: yes" in out


def test_a_log_scaled_range_is_drawn_and_modelled_in_its_logarithm(tmp_path: Path) -> None:
    import matloop

    text = MIXTURE.replace("n = {low = 1, high = 4, integer = true}",
                           "hours = {low = 0.01, high = 100, log = true}")
    campaign = matloop.Campaign.from_file(write(tmp_path, text))
    with campaign.session() as session:
        pool, space = session.pool, session.space
    hours = pool.values[:, pool.names.index("hours")]
    assert hours.min() >= 0.01 and hours.max() <= 100
    decades, _ = np.histogram(np.log10(hours), bins=4, range=(-2, 2))
    assert decades.min() > 0.8 * decades.mean()  # as many per decade
    assert all(len(f"{h:.10g}".replace(".", "").lstrip("0")) <= 4 for h in hours[:50])
    column = space.names.index("log10(hours)")
    assert np.allclose(space.features[:, column],
                       (np.log10(hours) - np.log10(hours).min()) / np.ptp(np.log10(hours)))


def test_a_composition_is_one_range_per_element_summing_to_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import matloop

    (tmp_path / "hea.py").write_text(
        "def hardness(Co, Cr, Ni, T):\n"
        "    return {'hardness': 300 * Cr * Ni - (T - 900) ** 2 / 5000}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    path = tmp_path / "hea.toml"
    path.write_text('''[campaign]
name = "hea"

[space]
kind = "box"
samples = 500
constraints = ["Co <= 0.3"]

[space.parameters]
alloy = { elements = ["Co", "Cr", "Ni"], low = 0.1, high = 0.6 }
T = { low = 600, high = 1200, resolution = 25 }

[[targets]]
property = "hardness"
goal = "maximize"

[oracle]
kind = "python"
function = "hea:hardness"

[loop]
initial = 4
budget = 8
''')
    campaign = matloop.Campaign.from_file(path)
    assert list(campaign.space.parameters) == ["Co", "Cr", "Ni", "T"]  # type: ignore[union-attr]
    assert campaign.space.compositions == {"alloy": ["Co", "Cr", "Ni"]}  # type: ignore[union-attr]
    with campaign.session() as session:
        session.run()
        rows = session.evaluations()
    fractions = rows[["Co", "Cr", "Ni"]].to_numpy(float)
    assert (rows["status"] == "succeeded").all() and len(rows) == 8
    assert np.abs(fractions.sum(axis=1) - 1).max() <= 3 * 0.5 * 0.5e-4 + 1e-12
    assert fractions.min() >= 0.1 and fractions.max() <= 0.6 and fractions[:, 0].max() <= 0.3


def test_a_log_scaled_range_cannot_be_constrained(tmp_path: Path) -> None:
    text = MIXTURE.replace("f = {low = 0, high = 1}", "f = {low = 0.001, high = 1, log = true}")
    with pytest.raises(ConfigError, match=r"mix.toml:7: space.constraints: constraint "
                                          r"'a \+ b .*names \['f'\], which are log-scaled"):
        load(write(tmp_path, text))
