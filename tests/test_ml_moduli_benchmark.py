"""benchmarks/ml_moduli.py (the ML-potential moduli table) and benchmarks/fidelity.py
(the multi-fidelity replay) still run against the current code, at tiny settings, and
the shipped CHGNet and SevenNet tables are whole and consistent with the structures they
were made from."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "benchmarks" / "ml_moduli.py"
REPLAY = ROOT / "benchmarks" / "fidelity.py"
STRUCTURES = ROOT / "examples" / "data" / "mp_binary_structures_le4.csv"
CHGNET_TABLE = ROOT / "examples" / "data" / "mp_binary_moduli_chgnet.csv"
SEVENNET_TABLE = ROOT / "examples" / "data" / "mp_binary_moduli_sevennet.csv"


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(("path", "calculator"), [(CHGNET_TABLE, "chgnet"),
                                                  (SEVENNET_TABLE, "sevennet")])
def test_a_shipped_table_covers_every_structure_once(path: Path, calculator: str) -> None:
    table = rows(path)
    structures = rows(STRUCTURES)
    assert [r["mp_id"] for r in table] == [r["mp_id"] for r in structures]
    assert {r["calculator"] for r in table} == {calculator}
    for row in table:
        if row["status"] == "succeeded":
            assert float(row["bulk_modulus"]) == float(row["bulk_modulus"])  # a number
        else:
            assert row["bulk_modulus"] == "" and row["error"]
        assert float(row["seconds"]) > 0


@pytest.mark.slow
def test_the_table_script_resumes_shards_and_merges(tmp_path: Path) -> None:
    pytest.importorskip("chgnet")
    parts = [tmp_path / "part-0.csv", tmp_path / "part-1.csv"]
    for i, part in enumerate(parts):
        done = subprocess.run([sys.executable, str(TABLE), "--calculator", "chgnet",
                               "--out", str(part), "--limit", "1", "--shard", f"{i}/2"],
                              capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
    again = subprocess.run([sys.executable, str(TABLE), "--out", str(parts[0]), "--limit",
                            "1", "--shard", "0/2", "--done", str(parts[1])],
                           capture_output=True, text=True, timeout=600, check=False)
    assert "1 done already" in again.stdout or "2 done already" in again.stdout
    assert len(rows(parts[0])) == 2  # one more, the first not repeated
    merged = tmp_path / "merged.csv"
    subprocess.run([sys.executable, str(TABLE), "--merge", str(merged), *map(str, parts)],
                   check=True, capture_output=True, timeout=120)
    ids = [r["mp_id"] for r in rows(merged)]
    order = [r["mp_id"] for r in rows(STRUCTURES)]
    assert sorted(ids, key=order.index) == ids and len(set(ids)) == 3
    summary = subprocess.run([sys.executable, str(TABLE), "--summary", str(merged)],
                             capture_output=True, text=True, timeout=120, check=False)
    assert "merged.csv: 3 of 1985 structures" in summary.stdout, summary.stderr[-2000:]


@pytest.mark.slow
def test_the_replay_script_prints_its_table(tmp_path: Path) -> None:
    out = tmp_path / "runs.json"
    done = subprocess.run([sys.executable, str(REPLAY), "--seeds", "1", "--workers", "1",
                           "--strategies", "funnel", "funnel-noise", "--json", str(out)],
                          capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("| funnel")]
    assert len(lines) == 2 and "| potential |" in lines[0] and "| noise |" in lines[1]
    again = subprocess.run([sys.executable, str(REPLAY), "--tabulate", str(out)],
                           capture_output=True, text=True, timeout=120, check=False)
    assert [x for x in again.stdout.splitlines() if x.startswith("| funnel")] == lines
