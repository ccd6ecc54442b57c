"""Benchmark: homoscedastic against heteroscedastic GP noise on real replicate data.

Four Olympus datasets hold candidates measured more than once (repeated input rows):
colour mixing (``colors_bob``, 80 replicated candidates of 161), HPLC calibration
(``hplc``, 379 of 1007), fullerene synthesis (``fullerenes``, 25 of 216) and OPV
photodegradation (``photo_pce10``, 19 of 1020). Per dataset and seed, the candidates are
split at random into 70 % for training (with all their replicates) and 30 % held out,
separately among replicated and single candidates (so that every split has some of each
kind). Both GPs (``[surrogate] noise = "homoscedastic"`` and ``"heteroscedastic"``) are
fitted to the training rows and score every held-out measurement by the negative log
predictive density of a new measurement (latent variance plus the predicted noise, from
``model.posterior(X, observation_noise=True)``) and by RMSE. Values are divided by the
dataset's standard deviation first, so both figures are in its units (the GP itself
standardises, so its fit is unchanged). Printed: a markdown table, per dataset and model,
of the means over seeds on the held-out measurements of replicated candidates (the
ones whose noise the replicates speak for) and on all held-out measurements, with the
paired difference (heteroscedastic − homoscedastic) and its standard error over seeds.

    .venv/bin/python benchmarks/noise.py --seeds 10
    .venv/bin/python benchmarks/noise.py --datasets colors_bob,fullerenes --seeds 3
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATASETS = {  # name: (file, objective column); every other column is an input
    "colors_bob": ("olympus_colors_bob.csv", "difference_to_green"),
    "hplc": ("olympus_hplc.csv", "peak_area"),
    "fullerenes": ("olympus_fullerenes.csv", "product"),
    "photo_pce10": ("olympus_photo_pce10.csv", "degradation"),
}
NOISES = ("homoscedastic", "heteroscedastic")
TRAIN_FRACTION = 0.7


@dataclass(frozen=True)
class Scores:
    """One model on one split: nlpd and rmse over the held-out measurements of replicated
    candidates and over all held-out measurements; whether the noise varied."""

    nlpd_replicated: float
    rmse_replicated: float
    nlpd_all: float
    rmse_all: float
    varying: bool


def load(folder: Path, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs ``(n, d)``, values ``(n,)`` divided by their standard deviation, and each
    row's candidate number ``(n,)`` (identical input rows are one candidate)."""
    import pandas as pd

    file, objective = DATASETS[name]
    frame = pd.read_csv(folder / file)
    X = frame.drop(columns=[objective]).to_numpy(dtype=float)
    y = frame[objective].to_numpy(dtype=float)
    candidate = np.unique(X, axis=0, return_inverse=True)[1].reshape(-1)
    return X, y / y.std(ddof=1), candidate


def split(candidate: np.ndarray, seed: int) -> np.ndarray:
    """Whether each row trains ``(n,)``: ``TRAIN_FRACTION`` of the replicated and of the
    single candidates, drawn at random, with all their rows."""
    rng = np.random.default_rng(seed)
    counts = np.bincount(candidate)
    chosen = np.zeros(len(counts), dtype=bool)
    for group in (np.flatnonzero(counts >= 2), np.flatnonzero(counts == 1)):
        chosen[rng.choice(group, round(TRAIN_FRACTION * len(group)), replace=False)] = True
    return chosen[candidate]


def score(noise: str, X: np.ndarray, y: np.ndarray, candidate: np.ndarray, train: np.ndarray,
          seed: int) -> Scores:
    """Fit a GP with ``noise`` on the training rows; score the held-out rows."""
    import torch

    from matloop.surrogates import make_surrogate

    bounds = np.stack([X.min(axis=0), X.max(axis=0)])
    gp = make_surrogate("gp", bounds=bounds, seed=seed, noise=noise).fit(X[train],
                                                                       y[train, None])
    test = ~train
    with torch.no_grad():
        posterior = gp.model.posterior(torch.as_tensor(X[test]), observation_noise=True)
        mean = posterior.mean.numpy().reshape(-1)
        variance = posterior.variance.numpy().reshape(-1)
    nlpd = 0.5 * np.log(2 * math.pi * variance) + (y[test] - mean) ** 2 / (2 * variance)
    error = (y[test] - mean) ** 2
    replicated = (np.bincount(candidate) >= 2)[candidate[test]]
    kinds = [m["kind"] for m in gp.hyperparameters().get("noise_model", [])]
    return Scores(float(nlpd[replicated].mean()), float(np.sqrt(error[replicated].mean())),
                  float(nlpd.mean()), float(np.sqrt(error.mean())),
                  kinds == ["heteroscedastic"])


def table(results: dict[str, dict[str, list[Scores]]]) -> str:
    """The markdown table of means over seeds, with paired differences."""
    lines = ["| dataset | noise | varying | NLPD (replicated) | RMSE (replicated) | "
             "NLPD (all) | RMSE (all) |", "|---|---|---|---|---|---|---|"]
    for name, by_noise in results.items():
        for noise in NOISES:
            scores = by_noise[noise]
            lines.append(f"| {name} | {noise} | {sum(s.varying for s in scores)}/"
                         f"{len(scores)} | " + " | ".join(
                             f"{np.mean([getattr(s, f) for s in scores]):.3f}"
                             for f in ("nlpd_replicated", "rmse_replicated", "nlpd_all",
                                       "rmse_all")) + " |")
        paired = [_paired(by_noise, f) for f in ("nlpd_replicated", "rmse_replicated",
                                                  "nlpd_all", "rmse_all")]
        wins = sum(h.nlpd_replicated < o.nlpd_replicated
                   for o, h in zip(*(by_noise[n] for n in NOISES), strict=True))
        lines.append(f"| {name} | hetero − homo (± s.e.) | wins {wins}/"
                     f"{len(by_noise[NOISES[0]])} | " + " | ".join(paired) + " |")
    return "\n".join(lines)


def _paired(by_noise: dict[str, list[Scores]], figure: str) -> str:
    """Mean paired difference (heteroscedastic − homoscedastic) ± its standard error."""
    homo, hetero = ([getattr(s, figure) for s in by_noise[n]] for n in NOISES)
    difference = np.subtract(hetero, homo)
    error = difference.std(ddof=1) / math.sqrt(len(difference)) if len(difference) > 1 else 0
    return f"{difference.mean():+.3f} ± {error:.3f}"


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--datasets", default=",".join(DATASETS),
                        help="comma-separated, of " + ", ".join(DATASETS))
    parser.add_argument("--data", type=Path, default=ROOT / "examples" / "data",
                        help="folder with the Olympus CSV files")
    arguments = parser.parse_args()
    torch.set_num_threads(1)
    results: dict[str, dict[str, list[Scores]]] = {}
    for name in arguments.datasets.split(","):
        X, y, candidate = load(arguments.data, name)
        results[name] = {noise: [] for noise in NOISES}
        start = time.perf_counter()
        for seed in range(arguments.seeds):
            train = split(candidate, seed)
            for noise in NOISES:
                results[name][noise].append(score(noise, X, y, candidate, train, seed))
        print(f"{name}: {arguments.seeds} seeds, {len(y)} rows, "
              f"{time.perf_counter() - start:.0f} s", flush=True)
    print()
    print(table(results))


if __name__ == "__main__":
    main()
