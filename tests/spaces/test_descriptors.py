"""Categorical columns described by the user's descriptors (``[space] descriptors``): the
models see an option's numbers instead of one 0/1 feature per option, bad tables are
refused naming file, row and column, and on a pool whose response follows a descriptor
the loop finds the best candidate sooner than with one-hot features."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from matloop.errors import ConfigError

ADDITIVES = 30


def write_pool(folder: Path) -> None:
    """``pool.csv``: 30 additives (named A00..A29) x 6 temperatures, the yield following
    the additive's hidden polarity; ``additives.csv``: polarity and an unrelated number."""
    rng = np.random.default_rng(0)
    polarity = rng.permutation(np.linspace(0, 1, ADDITIVES))
    other = rng.uniform(0, 10, ADDITIVES)
    with (folder / "additives.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["additive", "polarity", "mass"])
        writer.writerows([(f"A{k:02d}", polarity[k], other[k]) for k in range(ADDITIVES)])
    with (folder / "pool.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["additive", "temperature", "yield"])
        for k in range(ADDITIVES):
            for t in np.linspace(0, 1, 6):
                value = 100 - 80 * (polarity[k] - 0.83) ** 2 - 30 * (t - 0.6) ** 2
                writer.writerow([f"A{k:02d}", t, value])


def config(descriptors: bool, **loop: Any) -> dict[str, Any]:
    space: dict[str, Any] = {"kind": "table", "path": "pool.csv", "inputs": ["temperature"],
                             "categorical": ["additive"]}
    if descriptors:
        space["descriptors"] = {"additive": "additives.csv"}
    return {"campaign": {"name": f"d{int(descriptors)}", "seed": loop.pop("seed", 0)},
            "space": space, "targets": [{"property": "yield", "goal": "maximize"}],
            "oracle": {"kind": "table"}, "loop": {"initial": 5, "budget": 30, **loop}}


def test_the_models_see_each_option_as_its_scaled_descriptors(tmp_path: Path) -> None:
    import matloop

    write_pool(tmp_path)
    with matloop.Campaign.from_dict(config(True), base_dir=tmp_path).session() as session:
        space = session.space
        pool = session.pool
    assert space.names == ("temperature", "additive:polarity", "additive:mass")
    assert space.features.shape == (ADDITIVES * 6, 3)
    assert space.features.min() == 0.0 and space.features.max() == 1.0
    table = {row["additive"]: float(row["polarity"])
             for row in csv.DictReader((tmp_path / "additives.csv").open())}
    polarity = np.array([table[pool.candidate(i).inputs["additive"]]
                         for i in range(len(pool))])
    assert np.allclose(space.features[:, 1], (polarity - polarity.min()) / np.ptp(polarity))
    with matloop.Campaign.from_dict(config(False), base_dir=tmp_path).session() as session:
        assert session.space.features.shape == (ADDITIVES * 6, 1 + ADDITIVES)  # one-hot


@pytest.mark.parametrize(("table", "message"), [
    ("additive,polarity\nA00,0.5\n", r"space.descriptors.additive: .* has no row for 29 "
                                      r"option\(s\) of column 'additive': 'A01'"),
    ("additive\n" + "".join(f"A{k:02d}\n" for k in range(ADDITIVES)),
     "needs a column of options and at least one column of numbers"),
    ("additive,polarity\n" + "".join(f"A{k:02d},{'high' if k == 3 else k}\n"
                                     for k in range(ADDITIVES)),
     r"row 5, column 'polarity': 'high' is not a finite number"),
    ("additive,polarity\nA00,1\n" + "".join(f"A{k:02d},{k}\n" for k in range(ADDITIVES)),
     r"describes \['A00'\] more than once"),
])
def test_a_bad_descriptor_table_names_file_row_and_column(tmp_path: Path, table: str,
                                                          message: str) -> None:
    import matloop

    write_pool(tmp_path)
    (tmp_path / "additives.csv").write_text(table)
    with pytest.raises(ConfigError, match=message), \
            matloop.Campaign.from_dict(config(True), base_dir=tmp_path).session() as session:
        session.space  # noqa: B018


def test_descriptors_of_a_column_that_is_not_categorical_are_refused(tmp_path: Path
                                                                     ) -> None:
    import matloop

    write_pool(tmp_path)
    bad = config(True)
    bad["space"]["descriptors"] = {"temperature": "additives.csv"}
    with pytest.raises(ConfigError, match=r"'descriptors' names column\(s\) "
                                          r"\['temperature'\], which are not 'categorical'"):
        matloop.Campaign.from_dict(bad, base_dir=tmp_path)


@pytest.mark.slow
def test_descriptors_find_the_best_sooner_than_one_hot(tmp_path: Path) -> None:
    import matloop

    write_pool(tmp_path)
    best = max(float(r["yield"]) for r in csv.DictReader((tmp_path / "pool.csv").open()))
    first: dict[bool, list[int]] = {True: [], False: []}
    for described in (True, False):
        for seed in range(5):
            campaign = matloop.Campaign.from_dict(config(described, seed=seed),
                                                  base_dir=tmp_path)
            with campaign.session(db=tmp_path / f"{described}-{seed}.db") as session:
                session.run()
                values = [v for v in session.evaluations()["yield"]]
            found = [k for k, v in enumerate(values) if v >= best - 1e-9]
            first[described].append(found[0] + 1 if found else 31)
    assert statistics.median(first[True]) < statistics.median(first[False]), first
