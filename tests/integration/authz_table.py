"""Who may use each route: the expectation table of the authorization matrix (test_authz_matrix.py).

Every endpoint and method of the app must appear here; a route added without an entry fails the suite.
`page`/`api` entries list the roles allowed (any other signed-in role gets 403: the role gate comes before
the jurisdiction check); anonymous callers are sent to the login form (`page`) or get 401 (`api`).

Jurisdiction: `scoped` means the URL names one event, so an allowed role whose jurisdiction does not cover
it gets `foreign` (404: the app hides what exists outside it). `over` names the other kinds: "photo" (a
photo's content hash in the URL, 404 outside), "area" (the `area` query parameter of statistics: 403
outside; of the event list: 200 with nothing foreign in it), "form" (event ids in the form, as batch
dispatch takes them: each foreign one is reported on the page and left alone) and "point" (a report's
position: anyone may report anywhere, but the answer must not show the events already there). Admins work
county-wide.

`status` is the exact answer to an allowed request on an object inside the jurisdiction when it is not
the method's usual one (GET 200, a page's POST 302 after the redirect-after-post, an API POST 200,
DELETE 204); a mapping when it differs by role. `publishes` marks routes that show events to the public
by design (Open311), to which the "nothing foreign in the answer" check does not apply.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

ALL = frozenset({"grid_worker", "dispatcher", "handler", "supervisor", "admin"})
ADMIN = frozenset({"admin"})
DESK = frozenset({"dispatcher", "supervisor", "admin"})  # the command centre's pages and figures
HOTLINE = frozenset({"dispatcher", "admin"})
WORKER = frozenset({"grid_worker"})
HANDLER = frozenset({"handler"})
ACTORS = ALL - ADMIN  # the roles the workflow gives actions to (admins manage, they do not act)
OVER = ("photo", "area", "form", "point")


@dataclass(frozen=True)
class Access:
    kind: str  # "page" (anonymous → login), "api" (anonymous → 401) or "public"
    roles: frozenset = ALL
    scoped: bool = False
    over: str | None = None  # jurisdiction by something else than an event id in the URL (see above)
    status: int | Mapping[str, int] | None = None  # see above; None: the method's usual answer
    foreign: int = 404
    anonymous: int | None = None  # public routes: the anonymous answer when it differs from `status`
    publishes: bool = False

    @property
    def jurisdiction(self) -> str | None:
        return "event" if self.scoped else self.over

    @property
    def refuses_foreign(self) -> bool:
        """Whether a request about a foreign object must change nothing."""
        return self.over != "point"

    def status_for(self, role: str, method: str) -> int:
        if isinstance(self.status, Mapping):
            return self.status[role]
        if self.status is not None:
            return self.status
        return {"GET": 200, "DELETE": 204}.get(method, 302 if self.kind == "page" else 200)


def page(roles=ALL, scoped=False, **kw):
    return Access("page", frozenset(roles), scoped, **kw)


def api(roles=ALL, scoped=False, **kw):
    return Access("api", frozenset(roles), scoped, **kw)


def public(**kw):
    return Access("public", **kw)


PUBLIC = Access("public")
NOT_FOUND = 404
AREA = {"over": "area", "foreign": 403}  # statistics: an area outside the jurisdiction is refused


def acted(status: int) -> dict[str, int]:
    """Action routes: every role may ask, the workflow answers; admins hold no workflow action (403)."""
    return {role: status for role in ACTORS} | {"admin": 403}


TABLE: dict[tuple[str, str], Access] = {
    ("home.index", "GET"): page(),
    ("auth.login", "GET"): public(status=302, anonymous=200),  # signed in: on to the start page
    ("auth.login", "POST"): public(status=302, anonymous=401),  # wrong credentials: 401 is the answer
    ("auth.logout", "POST"): page(),  # back to the login page
    ("auth.set_language", "POST"): public(status=302),
    ("health.healthz", "GET"): PUBLIC,
    ("static", "GET"): PUBLIC,
    ("notifications.index", "GET"): page(),
    ("notifications.read", "POST"): page(),
    ("console.event_page", "GET"): page(scoped=True, status=302),  # on to the role's console
    ("console.act", "POST"): page(scoped=True, status=acted(302)),  # the workflow decides per action
    ("media.public", "GET"): page(over="photo"),
    ("media.thumb", "GET"): page(over="photo"),
    # grid workers' phone pages
    ("mobile.home", "GET"): page(WORKER),
    ("mobile.report", "GET"): page(WORKER),
    ("mobile.my_events", "GET"): page(WORKER),
    ("mobile.event_detail", "GET"): page(WORKER, scoped=True),
    ("mobile.areas_geojson", "GET"): page(WORKER),
    ("verify.index", "GET"): page(WORKER),
    ("verify.event", "GET"): page(WORKER, scoped=True),
    # departments
    ("tasks.index", "GET"): page(HANDLER),
    ("tasks.task", "GET"): page(HANDLER, scoped=True),
    ("tasks.note", "POST"): page(HANDLER, scoped=True),
    # command centre
    ("dispatch.desk", "GET"): page(DESK),
    ("dispatch.event", "GET"): page(DESK, scoped=True),
    ("dispatch.batch", "POST"): page({"dispatcher", "admin"}, over="form", foreign=302),
    ("dispatch.grids_geojson", "GET"): page(DESK),
    ("dispatch.supervised", "GET"): page(DESK),
    ("hotline.index", "GET"): page(HOTLINE),
    ("hotline.new", "GET"): page(HOTLINE),
    ("hotline.new", "POST"): page(HOTLINE, over="point", foreign=302),
    ("hotline.show", "GET"): page(HOTLINE, scoped=True),
    ("hotline.areas_geojson", "GET"): page(HOTLINE),
    ("dashboard.index", "GET"): page(DESK, **AREA),
    ("dashboard.events", "GET"): page(DESK, **AREA),
    ("dashboard.areas_geojson", "GET"): page(DESK, **AREA),
    ("dashboard.export_events", "GET"): page(DESK, **AREA),
    ("dashboard.export_report_csv", "GET"): page(DESK, **AREA),
    ("dashboard.export_report_xlsx", "GET"): page(DESK, **AREA),
    # administration
    ("admin.index", "GET"): page(ADMIN),
    ("admin.users", "GET"): page(ADMIN),
    ("admin.create_user", "POST"): page(ADMIN),
    ("admin.edit_user", "GET"): page(ADMIN),
    ("admin.update_user", "POST"): page(ADMIN),
    ("admin.reset_password", "POST"): page(ADMIN),
    ("admin.unlock_user", "POST"): page(ADMIN),
    ("admin.revoke_tokens", "POST"): page(ADMIN),  # an empty form revokes nothing
    ("admin.audit", "GET"): page(ADMIN),
    ("admin.departments", "GET"): page(ADMIN),
    ("admin.save_department", "POST"): page(ADMIN),
    ("admin.categories", "GET"): page(ADMIN),
    ("admin.update_category", "POST"): page(ADMIN),
    ("admin.calendar", "GET"): page(ADMIN),
    ("admin.set_calendar_day", "POST"): page(ADMIN),
    ("admin.delete_calendar_day", "POST"): page(ADMIN),
    ("admin.area_import", "GET"): page(ADMIN),
    ("admin.area_import", "POST"): page(ADMIN, status=200),  # no file: the form again, with a message
    ("admin.area_import_commit", "POST"): page(ADMIN),
    ("admin.workflows", "GET"): page(ADMIN),
    ("admin_jobs.index", "GET"): page(ADMIN),
    ("admin_jobs.requeue", "POST"): page(ADMIN, status=NOT_FOUND),  # no Redis: no failed-job registry
    ("admin_jobs.retry_outbox", "POST"): page(ADMIN, status=NOT_FOUND),  # inline jobs: no unsent row
    # JSON API
    ("api_docs.docs", "GET"): PUBLIC,
    ("api-docs.openapi_json", "GET"): PUBLIC,
    ("api_auth.create_token", "POST"): public(status=201),  # it is the login: the body is checked, not a session
    ("api_auth.revoke_token", "DELETE"): api(),
    ("events.create_event", "POST"): api(status=201, over="point", foreign=201),
    ("events.list_events", "GET"): api(over="area", foreign=200),  # a foreign filter lists nothing
    ("events.get_event", "GET"): api(scoped=True),
    ("events.act", "POST"): api(scoped=True, status=acted(200)),  # the workflow decides per action
    ("geo.locate", "GET"): api(),
    ("api_stats.get_stats", "GET"): api(DESK, **AREA),
    # Open311 is the citizens' channel: public by the spec (posting needs an api_key in the body)
    ("open311.discovery", "GET"): PUBLIC,
    ("open311.services_list", "GET"): PUBLIC,
    ("open311.service_definition", "GET"): PUBLIC,
    ("open311.requests_list", "GET"): public(publishes=True),
    ("open311.request_detail", "GET"): public(publishes=True),
    ("open311.create_request", "POST"): public(status=201, over="point", foreign=201),
    ("open311.media", "GET"): public(publishes=True),  # photos of published requests, for media_url
}

EXEMPT: frozenset[str] = frozenset()  # every route has an entry, static files included


def routes_of(app) -> set[tuple[str, str]]:
    return {(rule.endpoint, method) for rule in app.url_map.iter_rules() if rule.endpoint not in EXEMPT
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def missing_entries(app) -> set[tuple[str, str]]:
    return routes_of(app) - set(TABLE)
