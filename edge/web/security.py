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
  long again (FailureThrottle).

Every state change from a browser must come from this origin (Origin / Sec-Fetch-Site headers).
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import quote, urlsplit

from flask import Flask, Request, Response, jsonify, redirect, render_template, request

from edge.config import MAKE_TOKEN, ConfigError, WebConfig, credential_token, is_loopback, weak_token

log = logging.getLogger("edge.web")

PUBLIC_ENDPOINTS = frozenset({"static", "health", "privacy", "operator_notes", "login", "openapi"})
PAGE_ENDPOINTS = frozenset({"dashboard", "kiosk"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
COOKIE = "fer_edge_auth"
COOKIE_MAX_AGE_S = 30 * 86400
CSRF_HEADER = "X-CSRF-Token"
SHORT_TOKEN = 16  # below this many characters a token could be guessed; said at start, not refused
FAILURE_LIMIT = 10  # wrong tokens from one client (client_key) within FAILURE_WINDOW_S lock it out for as long again
FAILURE_WINDOW_S = 60.0
TRACKED_ADDRESSES = 1024  # beyond this many clients (client_key) with failures, the least recent is forgotten

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


def read_token(web: WebConfig) -> str | None:
    """The configured token: web.token (or FER_EDGE_TOKEN), else the systemd credential web-token (the installed
    service's /etc/fer-edge/web-token) unless empty, else the first line of web.token_file. Beyond loopback a
    weak token is refused (web.token is checked with the config; the other two here, where they are read)."""
    if web.token is not None:
        return web.token.get_secret_value()
    credential = credential_token()
    if credential is not None:
        return _strong_enough(web, credential, "the systemd credential web-token (/etc/fer-edge/web-token)")
    if web.token_file is None:
        return None
    try:
        token = Path(web.token_file).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"web.token_file: cannot read {web.token_file} ({getattr(e, 'strerror', None) or e}); "
                          "it must be readable by the service's user (e.g. root:fer-edge, mode 0640)") from e
    if not token:
        raise ConfigError(f"web.token_file: {web.token_file} is empty; write a token into it, e.g. {MAKE_TOKEN}")
    return _strong_enough(web, token, f"the token in web.token_file ({web.token_file})")


def _strong_enough(web: WebConfig, token: str, where: str) -> str:
    problem = None if is_loopback(web.host) else weak_token(token, where)
    if problem:
        raise ConfigError(problem)
    return token


def host_name(host_header: str) -> str | None:
    """'Booth.local:8080' -> 'booth.local', '[::1]:8080' -> '::1'; None when it is not a host at all."""
    try:
        return urlsplit("//" + host_header).hostname
    except ValueError:  # e.g. an unbalanced '[' in the header
        return None


class FailureThrottle:
    """Wrong tokens per client (client_key: an address, or an IPv6 /64). The FAILURE_LIMIT-th within
    FAILURE_WINDOW_S locks the client out for as long again: its tokens are then not even compared, so
    guessing goes no faster than that per client."""

    def __init__(self, clock: Callable[[], float], limit: int = FAILURE_LIMIT):
        self.clock, self.limit = clock, limit
        # address -> (start of its counting window, or of its lock-out; failures); least recent failure first
        self._failures: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._lock = threading.Lock()  # waitress serves requests from several threads

    def __len__(self) -> int:
        return len(self._failures)

    def wait_s(self, address: str) -> float:
        """Seconds `address` must wait before a token it sends is checked again; 0 when it need not."""
        with self._lock:
            now = self.clock()
            since, count = self._current(address, now)
            return since + FAILURE_WINDOW_S - now if count >= self.limit else 0.0

    def failed(self, address: str) -> None:
        """Count a wrong token from `address`. A right one resets nothing: behind one NAT address, a user's
        login would otherwise wipe a guesser's count."""
        with self._lock:
            now = self.clock()
            since, count = self._current(address, now)
            count += 1
            if count >= self.limit:
                since = now  # locked out for a whole window from here
            if count == self.limit:  # not again for a request that raced it past the limit
                log.warning("%d wrong web tokens from %s within %g s: its logins and bearer requests get 429 "
                            "for %g s", count, address, FAILURE_WINDOW_S, FAILURE_WINDOW_S)
            self._failures[address] = (since, count)
            self._failures.move_to_end(address)
            while len(self._failures) > TRACKED_ADDRESSES:
                self._failures.popitem(last=False)

    def _current(self, address: str, now: float) -> tuple[float, int]:
        since, count = self._failures.get(address, (now, 0))
        # Over, or the clock was stepped back before it began (a Pi without a real-time clock syncing):
        # forget it rather than lock someone out for as long as the step.
        if not 0 <= now - since < FAILURE_WINDOW_S:
            self._failures.pop(address, None)
            return now, 0
        return since, count


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
        token = read_token(web)
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
                return _too_many(_error(429, f"too many wrong tokens from {address}: wait {_seconds(wait)} s, "
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
                                       f"address: wait {_seconds(wait)} s, then try again.")
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


def client_key(address: str) -> str:
    """The client a wrong token counts against: an IPv4 address, or the /64 network of an IPv6 one. An IPv6
    host is usually given a whole /64 and may take a fresh address from it for every guess. An IPv4-mapped
    address (how a dual-stack socket reports an IPv4 client) is its IPv4 address. Loopback and link-local
    addresses stay whole: every host on a segment shares fe80::/64, so one guesser would lock out the rest."""
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])  # without a link-local address's zone
    except ValueError:
        return address  # not an address (a test client's "unknown"): counted as given
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.version == 4 or ip.is_loopback or ip.is_link_local:
        return str(ip)
    return str(ipaddress.ip_network((ip, 64), strict=False))


def _address(req: Request) -> str:
    return client_key(req.remote_addr or "unknown")  # waitress always sets it; a WSGI test client may not


def _seconds(wait: float) -> int:
    return max(1, math.ceil(wait))  # Retry-After takes whole seconds; never 0 while still locked


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
    response.headers["Retry-After"] = str(_seconds(wait))
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
