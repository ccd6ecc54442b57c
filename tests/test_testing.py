"""The fakes users test with keep the contracts of the real parts."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from matloop.campaigns.schema import Target
from matloop.campaigns.targets import TargetSet
from matloop.errors import NotFittedError
from matloop.loop.evaluate import evaluate
from matloop.protocols import Candidate, Oracle, Surrogate
from matloop.testing import FakeOracle, FakeSurrogate


def test_fake_oracle_is_an_oracle_deterministic_picklable_and_fails_on_request() -> None:
    oracle = FakeOracle(("a", "b"), scale=(2.0,), fail_every=3)
    assert isinstance(oracle, Oracle)
    candidates = [Candidate(key=f"x={i}", label=f"x={i}", inputs={"x": i / 10})
                  for i in range(30)]
    outcomes = [evaluate(oracle, c, oracle.properties) for c in candidates]
    again = [evaluate(pickle.loads(pickle.dumps(oracle)), c, oracle.properties)
             for c in candidates]
    assert [o.values for o in outcomes] == [o.values for o in again]
    failed = [o for o in outcomes if not o.ok]
    assert 0 < len(failed) < len(outcomes) and {o.reason for o in failed} == {"infeasible"}
    ok = next(o for o in outcomes if o.ok)
    x = next(c for c, o in zip(candidates, outcomes, strict=True) if o.ok).inputs["x"]
    assert ok.values["a"] == pytest.approx(2.0 * np.sin(1 + x))
    assert ok.values["b"] == pytest.approx(np.sin(2 + x))


def test_fake_oracle_reads_compositions() -> None:
    outcome = FakeOracle(("y",)).evaluate(Candidate("Cu0.5 Ni0.5", "CuNi",
                                                    composition={"Cu": 0.5, "Ni": 0.5}))
    assert outcome.ok and outcome.values["y"] == pytest.approx(np.sin(1.5) + np.sin(2.5))


def test_fake_surrogate_keeps_the_surrogate_contract() -> None:
    surrogate = FakeSurrogate(k=3)
    with pytest.raises(NotFittedError, match="fit"):
        surrogate.predict(np.zeros((1, 2)))
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(20, 2))
    Y = np.stack([X.sum(axis=1), X[:, 0] - X[:, 1]], axis=1)
    Y[:5, 1] = np.nan  # a property measured on fewer candidates
    prediction = surrogate.fit(X, Y).predict(X[:4])
    assert prediction.mean.shape == prediction.std.shape == (4, 2)
    assert np.all(prediction.std >= 0) and np.isfinite(prediction.mean).all()
    near = surrogate.predict(X[10:11] + 1e-9).mean[0, 0]
    assert abs(near - Y[10, 0]) < 0.5  # the nearest measured points dominate
    assert surrogate.model.num_outputs == 2
    assert isinstance(surrogate, Surrogate)  # (reads ``model``: only once fitted)


def test_fake_surrogate_drives_botorch_acquisition() -> None:
    from matloop.loop.acquisition import select

    rng = np.random.default_rng(1)
    X = rng.uniform(size=(15, 2))
    Y = -((X - 0.5) ** 2).sum(axis=1, keepdims=True)
    surrogate = FakeSurrogate().fit(X, Y)
    targets = TargetSet.from_targets([Target(property="y", goal="maximize")])
    pool = rng.uniform(size=(50, 2))
    picked = select("auto", surrogate, pool, X, Y, targets, 3, seed=0)
    assert len(set(np.asarray(picked).tolist())) == 3
