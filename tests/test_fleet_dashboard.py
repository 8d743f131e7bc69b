"""deploy/fleet: a real Prometheus, run with the example scrape config, scrapes a real daemon (token
required) and answers every query of the Grafana dashboard; every metric the dashboard names is one the
daemon serves."""
import json
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from edge.devtools.daemon import free_port
from tests.conftest import ROOT, require_installed
from tests.helpers.daemon import demo_daemon

pytestmark = pytest.mark.slow  # a daemon and Prometheus: make test runs it, make test-fast does not

FLEET = ROOT / "deploy/fleet"
DASHBOARD = json.loads((FLEET / "grafana-dashboard.json").read_text())
PROMETHEUS, PROMTOOL = shutil.which("prometheus"), shutil.which("promtool")
TOKEN = "fleet-scrape-token-0123456789"
METRIC = re.compile(r"\b(fer_edge_\w+)")
MATCHER = re.compile(r'(\w+)\s*=\s*"([^"$]*)"')  # label="value" (not =~, not a Grafana variable)


def queries() -> list[str]:
    return [t["expr"] for p in DASHBOARD["panels"] for t in p.get("targets", [])]


def instantiate(expr: str) -> str:
    return expr.replace("$site", ".*").replace("$booth", ".*")  # Grafana's "All"


def get_json(url: str, headers: dict | None = None) -> dict:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as r:
        return json.loads(r.read())


def get_text(url: str, headers: dict) -> str:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
        return r.read().decode()


def test_dashboard_is_grafana_json_with_unique_panels_and_a_datasource_variable():
    panels = DASHBOARD["panels"]
    assert DASHBOARD["uid"] and DASHBOARD["schemaVersion"] >= 36 and len(panels) > 10
    assert len({p["id"] for p in panels}) == len(panels)
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and {"site", "booth"} <= set(variables)
    for p in panels:
        assert set(p["gridPos"]) == {"h", "w", "x", "y"} and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24
        if p["type"] != "row":
            assert p["datasource"]["uid"] == "${datasource}" and p["targets"], p["title"]
            assert all(t["expr"] and t["refId"] for t in p["targets"])


@pytest.fixture(scope="module")
def tools():
    require_installed(PROMETHEUS is not None and PROMTOOL is not None, "prometheus and promtool", "prometheus")


def test_prometheus_scrapes_the_daemon_and_answers_every_dashboard_query(tools, tmp_path):
    daemon = demo_daemon(tmp_path, web=f'token = "{TOKEN}"')
    port = daemon.port
    prometheus = None
    try:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        used, names = {m for expr in queries() for m in METRIC.findall(expr)}, set()
        deadline = time.time() + 40  # the monitor exports its overall state once it has judged 30 faces
        while not used <= names and time.time() < deadline:
            try:
                served = re.findall(r"^# TYPE (\w+) (\w+)", get_text(f"http://127.0.0.1:{port}/metrics", auth), re.M)
                names = {n for n, _ in served} | {f"{n}_total" for n, kind in served if kind == "counter"}
            except OSError:
                assert daemon.proc.poll() is None, daemon.log_tail()
            time.sleep(0.5)
        assert used and used <= names, f"the dashboard names metrics the daemon does not serve: {used - names}"

        # the example config, only its file paths pointed here and its interval shortened for the test
        (tmp_path / "token").write_text(TOKEN + "\n")
        (tmp_path / "booths.yml").write_text(f'- targets: ["127.0.0.1:{port}"]\n  labels: {{site: lab, booth: b1}}\n'
                                             f'- targets: ["localhost:{port}"]\n  labels: {{site: lab}}\n')
        config = (FLEET / "prometheus.yml").read_text()
        for old, new in (("/etc/prometheus/fer-edge.token", tmp_path / "token"),
                         ("/etc/prometheus/fer-edge/booths.yml", tmp_path / "booths.yml"),
                         ("scrape_interval: 15s", "scrape_interval: 1s"),
                         ("scrape_timeout: 5s", "scrape_timeout: 1s")):
            assert old in config
            config = config.replace(old, str(new))
        (tmp_path / "prometheus.yml").write_text(config)
        check = subprocess.run([PROMTOOL, "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True,
                               text=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
        api = f"http://127.0.0.1:{free_port()}"
        prometheus = subprocess.Popen([PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}",
                                       f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                       f"--web.listen-address={api.removeprefix('http://')}"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

        def query(expr: str) -> list:
            answer = get_json(f"{api}/api/v1/query?query={urllib.parse.quote(expr)}")
            assert answer["status"] == "success", (expr, answer)
            return answer["data"]["result"]

        deadline = time.time() + 60
        while True:
            try:
                up = query('up{job="fer-edge"}')
                if len(up) == 2 and all(r["value"][1] == "1" for r in up) and query("fer_edge_frames_processed_total"):
                    if len(query("rate(fer_edge_frames_processed_total[1m])")) == 2:
                        break
            except OSError:
                pass
            assert time.time() < deadline and prometheus.poll() is None, prometheus.stderr.read()[-2000:]
            time.sleep(0.5)
        # the booth label comes from booths.yml, or from the address where booths.yml gives none
        assert {r["metric"]["booth"] for r in up} == {"b1", "localhost"}
        assert {r["metric"]["site"] for r in up} == {"lab"}
        for expr in queries():
            result = query(instantiate(expr))  # valid PromQL, or the assertion in query() fails
            judged_later = "fer_edge_monitoring" in expr or "> 0" in expr  # e.g. drift after 3000 faces
            assert result or judged_later, f"no data for {expr}"
            for label, value in MATCHER.findall(expr):
                if label != "job" and result:
                    assert {r["metric"].get(label) for r in result} == {value}, (expr, label)
        sites = get_json(f"{api}/api/v1/label/site/values?match[]=fer_edge_health")["data"]
        assert sites == ["lab"]  # what the dashboard's site variable offers
    finally:
        if prometheus is not None:
            prometheus.terminate()
            prometheus.wait(timeout=15)
        daemon.stop()
