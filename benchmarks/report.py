"""Benchmark: `matloop report` on composition pools of 10^4 to 10^6 candidates.

For each pool (a composition grid over 7 or 10 elements) a campaign with two range
targets and a Python oracle runs 30 evaluations (cross-validated every cycle, so that
every plot is drawn); then, in the same process, it times
``matloop.loop.predict.rank`` (the baseline: what `matloop predict` costs, pool and
features included) and ``write_report`` (which featurises the pool, ranks the next picks
the same way and draws every plot), with the report's own steps timed apart. Prints
figures; asserts nothing.

    .venv/bin/python benchmarks/report.py [--largest]   # --largest adds the ~10^6 pool
"""

from __future__ import annotations

import argparse
import tempfile
import textwrap
import time
from pathlib import Path

from predict import TOY  # the same oracle as benchmarks/predict.py (this folder)

POOLS = {  # elements, step, max_elements -> candidates
    "7 elements, step 0.1": (["Cu", "Ni", "Pd", "Pt", "Au", "Ag", "Al"], 0.1, 4),
    "7 elements, step 0.05": (["Cu", "Ni", "Pd", "Pt", "Au", "Ag", "Al"], 0.05, 5),
    "10 elements, step 0.05": (["Cu", "Ni", "Pd", "Pt", "Au", "Ag", "Al", "Co", "Fe", "Ti"],
                               0.05, 5),
}

CAMPAIGN = """
[campaign]
name = "report"

[space]
kind = "compositions"
elements = {elements}
step = {step}
max_elements = {max_elements}

[[targets]]
property = "a"
above = 0.6

[[targets]]
property = "b"
between = [0.2, 0.4]

[surrogate]
validate_every = 1

[oracle]
kind = "python"
function = "toy:properties"

[executor]
workers = 2

[loop]
initial = 10
batch_size = 5
budget = 30
"""


def measure(name: str, elements: list[str], step: float, max_elements: int) -> None:
    import json

    from matloop.campaigns import load
    from matloop.loop.session import Session

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "report.toml"
        path.write_text(textwrap.dedent(CAMPAIGN).format(
            elements=json.dumps(elements), step=step, max_elements=max_elements))
        (Path(folder) / "toy.py").write_text(textwrap.dedent(TOY))
        campaign = load(path)
        Session(campaign).run()
        start = time.perf_counter()
        ranking = Session(campaign).ranking(top=5)
        rank_s = time.perf_counter() - start
        steps: dict[str, float] = {}
        last = [time.perf_counter(), "reading the store and featurising"]

        def step(what: str) -> None:
            now = time.perf_counter()
            steps[str(last[1])] = now - float(last[0])
            last[:] = [now, what]

        start = time.perf_counter()
        written = Session(campaign).report_files(Path(folder) / "out", on_step=step)
        report_s = time.perf_counter() - start
        step("")
        size = (Path(folder) / "out" / "report.html").stat().st_size
    pool = ranking.n_unmeasured + ranking.n_measured
    parts = ", ".join(f"{what} {seconds:.2f} s" for what, seconds in steps.items())
    print(f"{name}: {pool:,} candidates")
    print(f"  rank (baseline, = matloop predict): {rank_s:.2f} s")
    print(f"  report: {report_s:.2f} s = {report_s / rank_s:.2f} x rank ({parts}); "
          f"{len(written) - 1} PNGs, page {size / 1e6:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--largest", action="store_true", help="also the ~10^6 pool")
    largest = parser.parse_args().largest
    for name, (elements, step, max_elements) in POOLS.items():
        if len(elements) > 7 and not largest:
            continue
        measure(name, elements, step, max_elements)


if __name__ == "__main__":
    main()
