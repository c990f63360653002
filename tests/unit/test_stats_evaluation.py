"""Department evaluation: weights, volume tiers and grade thresholds."""
import pytest

from gridgov.services.stats.evaluation import evaluate, grade_for, normalise_weights, volume_tiers
from gridgov.services.stats.figures import Figures


def fig(key, registered, due, closed, on_time, handled=0, reworked=0):
    return Figures(key=key, label=key, registered=registered, due=due, closed=closed, closed_on_time=on_time,
                   tasks_handled=handled, tasks_reworked=reworked)


def test_perfect_department_with_most_cases_scores_100_and_gets_a():
    [top] = evaluate([fig("CG", 50, 40, 40, 40, 40, 0)])
    assert top.score == 100.0 and top.grade == "A"


def test_default_weights_combine_closure_on_time_rework_and_volume():
    rows = [fig("A", 100, 10, 8, 6, 10, 2), fig("B", 10, 10, 10, 10, 10, 0)]
    scores = {e.key: e.score for e in evaluate(rows)}
    # A: 30·0.8 + 30·0.6 + 30·(1−0.2) + 10·1.0 (top tier) = 24 + 18 + 24 + 10
    assert scores["A"] == 76.0
    # B: 30 + 30 + 30 + 10·0.6 (rank 2 of 2 → tier index 2)
    assert scores["B"] == 96.0


def test_units_with_nothing_due_are_not_graded():
    [e] = evaluate([fig("X", 3, 0, 0, 0)])
    assert e.score is None and e.grade is None


def test_weights_are_configurable_and_normalised():
    assert normalise_weights({"volume": 0}) == pytest.approx({"closure": 1 / 3, "on_time": 1 / 3, "rework": 1 / 3,
                                                              "volume": 0})
    [e] = evaluate([fig("A", 5, 10, 5, 0)], weights={"closure": 1, "on_time": 0, "rework": 0, "volume": 0})
    assert e.score == 50.0
    with pytest.raises(ValueError):
        normalise_weights({"speed": 1})


@pytest.mark.parametrize("score,grade", [(95, "A"), (90, "A"), (89.9, "B"), (80, "B"), (70, "C"), (60, "D"),
                                         (59.9, "E"), (0, "E"), (None, None)])
def test_grade_thresholds(score, grade):
    assert grade_for(score) == grade


def test_volume_ties_share_the_higher_tier():
    rows = [fig(k, r, 1, 1, 1) for k, r in [("a", 9), ("b", 9), ("c", 5), ("d", 1), ("e", 1)]]
    assert volume_tiers(rows) == {"a": 100, "b": 100, "c": 60, "d": 40, "e": 40}
