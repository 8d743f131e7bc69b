"""Dashboard: GET /api/health of the running daemon and report its status and reasons."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

from edge.check.context import Context
from edge.check.result import FAIL, PASS, WARN, Result

TIMEOUT_S = 3.0
# a daemon bound to every address is still reached on loopback from the device itself
LOCAL = {"0.0.0.0": "127.0.0.1", "::": "::1"}


def base_url(ctx: Context) -> str:
    if ctx.dashboard_url:
        return ctx.dashboard_url.rstrip("/")
    host, port = ctx.config.web.host, ctx.config.web.port
    host = LOCAL.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def check_dashboard(ctx: Context) -> Result:
    url = base_url(ctx) + "/api/health"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    data: dict = {"url": url}
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            code, body = response.status, response.read()
    except urllib.error.HTTPError as e:  # 503 is the daemon saying "failing", with its reasons
        code, body = e.code, e.read()
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        data["error"] = str(reason)
        return Result("dashboard", FAIL, f"{url} unreachable ({reason}): nothing is listening there; see the "
                      "service row (sudo systemctl status fer-edge) and check web.host/web.port in the config",
                      data)
    data["http_status"] = code
    if code in (401, 403):
        # /api/health needs no token; a refusal means the daemon does not accept this host name
        return Result("dashboard", FAIL, f"{url} refused the request (HTTP {code}): use the address the daemon "
                      "binds (web.host) or a name listed in web.allowed_hosts", data)
    try:
        health = json.loads(body)
        status, reasons = health["status"], list(health.get("reasons", []))
    except (ValueError, TypeError, KeyError):
        return Result("dashboard", FAIL, f"{url} answered HTTP {code} but not fer-edge's health JSON: another "
                      "program holds the port; stop it or move web.port", data)
    data.update(status=status, reasons=reasons)
    said = f"{url}: HTTP {code}, daemon {status}" + (f" ({'; '.join(reasons)})" if reasons else "")
    if status == "ok":
        return Result("dashboard", PASS, said, data)
    if status == "degraded":
        return Result("dashboard", WARN, f"{said}: the daemon runs but is not producing results; the reasons "
                      "say what it waits for (camera, first frame)", data)
    return Result("dashboard", FAIL, f"{said}: the daemon cannot work; the reasons say why: fix that "
                  "and restart it (sudo systemctl restart fer-edge)", data)
