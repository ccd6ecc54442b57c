"""Cost-aware choice of candidate and fidelity, after the augmented expected improvement of
Huang et al. (Struct. Multidiscip. Optim. 32, 2006), for every matloop acquisition.

For a candidate x and a fidelity l (0 the target, the others cheaper sources),

    α(x, l) = A(x) · I_l(x) · c_0 / c_l

where A is the target set's acquisition at the target fidelity (expected improvement,
P(hit), hypervolume improvement: computed on the multi-fidelity model's target output, so
every cheap measurement already informs it), I_l the share of the target value's
posterior variance that a measurement at l removes (``MultiFidelityGP.information``:
its squared posterior correlation with the target value, noise included; averaged over
the properties that l measures) and c_l its cost. A cheap source whose correlation with
the target is near zero, or that is pure noise, has I_l near 0; one that tracks the
target is bought while it is cheap per unit of information.

The model's correlation is a point estimate, and for a source that is mostly noise its
likelihood is flat, so the estimate never quite reaches zero; bought at a cost ratio of
1,000 even a correlation of 0.1 would look worth its price. So a source is bought only
once the evidence shows it pays (``verdicts``): on the candidates measured at both
fidelities, the lower confidence bound of the rank correlation of the two fidelities'
values must exceed the break-even correlation √(c_l / c_0), at which a measurement would
remove as much target variance per unit cost as a target measurement does. Until then
the caller models the target on its own and measures each target pick at the undecided
source too (a probe, at the source's small cost), which builds the evidence; a source
whose upper bound falls below break-even is not measured again.

A cycle spends an allowance (the cost of ``batch_size`` target evaluations): pairs are
taken in order of α, at most one fidelity per candidate per cycle, while they fit, and
at most ``limits[l]`` at fidelity l. The limits matter for a very cheap source: without
one, the first cycle would screen the whole pool at once, and each cycle's cheap
measurements could not teach the next cycle's model where to screen.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from matloop.campaigns.schema import Campaign

if TYPE_CHECKING:
    from matloop.store import StoreProtocol
    from matloop.surrogates.multifidelity import MultiFidelityGP


@dataclass(frozen=True)
class Pick:
    """One chosen evaluation: ``row`` of the pool at ``fidelity``."""

    row: int
    fidelity: int


CONFIDENCE_Z = 1.0  # one-sided bounds at 84 % confidence
MIN_PAIRS = 4
PAYS, UNDECIDED, USELESS = "pays", "undecided", "useless"


def verdicts(target: np.ndarray, cheap: np.ndarray, cost_ratio: float) -> list[str]:
    """Per property, whether a cheap source pays for itself, from the paired values
    ``(n, m)`` of candidates measured at both fidelities (NaN: missing).

    The Spearman correlation's confidence interval (Fisher z, standard error
    1.03 / √(n − 3)) is set against the break-even correlation √``cost_ratio`` (cheap
    cost / target cost): ``"pays"`` when its lower bound is above, ``"useless"`` when its
    upper bound is below, else ``"undecided"`` (so with fewer than ``MIN_PAIRS`` pairs)."""
    from scipy.stats import spearmanr

    break_even = float(np.sqrt(cost_ratio))
    out = []
    for j in range(target.shape[1]):
        both = np.isfinite(target[:, j]) & np.isfinite(cheap[:, j])
        n = int(both.sum())
        if n < MIN_PAIRS or np.ptp(target[both, j]) == 0 or np.ptp(cheap[both, j]) == 0:
            out.append(UNDECIDED)
            continue
        rho = float(spearmanr(target[both, j], cheap[both, j]).statistic)
        z = np.arctanh(np.clip(rho, -0.999999, 0.999999))
        half = CONFIDENCE_Z * 1.03 / np.sqrt(n - 3)
        out.append(PAYS if np.tanh(z - half) > break_even
                   else USELESS if np.tanh(z + half) < break_even else UNDECIDED)
    return out


def log_information(surrogate: MultiFidelityGP, X: np.ndarray, measures: np.ndarray
                    ) -> np.ndarray:
    """``(N, L)``: log of the information a measurement at each fidelity gives about the
    target value at each row of ``X`` ``(N, d)``; ``measures`` ``(L, m)`` says which
    properties each fidelity measures and pays for (``verdicts``). The
    target fidelity's own is the share of the variance a measurement removes."""
    L = surrogate.fidelities
    out = np.empty((len(X), L))
    for level in range(L):
        which = np.asarray(measures[level], dtype=bool)
        if not which.any():
            out[:, level] = -np.inf
            continue
        information = surrogate.information(X, level)[:, which].mean(axis=1)
        with np.errstate(divide="ignore"):
            out[:, level] = np.log(information)
    return out


