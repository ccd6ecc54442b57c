"""Compute once: bulk and shear moduli of the Materials Project binaries with an ML potential.

Every structure of ``examples/data/mp_binary_structures_le4.csv`` (1,985 binaries of at
most 4 sites, with their DFT K_VRH / G_VRH) goes through matloop's ASE oracle (``elastic``
recipe: relax, then the stress–strain tensor; ``unstable = "keep"``) with the named
calculator, and one row per structure is appended to ``--out``:

    mp_id, formula, n_sites, bulk_modulus, shear_modulus (GPa; empty when failed),
    mechanically_stable, status (succeeded or the failure reason), error, seconds,
    calculator, model, version

The file is the cheap fidelity of the multi-fidelity replay (``benchmarks/fidelity.py``):
the ML potential screens, the DFT moduli confirm. A run that is stopped resumes: rows
already in ``--out`` are skipped. ``--shard i/k`` takes every k-th structure from the i-th,
so that k processes can share the work (each on one torch thread) into k files that
``--merge`` joins (``--done FILE`` skips the structures an earlier file holds).

    .venv/bin/python benchmarks/ml_moduli.py --calculator chgnet \
        --out examples/data/mp_binary_moduli_chgnet.csv [--limit N] [--shard 0/2]
    .venv/bin/python benchmarks/ml_moduli.py --merge OUT PART1 PART2 ...
    .venv/bin/python benchmarks/ml_moduli.py --summary examples/data/mp_binary_moduli_chgnet.csv
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from chgnet_elastic import DATA, Result, make_oracle, print_elastic, read_rows

FIELDS = ["mp_id", "formula", "n_sites", "bulk_modulus", "shear_modulus",
          "mechanically_stable", "status", "error", "seconds", "calculator", "model",
          "version"]
PACKAGES = {"chgnet": "chgnet", "sevennet": "sevenn"}
MODELS = {"chgnet": "0.3.0", "sevennet": "7net-0"}  # the pretrained weights used


def done_ids(path: Path) -> set[str]:
    """The mp_ids already written to ``path`` (none when it does not exist)."""
    return {row["mp_id"] for row in table_rows(path)} if path.exists() else set()


def shard(items: Sequence[object], spec: str) -> list[object]:
    """Every k-th item from the i-th, for ``spec`` = "i/k"."""
    index, _, count = spec.partition("/")
    i, k = int(index), int(count)
    if not 0 <= i < k:
        raise SystemExit(f"--shard {spec}: want i/k with 0 <= i < k")
    return list(items[i::k])


def compute(calculator: str, out: Path, limit: int | None, part: str, fmax: float,
            done: Sequence[Path] = ()) -> None:
    """Append one row per structure not yet in ``out`` (nor in ``done``), printing
    progress."""
    from matloop.protocols import Candidate

    rows = shard(read_rows(DATA), part)
    known = done_ids(out).union(*(done_ids(path) for path in done))
    todo = [r for r in rows if r.mp_id not in known][:limit]  # type: ignore[attr-defined]
    settings = {"fmax": fmax, "max_steps": 200, "elastic_strains": [0.005, 0.01],
                "unstable": "keep"}
    version = metadata.version(PACKAGES[calculator])
    print(f"{calculator} {version}: {len(todo)} structures to do into {out}, {len(known)} "
          "done already", flush=True)
    new_file = not out.exists()
    with tempfile.TemporaryDirectory(prefix="ml-moduli-") as tmp, \
            out.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        if new_file:
            writer.writeheader()
        oracle = make_oracle(calculator, "elastic", Path(tmp), settings)
        seconds: list[float] = []
        for i, row in enumerate(todo, 1):
            start = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                outcome = oracle.evaluate(Candidate(key=row.mp_id, label=row.mp_id,
                                                    structure=row.structure))
            elapsed = time.perf_counter() - start
            seconds.append(elapsed)
            details = outcome.provenance.get("details", {})
            writer.writerow({
                "mp_id": row.mp_id, "formula": row.formula, "n_sites": row.n_sites,
                "bulk_modulus": _number(outcome.values.get("bulk_modulus")),
                "shear_modulus": _number(outcome.values.get("shear_modulus")),
                "mechanically_stable": bool(details.get("mechanically_stable", False)),
                "status": "succeeded" if outcome.ok else outcome.reason,
                "error": "" if outcome.ok else (outcome.error or "")[:200],
                "seconds": f"{elapsed:.2f}", "calculator": calculator,
                "model": MODELS[calculator], "version": version})
            handle.flush()
            if i % 25 == 0 or i == len(todo):
                print(f"{i}/{len(todo)} done, {statistics.fmean(seconds):.2f} s per "
                      "structure", flush=True)


def _number(value: float | None) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.3f}"


def merge(out: Path, parts: Sequence[Path]) -> None:
    """Join shard files into ``out``, in the order of the structure file."""
    found = {row["mp_id"]: row for part in parts for row in table_rows(part)}
    order = [r.mp_id for r in read_rows(DATA)]
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(found[mp_id] for mp_id in order if mp_id in found)
    print(f"{out}: {sum(mp_id in found for mp_id in order)} of {len(order)} structures")


def summary(path: Path) -> None:
    """Errors of a table against the DFT moduli, as ``chgnet_elastic.py`` prints them."""
    dft = {row.mp_id: row for row in read_rows(DATA)}
    results = []
    for row in table_rows(path):
        ok = row["status"] == "succeeded"
        results.append(Result(
            row=dft[row["mp_id"]],
            bulk_modulus=float(row["bulk_modulus"]) if ok else math.nan,
            shear_modulus=float(row["shear_modulus"]) if ok else math.nan,
            stable=row["mechanically_stable"] == "True",
            reason=None if ok else row["status"], seconds=float(row["seconds"])))
    print(f"{path.name}: {len(results)} of {len(dft)} structures")
    print_elastic(results)


def table_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file, by column name."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calculator", choices=sorted(PACKAGES), default="chgnet")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--limit", type=int, default=None, help="at most this many now")
    parser.add_argument("--shard", default="0/1", help="i/k: every k-th structure from i")
    parser.add_argument("--fmax", type=float, default=0.05, help="eV/Å")
    parser.add_argument("--done", type=Path, nargs="+", default=[],
                        help="files whose structures are done already (other shards)")
    parser.add_argument("--summary", type=Path, default=None,
                        help="print a table's errors against DFT; compute nothing")
    parser.add_argument("--merge", type=Path, nargs="+", metavar="FILE",
                        help="OUT PART ...: join shard files")
    args = parser.parse_args(argv)
    if args.merge:
        merge(args.merge[0], args.merge[1:])
        return
    if args.summary:
        summary(args.summary)
        return
    if args.out is None:
        parser.error("--out is required")
    import torch

    torch.set_num_threads(1)
    compute(args.calculator, args.out, args.limit, args.shard, args.fmax, args.done)


if __name__ == "__main__":
    sys.exit(main())
