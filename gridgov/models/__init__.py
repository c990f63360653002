"""SQLAlchemy tables, one module per aggregate; import from here."""
from gridgov.models.areas import Area, AreaLevel, GridDepartment
from gridgov.models.org import Department, Role, User, ROLES
from gridgov.models.categories import Category, TimeUnit
from gridgov.models.events import Event, EventLog, Extension, Photo, Supervision, Task
from gridgov.models import stats_indexes  # noqa: F401,E402  (attaches indexes to events, tasks)
from gridgov.models.stats_cache import StatsMonthCache
from gridgov.models.ops import ApiToken, CalendarDay, DailyCounter, Notification, OutboxMessage, Setting
from gridgov.models.prefs import NotificationPreference
from gridgov.models.admin_audit import AdminAudit

__all__ = [
    "Area", "AreaLevel", "GridDepartment", "Department", "Role", "User", "ROLES", "Category", "TimeUnit",
    "Event", "EventLog", "Extension", "Photo", "Supervision", "Task", "ApiToken", "CalendarDay",
    "DailyCounter", "Notification", "OutboxMessage", "Setting", "NotificationPreference", "StatsMonthCache",
    "AdminAudit",
]
