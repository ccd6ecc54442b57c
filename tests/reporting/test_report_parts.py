"""The report's parts as pure functions, without a campaign run: the progress measure, the
candidate tables and their order, feature relevance, the self-contained HTML page and the
target-space, candidate-space, progress and relevance figures."""

from __future__ import annotations

import base64
import math
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from matloop.campaigns.pareto import hypervolume, reference_point
from matloop.campaigns.schema import Target
from matloop.campaigns.targets import TargetSet
from matloop.reporting import candidate_space
from matloop.reporting.candidate_space import candidate_space_figure, project
from matloop.reporting.figures import save
from matloop.reporting.page import Section, Table, render
from matloop.reporting.progress import progress_figure, progress_series
from matloop.reporting.relevance import latest_relevance, relevance_figure
from matloop.reporting.tables import Prediction, candidate_table, next_table, order_best
from matloop.reporting.target_space import target_space_figure
from matloop.store import EvaluationRow

PNG = b"\x89PNG\r\n\x1a\n"
START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _evaluation(evaluation_id: int, key: str, status: str = "succeeded", cycle: int = 1,
                minute: float | None = None, **values: float) -> EvaluationRow:
    """A ``Store.evaluations`` row; ``minute`` after ``START`` it finished (None: not
    finished; default: its id)."""
    minute = evaluation_id if minute is None and status in ("succeeded", "failed") \
        else minute
    return EvaluationRow(
        evaluation_id=evaluation_id, candidate_id=100 + evaluation_id,
        candidate=f"cand-{key}", key=key, pool_index=evaluation_id, status=status,
        cycle=cycle, attempt=1, reason="crashed" if status == "failed" else None,
        error="boom" if status == "failed" else None, duration_s=1.0,
        finished_at=None if minute is None else START + timedelta(minutes=minute),
        values=dict(values) if status == "succeeded" else {}, units={"strength": "GPa"})


def _same(actual: np.ndarray, expected: list[float]) -> None:
    """Equal element by element, NaN matching NaN."""
    np.testing.assert_allclose(actual, np.array(expected, dtype=float), equal_nan=True)


# --- progress ---------------------------------------------------------------------------


def test_single_objective_tracks_best_among_hits_and_flags_failures() -> None:
    """Maximise strength with density below 2: the measure is the best strength among
    hits so far (NaN before the first hit); failures and the initial design are flagged."""
    targets = TargetSet.from_targets([
        Target(property="strength", unit="GPa", goal="maximize"),
        Target(property="density", below=2.0)])
    evaluations = [
        _evaluation(1, "a", cycle=0, strength=5.0, density=3.0),   # not a hit
        _evaluation(2, "b", cycle=0, strength=2.0, density=1.0),   # hit
        _evaluation(3, "c", "failed", cycle=1),
        _evaluation(4, "d", cycle=1, strength=9.0, density=2.5),   # better, not a hit
        _evaluation(5, "e", cycle=2, strength=4.0, density=1.5),   # new best hit
        _evaluation(6, "f", cycle=2, strength=3.0, density=1.0),   # worse hit
        _evaluation(7, "g", "proposed", cycle=3),                 # not finished
    ]
    series = progress_series(targets, evaluations, {0}, {"strength": "GPa"})
    assert series.label == "best strength (GPa) among hits"
    _same(series.measure, [np.nan, 2, 2, 2, 4, 4])
    _same(series.values, [5, 2, np.nan, 9, 4, 3])
    assert series.failed.tolist() == [False, False, True, False, False, False]
    assert series.initial.tolist() == [True, True, False, False, False, False]


def test_single_minimised_objective_without_bounds_is_a_running_minimum() -> None:
    targets = TargetSet(("cost",), ((0, -1.0),), {})
    evaluations = [_evaluation(k + 1, str(k), cost=c)
                   for k, c in enumerate([4.0, 6.0, 3.0, 3.5, 1.0])]
    series = progress_series(targets, evaluations, set(), {})
    assert series.label == "best cost"
    _same(series.measure, [4, 4, 3, 3, 1])
    assert not series.initial.any()


