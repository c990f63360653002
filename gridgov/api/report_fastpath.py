"""The hot path of the API: a phone's plain report, POST /api/v1/events with a bearer token and a JSON
body, answered without Flask's request dispatch.

Every report from the field takes this route, and on it Flask's machinery around the view (request
context, URL matching, the before/after/teardown hooks of five extensions, flask-smorest's wrappers
for the documentation, Flask-Login's session checks) took about a third of a report's CPU in our
process (bench/profile_ingest.py: 1.68 ms per report through the view, 1.11 ms here).
This middleware takes only the requests whose answer it can give exactly as the view would:

  POST to /api/v1/events itself, no query string, a JSON body with a Content-Length within
  MAX_CONTENT_LENGTH, an `Authorization: Bearer …` header, no cookie (a signed-in browser is
  answered by its session, not by a token), no application-wide rate limit configured;

then it does what the view and its hooks do for such a request: the request guard's check for text no
database can store, the same fast field loader (gridgov/api/fastload.py), the same token lookup, the
same report (gridgov/api/events.report_answer) in an app context whose teardown closes the session,
and the same answer: JSON from the app's provider, the security headers, `Vary: Cookie`.

Anything it does not vouch for goes to Flask untouched (the body it read is handed on): another
method, path or content type, a body the guard, the JSON decoder or the fast loader would not pass, an
unknown token. A refusal from the report itself (a domain error, a database error) goes to Flask too,
with the error: Flask raises it again before anything else (raise_refusal) and its error handlers answer
it in the one error shape, as they answer the view's. So this path never makes an error response of its
own, and tests/integration/test_report_fastpath.py checks that its answers equal the view's, header by
header. `API_FASTPATH = False` turns it off.
"""
from __future__ import annotations

import io
import json

from flask import Flask, request
from flask_login import current_user

from gridgov import security
from gridgov.api.events import REPORT_SHORTCUT, report_answer
from gridgov.extensions import limiter
from gridgov.request_guard import first_unstorable, json_may_hold_unstorable
from gridgov.services.tokens import user_for_token

PATH = "/api/v1/events"


def is_json_mimetype(content_type: str) -> bool:
    """What werkzeug's Request.is_json answers for this Content-Type header."""
    mimetype = content_type.split(";", 1)[0].strip().lower()
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


class ReportFastPath:
    def __init__(self, app: Flask, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        token = self._bearer_report(environ)
        if token is None:
            return self.wsgi_app(environ, start_response)
        body = self._read_body(environ)
        if body is not None:
            response = self._answer(environ, token, body)
            if response is not None:
                return response(environ, start_response)
            environ["wsgi.input"] = io.BytesIO(body)
        return self.wsgi_app(environ, start_response)

    def _bearer_report(self, environ) -> str | None:
        """The token of a request this path takes, or None."""
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST" \
                or environ.get("QUERY_STRING") or environ.get("HTTP_COOKIE") \
                or not self.app.config.get("API_FASTPATH", True):
            return None
        header = environ.get("HTTP_AUTHORIZATION", "")
        if header[:7].lower() != "bearer " or not is_json_mimetype(environ.get("CONTENT_TYPE", "")):
            return None
        return header[7:].strip() or None

    def _read_body(self, environ) -> bytes | None:
        """The whole body, or None (and nothing read) when its length is unknown or over the cap."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return None
        cap = self.app.config.get("MAX_CONTENT_LENGTH")
        if length < 0 or (cap is not None and length > cap):
            return None
        return environ["wsgi.input"].read(length) if length else b""

    def _answer(self, environ, token: str, body: bytes):
        """The view's answer to this report, or None: let the view answer it."""
        try:
            raw = json.loads(body)
        except ValueError:
            return None
        if not isinstance(raw, dict):
            return None
        if json_may_hold_unstorable(body) and first_unstorable(raw):
            return None  # the request guard refuses it, on the view's path
        fields = REPORT_SHORTCUT(raw)
        if fields is None:
            return None
        app = self.app
        with app.app_context():
            if limiter.enabled and limiter.has_app_wide_limits():
                return None
            try:
                user = user_for_token(token)
                if user is None:
                    return None
                answer, status = report_answer(user, fields, environ.get("HTTP_IDEMPOTENCY_KEY"))
            except Exception as exc:
                # The view would have raised the same error at the same point: Flask raises it again
                # for this request (raise_refusal) and its handlers answer it as the view's. Not a
                # second attempt, which could answer differently: a refusal may have changed
                # something (a deactivated account's cached token is dropped, so a second lookup
                # would answer 401, not 403). The app context's teardown closes the session, even on
                # a lost connection.
                environ[REFUSAL] = exc
                return None
            response = app.json.response(answer)
        response.status_code = status
        response.vary.add("Cookie")  # as the view's answer: Flask-Login looked for a session user
        security.add_headers(app, response)
        return response


REFUSAL = "gridgov.report_fastpath.refusal"


def raise_refusal() -> None:
    """First thing Flask does with a request the fast path refused: raise its error again. (Left in
    the environ, which ends with the request: a test can tell the fast path refused it.)"""
    refusal = request.environ.get(REFUSAL)
    if refusal is not None:
        # As the view's login_required would, before the view raised it: Flask-Login reads the session
        # (so the answer varies by Cookie, as the view's does) and the request's user.
        current_user.is_authenticated  # noqa: B018
        raise refusal


def install(app: Flask) -> None:
    if REPORT_SHORTCUT is None:  # the report schema outgrew the fast loader: every report takes the view
        return
    app.before_request_funcs.setdefault(None, []).insert(0, raise_refusal)
    app.wsgi_app = ReportFastPath(app, app.wsgi_app)
