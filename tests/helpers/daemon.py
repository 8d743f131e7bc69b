"""The real daemon (python -m edge run) for tests, through the soak's harness (edge/devtools/daemon.py):
a config written from a few arguments, no token (a kiosk on loopback), raw HTTP answers."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from edge.devtools.daemon import DaemonProcess
from tests.conftest import ROOT

MODELS = ROOT / "models"


def get(url, timeout=5):
    """(status, body bytes, headers) of a GET, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


class Daemon(DaemonProcess):
    """Started on construction; waits until the web server answers (health may still be starting)."""

    def __init__(self, tmp_path, source, models_dir=MODELS, fallback=None, preview=False, watchdog=""):
        config = ((f'[source]\nfallback_spec = "{fallback}"\n' if fallback else "") +
                  f'[models]\ndir = "{models_dir}"\n[web]\npreview = {str(preview).lower()}\n' +
                  (f"[watchdog]\n{watchdog}\n" if watchdog else ""))
        super().__init__(tmp_path, str(source), config, token=False)
        self.start(timeout=30)

    def status(self) -> dict:
        return json.loads(get(self.url + "/api/status")[1])

    def wait_for_health(self, status: str, timeout=30) -> tuple[int, dict]:
        """/api/health's code and answer once it says `status`: the server answers while the models still load."""
        deadline, answer = time.time() + timeout, (0, {})
        while time.time() < deadline:
            code, body, _ = get(self.url + "/api/health")
            answer = code, json.loads(body)
            if answer[1]["status"] == status:
                return answer
            time.sleep(0.2)
        raise AssertionError(f"health never said {status!r}; last answer: {answer}")

    @property
    def csrf(self) -> dict:
        """The header a state change needs (no token configured: edge/web/security.py)."""
        token = json.loads(get(self.url + "/api/csrf")[1])
        return {token["header"]: token["csrf_token"]}


def demo_daemon(tmp_path, sections: str = "", web: str = "") -> DaemonProcess:
    """The daemon on the bundled demo clip, `web` added to its [web] table and `sections` after; started."""
    return DaemonProcess(tmp_path, str(ROOT / "media/demo.mp4"), f"[web]\n{web}\n{sections}\n", token=False).start()
