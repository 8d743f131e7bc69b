"""Access control of the real Flask app served by waitress on loopback, with a real SQLite session store:
Host check, token and login cookie, throttled wrong tokens, CSRF proof, cross-origin refusal, headers, size
limits, no images; where the token comes from (config, systemd credential, file)."""
import http.client
import json
import logging
import os
import re
import subprocess
import sys
from http.cookies import SimpleCookie

import pytest

from edge.config import ConfigError, load_config
from edge.devtools.daemon import free_port
from edge.web.app import MAX_REQUEST_BYTES
from edge.web.openapi import openapi_document
from edge.web.security import COOKIE, COOKIE_MAX_AGE_S, AccessPolicy
from edge.web.throttle import FAILURE_LIMIT, FAILURE_WINDOW_S, TRACKED_ADDRESSES, client_key
from tests.conftest import ROOT
from tests.helpers.firmware import copy_bundle, fake_target, install
from tests.helpers.served import TOKEN, Served, csrf


@pytest.fixture
def open_app(tmp_path):
    served = Served(tmp_path, AccessPolicy(None))
    yield served
    served.close()


@pytest.fixture
def token_app(tmp_path):
    served = Served(tmp_path, AccessPolicy(TOKEN))
    yield served
    served.close()


BEARER = {"Authorization": f"Bearer {TOKEN}"}


# ---- without a token: loopback only, reads open, state changes need the CSRF proof ---------------------

def test_without_a_token_reads_are_open_and_writes_need_the_page_csrf_value(open_app):
    assert open_app.call("GET", "/api/status")[0] == 200
    assert open_app.call("GET", "/api/sessions")[2] == []
    code, _, body = open_app.call("GET", "/api/status", headers=BEARER)  # a client that expects a token
    assert code == 401 and body["error"] == "this device has no web token: send no Authorization header"
    page = open_app.call("GET", "/kiosk")[2].decode()
    value = re.search(r'<meta name="csrf-token" content="([0-9a-f]{64})">', page).group(1)
    assert open_app.call("GET", "/api/csrf")[2] == {"csrf_token": value, "header": "X-CSRF-Token"}

    code, _, body = open_app.call("POST", "/api/sessions", {"alias": "Kim"})
    assert code == 403 and "X-CSRF-Token" in body["error"] and open_app.recorder.live()["recording"] is False
    code, _, body = open_app.call("POST", "/api/sessions", {"alias": "Kim"}, {"X-CSRF-Token": "0" * 64})
    assert code == 403
    code, _, session = open_app.call("POST", "/api/sessions", {"alias": "Kim"}, {"X-CSRF-Token": value})
    assert code == 201 and open_app.recorder.live()["session_id"] == session["id"]
    sid = session["id"]
    assert open_app.call("POST", f"/api/sessions/{sid}/stop")[0] == 403  # an empty form POST, e.g.
    assert open_app.call("DELETE", f"/api/sessions/{sid}")[0] == 403
    assert open_app.recorder.live()["recording"] is True
    assert open_app.call("POST", f"/api/sessions/{sid}/stop", headers=csrf(open_app))[0] == 200
    assert open_app.call("DELETE", f"/api/sessions/{sid}", headers=csrf(open_app))[0] == 204
    assert open_app.call("GET", f"/api/sessions/{sid}")[0] == 404


def test_cross_origin_state_changes_are_refused_even_with_the_csrf_value(open_app):
    own = f"http://{open_app.host}"
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                    {"Origin": f"http://127.0.0.1:{open_app.port + 1}"},  # same site, another port
                    {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}):
        code, _, body = open_app.call("POST", "/api/sessions", {}, {**csrf(open_app), **headers})
        assert code == 403 and "cross-origin request refused" in body["error"], headers
    assert open_app.recorder.live()["recording"] is False
    code, _, _ = open_app.call("POST", "/api/sessions", {}, {**csrf(open_app), "Origin": own,
                                                              "Sec-Fetch-Site": "same-origin"})
    assert code == 201


