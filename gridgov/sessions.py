"""Signed cookie sessions that cost nothing to a request without a session cookie.

Flask's SecureCookieSessionInterface builds its signing serializer (keys, salt, signer) on every
request to open the session, even when the request carries no cookie at all — every bearer-token
API call — and reads seven cookie settings to save an empty, untouched session. Both are skipped
here; a request with a session cookie, or a session that was written, is handled exactly as before.
"""
from __future__ import annotations

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin


class CookieSessionInterface(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()  # what the parent answers to a missing cookie, without its serializer
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not session and not session.modified:
            # The parent's own answer to an empty session nobody changed: no cookie, only the Vary.
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


def register(app: Flask) -> None:
    app.session_interface = CookieSessionInterface()
