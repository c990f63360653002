"""gridgov.sessions: a request without a session cookie opens and saves its session for free, and every
answer carries the same cookies and Vary header as with Flask's own cookie sessions."""
from flask.sessions import SecureCookieSessionInterface

from gridgov.sessions import CookieSessionInterface
from tests.conftest import DEMO_PASSWORD
from tests.integration.test_api_events import auth


def _exchange(client):
    """A bearer API call, a page without a cookie, a login, a page with its cookie, a logout."""
    seen = []

    def keep(response):
        seen.append((response.status_code, sorted(response.headers.getlist("Set-Cookie")),
                     response.headers.get("Vary")))

    headers = auth(client)
    keep(client.get("/api/v1/events?per_page=1", headers=headers))
    keep(client.get("/login"))
    keep(client.post("/login", data={"username": "demo_dispatcher", "password": DEMO_PASSWORD}))
    keep(client.get("/"))
    keep(client.post("/logout"))
    keep(client.get("/"))
    return seen


def _cookie_names(seen):
    return [[c.split("=", 1)[0] for c in cookies] for _, cookies, _ in seen]


def test_answers_are_as_with_flasks_own_cookie_sessions(app):
    assert isinstance(app.session_interface, CookieSessionInterface)
    ours = _exchange(app.test_client())
    app.session_interface = SecureCookieSessionInterface()
    try:
        theirs = _exchange(app.test_client())
    finally:
        app.session_interface = CookieSessionInterface()
    assert [(s, v) for s, _, v in ours] == [(s, v) for s, _, v in theirs]
    assert _cookie_names(ours) == _cookie_names(theirs)
    assert ours[0][1] == [] and "Cookie" in ours[0][2]  # a bearer call: no cookie, Vary: Cookie as before
    assert ours[2][0] == 302 and ours[3][0] == 200  # logged in through the cookie it was given
