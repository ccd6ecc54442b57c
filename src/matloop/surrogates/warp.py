"""Output warping: a Yeo-Johnson power transform fitted to one property's values.

A GP assumes values spread like a Gaussian. Skewed properties (conductivities, yields
near a wall, rates spanning decades) put most observations in a narrow band and a few far
away, so a stationary GP either smooths the good ones away or overfits the rest. The
transform (scikit-learn's ``PowerTransformer``, exponent fitted by maximum likelihood,
then standardised) is monotone increasing, so the best candidate in warped units is the
best in the property's units and an acquisition can score the warped model as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sklearn.preprocessing import PowerTransformer


@dataclass(frozen=True)
class OutputWarp:
    """A fitted Yeo-Johnson transform of one property; ``low``/``high`` are the
    observed range, which back-transformed predictions are kept within a span of."""

    transformer: PowerTransformer
    low: float
    high: float

    @classmethod
    def fit(cls, y: np.ndarray) -> OutputWarp:
        """Fit on the measured values of ``y`` ``(n,)`` (NaN = unmeasured, ignored)."""
        from sklearn.preprocessing import PowerTransformer

        measured = y[np.isfinite(y)]
        transformer = PowerTransformer(method="yeo-johnson", standardize=True)
        with np.errstate(all="ignore"):
            transformer.fit(measured.reshape(-1, 1))
        return cls(transformer, float(measured.min()), float(measured.max()))

    @property
    def exponent(self) -> float:
        return float(self.transformer.lambdas_[0])

    def forward(self, y: np.ndarray) -> np.ndarray:
        """Values ``(n,)`` in property units -> warped units (NaN stays NaN)."""
        out = np.full(len(y), np.nan)
        measured = np.isfinite(y)
        out[measured] = self.transformer.transform(y[measured].reshape(-1, 1))[:, 0]
        return out

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """Warped values ``(n,)`` -> property units. Beyond what the exponent can map
        back (a Yeo-Johnson transform with a negative exponent is bounded), and in any
        case, results are kept within the observed range widened by its span each way."""
        import warnings

        span = max(self.high - self.low, 1e-12)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "inverse-transformed ... NaN"
            y = self.transformer.inverse_transform(np.asarray(z, float).reshape(-1, 1))[:, 0]
        y = np.where(np.isnan(y), np.where(z > 0, np.inf, -np.inf), y)
        return np.clip(y, self.low - span, self.high + span)

    def backward(self, mean: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A warped Gaussian (``mean``, ``std`` ``(n,)``) in property units: its median
        and half the width of its ±1σ interval mapped back."""
        upper, lower = self.inverse(mean + std), self.inverse(mean - std)
        return self.inverse(mean), (upper - lower) / 2
