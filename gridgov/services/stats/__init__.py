"""Statistics for supervisors: the figures of DESIGN.md, their periods, department evaluation, exports.

Definitions (which timestamp puts an event in a period, what each figure counts) are in
`gridgov.services.stats.figures`; everything that shows a number — the dashboard, `/api/v1/stats`,
the Excel and CSV reports — goes through `compute_many`, so they cannot disagree.
"""
from gridgov.services.stats.figures import (  # noqa: F401
    EVENT_FIGURES, GROUPINGS, Figures, StatsQuery, compute, compute_many, event_figure_clause,
    list_events_stmt, totals,
)
from gridgov.services.stats.periods import PRESETS, Period, month_period, preset_period  # noqa: F401
