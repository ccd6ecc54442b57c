"""The house rules, checked on the source: arrows between packages run one way, the
parts that must not read the campaign schema do not, and modules stay small.

Every ``import`` counts, also those inside functions and under ``TYPE_CHECKING``: a
lazy import is still a dependency."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "matloop"
MAX_LINES = 400

# (part, parts it must never import)
FORBIDDEN = [
    ("lab", {"loop", "cli", "reporting", "web"}),
    ("oracles", {"campaigns", "spaces", "loop", "lab", "store", "cli", "reporting", "web"}),
    ("features", {"campaigns", "spaces", "loop", "lab", "store", "oracles", "cli", "web"}),
    ("surrogates", {"campaigns", "spaces", "loop", "lab", "store", "oracles", "cli",
                    "web"}),
    ("store", {"campaigns", "spaces", "loop", "lab", "oracles", "surrogates", "cli",
               "web"}),
    ("campaigns", {"spaces", "features", "loop", "lab", "store", "oracles", "surrogates",
                   "cli", "reporting", "web"}),
    ("reporting", {"loop", "cli", "store", "lab", "web"}),
    ("loop", {"cli", "web"}),
    ("web", {"cli"}),  # the page calls the session, as the command line does
]


def part_of(module: str) -> str:
    """``matloop.loop.run`` -> ``loop``; a top-level module is its own part."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "matloop"


def module_name(path: Path) -> str:
    relative = path.relative_to(SRC.parent).with_suffix("")
    name = ".".join(relative.parts)
    return name.removesuffix(".__init__")


def imports_of(path: Path) -> set[str]:
    """Every matloop module ``path`` imports (a ``from x import y`` counts as ``x`` and,
    when ``x.y`` is a module, as ``x.y`` too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and \
                node.module.startswith("matloop"):
            found.add(node.module)
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                if (SRC.parent / candidate.replace(".", "/")).with_suffix(".py").exists():
                    found.add(candidate)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("matloop")}
    return found


def graph() -> dict[str, set[str]]:
    return {module_name(path): imports_of(path) for path in SRC.rglob("*.py")}


def package_edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for module, targets in graph().items():
        for target in targets:
            if part_of(module) != part_of(target):
                edges[part_of(module)].add(part_of(target))
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(edges):
        if node not in index:
            visit(node)
    return found


def test_no_circle_between_packages() -> None:
    assert cycles(package_edges()) == []


def test_no_circle_between_modules() -> None:
    modules = graph()
    edges = {m: {t for t in targets if t in modules and t != m}
             for m, targets in modules.items()}
    # a package's __init__ naming its own submodules is not a circle of meaning
    edges = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in edges.items()}
    assert cycles(edges) == []


@pytest.mark.parametrize(("part", "never"), FORBIDDEN)
def test_forbidden_arrows(part: str, never: set[str]) -> None:
    assert package_edges().get(part, set()) & never == set()


def test_the_checker_sees_lazy_imports(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from matloop.loop.session import Session\n")
    assert "matloop.loop.session" in imports_of(source)
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c"]]


def test_modules_stay_small() -> None:
    large = {module_name(p): n for p in SRC.rglob("*.py")
             if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert large == {}
