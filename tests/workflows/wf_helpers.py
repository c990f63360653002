"""Shared test data for the workflow tests (a plain module, imported by name, so it cannot clash with other
test trees' conftest files)."""

import datetime as dt

TZ = dt.timezone(dt.timedelta(hours=8))

GOOD_INPUTS = {
    "comment": "已清理完毕",
    "reason": "非本部门职责",
    "photos": ["photo-1.jpg"],
    "department": "CGJ",
    "deadline": dt.datetime(2025, 6, 3, 17, 30, tzinfo=TZ),
    "master_event": 42,
    "satisfaction": "satisfied",
    "level": "red",
}


class Ev:
    """A plain event object: the engine asks for nothing but `.state`."""

    def __init__(self, state="reported"):
        self.state = state
