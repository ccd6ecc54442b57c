"""A box space's candidates: a space-filling draw from the region its parameters'
ranges and linear constraints leave, rounded to each parameter's resolution.

Without constraints the ranges are covered by a scrambled Sobol sequence; with them,
BoTorch's hit-and-run polytope sampler draws from the feasible region (uniform over it,
``get_polytope_samples``). Integers are drawn over their range widened by half a step
and rounded; options are drawn uniformly, each parameter on its own. Rows that break a
constraint after rounding (beyond the rounding's own reach) are dropped, repeats are
merged, and what is left is a finite pool, which every part of matloop treats as any
other: stored, proposed, imported and exported by value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from matloop.campaigns.constraints import LinearConstraint, parse_constraint
from matloop.campaigns.schema import BoxSpace
from matloop.errors import ConfigError
from matloop.spaces.pool import Pool, unique_rows

BURN_IN = 1000  # hit-and-run steps before the first draw
THINNING = 4  # steps between draws (BoTorch's default 32 took 21 s for 5,000 draws in 8-D)
CACHE_FILE = "box-candidates.npz"


def box_pool(space: BoxSpace, cache_dir: Path | None = None) -> Pool:
    """``space.samples`` draws, rounded, checked against every constraint and merged
    where equal; ``ConfigError`` when no draw survives. ``cache_dir`` (the campaign's
    scratch folder) keeps the draw for the next session of the same space."""
    names = tuple(space.parameters)
    ranged = [n for n in names if space.parameters[n].options is None]
    constraints = [parse_constraint(text, names) for text in space.constraints]
    rng = np.random.default_rng(space.seed)
    values = np.zeros((space.samples, len(names)))
    if ranged:
        drawn = _cached_draw(space, ranged, constraints, cache_dir)
        for j, name in enumerate(ranged):
            values[:, names.index(name)] = rounded(space, name, drawn[:, j])
    categories = {}
    for j, name in enumerate(names):
        options = space.parameters[name].options
        if options is not None:
            categories[name] = tuple(sorted(options))
            values[:, j] = rng.integers(len(options), size=space.samples)
    kept = feasible(space, names, values, constraints)
    if not kept.any():
        raise ConfigError("space.constraints: no drawn candidate meets every constraint "
                          "after rounding to the parameters' resolution; use a finer "
                          "'resolution'")
    logged = tuple(n for n in ranged if space.parameters[n].log)
    integers = tuple(n for n in ranged if space.parameters[n].integer)
    return unique_rows(Pool(kind="inputs", names=names, values=values[kept],
                            categories=categories, log_inputs=logged, integers=integers))


def feasible(space: BoxSpace, names: tuple[str, ...], values: np.ndarray,
             constraints: list[LinearConstraint]) -> np.ndarray:
    """Rows ``(n,)`` of ``values`` ``(n, k)`` within every range and constraint; a
    constraint is allowed the error that rounding each of its terms can make."""
    ok = np.ones(len(values), dtype=bool)
    for j, name in enumerate(names):
        parameter = space.parameters[name]
        if parameter.options is None:
            assert parameter.low is not None and parameter.high is not None
            ok &= (values[:, j] >= parameter.low) & (values[:, j] <= parameter.high)
    for c in constraints:
        slack = sum(abs(a) * space.parameters[n].step / 2 for n, a in c.coefficients.items())
        ok &= c.holds(names, values, slack * (1 + 1e-9) + 1e-12)
    return ok


def _cached_draw(space: BoxSpace, ranged: list[str], constraints: list[LinearConstraint],
                 cache_dir: Path | None) -> np.ndarray:
    """``_draw_ranges``, read from ``cache_dir`` when the same space (and BoTorch
    version) drew it before."""
    import hashlib

    import botorch

    key = hashlib.sha256((space.model_dump_json(exclude={"refine"}) + botorch.__version__)
                         .encode()).hexdigest()
    path = None if cache_dir is None else Path(cache_dir) / CACHE_FILE
    if path is not None and path.exists():
        with np.load(path) as stored:
            if str(stored["key"]) == key:
                return np.asarray(stored["drawn"])
    drawn = _draw_ranges(space, ranged, constraints)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, key=key, drawn=drawn)
    return drawn


def _draw_ranges(space: BoxSpace, ranged: list[str], constraints: list[LinearConstraint]
                 ) -> np.ndarray:
    """``(samples, len(ranged))`` points in the ranges (integers widened by half a step,
    log-scaled ones drawn evenly in their logarithm), within the constraints."""
    low = np.array([_low(space, n) for n in ranged])
    high = np.array([_high(space, n) for n in ranged])
    logged = np.array([bool(space.parameters[n].log) for n in ranged])
    low[logged], high[logged] = np.log10(low[logged]), np.log10(high[logged])
    drawn = _draw_box(space, ranged, constraints, low, high)
    drawn[:, logged] = 10.0 ** drawn[:, logged]
    return drawn


def _draw_box(space: BoxSpace, ranged: list[str], constraints: list[LinearConstraint],
              low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """``(samples, len(ranged))`` points between ``low`` and ``high`` (log-scaled ranges
    as their logarithms, which no constraint names) within the constraints."""
    import torch

    if not constraints:
        from torch.quasirandom import SobolEngine

        unit = SobolEngine(len(ranged), scramble=True, seed=space.seed).draw(space.samples)
        return low + unit.double().numpy() * (high - low)
    from botorch.utils.sampling import get_polytope_samples

    index = {n: j for j, n in enumerate(ranged)}
    inequalities, equalities = [], []
    for c in constraints:
        columns = torch.tensor([index[n] for n in c.coefficients])
        a = torch.tensor(list(c.coefficients.values()), dtype=torch.double)
        if c.relation == "=":
            equalities.append((columns, a, c.bound))
        elif c.relation == ">=":  # BoTorch's form: Σ a x >= b
            inequalities.append((columns, a, c.bound))
        else:
            inequalities.append((columns, -a, -c.bound))
    bounds = torch.tensor(np.stack([low, high]), dtype=torch.double)
    try:
        drawn = get_polytope_samples(space.samples, bounds, inequalities or None,
                                     equalities or None, seed=space.seed,
                                     n_burnin=BURN_IN, n_thinning=THINNING)
    except ValueError as exc:  # e.g. a region of no volume that the chain cannot enter
        raise ConfigError(f"space.constraints: cannot draw candidates from the region "
                          f"the constraints leave ({exc})") from None
    return drawn.numpy()


def _low(space: BoxSpace, name: str) -> float:
    parameter = space.parameters[name]
    assert parameter.low is not None
    return parameter.low - (0.5 if parameter.integer else 0.0)


def _high(space: BoxSpace, name: str) -> float:
    parameter = space.parameters[name]
    assert parameter.high is not None
    return parameter.high + (0.5 if parameter.integer else 0.0)


def rounded(space: BoxSpace, name: str, x: np.ndarray) -> np.ndarray:
    """``x`` rounded to multiples of the parameter's step from its ``low``, kept in its
    range (a value rounded past ``high`` or ``low`` is moved back by a step)."""
    parameter = space.parameters[name]
    assert parameter.low is not None and parameter.high is not None
    if parameter.log:  # 4 significant digits, kept in the range
        digits = 3 - np.floor(np.log10(x)).astype(int)
        rounded = np.array([round(v, d) for v, d in zip(x, digits, strict=True)])
        return np.clip(rounded, parameter.low, parameter.high)
    step = parameter.step
    k = np.round((x - parameter.low) / step)
    top = np.floor((parameter.high - parameter.low) / step + 1e-9)
    digits = max(0, 3 - int(np.floor(np.log10(step))))  # no float noise in keys
    return np.round(parameter.low + np.clip(k, 0, top) * step, digits)