def test_evaluations_are_taken_in_the_order_they_finished() -> None:
    """The list order and the evaluation ids disagree with ``finished_at``: the latter
    decides; a finished evaluation without a time comes last; unfinished ones are left out."""
    targets = TargetSet(("cost",), ((0, -1.0),), {})
    evaluations = [
        _evaluation(1, "a", minute=30, cost=1.0),
        _evaluation(2, "b", minute=None, cost=0.5),
        _evaluation(3, "c", minute=10, cost=5.0),
        _evaluation(4, "d", "running"),
        _evaluation(5, "e", "failed", minute=5),
        _evaluation(6, "f", minute=20, cost=2.0),
    ]
    evaluations[1] = replace(evaluations[1], finished_at=None)  # succeeded, no time recorded
    series = progress_series(targets, evaluations, set(), {})
    _same(series.values, [np.nan, 5, 2, 1, 0.5])
    _same(series.measure, [np.nan, 5, 2, 1, 0.5])
    assert series.failed.tolist() == [True, False, False, False, False]


def test_range_search_counts_distinct_hit_candidates() -> None:
    """A candidate measured in range twice counts once; a miss later measured in range
    counts when it becomes a hit; failures count nothing."""
    targets = TargetSet.from_targets([Target(property="gap", between=(1.0, 2.0)),
                                      Target(property="mass", above=0.0)])
    evaluations = [
        _evaluation(1, "A", cycle=0, gap=1.5, mass=1.0),   # hit
        _evaluation(2, "A", cycle=0, gap=1.6, mass=1.0),   # the same candidate again
        _evaluation(3, "B", cycle=1, gap=2.5, mass=1.0),   # miss
        _evaluation(4, "C", "failed", cycle=1),
        _evaluation(5, "B", cycle=2, gap=1.9, mass=1.0),   # B now a hit
        _evaluation(6, "D", cycle=2, gap=1.2, mass=-1.0),  # gap in range, mass not
        _evaluation(7, "E", cycle=2, gap=1.0, mass=0.0),   # on both bounds: a hit
    ]
    series = progress_series(targets, evaluations, {0}, {})
    assert series.label == "hits found (distinct candidates)"
    _same(series.measure, [1, 1, 1, 1, 2, 2, 3])
    assert np.isnan(series.values).all()
    assert series.failed.tolist() == [False, False, False, True, False, False, False]
    assert series.initial.tolist() == [True, True, False, False, False, False, False]


def _multi_evaluations(rng: np.random.Generator, n: int) -> list[EvaluationRow]:
    """n evaluations of (a, b, c), every fourth failed, finishing in shuffled order."""
    minutes = rng.permutation(n)
    return [_evaluation(k + 1, f"k{k}", "failed" if k % 4 == 3 else "succeeded",
                        minute=float(minutes[k]), a=float(rng.normal()),
                        b=float(rng.normal()), c=float(rng.uniform()))
            for k in range(n)]


def _measured(evaluations: list[EvaluationRow], targets: TargetSet) -> np.ndarray:
    """Values of the finished evaluations in finishing order, NaN for failures."""
    done = sorted(evaluations, key=lambda e: e.finished_at)
    return np.array([[e.values.get(p, np.nan) for p in targets.properties]
                     for e in done], dtype=float)


@pytest.mark.parametrize("bounded", [False, True])
def test_hypervolume_never_decreases_and_ends_at_the_front_hypervolume(bounded: bool
                                                                        ) -> None:
    """After every evaluation the measure is the hypervolume of the Pareto front measured
    so far, with the given reference (so it only grows)."""
    targets = TargetSet(("a", "b", "c"), ((0, 1.0), (1, -1.0)),
                        {2: (0.0, 0.6)} if bounded else {})
    evaluations = _multi_evaluations(np.random.default_rng(3), 24)
    Y = _measured(evaluations, targets)
    reference = reference_point(targets, Y)
    series = progress_series(targets, evaluations, set(), {}, reference)
    assert series.label == "hypervolume of the measured Pareto front"
    assert len(series.measure) == 24
    assert np.isfinite(series.measure).all()
    assert (np.diff(series.measure) >= -1e-12).all()
    assert series.measure[-1] > 0
    assert series.measure[-1] == pytest.approx(hypervolume(targets, Y, reference), rel=1e-9)
    prefixes = [hypervolume(targets, Y[:k + 1], reference) for k in range(len(Y))]
    np.testing.assert_allclose(series.measure, prefixes, rtol=1e-9, atol=1e-12)
    assert np.isnan(series.values).all()


def test_hypervolume_reference_inferred_from_all_values() -> None:
    targets = TargetSet(("a", "b", "c"), ((0, 1.0), (1, 1.0)), {})
    evaluations = _multi_evaluations(np.random.default_rng(5), 12)
    Y = _measured(evaluations, targets)
    series = progress_series(targets, evaluations, set(), {})
    assert series.measure[-1] == pytest.approx(
        hypervolume(targets, Y, reference_point(targets, Y)), rel=1e-9)


