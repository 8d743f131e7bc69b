"""Prometheus metrics, read from LiveState at scrape time (no second set of counters to keep in step)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily

from edge.state import LiveState

HEALTH = {"ok": 0, "degraded": 1, "failing": 2}


class StateCollector:
    def __init__(self, state: LiveState):
        self.state = state

    def collect(self):
        s = self.state
        for name, value, doc in (("frames_in", s.frames_in, "frames captured by the source"),
                                 ("frames_processed", s.processed, "frames run through the pipeline"),
                                 ("frames_dropped", s.dropped, "frames replaced by a newer one before processing"),
                                 ("errors", s.errors, "frames that failed in the pipeline")):
            yield CounterMetricFamily(f"fer_edge_{name}", doc, value=value)
        yield GaugeMetricFamily("fer_edge_fps", "processed frames per second (5 s window)", value=s.fps())
        duty = s.detector_duty()
        if duty is not None:
            yield GaugeMetricFamily("fer_edge_detector_duty", "share of the recent frames the face detector ran on "
                                    "(pipeline.detect_every)", value=duty)
        yield GaugeMetricFamily("fer_edge_health", "0 ok, 1 degraded, 2 failing", value=HEALTH[s.health().status])
        faces = len(s.latest.faces) if s.latest else 0
        yield GaugeMetricFamily("fer_edge_faces", "faces in the latest frame", value=faces)
        latency = GaugeMetricFamily("fer_edge_stage_latency_ms", "per-stage latency percentiles (ms)",
                                    labels=["stage", "quantile"])
        for stage, q in s.latency().items():
            latency.add_metric([stage, "0.5"], q["p50_ms"])
            latency.add_metric([stage, "0.95"], q["p95_ms"])
        yield latency
        yield from watchdog_metrics(s)
        yield from monitoring_metrics(s)
        yield from session_metrics(s)
        yield model_info(s)


def watchdog_metrics(s: LiveState):
    """The camera watchdog's counters (they survive reconnects) and whether the daemon's loops keep turning."""
    camera = s.figures("camera")
    if camera is not None:
        for name, key, doc in (("camera_stalls", "stalls", "times the camera stopped giving new frames"),
                               ("camera_reconnects", "reconnects", "camera sources reopened"),
                               ("camera_failed_opens", "failed_opens", "camera reopen attempts that failed"),
                               ("camera_read_errors", "read_errors", "broken frames the source rejected")):
            yield CounterMetricFamily(f"fer_edge_{name}", doc, value=camera[key])
        yield GaugeMetricFamily("fer_edge_camera_seconds_since_fresh_frame", "age of the newest frame with new "
                                "content", value=camera["seconds_since_fresh_frame"])
        yield GaugeMetricFamily("fer_edge_camera_ok", "1 while the camera gives new frames, 0 while it is "
                                "stalled and being reconnected", value=0 if camera["problem"] else 1)
    loops = s.figures("loops")
    if loops is not None:
        yield CounterMetricFamily("fer_edge_watchdog_pings", "WATCHDOG=1 pings sent to systemd", value=loops["pings"])
        yield GaugeMetricFamily("fer_edge_loops_ok", "1 while every watched loop meets its deadline, 0 while one "
                                "hangs (systemd pings stopped)", value=0 if loops["problem"] else 1)


def session_metrics(s: LiveState):
    sessions = s.figures("sessions")
    if sessions is None:
        return
    for key, doc in (("started", "kiosk sessions started"), ("finished", "kiosk sessions finished with a summary"),
                     ("erased", "kiosk sessions erased by the candidate before they finished")):
        yield CounterMetricFamily(f"fer_edge_sessions_{key}", doc + " since the daemon started", value=sessions[key])
    yield GaugeMetricFamily("fer_edge_session_active", "1 while a kiosk session records", value=sessions["active"])


def model_info(s: LiveState) -> InfoMetricFamily:
    info = InfoMetricFamily("fer_edge_model", "the models the pipeline runs", labels=["name", "task", "version",
                                                                                       "precision", "sha256"])
    for m in s.models:
        info.add_metric([str(m.get(k) or "") for k in ("name", "task", "version", "precision", "sha256")], {})
    return info


MONITORING_STATE = {"ok": 0, "warn": 1, "alert": 2}


def monitoring_metrics(s: LiveState):
    """The monitor's figures and states (edge/monitoring); a figure not judged yet is left out, not exported as 0."""
    snapshot = s.figures("monitoring")
    if snapshot is None:
        return
    if snapshot["state"] in MONITORING_STATE:
        yield GaugeMetricFamily("fer_edge_monitoring_state", "overall monitoring state: 0 ok, 1 warn, 2 alert",
                                value=MONITORING_STATE[snapshot["state"]])
    value = GaugeMetricFamily("fer_edge_monitoring_value", "input quality, drift and health figures over their "
                              "windows (/api/monitoring has units and limits)", labels=["metric", "group"])
    state = GaugeMetricFamily("fer_edge_monitoring_metric_state", "per figure: 0 ok, 1 warn, 2 alert",
                              labels=["metric", "group"])
    for name, m in snapshot["metrics"].items():
        if m["value"] is not None:
            value.add_metric([name, m["group"]], m["value"])
        if m["state"] in MONITORING_STATE:
            state.add_metric([name, m["group"]], MONITORING_STATE[m["state"]])
    yield value
    yield state
    shares = snapshot["metrics"]["prediction_psi"].get("shares") or {}
    share = GaugeMetricFamily("fer_edge_monitoring_expression_share", "predicted expressions over the drift window",
                              labels=["expression"])
    for expression, v in shares.items():
        share.add_metric([expression], v)
    yield share


def registry_for(state: LiveState) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(StateCollector(state))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
