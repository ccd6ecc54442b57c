"""A stop (SIGTERM or Ctrl-C) that lands while the model libraries load ends the run as any
stop does: exit 130 with one line, and the campaign then runs to its budget. Before, a
half-imported torch made the run crash while it recorded what it had finished (exit 70,
"cannot import name 'nn' from partially initialized module 'torch'"); now the libraries
load, with stops held, before the first evaluation."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from matloop.api import Campaign

# Runs the CLI and signals itself when the import system first looks for module argv[1]:
# the moment a stop from outside could land inside that import.
SIGNAL_DURING_IMPORT = textwrap.dedent("""
    import importlib.abc, os, signal, sys

    class SignalOnImport(importlib.abc.MetaPathFinder):
        def __init__(self, module, number):
            self.module, self.number, self.sent = module, number, False

        def find_spec(self, fullname, path, target=None):
            if fullname == self.module and not self.sent:
                self.sent = True
                os.kill(os.getpid(), self.number)
            return None

    if __name__ == "__main__":
        sys.meta_path.insert(0, SignalOnImport(sys.argv[1], int(sys.argv[2])))
        from matloop.cli.main import app
        sys.argv = ["matloop", *sys.argv[3:]]
        app()
""")


@pytest.mark.parametrize(("module", "number"), [
    ("torch.library", signal.SIGTERM), ("torch.fx", signal.SIGINT),
    ("torch.nn.modules.conv", signal.SIGTERM)])
def test_a_stop_while_torch_loads_exits_130_and_the_run_resumes(
        crossed_barrel: Callable[..., Path], tmp_path: Path, module: str, number: int) -> None:
    path = crossed_barrel(budget=7, initial=4)
    script = tmp_path / "signal_during_import.py"
    script.write_text(SIGNAL_DURING_IMPORT)
    stopped = subprocess.run(
        [sys.executable, str(script), module, str(int(number)), "run", str(path), "--quiet"],
        capture_output=True, text=True, timeout=600)
    assert stopped.returncode == 130, stopped.stderr
    assert stopped.stderr.strip().splitlines() == [
        "interrupted: everything finished is saved; run again to resume"]
    session = Campaign.from_file(path).session()
    session.run()
    assert session.status()["evaluations"] == {"succeeded": 7, "failed": 0, "pending": 0}
    assert session.evaluations()["candidate_id"].nunique() == 7