def test_hypervolume_undefined_when_nothing_was_measured() -> None:
    targets = TargetSet(("a", "b"), ((0, 1.0), (1, 1.0)), {})
    evaluations = [_evaluation(1, "x", "failed"), _evaluation(2, "y", "failed")]
    series = progress_series(targets, evaluations, set(), {})
    assert len(series.measure) == 2
    assert np.isnan(series.measure).all()
    assert series.failed.all()


def test_progress_figure_is_a_png(tmp_path: Path) -> None:
    targets = TargetSet(("strength",), ((0, 1.0),), {})
    evaluations = [_evaluation(1, "a", cycle=0, strength=1.0),
                   _evaluation(2, "b", "failed", cycle=1),
                   _evaluation(3, "c", cycle=1, strength=2.0)]
    series = progress_series(targets, evaluations, {0}, {"strength": "GPa"})
    figure = progress_figure(series, "strength", "GPa")
    axis = figure.axes[0]
    assert axis.get_ylabel() == "strength (GPa)"
    labels = axis.get_legend_handles_labels()[1]
    assert "initial design (1)" in labels
    assert "failed evaluation (1)" in labels
    path = save(figure, tmp_path / "progress.png")
    assert path.read_bytes().startswith(PNG)


# --- tables -----------------------------------------------------------------------------


def test_order_single_objective_puts_hits_first_then_the_objective() -> None:
    """Maximise a with b below 1: hits by a (descending), then misses by distance."""
    targets = TargetSet(("a", "b"), ((0, 1.0),), {1: (-math.inf, 1.0)})
    Y = np.array([[9.0, 3.0],     # far miss
                  [2.0, 0.5],     # hit
                  [5.0, 1.0],     # hit on the bound
                  [8.0, 1.5],     # near miss
                  [7.0, np.nan],  # b unknown: last
                  [1.0, 0.0]])    # hit
    assert order_best(targets, Y).tolist() == [2, 1, 5, 3, 0, 4]


def test_order_minimised_objective_is_ascending_with_unknowns_last() -> None:
    targets = TargetSet(("cost",), ((0, -1.0),), {})
    Y = np.array([[3.0], [np.nan], [-1.0], [2.0]])
    assert order_best(targets, Y).tolist() == [2, 3, 0, 1]


def test_order_range_search_by_depth_inside_the_region() -> None:
    targets = TargetSet(("gap",), (), {0: (0.0, 10.0)})
    Y = np.array([[1.0], [5.0], [9.5], [12.0], [-3.0], [np.nan]])
    assert order_best(targets, Y).tolist() == [1, 0, 2, 3, 4, 5]


def test_order_multi_objective_puts_the_front_before_dominated_rows() -> None:
    """Row 5 has a larger first objective than front member 2 but is dominated."""
    targets = TargetSet(("a", "b"), ((0, 1.0), (1, 1.0)), {})
    Y = np.array([[1.0, 1.0], [3.0, 1.0], [1.0, 3.0], [2.0, 2.0], [0.5, 0.5], [1.5, 0.2]])
    assert targets.pareto(Y).tolist() == [False, True, True, True, False, False]
    assert order_best(targets, Y).tolist() == [1, 3, 2, 5, 0, 4]


def test_order_multi_objective_with_bounds_puts_hits_first() -> None:
    """Row 0 beats every other row on both objectives but misses the bound on c."""
    targets = TargetSet(("a", "b", "c"), ((0, 1.0), (1, 1.0)), {2: (0.0, 1.0)})
    Y = np.array([[5.0, 5.0, 2.0], [1.0, 1.0, 0.5], [2.0, 0.0, 0.5], [0.0, 3.0, 0.5],
                  [0.5, 0.5, 0.5], [9.0, 9.0, np.nan]])
    assert order_best(targets, Y).tolist() == [2, 1, 3, 4, 0, 5]


