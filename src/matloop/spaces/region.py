"""A box space's feasible region in the models' feature space, for refining picks.

The loop picks from a box space's drawn candidates; ``loop.refine`` then moves each pick
continuously within the region. Every ranged parameter that varies over the pool is
one min-max scaled feature (of its base-10 logarithm when log-scaled), so a linear
constraint on the values is linear in the features. Only the continuous ranges move:
integers and options keep the pick's values. A pick moves only within the box of its
nearest drawn candidates (``Region.cell``), so a refined candidate stays inside the
pool's range: it never changes how the pool is scaled, and the features of every row
stay what they were.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matloop.campaigns.constraints import LinearConstraint, parse_constraint
from matloop.campaigns.schema import BoxSpace
from matloop.spaces.box import feasible, rounded
from matloop.spaces.featurised import Featurised

Linear = tuple[list[int], list[float], float]  # feature indices, coefficients, rhs


@dataclass(frozen=True)
class Region:
    """``space``'s region over ``featurised``'s columns. ``axes[name]`` is the feature
    column of each ranged parameter that varies, with the value at feature 0 (``low``,
    of the logarithm when log-scaled) and the value span (``span``) over the pool;
    ``free`` are the columns of the continuous ranges (those refined)."""

    space: BoxSpace
    featurised: Featurised
    axes: dict[str, tuple[int, float, float]]
    free: tuple[int, ...]
    constraints: tuple[LinearConstraint, ...]

    @classmethod
    def of(cls, space: BoxSpace, featurised: Featurised) -> Region:
        pool = featurised.pool
        axes: dict[str, tuple[int, float, float]] = {}
        for k, name in enumerate(pool.names):
            parameter = space.parameters[name]
            label = f"log10({name})" if parameter.log else name
            if parameter.options is not None or label not in featurised.names:
                continue
            column = np.log10(pool.values[:, k]) if parameter.log else pool.values[:, k]
            axes[name] = (featurised.names.index(label), float(column.min()),
                          float(np.ptp(column)))
        free = tuple(j for name, (j, _, _) in axes.items()
                     if not space.parameters[name].integer)
        constraints = tuple(parse_constraint(text, pool.names) for text in space.constraints)
        return cls(space, featurised, axes, free, constraints)

    def cell(self, start: np.ndarray) -> np.ndarray:
        """``(2, d)`` bounds of the refinement from ``start`` ``(d,)``: the box that
        holds its ``2 × free`` nearest drawn candidates, shrunk by half towards it. A
        refined pick stays nearer its own pick than the drawn candidates around it are,
        so the search goes where the draw's candidates would take it (and not, e.g., to
        the region's faces, where a GP's variance and so its acquisition are highest)."""
        features = self.featurised.features
        distance = ((features - start) ** 2).sum(axis=1)
        k = min(2 * len(self.free) + 1, len(features))
        near = features[np.argpartition(distance, k - 1)[:k]]
        return np.stack([start + (near.min(axis=0) - start) / 2,
                         start + (near.max(axis=0) - start) / 2])

    def linear(self) -> tuple[list[Linear], list[Linear]]:
        """The constraints in features, in BoTorch's form (``Σ a·x >= rhs`` and
        ``Σ a·x = rhs``): inequalities, equalities. A parameter constant over the pool
        moves to the right-hand side."""
        pool = self.featurised.pool
        inequalities, equalities = [], []
        for c in self.constraints:
            columns, coefficients, rhs = [], [], c.bound
            for name, a in c.coefficients.items():
                if name in self.axes:
                    j, low, span = self.axes[name]
                    columns.append(j)
                    coefficients.append(a * span)
                    rhs -= a * low
                else:
                    rhs -= a * float(pool.values[0, pool.names.index(name)])
            if c.relation == "=":
                equalities.append((columns, coefficients, rhs))
            elif c.relation == ">=":
                inequalities.append((columns, coefficients, rhs))
            else:
                inequalities.append((columns, [-a for a in coefficients], -rhs))
        return inequalities, equalities

    def candidate(self, features: np.ndarray, row: int) -> tuple[np.ndarray, np.ndarray]:
        """The candidate at ``features`` ``(d,)`` with pool row ``row``'s integers and
        options: its values ``(k,)`` rounded to each parameter's resolution, and their
        features ``(d,)``."""
        pool = self.featurised.pool
        values = pool.values[row].copy()
        out = self.featurised.features[row].copy()
        for name, (j, low, span) in self.axes.items():
            if j not in self.free:
                continue
            x = low + float(features[j]) * span
            if self.space.parameters[name].log:
                x = 10.0 ** x
            value = float(rounded(self.space, name, np.array([x]))[0])
            values[pool.names.index(name)] = value
            scaled = np.log10(value) if self.space.parameters[name].log else value
            out[j] = (scaled - low) / span
        return values, out

    def admits(self, values: np.ndarray) -> bool:
        """Whether ``values`` ``(k,)`` lie in every range and meet every constraint (up
        to rounding) and are no candidate of the pool already."""
        pool = self.featurised.pool
        if not feasible(self.space, pool.names, values[None, :], list(self.constraints))[0]:
            return False
        return not bool((pool.values == values).all(axis=1).any())
