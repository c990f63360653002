"""Notification texts by topic, in Chinese (default) and English, filled from the event."""
from __future__ import annotations

from gridgov.models import Event

TOPICS: dict[str, tuple[str, str]] = {
    "event_reported": ("新上报事件：{number}", "New event reported: {number}"),
    "deadline_1": ("事件即将超期：{number}", "Event nearing its deadline: {number}"),
    "deadline_2": ("事件已超期：{number}", "Event overdue: {number}"),
    "deadline_3": ("事件严重超期，已上报县级：{number}", "Event long overdue, escalated to the county: {number}"),
    "verify_reminder": ("事件待核查：{number}", "Event awaiting your verification: {number}"),
}
GENERIC = ("事件通知：{number}", "Event notice: {number}")


def render(topic: str, event: Event | None, locale: str, *, title: str | None = None) -> tuple[str, str]:
    """(title, body) for one recipient; an explicit title from the payload wins."""
    zh, en = TOPICS.get(topic, GENERIC)
    template = en if (locale or "").startswith("en") else zh
    facts = {"number": event.number if event else "", "address": event.address if event else ""}
    text = title or template.format(**facts)
    body = event.description[:500] if event and event.description else ""
    return text[:200], body