def choose_pairs(log_acquisition: np.ndarray, log_info: np.ndarray, open_pairs: np.ndarray,
                 costs: Sequence[float], allowance: float,
                 limits: Sequence[int | None] | None = None) -> list[Pick]:
    """The cycle's evaluations, best α first, while their costs fit in ``allowance``.

    ``log_acquisition`` ``(N,)`` is log A at the target fidelity; ``log_info`` ``(N, L)``
    from ``log_information``; ``open_pairs`` ``(N, L)`` bool: (candidate, fidelity) pairs
    not yet tried; ``costs`` ``(L,)`` in any one unit; ``limits`` ``(L,)`` the most picks
    per fidelity (None: no limit). At least one pick when any pair is open, even beyond
    the allowance; never two fidelities of one candidate."""
    cost = np.asarray(costs, dtype=float)
    score = log_acquisition[:, None] + log_info + np.log(cost[0] / cost)[None, :]
    score = np.where(open_pairs & np.isfinite(score), score, -np.inf)
    order = np.argsort(-score, axis=None, kind="stable")
    most = [math.inf if limit is None else limit for limit in (limits or [None] * len(cost))]
    count = [0] * len(cost)
    picks: list[Pick] = []
    taken: set[int] = set()
    spent = 0.0
    for flat in order:
        row, level = divmod(int(flat), score.shape[1])
        if not np.isfinite(score[row, level]):
            break
        if row in taken or count[level] >= most[level] or (
                picks and spent + cost[level] > allowance):
            continue
        picks.append(Pick(row, level))
        taken.add(row)
        count[level] += 1
        spent += cost[level]
        if spent + cost.min() > allowance:
            break
    return picks


def source_costs(campaign: Campaign, store: StoreProtocol, campaign_id: int
                 ) -> dict[str | None, float | None]:
    """Cost of one evaluation per fidelity (None: the campaign's own oracle): as given,
    else the measured median seconds, else None (nothing measured yet)."""
    measured = store.durations(campaign_id)
    given: dict[str | None, float | None] = {None: campaign.oracle.cost}
    given.update({f.name: f.cost for f in campaign.fidelities})
    return {name: cost if cost is not None else
            (statistics.median(measured[name]) if measured.get(name) else None)
            for name, cost in given.items()}


def spent(campaign: Campaign, store: StoreProtocol, campaign_id: int) -> float:
    """What the campaign's finished evaluations cost, every fidelity together: given
    costs times the evaluations made, or their measured seconds."""
    measured = store.durations(campaign_id)
    total = 0.0
    for name, cost in [(None, campaign.oracle.cost),
                       *((f.name, f.cost) for f in campaign.fidelities)]:
        if cost is None:
            total += sum(measured.get(name, ()))
        else:
            counts = store.counts(campaign_id, name)
            total += cost * (counts["succeeded"] + counts["failed"])
    return total


@dataclass(frozen=True)
class SourceVerdict:
    """A cheaper source's standing: its name, which target properties it measures
    ``(m,)``, the verdict per property (``PAYS``, ``UNDECIDED``, ``USELESS``; undecided
    for one it does not measure), the candidates measured by it and by the target
    (``pairs``) and their Spearman correlation per property (NaN: too few)."""

    name: str
    measures: np.ndarray
    found: tuple[str, ...]
    pairs: int
    rank_correlation: tuple[float, ...]

    @property
    def pays(self) -> np.ndarray:
        """``(m,)`` bool: the measured properties for which the source pays."""
        return np.array([v == PAYS for v in self.found]) & self.measures

    @property
    def useless(self) -> bool:
        """Useless for every property it measures: no longer measured."""
        return all(v == USELESS for v, m in zip(self.found, self.measures, strict=True)
                   if m)


def standing(campaign: Campaign, store: StoreProtocol, campaign_id: int
             ) -> list[SourceVerdict]:
    """Every source's verdict, from the candidates measured by it and by the target."""
    from scipy.stats import spearmanr

    properties = campaign.properties
    m = len(properties)
    costs = source_costs(campaign, store, campaign_id)
    rows, values = store.training_data(campaign_id, properties)
    target = dict(zip(rows, np.asarray(values, dtype=float).reshape(len(rows), m),
                      strict=True))
    out = []
    for fidelity in campaign.fidelities:
        measures = np.array([p in campaign.measured_by(fidelity) for p in properties])
        cheap_rows, cheap_values = store.training_data(campaign_id, properties,
                                                       fidelity.name)
        both = [k for k, row in enumerate(cheap_rows) if row in target]
        paired_cheap = np.asarray(cheap_values, dtype=float).reshape(-1, m)[both]
        paired_target = np.array([target[cheap_rows[k]] for k in both]).reshape(-1, m)
        found = [UNDECIDED] * m
        cost, top = costs[fidelity.name], costs[None]
        if cost and top and both:
            found = verdicts(paired_target, paired_cheap, cost / top)
        rho = []
        for j in range(m):
            ok = np.isfinite(paired_target[:, j]) & np.isfinite(paired_cheap[:, j])
            enough = ok.sum() >= MIN_PAIRS and np.ptp(paired_target[ok, j]) > 0 and \
                np.ptp(paired_cheap[ok, j]) > 0
            rho.append(float(spearmanr(paired_target[ok, j], paired_cheap[ok, j]).statistic)
                       if enough else math.nan)
        out.append(SourceVerdict(fidelity.name, measures,
                                 tuple(v if m_ else UNDECIDED
                                       for v, m_ in zip(found, measures, strict=True)),
                                 len(both), tuple(rho)))
    return out
