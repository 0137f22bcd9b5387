"""What every request of `kiosk web` passes, whatever page it asks for: access.py's checks, the
security headers, plain-text errors, logging in with the token, and how a change answers (a
redirect to the page it came from, saying what happened or why not). app.py's pages build on it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import bottle

from kiosk.config import Config
from kiosk.errors import KioskError, NotFound
from kiosk.store import Store
from kiosk.store.site import refuse_on_member
from kiosk.web import pages
from kiosk.web.access import COOKIE, Asked, refusal, same_token

log = logging.getLogger("kiosk.web")

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # no-referrer would make the browser send "Origin: null" with a form
    "Cache-Control": "no-store",
}


class PageServer:
    """A bottle app over CONFIG's store; PORT and TOKEN are what access.py holds requests to."""

    def __init__(self, config: Config, port: int, token: str):
        self.config, self.port, self.token = config, port, token
        self.app = bottle.Bottle()
        self.app.hook("after_request")(self._headers)
        self.app.default_error_handler = self._plain_error  # every error, a 500 included

    # --- what every request passes ------------------------------------------------------------

    def _guarded(self, handler: Callable[..., Any], login: bool) -> Callable[..., Any]:
        def checked(**kwargs: Any) -> Any:
            request = bottle.request
            asked = Asked(request.method, request.get_header("Host", ""), request.get_cookie(COOKIE) or "",
                          request.get_header("Origin", ""), request.get_header("Referer", ""),
                          request.get_header("Sec-Fetch-Site", ""))
            reason = refusal(asked, self.token, self.port, login=login)
            if reason:
                if request.method == "GET" and "log in" in reason and not request.path.startswith("/image"):
                    return bottle.redirect("/login", 303)
                bottle.abort(403, reason)
            try:
                return handler(**kwargs)
            except KioskError as exc:  # a page that cannot be shown as asked (changes say so themselves)
                raise bottle.HTTPError(404 if isinstance(exc, NotFound) else 400, str(exc)) from None
        return checked

    @staticmethod
    def _headers() -> None:
        for key, value in HEADERS.items():
            bottle.response.set_header(key, value)

    @staticmethod
    def _plain_error(error: bottle.HTTPError) -> str:
        """Any error as one plain line with the security headers; an unexpected one (500) without
        its details, which go to the log."""
        PageServer._headers()
        bottle.response.content_type = "text/plain; charset=utf-8"
        if error.status_code >= 500:
            if error.exception is not None:
                log.error("%s %s: %s", bottle.request.method, bottle.request.path, error.exception)
            return f"{error.status_line}: the page could not be made (see the log)\n"
        return f"{error.status_line}: {error.body}\n"

    def store(self) -> Store:
        return Store(self.config.data_path(), create=True)

    def page(self, title: str, here: str, body: str, refresh: int = 0) -> str:
        query = bottle.request.query.decode()
        return pages.LAYOUT.render(title=title, here=here, body=body, said=query.get("said", ""),
                                   error=query.get("error", ""), refresh=refresh)

    def form(self) -> bottle.FormsDict:
        return bottle.request.forms.decode()

    @staticmethod
    def back(path: str, outcome: str = "", error: str = "", **query: str) -> None:
        """Redirect to PATH (a page of this server), saying OUTCOME or ERROR there."""
        query.update({key: value for key, value in (("said", outcome), ("error", error)) if value})
        bottle.redirect(f"{path}?{urlencode(query)}" if query else path, 303)

    def act(self, path: str, change: Callable[[Store], str], failed: str = "", failed_query: dict | None = None,
            **query: str) -> None:
        """Do CHANGE on the store and go back to PATH (with QUERY) saying what it did; on an
        error, to FAILED (default PATH) with FAILED_QUERY (default: QUERY when back at PATH)."""
        try:
            refuse_on_member(self.config.data_path())
            with self.store() as store:
                outcome = change(store)
        except KioskError as exc:
            if failed_query is None:
                failed_query = {} if failed else query
            self.back(failed or path, error=str(exc), **failed_query)
        self.back(path, outcome, **query)

    # --- login ------------------------------------------------------------------------------

    def login_page(self) -> Any:
        given = bottle.request.query.decode().get("token", "")
        if given:
            return self._log_in(given)
        return self.page("Log in", "", pages.LOGIN.render(reason="This page needs the kiosk's web token."))

    def login(self) -> Any:
        return self._log_in(self.form().get("token", "").strip())

    def _log_in(self, given: str) -> Any:
        if not same_token(given, self.token):
            bottle.response.status = 403
            return self.page("Log in", "", pages.LOGIN.render(reason="That is not the kiosk's web token."))
        bottle.response.set_cookie(COOKIE, self.token, path="/", httponly=True, samesite="strict")
        bottle.response.status = 303
        bottle.response.set_header("Location", "/people")
        return ""

    @staticmethod
    def style() -> str:
        bottle.response.content_type = "text/css; charset=utf-8"
        return pages.STYLE
