"""Who may call what on the web server: Host check, token or login cookie, CSRF proof, response headers.

Two modes, chosen by whether a token is configured (edge.config refuses a non-loopback address without one):

- No token (the default, loopback only): whoever can open a connection on the device itself may read
  everything. What a browser could be tricked into is blocked: a Host header that is not a loopback name
  (DNS rebinding) is refused, and a state change needs the per-process CSRF value that only a page served
  by this daemon (or GET /api/csrf) knows, from the same origin.
- Token: everything but the public endpoints (health, privacy notice, static files, the OpenAPI document,
  the login page) needs `Authorization: Bearer <token>` or the login cookie that POST /login sets
  (HttpOnly, SameSite=Strict, signed with the token, 30 days). A state change authenticated by the
  cookie also needs the CSRF value; one authenticated by the bearer header does not (a browser never
  adds that header by itself). After FAILURE_LIMIT wrong tokens within FAILURE_WINDOW_S, a client (an IPv4
  address or an IPv6 /64, see client_key) gets 429 for its logins and bearer requests, unchecked, for as
  long again (edge/web/throttle.py).

Every state change from a browser must come from this origin (Origin / Sec-Fetch-Site headers).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from urllib.parse import quote, urlsplit

from flask import Flask, Request, Response, jsonify, redirect, render_template, request

from edge.web.settings import WebConfig, is_loopback
from edge.web.throttle import FAILURE_LIMIT, FailureThrottle, client_key, retry_after_s

log = logging.getLogger("edge.web")

PUBLIC_ENDPOINTS = frozenset({"static", "health", "privacy", "operator_notes", "login", "openapi"})
PAGE_ENDPOINTS = frozenset({"dashboard", "kiosk"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
COOKIE = "fer_edge_auth"
COOKIE_MAX_AGE_S = 30 * 86400
CSRF_HEADER = "X-CSRF-Token"
SHORT_TOKEN = 16  # below this many characters a token could be guessed; said at start, not refused

CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                           "form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # not no-referrer: under it a browser sends "Origin: null" with this server's own form posts
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",  # the pages never need the browser's
}


def host_name(host_header: str) -> str | None:
    """'Booth.local:8080' -> 'booth.local', '[::1]:8080' -> '::1'; None when it is not a host at all."""
    try:
        return urlsplit("//" + host_header).hostname
    except ValueError:  # e.g. an unbalanced '[' in the header
        return None


class AccessPolicy:
    def __init__(self, token: str | None, bind_host: str = "127.0.0.1", allowed_hosts: Iterable[str] = (),
                 clock: Callable[[], float] = time.time, failure_limit: int = FAILURE_LIMIT):
        self.token = token
        self.clock = clock
        self.throttle = FailureThrottle(clock, failure_limit)
        # Without a token the CSRF value only has to outlive the pages this process serves.
        secret = token.encode() if token is not None else secrets.token_bytes(32)
        self._key = hmac.new(secret, b"fer-edge web access", hashlib.sha256).digest()
        self.csrf_token = self._sign("csrf")
        wildcard = bind_host in WILDCARD_HOSTS
        self._hosts = {h.lower() for h in allowed_hosts} | (set() if wildcard else {bind_host.lower()})
        # Bound to every interface with no list: clients use addresses this process cannot know. That is
        # only allowed with a token, and the token, not the Host header, is then what keeps strangers out.
        self._any_host = wildcard and not self._hosts

    @classmethod
    def from_config(cls, web: WebConfig) -> AccessPolicy:
        token = web.resolved_token
        if token is not None and len(token) < SHORT_TOKEN:
            log.warning("web token is only %d characters: use %d or more random ones", len(token), SHORT_TOKEN)
        return cls(token, web.host, web.allowed_hosts)

    def _sign(self, message: str) -> str:
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    # ---- checks ------------------------------------------------------------------------------------

    def host_allowed(self, host_header: str) -> bool:
        name = host_name(host_header)
        if not name:
            return False
        return self._any_host or is_loopback(name) or name in self._hosts

    def token_matches(self, given: str, address: str) -> bool:
        """`given` is the token; a wrong one counts against `address` (see FailureThrottle)."""
        if self.token is None:
            return False  # nothing to guess, nothing to count
        if hmac.compare_digest(given.encode(), self.token.encode()):
            return True
        self.throttle.failed(address)
        return False

    def issue_cookie(self) -> str:
        issued = int(self.clock())
        return f"{issued}.{self._sign(f'cookie:{issued}')}"

    def cookie_valid(self, value: str | None) -> bool:
        issued, _, signature = (value or "").partition(".")
        if not (issued.isascii() and issued.isdigit()) or len(issued) > 12:  # "²".isdigit() is True
            return False
        # either way: a Pi without a real-time clock may have stepped its clock since the login
        fresh = abs(self.clock() - int(issued)) <= COOKIE_MAX_AGE_S
        return fresh and hmac.compare_digest(signature.encode(), self._sign(f"cookie:{issued}").encode())

    def csrf_valid(self, req: Request) -> bool:
        return hmac.compare_digest(req.headers.get(CSRF_HEADER, "").encode(), self.csrf_token.encode())

    def cross_origin(self, req: Request) -> bool:
        """A browser says the request comes from another origin (another site, or another port)."""
        site = req.headers.get("Sec-Fetch-Site")
        if site is not None:  # current browsers say so outright
            return site not in ("same-origin", "none")
        origin = req.headers.get("Origin")
        if origin is None:
            return False
        try:
            return urlsplit(origin).netloc.lower() != req.host.lower()
        except ValueError:  # not a URL at all (e.g. "null" parses; "http://[" does not)
            return True

    # ---- the gate in front of every request -----------------------------------------------------------

    def refuse(self, req: Request) -> Response | None:
        """The response refusing `req`, or None to let it through."""
        if not self.host_allowed(req.host):
            return _error(400, f"Host {req.host[:100]!r} is not served here: use a loopback address, the "
                               "address the service binds to, or add the name to web.allowed_hosts")
        if req.routing_exception is not None:  # no such route or method: say so (404, 405); nothing to guard
            return None
        public = req.endpoint in PUBLIC_ENDPOINTS
        given = _bearer(req)
        if given is not None:
            address = _address(req)
            if wait := self.throttle.wait_s(address):
                return _too_many(_error(429, f"too many wrong tokens from {address}: wait {retry_after_s(wait)} s, "
                                             "then send the right one"), wait)
            if not self.token_matches(given, address):
                return _unauthorized("wrong bearer token" if self.token is not None else
                                     "this device has no web token: send no Authorization header")
        bearer = given is not None  # from here on: a bearer header with the right token
        if self.token is not None and not public and not bearer and not self.cookie_valid(req.cookies.get(COOKIE)):
            if req.endpoint in PAGE_ENDPOINTS and req.method in SAFE_METHODS:
                return redirect(f"/login?next={quote(req.path)}", 303)
            return _unauthorized("authentication required: send 'Authorization: Bearer <web.token>' or log in "
                                 "at /login")
        if req.method in SAFE_METHODS:
            return None
        if self.cross_origin(req):
            return _error(403, "cross-origin request refused: state changes are accepted from this "
                               "server's own pages only")
        if bearer or req.endpoint == "login":  # the login form proves itself with the token it carries
            return None
        if not self.csrf_valid(req):
            return _error(403, f"missing or wrong {CSRF_HEADER} header: send the value of the page's "
                               "<meta name=\"csrf-token\"> (or GET /api/csrf), or authenticate with "
                               "'Authorization: Bearer <web.token>'")
        return None

    # ---- wiring ---------------------------------------------------------------------------------------

    def install(self, app: Flask) -> None:
        app.before_request(lambda: self.refuse(request))
        app.after_request(_headers)

        @app.route("/login", methods=["GET", "POST"])
        def login():
            target = _local_path(request.values.get("next", "/"))
            if self.token is None:  # nothing to log in to: loopback without a token
                return redirect(target, 303)
            if request.method == "GET":
                return render_template("login.html", next=target, error=None)
            address = _address(request)
            if wait := self.throttle.wait_s(address):
                page = render_template("login.html", next=target, error=f"Too many wrong tokens from this "
                                       f"address: wait {retry_after_s(wait)} s, then try again.")
                return _too_many(Response(page, 429, mimetype="text/html"), wait)
            if not self.token_matches(request.form.get("token", ""), address):
                return render_template("login.html", next=target, error="That is not this device's token."), 401
            response = redirect(target, 303)
            response.set_cookie(COOKIE, self.issue_cookie(), max_age=COOKIE_MAX_AGE_S, httponly=True,
                                samesite="Strict", secure=request.is_secure, path="/")
            return response

        @app.get("/api/csrf")
        def csrf():
            return jsonify({"csrf_token": self.csrf_token, "header": CSRF_HEADER})


def _bearer(req: Request) -> str | None:
    """The token of an `Authorization: Bearer` header; None when there is no such header."""
    scheme, _, value = req.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _address(req: Request) -> str:
    return client_key(req.remote_addr or "unknown")  # waitress always sets it; a WSGI test client may not


def _local_path(target: str) -> str:
    # only a path on this server: "//evil.example" or "https://..." would make the login an open redirect,
    # and browsers drop tabs and newlines, so "/\t/evil.example" would be one too
    if not target.startswith("/") or target.startswith("//") or any(c == "\\" or c <= " " for c in target):
        return "/"
    return target


def _error(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


def _too_many(response: Response, wait: float) -> Response:
    response.headers["Retry-After"] = str(retry_after_s(wait))
    return response


def _unauthorized(message: str) -> Response:
    response = _error(401, message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="fer-edge"'
    return response


def _headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    # Nothing but the static files may be kept: live results and session data are personal data.
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    return response
