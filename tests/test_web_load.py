"""A busy booth and an attacker at once (issue: four event streams used to stop the whole web app, and
100 idle sockets the dashboard): the real app under waitress, fed 30 results a second, with 50 open
event streams and 100 idle connections, still answers /api/health quickly; one stream too many gets 503
with the reason, and idle sockets are closed within seconds. `python -m edge.devtools.loadtest` is the longer run."""
import http.client
import json
import threading
import time

import pytest

from edge.devtools.loadtest import StreamClient, load, timed_get
from edge.pipeline import FrameResult
from edge.state import LiveState
from edge.web.app import create_app
from edge.web.server import WebServer
from edge.web.settings import WebConfig

pytestmark = pytest.mark.slow  # 150 sockets under load: make test runs it, make test-fast does not

STREAMS, IDLE = 50, 100


@pytest.fixture
def busy_server():
    state = LiveState()
    web = WebConfig(max_streams=STREAMS, idle_timeout_s=2)
    server = WebServer(create_app(state, web), "127.0.0.1", 0, web.threads, web.max_streams, web.idle_timeout_s)
    server.start()
    running = threading.Event()
    running.set()

    def feed():  # the pipeline's 30 results a second
        i = 0
        while running.is_set():
            state.record(FrameResult(i, time.time(), 640, 480, [], None, {"total": 1.0}), i, 0)
            i += 1
            time.sleep(1 / 30)
    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    yield server.server.effective_port
    running.clear()
    server.stop()


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def test_health_answers_with_50_streams_and_100_idle_sockets_open(busy_server):
    r = load("127.0.0.1", busy_server, STREAMS, IDLE, seconds=8)
    assert r["errors"] == 0 and r["stream_status"] == ["200"], r
    assert r["streams_without_events"] == 0 and r["stream_events_min"] >= 10, r  # every viewer is served
    assert r["latency"]["/api/health"]["p99_ms"] < 500, r  # the benchmark's target is 100 ms: docs/reliability.md
    assert r["idle_closed_by_server"] == IDLE, r  # idle sockets do not keep their slots for an hour


def test_one_stream_too_many_is_refused_with_the_reason_and_a_freed_slot_is_reused(busy_server):
    clients = [StreamClient("127.0.0.1", busy_server) for _ in range(STREAMS)]
    for c in clients:
        c.start()
    try:
        wait_for(lambda: all(c.status == 200 for c in clients), 10, "50 streams to open")
        extra = StreamClient("127.0.0.1", busy_server)
        extra.run()  # the server answers and closes: returns at once
        assert extra.status == 503 and extra.events == 0
        conn = http.client.HTTPConnection("127.0.0.1", busy_server, timeout=5)
        conn.request("GET", "/api/stream")
        answer = conn.getresponse()
        assert answer.status == 503 and answer.getheader("Retry-After") == "10"
        assert "50 event streams are open already (web.max_streams)" in json.loads(answer.read())["error"]
        conn.close()
        clients[0].stop()  # the reader leaves; the server finds out at its next event
        wait_for(lambda: first_status(busy_server) == 200, 5, "the freed slot to be reused")
        assert timed_get("127.0.0.1", busy_server, "/api/health")[1] == 200
    finally:
        for c in clients:
            c.stop()


def first_status(port: int) -> int | None:
    """Open one stream, read its first bytes, leave; the status it got."""
    client = StreamClient("127.0.0.1", port)
    client.start()
    wait_for(lambda: client.status is not None or client.error is not None, 5, "an answer")
    client.stop()
    return client.status
