"""Benchmark: `matloop predict` (inverse-design ranking) on a pool of ~10^5 compositions.

Writes a campaign over a composition grid (7 elements, step 1/20, up to 5 elements per
composition: 121,702 candidates) with two range targets and a Python oracle (a smooth
function of the composition), runs 30 evaluations, then times ``rank`` (build and
featurise the pool, refit the GPs, predict every unmeasured candidate, sort by P(hit))
and, for reference, building and featurising the pool alone. Prints figures; asserts
nothing.

    .venv/bin/python benchmarks/predict.py
"""

from __future__ import annotations

import tempfile
import textwrap
import time
from pathlib import Path

CAMPAIGN = """
[campaign]
name = "ranking"

[space]
kind = "compositions"
elements = ["Cu", "Ni", "Pd", "Pt", "Au", "Ag", "Al"]
step = 0.05
max_elements = 5

[[targets]]
property = "a"
above = 0.6

[[targets]]
property = "b"
between = [0.2, 0.4]

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

TOY = """
def properties(composition):
    f = composition.fractional_composition
    return {"a": f["Pt"] + 0.5 * f["Pd"] + 0.3 * f["Ni"], "b": f["Cu"] + 0.2 * f["Al"]}
"""


def main() -> None:
    from matloop.campaigns import load
    from matloop.loop.session import Session

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ranking.toml"
        path.write_text(textwrap.dedent(CAMPAIGN))
        (Path(folder) / "toy.py").write_text(textwrap.dedent(TOY))
        campaign = load(path)
        start = time.perf_counter()
        result = Session(campaign).run()
        run_s = time.perf_counter() - start
        start = time.perf_counter()
        session = Session(campaign)
        prepared = session.space
        prepare_s = time.perf_counter() - start
        ranking = session.ranking(top=20)
        rank_s = time.perf_counter() - start
    print(f"pool: {len(prepared.pool):,} compositions, {prepared.features.shape[1]} features")
    print(f"campaign: 30 evaluations in {run_s:.1f} s, {result.hits} hits measured")
    print(f"ranking {ranking.n_unmeasured:,} unmeasured candidates: {rank_s:.2f} s "
          f"(of which building pool + features: {prepare_s:.2f} s)")
    print(f"top candidate: {ranking.labels[0]}, P(hit) = {ranking.score[0]:.3f}")


if __name__ == "__main__":
    main()