def test_a_host_header_that_is_not_loopback_is_refused(open_app):
    # DNS rebinding: evil.example resolves to 127.0.0.1, and the browser sends Host: evil.example
    for path in ("/api/status", "/api/sessions", "/kiosk", "/api/health"):
        code, _, body = open_app.call("GET", path, headers={"Host": f"evil.example:{open_app.port}"})
        assert code == 400 and "web.allowed_hosts" in body["error"], path
    for host in ("localhost", "127.0.0.1", "[::1]", "127.0.0.2"):
        assert open_app.call("GET", "/api/status", headers={"Host": f"{host}:{open_app.port}"})[0] == 200, host
    assert open_app.call("GET", "/api/status", headers={"Host": "[::1"})[0] == 400  # not a host at all


def test_allowed_hosts_and_a_wildcard_bind():
    named = AccessPolicy(TOKEN, "0.0.0.0", ["booth.local"])
    assert named.host_allowed("booth.local:8080") and named.host_allowed("BOOTH.LOCAL")
    assert not named.host_allowed("evil.example:8080") and named.host_allowed("localhost:8080")
    anywhere = AccessPolicy(TOKEN, "0.0.0.0")  # a token and no list: the token keeps strangers out
    assert anywhere.host_allowed("192.168.1.20:8080") and anywhere.host_allowed("whatever.lan")
    bound = AccessPolicy(TOKEN, "192.168.1.20")
    assert bound.host_allowed("192.168.1.20:8080") and not bound.host_allowed("10.0.0.1:8080")


# ---- with a token: everything but the public endpoints needs it ---------------------------------------------

def test_with_a_token_only_public_endpoints_answer_without_it(token_app):
    for path in ("/api/health", "/privacy", "/api/openapi.json", "/static/kiosk.js", "/login"):
        assert token_app.call("GET", path)[0] == 200, path
    for path in ("/api/status", "/api/sessions", "/api/sessions/live", "/metrics", "/api/stream", "/api/csrf",
                 "/api/preview.jpg", f"/api/sessions/{'0' * 32}", f"/api/sessions/{'0' * 32}/export"):
        code, headers, body = token_app.call("GET", path)
        assert code == 401 and headers["WWW-Authenticate"] == 'Bearer realm="fer-edge"', path
        assert "Authorization: Bearer" in body["error"] and "/login" in body["error"]
    for path in ("/", "/kiosk"):
        code, headers, _ = token_app.call("GET", path)
        assert code == 303 and headers["Location"] == f"/login?next={path}"
    assert token_app.call("POST", "/api/sessions", {}, csrf(token_app))[0] == 401  # CSRF value is no login
    assert token_app.call("GET", "/api/status", headers={"Authorization": "Bearer wrong"})[0] == 401
    assert token_app.call("GET", "/api/status", headers={"Authorization": f"Bearer {TOKEN}x"})[0] == 401
    assert token_app.call("GET", "/api/status", headers={"Cookie": f"{COOKIE}=\u00b2.0"})[0] == 401
    assert token_app.recorder.live()["recording"] is False


def test_the_bearer_token_reads_and_writes_without_csrf(token_app):
    assert token_app.call("GET", "/api/status", headers=BEARER)[0] == 200
    code, _, session = token_app.call("POST", "/api/sessions", {"questions": ["Why?"]}, BEARER)
    assert code == 201
    sid = session["id"]
    assert token_app.call("GET", f"/api/sessions/{sid}", headers=BEARER)[2]["questions"] == ["Why?"]
    # a browser page elsewhere cannot use it either
    elsewhere = {**BEARER, "Origin": "http://x.example"}
    assert token_app.call("POST", f"/api/sessions/{sid}/stop", headers=elsewhere)[0] == 403
    assert token_app.call("POST", f"/api/sessions/{sid}/stop", headers=BEARER)[0] == 200
    assert token_app.call("DELETE", f"/api/sessions/{sid}", headers=BEARER)[0] == 204


