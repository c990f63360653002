"""Composite evaluation (综合考评) of departments and township command centres, graded A–E.

score = w_closure·结案率 + w_on_time·按期结案率 + w_rework·(100 − 返工率) + w_volume·工作量档次,
each part on a 0–100 scale and the weights summing to 1 (default 30/30/30/10, after common
数字城管 assessment practice). The volume tier rewards units that carry more cases: units are
ranked by 立案数 and split into five equal tiers worth 100, 80, 60, 40, 20 (ties share the higher
tier). A unit with nothing due in the period is not graded (score None), rather than scoring 0 or 100.

Grades: A ≥ 90, B ≥ 80, C ≥ 70, D ≥ 60, E below 60.
"""
from __future__ import annotations

from dataclasses import dataclass

from gridgov.services.stats.figures import Figures

DEFAULT_WEIGHTS = {"closure": 0.30, "on_time": 0.30, "rework": 0.30, "volume": 0.10}
GRADE_THRESHOLDS = (("A", 90.0), ("B", 80.0), ("C", 70.0), ("D", 60.0))
TIER_POINTS = (100, 80, 60, 40, 20)


@dataclass
class Evaluation:
    key: object
    label: str
    figures: Figures
    volume_points: int
    score: float | None
    grade: str | None

    def as_dict(self) -> dict:
        return {"key": self.key, "label": self.label, "score": self.score, "grade": self.grade,
                "volume_points": self.volume_points, "closure_rate": self.figures.closure_rate,
                "on_time_rate": self.figures.on_time_rate, "rework_rate": self.figures.rework_rate,
                "registered": self.figures.registered, "due": self.figures.due}


def normalise_weights(weights: dict | None) -> dict:
    merged = dict(DEFAULT_WEIGHTS)
    if weights:
        unknown = set(weights) - set(DEFAULT_WEIGHTS)
        if unknown:
            raise ValueError(f"unknown weights: {sorted(unknown)}")
        merged.update({k: float(v) for k, v in weights.items()})
    total = sum(merged.values())
    if total <= 0 or any(v < 0 for v in merged.values()):
        raise ValueError("weights must be non-negative and not all zero")
    return {k: v / total for k, v in merged.items()}


def grade_for(score: float | None) -> str | None:
    if score is None:
        return None
    for grade, threshold in GRADE_THRESHOLDS:
        if score >= threshold:
            return grade
    return "E"


def volume_tiers(rows: list[Figures]) -> dict[object, int]:
    """Tier points by rank of 立案数 among the units with any registered case."""
    active = sorted((r for r in rows if r.registered), key=lambda r: -r.registered)
    points: dict[object, int] = {r.key: 0 for r in rows}
    n = len(active)
    for rank, row in enumerate(active):
        # The first unit with this volume decides the tier, so ties share the higher one.
        first = next(i for i, other in enumerate(active) if other.registered == row.registered)
        tier = min(first * 5 // n, 4) if n else 4
        points[row.key] = TIER_POINTS[tier]
    return points


def evaluate(rows: list[Figures], weights: dict | None = None) -> list[Evaluation]:
    """Scores for one grouping's rows (department or township), best first; ungraded last."""
    w = normalise_weights(weights)
    tiers = volume_tiers(rows)
    result = []
    for row in rows:
        if row.key is None:
            continue
        score = None
        if row.due:
            score = round(100 * (w["closure"] * (row.closure_rate or 0) + w["on_time"] * (row.on_time_rate or 0)
                                 + w["rework"] * (1 - (row.rework_rate or 0)))
                          + w["volume"] * tiers[row.key], 1)
        result.append(Evaluation(row.key, row.label, row, tiers[row.key], score, grade_for(score)))
    result.sort(key=lambda e: (e.score is None, -(e.score or 0), str(e.key)))
    return result
