"""Covering indexes for the statistics cohorts (migration 0201_stats_indexes explains why).

Declared here, beside the tables rather than inside them, so the statistics' needs stay in one place;
the columns are INCLUDE payload on PostgreSQL and ignored elsewhere.
"""
from sqlalchemy import Index

from gridgov.models.events import OPEN_STATES, Event, Task

_AREA_AND_GROUPS = ["county_code", "township_code", "village_code", "grid_code", "department_code",
                    "category_code", "reporter_id"]

OPEN_INCLUDE = ["id", "state", "supervision_level", "reported_at", "registered_at", "self_resolved", "closed_on_time",
                "handling_working_seconds", "satisfaction", *_AREA_AND_GROUPS]

STATS_INDEXES = (
    # Partial (migration 0008): the cohort reads a registered_at range, which a NULL never meets, so a
    # report (not registered yet) writes no entry to this wide index.
    Index("ix_events_stats_registered", Event.registered_at,
          postgresql_include=["state", "deadline", "closed_on_time", "handling_working_seconds", "satisfaction",
                              *_AREA_AND_GROUPS],
          postgresql_where=Event.registered_at.is_not(None), sqlite_where=Event.registered_at.is_not(None)),
    Index("ix_events_stats_reported", Event.reported_at,
          postgresql_include=["self_resolved", "state", *_AREA_AND_GROUPS]),
    Index("ix_tasks_stats_handled", Task.handled_at, postgresql_include=["status", "department_code", "event_id"]),
    # The task cohort needs its event's area and category: probing this narrow index per task is
    # far cheaper than a hash join that reads the whole events table.
    Index("ix_events_stats_id", Event.id, postgresql_include=["state", "county_code", "township_code", "village_code",
                                                              "grid_code", "category_code", "reporter_id"]),
    # …and the cache's live part goes the other way: from the few open events to their tasks.
    Index("ix_tasks_stats_event", Task.event_id, postgresql_include=["handled_at", "status", "department_code"]),
    # The sealed-month cache asks which months changed since it computed them.
    Index("ix_events_stats_updated", Event.updated_at),
    # Open events only (a few percent of the table): the overdue and supervised lists and counts,
    # and the live part of cached months (every column the figures read, so no table access).
    Index("ix_events_stats_open", Event.deadline,
          postgresql_include=OPEN_INCLUDE,
          postgresql_where=Event.state.in_(OPEN_STATES), sqlite_where=Event.state.in_(OPEN_STATES)),
)
