"""The fast marginal posterior equals GPyTorch's own batched posterior: means to
float64 round-off, variances to 5e-4 relative (their product runs in float32, whose
rounding depends on the CPU's matrix kernels: 2.5e-4 seen on one machine, under 2e-4 on
another)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from matloop.surrogates import make_surrogate
from matloop.surrogates.marginal import MarginalGP, exact_marginals


@pytest.fixture(scope="module")
def two_property_gp():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(25, 6))
    Y = np.stack([X.sum(1), np.sin(3 * X[:, 0])], axis=1)
    Y[::3, 1] = np.nan
    return make_surrogate("gp", bounds=np.stack([np.zeros(6), np.ones(6)])).fit(X, Y)


def test_marginals_match_the_batched_exact_posterior(two_property_gp) -> None:
    X = torch.as_tensor(np.random.default_rng(1).uniform(-0.2, 1.2, size=(300, 6)))
    with torch.no_grad():
        reference = two_property_gp.model.posterior(X.unsqueeze(-2))
    for j, gp in enumerate(two_property_gp.model.models):
        mean, variance = exact_marginals(gp, X)
        torch.testing.assert_close(mean, reference.mean[:, 0, j])
        torch.testing.assert_close(variance, reference.variance[:, 0, j], rtol=5e-4, atol=0)


def test_small_variances_near_measured_points_stay_accurate() -> None:
    rng = np.random.default_rng(4)
    X = rng.uniform(size=(400, 3))
    gp = make_surrogate("gp", bounds=np.stack([np.zeros(3), np.ones(3)])).fit(
        X, np.sin(6 * X).sum(1, keepdims=True))
    at_data = torch.as_tensor(np.concatenate([X[:100], X[:100] + 1e-3]))
    with torch.no_grad():
        reference = gp.model.posterior(at_data.unsqueeze(-2)).variance[:, 0, 0]
    _, variance = exact_marginals(gp.model, at_data)
    assert float(reference.max() / gp.model.outcome_transform.stdvs.square()) < 1e-2
    torch.testing.assert_close(variance, reference, rtol=5e-4, atol=0)


def test_marginal_model_posterior_and_predict_agree(two_property_gp) -> None:
    X = np.random.default_rng(2).uniform(size=(50, 6))
    posterior = MarginalGP(two_property_gp.model).posterior(torch.as_tensor(X)[:, None, :])
    prediction = two_property_gp.predict(X)
    np.testing.assert_allclose(posterior.mean[:, 0, :].numpy(), prediction.mean)
    np.testing.assert_allclose(posterior.variance[:, 0, :].sqrt().numpy(), prediction.std)


def test_joint_posteriors_are_passed_through(two_property_gp) -> None:
    X = torch.as_tensor(np.random.default_rng(3).uniform(size=(4, 3, 6)))
    with torch.no_grad():
        joint = MarginalGP(two_property_gp.model).posterior(X)
        reference = two_property_gp.model.posterior(X)
    torch.testing.assert_close(joint.mean, reference.mean)


@pytest.mark.parametrize("name", ["matern52", "rbf"])
def test_in_place_kernel_blocks_equal_gpytorch_kernels(name: str) -> None:
    from gpytorch.kernels import MaternKernel, RBFKernel

    from matloop.surrogates.kernel_blocks import matern52_block, rbf_block

    rng = np.random.default_rng(5)
    kernel = (MaternKernel(nu=2.5, ard_num_dims=4) if name == "matern52"
              else RBFKernel(ard_num_dims=4)).double()
    in_place = matern52_block if name == "matern52" else rbf_block
    kernel.lengthscale = torch.as_tensor([[0.1, 0.5, 2.0, 7.0]], dtype=torch.double)
    x, train = (torch.as_tensor(rng.uniform(size=(k, 4))) for k in (70, 30))
    train[3] = x[5]  # zero distance
    scale = kernel.lengthscale.detach().reshape(-1)
    center = train.mean(0)
    scaled = (train - center) / scale
    buffers = [torch.full((100, 30), torch.nan, dtype=torch.double) for _ in range(2)]
    block = in_place((x - center) / scale, scaled, scaled.square().sum(-1), *buffers)
    with torch.no_grad():
        expected = kernel(x, train).to_dense()
    assert block.shape == (70, 30)
    torch.testing.assert_close(block, expected, rtol=1e-12, atol=1e-14)
    assert float(block[5, 3]) == pytest.approx(1.0)


def test_float64_throughout_once_chunks_sit_on_the_data(monkeypatch) -> None:
    import matloop.surrogates.marginal as marginal

    rng = np.random.default_rng(6)
    X = rng.uniform(size=(300, 2))
    gp = make_surrogate("gp", bounds=np.stack([np.zeros(2), np.ones(2)])).fit(
        X, np.sin(4 * X).sum(1, keepdims=True)).model
    calls: list[torch.dtype] = []
    projection = marginal._squared_projection
    monkeypatch.setattr(marginal, "_squared_projection",
                        lambda K, R: calls.append(K.dtype) or projection(K, R))
    monkeypatch.setattr(marginal, "BLOCK_ENTRIES", 1)  # chunks of 256 rows
    at_data = torch.as_tensor(np.concatenate([X, X + 1e-4, X - 1e-4]))
    with torch.no_grad():
        reference = gp.posterior(at_data.unsqueeze(-2)).variance[:, 0, 0]
    _, variance = exact_marginals(gp, at_data)
    torch.testing.assert_close(variance, reference, rtol=5e-4, atol=0)
    # 900 rows = 4 chunks: float32 then float64 refinement in the first, float64 after
    assert calls == [torch.float32, torch.float64, torch.float64, torch.float64,
                     torch.float64]


@pytest.mark.parametrize("kernel", ["scaled rbf", "rbf", "matern 1.5"])
def test_every_kernel_gives_gpytorchs_marginals(kernel: str) -> None:
    """In place (plain RBF) or through GPyTorch (a scale kernel, Matérn-3/2)."""
    from botorch.models import SingleTaskGP
    from gpytorch.kernels import MaternKernel, RBFKernel, ScaleKernel

    rng = np.random.default_rng(7)
    X = torch.as_tensor(rng.uniform(size=(40, 3)))
    module = {"scaled rbf": ScaleKernel(RBFKernel(ard_num_dims=3)),
              "rbf": RBFKernel(ard_num_dims=3),
              "matern 1.5": MaternKernel(nu=1.5, ard_num_dims=3)}[kernel]
    gp = SingleTaskGP(X, torch.sin(5 * X).sum(-1, keepdim=True),
                      covar_module=module).eval()
    test = torch.as_tensor(rng.uniform(size=(100, 3)))
    with torch.no_grad():
        reference = gp.posterior(test.unsqueeze(-2))
    mean, variance = exact_marginals(gp, test)
    torch.testing.assert_close(mean, reference.mean[:, 0, 0])
    torch.testing.assert_close(variance, reference.variance[:, 0, 0], rtol=5e-4, atol=0)
