"""Covering indexes for the statistics cohorts (migration 0201_stats_indexes explains why).

Declared here, beside the tables rather than inside them, so the statistics' needs stay in one place;
the columns are INCLUDE payload on PostgreSQL and ignored elsewhere.
"""
from sqlalchemy import Index

from gridgov.models.events import OPEN_STATES, Event, Task

_AREA_AND_GROUPS = ["county_code", "township_code", "village_code", "grid_code", "department_code",
                    "category_code", "reporter_id"]

STATS_INDEXES = (
    Index("ix_events_stats_registered", Event.registered_at,
          postgresql_include=["state", "deadline", "closed_on_time", "handling_working_seconds", "satisfaction",
                              *_AREA_AND_GROUPS]),
    Index("ix_events_stats_reported", Event.reported_at, postgresql_include=["self_resolved", *_AREA_AND_GROUPS]),
    Index("ix_tasks_stats_handled", Task.handled_at, postgresql_include=["status", "department_code", "event_id"]),
    # The task cohort needs its event's area and category: probing this narrow index per task is
    # far cheaper than a hash join that reads the whole events table.
    Index("ix_events_stats_id", Event.id, postgresql_include=["county_code", "township_code", "village_code",
                                                              "grid_code", "category_code", "reporter_id"]),
    # The sealed-month cache asks which months changed since it computed them.
    Index("ix_events_stats_updated", Event.updated_at),
    # Open events only (a few percent of the table): the overdue and supervised lists and counts.
    Index("ix_events_stats_open", Event.deadline,
          postgresql_include=["state", "supervision_level", *_AREA_AND_GROUPS],
          postgresql_where=Event.state.in_(OPEN_STATES), sqlite_where=Event.state.in_(OPEN_STATES)),
)
