"""Compute once: the hull references of a campaign's level of theory, every chemical system.

A campaign with ``[oracle] hull`` relaxes the reference structures of a candidate's
chemical system when it first needs them. This script relaxes all of them ahead, with
the campaign's own oracle (same calculator, parameters, model version and settings), into
its ``hull_cache``, one chemical system after another with a line each. It resumes: what
the cache holds is skipped. Printed at the end: references relaxed, failed, and the
seconds per reference.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/hull_references.py \\
        examples/superhard-stable-chgnet.toml [--systems 10]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("campaign", type=Path)
    parser.add_argument("--systems", type=int, default=None,
                        help="stop after this many chemical systems")
    args = parser.parse_args()

    from matloop.campaigns import load
    from matloop.loop.build import build_oracle
    from matloop.oracles.hull import CACHE_FILE, read_references, reference_compounds

    campaign = load(args.campaign)
    oracle = build_oracle(campaign)
    tables = getattr(oracle, "hull", None)
    if not tables:
        raise SystemExit(f"{args.campaign}: its oracle has no 'hull' tables")
    systems = sorted({tuple(sorted(r.formula)) for r in read_references(*map(Path, tables))},
                     key=lambda s: (len(s), s))[:args.systems]
    start = time.perf_counter()
    level = ""
    for i, system in enumerate(systems, start=1):
        began = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # the potentials' chatter
            found, level = reference_compounds(oracle, system)  # type: ignore[arg-type]
        print(f"{i}/{len(systems)} {'-'.join(system)}: {len(found)} references "
              f"({time.perf_counter() - began:.1f} s)", flush=True)
    cache = Path(oracle.hull_cache or oracle.scratch) / CACHE_FILE  # type: ignore[attr-defined]
    entries = json.loads(cache.read_text())[level]["entries"]
    failed = sum("error" in e for e in entries.values())
    elapsed = time.perf_counter() - start
    print(f"level {level}: {len(entries)} references in {cache}, {failed} failed; this "
          f"run {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
