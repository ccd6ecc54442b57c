"""Linear constraints between the parameters of a box space, written as text.

``"Co + Ni + Fe = 1"``, ``"Co <= 0.45"``, ``"2*a + b <= 3"``, ``"a - 0.5 b >= 0"``: a sum
of terms (a number, optionally followed by ``*``, times a parameter name), a relation
(``<=``, ``>=``, ``=`` or ``==``) and a number. Parsed by a small tokenizer, never
evaluated as code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RELATIONS = ("<=", ">=", "==", "=")
_TERM = re.compile(r"\s*([+-]?)\s*(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)?"
                   r"\s*\*?\s*([A-Za-z_][A-Za-z0-9_]*)\s*")


@dataclass(frozen=True)
class LinearConstraint:
    """``Σ coefficients[name] · x[name]  relation  bound``; ``relation`` is ``"<="``,
    ``">="`` or ``"="``; ``text`` is the constraint as written."""

    coefficients: dict[str, float]
    relation: str
    bound: float
    text: str

    def residual(self, names: Sequence[str], values: np.ndarray) -> np.ndarray:
        """``Σ a_j x_j − bound`` per row of ``values`` ``(n, k)`` (columns ``names``)."""
        total = np.zeros(len(values))
        for name, a in self.coefficients.items():
            total += a * values[:, list(names).index(name)]
        return total - self.bound

    def holds(self, names: Sequence[str], values: np.ndarray, tolerance: float
              ) -> np.ndarray:
        """Whether each row satisfies the constraint within ``tolerance`` ``(n,)``."""
        r = self.residual(names, values)
        if self.relation == "<=":
            return r <= tolerance
        if self.relation == ">=":
            return r >= -tolerance
        return np.abs(r) <= tolerance


def parse_constraint(text: str, names: Sequence[str]) -> LinearConstraint:
    """The constraint ``text`` over the parameters ``names``; ``ValueError`` saying what
    is wrong (no relation, a term that is not ``number * name``, an unknown name)."""
    relation = next((r for r in RELATIONS if r in text), None)
    if relation is None:
        raise ValueError(f"constraint {text!r} has no relation (<=, >= or =)")
    left, _, right = text.partition(relation)
    try:
        bound = float(right)
    except ValueError:
        raise ValueError(f"constraint {text!r}: the right side must be a number, "
                         f"not {right.strip()!r}") from None
    coefficients: dict[str, float] = {}
    position = 0
    left = left.strip()
    while position < len(left):
        match = _TERM.match(left, position)
        if match is None or match.end() == position or (position and not match.group(1)):
            raise ValueError(f"constraint {text!r}: cannot read {left[position:].strip()!r} "
                             "(terms are a number times a parameter, joined by + or -)")
        sign, number, name = match.groups()
        if name not in names:
            raise ValueError(f"constraint {text!r} names {name!r}, which is not a "
                             f"parameter ({', '.join(names)})")
        value = (float(number) if number else 1.0) * (-1.0 if sign == "-" else 1.0)
        coefficients[name] = coefficients.get(name, 0.0) + value
        position = match.end()
    if not coefficients:
        raise ValueError(f"constraint {text!r} has no parameter on its left side")
    return LinearConstraint(coefficients, "=" if relation == "==" else relation, bound,
                            text)
