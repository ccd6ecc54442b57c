"""The Python examples in the guides run as printed: each ```python block of the pages
listed here is executed and its documented output checked."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.S)


def test_the_fidelities_guide_example_prints_what_the_page_says() -> None:
    page = DOCS / "guides" / "fidelities.md"
    (block,) = python_blocks(page)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(block, str(page), "exec"), {})
    first, second = printed.getvalue().splitlines()
    # the page shows 0.89; a fit on another CPU may land a hundredth or two away
    found = re.fullmatch(r"pays: \['pays'\] correlation: \[\[1\.\s+(0\.\d+)\]\]", first)
    assert found is not None and abs(float(found.group(1)) - 0.89) <= 0.05, first
    assert second == "4 target and 50 cheap evaluations next"
    text = page.read_text(encoding="utf-8").replace("\n", " ")
    assert "`pays: ['pays'] correlation: [[1.   0.89]]`" in text and f"`{second}`" in text
