"""Who may use each route: the expectation table of the authorization matrix (test_authz_matrix.py).

Every endpoint and method of the app must appear here; a route added without an entry fails the suite.
`page`/`api` entries list the roles allowed; `scoped` means the route acts on one event, so a user of an
allowed role whose jurisdiction does not cover it gets 404 (the app hides what exists outside it).
`ok` lists the statuses an allowed request may get where the matrix's placeholder values make the
normal answer impossible (a job id that does not exist, a photo hash that is no file).
"""
from __future__ import annotations

from dataclasses import dataclass, field

ALL = frozenset({"grid_worker", "dispatcher", "handler", "supervisor", "admin"})
ADMIN = frozenset({"admin"})
DESK = frozenset({"dispatcher", "supervisor", "admin"})  # the command centre's pages and figures
HOTLINE = frozenset({"dispatcher", "admin"})
WORKER = frozenset({"grid_worker"})
HANDLER = frozenset({"handler"})


@dataclass(frozen=True)
class Access:
    kind: str  # "page" (anonymous → login), "api" (anonymous → 401) or "public"
    roles: frozenset = ALL
    scoped: bool = False
    ok: frozenset = field(default_factory=frozenset)  # extra statuses an allowed request may get


def page(roles=ALL, scoped=False, ok=()):
    return Access("page", frozenset(roles), scoped, frozenset(ok))


def api(roles=ALL, scoped=False, ok=()):
    return Access("api", frozenset(roles), scoped, frozenset(ok))


PUBLIC = Access("public")
NOT_FOUND = (404,)

TABLE: dict[tuple[str, str], Access] = {
    ("home.index", "GET"): page(),
    ("auth.login", "GET"): PUBLIC,
    ("auth.login", "POST"): Access("public", ok=frozenset({401})),  # wrong credentials: 401 is the answer
    ("auth.logout", "POST"): Access("public", ok=frozenset({302})),  # back to the login page
    ("auth.set_language", "POST"): PUBLIC,
    ("health.healthz", "GET"): PUBLIC,
    ("notifications.index", "GET"): page(),
    ("notifications.read", "POST"): page(),
    ("console.event_page", "GET"): page(scoped=True),
    ("console.act", "POST"): page(scoped=True, ok=(403, 409, 422)),  # the workflow decides per action
    ("media.public", "GET"): page(ok=NOT_FOUND),
    ("media.thumb", "GET"): page(ok=NOT_FOUND),
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
    ("tasks.note", "POST"): page(HANDLER, scoped=True, ok=(409, 422)),
    # command centre
    ("dispatch.desk", "GET"): page(DESK),
    ("dispatch.event", "GET"): page(DESK, scoped=True),
    ("dispatch.batch", "POST"): page({"dispatcher", "admin"}),
    ("dispatch.grids_geojson", "GET"): page(DESK),
    ("dispatch.supervised", "GET"): page(DESK),
    ("hotline.index", "GET"): page(HOTLINE),
    ("hotline.new", "GET"): page(HOTLINE),
    ("hotline.new", "POST"): page(HOTLINE, ok=(422,)),
    ("hotline.show", "GET"): page(HOTLINE, scoped=True),
    ("hotline.areas_geojson", "GET"): page(HOTLINE),
    ("dashboard.index", "GET"): page(DESK, ok=(308,)),
    ("dashboard.events", "GET"): page(DESK),
    ("dashboard.areas_geojson", "GET"): page(DESK),
    ("dashboard.export_events", "GET"): page(DESK),
    ("dashboard.export_report_csv", "GET"): page(DESK),
    ("dashboard.export_report_xlsx", "GET"): page(DESK),
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
    ("admin.area_import", "POST"): page(ADMIN, ok=(422,)),
    ("admin.area_import_commit", "POST"): page(ADMIN),
    ("admin.workflows", "GET"): page(ADMIN),
    ("admin_jobs.index", "GET"): page(ADMIN),
    ("admin_jobs.requeue", "POST"): page(ADMIN, ok=NOT_FOUND),
    ("admin_jobs.retry_outbox", "POST"): page(ADMIN, ok=NOT_FOUND),
    # JSON API
    ("api_docs.docs", "GET"): PUBLIC,
    ("api-docs.openapi_json", "GET"): PUBLIC,
    ("api_auth.create_token", "POST"): PUBLIC,  # it is the login: the body is checked, not a session
    ("api_auth.revoke_token", "DELETE"): api(),
    ("events.create_event", "POST"): api(ok=(422,)),
    ("events.list_events", "GET"): api(),
    ("events.get_event", "GET"): api(scoped=True),
    ("events.act", "POST"): api(scoped=True, ok=(403, 409, 422)),  # the workflow decides per action
    ("geo.locate", "GET"): api(),
    ("api_stats.get_stats", "GET"): api(DESK),
    # Open311 is the citizens' channel: public by the spec (posting needs an api_key in the body)
    ("open311.discovery", "GET"): PUBLIC,
    ("open311.services_list", "GET"): PUBLIC,
    ("open311.service_definition", "GET"): PUBLIC,
    ("open311.requests_list", "GET"): PUBLIC,
    ("open311.request_detail", "GET"): PUBLIC,
    ("open311.create_request", "POST"): PUBLIC,
}

EXEMPT = {"static"}


def routes_of(app) -> set[tuple[str, str]]:
    return {(rule.endpoint, method) for rule in app.url_map.iter_rules() if rule.endpoint not in EXEMPT
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def missing_entries(app) -> set[tuple[str, str]]:
    return routes_of(app) - set(TABLE)
