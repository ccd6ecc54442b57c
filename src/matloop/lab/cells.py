"""One cell of a results sheet read as what its column holds: a number, a whole number,
a chemical formula or an input of a candidate (a number, or a categorical option)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from matloop.protocols import MAX_MAGNITUDE
from matloop.spaces.categories import find_option, listed
from matloop.spaces.pool import FRACTION_DIGITS


def input_cell(text: str, options: Sequence[str] | None, column: str
               ) -> tuple[float | str | None, str]:
    """An input cell: ``(value, "")``, a finite number or (``options`` given, for a
    categorical column) the option it names; ``(None, why)`` when it is neither."""
    if not text:
        return None, "empty: the candidate needs every input"
    if options is not None:
        option = find_option(options, text)
        if option is None:
            return None, (f"is not an option of the pool's column {column!r} (its options: "
                          f"{listed(options)})")
        return option, ""
    value = number(text)
    if value is None or not math.isfinite(value):
        return None, "is not a finite number"
    if too_large(value):
        return None, f"is beyond {MAX_MAGNITUDE:g} in size"
    return value, ""


NUMBER = re.compile(r"[+-]?((\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|nan|inf|infinity)",
                    re.IGNORECASE)


def number(text: str) -> float | None:
    """A cell's number by one strict rule: decimal digits with an optional sign, point and
    exponent (``12``, ``-0.5``, ``3.2e-4``), or NaN/inf spelled out (which callers refuse
    as not finite); anything else (``3_25.42``, ``0x1A``, ``1,5``) is not a number."""
    text = text.strip()
    return float(text) if NUMBER.fullmatch(text) else None


def too_large(value: float) -> bool:
    """Beyond ``MAX_MAGNITUDE`` in size: not a measurement the models can use."""
    return abs(value) > MAX_MAGNITUDE


def integer(text: str) -> int | None:
    value = number(text)
    return int(value) if value is not None and math.isfinite(value) and value == int(value) \
        else None


def formula(text: str) -> dict[str, float] | None:
    """Element -> atomic fraction of a formula (pymatgen), None when it is not one."""
    if not text:
        return None
    from pymatgen.core import Composition
    from pymatgen.core.periodic_table import Element

    try:
        composition = Composition(text)
        if composition.num_atoms <= 0:
            return None
    except (ValueError, KeyError, TypeError):
        return None
    amounts = composition.fractional_composition.get_el_amt_dict()
    if not all(Element.is_valid_symbol(el) for el in amounts):
        return None
    return {el: round(float(v), FRACTION_DIGITS + 6) for el, v in sorted(amounts.items())}
