"""Multi-objective bookkeeping: reference points and hypervolumes, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from matloop.campaigns.pareto import hypervolume, raw_reference, reference_point, signed_reference
from matloop.campaigns.schema import Target
from matloop.campaigns.targets import TargetSet

FRONT = np.array([[1.0, 1.0], [2.0, 3.0], [3.0, 5.0], [2.0, 4.0]])  # the last is dominated


def targets(reference_b: float | None = None) -> TargetSet:
    return TargetSet.from_targets([Target(property="a", goal="maximize"),
                                   Target(property="b", goal="minimize",
                                          reference=reference_b)])


def test_inferred_reference_is_the_front_nadir_minus_a_tenth_of_its_range() -> None:
    # signed front (a, -b): (1, -1), (2, -3), (3, -5): nadir (1, -5), range (2, 4)
    assert reference_point(targets(), FRONT) == pytest.approx([0.8, -5.4])


def test_a_given_reference_replaces_the_inferred_one_for_its_property() -> None:
    ts = targets(reference_b=12.0)
    reference = reference_point(ts, FRONT)
    assert reference == pytest.approx([0.8, -12.0])
    assert raw_reference(ts, reference) == pytest.approx({"a": 0.8, "b": 12.0})
    assert signed_reference(ts, raw_reference(ts, reference)) == pytest.approx(reference)


def test_without_data_the_reference_must_be_given() -> None:
    with pytest.raises(ValueError, match="reference"):
        reference_point(targets(reference_b=3.0), np.zeros((0, 2)))
    given = TargetSet.from_targets([Target(property="a", goal="maximize", reference=0),
                                    Target(property="b", goal="minimize", reference=9)])
    assert reference_point(given, np.zeros((0, 2))) == pytest.approx([0.0, -9.0])


def test_hypervolume_by_hand() -> None:
    # boxes from the reference (0, -6) to (1, -1), (2, -3), (3, -5): 5 + 3 + 1 = 9
    reference = np.array([0.0, -6.0])
    assert hypervolume(targets(), FRONT, reference) == pytest.approx(9.0)
    # a point beyond the reference on one objective adds nothing
    worse = np.vstack([FRONT, [[10.0, 7.0]]])
    assert hypervolume(targets(), worse, reference) == pytest.approx(9.0)
    assert hypervolume(targets(), np.zeros((0, 2)), reference) == 0.0


def test_hypervolume_counts_only_candidates_that_meet_the_bounds() -> None:
    ts = TargetSet.from_targets([Target(property="a", goal="maximize"),
                                 Target(property="b", goal="minimize"),
                                 Target(property="c", above=0)])
    Y = np.array([[1.0, 1.0, 1.0], [3.0, 0.0, -1.0]])  # the second misses c >= 0
    assert hypervolume(ts, Y, np.array([0.0, -2.0])) == pytest.approx(1.0)