def test_candidate_table_lines() -> None:
    """Measured next to predicted; a random pick and an unknown pick show "—"."""
    targets = TargetSet.from_targets([Target(property="strength", unit="GPa", goal="maximize"),
                                      Target(property="density", below=2.0)])
    rows = np.array([10, 20, 30])
    Y = np.array([[1.23456, 1.5], [2.0, 3.0], [np.nan, 1.0]])
    predictions = {
        10: Prediction(2, "logei (fantasies)", np.array([1.2, 1.4]), np.array([0.1, 0.25])),
        20: Prediction(0, "initial", None, None),
        30: Prediction(3, "random (model failed: LinAlgError: x)", None, None)}
    table = candidate_table("Best", targets, rows, Y, [1, 0, 2], {10: "Fe2O3", 20: "<b>"},
                            predictions, {"strength": "GPa", "density": None})
    assert table.caption == "Best"
    assert list(table.header) == ["#", "candidate", "picked by", "strength [GPa]",
                                  "predicted ± 1σ", "density", "predicted ± 1σ", "hit"]
    assert [list(line) for line in table.rows] == [
        ["1", "<b>", "cycle 0 (initial)", "2", "—", "3", "—", "no"],
        ["2", "Fe2O3", "cycle 2 (logei)", "1.235", "1.2 ± 0.1", "1.5", "1.4 ± 0.25", "yes"],
        ["3", "30", "cycle 3 (random)", "—", "—", "1", "—", "yes"]]
    unknown = candidate_table("x", TargetSet(("s",), ((0, 1.0),), {}), np.array([7]),
                              np.array([[4.0]]), [0], {}, {}, {})
    assert list(unknown.header) == ["#", "candidate", "picked by", "s", "predicted ± 1σ"]
    assert [list(line) for line in unknown.rows] == [["1", "7", "—", "4", "—"]]


def test_next_table_with_and_without_predictions() -> None:
    targets = TargetSet(("a", "b"), ((0, 1.0), (1, -1.0)), {})
    ranked = next_table("Next", targets, ["x", "y"], np.array([[1.0, 2.0], [3.0, 4.0]]),
                        np.array([[0.5, 0.125], [np.nan, 1.0]]), {"a": "eV"},
                        np.array([0.9, 0.12345]), "qLogNEHVI")
    assert list(ranked.header) == ["#", "candidate", "qLogNEHVI", "predicted a [eV] ± 1σ",
                                   "predicted b ± 1σ"]
    assert [list(line) for line in ranked.rows] == [
        ["1", "x", "0.9", "1 ± 0.5", "2 ± 0.125"],
        ["2", "y", "0.1235", "3 ± —", "4 ± 1"]]
    waiting = next_table("Next", targets, ["z"], None, None, {}, None, "unused")
    assert list(waiting.header) == ["#", "candidate", "predicted a ± 1σ", "predicted b ± 1σ"]
    assert [list(line) for line in waiting.rows] == [["1", "z", "—", "—"]]


# --- relevance --------------------------------------------------------------------------


def _cycle(number: int, record: dict[str, Any] | None) -> SimpleNamespace:
    return SimpleNamespace(number=number, hyperparameters=record or {})


def test_latest_relevance_takes_the_newest_matching_cycle() -> None:
    cycles = [_cycle(0, None),
              _cycle(1, {"lengthscales": [[1.0, 2.0, 4.0], [0.5, 0.25, 8.0]]}),
              _cycle(2, {"noise": [0.1]}),
              _cycle(3, {"lengthscales": [[1.0, 2.0]]})]  # two features: another pool
    relevance = latest_relevance(cycles, 3)
    assert relevance is not None
    assert relevance.cycle == 1
    assert relevance.measure == "inverse GP length scale (scaled features)"
    np.testing.assert_allclose(relevance.scores, [[1.0, 0.5, 0.25], [2.0, 4.0, 0.125]])
    newer = [_cycle(4, {"feature_importances": [[0.2, 0.3, 0.5]]}), _cycle(5, {})]
    forest = latest_relevance([*cycles, *newer], 3)
    assert forest is not None
    assert (forest.cycle, forest.measure) == (4, "forest impurity importance")
    np.testing.assert_allclose(forest.scores, [[0.2, 0.3, 0.5]])


def test_latest_relevance_none_without_a_usable_cycle() -> None:
    assert latest_relevance([], 3) is None
    assert latest_relevance([_cycle(0, None), _cycle(1, {}),
                             _cycle(2, {"lengthscales": [[1.0, 2.0]]}),
                             _cycle(3, {"feature_importances": [[1.0]]}),
                             _cycle(4, {"lengthscales": []})], 3) is None