def test_login_sets_a_strict_http_only_cookie_and_state_changes_still_need_csrf(token_app):
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    code, _, page = token_app.call("POST", "/login", raw=b"token=wrong&next=/kiosk", headers=form)
    assert code == 401 and b"not this device&#39;s token" in page
    code, headers, _ = token_app.call("POST", "/login", raw=f"token={TOKEN}&next=/kiosk".encode(), headers=form)
    assert code == 303 and headers["Location"] == "/kiosk"
    cookie = SimpleCookie(headers["Set-Cookie"])[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and int(cookie["max-age"]) == COOKIE_MAX_AGE_S
    assert cookie["path"] == "/" and TOKEN not in cookie.value
    jar = {"Cookie": f"{COOKIE}={cookie.value}"}

    page = token_app.call("GET", "/kiosk", headers=jar)[2].decode()
    value = re.search(r'name="csrf-token" content="([0-9a-f]{64})"', page).group(1)
    assert token_app.call("GET", "/api/sessions", headers=jar)[0] == 200
    assert token_app.call("POST", "/api/sessions", {}, jar)[0] == 403  # the cookie alone changes nothing
    assert token_app.call("POST", "/api/sessions", {}, {**jar, "X-CSRF-Token": value})[0] == 201
    tampered = {"Cookie": f"{COOKIE}={cookie.value[:-1]}{'0' if cookie.value[-1] != '0' else '1'}"}
    assert token_app.call("GET", "/api/sessions", headers=tampered)[0] == 401

    # the login never redirects off this server
    for target in ("//evil.example/", "https://evil.example/", "/\t/evil.example", "/\\evil.example"):
        body = f"token={TOKEN}&next={target}".encode()
        code, headers, _ = token_app.call("POST", "/login", raw=body, headers=form)
        assert code == 303 and headers["Location"] == "/", target


def test_login_cookies_expire_and_die_with_the_token():
    now = [1_700_000_000.0]
    policy = AccessPolicy(TOKEN, clock=lambda: now[0])
    cookie = policy.issue_cookie()
    assert policy.cookie_valid(cookie)
    now[0] += COOKIE_MAX_AGE_S + 1
    assert not policy.cookie_valid(cookie)
    now[0] -= 2 * COOKIE_MAX_AGE_S + 2  # a clock stepped back by more than the lifetime
    assert not policy.cookie_valid(cookie)
    now[0] = 1_700_000_000.0
    assert not AccessPolicy(TOKEN + "new", clock=lambda: now[0]).cookie_valid(cookie)
    for junk in (None, "", ".", "x.y", "1." + "0" * 64, "9" * 40 + ".00", "\u00b2.00", "-5.00"):
        assert not policy.cookie_valid(junk)


# ---- wrong tokens: throttled per client address ----------------------------------------------------------------

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
WRONG = {"Authorization": "Bearer not-the-token"}


def login(served, token, source="127.0.0.1"):
    return served.call("POST", "/login", raw=f"token={token}&next=/kiosk".encode(), headers=FORM, source=source)


@pytest.fixture
def clocked_app(tmp_path):
    """A token app whose access policy reads the time from `served.now[0]`."""
    now = [1_700_000_000.0]
    served = Served(tmp_path, AccessPolicy(TOKEN, clock=lambda: now[0]))
    served.now = now
    yield served
    served.close()


def test_wrong_tokens_lock_the_address_out_until_the_window_has_passed(clocked_app, caplog):
    app = clocked_app
    caplog.set_level(logging.WARNING, logger="edge.web")
    for i in range(FAILURE_LIMIT):  # wrong bearer headers and wrong logins both count, a second apart
        app.now[0] += 1
        code = (app.call("GET", "/api/status", headers=WRONG) if i % 2 else login(app, "guess"))[0]
        assert code == 401, i
    assert caplog.messages == [f"{FAILURE_LIMIT} wrong web tokens from 127.0.0.1 within 60 s: its logins and "
                               "bearer requests get 429 for 60 s"]

    wait = int(FAILURE_WINDOW_S)
    code, headers, body = app.call("GET", "/api/status", headers=WRONG)
    assert code == 429 and headers["Retry-After"] == str(wait)
    assert body == {"error": f"too many wrong tokens from 127.0.0.1: wait {wait} s, then send the right one"}
    # the right token is not even compared now: a guesser cannot tell a hit from a miss
    code, headers, body = app.call("GET", "/api/status", headers=BEARER)
    assert code == 429 and headers["Retry-After"] == str(wait)
    code, headers, page = login(app, TOKEN)
    assert code == 429 and headers["Retry-After"] == str(wait) and "Set-Cookie" not in headers
    assert headers["Content-Type"].startswith("text/html") and f"wait {wait} s, then try again." in page.decode()
    # what carries no token is answered as before, and nothing of this counts
    assert app.call("GET", "/login")[0] == 200 and app.call("GET", "/api/status")[0] == 401
    assert app.call("GET", "/api/health")[0] in (200, 503)

    app.now[0] += wait - 15
    assert app.call("GET", "/api/status", headers=BEARER)[1]["Retry-After"] == "15"
    app.now[0] += 15
    assert app.call("GET", "/api/status", headers=BEARER)[0] == 200
    assert login(app, TOKEN)[0] == 303
    assert app.call("GET", "/api/status", headers=WRONG)[0] == 401  # a fresh count: 1 of FAILURE_LIMIT
    assert len(caplog.messages) == 1 and all(TOKEN not in m and "guess" not in m for m in caplog.messages)


def test_a_clock_stepped_back_does_not_prolong_a_lock_out(clocked_app):
    for _ in range(FAILURE_LIMIT):
        clocked_app.call("GET", "/api/status", headers=WRONG)
    assert clocked_app.call("GET", "/api/status", headers=BEARER)[0] == 429
    clocked_app.now[0] -= 3600  # e.g. NTP correcting a Pi that booted with a clock far ahead
    assert clocked_app.call("GET", "/api/status", headers=BEARER)[0] == 200


def test_a_lock_out_is_per_address_and_a_login_elsewhere_does_not_lift_it(clocked_app):
    app = clocked_app
    for _ in range(FAILURE_LIMIT - 1):  # 127.0.0.2 is one failure short of a lock-out
        assert login(app, "guess", source="127.0.0.2")[0] == 401
    for _ in range(FAILURE_LIMIT):
        assert app.call("GET", "/api/status", headers=WRONG)[0] == 401
    assert app.call("GET", "/api/status", headers=BEARER)[0] == 429

    assert app.call("GET", "/api/status", headers=BEARER, source="127.0.0.3")[0] == 200
    assert login(app, TOKEN, source="127.0.0.3")[0] == 303
    assert login(app, TOKEN, source="127.0.0.2")[0] == 303  # its own success resets nothing either:
    assert login(app, "guess", source="127.0.0.2")[0] == 401  # this is its FAILURE_LIMIT-th failure
    assert login(app, TOKEN, source="127.0.0.2")[0] == 429
    assert app.call("GET", "/api/status", headers=BEARER)[0] == 429  # 127.0.0.1 still waits


def test_the_failure_record_is_bounded_forgetting_the_least_recent_address():
    now = [1_700_000_000.0]
    policy = AccessPolicy(TOKEN, clock=lambda: now[0])
    for _ in range(FAILURE_LIMIT):
        policy.token_matches("guess", "192.0.2.1")
    assert policy.throttle.wait_s("192.0.2.1") == FAILURE_WINDOW_S
    addresses = [f"10.{i // 65536}.{i // 256 % 256}.{i % 256}" for i in range(3 * TRACKED_ADDRESSES)]
    for address in addresses:  # far more addresses than are tracked, each once
        assert not policy.token_matches("guess", address)
    assert len(policy.throttle) == TRACKED_ADDRESSES
    assert policy.throttle.wait_s("192.0.2.1") == 0  # the price of the bound: the oldest are forgotten
    for _ in range(FAILURE_LIMIT - 1):  # the newest are kept: one more failure locks this one out
        policy.token_matches("guess", addresses[-1])
    assert policy.throttle.wait_s(addresses[-1]) == FAILURE_WINDOW_S
    assert len(policy.throttle) == TRACKED_ADDRESSES
    without_token = AccessPolicy(None)  # nothing to guess: nothing is counted
    assert not without_token.token_matches("guess", "192.0.2.1") and len(without_token.throttle) == 0


@pytest.mark.parametrize("address, key", [
    ("192.0.2.7", "192.0.2.7"),
    ("::ffff:192.0.2.7", "192.0.2.7"),  # an IPv4 client of a dual-stack socket
    ("2001:db8:1:2:a:b:c:d", "2001:db8:1:2::/64"),
    ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
    ("::1", "::1"),
    ("fe80::1%eth0", "fe80::1"),  # link-local: the prefix is the whole segment's, so each host counts alone
    ("unknown", "unknown"),
])
def test_a_client_is_an_ipv4_address_or_an_ipv6_64(address, key):
    assert client_key(address) == key


def test_guesses_from_fresh_addresses_of_one_ipv6_64_are_counted_together(tmp_path):
    """Through the app's own request handling (Flask's test client sets REMOTE_ADDR; loopback sockets cannot)."""
    now = [1_700_000_000.0]
    served = Served(tmp_path, AccessPolicy(TOKEN, clock=lambda: now[0]))
    try:
        client = served.app.test_client()

        def status(address, headers):
            return client.get("/api/status", headers={"Host": served.host, **headers},
                              environ_base={"REMOTE_ADDR": address})

        for i in range(FAILURE_LIMIT):  # a new address every guess, all in one /64
            assert status(f"2001:db8:1:2::{i + 1:x}", WRONG).status_code == 401
        locked = status("2001:db8:1:2::ffff", BEARER)
        assert locked.status_code == 429
        assert locked.get_json()["error"].startswith("too many wrong tokens from 2001:db8:1:2::/64:")
        assert status("2001:db8:1:3::1", BEARER).status_code == 200  # the next /64 is another client
        for i in range(FAILURE_LIMIT):  # link-local guessers each count alone
            assert status(f"fe80::{i + 1:x}%eth0", WRONG).status_code == 401
        assert status("fe80::ffff", BEARER).status_code == 200
    finally:
        served.close()


# ---- headers, limits, images ----------------------------------------------------------------------------

def test_security_headers_and_no_caching_of_data(open_app):
    for path in ("/", "/kiosk", "/api/status", "/api/sessions", "/api/nothing"):
        _, headers, _ = open_app.call("GET", path)
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin" and headers["Cache-Control"] == "no-store", path
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert headers["Cross-Origin-Resource-Policy"] == "same-origin"
    assert "no-store" not in open_app.call("GET", "/static/kiosk.js")[1].get("Cache-Control", "")
    # the templates need no inline script or style, so the CSP can forbid them
    for template in (ROOT / "edge/web/templates").glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script>|<style|\sstyle=|\son[a-z]+=", text), template.name


def test_oversize_bodies_get_413_and_the_server_keeps_serving(open_app):
    big = {"alias": "x" * (MAX_REQUEST_BYTES + 1)}
    code, _, body = open_app.call("POST", "/api/sessions", big, csrf(open_app))
    assert code == 413 and body == {"error": f"request body over {MAX_REQUEST_BYTES} bytes"}
    # declared far beyond waitress's buffer: refused before the body is read
    conn = http.client.HTTPConnection("127.0.0.1", open_app.port, timeout=10)
    conn.putrequest("POST", "/api/sessions", skip_host=True)
    for name, value in {"Host": open_app.host, "Content-Type": "application/json",
                        "Content-Length": str(50 * 1024 * 1024), **csrf(open_app)}.items():
        conn.putheader(name, value)
    conn.endheaders()
    conn.send(b"{" * 1024)
    assert conn.getresponse().status == 413
    conn.close()
    # chunked, with no length up front
    conn = http.client.HTTPConnection("127.0.0.1", open_app.port, timeout=10)
    chunks = (b'{"alias": "' + b"y" * 8192 for _ in range(10))
    conn.request("POST", "/api/sessions", body=chunks, encode_chunked=True,
                 headers={"Host": open_app.host, "Content-Type": "application/json", **csrf(open_app)})
    assert conn.getresponse().status == 413
    conn.close()
    assert open_app.recorder.live()["recording"] is False
    assert open_app.call("GET", "/api/health")[0] in (200, 503)


@pytest.mark.parametrize("preview", [False, True])
def test_no_endpoint_serves_an_image_unless_the_preview_is_enabled(tmp_path, preview):
    served = Served(tmp_path, AccessPolicy(None), preview=preview)
    try:
        sid = served.call("POST", "/api/sessions", {}, csrf(served))[2]["id"]
        served.call("POST", f"/api/sessions/{sid}/stop", headers=csrf(served))
        types = {}
        for rule in served.app.url_map.iter_rules():
            if "GET" not in rule.methods or rule.endpoint in ("stream", "static"):
                continue  # the event stream never ends; static files are the pages' code
            path = re.sub(r"<session:session_id>", sid, rule.rule).replace("<path:filename>", "kiosk.js")
            code, headers, _ = served.call("GET", path)
            types[path] = (code, headers["Content-Type"])
        assert not any(t.startswith("image/") for _, t in types.values()), types
        static = ROOT / "edge/web/static"
        assert {p.suffix for p in static.iterdir()} <= {".css", ".js"}  # nor does the static folder hold one
        code, _, body = served.call("GET", "/api/preview.jpg")
        if preview:
            assert code == 503 and body == {"error": "no preview image yet"}  # no frame processed in this test
        else:
            assert code == 404 and "web.preview = false" in body["error"]
    finally:
        served.close()


# ---- the OpenAPI document ------------------------------------------------------------------------------------

def test_openapi_document_covers_every_api_route(open_app):
    doc = open_app.call("GET", "/api/openapi.json")[2]
    assert doc == json.loads(json.dumps(openapi_document(token=False))) and doc["openapi"].startswith("3.0")
    pages = {"dashboard", "kiosk", "login", "privacy", "operator_notes", "static"}
    for rule in open_app.app.url_map.iter_rules():
        if rule.endpoint in pages:
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in doc["paths"][path], f"{method} {path} is not documented"
            public = rule.endpoint in ("health", "openapi")
            assert ("401" in doc["paths"][path][method.lower()]["responses"]) != public
            # with a token, everything but the public endpoints declares it; without one, only state changes
            # declare a requirement: the CSRF header
            with_token = openapi_document(token=True)["paths"][path][method.lower()]["security"]
            assert (with_token == []) == public
            assert doc["paths"][path][method.lower()]["security"] == ([{"csrfHeader": []}] if method in (
                "POST", "DELETE") else [])


# ---- configuration and start-up -------------------------------------------------------------------------------

def test_token_file_is_read_and_a_bad_one_is_a_clear_config_error(tmp_path):
    token_file = tmp_path / "web-token"
    token_file.write_text(f"{TOKEN}\n")
    env = {"FER_EDGE_HOST": "0.0.0.0", "FER_EDGE_TOKEN_FILE": str(token_file)}
    web = load_config(None, env).web
    assert web.resolved_token == TOKEN and AccessPolicy.from_config(web).token == TOKEN
    token_file.write_text("\n")  # resolved when the config loads: a bad file is a config error at start-up
    with pytest.raises(ConfigError, match=r"web.token_file: .*web-token is empty; write a token into it"):
        load_config(None, env)
    token_file.unlink()
    with pytest.raises(ConfigError, match=r"web.token_file: cannot read .*web-token \(No such file or directory\); "
                                          r"it must be readable by the service's user"):
        load_config(None, env)
    with pytest.raises(ConfigError, match="set web.token or web.token_file, not both"):
        load_config(None, {"FER_EDGE_TOKEN": TOKEN, "FER_EDGE_TOKEN_FILE": str(token_file)})
    config = tmp_path / "edge.toml"
    config.write_text('[web]\nallowed_hosts = ["booth.local:8080"]\n')
    with pytest.raises(ConfigError, match=r"web.allowed_hosts.0: String should match pattern"):
        load_config(config, {})


def test_token_precedence_config_then_systemd_credential_then_file(tmp_path, monkeypatch):
    credentials = tmp_path / "credentials"  # what systemd makes of LoadCredential=web-token:...
    credentials.mkdir()
    token_file = tmp_path / "token-file"
    token_file.write_text("file-token-0123456789\n")
    from_file = {"FER_EDGE_HOST": "0.0.0.0", "FER_EDGE_TOKEN_FILE": str(token_file)}
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert load_config(None, from_file).web.resolved_token == "file-token-0123456789"

    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    assert load_config(None, from_file).web.resolved_token == "file-token-0123456789"  # no web-token in it
    (credentials / "web-token").write_text("credential-token-0123\n")
    assert load_config(None, from_file).web.resolved_token == "credential-token-0123"
    assert load_config(None, {**from_file, "FER_EDGE_TOKEN_FILE": "", "FER_EDGE_TOKEN": TOKEN}).web.resolved_token \
        == TOKEN
    only_credential = load_config(None, {"FER_EDGE_HOST": "0.0.0.0"}).web  # enough to bind beyond loopback
    assert AccessPolicy.from_config(only_credential).token == "credential-token-0123"

    (credentials / "web-token").write_text("\n")  # install.sh's empty file: no token
    assert load_config(None, from_file).web.resolved_token == "file-token-0123456789"
    assert load_config(None, {}).web.resolved_token is None
    with pytest.raises(ConfigError, match="binding to another address requires a token.*/etc/fer-edge/web-token"):
        load_config(None, {"FER_EDGE_HOST": "0.0.0.0"})
    (credentials / "web-token").write_bytes(b"\xff\xfe token")
    with pytest.raises(ConfigError, match=r"systemd credential web-token: cannot read .*web-token \(.*utf-8.*\); "
                                          r"write the token as text into /etc/fer-edge/web-token"):
        load_config(None, from_file)


def test_the_unit_loads_the_token_credential_from_a_root_only_file_install_sh_creates(tmp_path):
    unit = (ROOT / "systemd/fer-edge.service").read_text()
    source = re.search(r"^LoadCredential=web-token:(/\S+)$", unit, flags=re.M).group(1)
    bundle = copy_bundle(tmp_path / "bundle")
    root = fake_target(tmp_path / "root")
    assert install(bundle, root).returncode == 0
    installed = root / source.lstrip("/")
    # a missing credential file would fail the unit's start: it is there, empty (no token), and root's only
    assert installed.read_bytes() == b"" and installed.stat().st_mode & 0o777 == 0o600
    installed.write_text(f"{TOKEN}\n")
    done = install(bundle, root)
    assert done.returncode == 0 and "nothing changed" in done.stdout  # the operator's token is kept
    assert installed.read_text() == f"{TOKEN}\n"


def run_daemon(tmp_path, env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FER_EDGE_")}
    config = tmp_path / "edge.toml"
    config.write_text(f'[web]\nport = {free_port()}\n[sessions]\ndb_path = "{tmp_path}/s.db"\n')
    return subprocess.run([sys.executable, "-m", "edge", "run", "--config", str(config)], cwd=ROOT,
                          env={**env, **env_extra}, capture_output=True, text=True, timeout=60)


def test_the_daemon_refuses_to_start_beyond_loopback_without_a_token(tmp_path):
    done = run_daemon(tmp_path, {"FER_EDGE_HOST": "0.0.0.0"})
    assert done.returncode == 2
    assert "binding to another address requires a token: set FER_EDGE_TOKEN, web.token, or web.token_file" in \
        done.stderr and "secrets.token_urlsafe" in done.stderr
    done = run_daemon(tmp_path, {"FER_EDGE_HOST": "0.0.0.0", "FER_EDGE_TOKEN_FILE": str(tmp_path / "none")})
    assert done.returncode == 2 and "web.token_file: cannot read" in done.stderr and "Traceback" not in done.stderr
