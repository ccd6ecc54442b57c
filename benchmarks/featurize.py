"""Benchmark: featurise ~10^6 compositions with CompositionStatistics.

Builds a composition grid over 7 elements (default: step 1/60, up to 4 elements per
composition: 1,198,946 rows), times building the pool, building the featuriser and
featurising the whole pool, then times a naive per-row loop with pymatgen
``Composition`` over 2,000 of the same rows as a baseline. Prints figures; asserts
nothing.

    .venv/bin/python benchmarks/featurize.py [--divisions 60] [--max-elements 4]
"""

from __future__ import annotations

import argparse
import math
import os
import time
import warnings

import numpy as np

from matloop.campaigns.schema import CompositionSpace
from matloop.features import featurizer_for
from matloop.features.composition import (
    PROPERTIES,
    CompositionStatistics,
    property_means,
    valence_electrons,
)
from matloop.spaces.build import composition_grid

ELEMENTS = ["Cu", "Ni", "Pd", "Pt", "Au", "Ag", "Al"]
ATTRIBUTES = {"electronegativity": "X", "atomic_radius": "atomic_radius", "row": "row",
              "group": "group", "mendeleev_number": "mendeleev_no",
              "atomic_mass": "atomic_mass", "melting_point": "melting_point",
              "molar_volume": "molar_volume", "ionization_energy": "ionization_energy"}


def naive_features(fractions: np.ndarray, symbols: list[str]) -> np.ndarray:
    """The same features row by row: pymatgen Composition and Element lookups per row."""
    from pymatgen.core import Composition

    means = dict(zip([name for name, _ in PROPERTIES], property_means(), strict=True))
    out = []
    for row in fractions:
        composition = Composition({s: float(v) for s, v in zip(symbols, row, strict=True)
                                   if v > 0})
        stats: dict[str, list[float]] = {"mean": [], "min": [], "max": [], "range": [],
                                         "spread": []}
        for name, _unit in PROPERTIES:
            weights, values = [], []
            for element in composition.elements:
                if name == "valence_electrons":
                    value = valence_electrons(element.symbol)
                else:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        raw = getattr(element, ATTRIBUTES[name])
                    value = math.nan if raw is None else float(raw)
                values.append(means[name] if math.isnan(value) else value)
                weights.append(composition.get_atomic_fraction(element))
            mean = sum(w * v for w, v in zip(weights, values, strict=True))
            stats["mean"].append(mean)
            stats["min"].append(min(values))
            stats["max"].append(max(values))
            stats["range"].append(max(values) - min(values))
            stats["spread"].append(sum(w * abs(v - mean)
                                       for w, v in zip(weights, values, strict=True)))
        out.append([v for block in stats.values() for v in block])
    return np.array(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--divisions", type=int, default=60, help="grid step = 1/divisions")
    parser.add_argument("--max-elements", type=int, default=4)
    parser.add_argument("--baseline-rows", type=int, default=2000)
    args = parser.parse_args()

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.2f}")
    space = CompositionSpace(kind="compositions", elements=ELEMENTS,
                             step=1 / args.divisions, max_elements=args.max_elements)
    start = time.perf_counter()
    pool = composition_grid(space)
    pool_s = time.perf_counter() - start
    print(f"grid: {len(ELEMENTS)} elements ({' '.join(ELEMENTS)}), step 1/{args.divisions}, "
          f"<= {args.max_elements} elements per composition")
    print(f"build pool:       {len(pool):>9,d} rows in {pool_s:7.3f} s")

    start = time.perf_counter()
    featurizer = featurizer_for(pool)
    build_s = time.perf_counter() - start
    assert isinstance(featurizer, CompositionStatistics)
    print(f"build featuriser: {len(featurizer.names):>9d} features in {build_s:7.3f} s "
          "(pymatgen property table, Z = 1..103 means)")

    start = time.perf_counter()
    features = featurizer.transform(pool.values)
    transform_s = time.perf_counter() - start
    fast_rate = len(pool) / transform_s
    print(f"featurise:        {features.shape[0]:>9,d} rows x {features.shape[1]} features "
          f"in {transform_s:7.3f} s = {fast_rate:,.0f} rows/s "
          f"({features.nbytes / 2**20:,.0f} MiB float64)")

    rng = np.random.default_rng(0)
    sample = rng.choice(len(pool), size=min(args.baseline_rows, len(pool)), replace=False)
    start = time.perf_counter()
    slow = naive_features(pool.values[sample], ELEMENTS)
    slow_s = time.perf_counter() - start
    slow_rate = len(sample) / slow_s
    difference = float(np.max(np.abs(slow - features[sample]) / (1 + np.abs(slow))))
    print(f"naive baseline:   {len(sample):>9,d} rows (per-row pymatgen Composition) "
          f"in {slow_s:7.3f} s = {slow_rate:,.0f} rows/s")
    print(f"speedup per row:  {fast_rate / slow_rate:,.0f}x "
          f"(max relative difference on the baseline rows: {difference:.1e})")


if __name__ == "__main__":
    main()
