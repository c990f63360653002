"""The `page` query parameter of the paged lists: my reports (phone), the admin audit log, the dashboard's events."""
from __future__ import annotations

# As the JSON API's `page` (gridgov/api/schemas.py): far past any list a person pages through.
MAX_PAGE = 100_000


def page_number(args) -> int:
    """The page asked for: 1 when absent or not a number, at most MAX_PAGE. Unbounded, a page of 2**70 made an
    OFFSET no database integer holds (SQLite refuses it before the query, PostgreSQL in it): a 500."""
    return min(max(args.get("page", 1, type=int), 1), MAX_PAGE)