def test_relevance_figure_shows_the_top_features(tmp_path: Path) -> None:
    names = [f"f{k}" for k in range(20)]
    scores = np.vstack([np.arange(20.0), np.arange(20.0)[::-1]])
    relevance = latest_relevance([_cycle(7, {"feature_importances": scores.tolist()})], 20)
    assert relevance is not None
    figure = relevance_figure(relevance, names, ["strength", "density"])
    axes = figure.axes
    assert [axis.get_title() for axis in axes] == ["strength", "density"]
    first = [tick.get_text() for tick in axes[0].get_yticklabels()]
    assert len(first) == 15
    assert first[-1] == "f19"  # the most relevant on top
    assert first[0] == "f5"
    assert [tick.get_text() for tick in axes[1].get_yticklabels()][-1] == "f0"
    assert "cycle 7; top 15 of 20 features" in figure.get_suptitle()
    assert save(figure, tmp_path / "relevance.png").read_bytes().startswith(PNG)


def test_long_feature_names_are_shortened_in_the_middle() -> None:
    from matloop.reporting.relevance import LABEL_WIDTH, shortened

    smiles = "ligand=CC(C)C1=CC(C(C)C)=CC(C(C)C)=C1C2=C(P(C3CCCCC3)C4CCCCC4)C=CC=C2"
    short = shortened(smiles)
    assert len(short) == LABEL_WIDTH
    assert short.startswith("ligand=CC(C)C1=") and short.endswith("C=CC=C2") and "…" in short
    assert shortened("solvent=DMF") == "solvent=DMF"


# --- page -------------------------------------------------------------------------------


def test_page_escapes_text_and_embeds_images(tmp_path: Path) -> None:
    image = tmp_path / "a&b.png"
    image.write_bytes(PNG + bytes(range(256)))
    other = tmp_path / "second.png"
    other.write_bytes(PNG + b"other")
    table = Table("Best <i>", ["#", "candidate", "x"],
                  [["1", "<script>alert('x')</script>", "1.5 ± 0.2"],
                   ["2", "Fe & \"Co\"", "—"]])
    section = Section("Progress <1>", "read <this> & that", [image, other], [table],
                      notes=["see https://example.org <b>now</b>"])
    page = render("matloop <report> \"x\"", [("campaign", "<img src=x>")], [section])
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "<title>matloop &lt;report&gt; &quot;x&quot;</title>" in page
    assert "<h2>Progress &lt;1&gt;</h2>" in page
    assert "read &lt;this&gt; &amp; that" in page
    assert "<caption>Best &lt;i&gt;</caption>" in page
    assert "<td>Fe &amp; &quot;Co&quot;</td>" in page
    assert "<td>&lt;img src=x&gt;</td>" in page
    assert "<img src=x>" not in page
    assert "<td class=\"number\">1.5 ± 0.2</td>" in page
    assert "<b>now</b>" not in page
    uris = re.findall(r"src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"", page)
    assert [base64.b64decode(u) for u in uris] == [image.read_bytes(), other.read_bytes()]
    assert "<figcaption>a&amp;b.png</figcaption>" in page
    # the only URL is the escaped text of the note: nothing is fetched
    assert re.findall(r"(?:src|href)=\"(?!data:)", page) == []
    assert page.count("https://") == 1 and "http://" not in page


def test_page_without_sections_has_no_external_references() -> None:
    page = render("t", [("a", "1")], [])
    assert page.startswith("<!DOCTYPE html>")
    assert "<th>a</th><td>1</td>" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page


# --- figures ----------------------------------------------------------------------------


def _legend(axis: Any) -> list[str]:
    return [text.get_text() for text in axis.get_legend().get_texts()]


@pytest.mark.parametrize("m", [1, 2, 3])
@pytest.mark.parametrize("with_next", [False, True])
def test_target_space_figure(tmp_path: Path, m: int, with_next: bool) -> None:
    """One property: a histogram; two: one scatter panel; three: three panels. NaN
    values are left out of the counts."""
    names = ("strength", "density", "gap")[:m]
    objectives = ((0, 1.0),) if m == 1 else ((0, 1.0), (1, -1.0))
    targets = TargetSet(names, objectives, {m - 1: (0.2, 0.8)} if m != 2 else {})
    rng = np.random.default_rng(m)
    Y = rng.uniform(size=(12, m))
    Y[3, 0] = np.nan
    next_mean = rng.uniform(size=(2, m)) if with_next else None
    next_std = np.full((2, m), 0.05) if with_next else None
    figure = target_space_figure(targets, Y, {"strength": "GPa"}, next_mean, next_std)
    axes = figure.axes
    assert len(axes) == {1: 1, 2: 1, 3: 3}[m]
    legend = _legend(axes[0])
    assert ("next picks (predicted ± 1σ)" in legend) == with_next
    if m == 1:
        assert axes[0].get_title() == "Measured strength"
        assert axes[0].get_xlabel() == "strength (GPa)"
        hits = int(targets.hits(Y).sum())
        assert "measured (11)" in legend and f"hit ({hits})" in legend
        assert sum(p.get_height() for p in axes[0].patches
                   if hasattr(p, "get_height")) >= 11
    else:
        assert axes[0].get_xlabel() == "strength (GPa)"
        assert axes[0].get_ylabel() == "density"
        assert "measured (11)" in legend
        front = int(targets.pareto(Y).sum())
        assert front > 0 and f"Pareto front ({front})" in legend
        assert figure.get_suptitle() == "Measured candidates in target space"
    path = save(figure, tmp_path / f"target-{m}-{with_next}.png")
    assert path.read_bytes().startswith(PNG)


def test_histogram_shows_next_picks_outside_the_measured_range() -> None:
    targets = TargetSet(("strength",), ((0, 1.0),), {})
    Y = np.array([[1.0], [2.0], [3.0]])
    figure = target_space_figure(targets, Y, {}, np.array([[10.0]]), np.array([[0.5]]))
    low, high = figure.axes[0].get_xlim()
    assert low <= 10.0 <= high


def test_project_one_feature_gives_two_columns() -> None:
    features = np.linspace(0.0, 5.0, 11)[:, None]
    bounds = np.array([[0.0], [5.0]])
    projection = project(features, bounds, np.array([0, 5, 10]))
    assert projection.points.shape == (3, 2)
    np.testing.assert_allclose(np.abs(projection.points[:, 0]), [0.5, 0.0, 0.5], atol=1e-12)
    np.testing.assert_array_equal(projection.points[:, 1], 0.0)
    np.testing.assert_allclose(projection.explained, [1.0, 0.0])


def test_project_fits_on_a_sample_of_a_large_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(candidate_space, "SAMPLE", 50)
    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 4)) * np.array([5.0, 1.0, 0.1, 0.0])
    bounds = np.vstack([features.min(axis=0), features.max(axis=0)])
    rows = np.arange(0, 400, 7)
    projection = project(features, bounds, rows)
    assert projection.points.shape == (len(rows), 2)
    assert np.isfinite(projection.points).all()
    assert np.isfinite(projection.explained).all()
    assert 0.0 < projection.explained[1] <= projection.explained[0] <= 1.0
    assert projection.explained.sum() <= 1.0 + 1e-9


