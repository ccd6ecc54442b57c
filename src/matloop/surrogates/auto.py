"""``auto``: the surrogate kind that predicts the data at hand best, by cross-validation.

When asked to (``SurrogateOptions.reselect``, every ``validate_every``-th model cycle in a
run), ``AutoSurrogate`` cross-validates each kind of ``KINDS`` on the measured data and
keeps the one with the lowest held-out negative log predictive density (``nlpd``,
averaged over properties): a score of the mean and the stated uncertainty together,
since a confident wrong model misleads the acquisition more than a vague one. Between
comparisons it keeps the kind its warm start records. Ties go to the earlier kind in
``KINDS`` (the GP). Below ``MIN_TO_COMPARE`` values of a property there is too little
to compare on, and the GP is used.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from matloop.errors import NotFittedError
from matloop.protocols import Prediction, Surrogate

if TYPE_CHECKING:
    from botorch.models.model import Model

    from matloop.surrogates import SurrogateOptions

KINDS = ("gp", "ensemble", "forest")
MIN_TO_COMPARE = 10


@dataclass
class AutoSurrogate:
    """A surrogate of the kind that cross-validates best; see the module docstring.

    After ``fit``: ``chosen`` (the kind), ``scores`` (mean nlpd per compared kind, empty
    when nothing was compared) and ``cross_validation`` (the chosen kind's figures per
    property index, as ``validation.cross_validate`` returns them, when compared).
    """

    options: SurrogateOptions
    chosen: str | None = field(default=None, init=False)
    scores: dict[str, float] = field(default_factory=dict, init=False)
    cross_validation: dict[int, dict[str, Any]] | None = field(default=None, init=False)
    _reason: str = field(default="", init=False, repr=False)
    _inner: Surrogate | None = field(default=None, init=False, repr=False)

    def fit(self, X: np.ndarray, Y: np.ndarray) -> Self:
        """Choose the kind (or keep the previous one), then fit it on ``X`` ``(n, d)``,
        ``Y`` ``(n, m)`` (NaN: unmeasured)."""
        from matloop.surrogates import make_surrogate

        Y = np.asarray(Y, dtype=float).reshape(len(X), -1)
        previous = ((self.options.warm_start or {}).get("auto") or {}).get("chosen")
        fewest = int(np.isfinite(Y).sum(axis=0).min()) if Y.size else 0
        self.scores, self.cross_validation = {}, None
        if previous in KINDS and not self.options.reselect:
            self.chosen, self._reason = previous, "kept from the last comparison"
        elif fewest < MIN_TO_COMPARE:
            self.chosen = "gp"
            self._reason = (f"{fewest} measured values: too few to compare kinds "
                            f"(comparing from {MIN_TO_COMPARE})")
        else:
            self._compare(X, Y)
        assert self.chosen is not None
        options = replace(self.options, reselect=False)
        self._inner = make_surrogate(self.chosen, **vars(options)).fit(X, Y)
        return self

    def _compare(self, X: np.ndarray, Y: np.ndarray) -> None:
        """Cross-validate every kind; keep the best in ``chosen``."""
        from matloop.surrogates.validation import cross_validate

        start = time.perf_counter()
        figures: dict[str, dict[int, dict[str, Any]]] = {}
        for kind in KINDS:
            figures[kind] = cross_validate(functools.partial(self._one, kind), X, Y,
                                           self.options.folds, self.options.seed)
            self.scores[kind] = float(np.mean([f["nlpd"] for f in figures[kind].values()]))
        self.chosen = min(KINDS, key=lambda kind: self.scores[kind])
        self.cross_validation = figures[self.chosen]
        self._reason = (f"lowest nlpd in {self.options.folds}-fold cross-validation "
                        f"({time.perf_counter() - start:.1f} s)")

    def _one(self, kind: str, j: int) -> Surrogate:
        """A fresh ``kind`` surrogate for property j alone (one cross-validation fold)."""
        from matloop.surrogates import make_surrogate

        options = replace(self.options, reselect=False,
                          warm_start=_one_property(self.options, j))
        return make_surrogate(kind, **vars(options))

    @property
    def inner(self) -> Surrogate:
        if self._inner is None:
            raise NotFittedError("the auto surrogate has not been fitted yet: call fit(X, Y) "
                               "first")
        return self._inner

    def predict(self, X: np.ndarray) -> Prediction:
        return self.inner.predict(X)

    @property
    def model(self) -> Model:
        return self.inner.model

    @property
    def marginal_model(self) -> Model:
        return getattr(self.inner, "marginal_model", self.inner.model)

    def model_units(self, Y: np.ndarray) -> np.ndarray:
        """Values ``(n, m)`` in the units the chosen model was fitted in."""
        convert = getattr(self.inner, "model_units", None)
        return np.array(Y, dtype=float) if convert is None else convert(Y)

    def hyperparameters(self) -> dict[str, Any]:
        """The chosen surrogate's hyperparameters, plus ``"auto"``: the kind chosen, why,
        and the mean nlpd of each kind compared in this fit."""
        return {**self.inner.hyperparameters(),
                "auto": {"chosen": self.chosen, "reason": self._reason,
                         "scores": dict(self.scores)}}


def _one_property(options: SurrogateOptions, j: int) -> dict[str, Any] | None:
    """Property j's part of a GP warm start (a fold models one property)."""
    raw = (options.warm_start or {}).get("raw") or []
    return {"raw": [raw[j]]} if j < len(raw) else None
