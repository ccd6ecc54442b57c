"""Learnt correlations between categorical options (``[space] encoding = "learned"``):
the kernel reads them through one-hot rows; it learns that two families of options
respond in opposite ways, which a one-hot kernel cannot express; the pool's one-hot
blocks are found for it; a campaign with it runs and records the correlations."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from matloop.errors import ConfigError
from matloop.surrogates.gp import GaussianProcess
from matloop.surrogates.option_kernel import OptionKernel


def test_the_kernel_is_the_option_covariance_read_through_one_hot_rows() -> None:
    torch.manual_seed(0)
    kernel = OptionKernel([1, 2, 3])
    C = kernel.correlation.detach()
    x = torch.tensor([[0.3, 1.0, 0.0, 0.0], [0.9, 0.0, 0.0, 1.0], [0.1, 0.0, 1.0, 0.0]],
                     dtype=torch.double)
    K = kernel(x, x).to_dense().detach()
    codes = [0, 2, 1]
    assert torch.allclose(K, C[codes][:, codes].to(K))
    assert torch.allclose(torch.diagonal(C), torch.ones(3, dtype=C.dtype))
    assert torch.allclose(kernel(x, x, diag=True).detach(), torch.diagonal(K))


def families(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features ``[x, one-hot of 6 options]``: options 0-2 respond as sin(6x), options
    3-5 as -sin(6x). Training: options 0-4 on 12 x each, option 5 on two x only; test:
    option 5 over a grid."""
    rng = np.random.default_rng(seed)

    def rows(option: int, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X = np.zeros((len(xs), 7))
        X[:, 0], X[:, 1 + option] = xs, 1.0
        return X, np.sin(6 * xs) * (1 if option < 3 else -1)

    parts = [rows(o, rng.uniform(0, 1, 12)) for o in range(5)] + [
        rows(5, np.array([0.1, 0.9]))]
    X = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    test = rows(5, np.linspace(0, 1, 41))
    return X, y[:, None], np.column_stack(test)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_learnt_covariance_carries_a_family_to_a_barely_measured_option(seed: int) -> None:
    X, y, test = families(seed)
    bounds = np.stack([np.zeros(7), np.ones(7)])
    errors = {}
    for name, groups in (("one-hot", ()), ("learned", ((1, 2, 3, 4, 5, 6),))):
        gp = GaussianProcess(bounds=bounds, seed=seed, groups=groups).fit(X, y)
        mean = gp.predict(test[:, :7]).mean[:, 0]
        errors[name] = float(np.sqrt(np.mean((mean - test[:, 7]) ** 2)))
    assert errors["learned"] < 0.5 * errors["one-hot"], errors
    correlation = np.asarray(gp.hyperparameters()["option_correlations"][0][0])
    assert correlation[0, 1] > 0.5 and correlation[0, 4] < -0.5  # the two families


def write_pool(folder: Path) -> None:
    with (folder / "pool.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["temperature", "solvent", "base", "yield"])
        for t in np.linspace(0, 1, 5):
            for k, solvent in enumerate(("water", "ethanol", "toluene", "dmf")):
                for b, base in enumerate(("K2CO3", "Cs2CO3")):
                    writer.writerow([t, solvent, base, 50 + 10 * t + 5 * k * (1 - 2 * b)])


def config(encoding: str, **space: object) -> dict[str, object]:
    return {"campaign": {"name": "e"},
            "space": {"kind": "table", "path": "pool.csv", "inputs": ["temperature"],
                      "categorical": ["solvent", "base"], "encoding": encoding, **space},
            "targets": [{"property": "yield", "goal": "maximize"}],
            "oracle": {"kind": "table"}, "loop": {"initial": 4, "budget": 7}}


def test_a_learned_campaign_runs_and_records_each_columns_option_covariance(
        tmp_path: Path) -> None:
    import matloop

    write_pool(tmp_path)
    campaign = matloop.Campaign.from_dict(config("learned"), base_dir=tmp_path)
    with campaign.session() as session:
        space = session.space
        assert space.names[0] == "temperature"
        assert [[space.names[i] for i in g] for g in space.groups] == [
            ["solvent=dmf", "solvent=ethanol", "solvent=toluene", "solvent=water"],
            ["base=Cs2CO3", "base=K2CO3"]]
        session.run()
        assert len(session.evaluations()) == 7
        latest = session.status()["last_cycle"]["hyperparameters"]
    assert [np.shape(B) for B in latest["option_correlations"][0]] == [(4, 4), (2, 2)]
    assert "lengthscales" not in latest


def test_the_encoding_can_change_when_a_campaign_resumes(tmp_path: Path) -> None:
    import matloop

    write_pool(tmp_path)
    with matloop.Campaign.from_dict(config("one-hot"), base_dir=tmp_path).session() as s:
        s.run()
    more = config("learned")
    more["loop"] = {"initial": 4, "budget": 9}  # type: ignore[assignment]
    with matloop.Campaign.from_dict(more, base_dir=tmp_path).session() as session:
        session.run()
        assert len(session.evaluations()) == 9
        assert session.space.groups


def test_a_learned_encoding_needs_a_categorical_column_without_descriptors(
        tmp_path: Path) -> None:
    import matloop

    write_pool(tmp_path)
    bad = config("learned")
    bad["space"] = {"kind": "table", "path": "pool.csv", "inputs": ["temperature"],
                    "encoding": "learned"}
    with pytest.raises(ConfigError, match="encoding = 'learned' applies to 'categorical' "
                                          "columns without descriptors"):
        matloop.Campaign.from_dict(bad, base_dir=tmp_path)