@pytest.mark.parametrize("m", [1, 2, 3])
@pytest.mark.parametrize("with_next", [False, True])
def test_candidate_space_figure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, m: int,
                                with_next: bool) -> None:
    """One panel per property with a colour bar; NaN values not coloured; the pool
    sampled when larger than ``SAMPLE``; the next picks numbered on every panel."""
    monkeypatch.setattr(candidate_space, "SAMPLE", 100)
    rng = np.random.default_rng(m)
    features = rng.uniform(size=(300, 3))
    bounds = np.vstack([features.min(axis=0), features.max(axis=0)])
    measured = np.arange(10)
    Y = rng.normal(size=(10, m))
    Y[2, :] = np.nan
    Y[4, m - 1] = np.nan
    failed = np.array([10, 11])
    next_rows = np.arange(12, 19) if with_next else np.zeros(0, dtype=int)
    names = ["strength", "density", "gap"][:m]
    figure = candidate_space_figure(features, bounds, measured, Y, names, {"density": "g/cm3"},
                                    failed, next_rows)
    panels = [axis for axis in figure.axes if axis.get_title()]
    assert [axis.get_title() for axis in panels] == names
    assert len(figure.axes) == 2 * m  # one colour bar per panel
    unmeasured = 300 - 10 - 2 - len(next_rows)
    for j, axis in enumerate(panels):
        legend = _legend(axis)
        assert f"not measured ({unmeasured}, 100 shown)" in legend
        assert f"measured ({int(np.isfinite(Y[:, j]).sum())})" in legend
        assert "failed (2)" in legend
        assert ("next picks (numbered as in the table)" in legend) == with_next
        numbers = [t.get_text() for t in axis.texts]
        assert numbers == [str(k) for k in range(1, len(next_rows) + 1)]
    if m >= 2:
        assert any(axis.get_ylabel() == "density (g/cm3)" for axis in figure.axes)
    path = save(figure, tmp_path / f"candidates-{m}-{with_next}.png")
    assert path.read_bytes().startswith(PNG)
